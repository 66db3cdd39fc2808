/* mailuser: manage tern's virtual users. The text files etc/users
   ("ADDRESS MAILBOX" lines) and etc/passwd ("ADDRESS:HASH" lines, 0600)
   are the sources; every change rewrites them and recompiles
   etc/users.cdb and etc/passwd.cdb, each file replaced atomically, under
   the lock etc/users.lock. Passwords are hashed with yescrypt and never
   stored; the buffers that held them are zeroed. */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <crypt.h>

#include <skalibs/types.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/buffer.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/djbunix.h>
#include <skalibs/cdbmake.h>

#include "tern.h"
#include "tern_store.h"

#define USAGE "mailuser add|del|passwd address | mailuser list [ address ] | mailuser rebuild"
#define dieusage() strerr_dieusage(100, USAGE)

#define PWMAX 1024

/* One meaningful line of a source file. Offsets: line and lineend into
   the file's raw text, key and val into its pool (NUL-terminated). */
typedef struct entry_s entry ;
struct entry_s
{
  size_t line ;
  size_t lineend ;  /* just after the LF, or the end of the text */
  size_t key ;
  size_t val ;
  unsigned int lineno ;
} ;

typedef struct srcfile_s srcfile ;
struct srcfile_s
{
  char const *name ;   /* "users" or "passwd" */
  unsigned int mode ;
  char sep ;           /* ' ' for users, ':' for passwd */
  stralloc path ;
  stralloc raw ;
  stralloc pool ;
  genalloc ents ;      /* entry */
} ;

static srcfile users = { .name = "users", .mode = 0644, .sep = ' ', .path = STRALLOC_ZERO, .raw = STRALLOC_ZERO, .pool = STRALLOC_ZERO, .ents = GENALLOC_ZERO } ;
static srcfile passwd = { .name = "passwd", .mode = 0600, .sep = ':', .path = STRALLOC_ZERO, .raw = STRALLOC_ZERO, .pool = STRALLOC_ZERO, .ents = GENALLOC_ZERO } ;
static stralloc domains = STRALLOC_ZERO ;
static unsigned int nerrors = 0 ;

/* ---- parsing ---- */

static void lineerr (srcfile const *f, unsigned int lineno, char const *what, char const *arg)
{
  char fmt[UINT_FMT] ;
  fmt[uint_fmt(fmt, lineno)] = 0 ;
  strerr_warn(PROG, ": etc/", f->name, ":", fmt, ": ", what, arg ? arg : "") ;
  nerrors++ ;
}

/* A mailbox is a relative path under mail/, of plain components: what
   deliver and pwcheck accept (tern_mailbox_sane), without a final slash,
   spaces or controls. */
static int mailbox_sane (char const *s)
{
  size_t len = strlen(s) ;
  if (!len || s[len-1] == '/' || !tern_mailbox_sane(s, len)) return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    unsigned char c = s[i] ;
    if (c <= 32 || c == 127) return 0 ;
  }
  return 1 ;
}

static entry *ent (srcfile *f, size_t i)
{
  return genalloc_s(entry, &f->ents) + i ;
}

static size_t nents (srcfile const *f)
{
  return genalloc_len(entry, &f->ents) ;
}

static ssize_t find (srcfile *f, char const *key)
{
  size_t n = nents(f) ;
  for (size_t i = 0 ; i < n ; i++)
    if (!strcmp(f->pool.s + ent(f, i)->key, key)) return i ;
  return -1 ;
}

/* The default mailbox of an address: DOMAIN/LOCAL, lowercase. */
static int default_mailbox (stralloc *sa, char const *addr)
{
  size_t len = strlen(addr), at = tern_addr_domain(addr, len) ;
  size_t start = sa->len ;
  if (!stralloc_catb(sa, addr + at + 1, len - at - 1) || !stralloc_catb(sa, "/", 1)
   || !stralloc_catb(sa, addr, at) || !stralloc_0(sa)) return 0 ;
  tern_lower(sa->s + start, sa->len - start) ;
  return 1 ;
}

