/* tern_charset_utf8: text in a MIME charset (RFC 2046 4.1.2, RFC 2978
   names) to UTF-8, through iconv(3). The last converter is kept open for
   the next call (mail comes in runs of one charset). UTF-8, US-ASCII and
   names iconv does not know are checked as UTF-8; whatever cannot be
   converted becomes U+FFFD and the conversion goes on. Not reentrant
   (the cached converter). */

#include <errno.h>
#include <stdint.h>
#include <iconv.h>
#include <string.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

#define REPL "\xef\xbf\xbd"

static iconv_t cd = (iconv_t)-1 ;
static char cdname[48] ;

/* the end of the run of ASCII octets from i, 8 at a time */
static size_t ascii_run (char const *s, size_t i, size_t n)
{
  for (; i + 8 <= n ; i += 8)
  {
    uint64_t w ;
    memcpy(&w, s + i, 8) ;
    if (w & 0x8080808080808080ULL) break ;
  }
  while (i < n && (unsigned char)s[i] < 0x80) i++ ;
  return i ;
}

static int utf8 (stralloc *out, char const *s, size_t n)
{
  size_t i = 0 ;
  if (!stralloc_readyplus(out, n)) return 0 ;
  while (i < n)
  {
    size_t j = ascii_run(s, i, n), l ;
    while (j < n && (l = tmi_utf8(s, n, j))) j += l ;
    if (!stralloc_catb(out, s + i, j - i)) return 0 ;
    if (j >= n) break ;
    if (!tmi_utf8(s, n, j))
    {
      if (!stralloc_catb(out, REPL, 3)) return 0 ;
      j++ ;
    }
    i = j ;
  }
  return 1 ;
}

/* the name, lowercased and checked, into buf: 0 when it is no name */
static int normalize (char *buf, size_t max, char const *cs, size_t n)
{
  size_t k = 0 ;
  while (n && tmi_wsp((unsigned char)*cs)) { cs++ ; n-- ; }
  while (n && tmi_wsp((unsigned char)cs[n-1])) n-- ;
  if (!n || n >= max) return 0 ;
  for (; k < n ; k++)
  {
    unsigned char c = cs[k] ;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':' || c == '+'))
      return 0 ;
    buf[k] = tmi_lower(c) ;
  }
  buf[k] = 0 ;
  return 1 ;
}

int tern_charset_utf8 (stralloc *out, char const *s, size_t n, char const *cs, size_t csl)
{
  char name[sizeof cdname] ;
  char buf[4096] ;
  char *in = (char *)s ;
  size_t inleft = n ;
  if (!normalize(name, sizeof name, cs, csl)
   || !strcmp(name, "utf-8") || !strcmp(name, "utf8") || !strcmp(name, "us-ascii") || !strcmp(name, "ascii")
   || !strcmp(name, "unknown-8bit") || !strcmp(name, "x-unknown"))
    return utf8(out, s, n) ;
  if (!strcmp(name, "latin1")) strcpy(name, "iso-8859-1") ;
  if (cd == (iconv_t)-1 || strcmp(name, cdname))
  {
    if (cd != (iconv_t)-1) iconv_close(cd) ;
    cd = iconv_open("UTF-8", name) ;
    if (cd == (iconv_t)-1) { cdname[0] = 0 ; return utf8(out, s, n) ; }
    strcpy(cdname, name) ;
  }
  else iconv(cd, 0, 0, 0, 0) ;
  for (;;)
  {
    char *o = buf ;
    size_t oleft = sizeof buf ;
    size_t r = iconv(cd, inleft ? &in : 0, &inleft, &o, &oleft) ;
    int e = errno ;
    if (!stralloc_catb(out, buf, o - buf)) return 0 ;
    if (r != (size_t)-1)
    {
      if (!inleft) break ;
      continue ;
    }
    if (e == E2BIG) continue ;
    if (!stralloc_catb(out, REPL, 3)) return 0 ;
    if (e == EILSEQ && inleft) { in++ ; inleft-- ; continue ; }
    break ;  /* EINVAL: a sequence cut short at the end */
  }
  {
    /* the end of a stateful encoding */
    char *o = buf ;
    size_t oleft = sizeof buf ;
    iconv(cd, 0, 0, &o, &oleft) ;
    return stralloc_catb(out, buf, o - buf) ;
  }
}
