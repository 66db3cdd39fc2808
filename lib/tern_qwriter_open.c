/* tern_qwriter_open: create a new queue file in QDIR/tmp/, O_EXCL, positioned
   at the body offset; its name SECONDS.MICROSECONDS.PID is the message id. */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/time.h>
#include <skalibs/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include "tern.h"

int tern_qwriter_open (tern_qwriter *q, char const *qdir)
{
  struct timeval tv ;
  size_t n ;
  for (unsigned int tries = 0 ; tries < 10 ; tries++)
  {
    gettimeofday(&tv, 0) ;
    n = uint64_fmt(q->id, (uint64_t)tv.tv_sec) ;
    /* 1000000 + usec is "1dddddd": its leading 1 is overwritten by the dot,
       leaving the microseconds on six digits. */
    n += uint_fmt(q->id + n, 1000000 + (unsigned int)tv.tv_usec) ;
    q->id[n - 7] = '.' ;
    q->id[n++] = '.' ;
    n += pid_fmt(q->id + n, getpid()) ;
    q->id[n] = 0 ;
    q->qdir = qdir ;
    q->tmpname.len = 0 ;
    if (!stralloc_cats(&q->tmpname, qdir) || !stralloc_cats(&q->tmpname, "/tmp/")
     || !stralloc_cats(&q->tmpname, q->id) || !stralloc_0(&q->tmpname)) return 0 ;
    q->fd = open(q->tmpname.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) ;
    if (q->fd >= 0) break ;
    if (errno != EEXIST) return 0 ;
    usleep(1) ;
  }
  if (q->fd < 0) return 0 ;
  if (lseek(q->fd, TERN_QUEUE_BODY, SEEK_SET) < 0)
  {
    int e = errno ;
    tern_qwriter_abort(q) ;
    errno = e ;
    return 0 ;
  }
  return 1 ;
}
