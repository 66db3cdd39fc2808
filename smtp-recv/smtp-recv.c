/* smtp-recv: tern's SMTP/ESMTP server (RFC 5321), one process per
   connection on fds 0 and 1 under tcpserver. It checks recipients at RCPT
   time, streams each message through a byte machine into $QUEUE (fd 0 the
   message, fd 1 the envelope, qmail-queue's interface) and answers 250
   only once $QUEUE exited 0.

   Structure (as OpenSMTPD's smtp_session.c): a state enum, a command
   table of (name, states where it is allowed, action), and every state
   change through set_state(). Replies are buffered and flushed only
   before blocking on input (qmail-smtpd's way), which is all RFC 2920
   PIPELINING asks of a server. DATA and BDAT share one byte machine
   (data_feed) that runs in linear time. STARTTLS goes through tlsd -u
   (UCSPI-TLS): smtp-recv never sees TLS, only the plaintext pipes of the
   engine after it.

   Submission (-s checkpassword...): started as root, smtp-recv runs the
   login monitor of lib/ in check-only mode; the session runs in its
   unprivileged child (ternlogin), which sends each AUTH's credentials to
   the monitor and gets back a verdict and the identity checked. AUTH
   needs TLS, MAIL needs AUTH, the sender must be the user's, and the
   header gets Date: and Message-ID: when it has none (RFC 6409 8). */

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <skalibs/types.h>
#include <skalibs/bytestr.h>
#include <skalibs/buffer.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/tai.h>
#include <skalibs/iopause.h>
#include <skalibs/djbunix.h>
#include <skalibs/unix-timed.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/env.h>
#include <skalibs/cdb.h>

#include "tern.h"

#define USAGE "smtp-recv [ -s checkpassword [ arg... ] ]"
#define dieusage() strerr_dieusage(100, USAGE)

/* DSN (RFC 3461) is advertised only once queue-run honours it; its
   parameters are parsed and recorded as P records either way. */
#ifndef SMTP_DSN
#define SMTP_DSN 1
#endif

/* A command line with its CRLF: RFC 5321 4.5.3.1.4's 512 octets plus
   what SIZE, BODY, SMTPUTF8, the DSN parameters (ENVID 100, ORCPT 500,
   RFC 3461 4.2 and 4.4) and AUTH= (RFC 4954 5) may add. */
#define CMDMAX 2048
/* An AUTH command or SASL response with its CRLF (RFC 4954 4). */
#define AUTHMAX 12288

extern char **environ ;

/* ---- configuration, read once at start ---- */

static struct
{
  uint64_t maxsize ;          /* SMTP_MAXSIZE, 0: no limit */
  unsigned int maxrcpt ;      /* SMTP_MAXRCPT */
  unsigned int maxerrors ;    /* SMTP_MAXERRORS, 0: no limit */
  unsigned int maxhops ;      /* SMTP_MAXHOPS */
  unsigned int maxline ;      /* SMTP_MAXLINE */
  unsigned int timeout ;      /* SMTP_TIMEOUT, seconds */
  unsigned int datatimeout ;  /* SMTP_DATATIMEOUT, seconds */
  unsigned int maxdatatime ;  /* SMTP_MAXDATATIME, seconds for a whole message */
  int barelf_keep ;           /* SMTP_BARELF=keep */
  int relayclient ;           /* RELAYCLIENT is set */
  char const *queue ;
  char const *remoteip ;
  char const *remotehost ;
  char const *localip ;
  char const *localport ;
  stralloc me ;
  stralloc domains ;
  stralloc queuepath ;
  cdb users ;
  cdb aliases ;
  int tlsavail ;              /* under tlsd -u: STARTTLS can be offered */
  int tlsfds[3] ;             /* SSLCTLFD, SSLREADFD, SSLWRITEFD */
  int submit ;                /* -s: submission */
  unsigned int maxlogins ;    /* SMTP_MAXLOGINS: failed AUTHs on one connection, 0: no limit */
  int anysender ;             /* SUBMIT_ANY_SENDER=1: no check of the sender */
} cf = { .me = STRALLOC_ZERO, .domains = STRALLOC_ZERO, .queuepath = STRALLOC_ZERO, .users = CDB_ZERO, .aliases = CDB_ZERO } ;

/* ---- the session ---- */

enum state_e
{
  ST_GREET,   /* connected, no HELO/EHLO yet */
  ST_HELO,    /* greeted, no transaction */
  ST_MAIL,    /* MAIL accepted, no recipient yet */
  ST_RCPT,    /* one recipient or more */
  ST_BDAT,    /* BDAT chunks received, LAST not yet */
  ST_N
} ;
#ifdef SMTP_TRACE
static char const *const state_names[ST_N] = { "greet", "helo", "mail", "rcpt", "bdat" } ;
#endif
#define S(x) (1U << (x))
#define ST_ANY (S(ST_GREET) | S(ST_HELO) | S(ST_MAIL) | S(ST_RCPT) | S(ST_BDAT))
#define OOS_GREET "503 5.5.1 Send EHLO or HELO first"

static struct
{
  enum state_e state ;
  int ehlo ;               /* EHLO (else HELO) */
  int tls ;                /* TLS is on: STARTTLS done, or SSL_PROTOCOL set at start (tlsd, implicit TLS) */
  char tlsproto[16] ;      /* SSL_PROTOCOL and SSL_CIPHER, for the Received: line */
  char tlscipher[64] ;
  int authed ;             /* AUTH succeeded: ss.user is the monitor's identity */
  unsigned int authfail ;  /* refused AUTHs */
  size_t userlen ;
  char user[TERN_LOGIN_USERMAX + 1] ;   /* lowercased */
  unsigned int errors ;    /* 4xx/5xx replies to commands */
  unsigned int ncmds ;
  stralloc helo ;          /* HELO/EHLO argument, printable */
  /* the transaction */
  stralloc env ;           /* F sender, MAIL P records, then T and P records per recipient */
  size_t sender ;          /* offset of the sender in env (after 'F') */
  unsigned int nrcpt ;
  stralloc rcpt1 ;         /* the first recipient, for Received's "for" */
  int utf8 ;               /* MAIL had SMTPUTF8 */
} ss = { .state = ST_GREET, .helo = STRALLOC_ZERO, .env = STRALLOC_ZERO, .rcpt1 = STRALLOC_ZERO } ;

/* ---- the message being received, and its $QUEUE ---- */

enum dstate_e { D_BOL, D_DOT, D_DOTCR, D_TEXT, D_CR } ;

#define MSG_ESIZE 0x01
#define MSG_EBARE 0x02
#define MSG_ELINE 0x04
#define MSG_EHOPS 0x08
#define MSG_EQUEUE 0x10   /* $QUEUE could not be started */

static struct
{
  enum dstate_e st ;
  int bdat ;               /* BDAT: no dot-stuffing, no end marker */
  uint64_t size ;          /* octets with CRLF line ends, as RFC 1870 counts */
  tain end ;               /* SMTP_MAXDATATIME after the start: the message's last moment */
  uint64_t linelen ;
  unsigned int hops ;      /* Received: fields in the header */
  int inhdr ;
  unsigned int hdrpos ;    /* octets of "received:" matched at the start of this line */
  unsigned int err ;       /* MSG_* */
  pid_t pid ;              /* $QUEUE, 0 when none */
  int mfd, efd ;           /* its fd 0 (message) and fd 1 (envelope), our ends */
  int qdead ;              /* writing to it failed */
  buffer qb ;
  char qbuf[8192] ;
} m = { .pid = 0, .mfd = -1, .efd = -1 } ;

/* Submission: where the header section ends, and whether it has Date:
   and Message-ID:. The start of each header line is held until it is
   known to be a field ("name:", blanks allowed before the colon), a
   continuation, or the first line that is neither: the end of the
   header, where the missing fields go. */
enum hstate_e { H_BOL, H_NAME, H_NAMEWS, H_LINE, H_DONE } ;

static struct
{
  enum hstate_e st ;
  int fields ;             /* a field was seen: a line may continue it */
  int date, msgid ;        /* Date:, Message-ID: seen */
  size_t nlen ;            /* the field name's length in hold */
  size_t n ;               /* octets held */
  char hold[1000] ;        /* a line can hold no more (RFC 5322 2.1.1) */
} h ;

/* ---- network input: one bounded buffer, every read with a deadline ---- */

static char ibuf[16384] ;
static size_t ipos = 0, ilen = 0 ;
static char obufspace[4096] ;
static buffer obuf = BUFFER_INIT(&buffer_write, 1, obufspace, sizeof(obufspace)) ;

static void q_abort (void) ;
static ssize_t getcmd (char *, size_t, size_t *) ;

