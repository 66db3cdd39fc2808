/* tern_mime_decode: a body's Content-Transfer-Encoding undone (RFC 2045
   6). base64 as 6.8 asks of a decoder: octets outside the alphabet are
   skipped, "=" ends a group (so that concatenated encodings decode too).
   quoted-printable as 6.7: "=XX" (either case), soft line breaks ("="
   then white space to the end of the line), white space ending a line
   dropped (rule 3), line breaks as CRLF (rule 4), and an "=" that begins
   nothing kept as it is (the robustness the RFC recommends). */

#include <string.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

signed char const tmi_b64[256] =
{
  ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
  ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
  ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
  ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
  ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
  ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
  ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
  ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64
} ;  /* value + 1; 0 outside the alphabet */

static int base64 (stralloc *out, char const *s, size_t n)
{
  uint32_t acc = 0 ;
  unsigned int bits = 0 ;
  char *w ;
  if (!stralloc_readyplus(out, n / 4 * 3 + 3)) return 0 ;
  w = out->s + out->len ;
  for (size_t i = 0 ; i < n ; i++)
  {
    int v = tmi_b64[(unsigned char)s[i]] ;
    if (!v) { if (s[i] == '=') acc = bits = 0 ; continue ; }
    acc = acc << 6 | (v - 1) ;
    bits += 6 ;
    if (bits >= 8) { bits -= 8 ; *w++ = acc >> bits ; acc &= (1u << bits) - 1 ; }
  }
  out->len = w - out->s ;
  return 1 ;
}

static int qp (stralloc *out, char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    char const *nl = memchr(s + i, '\n', n - i) ;
    size_t e = nl ? (size_t)(nl - s) : n, next = nl ? e + 1 : n, t ;
    int soft = 0 ;
    char *w ;
    if (nl && e > i && s[e-1] == '\r') e-- ;
    t = e ;
    while (t > i && (s[t-1] == ' ' || s[t-1] == '\t')) t-- ;
    if (t > i && s[t-1] == '=') { soft = 1 ; t-- ; }
    if (!stralloc_readyplus(out, t - i + 2)) return 0 ;
    w = out->s + out->len ;
    for (size_t k = i ; k < t ; k++)
    {
      int a, b ;
      if (s[k] == '=' && k + 2 < t && (a = tmi_hex((unsigned char)s[k+1])) >= 0 && (b = tmi_hex((unsigned char)s[k+2])) >= 0)
      {
        *w++ = a << 4 | b ;
        k += 2 ;
      }
      else *w++ = s[k] ;
    }
    if (nl && !soft) { *w++ = '\r' ; *w++ = '\n' ; }
    out->len = w - out->s ;
    i = next ;
  }
  return 1 ;
}

int tern_mime_decode (stralloc *out, char const *s, size_t n, unsigned int cte)
{
  switch (cte)
  {
    case TERN_CTE_BASE64 : return base64(out, s, n) ;
    case TERN_CTE_QP : return qp(out, s, n) ;
    default : return stralloc_catb(out, s, n) ;
  }
}
