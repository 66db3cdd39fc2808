/* deliver: local delivery of the message on fd 0, as the mailbox owner.

   ADDRESS goes through etc/aliases.cdb (recursively for targets in local
   domains; remote targets are re-injected through queue-add in one
   message; "|command" and "/path" targets only where enabled), then
   etc/users.cdb to a Maildir++ mailbox under $TERN_ROOT/mail/, user+detail
   into the folder .detail when it exists. -d and -m deliver straight into
   a Maildir or an mbox. Everything is resolved before anything is
   written, so a resolution error delivers nothing.

   Crash safety: a Maildir message is written in tmp/, fsynced, linked
   into new/, and new/ is fsynced: only then do we exit 0. An mbox append
   is fsynced, and cut back on failure. Killed at any point, we leave
   nothing in new/ (at worst a file in tmp/, which Maildir readers clean).

   Exit 0, 100 (permanent) or 111 (temporary); on 100 and 111 the first
   line on stdout is "X.Y.Z reason" (RFC 3463), for queue-run's DSNs. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <skalibs/types.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/djbunix.h>
#include <skalibs/cdb.h>

#include "tern.h"
#include "tern_store.h"

#define USAGE "deliver [ -f sender ] [ -d maildir | -m mbox ] [ -- ] address"

#define MAXDEPTH 10           /* alias nesting */
#define MAXDELIVEREDTO 100    /* more Delivered-To lines than this is a loop */
#define DOTLOCK_STALE 600     /* seconds */
#define DOTLOCK_WAIT 600      /* tenths of a second, 60 s */

extern char **environ ;

/* ---- state ---- */

static char const *sender = "" ;
static char const *rcpt = 0 ;           /* ADDRESS, domain lowercased: for Delivered-To */
static int msgfd = 0 ;
static off_t msgstart = 0 ;
static uint64_t msgsize = 0 ;
static stralloc hdr = STRALLOC_ZERO ;      /* Return-Path: and Delivered-To: */
static stralloc domains = STRALLOC_ZERO ;
static cdb aliases = CDB_ZERO, users = CDB_ZERO ;
static int progs_ok = 0, files_ok = 0 ;
static unsigned int qcount = 0 ;           /* the Q of Maildir names */
static char host[256 * 4 + 1] ;            /* escaped for Maildir names */

/* What the signal handler and the failure path must undo. */
static char cleanup_tmp[4096] ;
static volatile sig_atomic_t cleanup_tmp_on = 0 ;
static char cleanup_lock[4096] ;
static volatile sig_atomic_t cleanup_lock_on = 0 ;
static dev_t lock_dev ;                    /* the dotlock we made: removed by this identity only */
static ino_t lock_ino ;
static volatile sig_atomic_t mbox_fd = -1 ;
static volatile off_t mbox_len = 0 ;   /* set before mbox_fd: undo() reads it */
static volatile pid_t child = 0 ;
static volatile sig_atomic_t childsig = SIGKILL ;  /* how undo() stops it */
static int quiet = 0 ;                     /* a target's process: its parent logs the failure */

/* ---- failing ---- */

/* Removes our dotlock: the file we made, not one that replaced it under
   its name (someone who judged ours stale). Async-signal-safe: undo()
   calls it. Between the lstat and the unlink the name can still change
   hands; that window is as narrow as the dotlock protocol allows. */
static void dotlock_release (void)
{
  struct stat st ;
  if (!cleanup_lock_on) return ;
  cleanup_lock_on = 0 ;
  if (lstat(cleanup_lock, &st) == 0 && st.st_dev == lock_dev && st.st_ino == lock_ino) unlink(cleanup_lock) ;
}

/* The signals that run onsig (undo, then exit 111) are held while a
   file is created and its cleanup flag set: one that came in between
   would leave the file behind (a Maildir tmp/ file, a dotlock with no
   PID in it) with nobody to remove it. */
static void hold_signals (sigset_t *old)
{
  sigset_t set ;
  sigemptyset(&set) ;
  sigaddset(&set, SIGALRM) ;
  sigaddset(&set, SIGTERM) ;
  sigaddset(&set, SIGHUP) ;
  sigaddset(&set, SIGINT) ;
  sigprocmask(SIG_BLOCK, &set, old) ;
}

static void release_signals (sigset_t const *old)
{
  int e = errno ;
  sigprocmask(SIG_SETMASK, old, 0) ;
  errno = e ;
}

static void undo (void)
{
  if (cleanup_tmp_on) unlink(cleanup_tmp) ;
  if (mbox_fd >= 0 && ftruncate(mbox_fd, mbox_len) == 0) fsync(mbox_fd) ;
  dotlock_release() ;
  if (child > 0) kill(child, childsig) ;
}

static size_t cat (char *buf, size_t n, size_t max, char const *s)
{
  size_t len = strlen(s) ;
  if (len > max - n) len = max - n ;
  memcpy(buf + n, s, len) ;
  return n + len ;
}

/* Prints "CODE reason" on stdout (first and only line), logs it, exits. */
static void failv (int e, char const *code, char const *const *v, unsigned int n, int sys) gccattr_noreturn ;
static void failv (int e, char const *code, char const *const *v, unsigned int n, int sys)
{
  char out[1024] ;
  size_t len = 0, start ;
  int err = errno ;
  undo() ;
  if (sys && err == EDQUOT) code = "4.2.2" ;
  else if (sys && err == ENOSPC) code = "4.3.1" ;
  len = cat(out, len, sizeof out - 1, code) ;
  len = cat(out, len, sizeof out - 1, " ") ;
  start = len ;
  for (unsigned int i = 0 ; i < n ; i++) len = cat(out, len, sizeof out - 1, v[i]) ;
  if (sys)
  {
    len = cat(out, len, sizeof out - 1, ": ") ;
    len = cat(out, len, sizeof out - 1, strerror(err)) ;
  }
  for (size_t i = start ; i < len ; i++)
    if ((unsigned char)out[i] < 32 || out[i] == 127) out[i] = '?' ;
  out[len++] = '\n' ;
  allwrite(1, out, len) ;
  out[len - 1] = 0 ;
  if (!quiet) strerr_warn(PROG, ": fatal: to=", rcpt ? rcpt : "", " status=", out) ;
  _exit(e) ;
}

#define fail(e, code, ...) failv(e, code, strerr_array(__VA_ARGS__), sizeof(strerr_array(__VA_ARGS__))/sizeof(char const *), 0)
#define failsys(e, code, ...) failv(e, code, strerr_array(__VA_ARGS__), sizeof(strerr_array(__VA_ARGS__))/sizeof(char const *), 1)

static void dienomem (void)
{
  failsys(111, "4.3.0", "out of memory") ;
}

static void onsig (int sig)
{
  static char const msg_alrm[] = "4.3.0 delivery timed out\n" ;
  static char const msg_term[] = "4.3.0 delivery interrupted by a signal\n" ;
  undo() ;
  if (sig == SIGALRM) allwrite(1, msg_alrm, sizeof msg_alrm - 1) ;
  else allwrite(1, msg_term, sizeof msg_term - 1) ;
  _exit(111) ;
}

/* ---- output buffer (to a Maildir file, an mbox, a pipe) ---- */

static char obuf[65536] ;
static size_t olen = 0 ;
static int ofd = -1 ;

static int oflush (void)
{
  size_t w = allwrite(ofd, obuf, olen) ;
  if (w < olen) { olen = 0 ; return 0 ; }
  olen = 0 ;
  return 1 ;
}

