/* tern_crlf_len: the octets of s[0..n) with CRLF line ends (each LF not
   preceded by CR counts two), what RFC 1939 LIST and IMAP's RFC822.SIZE
   report. Streamed with the state of tern_dotstuff. */

#include <string.h>
#include "tern.h"

uint64_t tern_crlf_len (char const *s, size_t n, unsigned int *st)
{
  uint64_t len = n ;
  unsigned int state = *st ;
  char const *end = s + n ;
  if (!n) return 0 ;
  while (s < end)
  {
    char const *nl = memchr(s, '\n', end - s) ;
    if (!nl) { state = end[-1] == '\r' ? TERN_DOT_CR : 0 ; break ; }
    if (nl > s ? nl[-1] != '\r' : !(state & TERN_DOT_CR)) len++ ;
    state = TERN_DOT_BOL ;
    s = nl + 1 ;
  }
  *st = state ;
  return len ;
}
