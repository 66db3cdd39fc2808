/* tern_hdr_find: the n-th field of a given name in a header (RFC 5322
   2.2: names are case-insensitive), its value raw. */

#include <string.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

int tern_hdr_find (char const *hdr, size_t len, char const *name, unsigned int n, char const **val, size_t *vallen)
{
  size_t pos = 0, nl = strlen(name) ;
  tern_hdr_field f ;
  while (tern_hdr_next(hdr, len, &pos, &f))
    if (f.namelen == nl && nl && tmi_caseeq(f.name, name, nl) && !n--)
    {
      *val = f.val ;
      *vallen = f.vallen ;
      return 1 ;
    }
  return 0 ;
}
