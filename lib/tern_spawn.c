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
  int e, park = 0 ;
  if (n > 8) return (errno = EINVAL, 0) ;
  /* Sources are first parked above every fd involved, so that moving one
     into place never clobbers another that is still to be moved. */
  for (unsigned int i = 0 ; i < n ; i++) if (fds[i] >= park) park = fds[i] + 1 ;
  if (park < (int)n) park = n ;
  if ((e = posix_spawn_file_actions_init(&fa))) return (errno = e, 0) ;
  for (unsigned int i = 0 ; i < n ; i++)
    if (fds[i] >= 0 && (e = posix_spawn_file_actions_adddup2(&fa, fds[i], park + i))) goto err ;
  for (unsigned int i = 0 ; i < n ; i++)
  {
    if (fds[i] < 0) continue ;
    /* dup2 onto a different fd: the copy never has FD_CLOEXEC */
    if ((e = posix_spawn_file_actions_adddup2(&fa, park + i, i))) goto err ;
    if ((e = posix_spawn_file_actions_addclose(&fa, park + i))) goto err ;
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