static int oput (char const *s, size_t n)
{
  while (n)
  {
    size_t k = sizeof obuf - olen ;
    if (k > n) k = n ;
    memcpy(obuf + olen, s, k) ;
    olen += k ; s += k ; n -= k ;
    if (olen == sizeof obuf && !oflush()) return 0 ;
  }
  return 1 ;
}

static int oputgt (size_t n)
{
  while (n--) if (!oput(">", 1)) return 0 ;
  return 1 ;
}

/* The message, from msgstart to EOF, into the output buffer. With quote,
   mboxrd: a line matching ^>*From gets one more '>'. *last gets the last
   octet (LF for an empty message). */
/* The octets of the message as IMAP sends it (CRLF line ends), counted
   by copy_message for a Maildir's ",W=" (RFC822.SIZE without a reading). */
static uint64_t vsize = 0 ;
static unsigned int vstate = TERN_DOT_BOL ;

static int copy_message (int quote, char *last)
{
  char buf[65536] ;
  off_t off = msgstart ;
  int bol = 1 ;
  size_t gt = 0, fm = 0 ;
  *last = '\n' ;
  for (;;)
  {
    ssize_t r = pread(msgfd, buf, sizeof buf, off) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) break ;
    off += r ;
    *last = buf[r-1] ;
    if (!quote) { vsize += tern_crlf_len(buf, r, &vstate) ; if (!oput(buf, r)) return 0 ; continue ; }
    for (size_t i = 0 ; i < (size_t)r ; )
    {
      char c ;
      if (!bol)
      {
        char const *nl = memchr(buf + i, '\n', r - i) ;
        size_t end = nl ? (size_t)(nl - buf) + 1 : (size_t)r ;
        if (!oput(buf + i, end - i)) return 0 ;
        i = end ;
        if (nl) { bol = 1 ; gt = 0 ; fm = 0 ; }
        continue ;
      }
      c = buf[i++] ;
      if (!fm && c == '>') { gt++ ; continue ; }
      if (c == "From "[fm])
      {
        if (++fm == 5)
        {
          if (!oputgt(gt + 1) || !oput("From ", 5)) return 0 ;
          bol = 0 ;
        }
        continue ;
      }
      if (!oputgt(gt) || !oput("From ", fm) || !oput(&c, 1)) return 0 ;
      gt = 0 ; fm = 0 ;
      bol = c == '\n' ;
    }
  }
  if (quote && bol && (gt || fm) && (!oputgt(gt) || !oput("From ", fm))) return 0 ;
  return 1 ;
}

/* ---- files and directories ---- */

static int fsync_dir (char const *path)
{
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  int e ;
  if (fd < 0) return 0 ;
  if (fsync(fd) < 0) { e = errno ; fd_close(fd) ; errno = e ; return 0 ; }
  fd_close(fd) ;
  return 1 ;
}

/* fsync the directory holding path, so that a new entry in it stays. */
static int fsync_parent (char const *path)
{
  char const *slash = strrchr(path, '/') ;
  if (!slash) return fsync_dir(".") ;
  {
    size_t n = slash - path ;
    char parent[n + 2] ;
    memcpy(parent, path, n) ;
    if (!n) parent[n++] = '/' ;
    parent[n] = 0 ;
    return fsync_dir(parent) ;
  }
}

/* mkdir, and if it was made, fsync its parent so that it stays made. */
static int mkdir_durable (char const *path)
{
  if (mkdir(path, 0700) < 0) return errno == EEXIST ;
  return fsync_parent(path) ;
}

/* Makes the Maildir dir (and, from offset from on, its missing parents). */
static void maildir_make (char const *dir, size_t from)
{
  size_t len = strlen(dir) ;
  char path[len + 5] ;
  memcpy(path, dir, len + 1) ;
  if (from)
  {
    for (size_t i = from ; i < len ; i++)
      if (path[i] == '/')
      {
        path[i] = 0 ;
        if (!mkdir_durable(path)) failsys(111, "4.3.0", "unable to create the mailbox directory") ;
        path[i] = '/' ;
      }
  }
  if (!mkdir_durable(path))
  {
    if (errno == ENOENT) fail(111, "4.2.0", "unable to create the Maildir ", dir, ": its parent directory does not exist") ;
    failsys(111, "4.3.0", "unable to create the Maildir") ;
  }
  static char const *const sub[3] = { "/tmp", "/new", "/cur" } ;
  for (unsigned int i = 0 ; i < 3 ; i++)
  {
    memcpy(path + len, sub[i], 5) ;
    if (!mkdir_durable(path)) failsys(111, "4.3.0", "unable to create the Maildir") ;
  }
}

/* A unique name (Maildir spec, and Maildir++ S=). */
static size_t maildir_name (char *s, uint64_t size)
{
  struct timeval tv ;
  size_t n ;
  gettimeofday(&tv, 0) ;
  n = uint64_fmt(s, (uint64_t)tv.tv_sec) ;
  s[n++] = '.' ; s[n++] = 'M' ;
  n += uint_fmt(s + n, (unsigned int)tv.tv_usec) ;
  s[n++] = 'P' ;
  n += pid_fmt(s + n, getpid()) ;
  s[n++] = 'Q' ;
  n += uint_fmt(s + n, ++qcount) ;
  s[n++] = '.' ;
  n += strlen(strcpy(s + n, host)) ;
  memcpy(s + n, ",S=", 3) ; n += 3 ;
  n += uint64_fmt(s + n, size) ;
  s[n] = 0 ;
  return n ;
}

/* The folder's mailbox index, when it has one, learns of the message at
   once (DESIGN.md: metadata only, one short transaction), so that the
   first SELECT after a delivery reads nothing; a busy or damaged index
   is left to the next session, which finds the file itself. */
static void index_add (char const *dir, char const *name, uint64_t fsize)
{
  tern_store st = TERN_STORE_ZERO ;
  size_t dlen = strlen(dir) ;
  char p[dlen + 32] ;
  struct stat s ;
  memcpy(p, dir, dlen) ;
  memcpy(p + dlen, "/tern-index", 12) ;
  if (stat(p, &s) < 0 || !geteuid()) return ;
  if (!tern_store_open(&st, dir, TERN_STORE_NOWAIT))
  {
    strerr_warnwu2sys("open the mailbox index of ", dir) ;
    return ;
  }
  if (!tern_store_delivered(&st, name, fsize, vsize, time(0))) strerr_warnwu2sys("add the message to the mailbox index of ", dir) ;
  tern_store_close(&st) ;
}

/* The quota (etc/quota, tern-config(5); RFC 9208's usage, counted by
   the store as imap-serve counts it): may a message of vsize octets (as
   IMAP counts them) go into the mailbox at root of user? Over it, the
   failure is temporary (4.2.2, the usual "mailbox full" of Postfix and
   Dovecot: the sender's queue retries while the user makes room) unless
   $DELIVER_OVERQUOTA is "bounce" (5.2.2). */
static void quota_enforce (char const *root, char const *user)
{
  tern_quota q ;
  uint64_t octets, messages ;
  char const *x = getenv("DELIVER_OVERQUOTA") ;
  int bounce = 0 ;
  if (x && *x)
  {
    if (!strcmp(x, "bounce")) bounce = 1 ;
    else if (strcmp(x, "defer")) fail(111, "4.3.5", "invalid $DELIVER_OVERQUOTA (defer or bounce)") ;
  }
  if (!tern_quota_get(user, &q))
  {
    if (errno == EINVAL) fail(111, "4.3.5", "etc/quota has a line that does not parse") ;
    failsys(111, "4.3.0", "unable to read etc/quota") ;
  }
  if (q.storage == UINT64_MAX && q.messages == UINT64_MAX) return ;
  if (!tern_quota_usage(root, 0, 0, &octets, &messages)) failsys(111, "4.3.0", "unable to count the mailbox's quota usage") ;
  if ((q.storage < UINT64_MAX / 1024 && octets + vsize > q.storage * 1024)
   || (q.messages != UINT64_MAX && messages + 1 > q.messages))
    fail(bounce ? 100 : 111, bounce ? "5.2.2" : "4.2.2", "mailbox full: over quota") ;
}

