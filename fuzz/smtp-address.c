/* smtp-address: libFuzzer target for tern_smtp_path (RFC 5321 4.1.2 paths).
   Checks what the parser promises: it consumes within the input and ends
   on '>', the address is no longer than the input, NUL-free, and holds
   non-ASCII only when it says so. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tern.h"

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char *out = malloc(size + 1) ;
  if (!out) return 0 ;
  for (unsigned int flags = 0 ; flags < 4 ; flags++)
  {
    size_t outlen = 0 ;
    int utf8 = 0 ;
    size_t n = tern_smtp_path((char const *)data, size, flags, out, &outlen, &utf8) ;
    if (!n) continue ;
    if (n > size || data[n-1] != '>' || data[0] != '<') abort() ;
    if (outlen > size || out[outlen] || strlen(out) != outlen) abort() ;
    if (!utf8)
      for (size_t i = 0 ; i < outlen ; i++) if ((unsigned char)out[i] >= 0x80) abort() ;
    if (!outlen && !(flags & TERN_PATH_NULLOK)) abort() ;
  }
  free(out) ;
  return 0 ;
}
