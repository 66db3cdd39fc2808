/* imap-login: the IMAP not-authenticated state (RFC 3501 6.1 to 6.2, RFC
   9051 6.1, 6.2) under the login monitor of lib/ (DESIGN.md): started as
   root by tcpserver, it forks the pre-auth child that runs this file's
   session() as ternlogin, and runs "checkpassword prog..." for each
   login attempt. The chain (pwcheck imap-serve) writes the tagged OK of
   a good login itself, with the post-login capabilities; a refused one
   comes back here as a verdict.

   CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), STARTTLS (RFC 3501 6.2.1,
   through tlsd -u, in STARTTLS's order: STYLE.md 9), LOGIN, AUTHENTICATE
   PLAIN (RFC 4616, with SASL-IR, RFC 4959, or the "+" continuation).
   Logins need TLS (STARTTLS, or tlsd in front: SSL_PROTOCOL) unless
   IMAP_PLAINTEXT=1; before that the capabilities say LOGINDISABLED and
   no AUTH= (RFC 3501 6.2.3, RFC 8314 4).

   The child reads the network one octet at a time, so that whatever the
   client pipelined behind its login stays in the socket for imap-serve.
   A line is capped at 32 KiB (what the largest ID command of RFC 2971
   3.3 takes) and a literal at 4,096 octets (LITERAL-,
   RFC 7888 5); replies are buffered and flushed before blocking on
   input, or before a login attempt (the chain speaks next). */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <skalibs/types.h>
#include <skalibs/buffer.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sig.h>
#include <skalibs/tai.h>
#include <skalibs/iopause.h>
#include <skalibs/unix-timed.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>

#include "tern.h"
#include "tern_imap.h"

#define USAGE "imap-login checkpassword prog..."
#define dieusage() strerr_dieusage(100, USAGE)

#define LINEMAX 32768         /* a line of a command, its CRLF included: RFC 2971 3.3's longest ID command fits */
#define LITMAX 4096           /* a literal before login (LITERAL-) */
#define CMDMAX (LINEMAX + 3 * LITMAX)   /* a whole command in memory */

extern char **environ ;

static struct
{
  unsigned int timeout ;     /* IMAP_LOGINTIMEOUT, seconds of waiting for a line */
  unsigned int maxerrors ;   /* IMAP_MAXERRORS */
  unsigned int maxlogins ;   /* IMAP_MAXLOGINS */
  int plaintext ;            /* IMAP_PLAINTEXT=1: logins allowed before TLS */
  int tlsavail ;
  int tlsfds[3] ;
  char const *remoteip ;
} cf ;

static struct
{
  int tls ;
  int stls ;
  unsigned int errors ;
  unsigned int failures ;
} ss ;

#define LOGIN_OK (ss.tls || cf.plaintext)

static tern_login const *login ;
static stralloc cmd = STRALLOC_ZERO ;
static genalloc lits = GENALLOC_ZERO ;   /* tern_imap_lit */
static char obufspace[2048] ;
static buffer obuf = BUFFER_INIT(&buffer_write, 1, obufspace, sizeof(obufspace)) ;

/* ---- replies ---- */

static void end (char const *) gccattr_noreturn ;
static void end (char const *reason)
{
  /* what the client pipelined and we did not read would make our close a
     reset, which can destroy our last replies before the client reads
     them: read out what has arrived (fd 0 is non-blocking) */
  char buf[4096] ;
  for (unsigned int i = 0 ; i < 16 ; i++)
    if (read(0, buf, sizeof(buf)) <= 0) break ;
  strerr_warni("end ip=", cf.remoteip, " reason=", reason) ;
  _exit(0) ;
}

static void flush (void)
{
  tain d ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  if (!buffer_timed_flush_g(&obuf, &d)) end("write-failed") ;
}

static void outb (char const *s, size_t n)
{
  while (n)
  {
    size_t k = buffer_putnoflush(&obuf, s, n) ;
    s += k ; n -= k ;
    if (n) flush() ;
  }
}

static void out (char const *s) { outb(s, strlen(s)) ; }

static void tagged (char const *tag, size_t taglen, char const *s)
{
  outb(tag, taglen) ;
  out(" ") ;
  out(s) ;
  out("\r\n") ;
}

static void bye (char const *, char const *) gccattr_noreturn ;
static void bye (char const *s, char const *reason)
{
  out("* BYE ") ;
  out(s) ;
  out("\r\n") ;
  flush() ;
  end(reason) ;
}