/* Into the Maildir dir; within the quota of user, whose mailbox is at
   root, when user is not 0. */
static void maildir_write (char const *dir, char const *what, char const *root, char const *user)
{
  size_t dlen = strlen(dir) ;
  char name[96 + sizeof host + UINT64_FMT] ;
  size_t nlen = maildir_name(name, hdr.len + msgsize) ;
  char newpath[dlen + nlen + UINT64_FMT + 10] ;
  char last ;
  int fd ;
  sigset_t oldmask ;
  if (dlen + nlen + 6 > sizeof cleanup_tmp) fail(111, "4.3.0", "mailbox path too long") ;
  memcpy(cleanup_tmp, dir, dlen) ;
  memcpy(cleanup_tmp + dlen, "/tmp/", 5) ;
  memcpy(cleanup_tmp + dlen + 5, name, nlen + 1) ;

  hold_signals(&oldmask) ;
  fd = open(cleanup_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) ;
  if (fd >= 0) cleanup_tmp_on = 1 ;
  release_signals(&oldmask) ;
  if (fd < 0) failsys(111, "4.3.0", "unable to create a file in the Maildir") ;
  ofd = fd ;
  vstate = TERN_DOT_BOL ;
  vsize = tern_crlf_len(hdr.s, hdr.len, &vstate) ;
  if (!oput(hdr.s, hdr.len) || !copy_message(0, &last) || !oflush())
    failsys(111, "4.3.0", "unable to write the message into the Maildir") ;
  if (fsync(fd) < 0 || close(fd) < 0) failsys(111, "4.3.0", "unable to write the message into the Maildir") ;
  ofd = -1 ;
  /* the size as IMAP counts it is known now: the quota's check, before
     the message is in new/ (a failure removes the tmp/ file) */
  if (user) quota_enforce(root, user) ;
  /* the name in new/ has the size as IMAP counts it too (Dovecot's W=) */
  memcpy(name + nlen, ",W=", 3) ;
  nlen += 3 ;
  nlen += uint64_fmt(name + nlen, vsize) ;
  name[nlen] = 0 ;
  memcpy(newpath, dir, dlen) ;
  memcpy(newpath + dlen, "/new/", 5) ;
  memcpy(newpath + dlen + 5, name, nlen + 1) ;
  if (link(cleanup_tmp, newpath) == 0) unlink(cleanup_tmp) ;
  else if (errno == EEXIST || (rename(cleanup_tmp, newpath) < 0))
    failsys(111, "4.3.0", "unable to move the message into new/") ;
  cleanup_tmp_on = 0 ;
  memcpy(newpath + dlen + 4, "", 1) ;
  if (!fsync_dir(newpath)) failsys(111, "4.3.0", "unable to sync the Maildir") ;
  strerr_warni("delivered to=", rcpt ? rcpt : "", " ", what, " file=", name) ;
  index_add(dir, name, hdr.len + msgsize) ;
}

/* ---- mbox ---- */

/* Somebody else's dotlock is broken only when it is stale: older than
   DOTLOCK_STALE and its holder gone (the PID in it dead, or no PID in
   it, as other programs' locks may have none). A lock whose PID lives is
   never broken, however old: a mail reader may hold it that long. It
   must be a regular file, and it is removed by the device and inode we
   judged. Returns 1 if it was removed. */
static int dotlock_break_stale (void)
{
  struct stat st, lst ;
  char buf[PID_FMT + 2] ;
  pid_t pid = 0 ;
  ssize_t r ;
  int fd = open(cleanup_lock, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || time(0) - st.st_mtime <= DOTLOCK_STALE)
  {
    fd_close(fd) ;
    return 0 ;
  }
  r = read(fd, buf, sizeof buf - 1) ;
  fd_close(fd) ;
  if (r > 0)
  {
    size_t n ;
    buf[r] = 0 ;
    n = pid_scan(buf, &pid) ;
    if (!n || (buf[n] && buf[n] != '\n') || pid <= 0) pid = 0 ;
  }
  if (pid && (kill(pid, 0) == 0 || errno != ESRCH)) return 0 ;
  if (lstat(cleanup_lock, &lst) < 0 || lst.st_dev != st.st_dev || lst.st_ino != st.st_ino) return 0 ;
  strerr_warnw("removing a stale lock file: ", cleanup_lock) ;
  return unlink(cleanup_lock) == 0 ;
}

/* The dotlock, without waiting: 1 if we made it (O_EXCL, our PID in
   it), 0 if someone else holds it, -1 if we just broke a stale one. */
static int dotlock_take (void)
{
  struct stat st ;
  char fmt[PID_FMT + 1] ;
  size_t n ;
  sigset_t oldmask ;
  int fd ;
  hold_signals(&oldmask) ;
  fd = open(cleanup_lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600) ;
  if (fd < 0)
  {
    release_signals(&oldmask) ;
    if (errno != EEXIST) failsys(111, "4.3.0", "unable to create the mbox lock file") ;
    return dotlock_break_stale() ? -1 : 0 ;
  }
  if (fstat(fd, &st) < 0)
  {
    int e = errno ;
    unlink(cleanup_lock) ;
    release_signals(&oldmask) ;
    errno = e ;
    failsys(111, "4.3.0", "unable to stat the mbox lock file") ;
  }
  lock_dev = st.st_dev ;
  lock_ino = st.st_ino ;
  cleanup_lock_on = 1 ;
  release_signals(&oldmask) ;
  n = pid_fmt(fmt, getpid()) ;
  fmt[n++] = '\n' ;
  if (allwrite(fd, fmt, n) < n) failsys(111, "4.3.0", "unable to write the mbox lock file") ;
  fd_close(fd) ;
  return 1 ;
}

/* The mbox, opened without following a symbolic link and checked: a
   regular file with one link, owned by us (a new one, made with O_EXCL,
   is), still the file its name gives. *created is set when we made it.
   Anything else is refused: the name is in a directory others may
   write. */
static int mbox_open (char const *path, int *created)
{
  for (unsigned int tries = 0 ;; tries++)
  {
    struct stat st, lst ;
    int made = 0 ;
    int fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) ;
    if (fd < 0 && errno == ENOENT)
    {
      fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600) ;
      if (fd < 0 && errno == EEXIST && tries < 10) continue ;   /* made by another program meanwhile */
      made = fd >= 0 ;
    }
    if (fd < 0)
    {
      if (errno == ELOOP) fail(111, "4.3.5", "the mbox ", path, " is a symbolic link: refused") ;
      failsys(111, "4.3.0", "unable to open the mbox") ;
    }
    if (fstat(fd, &st) < 0) failsys(111, "4.3.0", "unable to stat the mbox") ;
    if (!S_ISREG(st.st_mode)) fail(111, "4.3.5", "the mbox ", path, " is not a regular file: refused") ;
    if (st.st_nlink != 1) fail(111, "4.3.5", "the mbox ", path, " has other hard links: refused") ;
    if (st.st_uid != geteuid()) fail(111, "4.3.5", "the mbox ", path, " belongs to another user: refused") ;
    if (lstat(path, &lst) < 0 || lst.st_dev != st.st_dev || lst.st_ino != st.st_ino)
    {
      /* renamed or replaced since we opened it */
      fd_close(fd) ;
      if (tries < 10) continue ;
      fail(111, "4.3.0", "the mbox ", path, " keeps changing") ;
    }
    if (ndelay_off(fd) < 0) failsys(111, "4.3.0", "unable to set the mbox blocking") ;
    if (made) *created = 1 ;
    return fd ;
  }
}

