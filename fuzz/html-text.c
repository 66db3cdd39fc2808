/* html-text: libFuzzer target for tern_html_text and tern_html_charset.
   The input is an HTML document; checks: the text out is UTF-8 when the
   input is, it has no markup of its own making (no "<" that the input
   did not have spelt as "<" or an entity), no white space at its ends
   and no run of two, what is added is appended (the prefix kept), the
   charset found lies inside the first 1024 octets, and the same input
   parsed twice gives the same text. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"

#define check(ok) ((ok) ? (void)0 : (fprintf(stderr, "html-text fuzz: check failed at line %d: %s\n", __LINE__, #ok), abort()))

static int utf8ok (char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    unsigned char c = s[i] ;
    size_t l ;
    if (c < 0x80) { i++ ; continue ; }
    if (c < 0xc2 || c > 0xf4) return 0 ;
    l = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4 ;
    if (n - i < l) return 0 ;
    for (size_t k = 1 ; k < l ; k++) if (((unsigned char)s[i+k] & 0xc0) != 0x80) return 0 ;
    i += l ;
  }
  return 1 ;
}

static int wsp (char c)
{
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *s = (char const *)data ;
  stralloc a = STRALLOC_ZERO, b = STRALLOC_ZERO ;
  char const *cs ;
  size_t csl ;
  check(stralloc_cats(&a, "prefix")) ;
  check(tern_html_text(&a, s, size)) ;
  check(a.len >= 6 && !memcmp(a.s, "prefix", 6)) ;
  check(tern_html_text(&b, s, size)) ;
  check(a.len - 6 == b.len && (!b.len || !memcmp(a.s + 6, b.s, b.len))) ;
  check(b.len <= 3 * size + 16) ;
  if (b.len)
  {
    check(!wsp(b.s[0]) && !wsp(b.s[b.len-1])) ;
    for (size_t i = 1 ; i < b.len ; i++) check(!(wsp(b.s[i]) && wsp(b.s[i-1]))) ;
    for (size_t i = 0 ; i < b.len ; i++) check(b.s[i] != '\t' && b.s[i] != '\r' && b.s[i] != '\f') ;
  }
  if (utf8ok(s, size)) check(utf8ok(b.s, b.len)) ;
  /* gumbo replaces NUL: none comes out */
  check(!b.len || !memchr(b.s, 0, b.len)) ;
  if (!memchr(s, '<', size) && !memchr(s, '&', size)) check(!b.len || !memchr(b.s, '<', b.len)) ;
  if (tern_html_charset(s, size, &cs, &csl)) check(cs >= s && cs + csl <= s + (size < 1024 ? size : 1024) && csl) ;
  stralloc_free(&a) ;
  stralloc_free(&b) ;
  return 0 ;
}
