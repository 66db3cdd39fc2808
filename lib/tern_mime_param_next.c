/* tern_mime_param_next: the parameters of a Content-Type or
   Content-Disposition value one at a time, as written (RFC 2045 5.1).
   Lenient where mail is: junk between parameters is skipped up to the
   next ";", and an unquoted value runs up to ";", white space or "(". */

#include "tern_mime.h"
#include "tern_mime_internal.h"

/* past junk up to the next ";" outside quoted strings and comments */
static size_t skipjunk (char const *s, size_t n, size_t i)
{
  while (i < n && s[i] != ';')
  {
    if (s[i] == '"') i = tmi_qstring(s, n, i) ;
    else if (s[i] == '(') i = tmi_comment(s, n, i) ;
    else i++ ;
  }
  return i ;
}

size_t tern_mime_param_next (char const *s, size_t n, size_t i, tern_mime_rawparam *p)
{
  for (;;)
  {
    size_t j ;
    i = skipjunk(s, n, i) ;
    if (i >= n) return 0 ;
    i = tmi_cfws(s, n, i + 1) ;
    j = tmi_token(s, n, i) ;
    if (j == i) continue ;
    p->name = s + i ; p->namelen = j - i ;
    i = tmi_cfws(s, n, j) ;
    if (i >= n || s[i] != '=') continue ;
    i = tmi_cfws(s, n, i + 1) ;
    if (i < n && s[i] == '"')
    {
      size_t k = i + 1 ;
      int closed = 0 ;
      for (; k < n ; k++)
      {
        if (s[k] == '\\') { k++ ; continue ; }
        if (s[k] == '"') { closed = 1 ; break ; }
      }
      if (k > n) k = n ;
      p->val = s + i + 1 ; p->vallen = k - i - 1 ;
      p->quoted = 1 ;
      return closed ? k + 1 : n ;
    }
    j = i ;
    while (j < n && (unsigned char)s[j] > 32 && s[j] != ';' && s[j] != '(' && s[j] != '"' && s[j] != 127) j++ ;
    p->val = s + i ; p->vallen = j - i ;
    p->quoted = 0 ;
    return j > 0 ? j : 1 ;
  }
}
