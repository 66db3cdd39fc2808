/* tern_maildir_name: Maildir file names (the Maildir spec; Maildir++ S=
   and Dovecot's W= sizes; flags after ":2," in ASCII order, keyword
   letters a-z after them as Dovecot writes them). The functions share
   the letter table, so they sit together. */

#include <string.h>
#include <unistd.h>
#include <sys/time.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "tern_store.h"

/* the standard letters, in ASCII order, and their bits */
static char const letters[] = "DFPRST" ;
static uint32_t const bits[] = { TERN_F_DRAFT, TERN_F_FLAGGED, TERN_F_PASSED, TERN_F_ANSWERED, TERN_F_SEEN, TERN_F_DELETED } ;

size_t tern_maildir_uniqlen (char const *name, size_t len)
{
  char const *c = memchr(name, ':', len) ;
  return c ? (size_t)(c - name) : len ;
}

uint64_t tern_maildir_sizefield (char const *name, size_t len, char which)
{
  size_t ul = tern_maildir_uniqlen(name, len) ;
  for (size_t i = 0 ; i + 3 < ul ; i++)
    if (name[i] == ',' && name[i+1] == which && name[i+2] == '=')
    {
      uint64_t v ;
      size_t k = uint64_scan(name + i + 3, &v) ;
      if (k && (i + 3 + k == ul || name[i+3+k] == ',')) return v ;
    }
  return TERN_SIZE_UNKNOWN ;
}

void tern_maildir_flags (char const *name, size_t len, uint32_t *flags, uint32_t *kw)
{
  size_t ul = tern_maildir_uniqlen(name, len) ;
  *flags = 0 ; *kw = 0 ;
  if (len - ul < 3 || name[ul+1] != '2' || name[ul+2] != ',') return ;
  for (size_t i = ul + 3 ; i < len ; i++)
  {
    char c = name[i] ;
    if (c >= 'a' && c <= 'z') *kw |= 1u << (c - 'a') ;
    else
      for (unsigned int k = 0 ; k < 6 ; k++) if (c == letters[k]) *flags |= bits[k] ;
  }
}

int tern_maildir_flagname (stralloc *sa, char const *name, size_t len, uint32_t flags, uint32_t kw)
{
  size_t ul = tern_maildir_uniqlen(name, len) ;
  char other[26] ;
  unsigned int nother = 0 ;
  /* uppercase letters we do not know are another program's: kept */
  if (len - ul >= 3 && name[ul+1] == '2' && name[ul+2] == ',')
    for (size_t i = ul + 3 ; i < len && nother < sizeof(other) ; i++)
      if (name[i] >= 'A' && name[i] <= 'Z' && !strchr(letters, name[i]) && !memchr(other, name[i], nother))
        other[nother++] = name[i] ;
  if (!stralloc_catb(sa, name, ul) || !stralloc_catb(sa, ":2,", 3)) return 0 ;
  for (char c = 'A' ; c <= 'Z' ; c++)
  {
    char const *p = strchr(letters, c) ;
    int on = p ? !!(flags & bits[p - letters]) : !!memchr(other, c, nother) ;
    if (on && !stralloc_catb(sa, &c, 1)) return 0 ;
  }
  for (unsigned int i = 0 ; i < 26 ; i++)
    if (kw & (1u << i))
    {
      char c = 'a' + i ;
      if (!stralloc_catb(sa, &c, 1)) return 0 ;
    }
  return stralloc_0(sa) ;
}

/* The host part, with "/" and ":" escaped as the Maildir spec says. */
static char const *host (void)
{
  static char h[256 * 4 + 1] ;
  if (!h[0])
  {
    char raw[256] ;
    size_t n = 0 ;
    if (gethostname(raw, sizeof(raw)) < 0) strcpy(raw, "localhost") ;
    raw[sizeof(raw) - 1] = 0 ;
    for (char const *p = raw ; *p && n < sizeof(h) - 5 ; p++)
    {
      if (*p == '/') { memcpy(h + n, "\\057", 4) ; n += 4 ; }
      else if (*p == ':') { memcpy(h + n, "\\072", 4) ; n += 4 ; }
      else if (*p == ',') { memcpy(h + n, "\\054", 4) ; n += 4 ; }
      else h[n++] = *p ;
    }
    h[n] = 0 ;
  }
  return h ;
}

int tern_maildir_newname (stralloc *sa, uint64_t size, uint64_t vsize)
{
  static unsigned int q = 0 ;
  struct timeval tv ;
  char fmt[UINT64_FMT] ;
  gettimeofday(&tv, 0) ;
  if (!stralloc_catb(sa, fmt, uint64_fmt(fmt, (uint64_t)tv.tv_sec))
   || !stralloc_catb(sa, ".M", 2) || !stralloc_catb(sa, fmt, uint_fmt(fmt, (unsigned int)tv.tv_usec))
   || !stralloc_catb(sa, "P", 1) || !stralloc_catb(sa, fmt, pid_fmt(fmt, getpid()))
   || !stralloc_catb(sa, "Q", 1) || !stralloc_catb(sa, fmt, uint_fmt(fmt, ++q))
   || !stralloc_catb(sa, ".", 1) || !stralloc_cats(sa, host())) return 0 ;
  if (size != TERN_SIZE_UNKNOWN && (!stralloc_catb(sa, ",S=", 3) || !stralloc_catb(sa, fmt, uint64_fmt(fmt, size)))) return 0 ;
  if (vsize != TERN_SIZE_UNKNOWN && (!stralloc_catb(sa, ",W=", 3) || !stralloc_catb(sa, fmt, uint64_fmt(fmt, vsize)))) return 0 ;
  return stralloc_0(sa) ;
}
