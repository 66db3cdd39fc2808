/* tern_mime_internal.h: small lexical helpers shared by the MIME files
   (RFC 5322 3.2 CFWS and quoted strings, RFC 2045 5.1 tokens, RFC 2231
   parameter names). Static inline: nothing here is exported. */

#ifndef TERN_MIME_INTERNAL_H
#define TERN_MIME_INTERNAL_H

#include <stddef.h>
#include <string.h>
#include <skalibs/stralloc.h>

#define TMI_UNUSED __attribute__((unused))

static inline int tmi_lower (int c)
{
  return c >= 'A' && c <= 'Z' ? c + 32 : c ;
}

/* s[0..n) is lit (lowercase), case-insensitively */
static inline int tmi_is (char const *s, size_t n, char const *lit)
{
  size_t i = 0 ;
  for (; i < n ; i++) if (!lit[i] || tmi_lower((unsigned char)s[i]) != lit[i]) return 0 ;
  return !lit[i] ;
}

/* s[0..n) and t[0..n), case-insensitively (ASCII) */
static inline int tmi_caseeq (char const *s, char const *t, size_t n)
{
  for (size_t i = 0 ; i < n ; i++) if (tmi_lower((unsigned char)s[i]) != tmi_lower((unsigned char)t[i])) return 0 ;
  return 1 ;
}

static inline int tmi_wsp (int c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' ;
}

/* RFC 2045 5.1 token octets; octets over 127 are let in, as mail has them */
static inline int tmi_tokenchar (unsigned char c)
{
  if (c <= 32 || c == 127) return 0 ;
  switch (c)
  {
    case '(' : case ')' : case '<' : case '>' : case '@' : case ',' : case ';' :
    case ':' : case '\\' : case '"' : case '/' : case '[' : case ']' : case '?' : case '=' :
      return 0 ;
  }
  return 1 ;
}

/* past a comment that starts at s[i] == '(' (nested, with quoted-pairs;
   an unterminated one runs to the end) */
static inline size_t tmi_comment (char const *s, size_t n, size_t i)
{
  size_t depth = 0 ;
  for (; i < n ; i++)
  {
    if (s[i] == '\\') { i++ ; continue ; }
    if (s[i] == '(') depth++ ;
    else if (s[i] == ')' && !--depth) return i + 1 ;
  }
  return n ;
}

/* past CFWS (RFC 5322 3.2.2) from s[i] */
static inline size_t tmi_cfws (char const *s, size_t n, size_t i)
{
  while (i < n)
  {
    if (tmi_wsp((unsigned char)s[i])) i++ ;
    else if (s[i] == '(') i = tmi_comment(s, n, i) ;
    else break ;
  }
  return i ;
}

static inline size_t tmi_token (char const *s, size_t n, size_t i)
{
  while (i < n && tmi_tokenchar(s[i])) i++ ;
  return i ;
}

/* past a quoted-string that starts at s[i] == '"' (an unterminated one runs to the end) */
static inline size_t tmi_qstring (char const *s, size_t n, size_t i)
{
  for (i++ ; i < n ; i++)
  {
    if (s[i] == '\\') { i++ ; continue ; }
    if (s[i] == '"') return i + 1 ;
  }
  return n ;
}

/* the content of a quoted-string (quotes already off): quoted-pairs
   undone, folding line ends dropped (RFC 5322 3.2.4; a backslash before
   a line end quotes nothing, so that LF and CRLF give the same) */
static inline int tmi_unquote (stralloc *out, char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    size_t j = i ;
    while (j < n && s[j] != '\\' && s[j] != '\r' && s[j] != '\n') j++ ;
    if (!stralloc_catb(out, s + i, j - i)) return 0 ;
    if (j >= n) break ;
    if (s[j] == '\\' && j + 1 < n && s[j+1] != '\r' && s[j+1] != '\n') { if (!stralloc_catb(out, s + j + 1, 1)) return 0 ; i = j + 2 ; }
    else i = j + 1 ;  /* a line end, even after a backslash, is folding */
  }
  return 1 ;
}

/* RFC 2231 3 and 4 parameter names: "name*N", "name*N*", "name*". 1 with
   the base name's length, the section (0 for "name*") and whether it is
   extended (charset'language'%XX); 0 for a plain name. */
static inline int tmi_2231 (char const *s, size_t n, size_t *base, unsigned int *idx, int *ext)
{
  char const *star = memchr(s, '*', n) ;
  size_t i ;
  unsigned int v = 0 ;
  if (!star || star == s) return 0 ;
  i = star - s + 1 ;
  *base = star - s ;
  *ext = 0 ;
  if (i == n) { *idx = 0 ; *ext = 1 ; return 1 ; }
  if (s[i] < '0' || s[i] > '9') return 0 ;
  for (; i < n && s[i] >= '0' && s[i] <= '9' ; i++) { if (v > 100000) return 0 ; v = v * 10 + (s[i] - '0') ; }
  if (i < n && s[i] == '*') { *ext = 1 ; i++ ; }
  if (i != n) return 0 ;
  *idx = v ;
  return 1 ;
}

/* base64's alphabet (RFC 2045 6.8): value + 1, 0 outside it (tern_mime_decode.c) */
extern signed char const tmi_b64[256] ;

static inline int tmi_hex (int c)
{
  if (c >= '0' && c <= '9') return c - '0' ;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10 ;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10 ;
  return -1 ;
}

/* %XX undone (RFC 2231 4), other octets copied */
static inline int tmi_pct (stralloc *out, char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    size_t j = i ;
    while (j < n && s[j] != '%') j++ ;
    if (!stralloc_catb(out, s + i, j - i)) return 0 ;
    if (j >= n) break ;
    if (j + 2 < n && tmi_hex((unsigned char)s[j+1]) >= 0 && tmi_hex((unsigned char)s[j+2]) >= 0)
    {
      char c = tmi_hex((unsigned char)s[j+1]) << 4 | tmi_hex((unsigned char)s[j+2]) ;
      if (!stralloc_catb(out, &c, 1)) return 0 ;
      i = j + 3 ;
    }
    else { if (!stralloc_catb(out, "%", 1)) return 0 ; i = j + 1 ; }
  }
  return 1 ;
}

/* the length of the valid UTF-8 sequence (RFC 3629 4) at s[i], or 0 */
static inline size_t tmi_utf8 (char const *s, size_t n, size_t i)
{
  unsigned char c = s[i], c1 ;
  size_t l ;
  if (c < 0x80) return 1 ;
  if (c < 0xc2 || c > 0xf4) return 0 ;
  l = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4 ;
  if (n - i < l) return 0 ;
  c1 = s[i+1] ;
  if ((c1 & 0xc0) != 0x80) return 0 ;
  if (c == 0xe0 && c1 < 0xa0) return 0 ;
  if (c == 0xed && c1 > 0x9f) return 0 ;
  if (c == 0xf0 && c1 < 0x90) return 0 ;
  if (c == 0xf4 && c1 > 0x8f) return 0 ;
  for (size_t k = 2 ; k < l ; k++) if (((unsigned char)s[i+k] & 0xc0) != 0x80) return 0 ;
  return l ;
}

#endif
