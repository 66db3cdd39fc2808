/* tern_qwriter_abort: forget a queue file being written. */

#include <unistd.h>
#include <skalibs/djbunix.h>
#include "tern.h"

void tern_qwriter_abort (tern_qwriter *q)
{
  if (q->fd >= 0) fd_close(q->fd) ;
  q->fd = -1 ;
  if (q->tmpname.len) unlink(q->tmpname.s) ;
  q->tmpname.len = 0 ;
}
