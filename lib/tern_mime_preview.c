/* tern_mime_preview: the text a reader sees first (PREVIEW, RFC 8970
   3.3): the first text/plain leaf that is not an attachment, else the
   first text/html one with its markup taken out (tags, comments, the
   contents of head, script and style; the common entities decoded);
   its transfer encoding undone and its charset made UTF-8 as
   tern_mime_text does; runs of white space and control characters one
   space, none at either end; at most TERN_PREVIEW_CHARS characters, cut
   between two characters, never inside one. Only the first
   TERN_PREVIEW_SCAN octets of the part's body are read: the time and
   memory do not grow with the part. Linear in what is read. */

#include <string.h>
#include <strings.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

static int is_attachment (tern_mime const *m, tern_mime_part const *p)
{
  char const *v ;
  size_t n, i = 0 ;
  if (!(p->fields & 1u << TERN_MIME_F_DISP)) return 0 ;
  v = m->msg + p->fval[TERN_MIME_F_DISP] ;
  n = p->flen[TERN_MIME_F_DISP] ;
  while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) i++ ;
  return n - i >= 10 && !strncasecmp(v + i, "attachment", 10) ;
}

/* 1 text/plain, 2 text/html, 0 anything else */
static int kind (tern_mime const *m, tern_mime_part const *p)
{
  char const *t, *st ;
  size_t tl, sl, pos ;
  if (p->child != TERN_MIME_NONE || p->flags & (TERN_MIME_MULTIPART | TERN_MIME_CAPPED) || !(p->flags & TERN_MIME_TEXT)) return 0 ;
  if (is_attachment(m, p)) return 0 ;
  if (p->flags & TERN_MIME_DEFAULTED || !(p->fields & 1u << TERN_MIME_F_TYPE)) return 1 ;
  if (!tern_mime_ctype(m->msg + p->fval[TERN_MIME_F_TYPE], p->flen[TERN_MIME_F_TYPE], &t, &tl, &st, &sl, &pos)) return 1 ;
  if (sl == 5 && !strncasecmp(st, "plain", 5)) return 1 ;
  if (sl == 4 && !strncasecmp(st, "html", 4)) return 2 ;
  return 0 ;
}

/* The part's text, from the first TERN_PREVIEW_SCAN octets, into out. */
static int text_of (stralloc *out, tern_mime const *m, tern_mime_part const *p)
{
  stralloc dec = STRALLOC_ZERO, cs = STRALLOC_ZERO ;
  char const *s = m->msg + p->body ;
  size_t n = p->bodylen < TERN_PREVIEW_SCAN ? p->bodylen : TERN_PREVIEW_SCAN ;
  int ok = 0 ;
  if (p->cte == TERN_CTE_BASE64 || p->cte == TERN_CTE_QP)
  {
    if (!tern_mime_decode(&dec, s, n, p->cte)) goto end ;
    s = dec.s ? dec.s : "" ;
    n = dec.len ;
  }
  if (p->fields & 1u << TERN_MIME_F_TYPE
   && tern_mime_param(&cs, m->msg + p->fval[TERN_MIME_F_TYPE], p->flen[TERN_MIME_F_TYPE], "charset") < 0) goto end ;
  ok = tern_charset_utf8(out, s, n, cs.len ? cs.s : "us-ascii", cs.len ? cs.len : 8) ;
 end:
  stralloc_free(&dec) ;
  stralloc_free(&cs) ;
  return ok ;
}

static int prefix (char const *s, size_t n, size_t i, char const *w)
{
  size_t l = strlen(w) ;
  return n - i >= l && !strncasecmp(s + i, w, l) ;
}

/* "</name" from i (case-insensitive), or n */
static size_t find_close (char const *s, size_t n, size_t i, char const *name)
{
  size_t l = strlen(name) ;
  for (; i + 2 + l <= n ; i++)
  {
    char const *lt = memchr(s + i, '<', n - i) ;
    if (!lt) return n ;
    i = lt - s ;
    if (i + 2 + l <= n && s[i+1] == '/' && !strncasecmp(s + i + 2, name, l)) return i ;
  }
  return n ;
}