/* Printable copy for logs and headers: no controls, no spaces, bounded. */
static char const *safe (char const *s, size_t len, char *buf, size_t max)
{
  size_t i = 0 ;
  if (len > max - 1) len = max - 1 ;
  for (; i < len ; i++) buf[i] = (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 ? s[i] : '?' ;
  buf[i] = 0 ;
  return buf ;
}

static void bye (int e)
{
  if (m.pid) q_abort() ;
  _exit(e) ;
}

static void out_flush (tain const *deadline)
{
  if (!buffer_timed_flush_g(&obuf, deadline))
  {
    strerr_warni3x("end ip=", cf.remoteip, " reason=write-failed") ;
    bye(0) ;
  }
}

/* Buffers a reply. The one write not made just before a read: when a
   client pipelines more commands than 4 KB of replies, those are written
   as the buffer fills (the client must keep reading, RFC 2920 3.1). */
static void out_put (char const *s, size_t n)
{
  while (n)
  {
    size_t k = buffer_putnoflush(&obuf, s, n) ;
    s += k ; n -= k ;
    if (n)
    {
      tain d ;
      tain_now_g() ;
      tain_addsec_g(&d, cf.timeout) ;
      out_flush(&d) ;
    }
  }
}

/* One reply line: the strings, then CRLF. A 4xx or 5xx counts against
   SMTP_MAXERRORS when count is set. */
static void reply_v (int count, unsigned int n, char const *const *v)
{
  for (unsigned int i = 0 ; i < n ; i++) out_put(v[i], strlen(v[i])) ;
  out_put("\r\n", 2) ;
  if (count && (v[0][0] == '4' || v[0][0] == '5')) ss.errors++ ;
}
#define reply(...) reply_v(1, sizeof((char const *[]){__VA_ARGS__}) / sizeof(char const *), (char const *[]){__VA_ARGS__})
#define reply_nc(...) reply_v(0, sizeof((char const *[]){__VA_ARGS__}) / sizeof(char const *), (char const *[]){__VA_ARGS__})

/* Goodbye after a fatal condition: 421 (RFC 5321 3.8), a short flush, exit. */
static void die421 (int e, char const *code, char const *why, char const *logreason)
{
  tain d ;
  reply_nc("421 ", code, " ", cf.me.len ? cf.me.s : "smtp-recv", " ", why) ;
  tain_now_g() ;
  tain_addsec_g(&d, 2) ;
  buffer_timed_flush_g(&obuf, &d) ;
  strerr_warni4x("end ip=", cf.remoteip, " reason=", logreason) ;
  bye(e) ;
}

/* Waits for more input; 1 with more in ibuf, 0 at EOF. Replies are
   flushed here and only here: before blocking on input (RFC 2920).
   capped: the deadline is the message's (SMTP_MAXDATATIME), not a read's. */
static int net_fill (tain const *deadline, int capped)
{
  if (ipos == ilen) ipos = ilen = 0 ;
  else if (ipos)
  {
    memmove(ibuf, ibuf + ipos, ilen - ipos) ;
    ilen -= ipos ;
    ipos = 0 ;
  }
  out_flush(deadline) ;
  for (;;)
  {
    iopause_fd x = { .fd = 0, .events = IOPAUSE_READ, .revents = 0 } ;
    ssize_t r = read(0, ibuf + ilen, sizeof(ibuf) - ilen) ;
    if (r > 0) { ilen += r ; return 1 ; }
    if (!r) return 0 ;
    if (errno == EINTR) continue ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;   /* ECONNRESET and the like: the client is gone */
    r = iopause_g(&x, 1, deadline) ;
    if (r < 0) strerr_diefu1sys(111, "iopause") ;
    if (!r)
    {
      if (capped) die421(111, "4.4.2", "Message took too long, closing connection", "message-time") ;
      die421(111, "4.4.2", "Timeout, closing connection", "timeout") ;
    }
  }
}

static void client_gone (char const *where)
{
  strerr_warni4x("end ip=", cf.remoteip, " reason=disconnect during=", where) ;
  bye(0) ;
}

/* ---- $QUEUE: started for each message, fed as the data arrives ---- */

static int q_flush (void)
{
  tain d ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.datatimeout) ;
  return buffer_timed_flush_g(&m.qb, &d) ;
}

static void q_put (char const *s, size_t n)
{
  if (!m.pid || m.qdead) return ;
  while (n)
  {
    size_t k = buffer_putnoflush(&m.qb, s, n) ;
    s += k ; n -= k ;
    if (n && !q_flush()) { m.qdead = 1 ; return ; }
  }
}

/* Reaps $QUEUE within SMTP_DATATIMEOUT (SIGCHLD through the self-pipe,
   trapped only while a child runs so that the child starts with a clean
   signal mask). 1 with *wstat, or 0 if it had to be killed. */
static int selfpipe_fd = -1 ;

static int q_wait (int *wstat)
{
  tain d ;
  int r = 1 ;
  sigset_t none ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.datatimeout) ;
  if (selfpipe_trap(SIGCHLD) < 0) strerr_diefu1sys(111, "trap SIGCHLD") ;
  for (;;)
  {
    iopause_fd x = { .fd = selfpipe_fd, .events = IOPAUSE_READ, .revents = 0 } ;
    /* checked first: the child may have exited before the trap */
    pid_t p = wait_pid_nohang(m.pid, wstat) ;
    if (p == m.pid) break ;
    if (p < 0) { *wstat = 111 << 8 ; break ; }
    p = iopause_g(&x, 1, &d) ;
    if (p < 0) strerr_diefu1sys(111, "iopause") ;
    if (!p)
    {
      strerr_warni3x("queue ip=", cf.remoteip, " reason=timeout action=kill") ;
      kill(m.pid, SIGKILL) ;
      wait_pid(m.pid, wstat) ;
      r = 0 ;
      break ;
    }
    while (selfpipe_read() > 0) ;
  }
  sigemptyset(&none) ;
  if (selfpipe_trapset(&none) < 0) strerr_diefu1sys(111, "untrap SIGCHLD") ;
  while (selfpipe_read() > 0) ;
  m.pid = 0 ;
  return r ;
}

static void q_start (void)
{
  int mp[2], ep[2], fds[2] ;
  char const *argv[2] = { cf.queue, 0 } ;
  m.qdead = 0 ;
  if (pipe2(mp, O_CLOEXEC) < 0) goto err ;
  if (pipe2(ep, O_CLOEXEC) < 0) { fd_close(mp[0]) ; fd_close(mp[1]) ; goto err ; }
  fds[0] = mp[0] ; fds[1] = ep[0] ;
  sig_restore(SIGPIPE) ;   /* the child must not inherit our SIG_IGN */
  m.pid = tern_spawn(cf.queue, argv, (char const *const *)environ, fds, 2) ;
  sig_ignore(SIGPIPE) ;
  fd_close(mp[0]) ; fd_close(ep[0]) ;
  if (!m.pid) { fd_close(mp[1]) ; fd_close(ep[1]) ; goto err ; }
  m.mfd = mp[1] ; m.efd = ep[1] ;
  if (ndelay_on(m.mfd) < 0 || ndelay_on(m.efd) < 0) strerr_diefu1sys(111, "ndelay_on") ;
  buffer_init(&m.qb, &buffer_write, m.mfd, m.qbuf, sizeof(m.qbuf)) ;
  return ;
 err:
  strerr_warnwu2sys("start ", cf.queue) ;
  m.pid = 0 ;
  m.err |= MSG_EQUEUE ;
}

/* Closes both pipes without an envelope: a qmail-queue (and queue-store)
   queues nothing then. Reaps the child. */
static void q_abort (void)
{
  int wstat ;
  if (m.mfd >= 0) { fd_close(m.mfd) ; m.mfd = -1 ; }
  if (m.efd >= 0) { fd_close(m.efd) ; m.efd = -1 ; }
  if (m.pid) q_wait(&wstat) ;
}

/* qmail-queue(8)'s exit codes to SMTP replies. */
static char const *q_reply (int wstat, char *buf)
{
  unsigned int e ;
  char const *pre ;
  size_t n ;
  if (WIFSIGNALED(wstat)) return "451 4.3.0 Temporary queue failure (crashed)" ;
  e = WEXITSTATUS(wstat) ;
  if (!e) return "250 2.0.0 Ok: queued" ;
  if (e == 11) return "554 5.1.3 Address too long" ;
  if (e == 53) return "452 4.3.1 Insufficient system storage" ;
  pre = e >= 12 && e <= 40 ? "554 5.3.0 Message refused by the queue (exit " : "451 4.3.0 Temporary queue failure (exit " ;
  n = strlen(pre) ;
  memcpy(buf, pre, n) ;
  n += uint_fmt(buf + n, e) ;
  buf[n++] = ')' ;
  buf[n] = 0 ;
  return buf ;
}

/* End of a good message: flush it, send the envelope, wait for the verdict. */
static char const *q_finish (char *buf)
{
  int wstat ;
  if (!m.qdead && !q_flush()) m.qdead = 1 ;
  fd_close(m.mfd) ; m.mfd = -1 ;
  if (!m.qdead)
  {
    char ebufspace[4096] ;
    buffer eb = BUFFER_INIT(&buffer_write, m.efd, ebufspace, sizeof(ebufspace)) ;
    tain d ;
    tain_now_g() ;
    tain_addsec_g(&d, cf.datatimeout) ;
    /* the envelope's final NUL (an empty record) says it is complete */
    if (buffer_timed_put_g(&eb, ss.env.s, ss.env.len, &d) < ss.env.len
     || buffer_timed_put_g(&eb, "", 1, &d) < 1
     || !buffer_timed_flush_g(&eb, &d)) m.qdead = 1 ;
  }
  fd_close(m.efd) ; m.efd = -1 ;
  if (!q_wait(&wstat)) return "451 4.3.0 Temporary queue failure (timeout)" ;
  if (m.qdead && WIFEXITED(wstat) && !WEXITSTATUS(wstat)) return "451 4.3.0 Temporary queue failure" ;
  return q_reply(wstat, buf) ;
}

