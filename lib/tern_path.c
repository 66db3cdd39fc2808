/* tern_path: sa = dir/name, NUL-terminated (sa.len excludes the NUL). */

#include <skalibs/stralloc.h>
#include "tern.h"

int tern_path (stralloc *sa, char const *dir, char const *name)
{
  sa->len = 0 ;
  if (!stralloc_cats(sa, dir) || !stralloc_catb(sa, "/", 1)
   || !stralloc_cats(sa, name) || !stralloc_0(sa)) return 0 ;
  sa->len-- ;
  return 1 ;
}
