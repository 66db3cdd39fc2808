/* tern_search_match: whether a needle in search form occurs in text
   (RFC 3501 6.4.4: a substring, without regard to case).

   ASCII text, the common case, is searched in place: memchr finds the
   needle's rarest octet (by a frequency table of mail text) in either
   case, and each hit is checked with a lowercase table; nothing is
   allocated. A needle with non-ASCII octets cannot occur in ASCII text
   (its search form stays non-ASCII). Text with non-ASCII octets is
   folded first (tern_search_fold) and searched with memmem. */

#include <stdint.h>
#include <string.h>
#include "tern_mime.h"

unsigned char const tern_search_lower[256] =
{
#define R(a) a, a+1, a+2, a+3, a+4, a+5, a+6, a+7
  R(0), R(8), R(16), R(24), R(32), R(40), R(48), R(56),
  64, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 91, 92, 93, 94, 95,
  R(96), R(104), R(112), R(120),
  R(128), R(136), R(144), R(152), R(160), R(168), R(176), R(184),
  R(192), R(200), R(208), R(216), R(224), R(232), R(240), R(248)
#undef R
} ;

/* how common an octet is in mail text, lowercase letters for both cases
   (lower is rarer); anything not listed is rare */
static unsigned char rank (unsigned char c)
{
  static char const common[] = " etaoinsrhldcumfpgwybvkxjqz\n\r0123456789.,-=/:>\"'_" ;
  char const *p = c ? strchr(common, tern_search_lower[c]) : 0 ;
  return p ? 255 - (p - common) : 0 ;
}

int tern_search_isascii (char const *s, size_t n)
{
  size_t i = 0 ;
  uint64_t acc = 0 ;
  for (; i + 8 <= n ; i += 8)
  {
    uint64_t w ;
    memcpy(&w, s + i, 8) ;
    acc |= w ;
  }
  for (; i < n ; i++) acc |= (unsigned char)s[i] ;
  return !(acc & 0x8080808080808080ULL) ;
}

#define NONE SIZE_MAX

static size_t find (char const *s, size_t from, size_t lim, unsigned char c)
{
  char const *p = memchr(s + from, c, lim - from) ;
  return p ? (size_t)(p - s) : NONE ;
}

static int search_ascii (char const *s, size_t n, char const *nd, size_t nl)
{
  size_t j = 0, pos, lim, plo = NONE, pup = NONE ;
  int vlo = 0, vup = 0 ;
  unsigned char lo, up ;
  if (nl > n) return 0 ;
  for (size_t k = 1 ; k < nl ; k++) if (rank(nd[k]) < rank(nd[j])) j = k ;
  lo = tern_search_lower[(unsigned char)nd[j]] ;
  up = lo >= 'a' && lo <= 'z' ? lo - 32 : lo ;
  lim = n - (nl - j) + 1 ;
  pos = j ;
  while (pos < lim)
  {
    size_t hit ;
    /* the next occurrence of each case from pos; once none, never again */
    if (!vlo || (plo != NONE && plo < pos)) { plo = find(s, pos, lim, lo) ; vlo = 1 ; }
    if (up != lo && (!vup || (pup != NONE && pup < pos))) { pup = find(s, pos, lim, up) ; vup = 1 ; }
    hit = plo ;
    if (up != lo && pup < hit) hit = pup ;
    if (hit == NONE) return 0 ;
    {
      char const *start = s + hit - j ;
      size_t k = 0 ;
      while (k < nl && tern_search_lower[(unsigned char)start[k]] == tern_search_lower[(unsigned char)nd[k]]) k++ ;
      if (k == nl) return 1 ;
    }
    pos = hit + 1 ;
  }
  return 0 ;
}

int tern_search_match (char const *s, size_t n, char const *nd, size_t nl)
{
  stralloc f = STRALLOC_ZERO ;
  int r ;
  if (!nl) return 1 ;
  if (tern_search_isascii(s, n)) return tern_search_isascii(nd, nl) ? search_ascii(s, n, nd, nl) : 0 ;
  if (!tern_search_fold(&f, s, n)) return -1 ;
  r = f.len >= nl && memmem(f.s, f.len, nd, nl) ;
  stralloc_free(&f) ;
  return r ;
}