/* ---- submission: Date: and Message-ID: when missing (RFC 6409 8) ---- */

static int ftext (char c)
{
  return c > 32 && c < 127 && c != ':' ;   /* RFC 5322 3.6.8 */
}

static int hdr_is (char const *name)
{
  return h.nlen == strlen(name) && !strncasecmp(h.hold, name, h.nlen) ;
}

/* The end of the header section: the missing fields, and the empty line
   the body lacks when a line that is no field ended the header. */
static void hdr_end (int blank)
{
  stralloc sa = STRALLOC_ZERO ;
  h.st = H_DONE ;
  if (!h.date)
  {
    char date[TERN_DATE822_LEN] ;
    size_t n = tern_date822(date, time(0)) ;
    if (!stralloc_cats(&sa, "Date: ") || !stralloc_catb(&sa, date, n) || !stralloc_catb(&sa, "\n", 1)) goto nomem ;
  }
  if (!h.msgid && (!stralloc_cats(&sa, "Message-ID: ") || !tern_msgid(&sa, cf.me.s) || !stralloc_catb(&sa, "\n", 1))) goto nomem ;
  if (blank && sa.len && !stralloc_catb(&sa, "\n", 1)) goto nomem ;
  q_put(sa.s, sa.len) ;
  stralloc_free(&sa) ;
  return ;
 nomem:
  die421(111, "4.3.0", "Out of memory", "nomem") ;
}

/* What was held, then c, after the end of the header. */
static void hdr_nofield (char c)
{
  hdr_end(1) ;
  q_put(h.hold, h.n) ;
  q_put(&c, 1) ;
}

/* A field: what was held and c go out, the rest of the line follows. */
static void hdr_field (char c)
{
  if (hdr_is("date")) h.date = 1 ;
  else if (hdr_is("message-id")) h.msgid = 1 ;
  h.fields = 1 ;
  h.st = c == '\n' ? H_BOL : H_LINE ;
  q_put(h.hold, h.n) ;
  q_put(&c, 1) ;
}

static void hdr_octet (char c)
{
  switch (h.st)
  {
    case H_BOL :
      h.n = h.nlen = 0 ;
      if (c == '\n') { hdr_end(0) ; q_put(&c, 1) ; }          /* the empty line */
      else if ((c == ' ' || c == '\t') && h.fields) { h.st = H_LINE ; q_put(&c, 1) ; }
      else if (ftext(c)) { h.hold[h.n++] = c ; h.nlen = 1 ; h.st = H_NAME ; }
      else hdr_nofield(c) ;
      break ;
    case H_NAME :
      if (c == ':') hdr_field(c) ;
      else if (h.n == sizeof(h.hold)) hdr_field(c) ;       /* a field name this long is none we look for */
      else if (ftext(c)) { h.hold[h.n++] = c ; h.nlen++ ; }
      else if (c == ' ' || c == '\t') { h.hold[h.n++] = c ; h.st = H_NAMEWS ; }
      else hdr_nofield(c) ;
      break ;
    case H_NAMEWS :   /* RFC 5322 4.5.3: obsolete blanks before the colon */
      if (c == ':') hdr_field(c) ;
      else if ((c == ' ' || c == '\t') && h.n < sizeof(h.hold)) h.hold[h.n++] = c ;
      else hdr_nofield(c) ;
      break ;
    case H_LINE :
      if (c == '\n') h.st = H_BOL ;
      q_put(&c, 1) ;
      break ;
    case H_DONE :
      q_put(&c, 1) ;
      break ;
  }
}

/* ---- the byte machine of DATA (RFC 5321 4.1.1.4, 4.5.2) and BDAT (RFC 3030) ---- */

/* One octet of the message as stored (LF line ends), with the checks. */
static void emit (char c)
{
  if (c == '\n')
  {
    if (m.inhdr && !m.linelen) m.inhdr = 0 ;   /* the empty line ends the header */
    m.linelen = 0 ;
    m.hdrpos = 0 ;
    m.size += 2 ;
  }
  else
  {
    m.size++ ;
    if (++m.linelen > cf.maxline) m.err |= MSG_ELINE ;
    if (m.inhdr && m.hdrpos < 9)
    {
      /* RFC 5321 6.3: count the Received: fields to stop loops */
      char l = c >= 'A' && c <= 'Z' ? c + 32 : c ;
      if (l == "received:"[m.hdrpos])
      {
        if (++m.hdrpos == 9 && ++m.hops > cf.maxhops) m.err |= MSG_EHOPS ;
      }
      else m.hdrpos = 10 ;
    }
  }
  if (cf.maxsize && m.size > cf.maxsize) m.err |= MSG_ESIZE ;
  if (m.err)
  {
    /* refused whatever follows: $QUEUE may go now, we read on to the end */
    if (m.pid) q_abort() ;
    return ;
  }
  if (h.st == H_DONE) q_put(&c, 1) ;
  else hdr_octet(c) ;
}

/* A CR or LF that is not part of a CRLF (RFC 5321 2.3.8): never a line
   end for the end-of-data test; refused, or with SMTP_BARELF=keep kept
   as a line break (LF), never as a raw CR: a later hop that takes a bare
   CR for a line end must see the lines this one saw. */
static void bare (char c)
{
  (void)c ;
  if (cf.barelf_keep) emit('\n') ;
  else m.err |= MSG_EBARE ;
}

/* Feeds s[0..n); returns the octets used, *end set after CRLF.CRLF (never
   in BDAT mode). Only a CRLF seen by this machine puts it at D_BOL, so a
   "." line after a bare LF or CR is data. */
static size_t data_feed (char const *s, size_t n, int *end)
{
  for (size_t i = 0 ; i < n ; i++)
  {
    char c = s[i] ;
    switch (m.st)
    {
      case D_BOL :
        if (c == '.' && !m.bdat) { m.st = D_DOT ; break ; }
        /* fallthrough */
      case D_TEXT :
        if (c == '\r') m.st = D_CR ;
        else if (c == '\n') { bare(c) ; m.st = D_TEXT ; }
        else { emit(c) ; m.st = D_TEXT ; }
        break ;
      case D_CR :
        if (c == '\n') { emit('\n') ; m.st = D_BOL ; }
        else if (c == '\r') bare('\r') ;     /* the previous CR was bare */
        else { bare('\r') ; emit(c) ; m.st = D_TEXT ; }
        break ;
      case D_DOT :
        /* 4.5.2: a leading dot is removed; a lone "." ended by a bare LF stays */
        if (c == '\r') m.st = D_DOTCR ;
        else if (c == '\n') { emit('.') ; bare(c) ; m.st = D_TEXT ; }
        else { emit(c) ; m.st = D_TEXT ; }
        break ;
      case D_DOTCR :
        if (c == '\n') { *end = 1 ; return i + 1 ; }
        bare('\r') ;
        if (c == '\r') m.st = D_CR ;
        else { emit(c) ; m.st = D_TEXT ; }
        break ;
    }
  }
  return n ;
}

/* Received: (RFC 5321 4.4), protocol names from RFC 3848 and RFC 6531 3.7.3. */
static void received (void)
{
  stralloc sa = STRALLOC_ZERO ;
  char date[TERN_DATE822_LEN] ;
  char ipbuf[80] ;
  char const *proto ;
  size_t dlen = tern_date822(date, time(0)) ;
  if (ss.utf8) proto = ss.tls ? (ss.authed ? "UTF8SMTPSA" : "UTF8SMTPS") : ss.authed ? "UTF8SMTPA" : "UTF8SMTP" ;
  else if (!ss.ehlo) proto = "SMTP" ;
  else proto = ss.tls ? (ss.authed ? "ESMTPSA" : "ESMTPS") : ss.authed ? "ESMTPA" : "ESMTP" ;
  safe(cf.remoteip, strlen(cf.remoteip), ipbuf, sizeof(ipbuf)) ;
  if (!stralloc_cats(&sa, "Received: from ")
   || !stralloc_catb(&sa, ss.helo.s, ss.helo.len)
   || !stralloc_cats(&sa, " (")
   || (cf.remotehost && (!stralloc_cats(&sa, cf.remotehost) || !stralloc_catb(&sa, " ", 1)))
   || !stralloc_cats(&sa, strchr(ipbuf, ':') ? "[IPv6:" : "[")
   || !stralloc_cats(&sa, ipbuf)
   || !stralloc_cats(&sa, "])\n\tby ")
   || !stralloc_catb(&sa, cf.me.s, cf.me.len)
   || !stralloc_cats(&sa, " (tern) with ")
   || !stralloc_cats(&sa, proto)) goto nomem ;
  if (ss.tls)
  {
    /* RFC 5321 4.4's comment after the protocol: how it was protected */
    if (!stralloc_cats(&sa, " (")
     || !stralloc_cats(&sa, ss.tlsproto)
     || !stralloc_catb(&sa, " ", 1)
     || !stralloc_cats(&sa, ss.tlscipher)
     || !stralloc_catb(&sa, ")", 1)) goto nomem ;
  }
  if (ss.nrcpt == 1)
  {
    if (!stralloc_cats(&sa, "\n\tfor <")
     || !stralloc_catb(&sa, ss.rcpt1.s, ss.rcpt1.len)
     || !stralloc_catb(&sa, ">", 1)) goto nomem ;
  }
  if (!stralloc_cats(&sa, ";\n\t")
   || !stralloc_catb(&sa, date, dlen)
   || !stralloc_catb(&sa, "\n", 1)) goto nomem ;
  q_put(sa.s, sa.len) ;
  stralloc_free(&sa) ;
  return ;
 nomem:
  die421(111, "4.3.0", "Out of memory", "nomem") ;
}

