/* envelope: libFuzzer target for the ENVELOPE writer (tern_imap_envelope,
   RFC 3501 7.4.2) and its reader (tern_env_item, tern_env_fields). The
   input is a header; checks: the ENVELOPE is one balanced list of
   exactly ten items as RFC 3501 has them (strings or NIL, address
   lists of 4-item addresses), on one line outside its literals, which
   the reader reads back; the same with UTF-8 quoted strings; the
   search text of each address field (tern_imap_addrtext) is UTF-8
   when the input is (8-bit octets outside encoded-words are kept as
   they are). */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"

#define check(ok) ((ok) ? (void)0 : (fprintf(stderr, "envelope fuzz: check failed at line %d: %s\n", __LINE__, #ok), abort()))

/* an address list: NIL or ( ( 4 items )... ), each item NIL or a string */
static void addrlist (tern_env_it const *it)
{
  size_t pos = 0 ;
  tern_env_it a ;
  if (it->kind == 0) return ;
  check(it->kind == 3) ;
  while (pos < it->len)
  {
    size_t p2 = 0 ;
    tern_env_it f ;
    while (pos < it->len && it->s[pos] == ' ') pos++ ;
    if (pos >= it->len) break ;
    check(tern_env_item(it->s, it->len, &pos, &a, 2)) ;
    check(a.kind == 3) ;
    for (int k = 0 ; k < 4 ; k++)
    {
      check(tern_env_item(a.s, a.len, &p2, &f, 3)) ;
      check(f.kind == 0 || f.kind == 1 || f.kind == 2) ;
    }
    while (p2 < a.len && a.s[p2] == ' ') p2++ ;
    check(p2 == a.len) ;
  }
}

static void envelope (char const *h, size_t n, unsigned int flags)
{
  stralloc out = STRALLOC_ZERO ;
  tern_env_it it[10], extra ;
  size_t pos ;
  check(stralloc_cats(&out, "x")) ;
  check(tern_imap_envelope(&out, h, n, flags)) ;
  check(out.len > 1 && out.s[0] == 'x' && out.s[1] == '(' && out.s[out.len-1] == ')') ;
  check(tern_env_fields(out.s + 1, out.len - 1, 9, it)) ;
  for (int k = 0 ; k < 10 ; k++)
  {
    if (k >= 2 && k <= 7) addrlist(it + k) ;
    else check(it[k].kind == 0 || it[k].kind == 1 || it[k].kind == 2) ;
    check(tern_env_field(out.s + 1, out.len - 1, k, &extra) && extra.kind == it[k].kind && extra.s == it[k].s && extra.len == it[k].len) ;
  }
  /* nothing after the tenth item but the close */
  pos = it[9].s ? (size_t)(it[9].s - (out.s + 1)) + it[9].len + (it[9].kind == 1) : 0 ;
  if (it[9].kind != 0) check(pos == out.len - 2) ;
  stralloc_free(&out) ;
}

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

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *s = (char const *)data ;
  envelope(s, size, 0) ;
  envelope(s, size, TERN_ISTR_UTF8) ;
  {
    stralloc t = STRALLOC_ZERO ;
    size_t pos = 0 ;
    tern_hdr_field f ;
    while (tern_hdr_next(s, size, &pos, &f))
    {
      t.len = 0 ;
      check(tern_imap_addrtext(&t, f.val, f.vallen)) ;
      if (utf8ok(s, size)) check(utf8ok(t.s, t.len)) ;
    }
    stralloc_free(&t) ;
  }
  /* the reader on arbitrary input: never out of bounds */
  {
    tern_env_it it[10] ;
    size_t pos = 0 ;
    tern_env_fields(s, size, 9, it) ;
    while (pos < size && tern_env_item(s, size, &pos, it, 0)) ;
  }
  return 0 ;
}
