/* tern_mime_text: the text of a leaf part, as people read it: its
   transfer encoding undone, then its charset (RFC 2046 4.1.2: the
   charset parameter, us-ascii by default) converted to UTF-8. The
   charset is looked for even in a Content-Type too broken to have a
   type, since mail like "Content-Type: text; charset=utf-8" exists.
   Parts with parts (multipart, message/rfc822) have no text of their
   own: nothing is appended. A text/html part is what a reader sees of
   it (tern_html_text); without a charset parameter, its charset is the
   one a meta tag declares (HTML Living Standard 13.2.3.2: the
   transport's wins), else us-ascii as for any text. */

#include "tern_mime.h"
#include "tern_mime_internal.h"

static int is_html (tern_mime const *m, tern_mime_part const *p)
{
  char const *t, *st ;
  size_t tl, sl, pos ;
  return p->flags & TERN_MIME_TEXT && p->fields & 1u << TERN_MIME_F_TYPE
   && tern_mime_ctype(m->msg + p->fval[TERN_MIME_F_TYPE], p->flen[TERN_MIME_F_TYPE], &t, &tl, &st, &sl, &pos)
   && tmi_is(st, sl, "html") ;
}

int tern_mime_text (stralloc *out, tern_mime const *m, uint32_t i)
{
  tern_mime_part const *p ;
  stralloc dec = STRALLOC_ZERO, cs = STRALLOC_ZERO ;
  char const *s ;
  size_t n ;
  int ok = 0 ;
  if (i >= tern_mime_nparts(m)) return 1 ;
  p = tern_mime_getpart(m, i) ;
  if (p->child != TERN_MIME_NONE || p->flags & TERN_MIME_MULTIPART) return 1 ;
  s = m->msg + p->body ;
  n = p->bodylen ;
  if (p->cte == TERN_CTE_BASE64 || p->cte == TERN_CTE_QP)
  {
    if (!tern_mime_decode(&dec, s, n, p->cte)) goto end ;
    s = dec.s ? dec.s : "" ;
    n = dec.len ;
  }
  if (p->fields & 1u << TERN_MIME_F_TYPE
   && tern_mime_param(&cs, m->msg + p->fval[TERN_MIME_F_TYPE], p->flen[TERN_MIME_F_TYPE], "charset") < 0) goto end ;
  if (is_html(m, p))
  {
    stralloc u = STRALLOC_ZERO ;
    char const *mc = "us-ascii" ;
    size_t ml = 8 ;
    if (cs.len) { mc = cs.s ; ml = cs.len ; }
    else tern_html_charset(s, n, &mc, &ml) ;
    ok = tern_charset_utf8(&u, s, n, mc, ml) && tern_html_text(out, u.s ? u.s : "", u.len) ;
    stralloc_free(&u) ;
    goto end ;
  }
  ok = tern_charset_utf8(out, s, n, cs.len ? cs.s : "us-ascii", cs.len ? cs.len : 8) ;
 end:
  stralloc_free(&dec) ;
  stralloc_free(&cs) ;
  return ok ;
}
