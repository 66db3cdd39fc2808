/* pop3-login: the POP3 AUTHORIZATION state (RFC 1939 4; CAPA, RESP-CODES,
   AUTH-RESP-CODE of RFC 2449 and 3206; AUTH PLAIN of RFC 5034 and 4616),
   under the login monitor of lib/ (DESIGN.md): started as root by
   tcpserver, it forks the pre-auth child that runs this file's session()
   as ternlogin, and runs "checkpassword prog..." for each login attempt.
   The chain (pwcheck pop3-serve) answers a good login itself; a refused
   one comes back here as a verdict.

   The child reads the network one octet at a time, so that whatever the
   client pipelined behind PASS or AUTH stays in the socket for
   pop3-serve. Replies are buffered and flushed only before blocking on
   input, or before a login attempt (the chain speaks next).

   STLS (RFC 2595 4) goes through tlsd -u (UCSPI-TLS) in STARTTLS's order
   (STYLE.md 9); the monitor then gives the chain the engine's pipes.
   Logins need TLS (STLS, or tlsd in front: SSL_PROTOCOL) unless
   POP3_PLAINTEXT=1 (RFC 2595 2.3). */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <skalibs/types.h>
#include <skalibs/buffer.h>
#include <skalibs/strerr.h>
#include <skalibs/sig.h>
#include <skalibs/tai.h>
#include <skalibs/iopause.h>
#include <skalibs/unix-timed.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>

#include "tern.h"

#define USAGE "pop3-login checkpassword prog..."
#define dieusage() strerr_dieusage(100, USAGE)

/* A line with its CRLF: the AUTH cap of DESIGN.md's conventions, which
   covers any command (RFC 2449 4 asks for 255) and an AUTH PLAIN initial
   response or continuation for the longest user name and password. */
#define LINEMAX 12288

extern char **environ ;

static struct
{
  unsigned int timeout ;     /* POP3_TIMEOUT, seconds of waiting for a line */
  unsigned int maxerrors ;   /* POP3_MAXERRORS, bad or unknown commands */
  unsigned int maxlogins ;   /* POP3_MAXLOGINS, failed logins on one connection */
  int plaintext ;            /* POP3_PLAINTEXT=1: logins allowed before TLS */
  int tlsavail ;             /* under tlsd -u: STLS can be offered */
  int tlsfds[3] ;            /* SSLCTLFD, SSLREADFD, SSLWRITEFD */
  char const *remoteip ;
} cf ;

enum astate_e { A_START, A_USER } ;

static struct
{
  enum astate_e state ;
  int tls ;                  /* TLS is on: tlsd in front (SSL_PROTOCOL), or after STLS */
  int stls ;                 /* after STLS: the chain gets the engine's pipes */
  unsigned int errors ;
  unsigned int failures ;
  size_t ulen ;
  char user[TERN_LOGIN_USERMAX + 1] ;
} ss = { .state = A_START } ;

/* Logins in plain text only where POP3_PLAINTEXT allows them. */
#define LOGIN_OK (ss.tls || cf.plaintext)
#define NOPLAIN "-ERR [AUTH] Plain-text login disallowed, start TLS first"

static tern_login const *login ;
static char line[LINEMAX + 1] ;
static char obufspace[1024] ;
static buffer obuf = BUFFER_INIT(&buffer_write, 1, obufspace, sizeof(obufspace)) ;

/* ---- replies ---- */

static void end (char const *) gccattr_noreturn ;
static void end (char const *reason)
{
  /* what the client pipelined and we did not read would make the kernel
     answer our close with a reset, which can destroy our last replies
     before the client reads them: read out what has arrived (fd 0 is
     non-blocking, the amount bounded) */
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

static void out (char const *s)
{
  size_t n = strlen(s) ;
  while (n)
  {
    size_t k = buffer_putnoflush(&obuf, s, n) ;
    s += k ; n -= k ;
    if (n) flush() ;
  }
}

static void reply (char const *s)
{
  out(s) ;
  out("\r\n") ;
}

static void bye (char const *, char const *) gccattr_noreturn ;
static void bye (char const *s, char const *reason)
{
  reply(s) ;
  flush() ;
  end(reason) ;
}

/* A bad or unknown command: counted, the session ends at POP3_MAXERRORS. */
static void error (char const *s)
{
  reply(s) ;
  if (cf.maxerrors && ++ss.errors >= cf.maxerrors) bye("-ERR Too many errors, closing connection", "errors") ;
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
    if (!r) bye("-ERR Idle timeout, closing connection", "timeout") ;
  }
}

