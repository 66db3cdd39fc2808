/* tern_cfg_lines: the meaningful lines of $TERN_ROOT/etc/NAME, each NUL-terminated. */

#include <errno.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include "tern.h"

int tern_cfg_lines (stralloc *sa, char const *name)
{
  stralloc path = STRALLOC_ZERO, raw = STRALLOC_ZERO ;
  size_t i = 0 ;
  int e ;
  if (!tern_path(&path, tern_root(), "etc")) return 0 ;
  if (!stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, name) || !stralloc_0(&path)) goto err ;
  if (!openslurpclose(&raw, path.s)) goto err ;
  while (i < raw.len)
  {
    size_t start = i, end ;
    while (i < raw.len && raw.s[i] != '\n') i++ ;
    end = i++ ;
    while (start < end && (raw.s[start] == ' ' || raw.s[start] == '\t' || raw.s[start] == '\r')) start++ ;
    while (end > start && (raw.s[end-1] == ' ' || raw.s[end-1] == '\t' || raw.s[end-1] == '\r')) end-- ;
    if (start == end || raw.s[start] == '#') continue ;
    if (!stralloc_catb(sa, raw.s + start, end - start) || !stralloc_0(sa)) goto err ;
  }
  stralloc_free(&raw) ;
  stralloc_free(&path) ;
  return 1 ;
 err:
  e = errno ;
  stralloc_free(&raw) ;
  stralloc_free(&path) ;
  errno = e ;
  return 0 ;
}
