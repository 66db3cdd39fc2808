/* tern_addr_canon: lowercase an address's domain, and its local part if asked. */

#include "tern.h"

void tern_addr_canon (char *s, size_t len, int lowerlocal)
{
  size_t at = tern_addr_domain(s, len) ;
  if (lowerlocal) tern_lower(s, len) ;
  else if (at < len) tern_lower(s + at, len - at) ;
}
