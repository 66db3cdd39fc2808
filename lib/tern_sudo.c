/* tern_sudo: the client side of s6-sudoc's protocol, so that a tern program
   can cross a uid through s6-sudod without exec'ing s6-sudo, s6-ipcclient
   and s6-sudoc for every message. Same wire exchange as s6-sudoc 2.11 with
   -e (no environment is sent): read the server's banner, send our banner,
   the sizes, the arguments and three fds in one unixmessage, read one
   confirmation byte (0, or the errno of a failed spawn), then four bytes:
   the server program's wait status, big-endian. The banners carry the
   protocol version: a server speaking another one is refused (EPROTO). */

#include <errno.h>
#include <fcntl.h>
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

static void closefds (tern_sudo *s)
{
  if (s->fd0 >= 0) fd_close(s->fd0) ;
  if (s->fd1 >= 0) fd_close(s->fd1) ;
  s->fd0 = s->fd1 = -1 ;
}

int tern_sudo_start (tern_sudo *s, char const *path, int const *fds, char const *const *argv, unsigned int argc)
{
  int fd ;
  s->fd0 = fds[0] ; s->fd1 = fds[1] ; s->fd2 = fds[2] ;
  s->state = 0 ;
  s->got = 0 ;
  s->argv = argv ;
  s->argc = argc ;
  /* A blocking connect: on a Unix socket it returns at once unless the
     server's backlog is full, and then waiting is what we want. */
  fd = ipc_stream_internal(O_CLOEXEC) ;
  if (fd < 0) goto err ;
  if (!ipc_connect(fd, path) || ndelay_on(fd) < 0)
  {
    int e = errno ;
    fd_close(fd) ;
    errno = e ;
    goto err ;
  }
  s->sock = fd ;
  return 1 ;
 err:
  {
    int e = errno ;
    closefds(s) ;
    errno = e ;
  }
  return 0 ;
}

void tern_sudo_abort (tern_sudo *s)
{
  if (s->sock >= 0) fd_close(s->sock) ;
  s->sock = -1 ;
  closefds(s) ;
}

static int sendreq (tern_sudo *s)
{
  stralloc sa = STRALLOC_ZERO ;
  char pack[16] ;
  int fds[3] = { s->fd0, s->fd1, s->fd2 } ;
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
     send unless the peer is wedged, which is then a failure. */
  r = unixmessage_putv(&sender, &mv) && unixmessage_sender_flush(&sender) ;
  if (!r && errno == EWOULDBLOCK) errno = ETIMEDOUT ;
  unixmessage_sender_free(&sender) ;
  stralloc_free(&sa) ;
  /* As s6-sudoc does, our copies of the server's fds 0 and 1 are closed
     once sent: the caller must not hold a pipe end open behind its peer. */
  if (r) closefds(s) ;
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