/* The dotlock, then the fcntl lock, each without blocking. When the
   fcntl lock is busy the dotlock is let go before we wait, so that a
   program that takes them in the other order never deadlocks with us.
   At most DOTLOCK_WAIT rounds, a tenth of a second apart. */
static int mbox_lock (char const *path, int *created)
{
  size_t len = strlen(path) ;
  if (len + 6 > sizeof cleanup_lock) fail(111, "4.3.0", "mbox path too long") ;
  memcpy(cleanup_lock, path, len) ;
  memcpy(cleanup_lock + len, ".lock", 6) ;
  for (unsigned int tries = 0 ;; tries++)
  {
    int r = dotlock_take() ;
    if (r < 0) continue ;   /* a stale one went: try again at once */
    if (r)
    {
      int fd = mbox_open(path, created) ;
      r = fd_lock(fd, 1, 1) ;
      if (r < 0) failsys(111, "4.3.0", "unable to lock the mbox") ;
      if (r) return fd ;
      fd_close(fd) ;
      dotlock_release() ;
    }
    if (tries >= DOTLOCK_WAIT) fail(111, "4.2.0", "the mbox is locked by another program (", path, ")") ;
    {
      struct timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 } ;
      nanosleep(&ts, 0) ;
    }
  }
}

static void mbox_write (char const *path, char const *what)
{
  char date[32] ;
  char last ;
  time_t now = time(0) ;
  struct tm tm ;
  int created = 0 ;
  int fd = mbox_lock(path, &created) ;
  mbox_len = lseek(fd, 0, SEEK_END) ;
  if (mbox_len < 0) failsys(111, "4.3.0", "unable to seek in the mbox") ;
  mbox_fd = fd ;
  if (!localtime_r(&now, &tm) || !asctime_r(&tm, date)) failsys(111, "4.3.0", "unable to format the date") ;
  date[24] = 0 ;  /* asctime's "Sat Nov 22 10:00:00 2026\n" */
  ofd = fd ;
  if (!oput("From ", 5)) goto err ;
  if (!*sender) { if (!oput("MAILER-DAEMON", 13)) goto err ; }
  else
    for (char const *s = sender ; *s ; s++)
      if (!oput(*s == ' ' || *s == '\t' ? "_" : s, 1)) goto err ;
  if (!oput(" ", 1) || !oput(date, 24) || !oput("\n", 1)
   || !oput(hdr.s, hdr.len) || !copy_message(1, &last)
   || (last != '\n' && !oput("\n", 1)) || !oput("\n", 1) || !oflush()) goto err ;
  if (fsync(fd) < 0) goto err ;
  /* a new mbox: its name must survive a crash as well as its contents */
  if (created && !fsync_parent(path)) goto err ;
  mbox_fd = -1 ;
  ofd = -1 ;
  /* The message is on disk (fsync): an error from close now cannot mean
     it is not, and failing (111) would deliver it again on retry. */
  if (close(fd) < 0) strerr_warnwu("close the mbox after its fsync (the message is delivered): ", path, ": ", strerror(errno)) ;
  dotlock_release() ;
  strerr_warni("delivered to=", rcpt ? rcpt : "", " ", what) ;
  return ;
 err:
  failsys(111, "4.3.0", "unable to write the mbox") ;  /* undo() cuts it back */
}

/* ---- the message ---- */

/* An unlinked temporary file, in $TMPDIR or /tmp. */
static int tmpfd (void)
{
  char const *dir = getenv("TMPDIR") ;
  int fd ;
  if (!dir || !*dir) dir = "/tmp" ;
  fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) ;
  if (fd >= 0) return fd ;
  {
    size_t len = strlen(dir) ;
    char path[len + 16] ;
    memcpy(path, dir, len) ;
    memcpy(path + len, "/deliver.XXXXXX", 16) ;
    fd = mkostemp(path, O_CLOEXEC) ;
    if (fd < 0) return -1 ;
    unlink(path) ;
  }
  return fd ;
}

/* fd 0 becomes something we can read several times: a regular file is
   read in place from its current offset (queue-run's queue file), any
   other input is spooled first into an unlinked temporary file. */
static void prepare_message (void)
{
  struct stat st ;
  char buf[65536] ;
  if (fstat(0, &st) < 0) failsys(111, "4.3.0", "unable to stat the message") ;
  if (S_ISREG(st.st_mode))
  {
    msgstart = lseek(0, 0, SEEK_CUR) ;
    if (msgstart < 0) failsys(111, "4.3.0", "unable to seek in the message") ;
    msgsize = st.st_size > msgstart ? (uint64_t)(st.st_size - msgstart) : 0 ;
    return ;
  }
  msgfd = tmpfd() ;
  if (msgfd < 0) failsys(111, "4.3.0", "unable to create a temporary file") ;
  for (;;)
  {
    ssize_t r = read(0, buf, sizeof buf) ;
    if (r < 0) { if (errno == EINTR) continue ; failsys(111, "4.3.0", "unable to read the message") ; }
    if (!r) break ;
    if (allwrite(msgfd, buf, r) < (size_t)r) failsys(111, "4.3.0", "unable to spool the message") ;
    msgsize += r ;
  }
}

/* A Delivered-To: naming rcpt in the header section is a loop (RFC 5321
   6.3); so are more than MAXDELIVEREDTO of them. The scan stops at the
   first empty line or the first line that is not a header field. */
static void check_loop (void)
{
  char buf[8192], line[1024] ;
  size_t ll = 0, rlen = strlen(rcpt) ;
  off_t off = msgstart ;
  unsigned int count = 0 ;
  int done = 0 ;
  while (!done)
  {
    ssize_t r = pread(msgfd, buf, sizeof buf, off) ;
    if (r < 0) { if (errno == EINTR) continue ; failsys(111, "4.3.0", "unable to read the message") ; }
    if (!r) { done = 1 ; buf[0] = '\n' ; r = 1 ; }  /* a last line without LF */
    off += r ;
    for (ssize_t i = 0 ; i < r ; i++)
    {
      size_t n, v ;
      if (buf[i] != '\n') { if (ll < sizeof line) line[ll++] = buf[i] ; continue ; }
      n = ll ; ll = 0 ;
      if (n && line[n-1] == '\r') n-- ;
      if (!n) return ;
      if (line[0] != ' ' && line[0] != '\t' && !memchr(line, ':', n)) return ;
      if (n < 13 || strncasecmp(line, "Delivered-To:", 13)) continue ;
      if (++count > MAXDELIVEREDTO) fail(100, "5.4.6", "mail loop: too many Delivered-To header fields") ;
      v = 13 ;
      while (v < n && (line[v] == ' ' || line[v] == '\t')) v++ ;
      while (n > v && (line[n-1] == ' ' || line[n-1] == '\t')) n-- ;
      if (n - v == rlen && !strncasecmp(line + v, rcpt, rlen))
        fail(100, "5.4.6", "mail loop: already delivered to ", rcpt) ;
    }
  }
}

