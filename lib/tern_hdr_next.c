/* tern_hdr_next: the fields of a header one at a time (RFC 5322 2.2,
   2.2.3: a field goes on over the lines that begin with white space).
   LF or CRLF line ends; the empty line or the end of hdr ends it. */

#include <string.h>
#include "tern_mime.h"

static size_t lineend (char const *s, size_t n, size_t i)
{
  char const *nl = memchr(s + i, '\n', n - i) ;
  return nl ? (size_t)(nl - s) + 1 : n ;
}

int tern_hdr_next (char const *s, size_t n, size_t *pos, tern_hdr_field *f)
{
  size_t i = *pos, first, end, vend ;
  if (i >= n || s[i] == '\n' || (s[i] == '\r' && i + 1 < n && s[i+1] == '\n')) return 0 ;
  first = lineend(s, n, i) ;
  end = first ;
  while (end < n && (s[end] == ' ' || s[end] == '\t')) end = lineend(s, n, end) ;
  vend = end ;
  if (vend > i && s[vend-1] == '\n') { vend-- ; if (vend > i && s[vend-1] == '\r') vend-- ; }
  f->raw = s + i ;
  f->rawlen = end - i ;
  if (s[i] == ' ' || s[i] == '\t')
  {
    f->name = s + i ; f->namelen = 0 ;
    f->val = s + i ; f->vallen = vend - i ;
  }
  else
  {
    size_t fl = first ;
    char const *colon ;
    if (fl > i && s[fl-1] == '\n') { fl-- ; if (fl > i && s[fl-1] == '\r') fl-- ; }
    colon = memchr(s + i, ':', fl - i) ;
    f->name = s + i ;
    if (colon)
    {
      f->namelen = colon - (s + i) ;
      f->val = colon + 1 ;
      f->vallen = vend - (colon + 1 - s) ;
    }
    else
    {
      f->namelen = fl - i ;
      f->val = s + vend ;
      f->vallen = 0 ;
    }
    while (f->namelen && (f->name[f->namelen-1] == ' ' || f->name[f->namelen-1] == '\t')) f->namelen-- ;
  }
  *pos = end ;
  return 1 ;
}
