/* tern_imap_litspec: does a line of an IMAP command end with a literal
   head, "{n}", "{n+}" (RFC 7888) or "~{n}" (RFC 3516)? Only outside a
   quoted string: "{" is in atom-specials (RFC 3501 9), so outside quotes
   it can only start a literal; inside them it is text, and a quoted
   string cannot run past the end of its line. One pass, linear. */

#include <stdint.h>
#include "tern_imap.h"

int tern_imap_litspec (char const *s, size_t len, uint64_t *n, int *nonsync, int *binary, size_t *head)
{
  size_t i = 0, open = len ;
  int inq = 0 ;
  uint64_t v = 0 ;
  for (; i < len ; i++)
  {
    char c = s[i] ;
    if (inq)
    {
      if (c == '\\' && i + 1 < len) i++ ;
      else if (c == '"') inq = 0 ;
    }
    else if (c == '"') inq = 1 ;
    else if (c == '{') open = i ;
  }
  if (inq || !len || s[len-1] != '}' || open == len) return 0 ;
  /* the last "{" outside quotes, and the line ends with "}" */
  i = open + 1 ;
  if (i == len - 1) return -1 ;
  for (; i < len - 1 && s[i] >= '0' && s[i] <= '9' ; i++)
  {
    if (v > (UINT64_C(1) << 63) / 10) return -1 ;
    v = v * 10 + (s[i] - '0') ;
    if (v >= UINT64_C(1) << 63) return -1 ;
  }
  if (i == open + 1) return -1 ;
  *nonsync = 0 ;
  if (i == len - 2 && s[i] == '+') *nonsync = 1 ;
  else if (i != len - 1) return -1 ;
  *binary = open && s[open-1] == '~' ;
  *head = *binary ? open - 1 : open ;
  *n = v ;
  return 1 ;
}