static void msg_start (int bdat)
{
  m.st = D_BOL ;
  m.bdat = bdat ;
  m.size = 0 ;
  tain_now_g() ;
  tain_addsec_g(&m.end, cf.maxdatatime) ;
  m.linelen = 0 ;
  m.hops = 0 ;
  m.inhdr = 1 ;
  m.hdrpos = 0 ;
  m.err = 0 ;
  /* only submission adds fields to the header */
  memset(&h, 0, sizeof(h)) ;
  h.st = cf.submit ? H_BOL : H_DONE ;
  q_start() ;
  received() ;
}

/* The verdict on a complete message; logs it. */
static void msg_end (void)
{
  char buf[80] ;
  char const *r ;
  if (m.bdat)
  {
    if (m.st == D_CR) bare('\r') ;            /* a trailing lone CR */
    if (m.linelen) emit('\n') ;               /* the stored message ends with a line end */
  }
  /* a message that is all header: the missing fields go at its end */
  if (h.st == H_BOL && !m.err) hdr_end(0) ;
  if (m.err & MSG_ESIZE) r = "552 5.3.4 Message size exceeds fixed maximum message size" ;   /* RFC 1870 6.1 */
  else if (m.err & MSG_EBARE) r = "554 5.6.0 Bare CR or LF in message (RFC 5321 2.3.8)" ;
  else if (m.err & MSG_ELINE) r = "554 5.6.0 Line too long" ;
  else if (m.err & MSG_EHOPS) r = "554 5.4.6 Too many Received: headers, mail loop" ;
  else if (m.err & MSG_EQUEUE) r = "451 4.3.0 Temporary queue failure" ;
  else r = q_finish(buf) ;
  if (m.pid) q_abort() ;
  reply_nc(r) ;
  {
    char fmt[UINT64_FMT], nfmt[UINT_FMT], code[4], from[300] ;
    fmt[uint64_fmt(fmt, m.size)] = 0 ;
    nfmt[uint_fmt(nfmt, ss.nrcpt)] = 0 ;
    memcpy(code, r, 3) ; code[3] = 0 ;
    safe(ss.env.s + ss.sender, strlen(ss.env.s + ss.sender), from, sizeof(from)) ;
    strerr_warni("message ip=", cf.remoteip, " from=<", from, "> rcpts=", nfmt, " size=", fmt, " result=", code, " ", r + 4) ;
  }
}

/* ---- state changes ---- */

/* Every transition goes through here; leaving a transaction forgets it. */
static void set_state (enum state_e to)
{
  if (to <= ST_HELO)
  {
    if (m.pid) q_abort() ;
    ss.env.len = 0 ;
    ss.sender = 0 ;
    ss.nrcpt = 0 ;
    ss.rcpt1.len = 0 ;
    ss.utf8 = 0 ;
  }
#ifdef SMTP_TRACE
  strerr_warnt("state ", state_names[ss.state], " -> ", state_names[to]) ;
#endif
  ss.state = to ;
}

/* ---- recipients ---- */

/* 1 found, 0 not, -1 error: key in users.cdb, then aliases.cdb, then its
   local part alone in aliases.cdb. */
static int lookup (char const *key, size_t len, size_t at)
{
  cdb_data d ;
  int r = tern_cdb_find(&cf.users, &d, key, len) ;
  if (r) return r ;
  r = tern_cdb_find(&cf.aliases, &d, key, len) ;
  if (r) return r ;
  return tern_cdb_find(&cf.aliases, &d, key, at) ;
}

/* Is this address (domain lowercased) a known local recipient? */
static int local_ok (char const *addr, size_t len)
{
  char key[len + 1] ;   /* bounded by CMDMAX */
  size_t at = tern_addr_domain(addr, len), plus ;
  int r ;
  memcpy(key, addr, len) ;
  tern_lower(key, len) ;
  /* RFC 5321 4.5.1: postmaster, in any case, always */
  if (at == 10 && !memcmp(key, "postmaster", 10)) return 1 ;
  r = lookup(key, len, at) ;
  if (r) return r ;
  plus = byte_chr(key, at, '+') ;
  if (!plus || plus >= at) return 0 ;
  /* user+detail@domain: user@domain */
  memmove(key + plus, key + at, len - at) ;
  return lookup(key, plus + len - at, plus) ;
}

/* ---- the commands ---- */

typedef void action_func (char *, size_t) ;