/* A bad or unknown command: counted, the session ends at IMAP_MAXERRORS. */
static void error (char const *tag, size_t taglen, char const *s)
{
  tagged(tag, taglen, s) ;
  if (cf.maxerrors && ++ss.errors >= cf.maxerrors) bye("Too many errors, closing connection", "errors") ;
}

static void capabilities (void)
{
  out("IMAP4rev1 IMAP4rev2 SASL-IR ID LITERAL-") ;
  if (cf.tlsavail && !ss.tls) out(" STARTTLS") ;
  out(LOGIN_OK ? " AUTH=PLAIN" : " LOGINDISABLED") ;
}

/* ---- network input: one octet at a time, every line with a deadline ---- */

static int getbyte (char *c, tain const *deadline)
{
  for (;;)
  {
    iopause_fd x = { .fd = 0, .events = IOPAUSE_READ, .revents = 0 } ;
    ssize_t r = read(0, c, 1) ;
    if (r == 1) return 1 ;
    if (!r) return 0 ;
    if (errno == EINTR) continue ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;
    flush() ;
    r = iopause_g(&x, 1, deadline) ;
    if (r < 0) strerr_diefusys(111, "iopause") ;
    if (!r) bye("Autologout: idle for too long", "timeout") ;
  }
}

/* One line appended to cmd, without its CRLF: its length, or -1 if it
   was over LINEMAX (read and dropped to its LF). */
static ssize_t getline_net (void)
{
  size_t start = cmd.len, n = 0 ;
  int toolong = 0 ;
  tain d ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  for (;;)
  {
    char c ;
    if (!getbyte(&c, &d)) end("disconnect") ;
    if (c == '\n') break ;
    if (n < LINEMAX - 2 && cmd.len < CMDMAX)
    {
      if (!stralloc_catb(&cmd, &c, 1)) strerr_diefusys(111, "stralloc") ;
      n++ ;
    }
    else toolong = 1 ;
  }
  if (toolong) { cmd.len = start ; return -1 ; }
  if (n && cmd.s[cmd.len - 1] == '\r') { cmd.len-- ; n-- ; }
  return n ;
}

/* The first word of what was read, as a tag for a BAD, or "*". */
static size_t tagof (char const **tag)
{
  size_t i = 0 ;
  while (i < cmd.len && i < 64 && cmd.s[i] != ' ' && (unsigned char)cmd.s[i] > 0x20 && (unsigned char)cmd.s[i] < 0x7f) i++ ;
  if (!i || (i < cmd.len && cmd.s[i] != ' ')) { *tag = "*" ; return 1 ; }
  *tag = cmd.s ;
  return i ;
}

/* A whole command into cmd (text and literals, tern_imap.h): 1, or 0
   after answering a command that could not be read. */
static int getcmd (void)
{
  cmd.len = 0 ;
  lits.len = 0 ;
  for (;;)
  {
    size_t linestart = cmd.len, head ;
    ssize_t n = getline_net() ;
    uint64_t litlen ;
    int nonsync, binary, r ;
    char const *tag ;
    size_t tl ;
    if (n < 0)
    {
      tl = tagof(&tag) ;
      error(tag, tl, "BAD [TOOBIG] Line too long") ;
      return 0 ;
    }
    r = tern_imap_litspec(cmd.s + linestart, n, &litlen, &nonsync, &binary, &head) ;
    if (!r) return 1 ;
    tl = tagof(&tag) ;
    if (r < 0) { error(tag, tl, "BAD Invalid literal") ; return 0 ; }
    if (litlen > LITMAX || cmd.len + litlen + 2 > CMDMAX)
    {
      /* RFC 7888 5: over 4096 octets a literal must be synchronizing;
         an oversized synchronizing one is refused before it is sent */
      if (nonsync) bye("[TOOBIG] Literal too large before login", "literal") ;
      error(tag, tl, "BAD [TOOBIG] Literal too large before login") ;
      return 0 ;
    }
    if (!nonsync) { out("+ OK\r\n") ; flush() ; }
    if (!stralloc_catb(&cmd, "\r\n", 2)) strerr_diefusys(111, "stralloc") ;
    {
      tern_imap_lit l = { .pos = cmd.len, .len = litlen, .fd = -1 } ;
      tain d ;
      if (!genalloc_append(tern_imap_lit, &lits, &l)) strerr_diefusys(111, "genalloc") ;
      tain_now_g() ;
      tain_addsec_g(&d, cf.timeout) ;
      for (uint64_t i = 0 ; i < litlen ; i++)
      {
        char c ;
        if (!getbyte(&c, &d)) end("disconnect") ;
        if (!stralloc_catb(&cmd, &c, 1)) strerr_diefusys(111, "stralloc") ;
      }
    }
  }
}

