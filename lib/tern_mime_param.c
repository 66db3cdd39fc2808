/* tern_mime_param: one parameter of a Content-Type or Content-Disposition
   value, decoded for people (the webmail, attachment names, charsets).

   RFC 2231 first, when the parameter has sections or an extended value:
   sections in the order of their numbers (missing ones skipped), %XX
   undone in the extended ones, the whole converted from the charset of
   the first section (RFC 2231 4.1). Else the plain value (RFC 2045 5.1),
   quotes undone, and RFC 2047 encoded-words in it decoded: RFC 2047 5
   does not allow them there, but many mailers put them there. */

#include <stdlib.h>
#include <string.h>
#include <skalibs/genalloc.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

typedef struct sec_s sec ;
struct sec_s
{
  unsigned int idx ;
  int ext ;
  tern_mime_rawparam p ;
} ;

static int seccmp (void const *a, void const *b)
{
  sec const *x = a, *y = b ;
  return x->idx < y->idx ? -1 : x->idx > y->idx ;
}

static int raw (stralloc *sa, tern_mime_rawparam const *p)
{
  if (p->quoted) return tmi_unquote(sa, p->val, p->vallen) ;
  return stralloc_catb(sa, p->val, p->vallen) ;
}

int tern_mime_param (stralloc *out, char const *v, size_t n, char const *name)
{
  genalloc secs = GENALLOC_ZERO ;
  stralloc tmp = STRALLOC_ZERO, bytes = STRALLOC_ZERO, cs = STRALLOC_ZERO ;
  tern_mime_rawparam p, plain ;
  size_t pos = 0, nl = 0 ;
  int found = 0, r = -1 ;
  while (name[nl]) nl++ ;
  while ((pos = tern_mime_param_next(v, n, pos, &p)))
  {
    sec s ;
    size_t base ;
    if (!found && p.namelen == nl && tmi_caseeq(p.name, name, nl)) { plain = p ; found = 1 ; continue ; }
    if (tmi_2231(p.name, p.namelen, &base, &s.idx, &s.ext) && base == nl && tmi_caseeq(p.name, name, nl))
    {
      s.p = p ;
      if (!genalloc_append(sec, &secs, &s)) goto end ;
    }
  }
  if (genalloc_len(sec, &secs))
  {
    sec *x = genalloc_s(sec, &secs) ;
    size_t ns = genalloc_len(sec, &secs) ;
    if (ns > 1) qsort(x, ns, sizeof *x, &seccmp) ;
    for (size_t i = 0 ; i < ns ; i++)
    {
      if (i && x[i].idx == x[i-1].idx) continue ;
      tmp.len = 0 ;
      if (!raw(&tmp, &x[i].p)) goto end ;
      if (x[i].ext)
      {
        size_t start = 0 ;
        if (!i)
        {
          /* charset'language'value (RFC 2231 4) */
          char const *q1 = tmp.len ? memchr(tmp.s, '\'', tmp.len) : 0 ;
          char const *q2 = q1 ? memchr(q1 + 1, '\'', tmp.len - (q1 + 1 - tmp.s)) : 0 ;
          if (q2)
          {
            if (!stralloc_catb(&cs, tmp.s, q1 - tmp.s)) goto end ;
            start = q2 + 1 - tmp.s ;
          }
        }
        if (tmp.len > start && !tmi_pct(&bytes, tmp.s + start, tmp.len - start)) goto end ;
      }
      else if (tmp.len && !stralloc_catb(&bytes, tmp.s, tmp.len)) goto end ;
    }
    r = tern_charset_utf8(out, bytes.s ? bytes.s : "", bytes.len, cs.len ? cs.s : "utf-8", cs.len ? cs.len : 5) ? 1 : -1 ;
    goto end ;
  }
  if (found)
  {
    if (!raw(&tmp, &plain)) goto end ;
    r = tern_hdr_decode(out, tmp.s ? tmp.s : "", tmp.len) ? 1 : -1 ;
    goto end ;
  }
  r = 0 ;
 end:
  genalloc_free(sec, &secs) ;
  stralloc_free(&tmp) ;
  stralloc_free(&bytes) ;
  stralloc_free(&cs) ;
  return r ;
}