static struct { char const *name ; char const *utf8 ; } const entities[] =
{
  { "amp;", "&" }, { "lt;", "<" }, { "gt;", ">" }, { "quot;", "\"" }, { "apos;", "'" }, { "nbsp;", " " }, { 0, 0 }
} ;

static size_t utf8_put (char *b, uint32_t c)
{
  if (c < 0x80) { b[0] = c ; return 1 ; }
  if (c < 0x800) { b[0] = 0xc0 | c >> 6 ; b[1] = 0x80 | (c & 0x3f) ; return 2 ; }
  if (c < 0x10000) { b[0] = 0xe0 | c >> 12 ; b[1] = 0x80 | (c >> 6 & 0x3f) ; b[2] = 0x80 | (c & 0x3f) ; return 3 ; }
  b[0] = 0xf0 | c >> 18 ; b[1] = 0x80 | (c >> 12 & 0x3f) ; b[2] = 0x80 | (c >> 6 & 0x3f) ; b[3] = 0x80 | (c & 0x3f) ; return 4 ;
}

/* An entity at s[i] ("&..."): its text into b (*bl), the octets it takes; 0 if none. */
static size_t entity (char const *s, size_t n, size_t i, char *b, size_t *bl)
{
  if (i + 1 < n && s[i+1] == '#')
  {
    size_t k = i + 2 ;
    uint32_t c = 0 ;
    int hex = k < n && (s[k] == 'x' || s[k] == 'X') ;
    unsigned int digits = 0 ;
    if (hex) k++ ;
    for (; k < n && digits < 7 ; k++, digits++)
    {
      int v = hex ? tmi_hex((unsigned char)s[k]) : (s[k] >= '0' && s[k] <= '9' ? s[k] - '0' : -1) ;
      if (v < 0) break ;
      c = c * (hex ? 16 : 10) + v ;
    }
    if (!digits || k >= n || s[k] != ';') return 0 ;
    if (!c || c > 0x10ffff || (c >= 0xd800 && c < 0xe000)) c = 0xfffd ;
    *bl = utf8_put(b, c) ;
    return k + 1 - i ;
  }
  for (unsigned int e = 0 ; entities[e].name ; e++)
    if (prefix(s, n, i + 1, entities[e].name))
    {
      *bl = strlen(entities[e].utf8) ;
      memcpy(b, entities[e].utf8, *bl) ;
      return 1 + strlen(entities[e].name) ;
    }
  return 0 ;
}

/* Whether the tag at s[i] ("<" or "</" and a name) is one that runs
   inside a line of text: no space for it ("<b>bold</b>!" is "bold!"). */
static int inline_tag (char const *s, size_t n, size_t i)
{
  static char const *const names[] = { "a", "b", "i", "u", "s", "em", "strong", "span", "font", "small", "big", "sub", "sup",
                                       "code", "tt", "abbr", "mark", "q", "cite", "img", "wbr", 0 } ;
  size_t k = i + 1, e ;
  if (k < n && s[k] == '/') k++ ;
  e = k ;
  while (e < n && e - k < 8 && ((s[e] >= 'a' && s[e] <= 'z') || (s[e] >= 'A' && s[e] <= 'Z'))) e++ ;
  if (e == k || (e < n && s[e] != '>' && s[e] != ' ' && s[e] != '/' && s[e] != '\t' && s[e] != '\n' && s[e] != '\r')) return 0 ;
  for (unsigned int j = 0 ; names[j] ; j++)
    if (strlen(names[j]) == e - k && !strncasecmp(s + k, names[j], e - k)) return 1 ;
  return 0 ;
}

/* HTML as text, in place of markup a space (then collapsed), but for
   the inline tags. */
