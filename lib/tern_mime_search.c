/* tern_mime_search: SEARCH BODY and TEXT (RFC 3501 6.4.4) over a parsed
   message. BODY looks in the text of the leaves people read: text/ANY
   (explicit or by default) and message/ANY that is not an enclosed
   message (delivery reports), their transfer encoding undone and their
   charset converted, inside enclosed messages too; never in other
   attachments. TEXT looks in every header as well (the message's, the
   parts', the enclosed messages'), each field as "Name: value" with its
   value decoded (tern_hdr_decode). */

#include "tern_mime.h"
#include "tern_mime_internal.h"

static int is_textleaf (tern_mime const *m, tern_mime_part const *p)
{
  if (p->child != TERN_MIME_NONE || p->flags & (TERN_MIME_MULTIPART | TERN_MIME_CAPPED)) return 0 ;
  if (p->flags & TERN_MIME_TEXT) return 1 ;
  if (p->fields & 1u << TERN_MIME_F_TYPE)
  {
    char const *t, *st ;
    size_t tl, sl, pos ;
    if (tern_mime_ctype(m->msg + p->fval[TERN_MIME_F_TYPE], p->flen[TERN_MIME_F_TYPE], &t, &tl, &st, &sl, &pos)
     && tmi_is(t, tl, "message")) return 1 ;
  }
  return 0 ;
}

static int header (stralloc *sa, char const *h, size_t n)
{
  size_t pos = 0 ;
  tern_hdr_field f ;
  while (tern_hdr_next(h, n, &pos, &f))
  {
    if (!stralloc_catb(sa, f.name, f.namelen) || !stralloc_catb(sa, ": ", 2)
     || !tern_hdr_decode(sa, f.val, f.vallen) || !stralloc_catb(sa, "\n", 1)) return 0 ;
  }
  return 1 ;
}

int tern_mime_texts (tern_mime const *m, unsigned int what, stralloc *sa, tern_mime_text_func *f, void *data)
{
  uint32_t n = tern_mime_nparts(m) ;
  for (uint32_t i = 0 ; i < n ; i++)
  {
    tern_mime_part const *p = tern_mime_getpart(m, i) ;
    int r ;
    if (what == TERN_MSEARCH_TEXT)
    {
      sa->len = 0 ;
      if (!header(sa, m->msg + p->hdr, p->hdrlen)) return -1 ;
      r = (*f)(data, TERN_MTEXT_HEADER, sa->s ? sa->s : "", sa->len) ;
      if (r) return r ;
    }
    if (!is_textleaf(m, p)) continue ;
    sa->len = 0 ;
    if (!tern_mime_text(sa, m, i)) return -1 ;
    r = (*f)(data, TERN_MTEXT_LEAF, sa->s ? sa->s : "", sa->len) ;
    if (r) return r ;
  }
  return 0 ;
}

typedef struct needle_s needle ;
struct needle_s { char const *s ; size_t n ; } ;

static int match (void *data, unsigned int kind, char const *s, size_t n)
{
  (void)kind ;
  needle const *x = data ;
  return tern_search_match(s, n, x->s, x->n) ;
}

int tern_mime_search (tern_mime const *m, unsigned int what, char const *nd, size_t nl, stralloc *sa)
{
  needle x = { .s = nd, .n = nl } ;
  return tern_mime_texts(m, what, sa, &match, &x) ;
}
