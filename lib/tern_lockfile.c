/* tern_lockfile: open (creating it, mode 0600) and lock a lock file,
   waiting for the lock. The lock lasts as long as the returned fd. */

#include <errno.h>
#include <fcntl.h>
#include <skalibs/djbunix.h>
#include "tern.h"

int tern_lockfile (char const *path)
{
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  if (fd < 0) return -1 ;
  if (fd_lock(fd, 1, 0) < 1)
  {
    int e = errno ;
    fd_close(fd) ;
    errno = e ;
    return -1 ;
  }
  return fd ;
}
