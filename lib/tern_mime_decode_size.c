/* tern_mime_decode_size: the size of a body with its transfer encoding
   undone (BINARY.SIZE, RFC 3516 4.2, RFC 9051 7.5.2), found by walking
   the encoded octets as tern_mime_decode does, without keeping what it
   would write: a part of any size costs no memory. The two files must
   agree octet for octet; t/unit/mime_decode.c checks that they do. */

#include <string.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

typedef struct count_s count ;
struct count_s { uint64_t n ; int crlf ; unsigned char prev ; } ;

static inline void emit (count *k, unsigned char c)
{
  if (k->crlf && c == '\n' && k->prev != '\r') k->n++ ;
  k->n++ ;
  k->prev = c ;
}

static void base64 (count *k, char const *s, size_t n)
{
  uint32_t acc = 0 ;
  unsigned int bits = 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    int v = tmi_b64[(unsigned char)s[i]] ;
    if (!v) { if (s[i] == '=') acc = bits = 0 ; continue ; }
    acc = acc << 6 | (v - 1) ;
    bits += 6 ;
    if (bits >= 8) { bits -= 8 ; emit(k, acc >> bits) ; acc &= (1u << bits) - 1 ; }
  }
}

/* as tern_mime_decode's qp: line by line, trailing white space and a
   soft break dropped, "=XX" decoded, a hard break as CRLF */
static void qp (count *k, char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    char const *nl = memchr(s + i, '\n', n - i) ;
    size_t e = nl ? (size_t)(nl - s) : n, next = nl ? e + 1 : n, t ;
    int soft = 0 ;
    if (nl && e > i && s[e-1] == '\r') e-- ;
    t = e ;
    while (t > i && (s[t-1] == ' ' || s[t-1] == '\t')) t-- ;
    if (t > i && s[t-1] == '=') { soft = 1 ; t-- ; }
    for (size_t j = i ; j < t ; j++)
    {
      int a, b ;
      if (s[j] == '=' && j + 2 < t && (a = tmi_hex((unsigned char)s[j+1])) >= 0 && (b = tmi_hex((unsigned char)s[j+2])) >= 0)
      {
        emit(k, a << 4 | b) ;
        j += 2 ;
      }
      else emit(k, s[j]) ;
    }
    if (nl && !soft) { emit(k, '\r') ; emit(k, '\n') ; }
    i = next ;
  }
}

uint64_t tern_mime_decode_size (char const *s, size_t n, unsigned int cte, int crlf)
{
  count k = { .n = 0, .crlf = crlf, .prev = 0 } ;
  switch (cte)
  {
    case TERN_CTE_BASE64 : base64(&k, s, n) ; break ;
    case TERN_CTE_QP : qp(&k, s, n) ; break ;
    default :
      for (size_t i = 0 ; i < n ; i++) emit(&k, s[i]) ;
      break ;
  }
  return k.n ;
}
