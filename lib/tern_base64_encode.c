/* tern_base64_encode: base64 (RFC 4648 4, with padding) appended to a stralloc. */

#include <skalibs/stralloc.h>
#include "tern.h"

int tern_base64_encode (stralloc *sa, char const *s, size_t len)
{
  static char const b64[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" ;
  unsigned char const *u = (unsigned char const *)s ;
  size_t i = 0 ;
  if (!stralloc_readyplus(sa, (len + 2) / 3 * 4)) return 0 ;
  for (; i + 3 <= len ; i += 3)
  {
    sa->s[sa->len++] = b64[u[i] >> 2] ;
    sa->s[sa->len++] = b64[((u[i] & 3) << 4) | (u[i+1] >> 4)] ;
    sa->s[sa->len++] = b64[((u[i+1] & 15) << 2) | (u[i+2] >> 6)] ;
    sa->s[sa->len++] = b64[u[i+2] & 63] ;
  }
  if (len - i == 1)
  {
    sa->s[sa->len++] = b64[u[i] >> 2] ;
    sa->s[sa->len++] = b64[(u[i] & 3) << 4] ;
    sa->s[sa->len++] = '=' ;
    sa->s[sa->len++] = '=' ;
  }
  else if (len - i == 2)
  {
    sa->s[sa->len++] = b64[u[i] >> 2] ;
    sa->s[sa->len++] = b64[((u[i] & 3) << 4) | (u[i+1] >> 4)] ;
    sa->s[sa->len++] = b64[(u[i+1] & 15) << 2] ;
    sa->s[sa->len++] = '=' ;
  }
  return 1 ;
}
