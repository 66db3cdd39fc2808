/* tern_sudo: the client side of s6-sudoc's protocol, so that a tern program
   can cross a uid through s6-sudod without exec'ing s6-sudo, s6-ipcclient
   and s6-sudoc for every message. Same wire exchange as s6-sudoc 2.11 with
   -e (no environment is sent): read the server's banner, send our banner,
   the sizes, the arguments and three fds in one unixmessage, read one
   confirmation byte (0, or the errno of a failed spawn), then four bytes:
   the server program's wait status, big-endian. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <skalibs/uint32.h>
#include <skalibs/socket.h>
#include <skalibs/djbunix.h>
#include <skalibs/stralloc.h>
#include <skalibs/env.h>
#include <skalibs/unixmessage.h>
#include "tern.h"

#define BANNER_B "s6-sudo b v1.0\n"
#define BANNER_A "s6-sudo a v1.0\n"
#define BANNER_LEN 15

int tern_sudo_start (tern_sudo *s, char const *path, int const *fds, char const *const *argv, unsigned int argc)
{
  int fd = ipc_stream_nbcoe() ;
  if (fd < 0) return 0 ;
  if (ipc_connect(fd, path) < 0 && errno != EINPROGRESS && errno != EAGAIN)
  {
    int e = errno ;
    fd_close(fd) ;
    errno = e ;
    return 0 ;
  }
  s->sock = fd ;
  s->state = 0 ;
  s->got = 0 ;
  s->fds = fds ;
  s->argv = argv ;
  s->argc = argc ;
  return 1 ;
}

void tern_sudo_abort (tern_sudo *s)
{
  if (s->sock >= 0) fd_close(s->sock) ;
  s->sock = -1 ;
}

static int sendreq (tern_sudo *s)
{
  stralloc sa = STRALLOC_ZERO ;
  char pack[16] ;
  int fds[3] = { s->fds[0], s->fds[1], s->fds[2] } ;
  struct iovec v[3] ;
  unixmessagev mv = { .v = v, .vlen = 3, .fds = fds, .nfds = 3 } ;
  unixmessage_sender sender = UNIXMESSAGE_SENDER_INIT(s->sock) ;
  int r ;
  if (!env_string(&sa, s->argv, s->argc)) return 0 ;
  uint32_pack_big(pack, s->argc) ;
  uint32_pack_big(pack + 4, 0) ;
  uint32_pack_big(pack + 8, sa.len) ;
  uint32_pack_big(pack + 12, 0) ;
  v[0].iov_base = BANNER_A ; v[0].iov_len = BANNER_LEN ;
  v[1].iov_base = pack ; v[1].iov_len = 16 ;
  v[2].iov_base = sa.s ; v[2].iov_len = sa.len ;
  /* The socket is non-blocking; the request is small, so it goes in one
     send unless the peer is wedged, in which case we fail. */
  r = unixmessage_putv(&sender, &mv) && unixmessage_sender_flush(&sender) ;
  if (!r && errno == EWOULDBLOCK) errno = ETIMEDOUT ;
  unixmessage_sender_free(&sender) ;
  stralloc_free(&sa) ;
  return r ;
}

int tern_sudo_step (tern_sudo *s, int *wstat)
{
  for (;;)
  {
    unsigned int want = s->state == 0 ? BANNER_LEN : s->state == 1 ? 1 : 4 ;
    ssize_t r = read(s->sock, s->buf + s->got, want - s->got) ;
    if (r < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0 ;
      goto fail ;
    }
    if (!r) { errno = EPIPE ; goto fail ; }
    s->got += r ;
    if (s->got < want) continue ;
    s->got = 0 ;
    switch (s->state)
    {
      case 0 :
        if (memcmp(s->buf, BANNER_B, BANNER_LEN)) { errno = EPROTO ; goto fail ; }
        if (!sendreq(s)) goto fail ;
        s->state = 1 ;
        break ;
      case 1 :
        if (s->buf[0]) { errno = (unsigned char)s->buf[0] ; goto fail ; }
        s->state = 2 ;
        break ;
      default :
      {
        uint32_t st ;
        uint32_unpack_big(s->buf, &st) ;
        *wstat = (int)st ;
        tern_sudo_abort(s) ;
        return 1 ;
      }
    }
  }
 fail:
  {
    int e = errno ;
    tern_sudo_abort(s) ;
    errno = e ;
  }
  return -1 ;
}
