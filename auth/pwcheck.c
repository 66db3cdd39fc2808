/* pwcheck: tern's checkpassword program (the interface of
   cr.yp.to/checkpwd). Reads "user NUL password NUL timestamp NUL" on fd 3,
   verifies the password against etc/passwd.cdb (crypt(3) hashes),
   spending the same work on an unknown user as on a wrong password, and
   on success becomes the owner of $TERN_ROOT/mail (never root), creates
   and enters the user's Maildir, sets USER, HOME and MAILDIR and execs
   the rest of its arguments.

   Failed logins are counted per remote address (IPv6 per /64) across
   connections in auth/failures, a fixed table of FT_N entries under an
   fcntl lock; every attempt from an address with recent failures first
   waits (the formula is at fail_delay). An attempt is counted before its
   password is checked and taken back when it was right; while it is in
   flight it does not make the others from its address wait, up to
   INFLIGHT_FREE of them (a client's several connections, the users
   behind one NAT), and one in flight for INFLIGHT_STALE seconds was
   killed before its verdict: a failure. Exit codes are checkpassword's:
   1 refused, 2 misuse, 111 temporary trouble. */

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
#define INFLIGHT_FREE 10     /* attempts in flight at once that make no other wait */
#define INFLIGHT_STALE 120   /* s: longer than any wait (PWCHECK_MAXDELAY is capped below it) and check */
typedef struct fentry_s fentry ;
struct fentry_s
{
  unsigned char ip[16] ;   /* IPv6, or IPv4 in its first 4 octets; all zero: no TCPREMOTEIP */
  uint32_t count ;         /* failures (attempts in flight included), decayed at each update */
  uint16_t is6 ;
  uint16_t inflight ;      /* attempts counted whose verdict is not known yet (0 in a table of older pwchecks) */
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

/* The address as counted: an IPv6 address by its /64 (what one host
   or one customer gets), an IPv4-mapped one as the IPv4 address it is. */
static void ft_key (unsigned char *ip, uint16_t *is6)
{
  static unsigned char const mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff } ;
  memset(ip, 0, 16) ;
  *is6 = 0 ;
  if (!cf.ip.is6) { memcpy(ip, cf.ip.ip, 4) ; return ; }
  if (!memcmp(cf.ip.ip, mapped, 12)) { memcpy(ip, cf.ip.ip + 12, 4) ; return ; }
  memcpy(ip, cf.ip.ip, 8) ;
  *is6 = 1 ;
}

static fentry *ft_find (void)
{
  unsigned char ip[16] ;
  uint16_t is6 ;
  ft_key(ip, &is6) ;
  for (unsigned int i = 0 ; i < FT_N ; i++)
    if (table[i].last && table[i].is6 == is6 && !memcmp(table[i].ip, ip, 16)) return table + i ;
  return 0 ;
}

static void ft_write (int fd, fentry const *e)
{
  if (pwrite(fd, e, sizeof(fentry), (char const *)e - (char const *)table) != sizeof(fentry))
    strerr_warnwusys("update auth/failures") ;
}

/* The count decayed to now, the half-lives it lost taken off the clock
   too (last moves on by whole half-lives, so the next one is not lost). */
static void normalize (fentry *e, uint64_t now)
{
  uint64_t halves = now > e->last ? (now - e->last) / cf.halflife : 0 ;
  /* attempts in flight since before the stale limit were killed: failures */
  if (now >= e->last + INFLIGHT_STALE) e->inflight = 0 ;
  if (!halves) return ;
  e->count = halves >= 32 ? 0 : e->count >> halves ;
  e->last += halves * cf.halflife ;
}

/* What ft_attempt found and wrote, for ft_success: the entry's clock
   before this attempt (0: no entry), and the time this attempt set. */
static uint64_t ft_before = 0, ft_mine = 0 ;

/* This attempt, counted as a failure before the password is checked (so
   that parallel attempts from one address each see the ones before them
   and wait longer), and the wait owed for the failures before it, in ms.
   When the table is full, the entry with the lowest count (then the
   oldest) makes room: a burst of new addresses cannot push out those
   that failed most. */
