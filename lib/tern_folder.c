/* tern_folder: the folders of a Maildir++ mailbox. INBOX is the root;
   folder "a.b" is the directory ".a.b" in it ("." is the hierarchy
   separator, names on the disk in modified UTF-7 as Dovecot and Courier
   keep them); "subscriptions" lists the subscribed names, a line each;
   "tern-special-use" in a folder gives its RFC 6154 attributes. A name
   that could leave the root, or that the disk form cannot hold, is
   refused before any path is made of it. One file: the operations share
   the name checks and the directory walks. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include <skalibs/djbunix.h>
#include "tern_store_int.h"
#include "tern_imap.h"

#define SPECIAL "tern-special-use"
#define SUBS "subscriptions"

static int isinbox (char const *s, size_t len)
{
  return len == 5 && !strncasecmp(s, "INBOX", 5) ;
}

void tern_folder_canon (char *s, size_t len)
{
  if (len >= 5 && !strncasecmp(s, "INBOX", 5) && (len == 5 || s[5] == '.')) memcpy(s, "INBOX", 5) ;
}

/* A name a folder may have: modified UTF-7, no control characters, no
   "/" (the disk's separator), no wildcards, no empty level (no leading,
   trailing or doubled "."), not too long for one directory name. */
static int sane (char const *s, size_t len)
{
  if (!len || len > TERN_FOLDER_NAMEMAX) return 0 ;
  if (s[0] == '.' || s[len-1] == '.') return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    unsigned char c = s[i] ;
    if (c < 0x20 || c >= 0x7f || c == '/' || c == '%' || c == '*') return 0 ;
    if (c == '.' && s[i+1] == '.') return 0 ;
  }
  return tern_mutf7_valid(s, len) ;
}

int tern_folder_dir (stralloc *sa, char const *root, char const *name, size_t len)
{
  if (isinbox(name, len)) return stralloc_cats(sa, root) && stralloc_0(sa) ;
  if (!sane(name, len)) return (errno = EINVAL, 0) ;
  if (!stralloc_cats(sa, root) || !stralloc_catb(sa, "/.", 2)) return 0 ;
  {
    /* "INBOX.x" in any case is kept as "INBOX.x" on the disk */
    size_t at = sa->len ;
    if (!stralloc_catb(sa, name, len)) return 0 ;
    tern_folder_canon(sa->s + at, len) ;
  }
  return stralloc_0(sa) ;
}

static int namecmp (void const *a, void const *b)
{
  return strcmp(*(char const *const *)a, *(char const *const *)b) ;
}

int tern_folder_list (stralloc *sa, char const *root)
{
  stralloc tmp = STRALLOC_ZERO ;
  genalloc ptrs = GENALLOC_ZERO ;
  DIR *d = opendir(root) ;
  int ok = 0 ;
  if (!d) return 0 ;
  for (;;)
  {
    struct dirent *de ;
    size_t len ;
    errno = 0 ;
    de = readdir(d) ;
    if (!de) break ;
    if (de->d_name[0] != '.') continue ;
    len = strlen(de->d_name + 1) ;
    if (!len || !sane(de->d_name + 1, len) || isinbox(de->d_name + 1, len)) continue ;
    if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) continue ;
    if (de->d_type == DT_UNKNOWN)
    {
      struct stat s ;
      if (fstatat(dirfd(d), de->d_name, &s, 0) < 0 || !S_ISDIR(s.st_mode)) continue ;
    }
    if (!stralloc_catb(&tmp, de->d_name + 1, len + 1)) goto end ;
  }
  if (errno) goto end ;
  /* sorted, INBOX first */
  for (size_t i = 0 ; i < tmp.len ; i += strlen(tmp.s + i) + 1)
  {
    char const *p = tmp.s + i ;
    if (!genalloc_append(char const *, &ptrs, &p)) goto end ;
  }
  qsort(genalloc_s(char const *, &ptrs), genalloc_len(char const *, &ptrs), sizeof(char const *), &namecmp) ;
  if (!stralloc_catb(sa, "INBOX", 6)) goto end ;
  for (size_t i = 0 ; i < genalloc_len(char const *, &ptrs) ; i++)
    if (!stralloc_cats(sa, genalloc_s(char const *, &ptrs)[i]) || !stralloc_0(sa)) goto end ;
  ok = 1 ;
 end:
  {
    int e = errno ;
    closedir(d) ;
    stralloc_free(&tmp) ;
    genalloc_free(char const *, &ptrs) ;
    errno = e ;
  }
  return ok ;
}

