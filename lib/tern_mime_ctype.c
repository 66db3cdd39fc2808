/* tern_mime_ctype: the type "/" subtype of a Content-Type value (RFC 2045
   5.1), with CFWS allowed around each. Anything but ";" after them makes
   the value invalid, as for Dovecot: "message/rfc822 junk" is no
   message/rfc822. */

#include "tern_mime.h"
#include "tern_mime_internal.h"

int tern_mime_ctype (char const *s, size_t n, char const **type, size_t *tl, char const **sub, size_t *sl, size_t *params)
{
  size_t i = tmi_cfws(s, n, 0), j ;
  j = tmi_token(s, n, i) ;
  if (j == i) return 0 ;
  *type = s + i ; *tl = j - i ;
  i = tmi_cfws(s, n, j) ;
  if (i >= n || s[i] != '/') return 0 ;
  i = tmi_cfws(s, n, i + 1) ;
  j = tmi_token(s, n, i) ;
  if (j == i) return 0 ;
  *sub = s + i ; *sl = j - i ;
  *params = j ;
  i = tmi_cfws(s, n, j) ;
  return i >= n || s[i] == ';' ;
}
