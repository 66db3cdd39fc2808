/* tern_queue_wake: write one byte into QDIR/trigger if queue-run listens.
   Best effort: queue-run also rescans on a timer. */

#include <fcntl.h>
#include <unistd.h>
#include <skalibs/stralloc.h>
#include "tern.h"

void tern_queue_wake (char const *qdir)
{
  stralloc sa = STRALLOC_ZERO ;
  if (tern_path(&sa, qdir, "trigger"))
  {
    int fd = open(sa.s, O_WRONLY | O_NONBLOCK | O_CLOEXEC) ;
    if (fd >= 0)
    {
      if (write(fd, "", 1) < 0) { /* full pipe: queue-run is already woken */ }
      close(fd) ;
    }
  }
  stralloc_free(&sa) ;
}
