/* tern_imap_string: an IMAP string (RFC 3501 4.3, 9 "string"; RFC 9051
   9 for UTF-8 in quoted strings): NIL for none, a quoted string when
   every octet may be in one, else a literal (whose NULs are dropped: no
   IMAP string may hold one). */

#include <stdio.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

int tern_imap_string (stralloc *sa, char const *s, size_t len, unsigned int flags)
{
  size_t i = 0, esc = 0, nul = 0 ;
  int literal = 0 ;
  if (!s) return stralloc_catb(sa, "NIL", 3) ;
  while (i < len)
  {
    unsigned char c = s[i] ;
    if (c == '"' || c == '\\') esc++ ;
    if (!c) { nul++ ; literal = 1 ; }
    else if (c == '\r' || c == '\n') literal = 1 ;
    else if (c >= 0x80)
    {
      size_t l = flags & TERN_ISTR_UTF8 ? tmi_utf8(s, len, i) : 0 ;
      if (!l) { literal = 1 ; i++ ; continue ; }
      i += l ;
      continue ;
    }
    i++ ;
  }
  if (literal)
  {
    char buf[32] ;
    int n = snprintf(buf, sizeof buf, "{%zu}\r\n", len - nul) ;
    if (!stralloc_catb(sa, buf, n)) return 0 ;
    if (!nul) return stralloc_catb(sa, s, len) ;
    for (i = 0 ; i < len ;)
    {
      size_t j = i ;
      while (j < len && s[j]) j++ ;
      if (!stralloc_catb(sa, s + i, j - i)) return 0 ;
      i = j + 1 ;
    }
    return 1 ;
  }
  if (!stralloc_readyplus(sa, len + esc + 2)) return 0 ;
  sa->s[sa->len++] = '"' ;
  for (i = 0 ; i < len ; i++)
  {
    if (s[i] == '"' || s[i] == '\\') sa->s[sa->len++] = '\\' ;
    sa->s[sa->len++] = s[i] ;
  }
  sa->s[sa->len++] = '"' ;
  return 1 ;
}