/* ---- logging in ---- */

static void attempt (char const *tag, size_t taglen, char const *user, size_t ulen, char const *pass, size_t plen)
{
  int r ;
  if (!ulen || ulen > TERN_LOGIN_USERMAX || plen > TERN_LOGIN_PASSMAX || taglen > TERN_LOGIN_TAGMAX) r = TERN_LOGIN_REFUSED ;
  else
  {
    flush() ;   /* the chain speaks next */
    r = tern_login_check_tag(login, user, ulen, pass, plen, ss.stls ? TERN_LOGIN_TLS : 0, tag, taglen) ;
  }
  /* here only when refused or failed: a good login never comes back */
  if (r == TERN_LOGIN_TEMP) tagged(tag, taglen, "NO [UNAVAILABLE] Temporary failure, try again later") ;
  else tagged(tag, taglen, "NO [AUTHENTICATIONFAILED] Authentication failed") ;
  if (cf.maxlogins && ++ss.failures >= cf.maxlogins) bye("Too many failed logins", "login-failures") ;
}

/* ---- commands ---- */

typedef void action_func (char const *, size_t, tern_imap_p *) ;

static int noargs (char const *tag, size_t tl, tern_imap_p *p)
{
  if (tern_imap_p_eol(p)) return 1 ;
  error(tag, tl, "BAD Unexpected arguments") ;
  return 0 ;
}

static void do_capability (char const *tag, size_t tl, tern_imap_p *p)
{
  if (!noargs(tag, tl, p)) return ;
  out("* CAPABILITY ") ;
  capabilities() ;
  out("\r\n") ;
  tagged(tag, tl, "OK Capability completed") ;
}

static void do_noop (char const *tag, size_t tl, tern_imap_p *p)
{
  if (noargs(tag, tl, p)) tagged(tag, tl, "OK NOOP completed") ;
}

static void do_logout (char const *tag, size_t tl, tern_imap_p *p)
{
  if (!noargs(tag, tl, p)) return ;
  out("* BYE Logging out\r\n") ;
  tagged(tag, tl, "OK Logout completed") ;
  flush() ;
  end("logout") ;
}

/* RFC 2971: the client's list is read and forgotten; ours is short. */
static void do_id (char const *tag, size_t tl, tern_imap_p *p)
{
  stralloc junk = STRALLOC_ZERO ;
  int isnil ;
  if (!tern_imap_p_sp(p)) goto bad ;
  if (tern_imap_p_peek(p) == '(')
  {
    unsigned int n = 0 ;
    tern_imap_p_char(p, '(') ;
    while (tern_imap_p_peek(p) != ')')
    {
      if (n && !tern_imap_p_sp(p)) goto bad ;
      junk.len = 0 ;
      if (!tern_imap_p_string(p, &junk) || !tern_imap_p_sp(p) || !tern_imap_p_nstring(p, &junk, &isnil)) goto bad ;
      if (++n > 30) { p->err = "Too many ID fields" ; goto bad ; }
    }
    tern_imap_p_char(p, ')') ;
  }
  else if (!tern_imap_p_nstring(p, &junk, &isnil) || !isnil) goto bad ;
  if (!tern_imap_p_eol(p)) goto bad ;
  stralloc_free(&junk) ;
  out("* ID (\"name\" \"tern\")\r\n") ;
  tagged(tag, tl, "OK ID completed") ;
  return ;
 bad:
  stralloc_free(&junk) ;
  {
    char m[128] = "BAD " ;
    strncat(m, p->err ? p->err : "Syntax error", sizeof(m) - 5) ;
    error(tag, tl, m) ;
  }
}

