/* tern_imap_bodystructure: BODY and BODYSTRUCTURE (RFC 3501 7.4.2,
   RFC 9051 7.5.2) of a parsed part.

   Written as Dovecot 2.3 writes them, where RFC 3501 leaves room: types,
   subtypes, parameter names and values as in the message (defaults in
   lowercase: "text" "plain" ("charset" "us-ascii"), "7bit");
   message/rfc822 as "message" "rfc822"; RFC 2231 sections joined, an
   extended value left as charset'language'%XX under the name "name*",
   the joined parameters after the plain ones; a multipart with no part
   gets one empty text/plain; a part past a cap is application/octet-
   stream. Not as Dovecot: a Content-Type that is not type/subtype is the
   RFC 2045 5.2 default (Dovecot writes its pieces); message/global has
   its envelope and body only for IMAP4rev2 (TERN_ISTR_UTF8). Recursion
   follows the part tree, so it is bounded by TERN_MIME_DEPTH. */

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <skalibs/genalloc.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

#define EMPTY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"

typedef struct sect_s sect ;
struct sect_s
{
  char const *name ;
  size_t baselen ;
  unsigned int idx ;
  int ext ;
  tern_mime_rawparam p ;
} ;

static int sectcmp (void const *a, void const *b)
{
  sect const *x = a, *y = b ;
  size_t n = x->baselen < y->baselen ? x->baselen : y->baselen ;
  for (size_t i = 0 ; i < n ; i++)
  {
    int c = tmi_lower((unsigned char)x->name[i]) - tmi_lower((unsigned char)y->name[i]) ;
    if (c) return c ;
  }
  if (x->baselen != y->baselen) return x->baselen < y->baselen ? -1 : 1 ;
  return x->idx < y->idx ? -1 : x->idx > y->idx ;
}

static int val (stralloc *sa, tern_mime_rawparam const *p)
{
  if (p->quoted) return tmi_unquote(sa, p->val, p->vallen) ;
  return stralloc_catb(sa, p->val, p->vallen) ;
}

static int str (stralloc *out, stralloc *tmp, unsigned int flags)
{
  return tern_imap_string(out, tmp->s ? tmp->s : "", tmp->len, flags) ;
}

/* the parameter list from v[pos..n), or NIL; defcharset: add charset us-ascii when there is none */
static int params (stralloc *out, char const *v, size_t n, size_t pos, int defcharset, unsigned int flags)
{
  genalloc secs = GENALLOC_ZERO ;
  stralloc tmp = STRALLOC_ZERO ;
  tern_mime_rawparam p ;
  int count = 0, charset = 0, ok = 0 ;
  size_t start = out->len ;
  if (!stralloc_catb(out, "(", 1)) return 0 ;
  if (v) while ((pos = tern_mime_param_next(v, n, pos, &p)))
  {
    sect s ;
    if (tmi_2231(p.name, p.namelen, &s.baselen, &s.idx, &s.ext))
    {
      s.name = p.name ;
      s.p = p ;
      if (!genalloc_append(sect, &secs, &s)) goto end ;
      continue ;
    }
    if (tmi_is(p.name, p.namelen, "charset")) charset = 1 ;
    tmp.len = 0 ;
    if ((count++ && !stralloc_catb(out, " ", 1))
     || !tern_imap_string(out, p.name, p.namelen, flags) || !stralloc_catb(out, " ", 1)
     || !val(&tmp, &p) || !str(out, &tmp, flags)) goto end ;
  }
  {
    sect *s = genalloc_s(sect, &secs) ;
    size_t ns = genalloc_len(sect, &secs), i = 0 ;
    if (ns > 1) qsort(s, ns, sizeof *s, &sectcmp) ;
    while (i < ns)
    {
      size_t j = i ;
      int ext = 0, whole = 1 ;
      for (; j < ns && s[j].baselen == s[i].baselen && tmi_caseeq(s[j].name, s[i].name, s[i].baselen) ; j++)
      {
        if (s[j].idx != j - i) whole = 0 ;
        if (s[j].ext) ext = 1 ;
      }
      if (tmi_is(s[i].name, s[i].baselen, "charset")) charset = 1 ;
      if (whole)
      {
        /* RFC 2231 3: the sections in order, one parameter */
        tmp.len = 0 ;
        if (!stralloc_catb(&tmp, s[i].name, s[i].baselen) || (ext && !stralloc_catb(&tmp, "*", 1))) goto end ;
        if ((count++ && !stralloc_catb(out, " ", 1)) || !str(out, &tmp, flags) || !stralloc_catb(out, " ", 1)) goto end ;
        tmp.len = 0 ;
        if (ext && !s[i].ext && !stralloc_catb(&tmp, "''", 2)) goto end ;
        for (size_t k = i ; k < j ; k++)
        {
          if (ext && !s[k].ext)
          {
            /* a plain section in an extended value: its "%" kept as such */
            size_t from = tmp.len ;
            if (!val(&tmp, &s[k].p)) goto end ;
            for (size_t x = from ; x < tmp.len ; x++)
              if (tmp.s[x] == '%')
              {
                if (!stralloc_readyplus(&tmp, 2)) goto end ;
                memmove(tmp.s + x + 3, tmp.s + x + 1, tmp.len - x - 1) ;
                tmp.s[x+1] = '2' ; tmp.s[x+2] = '5' ;
                tmp.len += 2 ;
                x += 2 ;
              }
          }
          else if (!val(&tmp, &s[k].p)) goto end ;
        }
        if (!str(out, &tmp, flags)) goto end ;
      }
      else for (size_t k = i ; k < j ; k++)
      {
        /* sections missing: each as it was written */
        char buf[32] ;
        int bl = snprintf(buf, sizeof buf, s[k].ext ? "*%u*" : "*%u", s[k].idx) ;
        tmp.len = 0 ;
        if (!stralloc_catb(&tmp, s[k].name, s[k].baselen) || !stralloc_catb(&tmp, buf, bl)) goto end ;
        if ((count++ && !stralloc_catb(out, " ", 1)) || !str(out, &tmp, flags) || !stralloc_catb(out, " ", 1)) goto end ;
        tmp.len = 0 ;
        if (!val(&tmp, &s[k].p) || !str(out, &tmp, flags)) goto end ;
      }
      i = j ;
    }
  }
  if (defcharset && !charset)
  {
    if ((count++ && !stralloc_catb(out, " ", 1)) || !stralloc_cats(out, "\"charset\" \"us-ascii\"")) goto end ;
  }
  if (!count) { out->len = start ; ok = stralloc_catb(out, "NIL", 3) ; }
  else ok = stralloc_catb(out, ")", 1) ;
 end:
  genalloc_free(sect, &secs) ;
  stralloc_free(&tmp) ;
  return ok ;
}