static void parse (srcfile *f)
{
  unsigned int lineno = 0 ;
  size_t i = 0 ;
  f->pool.len = 0 ;
  genalloc_setlen(entry, &f->ents, 0) ;
  while (i < f->raw.len)
  {
    entry e = { .line = i, .lineno = ++lineno } ;
    size_t start = i, end, a, alen, v ;
    while (i < f->raw.len && f->raw.s[i] != '\n') i++ ;
    end = i ;
    if (i < f->raw.len) i++ ;
    e.lineend = i ;
    while (start < end && (f->raw.s[start] == ' ' || f->raw.s[start] == '\t')) start++ ;
    while (end > start && (f->raw.s[end-1] == ' ' || f->raw.s[end-1] == '\t' || f->raw.s[end-1] == '\r')) end-- ;
    if (start == end || f->raw.s[start] == '#') continue ;
    a = start ;
    if (f->sep == ':')
    {
      alen = byte_chr(f->raw.s + a, end - a, ':') ;
      if (a + alen == end) { lineerr(f, lineno, "missing colon", 0) ; continue ; }
      v = a + alen + 1 ;
    }
    else
    {
      for (alen = 0 ; a + alen < end && f->raw.s[a+alen] != ' ' && f->raw.s[a+alen] != '\t' ; alen++) ;
      v = a + alen ;
      while (v < end && (f->raw.s[v] == ' ' || f->raw.s[v] == '\t')) v++ ;
    }
    if (!tern_addr_sane(f->raw.s + a, alen))
    {
      char tmp[alen + 1] ;
      memcpy(tmp, f->raw.s + a, alen) ; tmp[alen] = 0 ;
      for (size_t j = 0 ; j < alen ; j++) if ((unsigned char)tmp[j] < 32 || tmp[j] == 127) tmp[j] = '?' ;
      lineerr(f, lineno, "malformed address: ", tmp) ;
      continue ;
    }
    e.key = f->pool.len ;
    if (!stralloc_catb(&f->pool, f->raw.s + a, alen) || !stralloc_0(&f->pool)) strerr_diefusys(111, "stralloc_catb") ;
    tern_lower(f->pool.s + e.key, alen) ;
    {
      ssize_t prev = find(f, f->pool.s + e.key) ;
      if (prev >= 0)
      {
        char fmt[UINT_FMT] ;
        fmt[uint_fmt(fmt, ent(f, prev)->lineno)] = 0 ;
        lineerr(f, lineno, "duplicate address, first at line ", fmt) ;
        continue ;
      }
    }
    e.val = f->pool.len ;
    if (f->sep == ':')
    {
      if (v == end) { lineerr(f, lineno, "empty hash", 0) ; continue ; }
      for (size_t j = v ; j < end ; j++)
      {
        unsigned char c = f->raw.s[j] ;
        if (c <= 32 || c == 127 || c == ':') { lineerr(f, lineno, "malformed hash", 0) ; goto next ; }
      }
      if (!stralloc_catb(&f->pool, f->raw.s + v, end - v) || !stralloc_0(&f->pool)) strerr_diefusys(111, "stralloc_catb") ;
    }
    else if (v == end)
    {
      if (!default_mailbox(&f->pool, f->pool.s + e.key)) strerr_diefusys(111, "stralloc_catb") ;
    }
    else
    {
      if (!stralloc_catb(&f->pool, f->raw.s + v, end - v) || !stralloc_0(&f->pool)) strerr_diefusys(111, "stralloc_catb") ;
      if (!mailbox_sane(f->pool.s + e.val))
      {
        lineerr(f, lineno, "malformed mailbox (a relative path under mail/, one field): ", f->pool.s + e.val) ;
        continue ;
      }
    }
    if (!genalloc_append(entry, &f->ents, &e)) strerr_diefusys(111, "genalloc_append") ;
   next: ;
  }
}

static void load (srcfile *f)
{
  f->raw.len = 0 ;
  if (!openslurpclose(&f->raw, f->path.s) && errno != ENOENT)
    strerr_diefusys(111, "read ", f->path.s) ;
  parse(f) ;
}

/* Reads both sources; malformed lines are fatal (nothing is written). */
static void load_all (void)
{
  nerrors = 0 ;
  load(&users) ;
  load(&passwd) ;
  if (nerrors) strerr_dief(100, "the files above have errors: nothing changed") ;
}

