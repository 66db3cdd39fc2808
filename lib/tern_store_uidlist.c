/* tern_store_uidlist: tern-uidlist, the folder's append-only record of
   UIDs (DESIGN.md): a header line "tern-uidlist 1 UIDVALIDITY NEXTUID",
   then "UID UNIQUE-NAME" a line, UIDs increasing. A line is written and
   fdatasynced before its UID is announced; a torn last line (a writer
   killed in mid-write: its UID was never announced) is cut off by the
   next writer. Written under the folder's lock only. Also the choice of
   a new UIDVALIDITY, from tern-uidvalidity at the Maildir root. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include <skalibs/djbunix.h>
#include "tern_store_int.h"

static int writeall (int fd, char const *s, size_t n)
{
  while (n)
  {
    ssize_t r = write(fd, s, n) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    s += r ; n -= r ;
  }
  return 1 ;
}

/* Cuts a torn last line: the file must end with LF (or be empty). */
static int untear (int fd, off_t *size)
{
  char buf[4096] ;
  off_t end = *size ;
  while (end > 0)
  {
    size_t n = end < (off_t)sizeof(buf) ? (size_t)end : sizeof(buf) ;
    ssize_t r = pread(fd, buf, n, end - n) ;
    if (r != (ssize_t)n) return 0 ;
    if (end == *size && buf[n-1] == '\n') return 1 ;
    for (size_t i = n ; i-- ;)
      if (buf[i] == '\n')
      {
        off_t cut = end - n + i + 1 ;
        if (ftruncate(fd, cut) < 0) return 0 ;
        *size = cut ;
        return 1 ;
      }
    end -= n ;
  }
  if (*size && ftruncate(fd, 0) < 0) return 0 ;
  *size = 0 ;
  return 1 ;
}

int tern_store__uidlist_append (tern_store *st, uint32_t const *uids, char const *const *names, size_t const *lens, size_t n, uint64_t *newsize)
{
  stralloc sa = STRALLOC_ZERO ;
  struct stat s ;
  off_t size ;
  int fd = openat(st->dirfd, UIDLIST, O_RDWR | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  if (fstat(fd, &s) < 0) goto err ;
  size = s.st_size ;
  if (!untear(fd, &size)) goto err ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char fmt[UINT_FMT] ;
    if (!stralloc_catb(&sa, fmt, uint_fmt(fmt, uids[i])) || !stralloc_catb(&sa, " ", 1)
     || !stralloc_catb(&sa, names[i], lens[i]) || !stralloc_catb(&sa, "\n", 1)) goto err ;
  }
  if (lseek(fd, size, SEEK_SET) < 0 || !writeall(fd, sa.s, sa.len) || fdatasync(fd) < 0) goto err ;
  *newsize = size + sa.len ;
  stralloc_free(&sa) ;
  fd_close(fd) ;
  return 1 ;
 err:
  {
    int e = errno ;
    stralloc_free(&sa) ;
    fd_close(fd) ;
    errno = e ;
  }
  return 0 ;
}

/* Under the lock, at the start of every write: the lines of the uidlist
   past what the index holds (a writer killed between the two), so that
   their UIDs are never given again; those whose names the index lacks
   go into w->adopt, for the scan to give the files those very UIDs. A
   torn last line is cut here too. */
int tern_store__uidlist_catch_up (wctx *w)
{
  tern_store *st = w->st ;
  stralloc f = STRALLOC_ZERO ;
  struct stat s ;
  uint64_t known = 0 ;
  uint32_t uv, next ;
  size_t off ;
  int ok = 0 ;
  if (fstatat(st->dirfd, UIDLIST, &s, 0) < 0) return errno == ENOENT ;
  if (tern_store__meta_get(w->txn, st->dmeta, M_ULSIZE, &known) < 0) return 0 ;
  if ((uint64_t)s.st_size == known) return 1 ;
  {
    int fd = openat(st->dirfd, UIDLIST, O_RDWR | O_CLOEXEC) ;
    off_t size = s.st_size ;
    if (fd < 0) return 0 ;
    if (!untear(fd, &size)) { fd_close(fd) ; return 0 ; }
    fd_close(fd) ;
  }
  if (!tern_store__readfile(st->dirfd, UIDLIST, &f)) return errno == ENOENT ;
  if (!tern_store__uidlist_header(f.s, f.len, &uv, &next, &off)) { errno = EILSEQ ; goto end ; }
  if (next > w->uidnext) w->uidnext = next ;
  if (known > off && known <= f.len) off = known ;
  for (;;)
  {
    uint32_t uid ;
    char const *nm ;
    size_t nl ;
    int r = tern_store__uidlist_line(f.s, f.len, &off, &uid, &nm, &nl) ;
    if (r <= 0) break ;
    if (uid >= w->uidnext) w->uidnext = (uint64_t)uid + 1 ;
    {
      MDB_val k = { .mv_size = nl, .mv_data = (void *)nm }, d ;
      int g = mdb_get(w->txn, st->dname, &k, &d) ;
      if (g == MDB_NOTFOUND)
      {
        if (!stralloc_catb(&w->adopt, (char const *)&uid, 4) || !stralloc_catb(&w->adopt, nm, nl) || !stralloc_0(&w->adopt)) goto end ;
      }
      else if (g) { errno = tern_store__mdberr(g) ; goto end ; }
    }
  }
  if (!tern_store__meta_put(w->txn, st->dmeta, M_ULSIZE, f.len)) goto end ;
  ok = 1 ;
 end:
  stralloc_free(&f) ;
  return ok ;
}

/* The UID the uidlist already gives a unique name it had and the index
   lacked: 1 with *uid, or 0. */
