/* base-subject: libFuzzer target for tern_imap_base_subject (RFC 5256
   2.1). Checks what SORT and THREAD rely on: the base subject is
   appended (the prefix kept), no longer than the subject, upper-case
   (no a-z), without leading or trailing white space, without a tab,
   CR or LF or two spaces in a row; taking it again changes nothing and
   is not a reply (the algorithm's fixed point); and the time it takes is
   linear (a subject of the input repeated 64 times). */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"

#define check(ok) ((ok) ? (void)0 : (fprintf(stderr, "base-subject fuzz: check failed at line %d: %s\n", __LINE__, #ok), abort()))

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *s = (char const *)data ;
  stralloc a = STRALLOC_ZERO, b = STRALLOC_ZERO, big = STRALLOC_ZERO ;
  int r ;
  check(stralloc_cats(&a, "p:")) ;
  r = tern_imap_base_subject(&a, s, size) ;
  check(r == 0 || r == 1) ;
  check(a.len >= 2 && !memcmp(a.s, "p:", 2) && a.len - 2 <= size) ;
  for (size_t i = 2 ; i < a.len ; i++)
  {
    check(!(a.s[i] >= 'a' && a.s[i] <= 'z')) ;
    check(a.s[i] != '\t' && a.s[i] != '\r' && a.s[i] != '\n') ;
    if (i > 2) check(!(a.s[i] == ' ' && a.s[i-1] == ' ')) ;
  }
  if (a.len > 2) check(a.s[2] != ' ' && a.s[a.len-1] != ' ') ;
  /* again: the same, and no reply */
  r = tern_imap_base_subject(&b, a.s + 2, a.len - 2) ;
  if (!(r == 0 && b.len == a.len - 2 && (!b.len || !memcmp(b.s, a.s + 2, b.len))))
    fprintf(stderr, "base of '%.*s' is '%.*s' (reply %d)\n", (int)(a.len - 2), a.s + 2, (int)b.len, b.s, r) ;
  check(r == 0 && b.len == a.len - 2 && (!b.len || !memcmp(b.s, a.s + 2, b.len))) ;
  if (size && size <= 256)
  {
    for (int k = 0 ; k < 64 ; k++) check(stralloc_catb(&big, s, size)) ;
    b.len = 0 ;
    check(tern_imap_base_subject(&b, big.s, big.len) >= 0) ;
  }
  stralloc_free(&a) ;
  stralloc_free(&b) ;
  stralloc_free(&big) ;
  return 0 ;
}
