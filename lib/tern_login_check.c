/* tern_login_check: the pre-auth child's side of the login monitor. One
   record (a flags octet, user NUL, password NUL) in one write, atomic on
   a pipe (it is shorter than PIPE_BUF); then one octet back: 'N' refused,
   'T' temporary failure, 'H' (or the end of the pipe) the session was
   handed over and this process has nothing more to do. The file status
   flags of fd 0 (shared with fd 1: one socket) are restored after a
   verdict, since the chain ran with a blocking network. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "tern.h"

int tern_login_check (tern_login const *lg, char const *user, size_t ulen, char const *pass, size_t plen, unsigned int flags)
{
  char rec[TERN_LOGIN_RECMAX] ;
  size_t n = 0 ;
  ssize_t r ;
  int fl ;
  char c ;
  if (!ulen || ulen > TERN_LOGIN_USERMAX || plen > TERN_LOGIN_PASSMAX
   || memchr(user, 0, ulen) || memchr(pass, 0, plen)) return TERN_LOGIN_REFUSED ;
  /* the monitor gives the chain a blocking network; ours comes back after */
  fl = fcntl(0, F_GETFL) ;
  rec[n++] = (char)(flags & 0xff) ;
  memcpy(rec + n, user, ulen) ; n += ulen ; rec[n++] = 0 ;
  memcpy(rec + n, pass, plen) ; n += plen ; rec[n++] = 0 ;
  do r = write(lg->credfd, rec, n) ;
  while (r < 0 && errno == EINTR) ;
  explicit_bzero(rec, sizeof(rec)) ;
  if (r != (ssize_t)n) _exit(111) ;   /* the monitor is gone */
  do r = read(lg->verdictfd, &c, 1) ;
  while (r < 0 && errno == EINTR) ;
  if (r < 0) _exit(111) ;
  if (!r || c == 'H') _exit(0) ;
  if (fl >= 0) fcntl(0, F_SETFL, fl) ;
  if (c == 'N') return TERN_LOGIN_REFUSED ;
  if (c == 'T') return TERN_LOGIN_TEMP ;
  _exit(111) ;
}
