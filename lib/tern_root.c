/* tern_root: the instance directory, $TERN_ROOT or the compiled-in default. */

#include <stdlib.h>
#include "tern.h"

#ifndef TERN_ROOT_DEFAULT
#define TERN_ROOT_DEFAULT "/var/tern"
#endif

char const *tern_root (void)
{
  char const *s = getenv("TERN_ROOT") ;
  return s && *s ? s : TERN_ROOT_DEFAULT ;
}
