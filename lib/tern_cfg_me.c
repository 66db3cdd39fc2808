/* tern_cfg_me: this host's mail name, the first line of etc/me, else the host name. */

#include <errno.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include "tern.h"

int tern_cfg_me (stralloc *sa)
{
  stralloc lines = STRALLOC_ZERO ;
  sa->len = 0 ;
  if (tern_cfg_lines(&lines, "me") && lines.len)
  {
    int r = stralloc_copys(sa, lines.s) && stralloc_0(sa) ;
    stralloc_free(&lines) ;
    if (r) sa->len-- ;
    return r ;
  }
  stralloc_free(&lines) ;
  if (errno && errno != ENOENT) return 0 ;
  if (!sagethostname(sa) || !stralloc_0(sa)) return 0 ;
  sa->len-- ;
  return 1 ;
}
