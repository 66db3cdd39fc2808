/* tern_hdr_fields: HEADER.FIELDS and HEADER.FIELDS.NOT (RFC 3501 6.4.5):
   the fields kept as they are in the message, then the empty line. A
   last field with no line end gets one, so that the empty line stays a
   line of its own. */

#include <string.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

static int wanted (tern_hdr_field const *f, char const *const *names, unsigned int n)
{
  for (unsigned int i = 0 ; i < n ; i++)
  {
    size_t l = strlen(names[i]) ;
    if (l == f->namelen && l && tmi_caseeq(f->name, names[i], l)) return 1 ;
  }
  return 0 ;
}

int tern_hdr_fields (stralloc *out, char const *hdr, size_t len, char const *const *names, unsigned int n, int not)
{
  size_t pos = 0 ;
  char const *eol = "\n" ;
  tern_hdr_field f ;
  char const *nl = memchr(hdr, '\n', len) ;
  if (nl && nl > hdr && nl[-1] == '\r') eol = "\r\n" ;
  while (tern_hdr_next(hdr, len, &pos, &f))
  {
    if (wanted(&f, names, n) == !!not) continue ;
    if (!stralloc_catb(out, f.raw, f.rawlen)) return 0 ;
    if (f.raw[f.rawlen-1] != '\n' && !stralloc_cats(out, eol)) return 0 ;
  }
  return stralloc_cats(out, eol) ;
}
