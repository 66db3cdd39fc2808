/* tern_html_text: the text a reader sees in an HTML part, for SEARCH
   BODY and TEXT (tern_mime_text gives it for text/html). The document
   is parsed by gumbo as a browser parses it (HTML Living Standard 13.2:
   entities decoded, misnested tags mended) and the tree walked:

   - text nodes are kept; comments, attributes (href, class, alt, ...)
     and the contents of head, title, script, style, template, iframe,
     noembed and noframes are not text a reader sees;
   - inline elements join what they split ("qu<b>ok</b>ka" is
     "quokka"); block elements (p, div, li, td, h1, ...) and br
     separate it with a line end, as a browser lays them out;
   - white space is collapsed to one space (CSS 2.1 16.6.1, pre too:
     a search string does not tell a line end from a space), and a
     no-break space (&nbsp;) counts as one.

   Bounds (man imap-serve.8): gumbo is given at most TERN_HTML_MAX
   octets and TERN_HTML_TAGS tags of a part, whichever ends first (its
   tree construction costs time in the depth of the open elements per
   tag, so the tags are what bounds the time); the rest of a larger part
   is not searched. Gumbo allocates from an arena freed in one piece
   after each part (no recursive gumbo_destroy_output on a deep tree),
   and the walk of the tree is iterative. A part on which gumbo fails
   one of its assertions is not searched (see parse below). */

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <gumbo.h>
#include <unistr.h>
#include "tern_mime.h"

/* ---- the arena gumbo allocates from ---- */

#define CHUNK (256 << 10)

typedef struct chunk_s chunk ;
struct chunk_s { chunk *next ; size_t used, size ; } ;

typedef struct arena_s arena ;
struct arena_s { chunk *head ; sigjmp_buf fail ; } ;

static void *arena_alloc (void *data, size_t n)
{
  arena *a = data ;
  chunk *c = a->head ;
  n = (n + 15) & ~(size_t)15 ;
  if (!c || c->size - c->used < n)
  {
    size_t size = n > CHUNK - 64 ? n + 64 : CHUNK ;
    c = malloc(size) ;
    /* gumbo cannot fail an allocation: leave the parse, the arena holds everything */
    if (!c) siglongjmp(a->fail, 1) ;
    c->size = size ;
    c->used = 64 ;
    c->next = a->head ;
    a->head = c ;
  }
  c->used += n ;
  return (char *)c + c->used - n ;
}

static void arena_free (void *data, void *p)
{
}

static void arena_clear (arena *a)
{
  while (a->head)
  {
    chunk *c = a->head ;
    a->head = c->next ;
    free(c) ;
  }
}

/* s[0..n) without its NULs, NUL-terminated, in a chunk of its own
   (freed with the arena), or 0 ENOMEM */
static char *arena_copy (arena *a, char const *s, size_t n)
{
  chunk *c = malloc(64 + n + 1) ;
  char *t, *q ;
  if (!c) return 0 ;
  c->size = c->used = 64 + n + 1 ;
  c->next = a->head ;
  a->head = c ;
  t = q = (char *)c + 64 ;
  for (size_t i = 0 ; i < n ; i++) if (s[i]) *q++ = s[i] ;
  *q = 0 ;
  return t ;
}

/* ---- the caps ---- */

/* s[0..n) cut before the (TERN_HTML_TAGS+1)-th tag and at TERN_HTML_MAX,
   at the start of a UTF-8 character */
static size_t capped (char const *s, size_t n)
{
  size_t i, tags = 0 ;
  if (n > TERN_HTML_MAX) n = TERN_HTML_MAX ;
  for (i = 0 ; i + 1 < n ; i++)
  {
    unsigned char c ;
    if (s[i] != '<') continue ;
    c = s[i+1] ;
    if ((c | 32) >= 'a' && (c | 32) <= 'z') ; else if (c != '/' && c != '!') continue ;
    if (++tags > TERN_HTML_TAGS) return i ;
  }
  if (n < TERN_HTML_MAX) return n ;
  while (n && ((unsigned char)s[n] & 0xc0) == 0x80) n-- ;
  return n ;
}

/* ---- the walk ---- */

typedef struct text_s text ;
struct text_s { stralloc *out ; size_t start ; int pend ; } ;   /* pend: 1 space, 2 line end owed */

static int skipped (GumboTag t)
{
  switch (t)
  {
    case GUMBO_TAG_HEAD : case GUMBO_TAG_TITLE : case GUMBO_TAG_SCRIPT : case GUMBO_TAG_STYLE :
    case GUMBO_TAG_TEMPLATE : case GUMBO_TAG_IFRAME : case GUMBO_TAG_NOEMBED : case GUMBO_TAG_NOFRAMES :
      return 1 ;
    default : return 0 ;
  }
}