static void warn_orphans (void)
{
  size_t n = nents(&passwd) ;
  for (size_t i = 0 ; i < n ; i++)
    if (find(&users, passwd.pool.s + ent(&passwd, i)->key) < 0)
      strerr_warnw("etc/passwd has a hash for ", passwd.pool.s + ent(&passwd, i)->key, " which is not in etc/users") ;
  n = nents(&users) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *k = users.pool.s + ent(&users, i)->key ;
    size_t len = strlen(k), at = tern_addr_domain(k, len) ;
    if (!tern_domain_in(domains.s, domains.len, k + at + 1, len - at - 1))
      strerr_warnw("the domain of ", k, " is not in etc/domains") ;
  }
}

/* ---- writing ---- */

static void write_text (srcfile *f)
{
  stralloc tmp = STRALLOC_ZERO ;
  int fd = tern_atomic_open(&tmp, f->path.s, f->mode) ;
  if (fd < 0) strerr_diefusys(111, "create a temporary file for ", f->path.s) ;
  if (allwrite(fd, f->raw.s, f->raw.len) < f->raw.len)
  {
    unlink(tmp.s) ;
    strerr_diefusys(111, "write ", tmp.s) ;
  }
  if (!tern_atomic_commit(fd, tmp.s, f->path.s)) strerr_diefusys(111, "replace ", f->path.s) ;
  stralloc_free(&tmp) ;
}

static void write_cdb (srcfile *f)
{
  stralloc path = STRALLOC_ZERO, tmp = STRALLOC_ZERO ;
  cdbmaker c = CDBMAKER_ZERO ;
  size_t n = nents(f) ;
  int fd ;
  if (!stralloc_copyb(&path, f->path.s, f->path.len) || !stralloc_cats(&path, ".cdb") || !stralloc_0(&path))
    strerr_diefusys(111, "stralloc_catb") ;
  fd = tern_atomic_open(&tmp, path.s, f->mode) ;
  if (fd < 0) strerr_diefusys(111, "create a temporary file for ", path.s) ;
  if (!cdbmake_start(&c, fd)) goto err ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *k = f->pool.s + ent(f, i)->key ;
    char const *v = f->pool.s + ent(f, i)->val ;
    if (!cdbmake_add(&c, k, strlen(k), v, strlen(v))) goto err ;
  }
  if (!cdbmake_finish(&c)) goto err ;
  if (!tern_atomic_commit(fd, tmp.s, path.s)) strerr_diefusys(111, "replace ", path.s) ;
  stralloc_free(&tmp) ;
  stralloc_free(&path) ;
  return ;
 err:
  unlink(tmp.s) ;
  strerr_diefusys(111, "write ", tmp.s) ;
}

/* The texts first: if we die between, "mailuser rebuild" recompiles. */
static void commit (int texts)
{
  if (texts)
  {
    write_text(&passwd) ;
    write_text(&users) ;
  }
  write_cdb(&passwd) ;
  write_cdb(&users) ;
}

static void raw_cut (srcfile *f, size_t from, size_t to)
{
  memmove(f->raw.s + from, f->raw.s + to, f->raw.len - to) ;
  f->raw.len -= to - from ;
}

static void raw_append (srcfile *f, char const *addr, char const *val)
{
  char sep = f->sep ;
  if (f->raw.len && f->raw.s[f->raw.len - 1] != '\n' && !stralloc_catb(&f->raw, "\n", 1)) goto err ;
  if (!stralloc_cats(&f->raw, addr) || !stralloc_catb(&f->raw, &sep, 1)
   || !stralloc_cats(&f->raw, val) || !stralloc_catb(&f->raw, "\n", 1)) goto err ;
  return ;
 err:
  strerr_diefusys(111, "stralloc_catb") ;
}

/* ---- passwords ---- */

static struct termios tsaved ;
static int tsaved_ok = 0 ;

static void restore_tty (int sig)
{
  if (tsaved_ok) tcsetattr(0, TCSAFLUSH, &tsaved) ;
  _exit(111) ;
}

/* One line from fd 0, read a byte at a time so that nothing past it is
   consumed; the LF (and a CR before it) dropped. Returns its length. */
static size_t getpwline (char *buf)
{
  size_t n = 0 ;
  for (;;)
  {
    char c ;
    ssize_t r = read(0, &c, 1) ;
    if (r < 0) { if (errno == EINTR) continue ; explicit_bzero(buf, PWMAX) ; strerr_diefusys(111, "read the password") ; }
    if (!r || c == '\n') break ;
    if (!c) { explicit_bzero(buf, PWMAX) ; strerr_dief(100, "the password contains a NUL byte") ; }
    if (n >= PWMAX - 1) { explicit_bzero(buf, PWMAX) ; strerr_dief(100, "the password is too long") ; }
    buf[n++] = c ;
  }
  if (n && buf[n-1] == '\r') n-- ;
  buf[n] = 0 ;
  return n ;
}

