/* tern_spawn: posix_spawn a program with a given set of fds as its 0, 1, 2...
   Fds of the parent that are not close-on-exec are inherited as usual. */

#include <errno.h>
#include <spawn.h>
#include <unistd.h>
#include "tern.h"

pid_t tern_spawn (char const *file, char const *const *argv, char const *const *envp, int const *fds, unsigned int n)
{
  posix_spawn_file_actions_t fa ;
  pid_t pid ;
  int e ;
  int tmp[8] ;
  if (n > 8) return (errno = EINVAL, 0) ;
  if ((e = posix_spawn_file_actions_init(&fa))) return (errno = e, 0) ;
  /* First park every source fd above the targets, so that a source equal
     to another target is not clobbered before it is used. */
  for (unsigned int i = 0 ; i < n ; i++)
  {
    tmp[i] = -1 ;
    if (fds[i] < 0 || fds[i] == (int)i) continue ;
    tmp[i] = 100 + i ;
    if ((e = posix_spawn_file_actions_adddup2(&fa, fds[i], tmp[i]))) goto err ;
  }
  for (unsigned int i = 0 ; i < n ; i++)
  {
    if (tmp[i] < 0) continue ;
    if ((e = posix_spawn_file_actions_adddup2(&fa, tmp[i], i))) goto err ;
    if ((e = posix_spawn_file_actions_addclose(&fa, tmp[i]))) goto err ;
  }
  e = posix_spawnp(&pid, file, &fa, 0, (char *const *)argv, (char *const *)envp) ;
  posix_spawn_file_actions_destroy(&fa) ;
  if (e) return (errno = e, 0) ;
  return pid ;
 err:
  posix_spawn_file_actions_destroy(&fa) ;
  errno = e ;
  return 0 ;
}
