/* tern_smtp_path: an RFC 5321 4.1.2 Path, with RFC 6531 3.3's UTF-8:

   Path = "<" [ A-d-l ":" ] Mailbox ">"     A-d-l = At-domain *( "," At-domain )
   Mailbox = Local-part "@" ( Domain / address-literal )
   Local-part = Dot-string / Quoted-string
   Domain = sub-domain *("." sub-domain)     (4.1.3 for the literals)

   The source route is obsolete (4.1.1.3, appendix C): it is checked and
   dropped. A quoted local part whose content is a valid dot-string is
   stored unquoted ("a.b"@c is a.b@c); otherwise as received. Only the
   syntax is bounded here: the command line cap bounds the length. */

#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include "tern.h"

/* Length of the valid UTF-8 sequence (RFC 3629 4) at s, 0 if none. */
static size_t utf8_seq (unsigned char const *s, size_t len)
{
  unsigned char c = s[0] ;
  size_t n ;
  unsigned char lo = 0x80, hi = 0xbf ;
  if (c >= 0xc2 && c <= 0xdf) n = 2 ;
  else if (c >= 0xe0 && c <= 0xef)
  {
    n = 3 ;
    if (c == 0xe0) lo = 0xa0 ;          /* no overlongs */
    else if (c == 0xed) hi = 0x9f ;     /* no surrogates */
  }
  else if (c >= 0xf0 && c <= 0xf4)
  {
    n = 4 ;
    if (c == 0xf0) lo = 0x90 ;
    else if (c == 0xf4) hi = 0x8f ;     /* nothing above U+10FFFF */
  }
  else return 0 ;
  if (len < n) return 0 ;
  if (s[1] < lo || s[1] > hi) return 0 ;
  for (size_t i = 2 ; i < n ; i++) if (s[i] < 0x80 || s[i] > 0xbf) return 0 ;
  return n ;
}

/* RFC 5322 3.2.3 atext */
static int is_atext (unsigned char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1 ;
  return c && !!strchr("!#$%&'*+-/=?^_`{|}~", c) ;
}

static int is_letdig (unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ;
}

/* A dot-string (atoms of atext or UTF-8, single dots between) at s:
   returns its length (0 if none); *utf8 set on non-ASCII. */
static size_t dot_string (unsigned char const *s, size_t len, int *utf8)
{
  size_t i = 0 ;
  for (;;)
  {
    size_t start = i ;
    while (i < len)
    {
      if (is_atext(s[i])) i++ ;
      else if (s[i] >= 0x80)
      {
        size_t n = utf8_seq(s + i, len - i) ;
        if (!n) return 0 ;
        *utf8 = 1 ;
        i += n ;
      }
      else break ;
    }
    if (i == start) return 0 ;           /* empty atom: leading, trailing or double dot */
    if (i < len && s[i] == '.' && i + 1 < len) { i++ ; continue ; }
    return i ;
  }
}

/* An RFC 5321 Domain (letters, digits, hyphens; RFC 6531 U-labels taken
   as any valid UTF-8), labels of 63 octets or fewer, 255 in all. */
static size_t domain (unsigned char const *s, size_t len, int *utf8)
{
  size_t i = 0 ;
  for (;;)
  {
    size_t start = i ;
    while (i < len)
    {
      if (is_letdig(s[i]) || s[i] == '-') i++ ;
      else if (s[i] >= 0x80)
      {
        size_t n = utf8_seq(s + i, len - i) ;
        if (!n) return 0 ;
        *utf8 = 1 ;
        i += n ;
      }
      else break ;
    }
    if (i == start || i - start > 63) return 0 ;
    if (s[start] == '-' || s[i-1] == '-') return 0 ;   /* sub-domain = Let-dig [Ldh-str] */
    if (i < len && s[i] == '.' && i + 1 < len && s[i+1] != '.') { i++ ; continue ; }
    break ;
  }
  return i <= 255 ? i : 0 ;
}

