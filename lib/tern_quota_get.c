/* tern_quota_get: a user's limits from $TERN_ROOT/etc/quota, lines of
   "ADDRESS STORAGE [MESSAGES]": STORAGE in KiB (RFC 9208 5.1's unit),
   MESSAGES a count, each a decimal number or "-" for none. The line of
   the address (compared without case) wins, else the line of "*", else
   there is no limit. One pass over the file, whatever its size. */

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <skalibs/types.h>
#include <skalibs/stralloc.h>
#include "tern.h"

/* one field: a number, or "-" (UINT64_MAX); the length it took, or 0 */
static size_t field (char const *s, uint64_t *v)
{
  size_t n ;
  if (s[0] == '-' && (!s[1] || s[1] == ' ' || s[1] == '\t')) { *v = UINT64_MAX ; return 1 ; }
  n = uint64_scan(s, v) ;
  if (!n || (s[n] && s[n] != ' ' && s[n] != '\t') || *v == UINT64_MAX) return 0 ;
  return n ;
}

static size_t blanks (char const *s, size_t i)
{
  while (s[i] == ' ' || s[i] == '\t') i++ ;
  return i ;
}

int tern_quota_get (char const *user, tern_quota *q)
{
  stralloc sa = STRALLOC_ZERO ;
  tern_quota def = { .storage = UINT64_MAX, .messages = UINT64_MAX } ;
  int found = 0, gotdef = 0 ;
  q->storage = q->messages = UINT64_MAX ;
  if (!tern_cfg_lines(&sa, "quota")) return errno == ENOENT ? 1 : 0 ;
  for (size_t i = 0 ; i < sa.len ; i += strlen(sa.s + i) + 1)
  {
    char const *s = sa.s + i ;
    tern_quota x = { .storage = UINT64_MAX, .messages = UINT64_MAX } ;
    size_t k = 0, n ;
    while (s[k] && s[k] != ' ' && s[k] != '\t') k++ ;
    if (!s[k]) goto bad ;
    n = blanks(s, k) ;
    {
      size_t m = field(s + n, &x.storage) ;
      if (!m) goto bad ;
      n = blanks(s, n + m) ;
    }
    if (s[n])
    {
      size_t m = field(s + n, &x.messages) ;
      if (!m) goto bad ;
      n = blanks(s, n + m) ;
      if (s[n]) goto bad ;
    }
    if (k == 1 && s[0] == '*') { if (!gotdef) { def = x ; gotdef = 1 ; } }
    else if (!found && strlen(user) == k && !strncasecmp(s, user, k)) { *q = x ; found = 1 ; }
  }
  if (!found) *q = def ;
  stralloc_free(&sa) ;
  return 1 ;
 bad:
  stralloc_free(&sa) ;
  q->storage = q->messages = UINT64_MAX ;
  return (errno = EINVAL, 0) ;
}
