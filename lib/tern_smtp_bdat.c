/* tern_smtp_bdat: the argument of BDAT, RFC 3030 2:
   bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
   chunk-size = 1*DIGIT ; end-marker = "LAST" */

#include <stdint.h>
#include <strings.h>
#include "tern.h"

int tern_smtp_bdat (char const *s, size_t len, uint64_t *n, int *last)
{
  size_t i = 0 ;
  uint64_t v = 0 ;
  while (i < len && s[i] >= '0' && s[i] <= '9')
  {
    unsigned int d = s[i++] - '0' ;
    if (v > (UINT64_MAX - d) / 10) return 0 ;
    v = v * 10 + d ;
  }
  if (!i) return 0 ;
  *n = v ;
  *last = 0 ;
  if (i == len) return 1 ;
  if (s[i++] != ' ') return 0 ;
  if (len - i >= 4 && !strncasecmp(s + i, "LAST", 4)) { *last = 1 ; i += 4 ; }
  while (i < len && s[i] == ' ') i++ ;   /* trailing spaces are harmless */
  return i == len ;
}
