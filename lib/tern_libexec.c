/* tern_libexec: where tern's programs are, $TERN_LIBEXEC or the compiled-in default. */

#include <stdlib.h>
#include "tern.h"

#ifndef TERN_LIBEXEC_DEFAULT
#define TERN_LIBEXEC_DEFAULT "/usr/local/libexec/tern"
#endif

char const *tern_libexec (void)
{
  char const *s = getenv("TERN_LIBEXEC") ;
  return s && *s ? s : TERN_LIBEXEC_DEFAULT ;
}