/* ---- programs and re-injection ---- */

/* Children get SIGPIPE and SIGXFSZ back to their defaults, which
   posix_spawn would otherwise pass on as ignored. */
static pid_t spawn (char const *file, char const *const *argv, char const *const *envp, int const *fds, int sig)
{
  pid_t pid ;
  signal(SIGPIPE, SIG_DFL) ;
  signal(SIGXFSZ, SIG_DFL) ;
  pid = tern_spawn(file, argv, envp, fds, 3) ;
  signal(SIGPIPE, SIG_IGN) ;
  signal(SIGXFSZ, SIG_IGN) ;
  if (pid) { childsig = sig ; child = pid ; }
  return pid ;
}

static int waitchild (pid_t pid)
{
  int wstat ;
  while (waitpid(pid, &wstat, 0) < 0)
    if (errno != EINTR) failsys(111, "4.3.0", "unable to wait for a child") ;
  child = 0 ;
  return wstat ;
}

static void prog_deliver (char const *cmd)
{
  size_t n = 0, slen = strlen(sender), rlen = strlen(rcpt) ;
  char envs[slen + 8], envr[rlen + 11] ;
  char last ;
  int p[2], wstat ;
  pid_t pid ;
  while (environ[n]) n++ ;
  {
    char const *env[n + 3] ;
    char const *argv[4] = { "/bin/sh", "-c", cmd, 0 } ;
    size_t m = 0 ;
    int fds[3] ;
    memcpy(envs, "SENDER=", 7) ; memcpy(envs + 7, sender, slen + 1) ;
    memcpy(envr, "RECIPIENT=", 10) ; memcpy(envr + 10, rcpt, rlen + 1) ;
    for (size_t i = 0 ; i < n ; i++)
      if (strncmp(environ[i], "SENDER=", 7) && strncmp(environ[i], "RECIPIENT=", 10))
        env[m++] = environ[i] ;
    env[m++] = envs ;
    env[m++] = envr ;
    env[m] = 0 ;
    if (pipe2(p, O_CLOEXEC) < 0) failsys(111, "4.3.0", "unable to make a pipe") ;
    fds[0] = p[0] ; fds[1] = 2 ; fds[2] = 2 ;  /* its output goes to our log, never our stdout */
    pid = spawn("/bin/sh", argv, env, fds, SIGKILL) ;
    if (!pid) failsys(111, "4.3.0", "unable to run /bin/sh") ;
  }
  fd_close(p[0]) ;
  ofd = p[1] ;
  /* EPIPE: the program did not read everything; its exit code decides. */
  if (!(oput(hdr.s, hdr.len) && copy_message(0, &last) && oflush()) && errno != EPIPE)
    failsys(111, "4.3.0", "unable to write to the program") ;
  olen = 0 ;
  fd_close(p[1]) ;
  ofd = -1 ;
  wstat = waitchild(pid) ;
  if (WIFEXITED(wstat) && !WEXITSTATUS(wstat))
  {
    strerr_warni("delivered to=", rcpt, " program") ;
    return ;
  }
  {
    char fmt[UINT_FMT] ;
    int code = WIFEXITED(wstat) ? WEXITSTATUS(wstat) : WTERMSIG(wstat) ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    if (!WIFEXITED(wstat)) fail(111, "4.3.0", "the delivery program was killed by signal ", fmt) ;
    if (code == 100) fail(100, "5.3.0", "the delivery program failed permanently (exit 100)") ;
    fail(111, "4.3.0", "the delivery program failed (exit ", fmt, ")") ;
  }
}

/* One queue-add run for every remote target, and for the local targets
   that failed after others were delivered (nrequeue of them, last in the
   list): message on its fd 0 (ours with Delivered-To: in front),
   envelope on its fd 1, sender kept. */
static void reinject (char const *list, size_t len, unsigned int nremote, unsigned int nrequeue)
{
  stralloc env = STRALLOC_ZERO, path = STRALLOC_ZERO ;
  char const *argv[2] ;
  char last ;
  int fds[3], p[2], mfd, wstat ;
  pid_t pid ;
  mfd = tmpfd() ;
  if (mfd < 0) failsys(111, "4.3.0", "unable to create a temporary file") ;
  ofd = mfd ;
  if ((rcpt && *rcpt && (!oput("Delivered-To: ", 14) || !oput(rcpt, strlen(rcpt)) || !oput("\n", 1)))
   || !copy_message(0, &last) || !oflush())
    failsys(111, "4.3.0", "unable to copy the message for forwarding") ;
  ofd = -1 ;
  if (lseek(mfd, 0, SEEK_SET) < 0) failsys(111, "4.3.0", "unable to seek") ;
  if (!stralloc_catb(&env, "F", 1) || !stralloc_cats(&env, sender) || !stralloc_0(&env)) dienomem() ;
  for (size_t i = 0 ; i < len ; i += strlen(list + i) + 1)
    if (!stralloc_catb(&env, "T", 1) || !stralloc_cats(&env, list + i) || !stralloc_0(&env)) dienomem() ;
  if (!stralloc_0(&env)) dienomem() ;
  if (!tern_path(&path, tern_libexec(), "queue-add")) dienomem() ;
  argv[0] = path.s ; argv[1] = 0 ;
  if (pipe2(p, O_CLOEXEC) < 0) failsys(111, "4.3.0", "unable to make a pipe") ;
  fds[0] = mfd ; fds[1] = p[0] ; fds[2] = 2 ;
  /* SIGTERM, not SIGKILL, if we must stop it: queue-store then removes its temp file */
  pid = spawn(path.s, argv, (char const *const *)environ, fds, SIGTERM) ;
  if (!pid) failsys(111, "4.3.0", "unable to run queue-add") ;
  fd_close(p[0]) ;
  fd_close(mfd) ;
  if (allwrite(p[1], env.s, env.len) < env.len && errno != EPIPE)
    failsys(111, "4.3.0", "unable to write the envelope to queue-add") ;
  fd_close(p[1]) ;
  wstat = waitchild(pid) ;
  if (!WIFEXITED(wstat)) fail(111, "4.3.0", "queue-add crashed") ;
  if (WEXITSTATUS(wstat))
  {
    char fmt[UINT_FMT] ;
    int code = WEXITSTATUS(wstat) ;
    fmt[uint_fmt(fmt, code)] = 0 ;
    if (code >= 11 && code <= 40) fail(100, "5.3.0", "forwarding refused by queue-add (exit ", fmt, ")") ;
    fail(111, "4.3.0", "forwarding failed: queue-add exited ", fmt) ;
  }
  {
    char fmt[UINT_FMT] ;
    if (nremote)
    {
      fmt[uint_fmt(fmt, nremote)] = 0 ;
      strerr_warni("forwarded to=", rcpt, " rcpts=", fmt) ;
    }
    if (nrequeue)
    {
      fmt[uint_fmt(fmt, nrequeue)] = 0 ;
      strerr_warni("requeued to=", rcpt, " rcpts=", fmt) ;
    }
  }
  stralloc_free(&env) ;
  stralloc_free(&path) ;
}

/* ---- resolution ---- */