int tern_store__adopted (wctx const *w, char const *name, size_t ul, uint32_t *uid)
{
  for (size_t i = 0 ; i < w->adopt.len ;)
  {
    char const *nm = w->adopt.s + i + 4 ;
    size_t nl = strlen(nm) ;
    if (nl == ul && !memcmp(nm, name, ul)) { memcpy(uid, w->adopt.s + i, 4) ; return 1 ; }
    i += 4 + nl + 1 ;
  }
  return 0 ;
}

/* The header of a uidlist in s[0..len): 1 with the values and *off, the
   first line's end; 0 if it is not one. */
int tern_store__uidlist_header (char const *s, size_t len, uint32_t *uv, uint32_t *next, size_t *off)
{
  size_t m = sizeof(UIDLIST_MAGIC) - 1, i, k ;
  unsigned int a, b ;
  char const *nl = memchr(s, '\n', len) ;
  if (!nl || (size_t)(nl - s) < m || memcmp(s, UIDLIST_MAGIC, m)) return 0 ;
  i = m ;
  k = uint_scan(s + i, &a) ;
  if (!k || s[i+k] != ' ') return 0 ;
  i += k + 1 ;
  k = uint_scan(s + i, &b) ;
  if (!k || s + i + k != nl || !a || !b) return 0 ;
  *uv = a ; *next = b ;
  *off = nl - s + 1 ;
  return 1 ;
}

/* One line "UID NAME" of s from *pos: 1 with it, 0 at the end (a torn
   line is the end), -1 malformed. */
int tern_store__uidlist_line (char const *s, size_t len, size_t *pos, uint32_t *uid, char const **name, size_t *nlen)
{
  char const *nl ;
  unsigned int u ;
  size_t k, i = *pos ;
  if (i >= len) return 0 ;
  nl = memchr(s + i, '\n', len - i) ;
  if (!nl) return 0 ;
  k = uint_scan(s + i, &u) ;
  if (!k || !u || s[i+k] != ' ' || s + i + k + 1 >= nl) return -1 ;
  *uid = u ;
  *name = s + i + k + 1 ;
  *nlen = nl - *name ;
  *pos = nl - s + 1 ;
  return 1 ;
}

/* A new uidlist (atomically: a temporary file, fsync, rename, fsync of
   the folder) with the header and the lines in body. */
int tern_store__uidlist_write (tern_store *st, uint32_t uv, uint32_t next, char const *body, size_t blen, uint64_t *size)
{
  char hdr[64] ;
  size_t h = 0 ;
  int fd ;
  memcpy(hdr, UIDLIST_MAGIC, sizeof(UIDLIST_MAGIC) - 1) ; h = sizeof(UIDLIST_MAGIC) - 1 ;
  h += uint_fmt(hdr + h, uv) ; hdr[h++] = ' ' ;
  h += uint_fmt(hdr + h, next) ; hdr[h++] = '\n' ;
  fd = openat(st->dirfd, UIDLIST ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (fd < 0) return 0 ;
  if (!writeall(fd, hdr, h) || !writeall(fd, body, blen) || fsync(fd) < 0) goto err ;
  fd_close(fd) ;
  if (renameat(st->dirfd, UIDLIST ".tmp", st->dirfd, UIDLIST) < 0) { unlinkat(st->dirfd, UIDLIST ".tmp", 0) ; return 0 ; }
  if (!tern_store__fsync_fd(st->dirfd)) return 0 ;
  *size = h + blen ;
  return 1 ;
 err:
  {
    int e = errno ;
    fd_close(fd) ;
    unlinkat(st->dirfd, UIDLIST ".tmp", 0) ;
    errno = e ;
  }
  return 0 ;
}

/* A UIDVALIDITY never given before to a folder of this Maildir (RFC 3501
   2.3.1.1: a name deleted and created again gets a new one): the
   current time, or one more than the last one given, whichever is more,
   recorded in tern-uidvalidity at the root (the folder itself for
   INBOX, its parent for a .Name folder). */
int tern_store__uidvalidity_new (char const *folder, uint32_t *uv)
{
  size_t len = strlen(folder) ;
  char const *slash = len ? strrchr(folder, '/') : 0 ;
  int isfolder = slash ? slash[1] == '.' : folder[0] == '.' && folder[1] && folder[1] != '/' ;
  size_t rootlen = isfolder ? (slash ? (size_t)(slash - folder) : 0) : len ;
  char path[rootlen + 32] ;
  char buf[32] ;
  unsigned int last = 0, v ;
  ssize_t r ;
  int fd ;
  if (rootlen) { memcpy(path, folder, rootlen) ; path[rootlen] = '/' ; memcpy(path + rootlen + 1, "tern-uidvalidity", 17) ; }
  else memcpy(path, "tern-uidvalidity", 17) ;
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  v = (unsigned int)time(0) ;
  if (fd < 0) { *uv = v ; return 1 ; }    /* a root we cannot write: the time alone */
  if (flock(fd, LOCK_EX) < 0) { fd_close(fd) ; *uv = v ; return 1 ; }
  r = pread(fd, buf, sizeof(buf) - 1, 0) ;
  if (r > 0) { buf[r] = 0 ; uint_scan(buf, &last) ; }
  if (v <= last) v = last + 1 ;
  if (!v) v = 1 ;
  r = uint_fmt(buf, v) ;
  buf[r++] = '\n' ;
  if (pwrite(fd, buf, r, 0) == r) { if (ftruncate(fd, r) < 0) {} ; fdatasync(fd) ; }
  fd_close(fd) ;
  *uv = v ;
  return 1 ;
}
