/* tern_addr_domain: the index of the '@' that starts an address's domain, or len. */

#include "tern.h"

size_t tern_addr_domain (char const *s, size_t len)
{
  size_t i = len ;
  while (i--) if (s[i] == '@') return i ;
  return len ;
}
