/* tern_imap_subject: the base subject of RFC 5256 2.1, what SORT
   SUBJECT compares and THREAD groups by (imap-serve's cmd-sort.c and
   cmd-thread.c); here in the library so that a fuzz target links it. */

#include <string.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"

/* i;ascii-casemap: a-z as A-Z */
static void upcase (char *s, size_t n)
{
  for (size_t i = 0 ; i < n ; i++) if (s[i] >= 'a' && s[i] <= 'z') s[i] -= 'a' - 'A' ;
}

static int hasprefix (char const *s, size_t n, char const *w)
{
  size_t l = strlen(w) ;
  return n >= l && !memcmp(s, w, l) ;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP: its length at s, or 0 */
static size_t blob (char const *s, size_t n)
{
  size_t i = 1 ;
  if (!n || s[0] != '[') return 0 ;
  while (i < n && s[i] != '[' && s[i] != ']') i++ ;
  if (i >= n || s[i] != ']') return 0 ;
  for (i++ ; i < n && s[i] == ' ' ; i++) ;
  return i ;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
static size_t refwd (char const *s, size_t n)
{
  size_t i ;
  if (hasprefix(s, n, "RE")) i = 2 ;
  else if (hasprefix(s, n, "FW")) i = hasprefix(s, n, "FWD") ? 3 : 2 ;
  else return 0 ;
  while (i < n && s[i] == ' ') i++ ;
  i += blob(s + i, n - i) ;
  return i < n && s[i] == ':' ? i + 1 : 0 ;
}

/* The base subject (RFC 5256 2.1) of a decoded subject, upper-cased,
   appended to sa; 1 when it was a reply or a forward (a subj-refwd, a
   "(fwd)" or a "[fwd: ...]" removed: THREAD's step 6), else 0; -1
   ENOMEM.
   Linear: a run of blobs is looked at a bounded number of times (the
   shortcut of step 4 below). */
int tern_imap_base_subject (stralloc *sa, char const *subj, size_t len)
{
  size_t start = sa->len ;
  int reply = 0 ;
  char *s ;
  size_t n ;
  /* (1) WSP runs, folding included, as one SP */
  for (size_t i = 0 ; i < len ; i++)
  {
    char ch = subj[i] ;
    if (ch == '\t' || ch == '\r' || ch == '\n') ch = ' ' ;
    if (ch == ' ' && sa->len > start && sa->s[sa->len - 1] == ' ') continue ;
    if (!stralloc_catb(sa, &ch, 1)) { sa->len = start ; return -1 ; }
  }
  if (sa->len == start) return 0 ;   /* an empty subject; sa->s may be null */
  s = sa->s + start ;
  n = sa->len - start ;
  upcase(s, n) ;
  for (;;)
  {
    /* (2) subj-trailer = "(fwd)" / WSP, at the end */
    for (;;)
    {
      if (n && s[n-1] == ' ') n-- ;
      else if (n >= 5 && !memcmp(s + n - 5, "(FWD)", 5)) { n -= 5 ; reply = 1 ; }
      else break ;
    }
    for (;;)
    {
      int changed = 0 ;
      size_t i, k, last ;
      /* (3) subj-leader = (*subj-blob subj-refwd) / WSP */
      for (;;)
      {
        if (n && s[0] == ' ') { s++ ; n-- ; changed = 1 ; continue ; }
        for (i = 0 ; (k = blob(s + i, n - i)) ; i += k) ;
        k = refwd(s + i, n - i) ;
        if (!k) break ;
        s += i + k ; n -= i + k ; changed = 1 ; reply = 1 ;
      }
      /* (4) a leading subj-blob goes when something is left after it.
         Step 3 then fails on the blobs that follow for the same reason,
         so they all go at once, but the last when nothing follows. */
      for (i = 0, last = 0 ; (k = blob(s + i, n - i)) ; last = i, i += k) ;
      if (i && i < n) { s += i ; n -= i ; changed = 1 ; }
      else if (i && last) { s += last ; n -= last ; changed = 1 ; }
      /* (5) */
      if (!changed) break ;
    }
    /* (6) subj-fwd-hdr "[fwd:" and subj-fwd-trl "]" */
    if (n >= 6 && !memcmp(s, "[FWD:", 5) && s[n-1] == ']') { s += 5 ; n -= 6 ; reply = 1 ; continue ; }
    break ;
  }
  memmove(sa->s + start, s, n) ;
  sa->len = start + n ;
  return reply ;
}