static size_t ttyprompt (char *buf, char const *prompt)
{
  struct termios t = tsaved ;
  size_t n ;
  t.c_lflag &= ~(ECHO | ECHOE | ECHOK) ;
  t.c_lflag |= ICANON ;
  allwrite(2, prompt, strlen(prompt)) ;
  if (tcsetattr(0, TCSAFLUSH, &t) < 0) strerr_diefusys(111, "turn off echo") ;
  n = getpwline(buf) ;
  tcsetattr(0, TCSAFLUSH, &tsaved) ;
  allwrite(2, "\n", 1) ;
  return n ;
}

/* Reads the password (twice at a terminal) and hashes it into hash. */
static void newhash (char *hash, size_t hashlen)
{
  static struct crypt_data cd ;
  char pw[PWMAX], again[PWMAX] ;
  char salt[CRYPT_GENSALT_OUTPUT_SIZE] ;
  char const *h ;
  size_t n ;
  if (isatty(0))
  {
    if (tcgetattr(0, &tsaved) < 0) strerr_diefusys(111, "read the terminal settings") ;
    tsaved_ok = 1 ;
    signal(SIGINT, &restore_tty) ;
    signal(SIGTERM, &restore_tty) ;
    signal(SIGHUP, &restore_tty) ;
    signal(SIGQUIT, &restore_tty) ;
    n = ttyprompt(pw, "Password: ") ;
    if (n && (ttyprompt(again, "Retype password: ") != n || memcmp(pw, again, n)))
    {
      explicit_bzero(pw, sizeof pw) ;
      explicit_bzero(again, sizeof again) ;
      strerr_dief(100, "the passwords differ") ;
    }
    explicit_bzero(again, sizeof again) ;
  }
  else n = getpwline(pw) ;
  if (!n) strerr_dief(100, "empty password") ;
  if (!crypt_gensalt_rn("$y$", 0, 0, 0, salt, sizeof salt))
  {
    explicit_bzero(pw, sizeof pw) ;
    strerr_diefusys(111, "make a yescrypt salt") ;
  }
  memset(&cd, 0, sizeof cd) ;
  h = crypt_r(pw, salt, &cd) ;
  explicit_bzero(pw, sizeof pw) ;
  if (!h || h[0] == '*' || strlen(h) >= hashlen)
  {
    explicit_bzero(&cd, sizeof cd) ;
    strerr_diefusys(111, "hash the password") ;
  }
  memcpy(hash, h, strlen(h) + 1) ;
  explicit_bzero(&cd, sizeof cd) ;
}

/* ---- commands ---- */

static int lock (void)
{
  stralloc sa = STRALLOC_ZERO ;
  int fd ;
  if (!tern_path(&sa, tern_root(), "etc/users.lock")) strerr_diefusys(111, "stralloc_catb") ;
  fd = tern_lockfile(sa.s) ;
  if (fd < 0) strerr_diefusys(111, "lock ", sa.s) ;
  stralloc_free(&sa) ;
  return fd ;
}

/* The address argument, checked and lowercased. */
static stralloc argsa = STRALLOC_ZERO ;

static char const *argaddr (char const *s, int needlocal)
{
  size_t len = strlen(s), at ;
  char *a ;
  if (!tern_addr_sane(s, len))
    strerr_dief(100, "malformed address: ", s, " (want local@domain, without spaces, controls, colons or slashes)") ;
  if (!stralloc_copyb(&argsa, s, len + 1)) strerr_diefusys(111, "stralloc_catb") ;
  a = argsa.s ;
  tern_lower(a, len) ;
  at = tern_addr_domain(a, len) ;
  if (needlocal && !tern_domain_in(domains.s, domains.len, a + at + 1, len - at - 1))
    strerr_dief(100, "the domain of ", a, " is not in etc/domains: add it there first") ;
  return a ;
}

/* The new user's Maildir under mail/, with the special-use folders
   (RFC 6154: Drafts, Sent, Trash, Junk, Archive), made as the owner of
   mail/ (ternmail; as root, a child process takes that uid, so that no
   file of a mailbox is root's). Mail already there is kept. */
