/* ucspitls-block: libFuzzer target for the SSL_* block an application
   reads from the TLS engine after STARTTLS (tern_ucspitls_start): the
   engine parsed the client's handshake, so its block is not trusted.
   The input is what the engine would send, through a socketpair. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <skalibs/tai.h>

#include "tern.h"

static int printable (char const *s, size_t max)
{
  size_t n = strnlen(s, max) ;
  if (n == max) return 0 ;
  for (size_t i = 0 ; i < n ; i++)
    if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127) return 0 ;
  return 1 ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  int sv[2] ;
  tain deadline ;
  tern_tlsinfo info = TERN_TLSINFO_ZERO ;
  char y ;
  int r ;
  if (size > 8192) return 0 ;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) abort() ;
  /* the engine's side: the block, then EOF; room for it all in the socket */
  if (size && write(sv[1], data, size) != (ssize_t)size) abort() ;
  shutdown(sv[1], SHUT_WR) ;
  tain_now_g() ;
  tain_addsec_g(&deadline, 5) ;
  r = tern_ucspitls_start(sv[0], &deadline, &info) ;
  if (read(sv[1], &y, 1) != 1 || y != 'Y') abort() ;
  if (r)
  {
    if (!info.protocol[0] || !info.cipher[0]) abort() ;
    if (!printable(info.protocol, sizeof(info.protocol)) || !printable(info.cipher, sizeof(info.cipher))) abort() ;
    if (info.sni[0] && !printable(info.sni, sizeof(info.sni))) abort() ;
  }
  else if (errno == ETIMEDOUT) abort() ;   /* EOF must end the wait */
  close(sv[0]) ;
  close(sv[1]) ;
  return 0 ;
}