/* an nstring from a field value: leading white space off, CR and LF dropped */
static int fieldstr (stralloc *out, tern_mime const *m, tern_mime_part const *p, unsigned int f, unsigned int flags)
{
  stralloc tmp = STRALLOC_ZERO ;
  char const *v ;
  size_t n ;
  int ok ;
  if (!(p->fields & 1u << f)) return stralloc_catb(out, "NIL", 3) ;
  v = m->msg + p->fval[f] ;
  n = p->flen[f] ;
  while (n && (*v == ' ' || *v == '\t')) { v++ ; n-- ; }
  for (size_t i = 0 ; i < n ;)
  {
    size_t j = i ;
    while (j < n && v[j] != '\r' && v[j] != '\n') j++ ;
    if (!stralloc_catb(&tmp, v + i, j - i)) { stralloc_free(&tmp) ; return 0 ; }
    i = j + 1 ;
  }
  ok = str(out, &tmp, flags) ;
  stralloc_free(&tmp) ;
  return ok ;
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static int common (stralloc *out, tern_mime const *m, tern_mime_part const *p, unsigned int flags)
{
  if (!stralloc_catb(out, " ", 1)) return 0 ;
  if (p->fields & 1u << TERN_MIME_F_DISP)
  {
    char const *v = m->msg + p->fval[TERN_MIME_F_DISP] ;
    size_t n = p->flen[TERN_MIME_F_DISP] ;
    size_t i = tmi_cfws(v, n, 0), j = tmi_token(v, n, i) ;
    if (j > i)
    {
      if (!stralloc_catb(out, "(", 1) || !tern_imap_string(out, v + i, j - i, flags) || !stralloc_catb(out, " ", 1)
       || !params(out, v, n, j, 0, flags) || !stralloc_catb(out, ")", 1)) return 0 ;
    }
    else if (!stralloc_catb(out, "NIL", 3)) return 0 ;
  }
  else if (!stralloc_catb(out, "NIL", 3)) return 0 ;
  if (!stralloc_catb(out, " ", 1)) return 0 ;
  {
    /* Content-Language (RFC 3282 2): 1#Language-Tag */
    int count = 0 ;
    if (p->fields & 1u << TERN_MIME_F_LANG)
    {
      char const *v = m->msg + p->fval[TERN_MIME_F_LANG] ;
      size_t n = p->flen[TERN_MIME_F_LANG], i = tmi_cfws(v, n, 0) ;
      for (;;)
      {
        size_t j = i ;
        while (j < n && tmi_tokenchar(v[j]) && (unsigned char)v[j] < 128) j++ ;
        if (j == i) break ;
        if (!stralloc_catb(out, count++ ? " " : "(", 1) || !tern_imap_string(out, v + i, j - i, flags)) return 0 ;
        i = tmi_cfws(v, n, j) ;
        if (i >= n || v[i] != ',') break ;
        i = tmi_cfws(v, n, i + 1) ;
      }
    }
    if (!stralloc_cats(out, count ? ")" : "NIL")) return 0 ;
  }
  return stralloc_catb(out, " ", 1) && fieldstr(out, m, p, TERN_MIME_F_LOC, flags) ;
}

static int body (stralloc *out, tern_mime const *m, uint32_t i, int ext, unsigned int flags)
{
  tern_mime_part const *p = tern_mime_getpart(m, i) ;
  char const *cv = 0, *type = 0, *sub = 0 ;
  size_t cn = 0, tl = 0, sl = 0, pos = 0 ;
  char buf[64] ;
  int n ;
  if (p->fields & 1u << TERN_MIME_F_TYPE)
  {
    cv = m->msg + p->fval[TERN_MIME_F_TYPE] ;
    cn = p->flen[TERN_MIME_F_TYPE] ;
    if (!tern_mime_ctype(cv, cn, &type, &tl, &sub, &sl, &pos)) cv = 0 ;
  }
  if (!stralloc_catb(out, "(", 1)) return 0 ;

  if (p->flags & TERN_MIME_MULTIPART)
  {
    if (p->child == TERN_MIME_NONE)
    {
      if (!stralloc_cats(out, EMPTY) || (ext && !stralloc_cats(out, " NIL NIL NIL NIL")) || !stralloc_catb(out, ")", 1)) return 0 ;
    }
    else for (uint32_t c = p->child ; c != TERN_MIME_NONE ; c = tern_mime_getpart(m, c)->next)
      if (!body(out, m, c, ext, flags)) return 0 ;
    if (!stralloc_catb(out, " ", 1) || !tern_imap_string(out, sub, sl, flags)) return 0 ;
    if (ext && (!stralloc_catb(out, " ", 1) || !params(out, cv, cn, pos, 0, flags) || !common(out, m, p, flags))) return 0 ;
    return stralloc_catb(out, ")", 1) ;
  }

  {
    int text = 0, msg = 0 ;
    if (p->flags & TERN_MIME_RFC822 && (!(p->flags & TERN_MIME_GLOBAL) || flags & TERN_ISTR_UTF8))
    {
      msg = 1 ;
      if (!stralloc_cats(out, p->flags & TERN_MIME_GLOBAL ? "\"message\" \"global\"" : "\"message\" \"rfc822\"")) return 0 ;
    }
    else if (p->flags & TERN_MIME_CAPPED)
    {
      if (!stralloc_cats(out, "\"application\" \"octet-stream\"")) return 0 ;
    }
    else if (!cv)
    {
      text = 1 ;
      if (!stralloc_cats(out, "\"text\" \"plain\"")) return 0 ;
    }
    else
    {
      text = !!(p->flags & TERN_MIME_TEXT) ;
      if (!tern_imap_string(out, type, tl, flags) || !stralloc_catb(out, " ", 1) || !tern_imap_string(out, sub, sl, flags)) return 0 ;
    }
    if (!stralloc_catb(out, " ", 1) || !params(out, cv, cn, pos, text, flags)) return 0 ;
    if (!stralloc_catb(out, " ", 1) || !fieldstr(out, m, p, TERN_MIME_F_ID, flags)
     || !stralloc_catb(out, " ", 1) || !fieldstr(out, m, p, TERN_MIME_F_DESC, flags)
     || !stralloc_catb(out, " ", 1)) return 0 ;
    if (p->fields & 1u << TERN_MIME_F_CTE)
    {
      /* as written when it is one token (else ignored, as Dovecot does) */
      char const *v = m->msg + p->fval[TERN_MIME_F_CTE] ;
      size_t vn = p->flen[TERN_MIME_F_CTE], a = tmi_cfws(v, vn, 0), z = tmi_token(v, vn, a) ;
      if (z > a && tmi_cfws(v, vn, z) == vn) { if (!tern_imap_string(out, v + a, z - a, flags)) return 0 ; }
      else if (!stralloc_cats(out, "\"7bit\"")) return 0 ;
    }
    else if (!stralloc_cats(out, "\"7bit\"")) return 0 ;
    n = snprintf(buf, sizeof buf, " %llu", (unsigned long long)p->bodysize) ;
    if (!stralloc_catb(out, buf, n)) return 0 ;
    if (text)
    {
      n = snprintf(buf, sizeof buf, " %llu", (unsigned long long)p->bodylines) ;
      if (!stralloc_catb(out, buf, n)) return 0 ;
    }
    else if (msg)
    {
      tern_mime_part const *c = tern_mime_getpart(m, p->child) ;
      if (!stralloc_catb(out, " ", 1) || !tern_imap_envelope(out, m->msg + c->hdr, c->hdrlen, flags)
       || !stralloc_catb(out, " ", 1) || !body(out, m, p->child, ext, flags)) return 0 ;
      n = snprintf(buf, sizeof buf, " %llu", (unsigned long long)p->bodylines) ;
      if (!stralloc_catb(out, buf, n)) return 0 ;
    }
    if (ext && (!stralloc_catb(out, " ", 1) || !fieldstr(out, m, p, TERN_MIME_F_MD5, flags) || !common(out, m, p, flags))) return 0 ;
  }
  return stralloc_catb(out, ")", 1) ;
}

int tern_imap_bodystructure (stralloc *out, tern_mime const *m, uint32_t i, int ext, unsigned int flags)
{
  if (i >= tern_mime_nparts(m)) return stralloc_cats(out, EMPTY ")") ;
  return body(out, m, i, ext, flags) ;
}
