/* tern_qfile_header: read and check a queue file's header and records. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/types.h>
#include <skalibs/stralloc.h>
#include "tern.h"

static int readat (int fd, char *s, size_t len, off_t off)
{
  while (len)
  {
    ssize_t r = pread(fd, s, len, off) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) return (errno = EPROTO, 0) ;
    s += r ; len -= r ; off += r ;
  }
  return 1 ;
}

int tern_qfile_header (int fd, stralloc *sa, uint32_t *bodyoff)
{
  char hdr[TERN_QUEUE_HDRLEN] ;
  uint32_t off ;
  size_t i, start ;
  if (!readat(fd, hdr, TERN_QUEUE_HDRLEN, 0)) return 0 ;
  if (memcmp(hdr, TERN_QUEUE_MAGIC, TERN_QUEUE_MAGIC_LEN) || hdr[TERN_QUEUE_HDRLEN - 1] != '\n')
    return (errno = EPROTO, 0) ;
  hdr[TERN_QUEUE_HDRLEN - 1] = 0 ;
  if (!uint320_scan(hdr + TERN_QUEUE_MAGIC_LEN, &off) || off < TERN_QUEUE_HDRLEN)
    return (errno = EPROTO, 0) ;
  start = sa->len ;
  if (!stralloc_readyplus(sa, off - TERN_QUEUE_HDRLEN)) return 0 ;
  if (!readat(fd, sa->s + start, off - TERN_QUEUE_HDRLEN, TERN_QUEUE_HDRLEN)) return 0 ;
  /* records up to and including the empty one */
  for (i = start ; i < start + off - TERN_QUEUE_HDRLEN ; )
  {
    size_t n = strnlen(sa->s + i, start + off - TERN_QUEUE_HDRLEN - i) ;
    if (i + n >= start + off - TERN_QUEUE_HDRLEN) return (errno = EPROTO, 0) ;
    i += n + 1 ;
    if (!n) { sa->len = i ; *bodyoff = off ; return 1 ; }
  }
  return (errno = EPROTO, 0) ;
}
