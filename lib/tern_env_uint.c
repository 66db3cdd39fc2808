/* tern_env_uint: a decimal number from the environment, strictly scanned. */

#include <errno.h>
#include <stdlib.h>
#include <skalibs/types.h>
#include "tern.h"

int tern_env_uint (char const *name, unsigned int *v, unsigned int def)
{
  char const *s = getenv(name) ;
  if (!s || !*s) { *v = def ; return 1 ; }
  if (!uint0_scan(s, v)) return (errno = EINVAL, 0) ;
  return 1 ;
}
