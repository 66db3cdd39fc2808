/* tern_login_monitor: the root side of the login monitor (DESIGN.md,
   pop3-login). It forks the pre-auth child, which drops to its own uid
   and speaks the protocol; it reads the child's credentials records and,
   for each, runs the checkpassword chain with the fds and environment it
   builds itself; it hands the session to a chain that writes one octet on
   $LOGINFD, else tells the child how the chain exited. It never reads the
   network and never parses more than one capped record at a time.

   Check-only mode (cf->checkonly, smtp-recv -s): the child keeps the
   session for good. The chain is "checkpassword prog... true" with fds 0
   and 1 on /dev/null and no $LOGINFD; its exit code is the verdict: 0
   accepted ('Y', then the user name the monitor ran it with and a NUL:
   the identity the child is to use), 1 refused ('N'), anything else
   temporary ('T'). The monitor lets go of the connection at once.

   UCSPI-TLS (cf->tlsfds, pop3-login under tlsd -u): the child does STLS
   itself; a record flagged TERN_LOGIN_TLS gets the chain the engine's
   read and write fds as its 0 and 1 instead of the network.

   States: M_IDLE (the child is talking to the client), M_CHAIN (a chain
   runs and has not taken the session yet), M_SERVED (it has: the child is
   gone, we wait for the chain). Children are reaped by pid only: under
   tlsd the TLS engine is our child too and is none of our business. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <skalibs/types.h>
#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>

#include "tern.h"

enum mstate_e { M_IDLE, M_CHAIN, M_SERVED } ;

/* Printable, bounded copy of a string from the child, for the logs. */
static char const *safe (char const *s, char *buf, size_t max)
{
  size_t i = 0 ;
  for (; s[i] && i < max - 1 ; i++) buf[i] = (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 ? s[i] : '?' ;
  buf[i] = 0 ;
  return buf ;
}

/* The chain's environment: ours, without the variables that name our
   fds or our child's uid, plus LOGINFD (unless check-only). Nothing
   comes from the child. */
static char const **chain_env (char const *const *envp, int checkonly)
{
  static char const *const drop[] = { "LOGINFD=", "SSLCTLFD=", "SSLREADFD=", "SSLWRITEFD=", "TERN_LOGIN_UID=", "TERN_LOGIN_GID=", "IMAPLOGINTAG=", 0 } ;
  static char loginfd[16] = "LOGINFD=" ;
  size_t n = 0, j = 0 ;
  char const **e ;
  while (envp[n]) n++ ;
  /* room for LOGINFD, IMAPLOGINTAG (set_tag) and the end */
  e = malloc((n + 3) * sizeof(char const *)) ;
  if (!e) return 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned int k = 0 ;
    for (; drop[k] ; k++) if (!strncmp(envp[i], drop[k], strlen(drop[k]))) break ;
    if (!drop[k]) e[j++] = envp[i] ;
  }
  loginfd[8 + uint_fmt(loginfd + 8, TERN_LOGIN_FD)] = 0 ;
  if (!checkonly) e[j++] = loginfd ;
  e[j] = 0 ;
  return e ;
}

/* IMAPLOGINTAG for the next chain, or none: the tag of the login command
   imap-login's child sent, made of IMAP tag characters only (RFC 3501 9:
   ASTRING-CHAR but "+"), which is all the monitor lets through. */
static int set_tag (char const **env, char const *tag, size_t len)
{
  static char buf[sizeof("IMAPLOGINTAG=") + TERN_LOGIN_TAGMAX] = "IMAPLOGINTAG=" ;
  size_t n = 0 ;
  while (env[n] && strncmp(env[n], "IMAPLOGINTAG=", 13)) n++ ;
  if (!tag) { if (env[n]) { env[n] = 0 ; } return 1 ; }
  if (!len || len > TERN_LOGIN_TAGMAX) return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    unsigned char c = tag[i] ;
    if (c <= 0x20 || c >= 0x7f || c == '+' || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' || c == '\\') return 0 ;
  }
  memcpy(buf + 13, tag, len) ;
  buf[13 + len] = 0 ;
  env[n] = buf ;
  env[n+1] = 0 ;
  return 1 ;
}

