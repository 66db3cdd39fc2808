/* tern_cdb_open: map $TERN_ROOT/etc/NAME.cdb. */

#include <errno.h>
#include <skalibs/stralloc.h>
#include <skalibs/cdb.h>
#include "tern.h"

int tern_cdb_open (cdb *c, char const *name)
{
  stralloc path = STRALLOC_ZERO ;
  int r, e ;
  if (!tern_path(&path, tern_root(), "etc/")) return 0 ;
  if (!stralloc_cats(&path, name) || !stralloc_cats(&path, ".cdb") || !stralloc_0(&path))
  {
    stralloc_free(&path) ;
    return 0 ;
  }
  r = cdb_init(c, path.s) ;
  e = errno ;
  stralloc_free(&path) ;
  errno = e ;
  return r ;
}