static void make_mailbox (char const *mb)
{
  stralloc path = STRALLOC_ZERO ;
  struct stat s ;
  pid_t pid ;
  int wstat ;
  if (!tern_path(&path, tern_root(), "mail")) strerr_diefusys(111, "stralloc") ;
  if (stat(path.s, &s) < 0) { strerr_warnwu2sys("stat ", path.s) ; stralloc_free(&path) ; return ; }
  if (!stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, mb) || !stralloc_0(&path)) strerr_diefusys(111, "stralloc") ;
  pid = fork() ;
  if (pid < 0) strerr_diefusys(111, "fork") ;
  if (!pid)
  {
    static char const *const sub[3] = { "/cur", "/new", "/tmp" } ;
    if (!geteuid())
    {
      if (!s.st_uid) strerr_dief(111, "mail/ belongs to root: not making the mailbox there") ;
      if (setgroups(1, &s.st_gid) < 0 || setgid(s.st_gid) < 0 || setuid(s.st_uid) < 0) strerr_diefusys(111, "become the owner of mail/") ;
    }
    umask(077) ;
    /* DOMAIN/LOCAL: the domain's directory first */
    for (size_t i = path.len - 2 ; i > 0 ; i--)
      if (path.s[i] == '/') { path.s[i] = 0 ; mkdir(path.s, 0700) ; path.s[i] = '/' ; break ; }
    if (mkdir(path.s, 0700) < 0 && errno != EEXIST) strerr_diefu2sys(111, "make ", path.s) ;
    for (unsigned int i = 0 ; i < 3 ; i++)
    {
      size_t l = path.len ;
      path.len-- ;
      if (!stralloc_cats(&path, sub[i]) || !stralloc_0(&path)) _exit(111) ;
      if (mkdir(path.s, 0700) < 0 && errno != EEXIST) strerr_diefu2sys(111, "make ", path.s) ;
      path.len = l ;
      path.s[l - 1] = 0 ;
    }
    if (!tern_folder_defaults(path.s)) strerr_diefu2sys(111, "make the special-use folders in ", path.s) ;
    _exit(0) ;
  }
  if (waitpid(pid, &wstat, 0) < 0 || !WIFEXITED(wstat) || WEXITSTATUS(wstat))
    strerr_warnw("the mailbox of the new user could not be made: pwcheck and imap-serve will make it at the first login") ;
  stralloc_free(&path) ;
}

static void do_add (char const *addr)
{
  char hash[CRYPT_OUTPUT_SIZE] ;
  stralloc mb = STRALLOC_ZERO ;
  int lfd ;
  load_all() ;
  if (find(&users, addr) >= 0) strerr_dief(100, "user ", addr, " already exists") ;
  newhash(hash, sizeof hash) ;
  lfd = lock() ;
  load_all() ;  /* again, under the lock */
  if (find(&users, addr) >= 0) strerr_dief(100, "user ", addr, " already exists") ;
  if (!default_mailbox(&mb, addr)) strerr_diefusys(111, "stralloc_catb") ;
  {
    ssize_t i = find(&passwd, addr) ;  /* a stale hash: replace it */
    if (i >= 0) raw_cut(&passwd, ent(&passwd, i)->line, ent(&passwd, i)->lineend) ;
  }
  raw_append(&users, addr, mb.s) ;
  raw_append(&passwd, addr, hash) ;
  explicit_bzero(hash, sizeof hash) ;
  parse(&users) ;
  parse(&passwd) ;
  commit(1) ;
  explicit_bzero(passwd.raw.s, passwd.raw.len) ;
  fd_close(lfd) ;
  make_mailbox(mb.s) ;
  strerr_warni("added ", addr, " mailbox=", mb.s) ;
  stralloc_free(&mb) ;
}

static void do_passwd (char const *addr)
{
  char hash[CRYPT_OUTPUT_SIZE] ;
  int lfd ;
  ssize_t i ;
  load_all() ;
  if (find(&users, addr) < 0) strerr_dief(100, "no such user: ", addr, "") ;
  newhash(hash, sizeof hash) ;
  lfd = lock() ;
  load_all() ;
  if (find(&users, addr) < 0) strerr_dief(100, "no such user: ", addr, "") ;
  i = find(&passwd, addr) ;
  if (i >= 0) raw_cut(&passwd, ent(&passwd, i)->line, ent(&passwd, i)->lineend) ;
  raw_append(&passwd, addr, hash) ;
  explicit_bzero(hash, sizeof hash) ;
  parse(&passwd) ;
  commit(1) ;
  fd_close(lfd) ;
  strerr_warni("changed the password of ", addr) ;
}

