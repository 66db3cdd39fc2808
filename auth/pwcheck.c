/* pwcheck: tern's checkpassword program (the interface of
   cr.yp.to/checkpwd). Reads "user NUL password NUL timestamp NUL" on fd 3,
   verifies the password against etc/passwd.cdb (crypt(3) hashes),
   spending the same work on an unknown user as on a wrong password, and
   on success becomes the owner of $TERN_ROOT/mail (never root), creates
   and enters the user's Maildir, sets USER, HOME and MAILDIR and execs
   the rest of its arguments.

   Failed logins are counted per remote address across connections in
   auth/failures, a fixed table of FT_N entries under an fcntl lock; every
   attempt from an address with recent failures first waits (the formula
   is at fail_delay). Exit codes are checkpassword's: 1 refused, 2 misuse,
   111 temporary trouble. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <crypt.h>

#include <skalibs/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>
#include <skalibs/ip46.h>
#include <skalibs/cdb.h>

#include "tern.h"

#define USAGE "pwcheck prog..."
#define dieusage() strerr_dieusage(2, USAGE)

/* what fd 3 may carry: the user and password caps of the login monitor, a timestamp */
#define CREDMAX 4096

/* The hash an unknown user is checked against: yescrypt with the cost
   mailuser uses, so that both failures cost one crypt_r of the same kind.
   No password matches it (it hashes a string nobody is told). */
#define DUMMY_HASH "$y$j9T$6X7chrIvTN2G/xffo0QWV.$AwNeCa70NnxnQZjkHpwOBBIzXrwPc7V6JW/DdsKsPM8"

/* ---- the per-address failure table (auth/failures) ---- */

#define FT_N 1024
typedef struct fentry_s fentry ;
struct fentry_s
{
  unsigned char ip[16] ;   /* IPv6, or IPv4 in its first 4 octets; all zero: no TCPREMOTEIP */
  uint32_t count ;         /* failures, decayed at each update */
  uint32_t is6 ;
  uint64_t last ;          /* Unix time of the last update; 0: a free slot */
} ;

static struct
{
  unsigned int delay ;      /* PWCHECK_DELAY, ms after one failure */
  unsigned int maxdelay ;   /* PWCHECK_MAXDELAY, ms */
  unsigned int halflife ;   /* PWCHECK_HALFLIFE, s */
  char const *ipstr ;
  ip46 ip ;
} cf ;

static fentry table[FT_N] ;

/* Decayed count: halved for every whole half-life since the last update. */
static uint32_t decayed (fentry const *e, uint64_t now)
{
  uint64_t halves = now > e->last ? (now - e->last) / cf.halflife : 0 ;
  return halves >= 32 ? 0 : e->count >> halves ;
}

/* The wait before an attempt after n recent failures:
   0 if n = 0, else min(PWCHECK_MAXDELAY, PWCHECK_DELAY * 2^(n-1)) ms. */
static uint64_t fail_delay (uint32_t n)
{
  uint64_t d ;
  if (!n || !cf.delay) return 0 ;
  if (n > 40) n = 40 ;
  d = (uint64_t)cf.delay << (n - 1) ;
  return d > cf.maxdelay ? cf.maxdelay : d ;
}

/* Opens and locks the table (creating auth/ and the file), reads it into
   table[]: the fd, or dies 111. */
static int ft_open (void)
{
  stralloc sa = STRALLOC_ZERO ;
  ssize_t r ;
  int fd ;
  if (!tern_path(&sa, tern_root(), "auth")) strerr_diefusys(111, "build a path") ;
  if (mkdir(sa.s, 0700) < 0 && errno != EEXIST) strerr_diefusys(111, "mkdir ", sa.s) ;
  if (!stralloc_cats(&sa, "/failures") || !stralloc_0(&sa)) strerr_diefusys(111, "build a path") ;
  fd = open(sa.s, O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  if (fd < 0) strerr_diefusys(111, "open ", sa.s) ;
  if (fd_lock(fd, 1, 0) < 1) strerr_diefusys(111, "lock ", sa.s) ;
  memset(table, 0, sizeof(table)) ;
  r = pread(fd, table, sizeof(table), 0) ;
  if (r < 0) strerr_diefusys(111, "read ", sa.s) ;
  stralloc_free(&sa) ;
  return fd ;
}

static fentry *ft_find (void)
{
  for (unsigned int i = 0 ; i < FT_N ; i++)
    if (table[i].last && table[i].is6 == (uint32_t)cf.ip.is6 && !memcmp(table[i].ip, cf.ip.ip, 16)) return table + i ;
  return 0 ;
}

/* The wait owed by this address now, in ms. */
static uint64_t ft_delay (uint64_t now)
{
  int fd = ft_open() ;
  fentry *e = ft_find() ;
  uint64_t d = e ? fail_delay(decayed(e, now)) : 0 ;
  fd_close(fd) ;
  return d ;
}

/* One more failure for this address; the oldest entry makes room. */
static void ft_fail (uint64_t now)
{
  int fd = ft_open() ;
  fentry *e = ft_find() ;
  if (e) e->count = decayed(e, now) ;
  else
  {
    e = table ;
    for (unsigned int i = 1 ; i < FT_N ; i++) if (table[i].last < e->last) e = table + i ;
    memset(e, 0, sizeof(fentry)) ;
    memcpy(e->ip, cf.ip.ip, 16) ;
    e->is6 = cf.ip.is6 ;
  }
  if (e->count < 64) e->count++ ;
  e->last = now ? now : 1 ;
  if (pwrite(fd, e, sizeof(fentry), (char *)e - (char *)table) != sizeof(fentry))
    strerr_warnwusys("record the failure in auth/failures") ;
  fd_close(fd) ;
}

static void msleep (uint64_t ms)
{
  struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 } ;
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) ;
}

