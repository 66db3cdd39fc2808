/* tern_domain_in: whether a domain is in a NUL-terminated list, case-insensitively. */

#include <strings.h>
#include <string.h>
#include "tern.h"

int tern_domain_in (char const *list, size_t listlen, char const *dom, size_t domlen)
{
  size_t i = 0 ;
  while (i < listlen)
  {
    size_t n = strlen(list + i) ;
    if (n == domlen && !strncasecmp(list + i, dom, n)) return 1 ;
    i += n + 1 ;
  }
  return 0 ;
}
