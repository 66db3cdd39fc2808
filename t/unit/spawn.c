/* unit test: tern_spawn moves the given fds into place, whatever their numbers */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "tern.h"
#include "tap.h"

extern char **environ ;

static int run (int in, int out, char *buf, size_t max)
{
  char const *argv[] = { "/bin/sh", "-c", "read x && echo \"got $x\"", 0 } ;
  int fds[3] = { in, out, 2 } ;
  pid_t pid = tern_spawn(argv[0], argv, (char const *const *)environ, fds, 3) ;
  int st ;
  if (!pid) return 0 ;
  waitpid(pid, &st, 0) ;
  return WIFEXITED(st) && !WEXITSTATUS(st) ;
}

int main (void)
{
  char buf[64] ;
  int in[2], out[2] ;
  ssize_t n ;

  /* sources on the very numbers the parking used to take (100, 101) */
  if (pipe(in) < 0 || pipe(out) < 0) return 111 ;
  dup2(out[1], 100) ; close(out[1]) ;
  dup2(in[0], 101) ; close(in[0]) ;
  fcntl(100, F_SETFD, FD_CLOEXEC) ;
  fcntl(101, F_SETFD, FD_CLOEXEC) ;
  if (write(in[1], "hello\n", 6) != 6) return 111 ;
  close(in[1]) ;
  tap_ok(run(101, 100, buf, sizeof buf), "spawned with fds 101 and 100 as its 0 and 1") ;
  close(100) ; close(101) ;
  n = read(out[0], buf, sizeof buf - 1) ;
  buf[n > 0 ? n : 0] = 0 ;
  tap_is_str(buf, "got hello\n", "the child read its fd 0 and wrote its fd 1") ;
  close(out[0]) ;

  /* an fd already in place but close-on-exec still reaches the child */
  if (pipe(in) < 0 || pipe(out) < 0) return 111 ;
  dup2(in[0], 0) ; close(in[0]) ;
  fcntl(0, F_SETFD, FD_CLOEXEC) ;
  if (write(in[1], "again\n", 6) != 6) return 111 ;
  close(in[1]) ;
  tap_ok(run(0, out[1], buf, sizeof buf), "fd 0 given as fd 0, close-on-exec in the parent") ;
  close(out[1]) ;
  n = read(out[0], buf, sizeof buf - 1) ;
  buf[n > 0 ? n : 0] = 0 ;
  tap_is_str(buf, "got again\n", "and the child got it") ;
  return tap_done() ;
}