static void do_helo_common (char *arg, size_t len, int ehlo)
{
  char buf[256] ;
  size_t n = 0 ;
  while (n < len && arg[n] != ' ') n++ ;
  if (!n)
  {
    reply(ehlo ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname") ;
    return ;
  }
  safe(arg, n, buf, sizeof(buf)) ;
  if (!stralloc_copys(&ss.helo, buf)) die421(111, "4.3.0", "Out of memory", "nomem") ;
  ss.ehlo = ehlo ;
  /* RFC 5321 4.1.4: HELO or EHLO resets any transaction */
  set_state(ST_HELO) ;
  if (!ehlo) { reply("250 ", cf.me.s) ; return ; }
  reply("250-", cf.me.s) ;
  reply("250-PIPELINING") ;                      /* RFC 2920 */
  if (cf.maxsize)
  {
    char fmt[UINT64_FMT] ;
    fmt[uint64_fmt(fmt, cf.maxsize)] = 0 ;
    reply("250-SIZE ", fmt) ;                    /* RFC 1870 */
  }
  else reply("250-SIZE") ;
  reply("250-8BITMIME") ;                        /* RFC 6152 */
  reply("250-ENHANCEDSTATUSCODES") ;             /* RFC 2034 */
  reply("250-SMTPUTF8") ;                        /* RFC 6531 */
  if (cf.tlsavail && !ss.tls) reply("250-STARTTLS") ;   /* RFC 3207 */
  if (cf.submit && ss.tls) reply("250-AUTH PLAIN LOGIN") ;   /* RFC 4954, only over TLS */
  if (SMTP_DSN) reply("250-DSN") ;               /* RFC 3461 */
  reply("250 CHUNKING") ;                        /* RFC 3030 */
}

static void do_helo (char *arg, size_t len) { do_helo_common(arg, len, 0) ; }
static void do_ehlo (char *arg, size_t len) { do_helo_common(arg, len, 1) ; }

static int cat_record (char tag, char const *s, size_t len)
{
  return stralloc_catb(&ss.env, &tag, 1) && stralloc_catb(&ss.env, s, len) && stralloc_0(&ss.env) ;
}

static void envcmd_error (int r, int rcpt)
{
  switch (r)
  {
    case TERN_ENVCMD_SYNTAX : reply(rcpt ? "501 5.5.4 Syntax: RCPT TO:<address>" : "501 5.5.4 Syntax: MAIL FROM:<address>") ; break ;
    case TERN_ENVCMD_BADPATH : reply(rcpt ? "501 5.1.3 Bad recipient address syntax" : "501 5.1.7 Bad sender address syntax") ; break ;
    case TERN_ENVCMD_BADPARAM : reply("501 5.5.4 Invalid parameter") ; break ;
    case TERN_ENVCMD_UNKNOWN : reply("555 5.5.4 Unsupported parameter") ; break ;
    case TERN_ENVCMD_8BIT : reply("553 5.6.7 Non-ASCII address needs SMTPUTF8") ; break ;   /* RFC 6531 3.5 */
    default : reply("451 4.3.0 Internal error") ; break ;
  }
}

/* ---- submission: whose addresses the user may send from ---- */

/* a (lowercase) is the user's address or one of its +detail forms. */
static int is_user (char const *a, size_t len)
{
  size_t at = tern_addr_domain(a, len), plus = byte_chr(a, at, '+') ;
  if (len == ss.userlen && !memcmp(a, ss.user, len)) return 1 ;
  return plus && plus < at && plus + len - at == ss.userlen
    && !memcmp(a, ss.user, plus) && !memcmp(a + at, ss.user + plus, len - at) ;
}

/* The addresses one sender check has visited: a hash set (FNV-1a, linear
   probing) of at most SEENMAX, so that a big or looping alias graph
   costs a bounded, linear amount of work. */
#define SEENMAX 1000
#define SEENSLOTS 2048          /* a power of 2, at least twice SEENMAX */

typedef struct seen_s seen_t ;
struct seen_s
{
  stralloc sa ;                 /* the addresses, each NUL-terminated */
  size_t slot[SEENSLOTS] ;      /* an offset in sa plus 1; 0: free */
  unsigned int n ;
  int full ;                    /* an address was not visited: SEENMAX reached */
} ;

/* 1 added, 0 seen before or no room left (then st->full), -1 no memory */
static int seen_add (seen_t *st, char const *a, size_t len)
{
  uint32_t hash = 2166136261u ;
  size_t j ;
  for (size_t i = 0 ; i < len ; i++) hash = (hash ^ (unsigned char)a[i]) * 16777619u ;
  for (j = hash & (SEENSLOTS - 1) ; st->slot[j] ; j = (j + 1) & (SEENSLOTS - 1))
  {
    char const *x = st->sa.s + st->slot[j] - 1 ;
    if (!strncmp(x, a, len) && !x[len]) return 0 ;
  }
  if (st->n >= SEENMAX) { st->full = 1 ; return 0 ; }
  if (!stralloc_catb(&st->sa, a, len) || !stralloc_0(&st->sa)) return -1 ;
  st->slot[j] = st->sa.len - len ;   /* the offset of a, plus 1 */
  st->n++ ;
  return 1 ;
}

/* Does an alias of a (lowercase) lead to the user, through aliases.cdb as
   deliver reads it (the address, else its local part in a local domain,
   each also without +detail; the first key found), targets without a
   domain taking a's, nested up to 10 levels, SEENMAX addresses visited
   at most? 1, 0, or -1 on a read error. */
static int alias_leads (char const *a, size_t len, unsigned int depth, seen_t *seen)
{
  size_t at = tern_addr_domain(a, len), plus = byte_chr(a, at, '+') ;
  int local = at < len && tern_domain_in(cf.domains.s, cf.domains.len, a + at + 1, len - at - 1) ;
  char base[len + 1] ;
  size_t blen = 0 ;
  struct { char const *s ; size_t len ; } keys[4] ;
  unsigned int nk = 0 ;
  cdb_data d ;
  int r = 0 ;
  if (depth > 10) return 0 ;
  r = seen_add(seen, a, len) ;
  if (r <= 0) return r ;
  r = 0 ;
  keys[nk].s = a ; keys[nk++].len = len ;
  if (local) { keys[nk].s = a ; keys[nk++].len = at ; }
  if (plus && plus < at)
  {
    memcpy(base, a, plus) ;
    memcpy(base + plus, a + at, len - at) ;
    blen = plus + len - at ;
    keys[nk].s = base ; keys[nk++].len = blen ;
    if (local) { keys[nk].s = base ; keys[nk++].len = plus ; }
  }
  for (unsigned int k = 0 ; k < nk && !r ; k++) r = tern_cdb_find(&cf.aliases, &d, keys[k].s, keys[k].len) ;
  if (r <= 0) return r ;
  for (size_t i = 0 ; i < d.len ; )
  {
    size_t n = strnlen(d.s + i, d.len - i) ;
    int qualify = !memchr(d.s + i, '@', n) ;
    size_t tlen = qualify ? n + len - at : n ;
    char t[tlen + 1] ;
    if (n && d.s[i] != '|' && d.s[i] != '/' && (!qualify || at < len))
    {
      memcpy(t, d.s + i, n) ;
      if (qualify) memcpy(t + n, a + at, len - at) ;
      t[tlen] = 0 ;
      tern_lower(t, tlen) ;
      if (is_user(t, tlen)) return 1 ;
      r = alias_leads(t, tlen, depth + 1, seen) ;
      if (r) return r ;
    }
    i += n + 1 ;
  }
  return 0 ;
}

/* 1 if the user may use addr (domain lowercased) as the sender, 0 if
   not, -1 if aliases.cdb could not be read. */
static int sender_ok (char const *addr, size_t len)
{
  static seen_t seen = { .sa = STRALLOC_ZERO } ;
  char a[len + 1] ;
  int r ;
  memcpy(a, addr, len) ;
  a[len] = 0 ;
  tern_lower(a, len) ;
  if (is_user(a, len)) return 1 ;
  seen.sa.len = 0 ;
  memset(seen.slot, 0, sizeof(seen.slot)) ;
  seen.n = 0 ;
  seen.full = 0 ;
  r = alias_leads(a, len, 0, &seen) ;
  if (!r && seen.full)
  {
    char buf[300] ;
    strerr_warnw("sender ip=", cf.remoteip, " from=<", safe(a, len, buf, sizeof(buf)), "> aliases not followed past 1000 addresses") ;
  }
  return r ;
}

static void do_mail (char *arg, size_t len)
{
  tern_envcmd e ;
  char addr[len + 1] ;
  int r ;
  if (cf.submit && !ss.tls) { reply("530 5.7.0 Must issue a STARTTLS command first") ; return ; }   /* RFC 3207 4 */
  if (cf.submit && !ss.authed) { reply("530 5.7.0 Authentication required") ; return ; }         /* RFC 4954 6 */
  r = tern_smtp_envcmd(arg, len, cf.submit ? TERN_ENV_AUTHOK : 0, &e, addr) ;
  if (r) { envcmd_error(r, 0) ; return ; }
  if (e.flags & TERN_ENV_SIZE && cf.maxsize && e.size > cf.maxsize)
  {
    reply("552 5.3.4 Message size exceeds fixed maximum message size") ;   /* RFC 1870 6.1 */
    return ;
  }
  tern_addr_canon(addr, e.addrlen, 0) ;
  /* the null sender is allowed: notifications (MDNs, vacation replies) use it */
  if (cf.submit && !cf.anysender && e.addrlen)
  {
    char buf[300], ubuf[300] ;
    r = sender_ok(addr, e.addrlen) ;
    if (r < 0) { reply("451 4.3.0 Temporary lookup failure") ; return ; }
    if (!r)
    {
      strerr_warni("sender ip=", cf.remoteip, " user=", safe(ss.user, ss.userlen, ubuf, sizeof(ubuf)),
        " from=<", safe(addr, e.addrlen, buf, sizeof(buf)), "> result=553") ;
      reply("553 5.7.1 Sender address not owned by you") ;
      return ;
    }
  }
  ss.env.len = 0 ;
  ss.sender = 1 ;
  if (!cat_record('F', addr, e.addrlen)
   || (e.flags & TERN_ENV_BODY8 && !cat_record('P', "BODY=8BITMIME", 13))
   || (e.flags & TERN_ENV_SMTPUTF8 && !cat_record('P', "SMTPUTF8", 8))
   || (e.flags & TERN_ENV_RETHDRS && !cat_record('P', "RET=HDRS", 8))
   || (e.flags & TERN_ENV_RETFULL && !cat_record('P', "RET=FULL", 8))
   || (e.envid && (!stralloc_cats(&ss.env, "PENVID=") || !stralloc_catb(&ss.env, e.envid, e.envidlen) || !stralloc_0(&ss.env))))
    die421(111, "4.3.0", "Out of memory", "nomem") ;
  ss.utf8 = !!(e.flags & TERN_ENV_SMTPUTF8) ;
  set_state(ST_MAIL) ;
  reply("250 2.1.0 Ok") ;
}

static void log_rcpt (char const *addr, size_t len, char const *code)
{
  char buf[300] ;
  strerr_warni("rcpt ip=", cf.remoteip, " to=<", safe(addr, len, buf, sizeof(buf)), "> result=", code) ;
}

static void do_rcpt (char *arg, size_t len)
{
  tern_envcmd e ;
  char addr[len + 1] ;
  size_t at ;
  int r = tern_smtp_envcmd(arg, len, TERN_ENV_RCPT | (ss.utf8 ? TERN_ENV_UTF8OK : 0), &e, addr) ;
  if (r) { envcmd_error(r, 1) ; return ; }
  if (ss.nrcpt >= cf.maxrcpt)
  {
    /* RFC 5321 4.5.3.1.10: the client sends the rest later; not an error */
    reply_nc("452 4.5.3 Too many recipients") ;
    return ;
  }
  tern_addr_canon(addr, e.addrlen, 0) ;
  at = tern_addr_domain(addr, e.addrlen) ;
  if (at == e.addrlen) r = 1 ;            /* <postmaster> */
  else if (tern_domain_in(cf.domains.s, cf.domains.len, addr + at + 1, e.addrlen - at - 1))
  {
    r = local_ok(addr, e.addrlen) ;
    if (r < 0) { reply("451 4.3.0 Temporary lookup failure") ; log_rcpt(addr, e.addrlen, "451") ; return ; }
    if (!r) { reply("550 5.1.1 No such user here") ; log_rcpt(addr, e.addrlen, "550") ; return ; }
  }
  else if (!cf.relayclient && !ss.authed)
  {
    reply("550 5.7.1 Relaying denied") ;
    log_rcpt(addr, e.addrlen, "550") ;
    return ;
  }
  if (!cat_record('T', addr, e.addrlen)) goto nomem ;
  if (e.notify)
  {
    char nb[40] = "NOTIFY=" ;
    if (e.notify & TERN_NOTIFY_NEVER) strcat(nb, "NEVER") ;
    else
    {
      if (e.notify & TERN_NOTIFY_SUCCESS) strcat(nb, "SUCCESS,") ;
      if (e.notify & TERN_NOTIFY_FAILURE) strcat(nb, "FAILURE,") ;
      if (e.notify & TERN_NOTIFY_DELAY) strcat(nb, "DELAY,") ;
      nb[strlen(nb) - 1] = 0 ;
    }
    if (!cat_record('P', nb, strlen(nb))) goto nomem ;
  }
  if (e.orcpt && (!stralloc_cats(&ss.env, "PORCPT=") || !stralloc_catb(&ss.env, e.orcpt, e.orcptlen) || !stralloc_0(&ss.env))) goto nomem ;
  if (!ss.nrcpt && !stralloc_copyb(&ss.rcpt1, addr, e.addrlen)) goto nomem ;
  ss.nrcpt++ ;
  set_state(ST_RCPT) ;
  reply("250 2.1.5 Ok") ;
  return ;
 nomem:
  die421(111, "4.3.0", "Out of memory", "nomem") ;
}

/* Reads more message data: within SMTP_DATATIMEOUT, and before end
   (the message's SMTP_MAXDATATIME); 0 at EOF. */
static int data_fill (tain const *end)
{
  tain d ;
  int capped ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.datatimeout) ;
  capped = tain_less(end, &d) ;
  return net_fill(capped ? end : &d, capped) ;
}