/* The next line into line[] without its CRLF (or LF), NUL-terminated: its
   length, or -1 if it was longer than LINEMAX (read and dropped up to its
   LF). The session ends at EOF. */
static ssize_t getline_net (void)
{
  tain d ;
  size_t n = 0 ;
  int toolong = 0 ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  for (;;)
  {
    char c ;
    if (!getbyte(&c, &d)) end("disconnect") ;
    if (c == '\n') break ;
    if (n < LINEMAX - 1) line[n++] = c ;
    else toolong = 1 ;
  }
  if (toolong) return -1 ;
  if (n && line[n-1] == '\r') n-- ;
  line[n] = 0 ;
  return n ;
}

/* ---- logging in ---- */

static void attempt (char const *user, size_t ulen, char const *pass, size_t plen)
{
  int r ;
  ss.state = A_START ;
  if (!ulen || ulen > TERN_LOGIN_USERMAX || plen > TERN_LOGIN_PASSMAX) r = TERN_LOGIN_REFUSED ;
  else
  {
    flush() ;   /* the chain speaks next */
    r = tern_login_check(login, user, ulen, pass, plen, ss.stls ? TERN_LOGIN_TLS : 0, 0) ;
  }
  /* here only when refused or failed: a good login never comes back */
  if (r == TERN_LOGIN_TEMP) reply("-ERR [SYS/TEMP] Temporary failure, try again later") ;
  else reply("-ERR [AUTH] Authentication failed") ;
  if (cf.maxlogins && ++ss.failures >= cf.maxlogins)
  {
    flush() ;
    end("login-failures") ;
  }
}

/* ---- commands ---- */

typedef void action_func (char *, size_t) ;

static void do_user (char *arg, size_t len)
{
  /* RFC 3206 5: [AUTH] covers a login against policy */
  if (!LOGIN_OK) { error(NOPLAIN) ; return ; }
  if (!len) { error("-ERR Syntax: USER name") ; return ; }
  if (len > TERN_LOGIN_USERMAX) { error("-ERR Name too long") ; return ; }
  memcpy(ss.user, arg, len) ;
  ss.user[len] = 0 ;
  ss.ulen = len ;
  ss.state = A_USER ;
  reply("+OK Send PASS") ;
}

static void do_pass (char *arg, size_t len)
{
  if (!LOGIN_OK) { explicit_bzero(arg, len) ; error(NOPLAIN) ; return ; }
  if (ss.state != A_USER) { error("-ERR Send USER first") ; return ; }
  attempt(ss.user, ss.ulen, arg, len) ;
  explicit_bzero(arg, len) ;
}

/* AUTH PLAIN [initial-response] (RFC 5034 4); bare AUTH lists the
   mechanisms, as RFC 1734 clients expect. */