/* Where the message goes, deduplicated. */
enum { D_MAILBOX = 'M', D_MAILDIR = 'D', D_MBOX = 'F', D_PROGRAM = 'P', D_REMOTE = 'R' } ;
typedef struct dest_s dest ;
struct dest_s
{
  char type ;
  size_t a ;   /* in pool: mailbox, path, command or address */
  size_t b ;   /* in pool: the +detail of a mailbox, else "" */
  size_t c ;   /* in pool: the address a mailbox was found for, else "" */
  int requeue ;  /* c, given to queue-add, would come back to this mailbox alone */
} ;
static genalloc dests = GENALLOC_ZERO ;   /* dest */
static stralloc pool = STRALLOC_ZERO ;
static stralloc visited = STRALLOC_ZERO ;   /* addresses whose aliases were expanded */
static stralloc expanding = STRALLOC_ZERO ; /* those being expanded: the path from ADDRESS */

static void add_dest (char type, char const *a, size_t alen, char const *b, size_t blen, char const *c, int requeue)
{
  size_t n = genalloc_len(dest, &dests) ;
  dest d = { .type = type, .requeue = requeue } ;
  for (size_t i = 0 ; i < n ; i++)
  {
    dest const *x = genalloc_s(dest, &dests) + i ;
    if (x->type == type && strlen(pool.s + x->a) == alen && !memcmp(pool.s + x->a, a, alen)
     && strlen(pool.s + x->b) == blen && !memcmp(pool.s + x->b, b, blen)) return ;
  }
  d.a = pool.len ;
  if (!stralloc_catb(&pool, a, alen) || !stralloc_0(&pool)) dienomem() ;
  d.b = pool.len ;
  if (!stralloc_catb(&pool, b, blen) || !stralloc_0(&pool)) dienomem() ;
  d.c = pool.len ;
  if (!stralloc_cats(&pool, c) || !stralloc_0(&pool)) dienomem() ;
  if (!genalloc_append(dest, &dests, &d)) dienomem() ;
}

static int in_list (stralloc const *sa, char const *s)
{
  for (size_t i = 0 ; i < sa->len ; i += strlen(sa->s + i) + 1)
    if (!strcmp(sa->s + i, s)) return 1 ;
  return 0 ;
}

static int lookup (cdb const *c, cdb_data *d, char const *key, size_t len, char const *what)
{
  int r = tern_cdb_find(c, d, key, len) ;
  if (r < 0) failsys(111, "4.3.0", "unable to read ", what) ;
  return r ;
}

static int resolve (char const *addr, unsigned int depth, int skipaliases) ;

/* The targets of an alias. ctxdom qualifies bare local names. */
static void expand (cdb_data const *d, char const *ctxdom, char const *name, unsigned int depth)
{
  size_t i = 0 ;
  while (i < d->len)
  {
    size_t n = strnlen(d->s + i, d->len - i) ;
    char t[n + 1] ;
    memcpy(t, d->s + i, n) ;
    t[n] = 0 ;
    i += n + 1 ;
    if (!n) continue ;
    if (t[0] == '|')
    {
      if (!progs_ok) fail(100, "5.7.1", "delivery to programs is not enabled (alias ", name, ")") ;
      add_dest(D_PROGRAM, t + 1, n - 1, "", 0, "", 0) ;
    }
    else if (t[0] == '/')
    {
      if (!files_ok) fail(100, "5.7.1", "delivery to files is not enabled (alias ", name, ")") ;
      if (n > 1 && t[n-1] == '/') add_dest(D_MAILDIR, t, n - 1, "", 0, "", 0) ;
      else add_dest(D_MBOX, t, n, "", 0, "", 0) ;
    }
    else
    {
      int qualify = !memchr(t, '@', n) ;
      size_t clen = ctxdom ? strlen(ctxdom) : 0 ;
      size_t len = qualify ? n + 1 + clen : n ;
      char full[len + 1] ;
      size_t at ;
      if (qualify && !ctxdom) fail(111, "4.3.5", "no local domain to qualify the alias target ", t, " (etc/domains is empty)") ;
      memcpy(full, t, n) ;
      if (qualify) { full[n] = '@' ; memcpy(full + n + 1, ctxdom, clen) ; }
      full[len] = 0 ;
      tern_addr_canon(full, len, 0) ;
      at = tern_addr_domain(full, len) ;
      if (at < len && !tern_domain_in(domains.s, domains.len, full + at + 1, len - at - 1))
        add_dest(D_REMOTE, full, len, "", 0, "", 0) ;
      else
      {
        int ancestor ;
        tern_lower(full, len) ;
        ancestor = in_list(&expanding, full) ;
        if (!ancestor && in_list(&visited, full)) continue ;  /* expanded already: a duplicate */
        /* An alias naming itself (or an alias it is part of) means the
           user of that name: "demo: demo, copy@elsewhere" keeps a copy. */
        if (!resolve(full, depth + 1, ancestor))
        {
          if (ancestor) fail(100, "5.4.6", "alias loop through ", full) ;
          fail(100, "5.1.1", "alias ", name, " has an unknown target: ", full) ;
        }
      }
    }
  }
}

/* addr: lowercase. 1 if it went somewhere, 0 if nothing knows it. */
static int resolve (char const *addr, unsigned int depth, int skipaliases)
{
  size_t len = strlen(addr), at = tern_addr_domain(addr, len) ;
  char const *dom = at < len ? addr + at + 1 : 0 ;
  int islocal = !dom || tern_domain_in(domains.s, domains.len, dom, len - at - 1) ;
  size_t plus = byte_chr(addr, at, '+') ;
  int detail = plus > 0 && plus < at ;
  char base[len + 1] ;  /* the address without its +detail */
  size_t blen = plus ;
  cdb_data d ;
  if (depth > MAXDEPTH) fail(100, "5.4.6", "aliases nested deeper than 10 levels at ", addr) ;
  memcpy(base, addr, plus) ;
  memcpy(base + plus, addr + at, len - at) ;
  blen = plus + len - at ;
  base[blen] = 0 ;

  if (!skipaliases)
  {
    struct { char const *s ; size_t len ; } keys[4] ;
    unsigned int nk = 0 ;
    keys[nk].s = addr ; keys[nk].len = len ; nk++ ;
    if (dom && islocal) { keys[nk].s = addr ; keys[nk].len = at ; nk++ ; }
    if (detail)
    {
      keys[nk].s = base ; keys[nk].len = blen ; nk++ ;
      if (dom && islocal) { keys[nk].s = base ; keys[nk].len = plus ; nk++ ; }
    }
    for (unsigned int k = 0 ; k < nk ; k++)
      if (lookup(&aliases, &d, keys[k].s, keys[k].len, "aliases.cdb"))
      {
        char name[keys[k].len + 1] ;
        memcpy(name, keys[k].s, keys[k].len) ;
        name[keys[k].len] = 0 ;
        size_t mark = expanding.len ;
        if (!stralloc_catb(&visited, addr, len + 1) || !stralloc_catb(&expanding, addr, len + 1)) dienomem() ;
        expand(&d, dom ? dom : domains.len ? domains.s : 0, name, depth) ;
        expanding.len = mark ;
        return 1 ;
      }
  }

  if (!dom) return 0 ;
  {
    char const *det = "" ;
    size_t detlen = 0 ;
    if (!lookup(&users, &d, addr, len, "users.cdb"))
    {
      if (!detail || !lookup(&users, &d, base, blen, "users.cdb")) return 0 ;
      det = addr + plus + 1 ;
      detlen = at - plus - 1 ;
    }
    /* a mailbox from users.cdb must stay under mail/ (pwcheck checks the same) */
    if (!tern_mailbox_sane(d.s, d.len)) fail(111, "4.3.5", "users.cdb has a malformed mailbox for ", addr) ;
    /* Given to queue-add, addr comes back here: unless its aliases were
       skipped (an alias naming itself), or it is ADDRESS itself, which
       the copy's Delivered-To: would show as a loop. */
    add_dest(D_MAILBOX, d.s, d.len, det, detlen, addr, !skipaliases && strcasecmp(addr, rcpt)) ;
  }
  return 1 ;
}