static void do_del (char const *addr)
{
  stralloc mb = STRALLOC_ZERO ;
  int lfd = lock() ;
  ssize_t i ;
  load_all() ;
  i = find(&users, addr) ;
  if (i < 0) strerr_dief(100, "no such user: ", addr) ;
  if (!stralloc_cats(&mb, users.pool.s + ent(&users, i)->val) || !stralloc_0(&mb)) strerr_diefusys(111, "stralloc_catb") ;
  raw_cut(&users, ent(&users, i)->line, ent(&users, i)->lineend) ;
  i = find(&passwd, addr) ;
  if (i >= 0) raw_cut(&passwd, ent(&passwd, i)->line, ent(&passwd, i)->lineend) ;
  parse(&users) ;
  parse(&passwd) ;
  commit(1) ;
  fd_close(lfd) ;
  strerr_warni("deleted ", addr, " (its mail in ", tern_root(), "/mail/", mb.s, " is kept: remove it by hand if it must go)") ;
  stralloc_free(&mb) ;
}

static void do_list (char const *addr)
{
  size_t n ;
  nerrors = 0 ;
  load(&users) ;
  if (nerrors) strerr_dief(100, "etc/users has errors") ;
  n = nents(&users) ;
  if (addr && find(&users, addr) < 0) strerr_dief(100, "no such user: ", addr) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *k = users.pool.s + ent(&users, i)->key ;
    if (addr && strcmp(addr, k)) continue ;
    if (buffer_puts(buffer_1, k) < 0 || buffer_put(buffer_1, " ", 1) < 0
     || buffer_puts(buffer_1, users.pool.s + ent(&users, i)->val) < 0
     || buffer_put(buffer_1, "\n", 1) < 0) strerr_diefusys(111, "write to stdout") ;
  }
  if (!buffer_flush(buffer_1)) strerr_diefusys(111, "write to stdout") ;
}

static void do_rebuild (void)
{
  int lfd = lock() ;
  load_all() ;
  warn_orphans() ;
  commit(0) ;
  fd_close(lfd) ;
  {
    char a[SIZE_FMT], b[SIZE_FMT] ;
    a[size_fmt(a, nents(&users))] = 0 ;
    b[size_fmt(b, nents(&passwd))] = 0 ;
    strerr_warni("rebuilt users.cdb with ", a, " users and passwd.cdb with ", b) ;
  }
}

int main (int argc, char const *const *argv)
{
  subgetopt l = SUBGETOPT_ZERO ;
  char const *cmd ;
  PROG = "mailuser" ;
  for (;;)
  {
    int opt = subgetopt_r(argc, argv, "", &l) ;
    if (opt == -1) break ;
    dieusage() ;
  }
  argc -= l.ind ; argv += l.ind ;
  if (!argc) dieusage() ;
  cmd = argv[0] ;
  umask(022) ;

  if (!tern_path(&users.path, tern_root(), "etc/users")
   || !tern_path(&passwd.path, tern_root(), "etc/passwd")) strerr_diefusys(111, "stralloc_catb") ;
  if (!tern_cfg_lines(&domains, "domains") && errno != ENOENT) strerr_diefusys(111, "read etc/domains") ;

  if (!strcmp(cmd, "add") || !strcmp(cmd, "passwd") || !strcmp(cmd, "del"))
  {
    char const *addr ;
    if (argc != 2) dieusage() ;
    addr = argaddr(argv[1], cmd[0] == 'a') ;
    if (cmd[0] == 'a') do_add(addr) ;
    else if (cmd[0] == 'p') do_passwd(addr) ;
    else do_del(addr) ;
  }
  else if (!strcmp(cmd, "list"))
  {
    if (argc > 2) dieusage() ;
    do_list(argc == 2 ? argaddr(argv[1], 0) : 0) ;
  }
  else if (!strcmp(cmd, "rebuild"))
  {
    if (argc != 1) dieusage() ;
    do_rebuild() ;
  }
  else dieusage() ;
  return 0 ;
}
