/* tern_cdb_find: look a key up; 1 found, 0 not found, -1 error. A zero cdb finds nothing. */

#include <skalibs/cdb.h>
#include "tern.h"

int tern_cdb_find (cdb const *c, cdb_data *d, char const *key, size_t len)
{
  if (!c->map) return 0 ;
  return cdb_find(c, d, key, len) ;
}