static void do_login (char const *tag, size_t tl, tern_imap_p *p)
{
  stralloc u = STRALLOC_ZERO, pw = STRALLOC_ZERO ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_astring(p, &u) || !tern_imap_p_sp(p) || !tern_imap_p_astring(p, &pw) || !tern_imap_p_eol(p))
  {
    char m[128] = "BAD " ;
    strncat(m, p->err ? p->err : "Syntax error", sizeof(m) - 5) ;
    if (pw.s) explicit_bzero(pw.s, pw.a) ;
    error(tag, tl, m) ;
  }
  else if (!LOGIN_OK)
  {
    explicit_bzero(pw.s, pw.a) ;
    /* RFC 3501 6.2.3, RFC 5530 3 */
    tagged(tag, tl, "NO [PRIVACYREQUIRED] Plain-text login disallowed, use STARTTLS first") ;
  }
  else
  {
    attempt(tag, tl, u.s, u.len, pw.s, pw.len) ;
    explicit_bzero(pw.s, pw.a) ;
  }
  stralloc_free(&u) ;
  stralloc_free(&pw) ;
}

/* AUTHENTICATE PLAIN [initial-response] (RFC 3501 6.2.2, RFC 4959). */
static void do_authenticate (char const *tag, size_t tl, tern_imap_p *p)
{
  static char dec[LINEMAX / 4 * 3 + 1] ;
  stralloc ir = STRALLOC_ZERO ;
  char const *mech ;
  size_t mlen ;
  char const *resp ;
  size_t rlen ;
  tern_sasl_plain_t sp ;
  ssize_t n ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_atom(p, &mech, &mlen)) { error(tag, tl, "BAD Syntax: AUTHENTICATE mechanism") ; return ; }
  if (tern_imap_p_peek(p) == ' ')
  {
    char const *a ;
    size_t al ;
    tern_imap_p_sp(p) ;
    if (tern_imap_p_peek(p) == '=') { tern_imap_p_char(p, '=') ; a = "" ; al = 0 ; }
    else if (!tern_imap_p_atom(p, &a, &al)) { error(tag, tl, "BAD Invalid initial response") ; return ; }
    if (!stralloc_catb(&ir, a, al)) strerr_diefusys(111, "stralloc") ;
    ir.len = al ;
  }
  else ir.s = 0 ;
  if (!tern_imap_p_eol(p)) { error(tag, tl, "BAD Unexpected arguments") ; stralloc_free(&ir) ; return ; }
  if (mlen != 5 || strncasecmp(mech, "PLAIN", 5)) { tagged(tag, tl, "NO Unsupported authentication mechanism") ; stralloc_free(&ir) ; return ; }
  if (!LOGIN_OK) { tagged(tag, tl, "NO [PRIVACYREQUIRED] Plain-text authentication disallowed, use STARTTLS first") ; stralloc_free(&ir) ; return ; }
  if (ir.s) { resp = ir.s ; rlen = ir.len ; }
  else
  {
    ssize_t r ;
    out("+ \r\n") ;
    flush() ;
    cmd.len = 0 ;
    r = getline_net() ;
    if (r < 0) { error(tag, tl, "BAD [TOOBIG] Response too long") ; return ; }
    resp = cmd.s ; rlen = r ;
  }
  if (rlen == 1 && resp[0] == '*') { error(tag, tl, "BAD Authentication cancelled") ; stralloc_free(&ir) ; return ; }
  n = tern_base64_decode(dec, resp, rlen) ;
  explicit_bzero((char *)resp, rlen) ;
  stralloc_free(&ir) ;
  if (n < 0) { error(tag, tl, "BAD Invalid base64 in the response") ; return ; }
  if (!tern_sasl_plain(dec, n, &sp)) { explicit_bzero(dec, n) ; tagged(tag, tl, "NO [AUTHENTICATIONFAILED] Malformed PLAIN response") ; return ; }
  /* RFC 4616 2: we never act as another identity than the one proven */
  if (sp.authzidlen && (sp.authzidlen != sp.authcidlen || strncasecmp(sp.authzid, sp.authcid, sp.authcidlen)))
  {
    explicit_bzero(dec, n) ;
    strerr_warni("refused ip=", cf.remoteip, " reason=authzid") ;
    tagged(tag, tl, "NO [AUTHORIZATIONFAILED] Authorization identity other than the user refused") ;
    if (cf.maxlogins && ++ss.failures >= cf.maxlogins) bye("Too many failed logins", "login-failures") ;
    return ;
  }
  attempt(tag, tl, sp.authcid, sp.authcidlen, sp.passwd, sp.passwdlen) ;
  explicit_bzero(dec, n) ;
}

/* RFC 3501 6.2.1 in STARTTLS's order (STYLE.md 9): what the client sent
   behind STARTTLS came in the clear and is dropped (we read one octet
   at a time, so it is still in the socket: read it out now), OK, "Y" to
   the engine, its SSL_* block, its pipes as fds 0 and 1; nothing of
   before is kept but the counts. */