static int html_text (stralloc *out, char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    char c = s[i] ;
    if (c == '<')
    {
      char const *gt ;
      if (prefix(s, n, i, "<!--"))
      {
        char const *e = n - i >= 7 ? memmem(s + i + 4, n - i - 4, "-->", 3) : 0 ;
        i = e ? (size_t)(e - s) + 3 : n ;
        continue ;
      }
      {
        static char const *const skip[] = { "head", "script", "style", "title", 0 } ;
        unsigned int k = 0 ;
        for (; skip[k] ; k++)
        {
          size_t l = strlen(skip[k]) ;
          if (prefix(s, n, i + 1, skip[k]) && i + 1 + l < n && (s[i+1+l] == '>' || s[i+1+l] == ' ' || s[i+1+l] == '\t' || s[i+1+l] == '\n' || s[i+1+l] == '\r' || s[i+1+l] == '/')) break ;
        }
        if (skip[k]) i = find_close(s, n, i + 1, skip[k]) ;
      }
      if (i >= n) break ;
      {
        int inl = inline_tag(s, n, i) ;
        gt = memchr(s + i, '>', n - i) ;
        i = gt ? (size_t)(gt - s) + 1 : n ;
        if (!inl && !stralloc_catb(out, " ", 1)) return 0 ;
      }
      continue ;
    }
    if (c == '&')
    {
      char b[4] ;
      size_t bl = 0, k = entity(s, n, i, b, &bl) ;
      if (k)
      {
        if (!stralloc_catb(out, b, bl)) return 0 ;
        i += k ;
        continue ;
      }
    }
    {
      /* text up to the next markup or entity: each octet looked at once */
      size_t e = i + 1 ;
      while (e < n && s[e] != '<' && s[e] != '&') e++ ;
      if (!stralloc_catb(out, s + i, e - i)) return 0 ;
      i = e ;
    }
  }
  return 1 ;
}

/* s[0..n) (UTF-8) collapsed and cut, appended to out */
static int collapse (stralloc *out, char const *s, size_t n)
{
  size_t chars = 0, i = 0 ;
  int space = 0, any = 0 ;
  while (i < n && chars < TERN_PREVIEW_CHARS)
  {
    unsigned char c = s[i] ;
    size_t l = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1 ;
    if (i + l > n) break ;
    if (c < 0x20 || c == 0x7f || c == ' ' || (c == 0xc2 && l == 2 && (unsigned char)s[i+1] == 0xa0))
    {
      space = 1 ;
      i += l ;
      continue ;
    }
    if (space && any)
    {
      /* a space only between two characters: none at the cut */
      if (chars + 1 >= TERN_PREVIEW_CHARS) break ;
      if (!stralloc_catb(out, " ", 1)) return 0 ;
      chars++ ;
    }
    space = 0 ;
    any = 1 ;
    if (!stralloc_catb(out, s + i, l)) return 0 ;
    chars++ ;
    i += l ;
  }
  return 1 ;
}

int tern_mime_preview (stralloc *out, tern_mime const *m)
{
  uint32_t n = tern_mime_nparts(m), html = TERN_MIME_NONE, pick = TERN_MIME_NONE ;
  stralloc t = STRALLOC_ZERO, h = STRALLOC_ZERO ;
  int ok = 0 ;
  for (uint32_t i = 0 ; i < n ; i++)
  {
    int k = kind(m, tern_mime_getpart(m, i)) ;
    if (k == 1) { pick = i ; break ; }
    if (k == 2 && html == TERN_MIME_NONE) html = i ;
  }
  if (pick == TERN_MIME_NONE) pick = html ;
  if (pick == TERN_MIME_NONE) return 1 ;
  if (!text_of(&t, m, tern_mime_getpart(m, pick))) goto end ;
  if (pick == html)
  {
    if (!html_text(&h, t.s ? t.s : "", t.len)) goto end ;
    ok = collapse(out, h.s ? h.s : "", h.len) ;
  }
  else ok = collapse(out, t.s ? t.s : "", t.len) ;
 end:
  stralloc_free(&t) ;
  stralloc_free(&h) ;
  return ok ;
}