/* RFC 5321 4.1.3 IPv4-address-literal: Snum 3("." Snum), Snum 1*3DIGIT <= 255 */
static int ipv4_ok (char const *s, size_t len)
{
  size_t i = 0 ;
  for (unsigned int k = 0 ; k < 4 ; k++)
  {
    size_t start = i ;
    unsigned int v = 0 ;
    if (k) { if (i >= len || s[i] != '.') return 0 ; start = ++i ; }
    while (i < len && i - start < 3 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0') ;
    if (i == start || v > 255) return 0 ;
  }
  return i == len ;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 / Standardized-tag ":" 1*dcontent ) "]" */
static size_t address_literal (char const *s, size_t len)
{
  size_t end = 1 ;
  while (end < len && s[end] != ']') end++ ;
  if (end >= len || end == 1) return 0 ;
  {
    char const *c = s + 1 ;
    size_t n = end - 1 ;
    if (n > 5 && !strncasecmp(c, "IPv6:", 5))
    {
      char tmp[64] ;
      unsigned char bin[16] ;
      if (n - 5 >= sizeof(tmp)) return 0 ;
      /* inet_pton stops at a NUL: allow nothing it would not parse */
      for (size_t i = 5 ; i < n ; i++)
        if (!is_letdig(c[i]) && c[i] != ':' && c[i] != '.') return 0 ;
      memcpy(tmp, c + 5, n - 5) ;
      tmp[n-5] = 0 ;
      return inet_pton(AF_INET6, tmp, bin) == 1 ? end + 1 : 0 ;
    }
    if (ipv4_ok(c, n)) return end + 1 ;
    /* General-address-literal: Ldh-str ending in a Let-dig, ":", dcontent (%d33-90 / %d94-126) */
    {
      size_t i = 0 ;
      while (i < n && (is_letdig(c[i]) || c[i] == '-')) i++ ;
      if (!i || i >= n || c[i] != ':' || c[i-1] == '-' || !is_letdig(c[0])) return 0 ;
      if (++i == n) return 0 ;
      for (; i < n ; i++)
      {
        unsigned char d = c[i] ;
        if (d < 33 || d > 126 || (d >= 91 && d <= 93)) return 0 ;
      }
      return end + 1 ;
    }
  }
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE: returns its length with the
   quotes; content (unescaped) goes to out, *clen. */
static size_t quoted_string (unsigned char const *s, size_t len, char *out, size_t *clen, int *utf8)
{
  size_t i = 1, o = 0 ;
  while (i < len && s[i] != '"')
  {
    unsigned char c = s[i] ;
    if (c == '\\')
    {
      /* quoted-pairSMTP = %d92 %d32-126 */
      if (i + 1 >= len || s[i+1] < 32 || s[i+1] > 126) return 0 ;
      out[o++] = s[i+1] ;
      i += 2 ;
    }
    else if (c >= 0x80)
    {
      size_t n = utf8_seq(s + i, len - i) ;
      if (!n) return 0 ;
      *utf8 = 1 ;
      memcpy(out + o, s + i, n) ;
      o += n ; i += n ;
    }
    else if (c >= 32 && c <= 126) { out[o++] = c ; i++ ; }   /* qtextSMTP */
    else return 0 ;
  }
  if (i >= len) return 0 ;
  *clen = o ;
  return i + 1 ;
}

size_t tern_smtp_path (char const *str, size_t len, unsigned int flags, char *out, size_t *outlen, int *utf8)
{
  unsigned char const *s = (unsigned char const *)str ;
  size_t i = 1, o = 0, n ;
  int u = 0 ;
  *utf8 = 0 ;
  if (!len || s[0] != '<') return 0 ;
  if (len >= 2 && s[1] == '>')
  {
    if (!(flags & TERN_PATH_NULLOK)) return 0 ;
    out[0] = 0 ; *outlen = 0 ;
    return 2 ;
  }

  /* A-d-l ":" -- checked, then forgotten */
  if (i < len && s[i] == '@')
  {
    for (;;)
    {
      int du = 0 ;
      if (i >= len || s[i] != '@') return 0 ;
      i++ ;
      n = domain(s + i, len - i, &du) ;
      if (!n) return 0 ;
      i += n ;
      if (i < len && s[i] == ',') { i++ ; continue ; }
      if (i < len && s[i] == ':') { i++ ; break ; }
      return 0 ;
    }
  }

  /* Local-part */
  if (i < len && s[i] == '"')
  {
    size_t clen, qlen ;
    int cu = 0 ;
    qlen = quoted_string(s + i, len - i, out, &clen, &u) ;
    if (!qlen) return 0 ;
    if (clen && dot_string((unsigned char *)out, clen, &cu) == clen) o = clen ;
    else { memcpy(out, s + i, qlen) ; o = qlen ; }
    i += qlen ;
  }
  else
  {
    n = dot_string(s + i, len - i, &u) ;
    if (!n) return 0 ;
    memcpy(out, s + i, n) ;
    o = n ; i += n ;
  }

  if (i < len && s[i] == '>')
  {
    /* RFC 5321 4.1.1.3: "<Postmaster>", case-insensitively, for RCPT */
    if (!(flags & TERN_PATH_POSTMASTER) || o != 10 || strncasecmp(out, "postmaster", 10)) return 0 ;
    memcpy(out, "postmaster", 10) ;
    out[10] = 0 ; *outlen = 10 ;
    return i + 1 ;
  }
  if (i >= len || s[i] != '@') return 0 ;
  out[o++] = s[i++] ;
  if (i < len && s[i] == '[') n = address_literal(str + i, len - i) ;
  else n = domain(s + i, len - i, &u) ;
  if (!n) return 0 ;
  memcpy(out + o, s + i, n) ;
  o += n ; i += n ;
  if (i >= len || s[i] != '>') return 0 ;
  out[o] = 0 ;
  *outlen = o ;
  *utf8 = u ;
  return i + 1 ;
}