/* ---- verification ---- */

static char const *safe (char const *s, char *buf, size_t max)
{
  size_t i = 0 ;
  for (; s[i] && i < max - 1 ; i++) buf[i] = (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 ? s[i] : '?' ;
  buf[i] = 0 ;
  return buf ;
}

/* yescrypt, bcrypt and SHA-512 crypt only (DESIGN.md) */
static int method_ok (char const *h)
{
  static char const *const ok[] = { "$y$", "$2b$", "$2y$", "$2a$", "$6$", 0 } ;
  unsigned int i = 0 ;
  for (; ok[i] ; i++) if (!strncmp(h, ok[i], strlen(ok[i]))) break ;
  if (!ok[i]) return 0 ;
  i = crypt_checksalt(h) ;
  return i == CRYPT_SALT_OK || i == CRYPT_SALT_METHOD_LEGACY || i == CRYPT_SALT_TOO_CHEAP ;
}

/* Same length and contents, in time independent of where they differ. */
static int same (char const *a, char const *b)
{
  size_t la = strlen(a), lb = strlen(b) ;
  unsigned char d = la != lb ;
  for (size_t i = 0 ; i < la && i < lb ; i++) d |= (unsigned char)(a[i] ^ b[i]) ;
  return !d ;
}

/* the wait applied to this attempt, for the log (ms) */
static char waitfmt[UINT64_FMT] = "0" ;

static void refuse (char const *user, char const *why, uint64_t now)
{
  char ubuf[128] ;
  ft_fail(now) ;
  strerr_warni("refused user=", safe(user, ubuf, sizeof(ubuf)), " ip=", cf.ipstr, " wait=", waitfmt, " reason=", why) ;
  _exit(1) ;
}

static void config (void)
{
  char const *x ;
  if (!tern_env_uint("PWCHECK_DELAY", &cf.delay, 500)) strerr_dief(111, "invalid PWCHECK_DELAY") ;
  if (!tern_env_uint("PWCHECK_MAXDELAY", &cf.maxdelay, 30000)) strerr_dief(111, "invalid PWCHECK_MAXDELAY") ;
  if (!tern_env_uint("PWCHECK_HALFLIFE", &cf.halflife, 600) || !cf.halflife) strerr_dief(111, "invalid PWCHECK_HALFLIFE") ;
  x = ucspi_get("REMOTEIP") ;
  if (!x) x = getenv("TCPREMOTEIP") ;
  memset(&cf.ip, 0, sizeof(cf.ip)) ;
  if (x && *x)
  {
    static char ipbuf[IP46_FMT] ;
    size_t n = ip46_scan(x, &cf.ip) ;
    if (!n || x[n]) strerr_dief(111, "invalid TCPREMOTEIP") ;
    ipbuf[ip46_fmt(ipbuf, &cf.ip)] = 0 ;
    cf.ipstr = ipbuf ;
  }
  else cf.ipstr = "none" ;
}

int main (int argc, char const *const *argv)
{
  static struct crypt_data cd ;
  static char cred[CREDMAX + 1] ;
  stralloc key = STRALLOC_ZERO, path = STRALLOC_ZERO ;
  char const *user, *pass, *hash = DUMMY_HASH, *h ;
  char const *why = 0 ;
  size_t n = 0, ulen, plen ;
  cdb passwd = CDB_ZERO, users = CDB_ZERO ;
  cdb_data d ;
  uint64_t now, wait ;
  struct stat st ;
  int ok ;
  char ubuf[128] ;

  PROG = "pwcheck" ;
  if (argc < 2) dieusage() ;
  config() ;

  for (;;)
  {
    ssize_t r = read(3, cred + n, sizeof(cred) - n) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      if (errno == EBADF) strerr_dief(2, "nothing on fd 3 (checkpassword interface)") ;
      strerr_diefusys(111, "read fd 3") ;
    }
    if (!r) break ;
    n += r ;
    if (n > CREDMAX) strerr_dief(2, "more than 4096 octets on fd 3") ;
  }
  close(3) ;
  ulen = strnlen(cred, n) ;
  if (ulen == n) strerr_dief(2, "malformed data on fd 3") ;
  plen = strnlen(cred + ulen + 1, n - ulen - 1) ;
  if (ulen + 1 + plen == n) strerr_dief(2, "malformed data on fd 3") ;
  user = cred ; pass = cred + ulen + 1 ;

  now = time(0) ;
  wait = ft_delay(now) ;
  waitfmt[uint64_fmt(waitfmt, wait)] = 0 ;
  if (wait) msleep(wait) ;

  /* the lookups; an unknown user goes on with the dummy hash */
  if (!stralloc_catb(&key, user, ulen)) strerr_diefusys(111, "allocate") ;
  tern_lower(key.s, key.len) ;
  if (!stralloc_0(&key)) strerr_diefusys(111, "allocate") ;
  key.len-- ;
  if (!tern_cdb_open(&passwd, "passwd") && errno != ENOENT) strerr_diefusys(111, "open etc/passwd.cdb") ;
  if (!tern_cdb_open(&users, "users") && errno != ENOENT) strerr_diefusys(111, "open etc/users.cdb") ;
  switch (ulen ? tern_cdb_find(&passwd, &d, key.s, key.len) : 0)
  {
    case -1 : strerr_dief(111, "etc/passwd.cdb is corrupt") ;
    case 0 : why = "unknown" ; break ;
    default :
      if (!stralloc_catb(&path, d.s, d.len) || !stralloc_0(&path)) strerr_diefusys(111, "allocate") ;
      if (method_ok(path.s)) hash = path.s ;
      else
      {
        strerr_warnw("unsupported hash method for user=", safe(user, ubuf, sizeof(ubuf))) ;
        why = "hash-method" ;
      }
  }
  memset(&cd, 0, sizeof(cd)) ;
  h = crypt_r(pass, hash, &cd) ;
  ok = h && h[0] != '*' && same(h, hash) ;
  explicit_bzero(cred + ulen + 1, plen) ;
  explicit_bzero(&cd, sizeof(cd)) ;
  if (!h) strerr_diefusys(111, "crypt_r") ;
  if (why) refuse(user, why, now) ;
  if (!ok || !plen) refuse(user, "password", now) ;

  /* the mailbox */
  switch (tern_cdb_find(&users, &d, key.s, key.len))
  {
    case -1 : strerr_dief(111, "etc/users.cdb is corrupt") ;
    case 0 : refuse(user, "no-mailbox", now) ;
  }
  path.len = 0 ;
  if (!tern_path(&path, tern_root(), "mail")) strerr_diefusys(111, "build a path") ;
  if (stat(path.s, &st) < 0) strerr_diefusys(111, "stat ", path.s) ;
  if (!st.st_uid) strerr_dief(111, path.s, " belongs to root: refusing to serve mailboxes as root") ;
  if (!geteuid())
  {
    gid_t g = st.st_gid ;
    if (setgroups(1, &g) < 0 || setgid(g) < 0 || setuid(st.st_uid) < 0) strerr_diefusys(111, "become the owner of ", path.s) ;
  }
  else if (geteuid() != st.st_uid) strerr_dief(111, "not root and not the owner of ", path.s) ;
  if (!getuid() || !geteuid()) strerr_dief(111, "still root") ;

  /* mail/ MAILBOX, each component created as needed, then cur new tmp */
  {
    size_t i = 0 ;
    if (!d.len || d.s[0] == '/') strerr_dief(111, "bad mailbox in etc/users.cdb for user=", safe(user, ubuf, sizeof(ubuf))) ;
    while (i < d.len)
    {
      size_t k = i ;
      while (k < d.len && d.s[k] != '/') k++ ;
      if (k == i || (k - i == 2 && d.s[i] == '.' && d.s[i+1] == '.'))
        strerr_dief(111, "bad mailbox in etc/users.cdb for user=", safe(user, ubuf, sizeof(ubuf))) ;
      if (!stralloc_catb(&path, "/", 1) || !stralloc_catb(&path, d.s + i, k - i) || !stralloc_0(&path)) strerr_diefusys(111, "allocate") ;
      if (mkdir(path.s, 0700) < 0 && errno != EEXIST) strerr_diefusys(111, "mkdir ", path.s) ;
      path.len-- ;
      i = k + 1 ;
    }
  }
  if (!stralloc_0(&path)) strerr_diefusys(111, "allocate") ;
  if (chdir(path.s) < 0) strerr_diefusys(111, "chdir to ", path.s) ;
  if ((mkdir("cur", 0700) < 0 && errno != EEXIST) || (mkdir("new", 0700) < 0 && errno != EEXIST)
   || (mkdir("tmp", 0700) < 0 && errno != EEXIST)) strerr_diefusys(111, "create the Maildir ", path.s) ;

  if (setenv("USER", key.s, 1) < 0 || setenv("HOME", path.s, 1) < 0 || setenv("MAILDIR", path.s, 1) < 0)
    strerr_diefusys(111, "set the environment") ;
  strerr_warni("ok user=", safe(key.s, ubuf, sizeof(ubuf)), " ip=", cf.ipstr, " wait=", waitfmt) ;
  execvp(argv[1], (char *const *)argv + 1) ;
  strerr_diefusys(111, "exec ", argv[1]) ;
}