static void do_auth (char *arg, size_t len)
{
  static char dec[LINEMAX / 4 * 3 + 1] ;
  tern_sasl_plain_t p ;
  char *resp ;
  size_t rlen, sp ;
  ssize_t n ;
  if (!len) { reply(LOGIN_OK ? "+OK Mechanisms follow\r\nPLAIN\r\n." : "+OK Mechanisms follow\r\n.") ; return ; }
  if (!LOGIN_OK) { explicit_bzero(arg, len) ; error(NOPLAIN) ; return ; }
  for (sp = 0 ; sp < len && arg[sp] != ' ' ; sp++) ;
  if (sp != 5 || strncasecmp(arg, "PLAIN", 5)) { error("-ERR Unsupported authentication mechanism") ; return ; }
  if (sp < len)
  {
    resp = arg + sp + 1 ;
    rlen = len - sp - 1 ;
  }
  else
  {
    ssize_t r ;
    reply("+ ") ;
    r = getline_net() ;
    if (r < 0) { error("-ERR Line too long") ; return ; }
    resp = line ; rlen = r ;
  }
  if (rlen == 1 && resp[0] == '*') { error("-ERR Authentication cancelled") ; return ; }
  if (rlen == 1 && resp[0] == '=') rlen = 0 ;   /* an empty response */
  n = tern_base64_decode(dec, resp, rlen) ;
  explicit_bzero(resp, rlen) ;
  if (n < 0) { error("-ERR Invalid base64 in the response") ; return ; }
  if (!tern_sasl_plain(dec, n, &p)) { explicit_bzero(dec, n) ; error("-ERR Malformed PLAIN response") ; return ; }
  /* RFC 4616 2: we never act as another identity than the one proven */
  if (p.authzidlen && (p.authzidlen != p.authcidlen || strncasecmp(p.authzid, p.authcid, p.authcidlen)))
  {
    explicit_bzero(dec, n) ;
    strerr_warni("refused ip=", cf.remoteip, " reason=authzid") ;
    reply("-ERR [AUTH] Authorization identity other than the user refused") ;
    if (cf.maxlogins && ++ss.failures >= cf.maxlogins) { flush() ; end("login-failures") ; }
    return ;
  }
  attempt(p.authcid, p.authcidlen, p.passwd, p.passwdlen) ;
  explicit_bzero(dec, n) ;
}

/* The capabilities (RFC 2449 5), as pop3-serve's after the login, but
   USER and SASL PLAIN only where a login may happen (RFC 2595 6: no
   PLAIN in the clear), STLS only before TLS under tlsd -u (RFC 2595 4). */
static void do_capa (char *arg, size_t len)
{
  out("+OK Capability list follows\r\nTOP\r\nUIDL\r\n") ;
  if (LOGIN_OK) out("USER\r\nSASL PLAIN\r\n") ;
  if (cf.tlsavail && !ss.tls) out("STLS\r\n") ;
  reply("RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION tern\r\n.") ;
}

static void do_quit (char *arg, size_t len)
{
  bye("+OK Bye", "quit") ;
}

static void do_apop (char *arg, size_t len) { error("-ERR APOP is not supported") ; }

/* RFC 2595 4, in STARTTLS's order (STYLE.md 9): what the client sent
   behind STLS came in the clear and is dropped (we read one octet at a
   time, so it is still in the socket: read it out now; what comes after
   the +OK goes to the engine, which takes it for a broken handshake);
   +OK; "Y" to the engine; its SSL_* block; its pipes as fds 0 and 1;
   nothing of before is kept but the counts of errors and failures. */
static void do_stls (char *arg, size_t len)
{
  tern_tlsinfo info = TERN_TLSINFO_ZERO ;
  size_t dropped = 0 ;
  tain d ;
  if (ss.tls) { error("-ERR Command not permitted when TLS active") ; return ; }
  if (!cf.tlsavail) { error("-ERR STLS is not available") ; return ; }
  if (len) { error("-ERR Syntax: STLS") ; return ; }
  for (;;)
  {
    char buf[512] ;
    ssize_t r = read(0, buf, sizeof(buf)) ;
    if (r < 0 && errno == EINTR) continue ;
    if (r <= 0 || dropped > 65536) break ;
    dropped += r ;
  }
  reply("+OK Begin TLS negotiation") ;
  flush() ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  if (!tern_ucspitls_start(cf.tlsfds[0], &d, &info))
  {
    int e = errno ;
    strerr_warnw("stls ip=", cf.remoteip, " result=failed reason=", e == EPIPE ? "handshake" : strerror(e)) ;
    _exit(0) ;
  }
  if (fd_move(0, cf.tlsfds[1]) < 0 || fd_move(1, cf.tlsfds[2]) < 0 || ndelay_on(0) < 0 || ndelay_on(1) < 0)
    strerr_diefusys(111, "switch to the TLS engine") ;
  fd_close(cf.tlsfds[0]) ;
  cf.tlsavail = 0 ;
  ss.tls = ss.stls = 1 ;
  ss.state = A_START ;
  explicit_bzero(ss.user, sizeof(ss.user)) ;
  ss.ulen = 0 ;
  {
    char fmt[SIZE_FMT] ;
    fmt[size_fmt(fmt, dropped)] = 0 ;
    strerr_warni("stls ip=", cf.remoteip, " protocol=", info.protocol, " cipher=", info.cipher, " dropped=", fmt) ;
  }
}