static uint64_t ft_attempt (uint64_t now)
{
  int fd = ft_open() ;
  fentry *e = ft_find() ;
  uint64_t d ;
  if (!now) now = 1 ;
  if (e)
  {
    normalize(e, now) ;
    ft_before = e->last ;
  }
  else
  {
    uint32_t low = UINT32_MAX ;
    for (unsigned int i = 0 ; i < FT_N ; i++)
    {
      uint32_t c = table[i].last ? decayed(table + i, now) : 0 ;
      if (!e || c < low || (c == low && table[i].last < e->last)) { e = table + i ; low = c ; }
    }
    memset(e, 0, sizeof(fentry)) ;
    ft_key(e->ip, &e->is6) ;
    ft_before = 0 ;
  }
  {
    /* the others in flight are not failures yet, up to INFLIGHT_FREE */
    uint32_t mine = e->inflight < INFLIGHT_FREE ? e->inflight : INFLIGHT_FREE ;
    d = fail_delay(e->count > mine ? e->count - mine : 0) ;
  }
  if (e->count < 64) e->count++ ;
  if (e->inflight < UINT16_MAX) e->inflight++ ;
  e->last = ft_mine = now ;
  ft_write(fd, e) ;
  fd_close(fd) ;
  return d ;
}

/* The password was right: the attempt ft_attempt counted was not a
   failure, and the entry goes back to what it was (when no attempt came
   after ours) or loses one (when some did). An entry left with nothing
   to count is freed. */
static void ft_success (uint64_t now)
{
  int fd = ft_open() ;
  fentry *e = ft_find() ;
  if (e)
  {
    if (e->last == ft_mine)
    {
      if (ft_before) e->last = ft_before ;
    }
    else normalize(e, now) ;
    if (e->count) e->count-- ;
    if (e->inflight) e->inflight-- ;
    if (!e->count) memset(e, 0, sizeof(fentry)) ;
    ft_write(fd, e) ;
  }
  fd_close(fd) ;
}

/* The password was wrong: the attempt stays a failure, and is no longer
   in flight. Done before the verdict leaves, so that no attempt after it
   sees it in flight. */
static void ft_failure (uint64_t now)
{
  int fd = ft_open() ;
  fentry *e = ft_find() ;
  if (e)
  {
    normalize(e, now) ;
    if (e->inflight) e->inflight-- ;
    ft_write(fd, e) ;
  }
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

/* The attempt was counted as a failure already (ft_attempt). */
static void refuse (char const *user, char const *why)
{
  char ubuf[128] ;
  ft_failure(time(0)) ;
  strerr_warni("refused user=", safe(user, ubuf, sizeof(ubuf)), " ip=", cf.ipstr, " wait=", waitfmt, " reason=", why) ;
  _exit(1) ;
}

static void config (void)
{
  char const *x ;
  if (!tern_env_uint("PWCHECK_DELAY", &cf.delay, 500)) strerr_dief(111, "invalid PWCHECK_DELAY") ;
  if (!tern_env_uint("PWCHECK_MAXDELAY", &cf.maxdelay, 30000)) strerr_dief(111, "invalid PWCHECK_MAXDELAY") ;
  if (cf.maxdelay > 60000) cf.maxdelay = 60000 ;   /* well below INFLIGHT_STALE */
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
  wait = ft_attempt(now) ;
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
  if (why) refuse(user, why) ;
  if (!ok || !plen) refuse(user, "password") ;

  /* the mailbox */
  switch (tern_cdb_find(&users, &d, key.s, key.len))
  {
    case -1 : strerr_dief(111, "etc/users.cdb is corrupt") ;
    case 0 : refuse(user, "no-mailbox") ;
  }
  ft_success(time(0)) ;
  if (!tern_mailbox_sane(d.s, d.len)) strerr_dief(111, "bad mailbox in etc/users.cdb for user=", safe(user, ubuf, sizeof(ubuf))) ;
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
    while (i < d.len)
    {
      size_t k = i ;
      while (k < d.len && d.s[k] != '/') k++ ;
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