static void do_data (char *arg, size_t len)
{
  int end = 0 ;
  if (len) { reply("501 5.5.4 Syntax: DATA") ; return ; }
  if (ss.state == ST_MAIL) { reply("554 5.5.1 No valid recipients") ; return ; }   /* RFC 5321 3.3 */
  msg_start(0) ;
  reply_nc("354 End data with <CR><LF>.<CR><LF>") ;
  for (;;)
  {
    if (ipos == ilen && !data_fill(&m.end)) client_gone("DATA") ;
    ipos += data_feed(ibuf + ipos, ilen - ipos, &end) ;
    if (end) break ;
  }
  msg_end() ;
  set_state(ST_HELO) ;
}

/* RFC 3030 2: the chunk is read whatever the reply will be (and thrown
   away once the message is refused), which keeps the session in step,
   as long as its octets can be told from the commands after it and it
   is no bigger than the biggest message: a BDAT whose size does not
   parse, or a chunk of more than SMTP_MAXSIZE octets, is answered (501,
   552) and the connection closed with 421 4.5.0, the chunk unread. */
static void do_bdat (char *arg, size_t len)
{
  uint64_t n, left ;
  int last, intx, end = 0 ;
  tain chunkend ;
  if (!tern_smtp_bdat(arg, len, &n, &last))
  {
    reply("501 5.5.4 Syntax: BDAT size [LAST]") ;
    die421(0, "4.5.0", "Chunk size unknown, closing connection", "bdat-syntax") ;
  }
  intx = ss.state == ST_RCPT || ss.state == ST_BDAT ;
  if (cf.maxsize && n > cf.maxsize)
  {
    if (ss.state == ST_BDAT) { m.err |= MSG_ESIZE ; msg_end() ; }   /* logs the message, 552 */
    else reply("552 5.3.4 Message size exceeds fixed maximum message size") ;   /* RFC 1870 6.1 */
    die421(0, "4.5.0", "Chunk not read, closing connection", "bdat-size") ;
  }
  if (intx && ss.state == ST_RCPT) { msg_start(1) ; set_state(ST_BDAT) ; }
  if (intx) chunkend = m.end ;
  else
  {
    /* a chunk outside a transaction is bounded in time all the same */
    tain_now_g() ;
    tain_addsec_g(&chunkend, cf.maxdatatime) ;
  }
  for (left = n ; left ; )
  {
    size_t k ;
    if (ipos == ilen && !data_fill(&chunkend)) client_gone("BDAT") ;
    k = ilen - ipos < left ? ilen - ipos : left ;
    if (intx) data_feed(ibuf + ipos, k, &end) ;
    ipos += k ;
    left -= k ;
  }
  if (!intx)
  {
    if (ss.state == ST_MAIL) reply("554 5.5.1 No valid recipients") ;
    else if (ss.state == ST_GREET) reply("503 5.5.1 Send EHLO first") ;
    else reply("503 5.5.1 Need MAIL and RCPT before BDAT") ;
    return ;
  }
  if (last || m.err & (MSG_ESIZE | MSG_EBARE | MSG_ELINE | MSG_EHOPS | MSG_EQUEUE))
  {
    /* the end, or an error worth telling now: the client stops sending chunks */
    msg_end() ;
    set_state(ST_HELO) ;
    return ;
  }
  {
    char fmt[UINT64_FMT] ;
    fmt[uint64_fmt(fmt, n)] = 0 ;
    reply_nc("250 2.0.0 ", fmt, " octets received") ;
  }
}

static void do_rset (char *arg, size_t len)
{
  if (len) { reply("501 5.5.4 Syntax: RSET") ; return ; }
  set_state(ss.state == ST_GREET ? ST_GREET : ST_HELO) ;
  reply("250 2.0.0 Ok") ;
}

static void do_noop (char *arg, size_t len) { reply("250 2.0.0 Ok") ; }

static void do_quit (char *arg, size_t len)
{
  tain d ;
  set_state(ST_HELO) ;
  reply("221 2.0.0 ", cf.me.s, " closing connection") ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  out_flush(&d) ;
  strerr_warni3x("end ip=", cf.remoteip, " reason=quit") ;
  bye(0) ;
}

static void do_vrfy (char *arg, size_t len)
{
  reply("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery") ;
}

static void do_help (char *arg, size_t len)
{
  reply("214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP") ;
}

/* EXPN, STARTTLS outside tlsd -u, and AUTH outside submission: known, not offered. */
static void do_notimpl (char *arg, size_t len) { reply("502 5.5.1 Command not implemented") ; }

/* ---- AUTH (RFC 4954; PLAIN, RFC 4616; LOGIN, draft-murchison-sasl-login) ---- */

static char authline[AUTHMAX + 1] ;
static tern_login const *login ;   /* the way to the monitor */

/* A base64 response (s, len octets; "=" the empty initial response) into
   out, room for AUTHMAX / 4 * 3: its length, or -1 once the reply went. */
static ssize_t auth_decode (char *s, size_t len, int initial, char *out)
{
  ssize_t n ;
  if (len == 1 && s[0] == '*') { reply("501 5.7.0 Authentication cancelled") ; return -1 ; }
  if (initial && len == 1 && s[0] == '=') return 0 ;
  n = tern_base64_decode(out, s, len) ;
  explicit_bzero(s, len) ;
  if (n < 0) reply("501 5.5.2 Cannot decode response") ;
  return n ;
}

/* "334 challenge", then the client's response, decoded. */
static ssize_t auth_read (char const *challenge, char *out)
{
  size_t raw ;
  ssize_t len ;
  reply_nc("334 ", challenge) ;
  len = getcmd(authline, AUTHMAX, &raw) ;
  if (len < 0) { reply("500 5.5.6 Authentication exchange line is too long") ; return -1 ; }
  return auth_decode(authline, len, 0, out) ;
}

/* The verdict of the login monitor (check-only mode): the identity is
   the monitor's, never what this process sent. */
static void auth_verify (char const *mech, char const *user, size_t ulen, char const *pass, size_t plen)
{
  char id[TERN_LOGIN_USERMAX + 1] ;
  int r = tern_login_check(login, user, ulen, pass, plen, 0, id) ;
  if (r == TERN_LOGIN_OK)
  {
    char ubuf[300] ;
    ss.userlen = strlen(id) ;
    memcpy(ss.user, id, ss.userlen + 1) ;
    tern_lower(ss.user, ss.userlen) ;
    explicit_bzero(id, sizeof(id)) ;
    ss.authed = 1 ;
    strerr_warni("auth ip=", cf.remoteip, " mech=", mech, " user=", safe(ss.user, ss.userlen, ubuf, sizeof(ubuf)), " result=ok") ;
    reply("235 2.7.0 Authentication successful") ;
    return ;
  }
  if (r == TERN_LOGIN_TEMP) { reply("454 4.7.0 Temporary authentication failure") ; return ; }
  reply("535 5.7.8 Authentication credentials invalid") ;
  if (cf.maxlogins && ++ss.authfail >= cf.maxlogins)
    die421(0, "4.7.0", "Too many failed authentications, closing connection", "auth-failures") ;
}

static void do_auth (char *arg, size_t len)
{
  static char dec[AUTHMAX / 4 * 3 + 1], dec2[AUTHMAX / 4 * 3 + 1] ;
  size_t sp = byte_chr(arg, len, ' ') ;
  char *resp = sp < len ? arg + sp + 1 : 0 ;
  size_t rlen = sp < len ? len - sp - 1 : 0 ;
  ssize_t n, n2 ;
  if (!cf.submit) { do_notimpl(arg, len) ; return ; }
  if (ss.state == ST_GREET) { reply(OOS_GREET) ; return ; }
  /* RFC 4954 4: once only (and so never in a transaction: MAIL needs AUTH) */
  if (ss.authed) { reply("503 5.5.1 Already authenticated") ; return ; }
  if (!ss.tls) { explicit_bzero(arg, len) ; reply("538 5.7.11 Encryption required for requested authentication mechanism") ; return ; }
  if (sp == 5 && !strncasecmp(arg, "PLAIN", 5))
  {
    tern_sasl_plain_t p ;
    n = resp ? auth_decode(resp, rlen, 1, dec) : auth_read("", dec) ;
    if (n < 0) return ;
    if (!tern_sasl_plain(dec, n, &p)) { explicit_bzero(dec, n) ; reply("501 5.5.2 Malformed PLAIN response") ; return ; }
    /* RFC 4616 2: no acting as another identity than the one proven */
    if (p.authzidlen && (p.authzidlen != p.authcidlen || strncasecmp(p.authzid, p.authcid, p.authcidlen)))
    {
      explicit_bzero(dec, n) ;
      strerr_warni("auth ip=", cf.remoteip, " mech=PLAIN result=refused reason=authzid") ;
      reply("535 5.7.8 Authorization identity other than the user refused") ;
      if (cf.maxlogins && ++ss.authfail >= cf.maxlogins)
        die421(0, "4.7.0", "Too many failed authentications, closing connection", "auth-failures") ;
      return ;
    }
    auth_verify("PLAIN", p.authcid, p.authcidlen, p.passwd, p.passwdlen) ;
    explicit_bzero(dec, n) ;
  }
  else if (sp == 5 && !strncasecmp(arg, "LOGIN", 5))
  {
    /* "Username:" and "Password:"; the user may come with the command */
    n = resp ? auth_decode(resp, rlen, 1, dec) : auth_read("VXNlcm5hbWU6", dec) ;
    if (n < 0) return ;
    n2 = auth_read("UGFzc3dvcmQ6", dec2) ;
    if (n2 >= 0) auth_verify("LOGIN", dec, n, dec2, n2) ;
    explicit_bzero(dec, n) ;
    if (n2 > 0) explicit_bzero(dec2, n2) ;
  }
  else
  {
    explicit_bzero(arg, len) ;
    reply(sp ? "504 5.5.4 Unrecognized authentication type" : "501 5.5.4 Syntax: AUTH mechanism [initial-response]") ;
  }
}

