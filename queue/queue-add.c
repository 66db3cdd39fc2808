/* queue-add: the qmail-queue compatible injector, callable by any uid.
   Message on fd 0, envelope on fd 1. Hands both fds to queue-store through
   s6-sudo (the socket $QUEUE_SOCKET, by default $TERN_ROOT/sock/queue) and
   exits 0 only once queue-store reported the message durable. Keeps
   qmail-queue's exit codes, so that any qmail-queue filter may sit in
   front of it: a broken hop is 74, a killed server 81. Under TERN_DIRECT
   it execs queue-store itself. */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/exec.h>
#include <skalibs/tai.h>
#include <skalibs/sig.h>

#include "tern.h"

#define USAGE "queue-add (no arguments: message on fd 0, envelope on fd 1)"

#define QQ_NOMEM 51
#define QQ_HOP 74       /* communication with the mail server failed */
#define QQ_BUG 81       /* internal bug: the server was killed */

int main (int argc, char const *const *argv)
{
  stralloc sa = STRALLOC_ZERO ;
  char const *sock ;
  int wstat ;
  int const fds[3] = { 0, 1, 2 } ;
  PROG = "queue-add" ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;

  if (tern_direct())
  {
    char const *qargv[2] = { 0, 0 } ;
    if (!tern_path(&sa, tern_libexec(), "queue-store")) strerr_diefusys(QQ_NOMEM, "stralloc") ;
    qargv[0] = sa.s ;
    xexec(qargv) ;
  }

  sock = getenv("QUEUE_SOCKET") ;
  if (!sock || !*sock)
  {
    if (!tern_path(&sa, tern_root(), "sock/queue")) strerr_diefusys(QQ_NOMEM, "stralloc") ;
    sock = sa.s ;
  }
  sig_ignore(SIGPIPE) ;
  tain_now_set_stopwatch_g() ;
  /* No deadline: queue-store has its own, and the caller ours. */
  if (!tern_sudo_run(sock, fds, 0, 0, &tain_infinite, &wstat))
    strerr_diefusys(QQ_HOP, "pass the message to queue-store at ", sock) ;
  stralloc_free(&sa) ;
  if (WIFSIGNALED(wstat)) strerr_dief(QQ_BUG, "queue-store was killed") ;
  return WEXITSTATUS(wstat) ;
}
