/* tern_ucspitls_start: the application side of STARTTLS under UCSPI-TLS
   (s6-ucspitlsd's protocol, which tlsd -u serves). The caller has sent
   its "go ahead" (SMTP 220, POP3 +OK) and emptied its input buffer; this
   writes "Y" on the control fd, then reads the block the TLS engine sends
   once the handshake is done: NUL-terminated "VAR=value" entries ("VAR"
   alone means unset), an empty entry last. The block comes from a process
   that parsed the client's handshake, so it is read bounded, by a
   deadline, and only the fields below are taken, printable and of a
   bounded length. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <skalibs/tai.h>
#include <skalibs/iopause.h>

#include "tern.h"

#define BLOCKMAX 4096

/* entry is "name=value": copy value into dst (max octets with the NUL).
   0 not this name, 1 copied, -1 bad value. */
static int field (char const *entry, char const *name, char *dst, size_t max)
{
  size_t n = strlen(name), len ;
  if (strncmp(entry, name, n) || entry[n] != '=') return 0 ;
  entry += n + 1 ;
  len = strlen(entry) ;
  if (len >= max) return -1 ;
  for (size_t i = 0 ; i < len ; i++)
    if ((unsigned char)entry[i] <= 32 || (unsigned char)entry[i] >= 127) return -1 ;
  memcpy(dst, entry, len + 1) ;
  return 1 ;
}

static int parse (char const *s, size_t len, tern_tlsinfo *info)
{
  size_t pos = 0 ;
  tern_tlsinfo new = TERN_TLSINFO_ZERO ;
  while (pos < len && s[pos])
  {
    char const *e = s + pos ;
    if (field(e, "SSL_PROTOCOL", new.protocol, sizeof(new.protocol)) < 0
     || field(e, "SSL_CIPHER", new.cipher, sizeof(new.cipher)) < 0
     || field(e, "SSL_TLS_SNI_SERVERNAME", new.sni, sizeof(new.sni)) < 0) return 0 ;
    pos += strlen(e) + 1 ;
  }
  if (!new.protocol[0] || !new.cipher[0]) return 0 ;
  *info = new ;
  return 1 ;
}

/* Is the block complete: an empty entry after whole ones? */
static int complete (char const *s, size_t len)
{
  size_t pos = 0 ;
  while (pos < len)
  {
    char const *nul = memchr(s + pos, 0, len - pos) ;
    if (!nul) return 0 ;
    if (nul == s + pos) return 1 ;
    pos = nul - s + 1 ;
  }
  return 0 ;
}

int tern_ucspitls_start (int ctl, tain const *deadline, tern_tlsinfo *info)
{
  char buf[BLOCKMAX] ;
  size_t len = 0 ;
  iopause_fd x = { .fd = ctl, .events = IOPAUSE_WRITE, .revents = 0 } ;
  tain_now_g() ;
  for (;;)
  {
    /* a socket (s6-ucspitlsd's and tlsd's control fd is one): no
       SIGPIPE if the engine is gone, whatever the caller does with it */
    ssize_t r = send(ctl, "Y", 1, MSG_NOSIGNAL) ;
    if (r < 0 && errno == ENOTSOCK) r = write(ctl, "Y", 1) ;
    if (r == 1) break ;
    if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;
    r = iopause_g(&x, 1, deadline) ;
    if (r < 0 && errno != EINTR) return 0 ;
    if (!r) { errno = ETIMEDOUT ; return 0 ; }
  }
  x.events = IOPAUSE_READ ;
  while (!complete(buf, len))
  {
    ssize_t r ;
    if (len == sizeof(buf)) { errno = EPROTO ; return 0 ; }
    r = iopause_g(&x, 1, deadline) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      return 0 ;
    }
    if (!r) { errno = ETIMEDOUT ; return 0 ; }
    r = read(ctl, buf + len, sizeof(buf) - len) ;
    if (r < 0)
    {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue ;
      return 0 ;
    }
    if (!r) { errno = EPIPE ; return 0 ; }
    len += r ;
  }
  if (!parse(buf, len, info)) { errno = EPROTO ; return 0 ; }
  return 1 ;
}
