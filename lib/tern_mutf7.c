/* tern_mutf7: modified UTF-7, the form of IMAP4rev1 mailbox names (RFC
   3501 5.1.3) and of Maildir++ folder names on the disk: printable
   US-ASCII stands for itself but "&", which is "&-"; anything else is
   UTF-16 in base64 (with "," for "/", no padding) between "&" and "-".
   The three functions share the decoder, so they sit in one file. */

#include <errno.h>
#include <stdint.h>
#include <skalibs/stralloc.h>
#include "tern_imap.h"

static char const b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+," ;

static int b64val (char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A' ;
  if (c >= 'a' && c <= 'z') return c - 'a' + 26 ;
  if (c >= '0' && c <= '9') return c - '0' + 52 ;
  if (c == '+') return 62 ;
  if (c == ',') return 63 ;
  return -1 ;
}

static int put_utf8 (stralloc *sa, uint32_t c)
{
  char b[4] ;
  size_t n ;
  if (c < 0x80) { b[0] = c ; n = 1 ; }
  else if (c < 0x800) { b[0] = 0xc0 | c >> 6 ; b[1] = 0x80 | (c & 0x3f) ; n = 2 ; }
  else if (c < 0x10000) { b[0] = 0xe0 | c >> 12 ; b[1] = 0x80 | (c >> 6 & 0x3f) ; b[2] = 0x80 | (c & 0x3f) ; n = 3 ; }
  else { b[0] = 0xf0 | c >> 18 ; b[1] = 0x80 | (c >> 12 & 0x3f) ; b[2] = 0x80 | (c >> 6 & 0x3f) ; b[3] = 0x80 | (c & 0x3f) ; n = 4 ; }
  return sa ? stralloc_catb(sa, b, n) : 1 ;
}

/* Decodes s[0..len) into sa (or only checks it when sa is 0). */
static int decode (stralloc *sa, char const *s, size_t len)
{
  size_t i = 0 ;
  while (i < len)
  {
    unsigned char c = s[i] ;
    uint32_t bits = 0, hi = 0 ;
    unsigned int nbits = 0, nunits = 0 ;
    if (c < 0x20 || c > 0x7e) return (errno = EINVAL, 0) ;
    if (c != '&')
    {
      if (sa && !stralloc_catb(sa, s + i, 1)) return 0 ;
      i++ ;
      continue ;
    }
    i++ ;
    if (i < len && s[i] == '-')
    {
      if (sa && !stralloc_catb(sa, "&", 1)) return 0 ;
      i++ ;
      continue ;
    }
    /* a base64 run of UTF-16 code units */
    for (;;)
    {
      int v ;
      if (i >= len) return (errno = EINVAL, 0) ;
      if (s[i] == '-') { i++ ; break ; }
      v = b64val(s[i++]) ;
      if (v < 0) return (errno = EINVAL, 0) ;
      bits = (bits << 6) | v ;
      nbits += 6 ;
      if (nbits >= 16)
      {
        uint32_t u = (bits >> (nbits - 16)) & 0xffff ;
        nbits -= 16 ;
        bits &= (1u << nbits) - 1 ;
        nunits++ ;
        if (hi)
        {
          if (u < 0xdc00 || u > 0xdfff) return (errno = EINVAL, 0) ;
          if (!put_utf8(sa, 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00))) return 0 ;
          hi = 0 ;
        }
        else if (u >= 0xd800 && u <= 0xdbff) hi = u ;
        else if (u >= 0xdc00 && u <= 0xdfff) return (errno = EINVAL, 0) ;
        /* printable US-ASCII must not be encoded (RFC 3501 5.1.3) */
        else if (u >= 0x20 && u <= 0x7e) return (errno = EINVAL, 0) ;
        else if (!put_utf8(sa, u)) return 0 ;
      }
    }
    /* a run encodes something, ends on a whole code unit (at most 5 zero
       bits of padding), and is not followed by another (the canonical
       form has one run there: what Dovecot checks by converting back) */
    if (!nunits || hi || nbits >= 6 || bits) return (errno = EINVAL, 0) ;
    if (i + 1 < len && s[i] == '&' && s[i+1] != '-') return (errno = EINVAL, 0) ;
  }
  return 1 ;
}

int tern_mutf7_valid (char const *s, size_t len)
{
  return decode(0, s, len) ;
}

int tern_mutf7_to_utf8 (stralloc *sa, char const *s, size_t len)
{
  size_t start = sa->len ;
  if (decode(sa, s, len)) return 1 ;
  sa->len = start ;
  return 0 ;
}

/* The next code point of UTF-8 at s[*i], or -1 if malformed. */
static int32_t next_utf8 (char const *s, size_t len, size_t *i)
{
  unsigned char c = s[*i] ;
  uint32_t v ;
  unsigned int n ;
  if (c < 0x80) { (*i)++ ; return c ; }
  if (c >= 0xc2 && c <= 0xdf) { v = c & 0x1f ; n = 1 ; }
  else if (c >= 0xe0 && c <= 0xef) { v = c & 0x0f ; n = 2 ; }
  else if (c >= 0xf0 && c <= 0xf4) { v = c & 0x07 ; n = 3 ; }
  else return -1 ;
  if (len - *i <= n) return -1 ;
  for (unsigned int k = 1 ; k <= n ; k++)
  {
    unsigned char d = s[*i + k] ;
    if ((d & 0xc0) != 0x80) return -1 ;
    v = v << 6 | (d & 0x3f) ;
  }
  if ((n == 2 && v < 0x800) || (n == 3 && v < 0x10000) || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return -1 ;
  *i += n + 1 ;
  return v ;
}

int tern_utf8_to_mutf7 (stralloc *sa, char const *s, size_t len)
{
  size_t start = sa->len, i = 0 ;
  while (i < len)
  {
    unsigned char c = s[i] ;
    uint32_t bits = 0 ;
    unsigned int nbits = 0 ;
    if (c >= 0x20 && c <= 0x7e)
    {
      if (!stralloc_catb(sa, c == '&' ? "&-" : s + i, c == '&' ? 2 : 1)) goto err ;
      i++ ;
      continue ;
    }
    if (!stralloc_catb(sa, "&", 1)) goto err ;
    while (i < len && ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e))
    {
      int32_t cp = next_utf8(s, len, &i) ;
      uint32_t units[2] ;
      unsigned int nu = 1 ;
      if (cp < 0) { errno = EINVAL ; goto err ; }
      if (cp >= 0x10000)
      {
        units[0] = 0xd800 + ((cp - 0x10000) >> 10) ;
        units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff) ;
        nu = 2 ;
      }
      else units[0] = cp ;
      for (unsigned int k = 0 ; k < nu ; k++)
      {
        bits = bits << 16 | units[k] ;
        nbits += 16 ;
        while (nbits >= 6)
        {
          nbits -= 6 ;
          if (!stralloc_catb(sa, b64 + ((bits >> nbits) & 0x3f), 1)) goto err ;
        }
        bits &= (1u << nbits) - 1 ;
      }
    }
    if (nbits && !stralloc_catb(sa, b64 + ((bits << (6 - nbits)) & 0x3f), 1)) goto err ;
    if (!stralloc_catb(sa, "-", 1)) goto err ;
  }
  return 1 ;
 err:
  sa->len = start ;
  return 0 ;
}