/* RFC 3207, through UCSPI-TLS (tlsd -u): the 220 goes out in plaintext,
   the engine does the handshake, and the session starts again over its
   pipes, as after the greeting. */
static void do_starttls (char *arg, size_t len)
{
  tern_tlsinfo info = TERN_TLSINFO_ZERO ;
  size_t dropped ;
  tain d ;
  if (ss.tls) { reply("503 5.5.1 TLS already active") ; return ; }
  if (!cf.tlsavail) { do_notimpl(arg, len) ; return ; }
  if (len) { reply("501 5.5.4 Syntax: STARTTLS") ; return ; }
  if (ss.state > ST_HELO) { reply("503 5.5.1 STARTTLS not allowed in a mail transaction") ; return ; }
  /* Whatever the client sent behind STARTTLS came in plaintext and must
     never count as sent over TLS (CVE-2011-0411): it is dropped, as
     Postfix does. What is still in the socket goes to the engine, which
     takes it for a broken handshake. */
  dropped = ilen - ipos ;
  ipos = ilen = 0 ;
  reply_nc("220 2.0.0 Ready to start TLS") ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  out_flush(&d) ;
  if (!tern_ucspitls_start(cf.tlsfds[0], &d, &info))
  {
    int e = errno ;
    strerr_warnw("starttls ip=", cf.remoteip, " result=failed reason=", e == EPIPE ? "handshake" : strerror(e)) ;
    bye(e == ETIMEDOUT ? 111 : 0) ;
  }
  /* from now on fds 0 and 1 are the engine's pipes */
  if (fd_move(0, cf.tlsfds[1]) < 0 || fd_move(1, cf.tlsfds[2]) < 0 || ndelay_on(0) < 0 || ndelay_on(1) < 0)
    strerr_diefu1sys(111, "switch to the TLS engine") ;
  fd_close(cf.tlsfds[0]) ;
  cf.tlsavail = 0 ;
  ss.tls = 1 ;
  memcpy(ss.tlsproto, info.protocol, sizeof(ss.tlsproto)) ;
  memcpy(ss.tlscipher, info.cipher, sizeof(ss.tlscipher)) ;
  /* RFC 3207 4.2: forget what the client said; EHLO again */
  set_state(ST_GREET) ;
  ss.helo.len = 0 ;
  ss.ehlo = 0 ;
  {
    char fmt[SIZE_FMT] ;
    fmt[size_fmt(fmt, dropped)] = 0 ;
    strerr_warni("starttls ip=", cf.remoteip, " protocol=", ss.tlsproto, " cipher=", ss.tlscipher, " dropped=", fmt) ;
  }
}

static void do_unknown (char *arg, size_t len) { reply("500 5.5.1 Unrecognized command") ; }

typedef struct command_s command, *command_ref ;
struct command_s
{
  char const *name ;
  unsigned int states ;   /* where the command is allowed */
  char const *oos ;       /* the reply elsewhere */
  action_func *action ;
} ;


static command const commands[TERN_SMTP_NVERBS] =
{
  [TERN_SMTP_UNKNOWN] = { "unknown", ST_ANY, 0, &do_unknown },
  [TERN_SMTP_HELO] = { "HELO", ST_ANY, 0, &do_helo },
  [TERN_SMTP_EHLO] = { "EHLO", ST_ANY, 0, &do_ehlo },
  [TERN_SMTP_MAIL] = { "MAIL", S(ST_HELO), "503 5.5.1 Nested MAIL command", &do_mail },
  [TERN_SMTP_RCPT] = { "RCPT", S(ST_MAIL) | S(ST_RCPT), "503 5.5.1 Need MAIL before RCPT", &do_rcpt },
  [TERN_SMTP_DATA] = { "DATA", S(ST_MAIL) | S(ST_RCPT), "503 5.5.1 Need MAIL and RCPT before DATA, and no DATA after BDAT", &do_data },
  [TERN_SMTP_BDAT] = { "BDAT", ST_ANY, 0, &do_bdat },   /* checks after reading the chunk */
  [TERN_SMTP_RSET] = { "RSET", ST_ANY, 0, &do_rset },
  [TERN_SMTP_NOOP] = { "NOOP", ST_ANY, 0, &do_noop },
  [TERN_SMTP_QUIT] = { "QUIT", ST_ANY, 0, &do_quit },
  [TERN_SMTP_VRFY] = { "VRFY", ST_ANY, 0, &do_vrfy },
  [TERN_SMTP_EXPN] = { "EXPN", ST_ANY, 0, &do_notimpl },
  [TERN_SMTP_HELP] = { "HELP", ST_ANY, 0, &do_help },
  [TERN_SMTP_STARTTLS] = { "STARTTLS", ST_ANY, 0, &do_starttls },   /* checks its state itself */
  [TERN_SMTP_AUTH] = { "AUTH", ST_ANY, 0, &do_auth },   /* checks its state itself */
  [TERN_SMTP_HTTP] = { "http", ST_ANY, 0, &do_unknown },
} ;

/* ---- the command loop ---- */

/* The next command line into cmd (CRLF or LF removed, NUL-terminated):
   its length, or -1 when it was longer than CMDMAX (then discarded
   through its LF). */
static ssize_t getcmd (char *cmd, size_t max, size_t *raw)
{
  tain d ;
  int toolong = 0, capped = 0 ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  /* between BDAT chunks the message's time runs on */
  if (ss.state == ST_BDAT && tain_less(&m.end, &d)) { d = m.end ; capped = 1 ; }
  for (;;)
  {
    size_t avail = ilen - ipos ;
    size_t n = byte_chr(ibuf + ipos, avail, '\n') ;
    if (n < avail)
    {
      size_t len = n ;
      char *s = ibuf + ipos ;
      ipos += n + 1 ;
      *raw = n + 1 ;
      if (toolong || n + 1 > max) return -1 ;
      if (len && s[len-1] == '\r') len-- ;
      memcpy(cmd, s, len) ;
      cmd[len] = 0 ;
      /* submission: no copy of a password left behind in the input buffer */
      if (cf.submit) explicit_bzero(s, n + 1) ;
      return len ;
    }
    if (avail >= max) { toolong = 1 ; ipos = ilen ; }
    if (!net_fill(&d, capped))
    {
      if (ss.ncmds || ilen > ipos) client_gone("command") ;
      strerr_warni3x("end ip=", cf.remoteip, " reason=disconnect") ;
      bye(0) ;
    }
  }
}

static void dispatch (char *line, size_t len)
{
  size_t arg ;
  unsigned int v = tern_smtp_verb(line, len, &arg) ;
  command const *c = &commands[v] ;
  if (v == TERN_SMTP_HTTP && !ss.ncmds)
  {
    /* an HTTP client (or a cross-protocol attack): no reply at all */
    char buf[16] ;
    strerr_warni5x("end ip=", cf.remoteip, " reason=http verb=", safe(line, arg - 1, buf, sizeof(buf)), "") ;
    bye(0) ;
  }
  ss.ncmds++ ;
  if (byte_chr(line, len, 0) < len) { reply("500 5.5.2 Syntax error: NUL in command") ; return ; }
  if (!(c->states & S(ss.state)))
  {
    reply(ss.state == ST_GREET ? OOS_GREET : c->oos) ;
    return ;
  }
  (*c->action)(line + arg, len - arg) ;
}

/* ---- start ---- */

static void cfgdie (char const *what)
{
  reply_nc("421 4.3.5 configuration error") ;
  {
    tain d ;
    tain_now_g() ;
    tain_addsec_g(&d, 2) ;
    buffer_timed_flush_g(&obuf, &d) ;
  }
  strerr_dief2x(100, "invalid configuration: ", what) ;
}

static void cfgfail (char const *what)
{
  int e = errno ;
  reply_nc("421 4.3.0 temporary configuration failure") ;
  {
    tain d ;
    tain_now_g() ;
    tain_addsec_g(&d, 2) ;
    buffer_timed_flush_g(&obuf, &d) ;
  }
  errno = e ;
  strerr_diefu2sys(111, "read ", what) ;
}

