/* tern_atomic_commit: finish what tern_atomic_open started: fsync the
   file, close it, rename it over PATH, fsync PATH's directory. On failure
   the temp file is removed and PATH is left as it was. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include "tern.h"

int tern_atomic_commit (int fd, char const *tmp, char const *path)
{
  char const *slash = strrchr(path, '/') ;
  size_t dlen = slash ? (size_t)(slash - path) : 1 ;
  char dir[dlen + 1] ;
  int dfd, e ;
  if (fsync(fd) < 0) goto err ;
  if (close(fd) < 0) { fd = -1 ; goto err ; }
  fd = -1 ;
  if (rename(tmp, path) < 0) goto err ;
  if (slash) { memcpy(dir, path, dlen) ; if (!dlen) dir[dlen++] = '/' ; }
  else dir[0] = '.' ;
  dir[dlen] = 0 ;
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (dfd < 0) return 0 ;
  if (fsync(dfd) < 0) { e = errno ; fd_close(dfd) ; errno = e ; return 0 ; }
  fd_close(dfd) ;
  return 1 ;
 err:
  e = errno ;
  if (fd >= 0) fd_close(fd) ;
  unlink(tmp) ;
  errno = e ;
  return 0 ;
}