/* ---- delivering to a user's mailbox ---- */

static int is_maildir (char const *dir)
{
  size_t len = strlen(dir) ;
  char p[len + 5] ;
  struct stat st ;
  memcpy(p, dir, len) ;
  memcpy(p + len, "/new", 5) ;
  if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) return 0 ;
  memcpy(p + len, "/tmp", 5) ;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode) ;
}

/* Appends "/.Folder" to sa (a mailbox path, NUL-terminated) if a folder
   named detail exists, the exact case first, else any case. */
static int find_folder (stralloc *sa, char const *detail)
{
  size_t len = sa->len - 1 ;
  DIR *dir ;
  if (!*detail || strchr(detail, '/') || !strcmp(detail, ".")) return 0 ;
  sa->len = len ;
  if (!stralloc_cats(sa, "/.") || !stralloc_cats(sa, detail) || !stralloc_0(sa)) dienomem() ;
  if (is_maildir(sa->s)) return 1 ;
  sa->s[len] = 0 ; sa->len = len + 1 ;
  dir = opendir(sa->s) ;
  if (!dir) failsys(111, "4.3.0", "unable to read the mailbox directory") ;
  for (;;)
  {
    struct dirent *de ;
    errno = 0 ;
    de = readdir(dir) ;
    if (!de) break ;
    if (de->d_name[0] != '.' || !de->d_name[1] || !strcmp(de->d_name, "..")) continue ;
    if (strcasecmp(de->d_name + 1, detail)) continue ;
    sa->len = len ;
    if (!stralloc_catb(sa, "/", 1) || !stralloc_cats(sa, de->d_name) || !stralloc_0(sa)) dienomem() ;
    if (is_maildir(sa->s)) { closedir(dir) ; return 1 ; }
    sa->s[len] = 0 ; sa->len = len + 1 ;
  }
  if (errno) failsys(111, "4.3.0", "unable to read the mailbox directory") ;
  closedir(dir) ;
  return 0 ;
}

/* The user of etc/users whose mailbox this is: addr, the address it
   was found for, without its +detail when it was found without it. */
static void mailbox_user (stralloc *sa, char const *addr, char const *detail)
{
  size_t len = strlen(addr), at = tern_addr_domain(addr, len), dl = strlen(detail) ;
  if (dl && at > dl && addr[at - dl - 1] == '+')
  {
    if (!stralloc_catb(sa, addr, at - dl - 1) || !stralloc_catb(sa, addr + at, len - at)) dienomem() ;
  }
  else if (!stralloc_cats(sa, addr)) dienomem() ;
  if (!stralloc_0(sa)) dienomem() ;
}

static void mailbox_deliver (char const *mailbox, char const *detail, char const *addr)
{
  stralloc sa = STRALLOC_ZERO, what = STRALLOC_ZERO, root = STRALLOC_ZERO, user = STRALLOC_ZERO ;
  size_t from ;
  if (!tern_path(&sa, tern_root(), "mail/")) dienomem() ;
  from = sa.len ;
  if (!stralloc_cats(&sa, mailbox) || !stralloc_0(&sa)) dienomem() ;
  maildir_make(sa.s, from) ;
  if (!stralloc_copyb(&root, sa.s, sa.len)) dienomem() ;
  mailbox_user(&user, addr, detail) ;
  if (!stralloc_cats(&what, "mailbox=") || !stralloc_cats(&what, mailbox)) dienomem() ;
  if (find_folder(&sa, detail))
  {
    if (!stralloc_cats(&what, " folder=") || !stralloc_cats(&what, strrchr(sa.s, '/') + 1)) dienomem() ;
  }
  else if (!stralloc_cats(&what, " folder=INBOX")) dienomem() ;
  if (!stralloc_0(&what)) dienomem() ;
  maildir_write(sa.s, what.s, root.s, user.s) ;
  stralloc_free(&sa) ;
  stralloc_free(&what) ;
  stralloc_free(&root) ;
  stralloc_free(&user) ;
}

static void maildir_deliver (char const *path)
{
  stralloc what = STRALLOC_ZERO ;
  maildir_make(path, 0) ;
  if (!stralloc_cats(&what, "maildir=") || !stralloc_cats(&what, path) || !stralloc_0(&what)) dienomem() ;
  maildir_write(path, what.s, 0, 0) ;
  stralloc_free(&what) ;
}

static void mbox_deliver (char const *path)
{
  stralloc what = STRALLOC_ZERO ;
  if (!stralloc_cats(&what, "mbox=") || !stralloc_cats(&what, path) || !stralloc_0(&what)) dienomem() ;
  mbox_write(path, what.s) ;
  stralloc_free(&what) ;
}

/* ---- delivering to every target ---- */

static void deliver_one (dest const *x)
{
  char const *a = pool.s + x->a ;
  switch (x->type)
  {
    case D_MAILBOX : mailbox_deliver(a, pool.s + x->b, pool.s + x->c) ; break ;
    case D_MAILDIR : maildir_deliver(a) ; break ;
    case D_MBOX : mbox_deliver(a) ; break ;
    case D_PROGRAM : prog_deliver(a) ; break ;
  }
}

/* One target in a process of its own, so that its failure, which exits,
   does not end the delivery to the others. Its exit code (a crash is
   111), and its status line, without LF, in reason. Killed with us: by
   undo() (SIGTERM, so that it undoes its own part), or by the kernel if
   we are killed -9 (as a delivery in our own process would be). */
static int deliver_child (dest const *x, char *reason, size_t max)
{
  pid_t parent = getpid(), pid ;
  size_t len = 0 ;
  int p[2], wstat ;
  if (pipe2(p, O_CLOEXEC) < 0) failsys(111, "4.3.0", "unable to make a pipe") ;
  pid = fork() ;
  if (pid < 0) failsys(111, "4.3.0", "unable to fork") ;
  if (!pid)
  {
    quiet = 1 ;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) _exit(111) ;
    fd_close(p[0]) ;
    if (fd_move(1, p[1]) < 0) _exit(111) ;
    deliver_one(x) ;
    _exit(0) ;
  }
  childsig = SIGTERM ;
  child = pid ;
  fd_close(p[1]) ;
  for (;;)
  {
    char buf[512] ;
    ssize_t r = read(p[0], buf, sizeof buf) ;
    if (r < 0 && errno == EINTR) continue ;
    if (r <= 0) break ;
    if ((size_t)r > max - 1 - len) r = max - 1 - len ;
    memcpy(reason + len, buf, r) ;
    len += r ;
  }
  fd_close(p[0]) ;
  wstat = waitchild(pid) ;
  while (len && reason[len-1] == '\n') len-- ;
  reason[len] = 0 ;
  if (!len) strcpy(reason, "4.3.0 the delivery process failed") ;
  if (!WIFEXITED(wstat)) return 111 ;
  return WEXITSTATUS(wstat) == 0 || WEXITSTATUS(wstat) == 100 ? WEXITSTATUS(wstat) : 111 ;
}

/* A failure that ends the whole delivery: a target's status line as
   ours. */
static void passfail (int e, char const *reason) gccattr_noreturn ;
static void passfail (int e, char const *reason)
{
  size_t len = strlen(reason) ;
  char out[len + 1] ;
  memcpy(out, reason, len) ;
  out[len] = '\n' ;
  allwrite(1, out, len + 1) ;
  strerr_warn(PROG, ": fatal: to=", rcpt, " status=", reason) ;
  _exit(e) ;
}