static void do_starttls (char const *tag, size_t tl, tern_imap_p *p)
{
  tern_tlsinfo info = TERN_TLSINFO_ZERO ;
  size_t dropped = 0 ;
  tain d ;
  if (!noargs(tag, tl, p)) return ;
  if (ss.tls) { error(tag, tl, "BAD TLS is already active") ; return ; }
  if (!cf.tlsavail) { error(tag, tl, "BAD STARTTLS is not available") ; return ; }
  for (;;)
  {
    char buf[512] ;
    ssize_t r = read(0, buf, sizeof(buf)) ;
    if (r < 0 && errno == EINTR) continue ;
    if (r <= 0 || dropped > 65536) break ;
    dropped += r ;
  }
  tagged(tag, tl, "OK Begin TLS negotiation now") ;
  flush() ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  if (!tern_ucspitls_start(cf.tlsfds[0], &d, &info))
  {
    int e = errno ;
    strerr_warnw("starttls ip=", cf.remoteip, " result=failed reason=", e == EPIPE ? "handshake" : strerror(e)) ;
    _exit(0) ;
  }
  if (fd_move(0, cf.tlsfds[1]) < 0 || fd_move(1, cf.tlsfds[2]) < 0 || ndelay_on(0) < 0 || ndelay_on(1) < 0)
    strerr_diefusys(111, "switch to the TLS engine") ;
  fd_close(cf.tlsfds[0]) ;
  cf.tlsavail = 0 ;
  ss.tls = ss.stls = 1 ;
  {
    char fmt[SIZE_FMT] ;
    fmt[size_fmt(fmt, dropped)] = 0 ;
    strerr_warni("starttls ip=", cf.remoteip, " protocol=", info.protocol, " cipher=", info.cipher, " dropped=", fmt) ;
  }
}

static void do_later (char const *tag, size_t tl, tern_imap_p *p)
{
  error(tag, tl, "BAD Log in first") ;
}

typedef struct command_s command ;
struct command_s
{
  char const *name ;
  action_func *action ;
} ;

static command const commands[] =
{
  { "CAPABILITY", &do_capability },
  { "NOOP", &do_noop },
  { "LOGOUT", &do_logout },
  { "ID", &do_id },
  { "LOGIN", &do_login },
  { "AUTHENTICATE", &do_authenticate },
  { "STARTTLS", &do_starttls },
  /* the authenticated and selected states' commands (RFC 3501 6.3, 6.4,
     and the extensions imap-serve has) */
  { "SELECT", &do_later }, { "EXAMINE", &do_later }, { "CREATE", &do_later }, { "DELETE", &do_later },
  { "RENAME", &do_later }, { "SUBSCRIBE", &do_later }, { "UNSUBSCRIBE", &do_later }, { "LIST", &do_later },
  { "LSUB", &do_later }, { "STATUS", &do_later }, { "APPEND", &do_later }, { "CHECK", &do_later },
  { "CLOSE", &do_later }, { "EXPUNGE", &do_later }, { "SEARCH", &do_later }, { "SORT", &do_later }, { "THREAD", &do_later }, { "FETCH", &do_later },
  { "STORE", &do_later }, { "COPY", &do_later }, { "MOVE", &do_later }, { "UID", &do_later },
  { "IDLE", &do_later }, { "NAMESPACE", &do_later }, { "ENABLE", &do_later }, { "UNSELECT", &do_later },
  { 0, 0 }
} ;

static void dispatch (void)
{
  static char tagcopy[TERN_LOGIN_TAGMAX + 1] ;
  tern_imap_p p = TERN_IMAP_P_ZERO ;
  char const *tag, *name ;
  size_t tl, nl ;
  command const *c = commands ;
  p.s = cmd.s ; p.len = cmd.len ;
  p.lits = genalloc_s(tern_imap_lit, &lits) ; p.nlits = genalloc_len(tern_imap_lit, &lits) ;
  if (!cmd.len) { error("*", 1, "BAD Empty command line") ; return ; }
  if (!tern_imap_p_tag(&p, &tag, &tl) || !tern_imap_p_sp(&p) || !tern_imap_p_atom(&p, &name, &nl))
  {
    tl = tagof(&tag) ;
    error(tag, tl, "BAD Missing or invalid tag or command") ;
    return ;
  }
  /* the tag is kept apart: AUTHENTICATE reads its response into cmd */
  if (tl > TERN_LOGIN_TAGMAX) { error("*", 1, "BAD Tag too long") ; return ; }
  memcpy(tagcopy, tag, tl) ;
  tag = tagcopy ;
  for (; c->name ; c++)
    if (strlen(c->name) == nl && !strncasecmp(name, c->name, nl)) break ;
  if (!c->name) { error(tag, tl, "BAD Unknown command") ; return ; }
  (*c->action)(tag, tl, &p) ;
}

