/* tern_dotstuff: a message as POP3 sends it (RFC 1939 3): LF line ends
   become CRLF (a CRLF stays one), a line starting with "." gets another.
   Streamed: *st carries the line state from one chunk to the next. */

#include <string.h>
#include "tern.h"

size_t tern_dotstuff (char *out, char const *s, size_t n, unsigned int *st)
{
  char *o = out ;
  unsigned int state = *st ;
  while (n)
  {
    char const *nl ;
    size_t k ;
    if (state & TERN_DOT_BOL && *s == '.') *o++ = '.' ;
    nl = memchr(s, '\n', n) ;
    k = nl ? (size_t)(nl - s) : n ;
    if (k)
    {
      memcpy(o, s, k) ;
      o += k ;
      state = s[k-1] == '\r' ? TERN_DOT_CR : 0 ;
    }
    if (!nl) break ;
    if (!(state & TERN_DOT_CR)) *o++ = '\r' ;
    *o++ = '\n' ;
    state = TERN_DOT_BOL ;
    s += k + 1 ; n -= k + 1 ;
  }
  *st = state ;
  return o - out ;
}