static int put_file (int dirfd, char const *name, char const *s, size_t len)
{
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (fd < 0) return 0 ;
  if ((len && write(fd, s, len) != (ssize_t)len) || fsync(fd) < 0) { int e = errno ; fd_close(fd) ; errno = e ; return 0 ; }
  fd_close(fd) ;
  return 1 ;
}

static char const *const usenames[] = { "\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", 0 } ;

/* One folder's directory, made: cur/ new/ tmp/, maildirfolder, a fresh
   uidlist (a new UIDVALIDITY: RFC 3501 2.3.1.1), the special use. */
static int make_one (char const *root, char const *dir, unsigned int use)
{
  static char const *const sub[3] = { "cur", "new", "tmp" } ;
  char buf[64] ;
  uint32_t uv ;
  size_t n ;
  int fd ;
  if (mkdir(dir, 0700) < 0) return 0 ;
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  for (unsigned int i = 0 ; i < 3 ; i++)
    if (mkdirat(fd, sub[i], 0700) < 0 && errno != EEXIST) goto err ;
  if (!put_file(fd, "maildirfolder", "", 0)) goto err ;
  if (!tern_store__uidvalidity_new(dir, &uv)) goto err ;
  memcpy(buf, UIDLIST_MAGIC, sizeof(UIDLIST_MAGIC) - 1) ; n = sizeof(UIDLIST_MAGIC) - 1 ;
  n += uint_fmt(buf + n, uv) ;
  memcpy(buf + n, " 1\n", 3) ; n += 3 ;
  if (!put_file(fd, UIDLIST, buf, n)) goto err ;
  if (use)
  {
    stralloc u = STRALLOC_ZERO ;
    for (unsigned int i = 0 ; usenames[i] ; i++)
      if (use & (1u << i) && (!stralloc_cats(&u, u.len ? " " : "") || !stralloc_cats(&u, usenames[i]))) { stralloc_free(&u) ; goto err ; }
    if (!stralloc_catb(&u, "\n", 1) || !put_file(fd, SPECIAL, u.s, u.len)) { stralloc_free(&u) ; goto err ; }
    stralloc_free(&u) ;
  }
  if (fsync(fd) < 0) goto err ;
  fd_close(fd) ;
  (void)root ;
  return 1 ;
 err:
  {
    int e = errno ;
    fd_close(fd) ;
    errno = e ;
  }
  return 0 ;
}

static int sync_root (char const *root)
{
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  fsync(fd) ;
  fd_close(fd) ;
  return 1 ;
}

int tern_folder_create (char const *root, char const *name, size_t len, unsigned int use)
{
  stralloc dir = STRALLOC_ZERO ;
  int ok = 0 ;
  if (isinbox(name, len)) return (errno = EEXIST, 0) ;
  if (!tern_folder_dir(&dir, root, name, len)) return 0 ;
  /* superior names the CREATE needs are made too (RFC 3501 6.3.3) */
  for (size_t i = 0 ; i < len ; i++)
    if (name[i] == '.')
    {
      stralloc up = STRALLOC_ZERO ;
      struct stat s ;
      if (isinbox(name, i)) continue ;
      if (!tern_folder_dir(&up, root, name, i)) { stralloc_free(&dir) ; return 0 ; }
      if (stat(up.s, &s) < 0 && !make_one(root, up.s, 0) && errno != EEXIST) { stralloc_free(&up) ; stralloc_free(&dir) ; return 0 ; }
      stralloc_free(&up) ;
    }
  ok = make_one(root, dir.s, use) && sync_root(root) ;
  stralloc_free(&dir) ;
  return ok ;
}

static int rmtree_at (int dirfd, char const *name)
{
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  DIR *d ;
  if (fd < 0) return errno == ENOENT ;
  d = fdopendir(fd) ;
  if (!d) { fd_close(fd) ; return 0 ; }
  for (;;)
  {
    struct dirent *de = readdir(d) ;
    if (!de) break ;
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue ;
    if (unlinkat(fd, de->d_name, 0) < 0 && (errno == EISDIR || errno == EPERM)) rmtree_at(fd, de->d_name) ;
  }
  closedir(d) ;
  return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ;
}

