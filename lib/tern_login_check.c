/* tern_login_check: the pre-auth child's side of the login monitor. One
   record (a flags octet, user NUL, password NUL, and with TERN_LOGIN_TAG
   an IMAP tag NUL) in one write, atomic on
   a pipe (it is shorter than PIPE_BUF); then the verdict: 'N' refused,
   'T' temporary failure, 'H' (or the end of the pipe) the session was
   handed over and this process has nothing more to do; in check-only
   mode 'Y' and the identity the monitor checked, NUL-terminated, copied
   into id. The file status flags of fds 0 and 1 are restored after a
   verdict, since a chain that may take the session runs with a blocking
   network (or blocking TLS pipes). */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "tern.h"

static int check (tern_login const *lg, char const *user, size_t ulen, char const *pass, size_t plen, unsigned int flags, char *id, char const *tag, size_t taglen)
{
  char rec[TERN_LOGIN_RECMAX] ;
  size_t n = 0 ;
  ssize_t r ;
  int fl0, fl1 ;
  char c ;
  if (!ulen || ulen > TERN_LOGIN_USERMAX || plen > TERN_LOGIN_PASSMAX
   || memchr(user, 0, ulen) || memchr(pass, 0, plen)) return TERN_LOGIN_REFUSED ;
  if (tag && (!taglen || taglen > TERN_LOGIN_TAGMAX || memchr(tag, 0, taglen))) return TERN_LOGIN_TEMP ;
  if (tag) flags |= TERN_LOGIN_TAG ;
  /* the monitor gives the chain a blocking network; ours comes back after */
  fl0 = fcntl(0, F_GETFL) ;
  fl1 = fcntl(1, F_GETFL) ;
  rec[n++] = (char)(flags & 0xff) ;
  memcpy(rec + n, user, ulen) ; n += ulen ; rec[n++] = 0 ;
  memcpy(rec + n, pass, plen) ; n += plen ; rec[n++] = 0 ;
  if (tag) { memcpy(rec + n, tag, taglen) ; n += taglen ; rec[n++] = 0 ; }
  do r = write(lg->credfd, rec, n) ;
  while (r < 0 && errno == EINTR) ;
  explicit_bzero(rec, sizeof(rec)) ;
  if (r != (ssize_t)n)
  {
    if (id) return TERN_LOGIN_TEMP ;   /* check-only: the session goes on without logins */
    _exit(111) ;   /* the monitor is gone */
  }
  do r = read(lg->verdictfd, &c, 1) ;
  while (r < 0 && errno == EINTR) ;
  if (id && r == 1 && c == 'Y')
  {
    /* the identity, from the monitor: read to its NUL, bounded */
    size_t k = 0 ;
    while (!k || id[k-1])
    {
      if (k > TERN_LOGIN_USERMAX) return TERN_LOGIN_TEMP ;
      do r = read(lg->verdictfd, id + k, TERN_LOGIN_USERMAX + 1 - k) ;
      while (r < 0 && errno == EINTR) ;
      if (r <= 0) return TERN_LOGIN_TEMP ;
      k += r ;
    }
    return k > 1 ? TERN_LOGIN_OK : TERN_LOGIN_TEMP ;
  }
  if (id && r != 1) return TERN_LOGIN_TEMP ;
  if (r < 0) _exit(111) ;
  if (!r || c == 'H') _exit(0) ;
  if (fl0 >= 0) fcntl(0, F_SETFL, fl0) ;
  if (fl1 >= 0) fcntl(1, F_SETFL, fl1) ;
  if (c == 'N') return TERN_LOGIN_REFUSED ;
  if (c == 'T') return TERN_LOGIN_TEMP ;
  _exit(111) ;
}

int tern_login_check (tern_login const *lg, char const *user, size_t ulen, char const *pass, size_t plen, unsigned int flags, char *id)
{
  return check(lg, user, ulen, pass, plen, flags, id, 0, 0) ;
}

int tern_login_check_tag (tern_login const *lg, char const *user, size_t ulen, char const *pass, size_t plen, unsigned int flags, char const *tag, size_t taglen)
{
  return check(lg, user, ulen, pass, plen, flags, 0, tag, taglen) ;
}
