/* tern_ucspitls_fds: the three fds of UCSPI-TLS (SSLCTLFD, SSLREADFD,
   SSLWRITEFD, set by tlsd -u as s6-ucspitlsd sets them), checked open
   and made close-on-exec so that no program the caller spawns (a queue
   injector, a password checker) inherits a way to the TLS engine. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>

#include <skalibs/types.h>
#include <skalibs/djbunix.h>

#include "tern.h"

int tern_ucspitls_fds (int *fds)
{
  static char const *const names[3] = { "SSLCTLFD", "SSLREADFD", "SSLWRITEFD" } ;
  int got[3] ;
  for (unsigned int i = 0 ; i < 3 ; i++)
  {
    unsigned int u ;
    char const *x = getenv(names[i]) ;
    if (!x) { errno = i ? EINVAL : ENOENT ; return 0 ; }
    if (!uint0_scan(x, &u) || u > INT_MAX || u < 3) { errno = EINVAL ; return 0 ; }
    if (fcntl((int)u, F_GETFD) < 0) { errno = EBADF ; return 0 ; }
    got[i] = (int)u ;
  }
  if (got[0] == got[1] || got[0] == got[2] || got[1] == got[2]) { errno = EINVAL ; return 0 ; }
  for (unsigned int i = 0 ; i < 3 ; i++)
  {
    if (coe(got[i]) < 0) return 0 ;
    fds[i] = got[i] ;
  }
  return 1 ;
}