/* The pre-auth child: our uid is dropped for good, then the protocol. */
static void child_main (tern_login_cf const *cf, int credfd, int verdictfd)
{
  tern_login lg = { .credfd = credfd, .verdictfd = verdictfd } ;
  struct rlimit nofork = { 0, 0 } ;
  if (!geteuid())
  {
    if (!cf->uid) strerr_dief(111, "refusing to run the pre-auth child as root") ;
    if (setgroups(1, &cf->gid) < 0 || setgid(cf->gid) < 0 || setuid(cf->uid) < 0)
      strerr_diefusys(111, "drop privileges") ;
    if (!getuid() || !geteuid() || !getegid()) strerr_dief(111, "still root after dropping privileges") ;
  }
  /* other pre-auth children hold other users' passwords: no ptrace, no
     core dumps, no children of its own (except in check-only mode, where
     the session goes on here and runs a queue program per message) */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) strerr_diefusys(111, "prctl PR_SET_DUMPABLE") ;
  if ((!cf->checkonly && setrlimit(RLIMIT_NPROC, &nofork) < 0) || setrlimit(RLIMIT_CORE, &nofork) < 0) strerr_diefusys(111, "setrlimit") ;
  if (chdir("/") < 0) strerr_diefusys(111, "chdir to /") ;
  _exit((*cf->child)(&lg, cf->data)) ;
}

/* Starts the chain: 0, 1 and 2 as ours (0 and 1 the TLS engine's pipes
   when tls is set), 3 a pipe holding "user NUL password NUL NUL" (an
   empty timestamp: no APOP), $LOGINFD the write end of *loginfd (none in
   check-only mode, where our 0 and 1 are /dev/null), and nothing else. */
static pid_t chain_start (tern_login_cf const *cf, char const *const *env, char const *user, size_t ulen, char const *pass, size_t plen, int tls, int *loginfd)
{
  char rec[TERN_LOGIN_USERMAX + TERN_LOGIN_PASSMAX + 3] ;
  int ap[2], lp[2] = { -1, -1 } ;
  int in = tls ? cf->tlsfds[1] : 0, out = tls ? cf->tlsfds[2] : 1 ;
  size_t n = 0 ;
  pid_t pid ;
  if (pipe2(ap, O_CLOEXEC) < 0) return 0 ;
  if (!cf->checkonly && pipe2(lp, O_CLOEXEC) < 0) { fd_close(ap[0]) ; fd_close(ap[1]) ; return 0 ; }
  memcpy(rec, user, ulen) ; n += ulen ; rec[n++] = 0 ;
  memcpy(rec + n, pass, plen) ; n += plen ; rec[n++] = 0 ;
  rec[n++] = 0 ;
  /* shorter than PIPE_BUF: fits in the empty pipe at once */
  if (write(ap[1], rec, n) != (ssize_t)n) { explicit_bzero(rec, sizeof(rec)) ; goto err ; }
  explicit_bzero(rec, sizeof(rec)) ;
  fd_close(ap[1]) ; ap[1] = -1 ;
  /* the chain gets the network as tcpserver gave it: blocking */
  if (!cf->checkonly) { ndelay_off(in) ; ndelay_off(out) ; }
  pid = fork() ;
  if (pid < 0) goto err ;
  if (!pid)
  {
    sigset_t none ;
    int a, l = -1, i = in, o = out ;
    sigemptyset(&none) ;
    sigprocmask(SIG_SETMASK, &none, 0) ;
    sig_restore(SIGPIPE) ;
    sig_restore(SIGCHLD) ;
    a = fcntl(ap[0], F_DUPFD, 10) ;
    if (!cf->checkonly) l = fcntl(lp[1], F_DUPFD, 10) ;
    if (tls) { i = fcntl(in, F_DUPFD, 10) ; o = fcntl(out, F_DUPFD, 10) ; }
    if (a < 0 || i < 0 || o < 0 || (!cf->checkonly && l < 0)
     || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(a, 3) < 0
     || (!cf->checkonly && dup2(l, TERN_LOGIN_FD) < 0)) _exit(111) ;
    closefrom(cf->checkonly ? 4 : TERN_LOGIN_FD + 1) ;
    execve(cf->argv[0], (char *const *)cf->argv, (char *const *)env) ;
    strerr_warnwusys("exec ", cf->argv[0]) ;
    _exit(111) ;
  }
  fd_close(ap[0]) ;
  *loginfd = -1 ;
  if (cf->checkonly) return pid ;
  fd_close(lp[1]) ;
  *loginfd = lp[0] ;
  if (ndelay_on(lp[0]) < 0) strerr_diefusys(111, "ndelay_on") ;
  return pid ;
 err:
  {
    int e = errno ;
    fd_close(ap[0]) ; if (ap[1] >= 0) fd_close(ap[1]) ;
    if (lp[0] >= 0) { fd_close(lp[0]) ; fd_close(lp[1]) ; }
    errno = e ;
  }
  return 0 ;
}

/* 1 if the chain left its octet on the pipe, 0 if not (yet). */
static int got_octet (int fd)
{
  char c ;
  ssize_t r ;
  do r = read(fd, &c, 1) ;
  while (r < 0 && errno == EINTR) ;
  return r == 1 ;
}

static void tell (int fd, char c)
{
  if (fd >= 0 && write(fd, &c, 1) < 0) {}   /* a dead child hears nothing: fine */
}

