/* tern_sudo_run: a whole s6-sudo exchange, blocking until the server
   program exits or the deadline passes. */

#include <errno.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include "tern.h"

int tern_sudo_run (char const *path, int const *fds, char const *const *argv, unsigned int argc, tain const *deadline, int *wstat)
{
  tern_sudo s = TERN_SUDO_ZERO ;
  if (!tern_sudo_start(&s, path, fds, argv, argc)) return 0 ;
  for (;;)
  {
    iopause_fd x = { .fd = s.sock, .events = IOPAUSE_READ } ;
    int r = iopause_g(&x, 1, deadline) ;
    if (r < 0) { if (errno == EINTR) continue ; break ; }
    if (!r) { errno = ETIMEDOUT ; break ; }
    r = tern_sudo_step(&s, wstat) ;
    if (r > 0) return 1 ;
    if (r < 0) return 0 ;
  }
  {
    int e = errno ;
    tern_sudo_abort(&s) ;
    errno = e ;
  }
  return 0 ;
}