static void do_early (char *arg, size_t len) { error("-ERR Not logged in") ; }
static void do_unknown (char *arg, size_t len) { error("-ERR Unknown command") ; }

typedef struct command_s command ;
struct command_s
{
  char const *name ;
  action_func *action ;
} ;

static command const commands[] =
{
  { "USER", &do_user },
  { "PASS", &do_pass },
  { "AUTH", &do_auth },
  { "CAPA", &do_capa },
  { "QUIT", &do_quit },
  { "APOP", &do_apop },
  { "STLS", &do_stls },
  { "STAT", &do_early },
  { "LIST", &do_early },
  { "RETR", &do_early },
  { "DELE", &do_early },
  { "NOOP", &do_early },
  { "RSET", &do_early },
  { "TOP", &do_early },
  { "UIDL", &do_early },
  { 0, &do_unknown }
} ;

static void dispatch (char *s, size_t len)
{
  size_t k = 0, arg ;
  command const *c = commands ;
  while (k < len && s[k] != ' ') k++ ;
  arg = k < len ? k + 1 : len ;
  if (memchr(s, 0, len)) { error("-ERR NUL in command") ; return ; }
  for (; c->name ; c++)
    if (strlen(c->name) == k && !strncasecmp(s, c->name, k)) break ;
  (*c->action)(s + arg, len - arg) ;
}

/* The pre-auth child: runs as ternlogin, owns fds 0 and 1 until a login. */
static int session (tern_login const *lg, void *data)
{
  login = lg ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefusys(111, "ndelay_on") ;
  tain_now_set_stopwatch_g() ;
  reply("+OK POP3 server ready (tern)") ;
  for (;;)
  {
    ssize_t len = getline_net() ;
    if (len < 0) error("-ERR Line too long") ;
    else dispatch(line, len) ;
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
  PROG = "pop3-login" ;
  if (argc < 2) dieusage() ;
  cf.timeout = envnum("POP3_TIMEOUT", 600, 0) ;
  cf.maxerrors = envnum("POP3_MAXERRORS", 20, 1) ;
  cf.maxlogins = envnum("POP3_MAXLOGINS", 3, 1) ;
  {
    char const *x = getenv("POP3_PLAINTEXT") ;
    if (!x || !*x || !strcmp(x, "0")) cf.plaintext = 0 ;
    else if (!strcmp(x, "1")) cf.plaintext = 1 ;
    else strerr_dief(100, "invalid $POP3_PLAINTEXT") ;
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
  /* TLS: on from the start under tlsd (implicit, port 995), or STLS
     under tlsd -u; variables that name no open fds are ignored (no STLS) */
  {
    char const *x = getenv("SSL_PROTOCOL") ;
    if (x && *x) ss.tls = 1 ;
    else if (tern_ucspitls_fds(cf.tlsfds)) { cf.tlsavail = 1 ; lcf.tlsfds = cf.tlsfds ; }
    else if (errno != ENOENT) strerr_warnw("invalid SSLCTLFD, SSLREADFD or SSLWRITEFD: no STLS") ;
  }
  lcf.timeout = cf.timeout ;
  lcf.remoteip = cf.remoteip ;
  if (sig_ignore(SIGPIPE) < 0) strerr_diefusys(111, "ignore SIGPIPE") ;
  strerr_warni("connect ip=", cf.remoteip) ;
  return tern_login_monitor(&lcf) ;
}