/* display: block (and the like) in a browser's default style sheet
   (HTML Living Standard 15.3), and br */
static int block (GumboTag t)
{
  switch (t)
  {
    case GUMBO_TAG_ADDRESS : case GUMBO_TAG_ARTICLE : case GUMBO_TAG_ASIDE : case GUMBO_TAG_BLOCKQUOTE :
    case GUMBO_TAG_BODY : case GUMBO_TAG_BR : case GUMBO_TAG_CAPTION : case GUMBO_TAG_CENTER :
    case GUMBO_TAG_DD : case GUMBO_TAG_DETAILS : case GUMBO_TAG_DIR :
    case GUMBO_TAG_DIV : case GUMBO_TAG_DL : case GUMBO_TAG_DT : case GUMBO_TAG_FIELDSET :
    case GUMBO_TAG_FIGCAPTION : case GUMBO_TAG_FIGURE : case GUMBO_TAG_FOOTER : case GUMBO_TAG_FORM :
    case GUMBO_TAG_FRAMESET : case GUMBO_TAG_H1 : case GUMBO_TAG_H2 : case GUMBO_TAG_H3 :
    case GUMBO_TAG_H4 : case GUMBO_TAG_H5 : case GUMBO_TAG_H6 : case GUMBO_TAG_HEADER :
    case GUMBO_TAG_HGROUP : case GUMBO_TAG_HR : case GUMBO_TAG_HTML : case GUMBO_TAG_LEGEND :
    case GUMBO_TAG_LI : case GUMBO_TAG_LISTING : case GUMBO_TAG_MAIN : case GUMBO_TAG_MENU :
    case GUMBO_TAG_NAV : case GUMBO_TAG_OL : case GUMBO_TAG_OPTGROUP : case GUMBO_TAG_OPTION :
    case GUMBO_TAG_P : case GUMBO_TAG_PLAINTEXT : case GUMBO_TAG_PRE : case GUMBO_TAG_SECTION :
    case GUMBO_TAG_SUMMARY : case GUMBO_TAG_TABLE : case GUMBO_TAG_TBODY : case GUMBO_TAG_TD :
    case GUMBO_TAG_TFOOT : case GUMBO_TAG_TH : case GUMBO_TAG_THEAD : case GUMBO_TAG_TR :
    case GUMBO_TAG_UL : case GUMBO_TAG_XMP : case GUMBO_TAG_SELECT : case GUMBO_TAG_TEXTAREA :
      return 1 ;
    default : return 0 ;
  }
}

/* One text node's text: white space collapsed, and what gumbo gives
   that is not UTF-8 (it does for a numeric reference past U+10FFFF, as
   "&#x1F6999999;") replaced by U+FFFD */
static int emit (text *x, char const *s)
{
  size_t n = strlen(s) ;
  while (n)
  {
    unsigned char c = *s ;
    ucs4_t u ;
    int l = 1 ;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') { if (!x->pend) x->pend = 1 ; s++ ; n-- ; continue ; }
    if (c >= 0x80)
    {
      l = u8_mbtoucr(&u, (uint8_t const *)s, n) ;
      if (l > 0 && u == 0xa0) { if (!x->pend) x->pend = 1 ; s += l ; n -= l ; continue ; }
    }
    if (x->pend && x->out->len > x->start && !stralloc_catb(x->out, x->pend == 2 ? "\n" : " ", 1)) return 0 ;
    x->pend = 0 ;
    if (l > 0 ? !stralloc_catb(x->out, s, l) : !stralloc_catb(x->out, "\xef\xbf\xbd", 3)) return 0 ;
    if (l <= 0) l = 1 ;
    s += l ;
    n -= l ;
  }
  return 1 ;
}

static GumboVector const *children (GumboNode const *n)
{
  return n->type == GUMBO_NODE_DOCUMENT ? &n->v.document.children : &n->v.element.children ;
}

/* depth first, without recursion: down to the first child, else on to
   the next sibling, else up */
static int walk (text *x, GumboNode const *doc)
{
  GumboNode const *n = doc ;
  for (;;)
  {
    int down = 0 ;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA)
    {
      if (!emit(x, n->v.text.text)) return 0 ;
    }
    else if (n->type == GUMBO_NODE_DOCUMENT || n->type == GUMBO_NODE_ELEMENT)
    {
      if (n->type == GUMBO_NODE_ELEMENT && skipped(n->v.element.tag)) ;
      else
      {
        if (n->type == GUMBO_NODE_ELEMENT && block(n->v.element.tag)) x->pend = 2 ;
        down = children(n)->length > 0 ;
      }
    }
    if (down) { n = children(n)->data[0] ; continue ; }
    for (;;)
    {
      GumboNode const *up ;
      if (n == doc) return 1 ;
      if (n->type == GUMBO_NODE_ELEMENT && block(n->v.element.tag)) x->pend = 2 ;
      up = n->parent ;
      if (n->index_within_parent + 1 < children(up)->length)
      {
        n = children(up)->data[n->index_within_parent + 1] ;
        break ;
      }
      n = up ;
    }
  }
}