/* Every target. Remote ones go to queue-add together, at the end. One
   local target is delivered here, as always: its failure is ours. With
   several, each runs in a child (deliver_child) and a failure after
   others were delivered must not fail the whole recipient, which
   queue-run would retry, delivering those again: the failed target is
   given to queue-add as a recipient of its own instead (with the remote
   ones), to be retried or bounced alone. That needs its address, so the
   targets that have none (programs, files, an alias naming itself) go
   first: if one of them fails after another was delivered, or
   queue-add fails after something was delivered, the whole recipient
   fails and its retry repeats what was delivered (a duplicate then
   cannot be helped). A failure before anything was delivered fails the
   recipient as always. */
static void deliver_all (void)
{
  stralloc list = STRALLOC_ZERO ;
  size_t n = genalloc_len(dest, &dests) ;
  unsigned int nlocal = 0, nremote = 0, nrequeue = 0, delivered = 0 ;
  dest const *x = genalloc_s(dest, &dests) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if (x[i].type != D_REMOTE) { nlocal++ ; continue ; }
    if (!stralloc_catb(&list, pool.s + x[i].a, strlen(pool.s + x[i].a) + 1)) dienomem() ;
    nremote++ ;
  }
  if (nlocal == 1)
  {
    for (size_t i = 0 ; i < n ; i++) if (x[i].type != D_REMOTE) deliver_one(x + i) ;
  }
  else if (nlocal)
  {
    for (int pass = 0 ; pass < 2 ; pass++)
      for (size_t i = 0 ; i < n ; i++)
      {
        char reason[1024] ;
        int e ;
        if (x[i].type == D_REMOTE || x[i].requeue != pass) continue ;
        e = deliver_child(x + i, reason, sizeof reason) ;
        if (!e) { delivered++ ; continue ; }
        if (!delivered || !x[i].requeue) passfail(e, reason) ;
        strerr_warnw("to=", rcpt, " target=", pool.s + x[i].c, " status=", reason, " action=requeue") ;
        if (!stralloc_catb(&list, pool.s + x[i].c, strlen(pool.s + x[i].c) + 1)) dienomem() ;
        nrequeue++ ;
      }
  }
  if (nremote || nrequeue) reinject(list.s, list.len, nremote, nrequeue) ;
  stralloc_free(&list) ;
}

/* ---- main ---- */

static int hascontrol (char const *s)
{
  for (; *s ; s++) if ((unsigned char)*s < 32 || *s == 127) return 1 ;
  return 0 ;
}

static void escape_host (void)
{
  stralloc sa = STRALLOC_ZERO ;
  size_t n = 0 ;
  if (!sagethostname(&sa)) { stralloc_copys(&sa, "localhost") ; }
  for (size_t i = 0 ; i < sa.len && n + 5 < sizeof host ; i++)
  {
    char c = sa.s[i] ;
    if (!c) break ;
    if (c == '/') { memcpy(host + n, "\\057", 4) ; n += 4 ; }
    else if (c == ':') { memcpy(host + n, "\\072", 4) ; n += 4 ; }
    else host[n++] = c ;
  }
  host[n] = 0 ;
  stralloc_free(&sa) ;
}

int main (int argc, char const *const *argv)
{
  subgetopt l = SUBGETOPT_ZERO ;
  char const *maildir = 0, *mbox = 0 ;
  unsigned int timeout ;
  PROG = "deliver" ;
  for (;;)
  {
    int opt = subgetopt_r(argc, argv, "f:d:m:", &l) ;
    if (opt == -1) break ;
    switch (opt)
    {
      case 'f' : sender = l.arg ; break ;
      case 'd' : maildir = l.arg ; break ;
      case 'm' : mbox = l.arg ; break ;
      default : strerr_warn(PROG, ": usage: ", USAGE) ; fail(100, "5.5.4", "bad deliver invocation") ;
    }
  }
  argc -= l.ind ; argv += l.ind ;
  if (argc > 1 || (maildir && mbox) || (!argc && !maildir && !mbox))
  {
    strerr_warn(PROG, ": usage: ", USAGE) ;
    fail(100, "5.5.4", "bad deliver invocation") ;
  }
  if (argc)
  {
    size_t len = strlen(argv[0]) ;
    char *r ;
    if (!len || hascontrol(argv[0])) fail(100, "5.1.3", "malformed recipient address") ;
    r = strdup(argv[0]) ;
    if (!r) dienomem() ;
    tern_addr_canon(r, len, 0) ;
    rcpt = r ;
  }
  if (!getuid() || !geteuid()) fail(100, "5.3.5", "deliver does not run as root") ;
  if ((maildir || mbox))
  {
    char const *x = getenv("DELIVER_RESTRICTED") ;
    if (x && *x) fail(100, "5.7.1", "-d and -m are not allowed here") ;
  }
  if (hascontrol(sender)) fail(100, "5.1.7", "malformed sender address") ;
  {
    char const *x = getenv("DELIVER_PROGRAMS") ;
    progs_ok = x && *x ;
    x = getenv("DELIVER_FILES") ;
    files_ok = x && *x ;
  }
  if (!tern_env_uint("DELIVER_TIMEOUT", &timeout, 86400)) fail(111, "4.3.5", "invalid $DELIVER_TIMEOUT") ;

  signal(SIGPIPE, SIG_IGN) ;
  signal(SIGXFSZ, SIG_IGN) ;  /* a file size limit is a write error (EFBIG), which we undo */
  signal(SIGALRM, &onsig) ;
  signal(SIGTERM, &onsig) ;
  signal(SIGHUP, &onsig) ;
  signal(SIGINT, &onsig) ;
  if (timeout) alarm(timeout) ;
  umask(077) ;
  escape_host() ;

  prepare_message() ;
  if (!stralloc_cats(&hdr, "Return-Path: <") || !stralloc_cats(&hdr, sender) || !stralloc_cats(&hdr, ">\n")) dienomem() ;
  if (rcpt && (!stralloc_cats(&hdr, "Delivered-To: ") || !stralloc_cats(&hdr, rcpt) || !stralloc_cats(&hdr, "\n"))) dienomem() ;
  if (rcpt) check_loop() ;

  if (maildir) { maildir_deliver(maildir) ; return 0 ; }
  if (mbox) { mbox_deliver(mbox) ; return 0 ; }

  if (!tern_cfg_lines(&domains, "domains") && errno != ENOENT) failsys(111, "4.3.0", "unable to read etc/domains") ;
  tern_lower(domains.s, domains.len) ;
  if (!tern_cdb_open(&aliases, "aliases") && errno != ENOENT) failsys(111, "4.3.0", "unable to open aliases.cdb") ;
  if (!tern_cdb_open(&users, "users"))
    failsys(111, errno == ENOENT ? "4.3.5" : "4.3.0", "unable to open users.cdb") ;

  {
    size_t len = strlen(rcpt) ;
    char key[len + 1] ;
    memcpy(key, rcpt, len + 1) ;
    tern_lower(key, len) ;
    if (!resolve(key, 0, 0))
    {
      size_t at = tern_addr_domain(key, len) ;
      if (at == 10 && !memcmp(key, "postmaster", 10))
        fail(111, "4.3.5", "no alias or user for postmaster: add one to etc/aliases") ;
      fail(100, "5.1.1", "no such user") ;
    }
  }

  deliver_all() ;
  return 0 ;
}
