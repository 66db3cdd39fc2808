/* tern_search_fold: the search form of UTF-8 text: full case folding
   then compatibility decomposition (u8_casefold with UNINORM_NFKD, from
   libunistring). i;unicode-casemap (RFC 5051 2) titlecases and
   decomposes; case folding is as blind to case and also folds "ß" with
   "ss", the Kelvin sign with "k" and the final sigma with "σ", which is
   what a person searching means. Octets that are not UTF-8 are kept as
   they are. */

#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

static int fold (stralloc *out, char const *s, size_t n)
{
  size_t rl ;
  uint8_t *r ;
  if (!n) return 1 ;
  if (!stralloc_readyplus(out, n + n / 2 + 16)) return 0 ;
  rl = out->a - out->len ;
  r = u8_casefold((uint8_t const *)s, n, 0, UNINORM_NFKD, (uint8_t *)out->s + out->len, &rl) ;
  if (!r) return 0 ;
  if (r == (uint8_t *)out->s + out->len) { out->len += rl ; return 1 ; }
  {
    int ok = stralloc_catb(out, (char *)r, rl) ;
    free(r) ;
    return ok ;
  }
}

int tern_search_fold (stralloc *out, char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    size_t j = i, l ;
    while (j < n && (l = tmi_utf8(s, n, j))) j += l ;
    if (!fold(out, s + i, j - i)) return 0 ;
    if (j >= n) break ;
    if (!stralloc_catb(out, s + j, 1)) return 0 ;
    i = j + 1 ;
  }
  return 1 ;
}
