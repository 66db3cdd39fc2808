/* tern_hdr_decode: a header field value for people and for SEARCH:
   unfolded (RFC 5322 2.2.3: line ends dropped), trimmed, RFC 2047
   encoded-words decoded, all of it in UTF-8.

   Encoded-words ("=?charset[*lang]?B|Q?text?=", RFC 2047 2, 4, RFC 2231
   5) are recognized wherever they are, as mail has them; white space
   between two of them is dropped (RFC 2047 6.2), and adjacent words in
   one charset are converted together, so that a character split across
   two words survives. A word that does not decode (bad base64, empty
   charset) stays as text. Raw 8-bit text is taken as UTF-8, invalid
   octets becoming U+FFFD. Linear: a candidate word is scanned up to its
   first "?" or white space, so no octet is looked at more than a few
   times. */

#include <string.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

typedef struct dec_s dec ;
struct dec_s
{
  stralloc *out ;
  stralloc pend ;          /* decoded octets of adjacent words in one charset */
  char const *cs ;
  size_t csl ;
} ;

static int flush (dec *d)
{
  int ok = 1 ;
  if (d->pend.len) ok = tern_charset_utf8(d->out, d->pend.s, d->pend.len, d->cs, d->csl) ;
  d->pend.len = 0 ;
  d->cs = 0 ; d->csl = 0 ;
  return ok ;
}

static int b64val (unsigned char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A' ;
  if (c >= 'a' && c <= 'z') return c - 'a' + 26 ;
  if (c >= '0' && c <= '9') return c - '0' + 52 ;
  if (c == '+') return 62 ;
  if (c == '/') return 63 ;
  return -1 ;
}

/* An encoded-word at s[i]: its end, with its charset and text, or 0 */
static size_t word (char const *s, size_t n, size_t i, char const **cs, size_t *csl, int *b, char const **t, size_t *tl)
{
  size_t j = i + 2, k ;
  if (i + 1 >= n || s[i] != '=' || s[i+1] != '?') return 0 ;
  while (j < n && s[j] != '?' && tmi_tokenchar(s[j])) j++ ;
  if (j == i + 2 || j + 2 >= n || s[j] != '?' || s[j+2] != '?') return 0 ;
  if (s[j+1] == 'b' || s[j+1] == 'B') *b = 1 ;
  else if (s[j+1] == 'q' || s[j+1] == 'Q') *b = 0 ;
  else return 0 ;
  k = j + 3 ;
  while (k < n && s[k] != '?' && (unsigned char)s[k] > 32 && s[k] != 127) k++ ;
  if (k + 1 >= n || s[k] != '?' || s[k+1] != '=') return 0 ;
  *cs = s + i + 2 ; *csl = j - i - 2 ;
  {
    char const *star = memchr(*cs, '*', *csl) ;   /* RFC 2231 5: a language */
    if (star) *csl = star - *cs ;
  }
  if (!*csl) return 0 ;
  *t = s + j + 3 ; *tl = k - j - 3 ;
  if (*b)
  {
    size_t x = 0 ;
    while (x < *tl && b64val((*t)[x]) >= 0) x++ ;
    while (x < *tl && (*t)[x] == '=') x++ ;
    if (x < *tl) return 0 ;
  }
  return k + 2 ;
}

static int decode (stralloc *sa, int b, char const *t, size_t n)
{
  if (b)
  {
    uint32_t acc = 0 ;
    unsigned int bits = 0 ;
    for (size_t i = 0 ; i < n ; i++)
    {
      int v = b64val(t[i]) ;
      if (v < 0) break ;
      acc = acc << 6 | v ;
      bits += 6 ;
      if (bits >= 8) { char c ; bits -= 8 ; c = acc >> bits ; acc &= (1u << bits) - 1 ; if (!stralloc_catb(sa, &c, 1)) return 0 ; }
    }
    return 1 ;
  }
  for (size_t i = 0 ; i < n ; i++)
  {
    char c = t[i] ;
    int h, l ;
    if (c == '_') c = ' ' ;
    else if (c == '=' && i + 2 < n && (h = tmi_hex((unsigned char)t[i+1])) >= 0 && (l = tmi_hex((unsigned char)t[i+2])) >= 0)
    {
      c = h << 4 | l ;
      i += 2 ;
    }
    if (!stralloc_catb(sa, &c, 1)) return 0 ;
  }
  return 1 ;
}

/* plain text: line ends dropped, the rest as UTF-8 */
static int plain (dec *d, char const *s, size_t n)
{
  size_t i = 0 ;
  if (!flush(d)) return 0 ;
  while (i < n)
  {
    size_t j = i ;
    while (j < n && s[j] != '\r' && s[j] != '\n') j++ ;
    if (j > i && !tern_charset_utf8(d->out, s + i, j - i, "utf-8", 5)) return 0 ;
    i = j + 1 ;
  }
  return 1 ;
}

int tern_hdr_decode (stralloc *out, char const *s, size_t n)
{
  dec d = { .out = out, .pend = STRALLOC_ZERO, .cs = 0, .csl = 0 } ;
  size_t i = 0, text = 0, lastword = 0 ;
  int afterword = 0, ok = 0 ;
  while (n && tmi_wsp((unsigned char)s[n-1])) n-- ;
  while (i < n && tmi_wsp((unsigned char)s[i])) i++ ;
  text = i ;
  while (i < n)
  {
    char const *cs, *t ;
    size_t csl, tl, e ;
    int b ;
    char const *q = memchr(s + i, '=', n - i) ;
    if (!q) break ;
    i = q - s ;
    e = word(s, n, i, &cs, &csl, &b, &t, &tl) ;
    if (!e) { i++ ; continue ; }
    /* text before the word: dropped if it is only white space after another word */
    if (i > text)
    {
      size_t k = text ;
      while (k < i && tmi_wsp((unsigned char)s[k])) k++ ;
      if (!(afterword && k == i && text == lastword) && !plain(&d, s + text, i - text)) goto end ;
    }
    if (d.pend.len && !(d.csl == csl && tmi_caseeq(d.cs, cs, csl)) && !flush(&d)) goto end ;
    d.cs = cs ; d.csl = csl ;
    if (!decode(&d.pend, b, t, tl)) goto end ;
    i = text = lastword = e ;
    afterword = 1 ;
  }
  if (text < n && !plain(&d, s + text, n - text)) goto end ;
  ok = flush(&d) ;
 end:
  stralloc_free(&d.pend) ;
  return ok ;
}