/* The pre-auth child: runs as ternlogin, owns fds 0 and 1 until a login. */
static int session (tern_login const *lg, void *data)
{
  login = lg ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefusys(111, "ndelay_on") ;
  tain_now_set_stopwatch_g() ;
  out("* OK [CAPABILITY ") ;
  capabilities() ;
  out("] IMAP server ready (tern)\r\n") ;
  for (;;)
  {
    if (getcmd()) dispatch() ;
    if (cmd.len) explicit_bzero(cmd.s, cmd.len) ;
  }
}

static unsigned int envnum (char const *name, unsigned int def, int zerook)
{
  unsigned int v ;
  if (!tern_env_uint(name, &v, def) || (!v && !zerook)) strerr_dief(100, "invalid $", name) ;
  return v ;
}

int main (int argc, char const *const *argv)
{
  tern_login_cf lcf = { .argv = argv + 1, .envp = (char const *const *)environ, .child = &session, .data = 0 } ;
  PROG = "imap-login" ;
  if (argc < 2) dieusage() ;
  cf.timeout = envnum("IMAP_LOGINTIMEOUT", 180, 0) ;
  cf.maxerrors = envnum("IMAP_MAXERRORS", 20, 1) ;
  cf.maxlogins = envnum("IMAP_MAXLOGINS", 3, 1) ;
  {
    char const *x = getenv("IMAP_PLAINTEXT") ;
    if (!x || !*x || !strcmp(x, "0")) cf.plaintext = 0 ;
    else if (!strcmp(x, "1")) cf.plaintext = 1 ;
    else strerr_dief(100, "invalid $IMAP_PLAINTEXT") ;
  }
  cf.remoteip = ucspi_get("REMOTEIP") ;
  if (!cf.remoteip) cf.remoteip = getenv("TCPREMOTEIP") ;
  if (!cf.remoteip || !*cf.remoteip) cf.remoteip = "unknown" ;
  else
  {
    static char ipbuf[80] ;
    size_t i = 0 ;
    for (; cf.remoteip[i] && i < sizeof(ipbuf) - 1 ; i++)
      ipbuf[i] = (unsigned char)cf.remoteip[i] > 32 && (unsigned char)cf.remoteip[i] < 127 ? cf.remoteip[i] : '?' ;
    ipbuf[i] = 0 ;
    cf.remoteip = ipbuf ;
  }
  if (!geteuid())
  {
    /* the pre-auth child's uid comes from the run script (tern-setup
       writes ternlogin's ids there): no NSS in a static binary */
    unsigned int u, g ;
    char const *x = getenv("TERN_LOGIN_UID"), *y = getenv("TERN_LOGIN_GID") ;
    if (!x || !y) strerr_dief(100, "running as root: TERN_LOGIN_UID and TERN_LOGIN_GID must name the pre-auth child's uid and gid") ;
    if (!uint0_scan(x, &u) || !uint0_scan(y, &g)) strerr_dief(100, "invalid TERN_LOGIN_UID or TERN_LOGIN_GID") ;
    if (!u || !g) strerr_dief(100, "refusing to run the pre-auth child as root") ;
    lcf.uid = u ; lcf.gid = g ;
  }
  {
    char const *x = getenv("SSL_PROTOCOL") ;
    if (x && *x) ss.tls = 1 ;
    else if (tern_ucspitls_fds(cf.tlsfds)) { cf.tlsavail = 1 ; lcf.tlsfds = cf.tlsfds ; }
    else if (errno != ENOENT) strerr_warnw("invalid SSLCTLFD, SSLREADFD or SSLWRITEFD: no STARTTLS") ;
  }
  lcf.timeout = cf.timeout ;
  lcf.remoteip = cf.remoteip ;
  if (sig_ignore(SIGPIPE) < 0) strerr_diefusys(111, "ignore SIGPIPE") ;
  strerr_warni("connect ip=", cf.remoteip) ;
  return tern_login_monitor(&lcf) ;
}
