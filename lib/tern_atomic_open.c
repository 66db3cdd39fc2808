/* tern_atomic_open: start replacing a file atomically. Creates PATH.tmp
   (a stale one, left by a crash, is removed first: the caller holds the
   lock that serialises writers of PATH) with exactly the given mode,
   whatever the umask. tern_atomic_commit finishes the job. */

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include "tern.h"

int tern_atomic_open (stralloc *tmp, char const *path, unsigned int mode)
{
  int fd ;
  tmp->len = 0 ;
  if (!stralloc_cats(tmp, path) || !stralloc_cats(tmp, ".tmp") || !stralloc_0(tmp)) return -1 ;
  if (unlink(tmp->s) < 0 && errno != ENOENT) return -1 ;
  fd = open(tmp->s, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777) ;
  if (fd < 0) return -1 ;
  if (fchmod(fd, mode & 07777) < 0)
  {
    int e = errno ;
    fd_close(fd) ;
    unlink(tmp->s) ;
    errno = e ;
    return -1 ;
  }
  return fd ;
}
