/* queue-store: write one message into the queue, durably.
   The server side of queue-add's s6-sudo hop, run by s6-sudod as ternq
   (or exec'd by queue-add under TERN_DIRECT). Message on fd 0, envelope on
   fd 1 (qmail-queue's protocol, with tern's P records). The message is
   queued only if the envelope ends with its final NUL: an EOF before it
   means the caller gave up, and nothing is left behind. Exit codes are
   qmail-queue's. */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <time.h>

#include <skalibs/types.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include <skalibs/sig.h>

#include "tern.h"

#define USAGE "queue-store (no arguments: message on fd 0, envelope on fd 1)"

/* qmail-queue's exit codes (qmail-queue(8)) */
#define QQ_RECLEN 11      /* address too long */
#define QQ_NOMEM 51
#define QQ_TIMEOUT 52
#define QQ_WRITE 53       /* write error, disk full? */
#define QQ_READ 54        /* unable to read the message or envelope */
#define QQ_CONFIG 55
#define QQ_QDIR 62
#define QQ_ENVFMT 91
#define QQ_REFUSE 31      /* permanently refused: control characters, too big */

#define RECMAX 4096       /* one envelope record: an address and parameters */
#define ENVMAX (1 << 20)  /* the whole envelope: ten thousand recipients */

static tern_qwriter q = TERN_QWRITER_ZERO ;
static char const *tmpname_for_signal = 0 ;
static tain deadline ;
static unsigned int timeout ;

static void die (int code, char const *what)
{
  int e = errno ;
  tern_qwriter_abort(&q) ;
  errno = e ;
  strerr_diefusys(code, what) ;
}

static void diex (int code, char const *what)
{
  tern_qwriter_abort(&q) ;
  strerr_dief(code, what) ;
}

static void ondeath (int sig)
{
  /* async-signal-safe: no buffers, no malloc */
  if (tmpname_for_signal) unlink(tmpname_for_signal) ;
  _exit(QQ_READ) ;
}

static void refresh_deadline (void)
{
  tain_now_g() ;
  tain_addsec_g(&deadline, timeout) ;
}

/* Read with the inactivity deadline; returns bytes, 0 on EOF, dies on error. */
static size_t readsome (int fd, char *buf, size_t len)
{
  for (;;)
  {
    ssize_t r = read(fd, buf, len) ;
    if (r >= 0) { refresh_deadline() ; return r ; }
    if (errno == EINTR) continue ;
    if (errno != EAGAIN) die(QQ_READ, fd ? "read envelope" : "read message") ;
    {
      iopause_fd x = { .fd = fd, .events = IOPAUSE_READ } ;
      int p = iopause_g(&x, 1, &deadline) ;
      if (p < 0 && errno != EINTR) die(QQ_READ, "iopause") ;
      if (!p) { errno = ETIMEDOUT ; die(QQ_TIMEOUT, "read from client before the deadline") ; }
    }
  }
}

static void writeall (int fd, char const *s, size_t len)
{
  while (len)
  {
    ssize_t r = write(fd, s, len) ;
    if (r < 0) { if (errno == EINTR) continue ; die(QQ_WRITE, "write queue file") ; }
    s += r ; len -= r ;
  }
}

/* Checks the envelope: F, P*, (T, P*)+, empty. Returns the number of T
   records, or dies with 91 (format) or 11 (a record too long). */
static unsigned int check_envelope (char const *s, size_t len)
{
  size_t i = 0 ;
  unsigned int nt = 0 ;
  int first = 1 ;
  while (i < len)
  {
    size_t n = strlen(s + i) ;
    if (!n) break ;
    if (n > RECMAX) diex(QQ_RECLEN, "envelope record too long") ;
    /* addresses and parameters end up in headers, reports and logs */
    for (size_t k = i ; k < i + n ; k++)
      if ((unsigned char)s[k] < 32 || s[k] == 127) diex(QQ_REFUSE, "control character in the envelope") ;
    if (first) { if (s[i] != 'F') diex(QQ_ENVFMT, "envelope does not start with F") ; first = 0 ; }
    else if (s[i] == 'T') nt++ ;
    else if (s[i] != 'P') diex(QQ_ENVFMT, "unknown envelope record") ;
    else if (n == 1) diex(QQ_ENVFMT, "empty parameter record") ;
    if (s[i] == 'T' && n == 1) diex(QQ_ENVFMT, "empty recipient") ;
    i += n + 1 ;
  }
  if (!nt) diex(QQ_ENVFMT, "no recipients") ;
  return nt ;
}

