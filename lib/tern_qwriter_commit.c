/* tern_qwriter_commit: finish a queue file crash-safely. The header and the
   envelope records go in front of the body (moved further if they do not fit
   its 4096 reserved octets), then fsync, rename into incoming/, and fsync of
   incoming/: when this returns 1 the message survives a power cut. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <skalibs/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include "tern.h"

static int writeall (int fd, char const *s, size_t len, off_t off)
{
  while (len)
  {
    ssize_t r = pwrite(fd, s, len, off) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    s += r ; len -= r ; off += r ;
  }
  return 1 ;
}

static void fmthdr (char *hdr, uint32_t off)
{
  char num[UINT32_FMT] ;
  size_t n = uint32_fmt(num, off) ;
  memcpy(hdr, TERN_QUEUE_MAGIC, TERN_QUEUE_MAGIC_LEN) ;
  memset(hdr + TERN_QUEUE_MAGIC_LEN, '0', 10 - n) ;
  memcpy(hdr + TERN_QUEUE_MAGIC_LEN + 10 - n, num, n) ;
  hdr[TERN_QUEUE_HDRLEN - 1] = '\n' ;
}

/* The records do not fit in front of the body: copy the body into a new
   temp file with a larger offset. Rare (hundreds of recipients). */
static int move_body (tern_qwriter *q, uint32_t newoff)
{
  stralloc newname = STRALLOC_ZERO ;
  char buf[65536] ;
  off_t in = TERN_QUEUE_BODY, out = newoff ;
  int rfd, wfd ;
  if (!stralloc_copyb(&newname, q->tmpname.s, q->tmpname.len - 1)
   || !stralloc_cats(&newname, ".big") || !stralloc_0(&newname)) return 0 ;
  rfd = open(q->tmpname.s, O_RDONLY | O_CLOEXEC) ;
  if (rfd < 0) goto err0 ;
  wfd = open(newname.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) ;
  if (wfd < 0) goto err1 ;
  for (;;)
  {
    ssize_t r = pread(rfd, buf, sizeof buf, in) ;
    if (r < 0) { if (errno == EINTR) continue ; goto err2 ; }
    if (!r) break ;
    if (!writeall(wfd, buf, r, out)) goto err2 ;
    in += r ; out += r ;
  }
  fd_close(rfd) ;
  unlink(q->tmpname.s) ;
  fd_close(q->fd) ;
  q->fd = wfd ;
  stralloc_free(&q->tmpname) ;
  q->tmpname = newname ;
  return 1 ;
 err2:
  fd_close(wfd) ;
  unlink(newname.s) ;
 err1:
  fd_close(rfd) ;
 err0:
  stralloc_free(&newname) ;
  return 0 ;
}

int tern_qwriter_commit (tern_qwriter *q, char const *rec, size_t reclen)
{
  stralloc dst = STRALLOC_ZERO ;
  char hdr[TERN_QUEUE_HDRLEN] ;
  uint32_t off = TERN_QUEUE_BODY ;
  int dfd, e ;
  if (TERN_QUEUE_HDRLEN + reclen > TERN_QUEUE_BODY)
  {
    if (reclen > (1U << 30)) { errno = E2BIG ; goto err ; }
    off = (TERN_QUEUE_HDRLEN + reclen + TERN_QUEUE_BODY - 1) / TERN_QUEUE_BODY * TERN_QUEUE_BODY ;
    if (!move_body(q, off)) goto err ;
  }
  fmthdr(hdr, off) ;
  if (!writeall(q->fd, hdr, TERN_QUEUE_HDRLEN, 0)
   || !writeall(q->fd, rec, reclen, TERN_QUEUE_HDRLEN)) goto err ;
  {
    /* an empty message: the file must still reach the body offset */
    struct stat st ;
    if (fstat(q->fd, &st) < 0) goto err ;
    if (st.st_size < (off_t)off && ftruncate(q->fd, off) < 0) goto err ;
  }
  if (fsync(q->fd) < 0) goto err ;
  if (!stralloc_cats(&dst, q->qdir) || !stralloc_cats(&dst, "/incoming/")
   || !stralloc_cats(&dst, q->id) || !stralloc_0(&dst)) goto err ;
  if (rename(q->tmpname.s, dst.s) < 0) goto err ;
  q->tmpname.len = 0 ;
  dst.len = 0 ;
  if (!stralloc_cats(&dst, q->qdir) || !stralloc_cats(&dst, "/incoming") || !stralloc_0(&dst)) goto errdone ;
  dfd = open(dst.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (dfd < 0) goto errdone ;
  if (fsync(dfd) < 0) { e = errno ; fd_close(dfd) ; errno = e ; goto errdone ; }
  fd_close(dfd) ;
  fd_close(q->fd) ;
  q->fd = -1 ;
  stralloc_free(&dst) ;
  return 1 ;
 errdone:
  /* Renamed but not known to be durable: the caller must not acknowledge,
     and the file stays (a duplicate at worst, never a loss). */
  e = errno ;
  fd_close(q->fd) ;
  q->fd = -1 ;
  stralloc_free(&dst) ;
  errno = e ;
  return 0 ;
 err:
  e = errno ;
  stralloc_free(&dst) ;
  tern_qwriter_abort(q) ;
  errno = e ;
  return 0 ;
}