/* Gumbo 0.10.1 (Debian's, unmaintained upstream) is built with its
   assertions, and some input fails one (the html-text fuzz target found
   "<table><svg><foreignObject><![CDATA[c]]>"): abort(3) would end the
   session. While gumbo runs, SIGABRT leaves the parse instead, as an
   allocation failure does: everything gumbo holds is in the arena, so
   nothing is left behind but assert's message on stderr (the log). One
   parse at a time: the process is single-threaded. */
static arena *current ;

static void onabort (int sig)
{
  siglongjmp(current->fail, 2) ;
}

/* 1 parsed and walked, 0 ENOMEM, 2 gumbo failed an assertion */
static int parse (arena *a, char const *s, size_t n, text *x)
{
  GumboOptions o = kGumboDefaultOptions ;
  struct sigaction sa = { .sa_handler = &onabort }, old ;
  GumboOutput *g ;
  int r ;
  o.allocator = &arena_alloc ;
  o.deallocator = &arena_free ;
  o.userdata = a ;
  o.max_errors = 0 ;
  sigemptyset(&sa.sa_mask) ;
  current = a ;
  if (sigaction(SIGABRT, &sa, &old) < 0) return 0 ;
  r = sigsetjmp(a->fail, 1) ;
  if (!r)
  {
    g = gumbo_parse_with_options(&o, s, n) ;
    sigaction(SIGABRT, &old, 0) ;
    return walk(x, g->document) ;
  }
  sigaction(SIGABRT, &old, 0) ;
  if (r == 1) errno = ENOMEM ;
  return r == 1 ? 0 : 2 ;
}

int tern_html_text (stralloc *out, char const *s, size_t n)
{
  arena a = { .head = 0 } ;
  text x = { .out = out, .start = out->len, .pend = 0 } ;
  int r ;
  n = capped(s, n) ;
  if (memchr(s, 0, n))
  {
    /* NULs dropped, as a browser drops them from text (13.2.6.4.7) */
    char *t = arena_copy(&a, s, n) ;
    if (!t) return 0 ;
    s = t ;
    n = strlen(t) ;
  }
  r = parse(&a, s, n, &x) ;
  arena_clear(&a) ;
  /* a part gumbo cannot parse has no text to search */
  if (r == 2) out->len = x.start ;
  return r > 0 ;
}

/* ---- the charset a document declares ---- */

static int lower (unsigned char c)
{
  return c >= 'A' && c <= 'Z' ? c + 32 : c ;
}

static int csname (unsigned char c)
{
  return ((c | 32) >= 'a' && (c | 32) <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':' ;
}

static int at (char const *s, size_t n, size_t i, char const *lit)
{
  for (; *lit ; i++, lit++) if (i >= n || lower(s[i]) != *lit) return 0 ;
  return 1 ;
}

/* A <meta charset=X> or <meta http-equiv content="...; charset=X"> in
   the first 1024 octets (the prescan of HTML Living Standard 13.2.3.2,
   simplified: the first "charset=" inside a meta tag): 1 with *cs and
   *len pointing at X in s, or 0. */
int tern_html_charset (char const *s, size_t n, char const **cs, size_t *len)
{
  size_t i ;
  if (n > 1024) n = 1024 ;
  for (i = 0 ; i < n ; i++)
  {
    size_t j ;
    if (s[i] != '<' || !at(s, n, i, "<meta") || i + 5 >= n) continue ;
    if (s[i+5] != ' ' && s[i+5] != '\t' && s[i+5] != '\n' && s[i+5] != '\r' && s[i+5] != '/') continue ;
    for (j = i + 5 ; j < n && s[j] != '>' ; j++)
    {
      size_t k ;
      if (!at(s, n, j, "charset")) continue ;
      k = j + 7 ;
      while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r')) k++ ;
      if (k >= n || s[k] != '=') continue ;
      k++ ;
      while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r' || s[k] == '"' || s[k] == '\'')) k++ ;
      j = k ;
      while (k < n && csname(s[k])) k++ ;
      if (k == j) return 0 ;
      *cs = s + j ;
      *len = k - j ;
      return 1 ;
    }
    i = j ;
  }
  return 0 ;
}
