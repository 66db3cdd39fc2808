/* tern_msgid: a new Message-ID, "<SECONDS.RANDOM@me>" (RFC 5322 3.6.4). */

#include <time.h>
#include <skalibs/types.h>
#include <skalibs/random.h>
#include <skalibs/stralloc.h>
#include "tern.h"

int tern_msgid (stralloc *sa, char const *me)
{
  char fmt[UINT64_FMT] ;
  char rnd[16] ;
  random_name(rnd, 16) ;
  return stralloc_catb(sa, "<", 1)
    && stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)time(0)))
    && stralloc_catb(sa, ".", 1)
    && stralloc_catb(sa, rnd, 16)
    && stralloc_catb(sa, "@", 1)
    && stralloc_cats(sa, me)
    && stralloc_catb(sa, ">", 1) ;
}
