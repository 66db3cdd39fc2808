/* tern_direct: whether the s6-sudo hops are plain execs ($TERN_DIRECT). */

#include <stdlib.h>
#include "tern.h"

int tern_direct (void)
{
  char const *s = getenv("TERN_DIRECT") ;
  return s && *s ;
}