static void config (void)
{
  char const *x ;
  if (!tern_env_u64("SMTP_MAXSIZE", &cf.maxsize, 52428800)) cfgdie("SMTP_MAXSIZE") ;
  if (!tern_env_uint("SMTP_MAXRCPT", &cf.maxrcpt, 100) || !cf.maxrcpt) cfgdie("SMTP_MAXRCPT") ;
  if (!tern_env_uint("SMTP_MAXERRORS", &cf.maxerrors, 10)) cfgdie("SMTP_MAXERRORS") ;
  if (!tern_env_uint("SMTP_MAXHOPS", &cf.maxhops, 100)) cfgdie("SMTP_MAXHOPS") ;
  if (!tern_env_uint("SMTP_MAXLINE", &cf.maxline, 65536) || !cf.maxline) cfgdie("SMTP_MAXLINE") ;
  if (!tern_env_uint("SMTP_TIMEOUT", &cf.timeout, 300) || !cf.timeout) cfgdie("SMTP_TIMEOUT") ;
  if (!tern_env_uint("SMTP_DATATIMEOUT", &cf.datatimeout, 600) || !cf.datatimeout) cfgdie("SMTP_DATATIMEOUT") ;
  if (!tern_env_uint("SMTP_MAXDATATIME", &cf.maxdatatime, 3600) || !cf.maxdatatime) cfgdie("SMTP_MAXDATATIME") ;
  if (!tern_env_uint("SMTP_MAXLOGINS", &cf.maxlogins, 3)) cfgdie("SMTP_MAXLOGINS") ;
  x = getenv("SUBMIT_ANY_SENDER") ;
  if (!x || !*x || !strcmp(x, "0")) cf.anysender = 0 ;
  else if (!strcmp(x, "1")) cf.anysender = 1 ;
  else cfgdie("SUBMIT_ANY_SENDER") ;
  x = getenv("SMTP_BARELF") ;
  if (!x || !*x || !strcmp(x, "reject")) cf.barelf_keep = 0 ;
  else if (!strcmp(x, "keep")) cf.barelf_keep = 1 ;
  else cfgdie("SMTP_BARELF") ;
  cf.relayclient = !!getenv("RELAYCLIENT") ;
  x = getenv("QUEUE") ;
  if (x && *x) cf.queue = x ;
  else
  {
    if (!tern_path(&cf.queuepath, tern_libexec(), "queue-add")) cfgfail("QUEUE") ;
    cf.queue = cf.queuepath.s ;
  }
  cf.remoteip = ucspi_get("REMOTEIP") ;
  if (!cf.remoteip) cf.remoteip = getenv("TCPREMOTEIP") ;
  if (!cf.remoteip || !*cf.remoteip) cf.remoteip = "unknown" ;
  else
  {
    static char ipbuf[80] ;
    cf.remoteip = safe(cf.remoteip, strlen(cf.remoteip), ipbuf, sizeof(ipbuf)) ;
  }
  cf.remotehost = ucspi_get("REMOTEHOST") ;
  if (!cf.remotehost) cf.remotehost = getenv("TCPREMOTEHOST") ;
  if (cf.remotehost)
  {
    static char hostbuf[256] ;
    cf.remotehost = *cf.remotehost ? safe(cf.remotehost, strlen(cf.remotehost), hostbuf, sizeof(hostbuf)) : 0 ;
  }
  cf.localip = ucspi_get("LOCALIP") ;
  if (!cf.localip) cf.localip = getenv("TCPLOCALIP") ;
  cf.localport = ucspi_get("LOCALPORT") ;
  if (!cf.localport) cf.localport = getenv("TCPLOCALPORT") ;
  {
    static char lipbuf[80], lportbuf[16] ;
    cf.localip = cf.localip ? safe(cf.localip, strlen(cf.localip), lipbuf, sizeof(lipbuf)) : "unknown" ;
    cf.localport = cf.localport ? safe(cf.localport, strlen(cf.localport), lportbuf, sizeof(lportbuf)) : "unknown" ;
  }
  if (!tern_cfg_me(&cf.me) || !cf.me.len) cfgfail("etc/me") ;
  {
    /* the name goes into every greeting and Received: line */
    char mebuf[256] ;
    safe(cf.me.s, cf.me.len, mebuf, sizeof(mebuf)) ;
    if (!stralloc_copys(&cf.me, mebuf) || !stralloc_0(&cf.me)) cfgfail("etc/me") ;
    cf.me.len-- ;
  }
  errno = 0 ;
  if (!tern_cfg_lines(&cf.domains, "domains") && errno != ENOENT) cfgfail("etc/domains") ;
  if (!tern_cdb_open(&cf.users, "users") && errno != ENOENT) cfgfail("etc/users.cdb") ;
  if (!tern_cdb_open(&cf.aliases, "aliases") && errno != ENOENT) cfgfail("etc/aliases.cdb") ;
  /* TLS: on from the start under tlsd (implicit TLS), or offered under tlsd -u */
  x = getenv("SSL_PROTOCOL") ;
  if (x && *x)
  {
    char const *c = getenv("SSL_CIPHER") ;
    ss.tls = 1 ;
    safe(x, strlen(x), ss.tlsproto, sizeof(ss.tlsproto)) ;
    safe(c ? c : "unknown", c ? strlen(c) : 7, ss.tlscipher, sizeof(ss.tlscipher)) ;
  }
  else if (tern_ucspitls_fds(cf.tlsfds)) cf.tlsavail = 1 ;
  else if (errno != ENOENT) cfgdie("SSLCTLFD, SSLREADFD, SSLWRITEFD") ;
}

/* The session: in this process, or in submission mode in the login
   monitor's unprivileged child. */
static int session (tern_login const *lg, void *data)
{
  static char cmd[AUTHMAX + 1] ;
  login = lg ;
  selfpipe_fd = selfpipe_init() ;
  if (selfpipe_fd < 0) strerr_diefu1sys(111, "selfpipe_init") ;
  reply_nc("220 ", cf.me.s, " ESMTP tern") ;
  for (;;)
  {
    size_t raw ;
    ssize_t len = getcmd(cmd, cf.submit ? AUTHMAX : CMDMAX, &raw) ;
    /* only AUTH may be longer than CMDMAX (RFC 4954 4) */
    if (len >= 0 && raw > CMDMAX)
    {
      size_t arg ;
      if (tern_smtp_verb(cmd, len, &arg) != TERN_SMTP_AUTH) { explicit_bzero(cmd, len) ; len = -1 ; }
    }
    if (len < 0)
    {
      ss.ncmds++ ;
      reply("500 5.5.2 Line too long") ;
    }
    else dispatch(cmd, len) ;
    if (cf.maxerrors && ss.errors >= cf.maxerrors)
      die421(0, "4.7.0", "Too many errors, closing connection", "errors") ;
  }
}

int main (int argc, char const *const *argv)
{
  tern_login_cf lcf = { .envp = (char const *const *)environ, .child = &session, .checkonly = 1 } ;
  char const *checkpassword = 0 ;
  PROG = "smtp-recv" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      /* -s ends the options: the rest is the checkpassword command's */
      int opt = subgetopt_r(argc, argv, "s:", &l) ;
      if (opt == -1) break ;
      if (opt != 's') dieusage() ;
      checkpassword = l.arg ;
      cf.submit = 1 ;
      break ;
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!cf.submit && argc) dieusage() ;
  if (!cf.submit && !getuid()) strerr_dief1x(100, "refusing to run as root") ;
  if (cf.submit && !geteuid())
  {
    /* as pop3-login: the child's ids from the run script, no NSS */
    unsigned int u, g ;
    char const *x = getenv("TERN_LOGIN_UID"), *y = getenv("TERN_LOGIN_GID") ;
    if (!x || !y) strerr_dief1x(100, "running as root: TERN_LOGIN_UID and TERN_LOGIN_GID must name the session's uid and gid") ;
    if (!uint0_scan(x, &u) || !uint0_scan(y, &g)) strerr_dief1x(100, "invalid TERN_LOGIN_UID or TERN_LOGIN_GID") ;
    if (!u || !g) strerr_dief1x(100, "refusing to run the session as root") ;
    lcf.uid = u ; lcf.gid = g ;
  }

  if (sig_ignore(SIGPIPE) < 0) strerr_diefu1sys(111, "ignore SIGPIPE") ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefu1sys(111, "ndelay_on") ;
  tain_now_set_stopwatch_g() ;
  tain_now_g() ;
  /* as root in submission mode: the child inherits what was opened */
  config() ;
  strerr_warni("connect ip=", cf.remoteip, " local=", cf.localip, ":", cf.localport) ;
  if (!cf.submit) return session(0, 0) ;
  {
    /* the monitor runs "checkpassword arg... true" for each AUTH */
    char const *chain[argc + 3] ;
    chain[0] = checkpassword ;
    for (int i = 0 ; i < argc ; i++) chain[i + 1] = argv[i] ;
    chain[argc + 1] = "true" ;
    chain[argc + 2] = 0 ;
    lcf.argv = chain ;
    lcf.timeout = cf.timeout ;
    lcf.remoteip = cf.remoteip ;
    lcf.tlsfds = cf.tlsavail ? cf.tlsfds : 0 ;
    return tern_login_monitor(&lcf) ;
  }
}
