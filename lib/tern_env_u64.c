/* tern_env_u64: a decimal number from the environment, strictly scanned. */

#include <errno.h>
#include <stdlib.h>
#include <skalibs/types.h>
#include "tern.h"

int tern_env_u64 (char const *name, uint64_t *v, uint64_t def)
{
  char const *s = getenv(name) ;
  if (!s || !*s) { *v = def ; return 1 ; }
  if (!uint640_scan(s, v)) return (errno = EINVAL, 0) ;
  return 1 ;
}