int main (int argc, char const *const *argv)
{
  stralloc qdir = STRALLOC_ZERO ;
  stralloc rec = STRALLOC_ZERO ;
  char buf[65536] ;
  size_t msgsize = 0, envstart ;
  unsigned int nrcpt ;
  uint64_t uid = getuid() ;
  PROG = "queue-store" ;

  if (argc > 1) strerr_dieusage(100, USAGE) ;
  if (!tern_env_uint("QUEUE_TIMEOUT", &timeout, 1200) || !timeout)
    strerr_dief(QQ_CONFIG, "bad QUEUE_TIMEOUT") ;
  {
    char const *s = getenv("IPCREMOTEEUID") ;
    if (s && *s && !uint640_scan(s, &uid)) strerr_dief(QQ_CONFIG, "bad IPCREMOTEEUID") ;
  }
  if (!tern_path(&qdir, tern_root(), "queue")) die(QQ_NOMEM, "stralloc") ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefusys(QQ_READ, "set fds non-blocking") ;
  tain_now_set_stopwatch_g() ;
  refresh_deadline() ;

  /* From here a signal must not leave a temp file behind. */
  {
    sigset_t all ;
    sigfillset(&all) ;
    sigprocmask(SIG_BLOCK, &all, 0) ;
    if (!tern_qwriter_open(&q, qdir.s))
    {
      int e = errno ;
      sigprocmask(SIG_UNBLOCK, &all, 0) ;
      errno = e ;
      strerr_diefusys(QQ_QDIR, "create a file in ", qdir.s) ;
    }
    tmpname_for_signal = q.tmpname.s ;
    sig_catch(SIGTERM, &ondeath) ;
    sig_catch(SIGINT, &ondeath) ;
    sig_catch(SIGHUP, &ondeath) ;
    sig_catch(SIGALRM, &ondeath) ;
    sig_ignore(SIGPIPE) ;
    sigprocmask(SIG_UNBLOCK, &all, 0) ;
  }

  /* The message, until EOF on fd 0. */
  for (;;)
  {
    size_t r = readsome(0, buf, sizeof buf) ;
    if (!r) break ;
    writeall(q.fd, buf, r) ;
    msgsize += r ;
  }

  /* Our records, then the envelope as given, which must end with an empty record. */
  {
    char fmt[UINT64_FMT] ;
    if (!stralloc_catb(&rec, "A", 1)
     || !stralloc_catb(&rec, fmt, uint64_fmt(fmt, (uint64_t)time(0)))
     || !stralloc_0(&rec)
     || !stralloc_catb(&rec, "U", 1)
     || !stralloc_catb(&rec, fmt, uint64_fmt(fmt, uid))
     || !stralloc_0(&rec)) die(QQ_NOMEM, "stralloc") ;
  }
  envstart = rec.len ;
  {
    /* Every non-empty record has at least its tag, so the first NUL that
       follows another NUL is the empty record that ends the envelope. */
    size_t scan = envstart ;
    for (;;)
    {
      size_t r, i ;
      if (rec.len - envstart > ENVMAX) diex(QQ_REFUSE, "envelope too large") ;
      if (!stralloc_readyplus(&rec, 4096)) die(QQ_NOMEM, "stralloc") ;
      r = readsome(1, rec.s + rec.len, 4096) ;
      if (!r)
      {
        /* EOF before the final NUL: the client aborted; queue nothing. */
        diex(QQ_READ, "envelope ended early: client aborted, nothing queued") ;
      }
      rec.len += r ;
      for (i = scan ; i < rec.len ; i++)
        if (!rec.s[i] && i > envstart && !rec.s[i-1]) break ;
      if (i < rec.len) { rec.len = i + 1 ; break ; }
      scan = rec.len ;
    }
    if (rec.s[envstart] == 0) diex(QQ_ENVFMT, "empty envelope") ;
  }
  nrcpt = check_envelope(rec.s + envstart, rec.len - envstart) ;

  {
    /* the commit may move the body to another temp file: no signal
       handler may look at the name meanwhile */
    sigset_t all, old ;
    int ok ;
    sigfillset(&all) ;
    sigprocmask(SIG_BLOCK, &all, &old) ;
    ok = tern_qwriter_commit(&q, rec.s, rec.len) ;
    tmpname_for_signal = 0 ;
    sigprocmask(SIG_SETMASK, &old, 0) ;
    if (!ok) die(QQ_WRITE, "commit the queue file") ;
  }
  tern_queue_wake(qdir.s) ;
  {
    char fmts[UINT64_FMT], fmtn[UINT_FMT], fmtu[UINT64_FMT] ;
    fmts[uint64_fmt(fmts, msgsize)] = 0 ;
    fmtn[uint_fmt(fmtn, nrcpt)] = 0 ;
    fmtu[uint64_fmt(fmtu, uid)] = 0 ;
    strerr_warni("queued id=", q.id, " size=", fmts, " rcpts=", fmtn, " uid=", fmtu) ;
  }
  stralloc_free(&rec) ;
  stralloc_free(&qdir) ;
  stralloc_free(&q.tmpname) ;
  return 0 ;
}
