/* tern_base64_decode: strict RFC 4648 4 base64 (padding required, no
   whitespace, zero pad bits), as SASL (RFC 4422 3.1) wants it. */

#include <sys/types.h>
#include "tern.h"

static int val (unsigned char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A' ;
  if (c >= 'a' && c <= 'z') return c - 'a' + 26 ;
  if (c >= '0' && c <= '9') return c - '0' + 52 ;
  if (c == '+') return 62 ;
  if (c == '/') return 63 ;
  return -1 ;
}

ssize_t tern_base64_decode (char *out, char const *s, size_t len)
{
  size_t w = 0 ;
  if (len & 3) return -1 ;
  for (size_t i = 0 ; i < len ; i += 4)
  {
    int a = val(s[i]), b = val(s[i+1]), c, d ;
    int last = i + 4 == len ;
    if (a < 0 || b < 0) return -1 ;
    if (last && s[i+2] == '=')
    {
      if (s[i+3] != '=' || b & 15) return -1 ;
      out[w++] = a << 2 | b >> 4 ;
      break ;
    }
    c = val(s[i+2]) ;
    if (c < 0) return -1 ;
    if (last && s[i+3] == '=')
    {
      if (c & 3) return -1 ;
      out[w++] = a << 2 | b >> 4 ;
      out[w++] = (b & 15) << 4 | c >> 2 ;
      break ;
    }
    d = val(s[i+3]) ;
    if (d < 0) return -1 ;
    out[w++] = a << 2 | b >> 4 ;
    out[w++] = (b & 15) << 4 | c >> 2 ;
    out[w++] = (c & 3) << 6 | d ;
  }
  return w ;
}