/* Check-only: 'Y', the identity, a NUL; one write, shorter than PIPE_BUF. */
static void tell_ok (int fd, char const *user, size_t ulen)
{
  char v[TERN_LOGIN_USERMAX + 2] ;
  v[0] = 'Y' ;
  memcpy(v + 1, user, ulen) ;
  v[ulen + 1] = 0 ;
  if (fd >= 0 && write(fd, v, ulen + 2) < 0) {}
}

/* Our copies of the network, or of the TLS engine's pipes: let go. */
static void drop_fds (tern_login_cf const *cf)
{
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC) ;
  if (nul >= 0) { dup2(nul, 0) ; dup2(nul, 1) ; fd_close(nul) ; }
  if (cf->tlsfds) { fd_close(cf->tlsfds[1]) ; fd_close(cf->tlsfds[2]) ; }
}

int tern_login_monitor (tern_login_cf const *cf)
{
  enum mstate_e st = M_IDLE ;
  char const **env = chain_env(cf->envp, cf->checkonly) ;
  char rec[TERN_LOGIN_RECMAX + 1] ;
  char userlog[80] ;
  char ident[TERN_LOGIN_USERMAX] ;   /* check-only: the user the chain runs for */
  size_t identlen = 0 ;
  int cp[2], vp[2] ;
  int credfd, verdictfd, loginfd = -1, spfd ;
  int childwstat = 0, handed = 0, killed = 0 ;
  pid_t child, chain = 0 ;
  tain deadline ;

  if (!env) strerr_diefusys(111, "build the environment") ;
  if (!cf->argv[0]) strerr_dief(100, "no checkpassword program") ;
  /* an inherited SIG_IGN would have the kernel reap our children */
  if (sig_restore(SIGCHLD) < 0) strerr_diefusys(111, "restore SIGCHLD") ;
  if (pipe2(cp, O_CLOEXEC) < 0 || pipe2(vp, O_CLOEXEC) < 0) strerr_diefusys(111, "pipe") ;
  child = fork() ;
  if (child < 0) strerr_diefusys(111, "fork") ;
  if (!child)
  {
    fd_close(cp[0]) ; fd_close(vp[1]) ;
    child_main(cf, cp[1], vp[0]) ;
  }
  fd_close(cp[1]) ; fd_close(vp[0]) ;
  credfd = cp[0] ; verdictfd = vp[1] ;
  /* STARTTLS and STLS are the child's business; in check-only mode the
     whole connection is */
  if (cf->tlsfds) fd_close(cf->tlsfds[0]) ;
  if (cf->checkonly) drop_fds(cf) ;
  if (ndelay_on(credfd) < 0) strerr_diefusys(111, "ndelay_on") ;
  spfd = selfpipe_init() ;
  if (spfd < 0 || selfpipe_trap(SIGCHLD) < 0) strerr_diefusys(111, "trap SIGCHLD") ;
  tain_now_set_stopwatch_g() ;
  userlog[0] = 0 ;

  for (;;)
  {
    iopause_fd x[3] ;
    unsigned int n = 0 ;
    int icred = -1, ilogin = -1, wstat, r ;

    /* reap first: a child may have gone before the trap was set */
    if (child && waitpid(child, &wstat, WNOHANG) == child)
    {
      child = 0 ;
      childwstat = wstat ;
      fd_close(credfd) ; credfd = -1 ;
      fd_close(verdictfd) ; verdictfd = -1 ;
    }
    if (chain && waitpid(chain, &wstat, WNOHANG) == chain)
    {
      chain = 0 ;
      if (st == M_CHAIN && loginfd >= 0 && got_octet(loginfd)) handed = 1 ;
      if (loginfd >= 0) { fd_close(loginfd) ; loginfd = -1 ; }
      if (handed) st = M_SERVED ;
      else if (st == M_CHAIN)
      {
        int refused = WIFEXITED(wstat) && WEXITSTATUS(wstat) == 1 ;
        int ok = cf->checkonly && WIFEXITED(wstat) && !WEXITSTATUS(wstat) ;
        char fmt[UINT_FMT] ;
        fmt[uint_fmt(fmt, WIFEXITED(wstat) ? WEXITSTATUS(wstat) : 128 + WTERMSIG(wstat))] = 0 ;
        strerr_warni("login ip=", cf->remoteip, " user=", userlog, ok ? " result=ok" : refused ? " result=refused" : " result=temp", " exit=", fmt) ;
        if (ok) tell_ok(verdictfd, ident, identlen) ;
        else tell(verdictfd, refused ? 'N' : 'T') ;
        explicit_bzero(ident, sizeof(ident)) ;
        st = M_IDLE ;
      }
    }
    if (st == M_SERVED && handed == 1)
    {
      /* the session is the chain's: the child goes, the network is no
         longer ours to hold */
      strerr_warni("login ip=", cf->remoteip, " user=", userlog, " result=ok") ;
      tell(verdictfd, 'H') ;
      if (child) kill(child, SIGKILL) ;
      if (verdictfd >= 0) { fd_close(verdictfd) ; verdictfd = -1 ; }
      if (credfd >= 0) { fd_close(credfd) ; credfd = -1 ; }
      drop_fds(cf) ;
      handed = 2 ;
      /* from now on we only wait, maybe for hours: what the login
         needed of the heap and the stack goes back */
      tern_mem_trim() ;
    }
    if ((st == M_SERVED && !chain) || st == M_IDLE)
    {
      if (!child)
      {
        free(env) ;
        return st == M_SERVED ? 0 : WIFEXITED(childwstat) ? WEXITSTATUS(childwstat) : 111 ;
      }
    }

    x[n].fd = spfd ; x[n].events = IOPAUSE_READ ; x[n++].revents = 0 ;
    if (st == M_IDLE && credfd >= 0) { icred = n ; x[n].fd = credfd ; x[n].events = IOPAUSE_READ ; x[n++].revents = 0 ; }
    if (st == M_CHAIN && loginfd >= 0) { ilogin = n ; x[n].fd = loginfd ; x[n].events = IOPAUSE_READ ; x[n++].revents = 0 ; }
    r = iopause_g(x, n, st == M_CHAIN && !killed ? &deadline : &tain_infinite) ;
    if (r < 0) strerr_diefusys(111, "iopause") ;
    if (!r)
    {
      /* a chain that neither takes the session nor exits in time */
      strerr_warnw("login ip=", cf->remoteip, " user=", userlog, " chain timed out: killing it") ;
      if (chain) kill(chain, SIGKILL) ;
      killed = 1 ;
      continue ;
    }
    if (x[0].revents) while (selfpipe_read() > 0) ;
    if (ilogin >= 0 && x[ilogin].revents)
    {
      char c ;
      ssize_t k = read(loginfd, &c, 1) ;
      if (k == 1) { handed = 1 ; st = M_SERVED ; }
      if (k == 1 || !k) { fd_close(loginfd) ; loginfd = -1 ; }
    }
    if (icred >= 0 && x[icred].revents)
    {
      ssize_t k = read(credfd, rec, sizeof(rec)) ;
      size_t ulen, plen, taglen ;
      if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue ;
      if (k <= 0)
      {
        /* the child closed its end: it is leaving */
        fd_close(credfd) ; credfd = -1 ;
        continue ;
      }
      /* a well-formed record or the child is not trusted any more; the
         TLS flag only where there is TLS to hand over */
      ulen = k >= 3 && !rec[k-1] ? strnlen(rec + 1, k - 1) : 0 ;
      plen = ulen && (size_t)k > ulen + 2 ? strnlen(rec + ulen + 2, k - ulen - 2) : 0 ;
      taglen = 0 ;
      if (ulen && rec[0] & TERN_LOGIN_TAG && (size_t)k > ulen + plen + 3)
        taglen = strnlen(rec + ulen + plen + 3, k - ulen - plen - 3) ;
      if (!ulen || ulen > TERN_LOGIN_USERMAX || plen > TERN_LOGIN_PASSMAX
       || 1 + ulen + 1 + plen + 1 + (rec[0] & TERN_LOGIN_TAG ? taglen + 1 : 0) != (size_t)k
       || ((unsigned char)rec[0] & ~(TERN_LOGIN_TLS | TERN_LOGIN_TAG))
       || (rec[0] & TERN_LOGIN_TAG && (cf->checkonly || !set_tag(env, rec + ulen + plen + 3, taglen)))
       || (rec[0] & TERN_LOGIN_TLS && !cf->checkonly && !cf->tlsfds))
      {
        explicit_bzero(rec, sizeof(rec)) ;
        kill(child, SIGKILL) ;
        strerr_dief(111, "malformed credentials record from the pre-auth child: killed it") ;
      }
      if (!(rec[0] & TERN_LOGIN_TAG)) set_tag(env, 0, 0) ;
      safe(rec + 1, userlog, sizeof(userlog)) ;
      memcpy(ident, rec + 1, ulen) ;
      identlen = ulen ;
      chain = chain_start(cf, env, rec + 1, ulen, rec + ulen + 2, plen, !cf->checkonly && rec[0] & TERN_LOGIN_TLS, &loginfd) ;
      explicit_bzero(rec, sizeof(rec)) ;
      if (!chain)
      {
        strerr_warnwusys("start ", cf->argv[0]) ;
        tell(verdictfd, 'T') ;
        continue ;
      }
      tain_now_g() ;
      tain_addsec_g(&deadline, cf->timeout ? cf->timeout : 600) ;
      killed = 0 ;
      st = M_CHAIN ;
    }
  }
}