int tern_folder_delete (char const *root, char const *name, size_t len)
{
  stralloc dir = STRALLOC_ZERO, gone = STRALLOC_ZERO ;
  struct timespec ts ;
  char fmt[UINT64_FMT] ;
  int rfd, ok = 0 ;
  if (isinbox(name, len)) return (errno = EPERM, 0) ;
  if (!tern_folder_dir(&dir, root, name, len)) return 0 ;
  /* out of sight at once (a name with an empty first level is no
     folder), then removed */
  clock_gettime(CLOCK_REALTIME, &ts) ;
  if (!stralloc_cats(&gone, "..deleted.") || !stralloc_catb(&gone, fmt, uint64_fmt(fmt, (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec))
   || !stralloc_catb(&gone, ".", 1) || !stralloc_catb(&gone, fmt, pid_fmt(fmt, getpid())) || !stralloc_0(&gone)) goto end ;
  rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (rfd < 0) goto end ;
  if (renameat(rfd, strrchr(dir.s, '/') + 1, rfd, gone.s) < 0) { int e = errno ; fd_close(rfd) ; errno = e ; goto end ; }
  fsync(rfd) ;
  rmtree_at(rfd, gone.s) ;
  fd_close(rfd) ;
  ok = 1 ;
 end:
  stralloc_free(&dir) ;
  stralloc_free(&gone) ;
  return ok ;
}

int tern_folder_rename (char const *root, char const *from, size_t flen, char const *to, size_t tlen)
{
  stralloc a = STRALLOC_ZERO, b = STRALLOC_ZERO, names = STRALLOC_ZERO ;
  struct stat s ;
  int ok = 0 ;
  if (isinbox(from, flen) || isinbox(to, tlen)) return (errno = EPERM, 0) ;
  if (!tern_folder_dir(&a, root, from, flen) || !tern_folder_dir(&b, root, to, tlen)) goto end ;
  if (stat(b.s, &s) == 0) { errno = EEXIST ; goto end ; }
  /* into oneself is no rename (RFC 3501 6.3.5) */
  if (tlen > flen && !strncmp(to, from, flen) && to[flen] == '.') { errno = EINVAL ; goto end ; }
  for (size_t i = 0 ; i < tlen ; i++)
    if (to[i] == '.' && !isinbox(to, i))
    {
      stralloc up = STRALLOC_ZERO ;
      if (!tern_folder_dir(&up, root, to, i)) goto end ;
      if (stat(up.s, &s) < 0 && !make_one(root, up.s, 0) && errno != EEXIST) { stralloc_free(&up) ; goto end ; }
      stralloc_free(&up) ;
    }
  if (!tern_folder_list(&names, root)) goto end ;
  if (rename(a.s, b.s) < 0) goto end ;
  /* the inferior names move with it */
  for (size_t i = 0 ; i < names.len ; i += strlen(names.s + i) + 1)
  {
    char const *n = names.s + i ;
    size_t nl = strlen(n) ;
    stralloc x = STRALLOC_ZERO, y = STRALLOC_ZERO ;
    if (nl <= flen || strncmp(n, from, flen) || n[flen] != '.') continue ;
    if (!stralloc_catb(&y, to, tlen) || !stralloc_catb(&y, n + flen, nl - flen)) goto end ;
    if (y.len > TERN_FOLDER_NAMEMAX) { stralloc_free(&y) ; continue ; }
    if (!tern_folder_dir(&x, root, n, nl) || !stralloc_0(&y)) { stralloc_free(&x) ; stralloc_free(&y) ; goto end ; }
    {
      stralloc yd = STRALLOC_ZERO ;
      if (tern_folder_dir(&yd, root, y.s, y.len - 1)) rename(x.s, yd.s) ;
      stralloc_free(&yd) ;
    }
    stralloc_free(&x) ; stralloc_free(&y) ;
  }
  sync_root(root) ;
  ok = 1 ;
 end:
  {
    int e = errno ;
    stralloc_free(&a) ; stralloc_free(&b) ; stralloc_free(&names) ;
    errno = e ;
  }
  return ok ;
}

unsigned int tern_folder_use (char const *root, char const *name, size_t len)
{
  stralloc dir = STRALLOC_ZERO, f = STRALLOC_ZERO ;
  unsigned int use = 0 ;
  int fd ;
  if (isinbox(name, len) || !tern_folder_dir(&dir, root, name, len)) { stralloc_free(&dir) ; return 0 ; }
  fd = open(dir.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  stralloc_free(&dir) ;
  if (fd < 0) return 0 ;
  if (tern_store__readfile(fd, SPECIAL, &f))
  {
    size_t i = 0 ;
    while (i < f.len)
    {
      size_t j = i ;
      while (j < f.len && f.s[j] != ' ' && f.s[j] != '\n') j++ ;
      for (unsigned int k = 0 ; usenames[k] ; k++)
        if (strlen(usenames[k]) == j - i && !strncasecmp(usenames[k], f.s + i, j - i)) use |= 1u << k ;
      i = j + 1 ;
    }
  }
  fd_close(fd) ;
  stralloc_free(&f) ;
  return use ;
}

int tern_folder_defaults (char const *root)
{
  static struct { char const *name ; unsigned int use ; } const def[] =
  {
    { "Drafts", TERN_USE_DRAFTS }, { "Sent", TERN_USE_SENT }, { "Trash", TERN_USE_TRASH },
    { "Junk", TERN_USE_JUNK }, { "Archive", TERN_USE_ARCHIVE }
  } ;
  for (unsigned int i = 0 ; i < sizeof(def) / sizeof(def[0]) ; i++)
  {
    stralloc dir = STRALLOC_ZERO ;
    struct stat s ;
    size_t len = strlen(def[i].name) ;
    if (!tern_folder_dir(&dir, root, def[i].name, len)) return 0 ;
    if (stat(dir.s, &s) < 0)
    {
      if (!tern_folder_create(root, def[i].name, len, def[i].use) && errno != EEXIST) { stralloc_free(&dir) ; return 0 ; }
      if (!tern_subs_change(root, def[i].name, len, 1)) { stralloc_free(&dir) ; return 0 ; }
    }
    stralloc_free(&dir) ;
  }
  return 1 ;
}

int tern_subs_read (stralloc *sa, char const *root)
{
  stralloc f = STRALLOC_ZERO ;
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  size_t i = 0 ;
  if (fd < 0) return 0 ;
  if (!tern_store__readfile(fd, SUBS, &f))
  {
    int e = errno ;
    fd_close(fd) ;
    return e == ENOENT ;
  }
  fd_close(fd) ;
  while (i < f.len)
  {
    char *nl = memchr(f.s + i, '\n', f.len - i) ;
    size_t j = nl ? (size_t)(nl - f.s) : f.len ;
    if (j > i && (!stralloc_catb(sa, f.s + i, j - i) || !stralloc_0(sa))) { stralloc_free(&f) ; return 0 ; }
    i = j + 1 ;
  }
  stralloc_free(&f) ;
  return 1 ;
}

int tern_subs_change (char const *root, char const *name, size_t len, int add)
{
  stralloc cur = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ok = 0, had = 0 ;
  if (fd < 0) return 0 ;
  if (memchr(name, '\n', len) || memchr(name, 0, len)) { fd_close(fd) ; return (errno = EINVAL, 0) ; }
  if (flock(fd, LOCK_EX) < 0) goto end ;
  if (!tern_subs_read(&cur, root)) goto end ;
  for (size_t i = 0 ; i < cur.len ; i += strlen(cur.s + i) + 1)
  {
    char const *n = cur.s + i ;
    if (strlen(n) == len && !memcmp(n, name, len)) { had = 1 ; if (!add) continue ; }
    if (!stralloc_cats(&out, n) || !stralloc_catb(&out, "\n", 1)) goto end ;
  }
  if (add && !had && (!stralloc_catb(&out, name, len) || !stralloc_catb(&out, "\n", 1))) goto end ;
  if (add == had) { ok = 1 ; goto end ; }
  if (!put_file(fd, SUBS ".tmp", out.s, out.len) || renameat(fd, SUBS ".tmp", fd, SUBS) < 0) goto end ;
  fsync(fd) ;
  ok = 1 ;
 end:
  {
    int e = errno ;
    flock(fd, LOCK_UN) ;
    fd_close(fd) ;
    stralloc_free(&cur) ; stralloc_free(&out) ;
    errno = e ;
  }
  return ok ;
}
