/* cmd-search.c: SEARCH and UID SEARCH (RFC 3501 6.4.4), every key of RFC
   3501, MODSEQ (RFC 7162 3.1.5), ESEARCH's RETURN (RFC 4731), CHARSET
   UTF-8 and US-ASCII. Strings match as case-insensitive substrings
   (i;unicode-casemap, RFC 5051) of decoded headers and of the decoded
   text of the text parts.

   The keys make a tree; each message is tested against it with the
   cheapest keys of an AND first: those of the index (flags, sizes,
   dates), then those of the cache (the decoded headers SEARCH uses most),
   then those needing the file (other headers, bodies). This issue's
   search is a scan of the folder; the file is read only when a key needs
   it and the cheaper keys did not decide. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"
#include "tern_fts.h"

enum
{
  K_ALL, K_AND, K_OR, K_NOT, K_FLAG, K_UNFLAG, K_KEYWORD, K_UNKEYWORD, K_NEW, K_OLD, K_RECENT,
  K_LARGER, K_SMALLER, K_BEFORE, K_ON, K_SINCE, K_SENTBEFORE, K_SENTON, K_SENTSINCE,
  K_UID, K_SEQ, K_HEADER, K_CACHED, K_BODY, K_TEXT, K_MODSEQ, K_OLDER, K_YOUNGER,
  K_SAVEDBEFORE, K_SAVEDON, K_SAVEDSINCE, K_DOLLAR, K_EMAILID, K_THREADID, K_NONE
} ;

typedef struct node_s node ;
struct node_s
{
  unsigned int kind ;
  unsigned int cost ;     /* 0 index, 1 cache, 2 file */
  uint64_t n ;            /* a flag bit, a keyword, a size, a day, a MODSEQ */
  char ctype ;            /* K_CACHED: the cache field; K_BODY, K_TEXT: 'i' candidates from the search index, 't' stored texts only */
  size_t s, slen ;        /* the string, folded, in strs */
  size_t f, flen ;        /* K_HEADER: the field name in strs; K_BODY, K_TEXT: the string lowercased (0: not ASCII) */
  int fi ;                /* K_BODY, K_TEXT: its place among the keys answered from stored texts, or -1 */
  size_t set ;            /* K_UID, K_SEQ: first range in sets */
  size_t nset ;
  uint32_t child ;        /* first child */
  uint32_t next ;         /* next sibling */
} ;

#define NONE UINT32_MAX
#define NODEMAX 10000

static genalloc nodes = GENALLOC_ZERO ;   /* node */
static stralloc strs = STRALLOC_ZERO ;
static genalloc sets = GENALLOC_ZERO ;    /* tern_imap_range */
static int usedmodseq ;
static int usedcache ;                    /* a key the cache answers: entries read with the records */
static genalloc cands = GENALLOC_ZERO ;   /* uint32_t: the search index's candidates of the BODY and TEXT keys */
#define NFT 8                              /* BODY and TEXT keys answered from stored texts, at most */
static uint32_t ftnode[NFT] ;              /* those keys */
static unsigned int nft ;

#define N(i) (genalloc_s(node, &nodes) + (i))

static int kw (char const *s, size_t n, char const *w)
{
  return strlen(w) == n && !strncasecmp(s, w, n) ;
}

static uint32_t newnode (unsigned int kind, unsigned int cost)
{
  node x = { .kind = kind, .cost = cost, .fi = -1, .child = NONE, .next = NONE } ;
  if (genalloc_len(node, &nodes) >= NODEMAX) return NONE ;
  if (cost == 1) usedcache = 1 ;
  if (!genalloc_append(node, &nodes, &x)) die_io("out-of-memory") ;
  return genalloc_len(node, &nodes) - 1 ;
}

/* A search string, folded for matching, into strs. */
static int sstring (tern_imap_p *p, uint32_t i)
{
  stralloc raw = STRALLOC_ZERO ;
  size_t at = strs.len ;
  if (!tern_imap_p_astring(p, &raw)) { stralloc_free(&raw) ; return 0 ; }
  if (!tern_search_fold(&strs, raw.s, raw.len)) die_io("out-of-memory") ;
  stralloc_free(&raw) ;
  N(i)->s = at ;
  N(i)->slen = strs.len - at ;
  return 1 ;
}

static int key (tern_imap_p *p, uint32_t *out, unsigned int depth) ;

/* Keys separated by spaces up to a ")" or the end, as children of an AND. */
static int keylist (tern_imap_p *p, uint32_t and, int paren, unsigned int depth)
{
  uint32_t last = NONE ;
  for (;;)
  {
    uint32_t k ;
    if (!key(p, &k, depth + 1)) return 0 ;
    if (last == NONE) N(and)->child = k ; else N(last)->next = k ;
    last = k ;
    if (tern_imap_p_peek(p) != ' ') break ;
    if (paren && p->pos + 1 < p->len && p->s[p->pos + 1] == ')') break ;
    tern_imap_p_sp(p) ;
  }
  if (paren && !tern_imap_p_char(p, ')')) return 0 ;
  return 1 ;
}

static int key (tern_imap_p *p, uint32_t *out, unsigned int depth)
{
  static struct { char const *name ; unsigned int kind ; uint32_t bit ; } const flagkeys[] =
  {
    { "ANSWERED", K_FLAG, TERN_F_ANSWERED }, { "DELETED", K_FLAG, TERN_F_DELETED }, { "DRAFT", K_FLAG, TERN_F_DRAFT },
    { "FLAGGED", K_FLAG, TERN_F_FLAGGED }, { "SEEN", K_FLAG, TERN_F_SEEN },
    { "UNANSWERED", K_UNFLAG, TERN_F_ANSWERED }, { "UNDELETED", K_UNFLAG, TERN_F_DELETED }, { "UNDRAFT", K_UNFLAG, TERN_F_DRAFT },
    { "UNFLAGGED", K_UNFLAG, TERN_F_FLAGGED }, { "UNSEEN", K_UNFLAG, TERN_F_SEEN }, { 0, 0, 0 }
  } ;
  static struct { char const *name ; char type ; } const cached[] =
  { { "SUBJECT", TERN_C_SUBJECT }, { "FROM", TERN_C_FROM }, { "TO", TERN_C_TO }, { "CC", TERN_C_CC }, { "BCC", TERN_C_BCC }, { 0, 0 } } ;
  char const *a ;
  size_t n ;
  uint32_t i ;
  int c = tern_imap_p_peek(p) ;
  if (depth > 100) { p->err = "Search keys nested too deeply" ; return 0 ; }
  if (c == '(')
  {
    tern_imap_p_char(p, '(') ;
    i = newnode(K_AND, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    return keylist(p, i, 1, depth) ;
  }
  if ((c >= '0' && c <= '9') || c == '*' || c == '$')
  {
    genalloc r = GENALLOC_ZERO ;
    int dollar ;
    if (!tern_imap_p_seqset(p, &r, &dollar)) { genalloc_free(tern_imap_range, &r) ; return 0 ; }
    /* RFC 9586 3: message numbers, in UID SEARCH too */
    if (!dollar && S.uidonly) { genalloc_free(tern_imap_range, &r) ; p->err = UIDREQUIRED ; return 0 ; }
    i = newnode(dollar ? K_DOLLAR : K_SEQ, 0) ;
    if (i == NONE) { genalloc_free(tern_imap_range, &r) ; p->err = "Too many search keys" ; return 0 ; }
    N(i)->set = genalloc_len(tern_imap_range, &sets) ;
    N(i)->nset = genalloc_len(tern_imap_range, &r) ;
    if (!stralloc_catb((stralloc *)&sets, (char const *)genalloc_s(tern_imap_range, &r), N(i)->nset * sizeof(tern_imap_range))) die_io("out-of-memory") ;
    genalloc_free(tern_imap_range, &r) ;
    *out = i ;
    return 1 ;
  }
  if (!tern_imap_p_atom(p, &a, &n)) return 0 ;
  for (unsigned int k = 0 ; flagkeys[k].name ; k++)
    if (kw(a, n, flagkeys[k].name))
    {
      i = newnode(flagkeys[k].kind, 0) ;
      if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
      N(i)->n = flagkeys[k].bit ;
      *out = i ;
      return 1 ;
    }
  for (unsigned int k = 0 ; cached[k].name ; k++)
    if (kw(a, n, cached[k].name))
    {
      i = newnode(K_CACHED, 1) ;
      if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
      N(i)->ctype = cached[k].type ;
      *out = i ;
      return tern_imap_p_sp(p) && sstring(p, i) ;
    }
  if (kw(a, n, "ALL")) i = newnode(K_ALL, 0) ;
  else if (kw(a, n, "NEW")) i = newnode(K_NEW, 0) ;
  else if (kw(a, n, "OLD")) i = newnode(K_OLD, 0) ;
  else if (kw(a, n, "RECENT")) i = newnode(K_RECENT, 0) ;
  else if (kw(a, n, "NOT"))
  {
    uint32_t k ;
    i = newnode(K_NOT, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !key(p, &k, depth + 1)) return 0 ;
    N(i)->child = k ;
    N(i)->cost = N(k)->cost ;
    return 1 ;
  }
  else if (kw(a, n, "OR"))
  {
    uint32_t k1, k2 ;
    i = newnode(K_OR, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !key(p, &k1, depth + 1) || !tern_imap_p_sp(p) || !key(p, &k2, depth + 1)) return 0 ;
    N(i)->child = k1 ;
    N(k1)->next = k2 ;
    N(i)->cost = N(k1)->cost > N(k2)->cost ? N(k1)->cost : N(k2)->cost ;
    return 1 ;
  }
  else if (kw(a, n, "KEYWORD") || kw(a, n, "UNKEYWORD"))
  {
    int un = n == 9 ;
    char const *f ;
    size_t fl ;
    i = newnode(un ? K_UNKEYWORD : K_KEYWORD, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !tern_imap_p_flag(p, &f, &fl, 0)) return 0 ;
    {
      int k = tern_store_keyword_find(&S.st, f, fl) ;
      N(i)->n = k < 0 ? TERN_KW_MAX : (uint64_t)k ;
    }
    return 1 ;
  }
  else if (kw(a, n, "EMAILID") || kw(a, n, "THREADID"))
  {
    /* RFC 8474 6: EMAILID objectid, THREADID objectid (1*255 of A-Z a-z
       0-9 - _); the id compared exactly, from the file name (no file) */
    char const *v ;
    size_t vl ;
    i = newnode(n == 7 ? K_EMAILID : K_THREADID, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !tern_imap_p_atom(p, &v, &vl)) return 0 ;
    if (vl > 255) { p->err = "Invalid object id (RFC 8474 3)" ; return 0 ; }
    for (size_t k = 0 ; k < vl ; k++)
      if (!((v[k] >= 'A' && v[k] <= 'Z') || (v[k] >= 'a' && v[k] <= 'z') || (v[k] >= '0' && v[k] <= '9') || v[k] == '-' || v[k] == '_'))
      { p->err = "Invalid object id (RFC 8474 3)" ; return 0 ; }
    N(i)->s = strs.len ;
    N(i)->slen = vl ;
    if (!stralloc_catb(&strs, v, vl)) die_io("out-of-memory") ;
    return 1 ;
  }
  else if (kw(a, n, "LARGER") || kw(a, n, "SMALLER"))
  {
    uint64_t v ;
    i = newnode(n == 6 ? K_LARGER : K_SMALLER, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !tern_imap_p_number64(p, &v)) return 0 ;
    N(i)->n = v ;
    return 1 ;
  }
  else if (kw(a, n, "OLDER") || kw(a, n, "YOUNGER"))
  {
    /* RFC 5032: INTERNALDATE more than, or at most, that many seconds ago */
    uint32_t v ;
    i = newnode(n == 5 ? K_OLDER : K_YOUNGER, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !tern_imap_p_nznumber(p, &v)) return 0 ;
    N(i)->n = (uint64_t)(time(0) - (int64_t)v) ;
    return 1 ;
  }
  else if (kw(a, n, "SAVEDATESUPPORTED"))
  {
    /* RFC 8514 4: every folder here has save dates */
    i = newnode(K_ALL, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    return 1 ;
  }
  else if (kw(a, n, "SAVEDBEFORE") || kw(a, n, "SAVEDON") || kw(a, n, "SAVEDSINCE"))
  {
    int64_t t ;
    i = newnode(kw(a, n, "SAVEDBEFORE") ? K_SAVEDBEFORE : kw(a, n, "SAVEDON") ? K_SAVEDON : K_SAVEDSINCE, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !tern_imap_p_date(p, &t)) return 0 ;
    N(i)->n = (uint64_t)(t / 86400) ;
    return 1 ;
  }
  else if (kw(a, n, "BEFORE") || kw(a, n, "ON") || kw(a, n, "SINCE")
        || kw(a, n, "SENTBEFORE") || kw(a, n, "SENTON") || kw(a, n, "SENTSINCE"))
  {
    int64_t t ;
    unsigned int kind = kw(a, n, "BEFORE") ? K_BEFORE : kw(a, n, "ON") ? K_ON : kw(a, n, "SINCE") ? K_SINCE
                      : kw(a, n, "SENTBEFORE") ? K_SENTBEFORE : kw(a, n, "SENTON") ? K_SENTON : K_SENTSINCE ;
    i = newnode(kind, kind >= K_SENTBEFORE ? 1 : 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !tern_imap_p_date(p, &t)) return 0 ;
    N(i)->n = (uint64_t)(t / 86400) ;
    return 1 ;
  }
  else if (kw(a, n, "UID"))
  {
    genalloc r = GENALLOC_ZERO ;
    int dollar ;
    i = newnode(K_UID, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !tern_imap_p_seqset(p, &r, &dollar)) { genalloc_free(tern_imap_range, &r) ; return 0 ; }
    if (dollar) N(i)->kind = K_DOLLAR ;   /* "UID $" is "$" (RFC 5182 2.1) */
    N(i)->set = genalloc_len(tern_imap_range, &sets) ;
    N(i)->nset = genalloc_len(tern_imap_range, &r) ;
    if (!stralloc_catb((stralloc *)&sets, (char const *)genalloc_s(tern_imap_range, &r), N(i)->nset * sizeof(tern_imap_range))) die_io("out-of-memory") ;
    genalloc_free(tern_imap_range, &r) ;
    return 1 ;
  }
  else if (kw(a, n, "HEADER"))
  {
    stralloc f = STRALLOC_ZERO ;
    i = newnode(K_HEADER, 2) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p) || !tern_imap_p_astring(p, &f) || !tern_imap_p_sp(p)) { stralloc_free(&f) ; return 0 ; }
    if (!f.len || memchr(f.s, 0, f.len)) { stralloc_free(&f) ; p->err = "Invalid header field name" ; return 0 ; }
    N(i)->f = strs.len ;
    N(i)->flen = f.len ;
    if (!stralloc_catb(&strs, f.s, f.len) || !stralloc_0(&strs)) die_io("out-of-memory") ;
    stralloc_free(&f) ;
    /* a field the cache has decoded: no file needed */
    for (unsigned int k = 0 ; cached[k].name ; k++)
      if (kw(strs.s + N(i)->f, N(i)->flen, cached[k].name)) { N(i)->kind = K_CACHED ; N(i)->cost = 1 ; N(i)->ctype = cached[k].type ; usedcache = 1 ; }
    return sstring(p, i) ;
  }
  else if (kw(a, n, "BODY") || kw(a, n, "TEXT"))
  {
    i = newnode(n == 4 && !strncasecmp(a, "BODY", 4) ? K_BODY : K_TEXT, 3) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    return tern_imap_p_sp(p) && sstring(p, i) ;
  }
  else if (kw(a, n, "MODSEQ"))
  {
    /* MODSEQ [entry-name entry-type] mod-sequence-valzer (RFC 7162 3.1.5) */
    uint64_t v ;
    i = newnode(K_MODSEQ, 0) ;
    if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
    *out = i ;
    if (!tern_imap_p_sp(p)) return 0 ;
    if (tern_imap_p_peek(p) == '"')
    {
      stralloc junk = STRALLOC_ZERO ;
      char const *t ;
      size_t tl ;
      int ok = tern_imap_p_string(p, &junk) && tern_imap_p_sp(p) && tern_imap_p_atom(p, &t, &tl)
            && (kw(t, tl, "priv") || kw(t, tl, "shared") || kw(t, tl, "all")) && tern_imap_p_sp(p) ;
      stralloc_free(&junk) ;
      if (!ok) { if (!p->err) p->err = "Invalid MODSEQ entry" ; return 0 ; }
    }
    if (!tern_imap_p_number64(p, &v)) return 0 ;
    N(i)->n = v ;
    usedmodseq = 1 ;
    condstore_on() ;
    return 1 ;
  }
  else { p->err = "Unknown search key" ; return 0 ; }
  if (i == NONE) { p->err = "Too many search keys" ; return 0 ; }
  *out = i ;
  return 1 ;
}

/* An AND's children, cheapest first (a stable insertion sort: they are few). */
static void order (uint32_t i)
{
  node *x = N(i) ;
  if (x->kind == K_AND)
  {
    uint32_t sorted = NONE ;
    for (uint32_t c = x->child ; c != NONE ;)
    {
      uint32_t nx = N(c)->next, *pp = &sorted ;
      order(c) ;
      while (*pp != NONE && N(*pp)->cost <= N(c)->cost) pp = &N(*pp)->next ;
      N(c)->next = *pp ;
      *pp = c ;
      c = nx ;
    }
    x->child = sorted ;
    x->cost = 0 ;
    for (uint32_t c = sorted ; c != NONE ; c = N(c)->next) if (N(c)->cost > x->cost) x->cost = N(c)->cost ;
  }
  else if (x->kind == K_OR || x->kind == K_NOT)
    for (uint32_t c = x->child ; c != NONE ; c = N(c)->next) order(c) ;
}

/* ---- testing a message ---- */

typedef struct sctx_s sctx ;
struct sctx_s
{
  mctx c ;
  uint32_t msn ;
  int cacheread ;
  signed char const *ft ;   /* each of ftnode's answers from the stored texts: 1, 0, or -1 for none */
  stralloc scratch ;
} ;

/* Whether the search index lets uid match a BODY or TEXT key */
static int fts_cand (node const *x, uint32_t uid)
{
  uint32_t const *u = genalloc_s(uint32_t, &cands) + x->set ;
  size_t lo = 0, hi = x->nset ;
  if (x->ctype != 'i' || uid > x->n) return 1 ;
  while (lo < hi)
  {
    size_t mid = (lo + hi) / 2 ;
    if (u[mid] < uid) lo = mid + 1 ; else hi = mid ;
  }
  return lo < x->nset && u[lo] == uid ;
}

static int in_set (uint32_t v, size_t set, size_t n, uint32_t star)
{
  tern_imap_range const *r = genalloc_s(tern_imap_range, &sets) + set ;
  for (size_t i = 0 ; i < n ; i++)
  {
    uint32_t lo = r[i].lo == TERN_IMAP_STAR ? star : r[i].lo, hi = r[i].hi == TERN_IMAP_STAR ? star : r[i].hi ;
    if (lo > hi) { uint32_t t = lo ; lo = hi ; hi = t ; }
    if (v >= lo && v <= hi) return 1 ;
  }
  return 0 ;
}

static int smatch (char const *s, size_t n, node const *x)
{
  int r ;
  if (!x->slen) return 1 ;
  r = tern_search_match(s, n, strs.s + x->s, x->slen) ;
  if (r < 0) die_io("out-of-memory") ;
  return r ;
}

static int64_t day (int64_t t)
{
  return t >= 0 ? t / 86400 : (t - 86399) / 86400 ;
}

static int test (sctx *sc, uint32_t i)
{
  node const *x = N(i) ;
  tern_msg const *m = &sc->c.m ;
  char const *d ;
  size_t n ;
  switch (x->kind)
  {
    case K_ALL : return 1 ;
    case K_AND :
      for (uint32_t c = x->child ; c != NONE ; c = N(c)->next) if (!test(sc, c)) return 0 ;
      return 1 ;
    case K_OR : return test(sc, x->child) || test(sc, N(x->child)->next) ;
    case K_NOT : return !test(sc, x->child) ;
    case K_FLAG : return !!(m->flags & x->n) ;
    case K_UNFLAG : return !(m->flags & x->n) ;
    case K_KEYWORD : return x->n < TERN_KW_MAX && m->keywords & (1u << x->n) ;
    case K_UNKEYWORD : return x->n >= TERN_KW_MAX || !(m->keywords & (1u << x->n)) ;
    case K_RECENT : return view_recent(m->uid) ;
    case K_NEW : return view_recent(m->uid) && !(m->flags & TERN_F_SEEN) ;
    case K_OLD : return !view_recent(m->uid) ;
    case K_LARGER :
    case K_SMALLER :
      if (m->size == TERN_SIZE_UNKNOWN)
      {
        if (!mctx_map(&sc->c)) return 0 ;
        sc->c.m.size = crlf_size(sc->c.map, sc->c.maplen) ;
        sc->c.newsize = sc->c.m.size ;
      }
      return x->kind == K_LARGER ? m->size > x->n : m->size < x->n ;
    case K_BEFORE : return day(m->internaldate) < (int64_t)x->n ;
    case K_ON : return day(m->internaldate) == (int64_t)x->n ;
    case K_SINCE : return day(m->internaldate) >= (int64_t)x->n ;
    case K_OLDER : return m->internaldate < (int64_t)x->n ;
    case K_YOUNGER : return m->internaldate >= (int64_t)x->n ;
    case K_SAVEDBEFORE : return day(m->savedate) < (int64_t)x->n ;
    case K_SAVEDON : return day(m->savedate) == (int64_t)x->n ;
    case K_SAVEDSINCE : return day(m->savedate) >= (int64_t)x->n ;
    case K_UID : return in_set(m->uid, x->set, x->nset, view_count() ? view_uid(view_count()) : 0) ;
    case K_SEQ : return in_set(sc->msn, x->set, x->nset, view_count()) ;
    case K_MODSEQ : return m->modseq >= x->n ;
    case K_EMAILID :
    {
      char id[TERN_EMAILID_MAX + 1] ;
      size_t il = tern_maildir_emailid(id, m->name, m->namelen) ;
      return il == x->slen && !memcmp(id, strs.s + x->s, il) ;
    }
    case K_THREADID : return 0 ;   /* no message has one: THREADID is NIL (RFC 8474 5.2) */
    case K_DOLLAR :
    {
      /* the result saved before this command (RFC 5182 2.1) */
      uint32_t const *u = genalloc_s(uint32_t, &S.saved) ;
      size_t lo = 0, hi = genalloc_len(uint32_t, &S.saved) ;
      while (lo < hi)
      {
        size_t mid = (lo + hi) / 2 ;
        if (u[mid] < m->uid) lo = mid + 1 ; else hi = mid ;
      }
      return lo < genalloc_len(uint32_t, &S.saved) && u[lo] == m->uid ;
    }
    case K_SENTBEFORE :
    case K_SENTON :
    case K_SENTSINCE :
    {
      int64_t dd ;
      if (!mctx_field(&sc->c, TERN_C_ENVELOPE, &d, &n))
      {
        if (!mctx_parse(&sc->c, 1)) return 0 ;
        mctx_learn_header(&sc->c) ;
      }
      if (mctx_field(&sc->c, TERN_C_DATE, &d, &n) && n == 8) { int64_t t ; memcpy(&t, d, 8) ; dd = day(t) ; }
      else dd = day(m->internaldate) ;   /* no Date: field: when it came */
      return x->kind == K_SENTBEFORE ? dd < (int64_t)x->n : x->kind == K_SENTON ? dd == (int64_t)x->n : dd >= (int64_t)x->n ;
    }
    case K_CACHED :
      /* the cache has the header's fields once it has the ENVELOPE; a
         field it does not have is absent, and absent matches nothing,
         not even "" (RFC 3501 6.4.4: HEADER f "" is every message that
         has f) */
      if (!mctx_field(&sc->c, TERN_C_ENVELOPE, &d, &n))
      {
        if (!mctx_parse(&sc->c, 1)) return 0 ;
        mctx_learn_header(&sc->c) ;
      }
      if (!mctx_field(&sc->c, x->ctype, &d, &n)) return 0 ;
      return smatch(d, n, x) ;
    case K_HEADER :
    {
      tern_mime_part const *top ;
      char const *v ;
      size_t vl ;
      if (!mctx_parse(&sc->c, 1)) return 0 ;
      top = tern_mime_getpart(&sc->c.mime, 0) ;
      for (unsigned int k = 0 ; tern_hdr_find(sc->c.map + top->hdr, top->hdrlen, strs.s + x->f, k, &v, &vl) ; k++)
      {
        sc->scratch.len = 0 ;
        if (!tern_hdr_decode(&sc->scratch, v, vl)) die_io("out-of-memory") ;
        if (smatch(sc->scratch.s, sc->scratch.len, x)) return 1 ;
      }
      return 0 ;
    }
    case K_BODY :
    case K_TEXT :
    {
      int r ;
      /* covered by the search index: only its candidates may match, and
         a message whose texts it keeps is answered from them */
      if (!fts_cand(x, m->uid)) return 0 ;
      if (x->fi >= 0 && sc->ft && sc->ft[x->fi] >= 0) return sc->ft[x->fi] ;
      if (sc->c.parsed && sc->c.mime.len != sc->c.maplen) mctx_free(&sc->c) ;   /* a header-only parse: the whole now */
      if (!mctx_parse(&sc->c, 0)) return 0 ;
      if (!x->slen) return 1 ;
      r = tern_mime_search(&sc->c.mime, x->kind == K_TEXT ? TERN_MSEARCH_TEXT : TERN_MSEARCH_BODY, strs.s + x->s, x->slen, &sc->scratch) ;
      if (r < 0) die_io("out-of-memory") ;
      return r ;
    }
  }
  return 0 ;
}

/* ---- the program and the scan (SEARCH, SORT) ---- */

/* [CHARSET x SP] (mandatory when needcharset: SORT's charset) and the
   keys to the end of the line. */
int search_program (tern_imap_p *p, int needcharset, uint32_t *root)
{
  size_t save = p->pos ;
  char const *a ;
  size_t n ;
  genalloc_setlen(node, &nodes, 0) ;
  genalloc_setlen(tern_imap_range, &sets, 0) ;
  strs.len = 0 ;
  if (!stralloc_catb(&strs, "", 1)) die_io("out-of-memory") ;   /* offset 0: no field */
  usedmodseq = 0 ;
  usedcache = 0 ;
  if (needcharset || (tern_imap_p_atom(p, &a, &n) && kw(a, n, "CHARSET")))
  {
    stralloc cs = STRALLOC_ZERO ;
    if ((!needcharset && !tern_imap_p_sp(p)) || !tern_imap_p_astring(p, &cs) || !tern_imap_p_sp(p)) { stralloc_free(&cs) ; return 0 ; }
    if (!kw(cs.s, cs.len, "UTF-8") && !kw(cs.s, cs.len, "US-ASCII") && !kw(cs.s, cs.len, "UTF8"))
    {
      stralloc_free(&cs) ;
      o_tagged("NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset") ;
      return -1 ;
    }
    stralloc_free(&cs) ;
  }
  else { p->pos = save ; p->err = 0 ; }
  *root = newnode(K_AND, 0) ;
  if (!keylist(p, *root, 0, 0) || !tern_imap_p_eol(p)) return 0 ;
  order(*root) ;
  return 1 ;
}

int search_usedmodseq (void)
{
  return usedmodseq ;
}

/* Each message of the view that matches, in order, to f with its
   context (the cache entry read when a key or needcache wants it);
   what the tests learnt goes to the cache. 1, or 0 after the NO. */
/* The BODY and TEXT keys long enough for the search index get its
   candidates, the index first brought up to date (fts.c). */
/* A key too short for the lists (under TERN_FTS_MINLEN) still has the
   stored texts: it gets ctype 't' and the index's mark in n. */
static int fts_prepare (void)
{
  size_t nn = genalloc_len(node, &nodes) ;
  int updated = 0, deferred = 0 ;
  genalloc_setlen(uint32_t, &cands, 0) ;
  nft = 0 ;
  for (size_t i = 0 ; i < nn ; i++)
  {
    node *x = N(i) ;
    uint32_t upto = 0 ;
    size_t start ;
    int r ;
    if ((x->kind != K_BODY && x->kind != K_TEXT) || !x->slen) continue ;
    if (!updated)
    {
      /* an old folder's first search: the scan answers, the index comes after */
      if (!S.ftsdeferred && fts_behind() > FTS_DEFER) { S.ftsdeferred = S.ftsidle = deferred = 1 ; }
      else fts_update() ;
      updated = 1 ;
    }
    start = genalloc_len(uint32_t, &cands) ;
    if (!tern_store_rbegin(&S.st)) return deferred ;
    r = x->slen < TERN_FTS_MINLEN ? (tern_fts_upto(&S.st, &upto) < 0 ? -1 : 2)
      : tern_fts_candidates(&S.st, strs.s + x->s, x->slen, &cands, &upto) ;
    tern_store_rend(&S.st) ;
    x = N(i) ;
    if (r <= 0 || !upto) { genalloc_setlen(uint32_t, &cands, start) ; continue ; }
    x->ctype = r == 2 ? 't' : 'i' ;
    x->n = upto ;
    x->set = start ;
    x->nset = genalloc_len(uint32_t, &cands) - start ;
    if (nft >= NFT) continue ;
    /* the needle as ASCII texts are kept: lowercased */
    x->f = 0 ;
    if (tern_search_isascii(strs.s + x->s, x->slen))
    {
      size_t at = strs.len ;
      /* room first: the copy comes from strs itself */
      if (!stralloc_readyplus(&strs, x->slen)) die_io("out-of-memory") ;
      for (size_t k = 0 ; k < x->slen ; k++) strs.s[at + k] = tern_lower(strs.s[x->s + k]) ;
      strs.len += x->slen ;
      x->f = at ;
    }
    x->fi = nft ;
    ftnode[nft++] = i ;
  }
  return deferred ;
}

/* Inside the batch's read transaction: the keys of ftnode that the
   stored texts of m answer, to ft (-1 where they do not) */
static void fts_answer (tern_fts_rd *rd, tern_msg const *m, signed char *ft)
{
  char const *t ;
  size_t tl ;
  int got = 0 ;
  for (unsigned int k = 0 ; k < nft ; k++) ft[k] = -1 ;
  for (unsigned int k = 0 ; k < nft ; k++)
  {
    node const *x = N(ftnode[k]) ;
    if (m->uid > x->n || !fts_cand(x, m->uid)) continue ;
    if (!got) got = tern_fts_texts_get(&S.st, rd, m->uid, &t, &tl) == 1 ? 1 : -1 ;
    if (got < 0) return ;
    ft[k] = tern_fts_texts_match(t, tl, x->kind == K_TEXT ? TERN_MSEARCH_TEXT : TERN_MSEARCH_BODY, strs.s + x->s, x->slen, x->f ? strs.s + x->f : 0) ;
  }
}

int search_scan (uint32_t root, int needcache, search_hit_func *f, void *data)
{
  sctx sc = { .scratch = STRALLOC_ZERO } ;
  uint32_t nv ;
  int deferred ;
  memset(&sc.c, 0, sizeof(sc.c)) ;
  view_disk() ;
  deferred = fts_prepare() ;
  nv = view_count() ;
  for (uint32_t b = 1 ; b <= nv ; b += 256)
  {
    /* a scan of an old folder, the index left for later: how far it is */
    if (deferred && !((b - 1) % 2048)) fts_progress(b - 1, nv) ;
    uint32_t e = nv - b + 1 < 256 ? nv : b + 255 ;
    /* a batch under one read transaction: records and cache entries */
    struct { tern_msg m ; char name[512] ; stralloc cache ; int got ; signed char ft[NFT] ; } *bt = calloc(e - b + 1, sizeof(*bt)) ;
    tern_fts_rd rd = TERN_FTS_RD_ZERO ;
    if (!bt) die_io("out-of-memory") ;
    if (!tern_store_rbegin(&S.st)) { free(bt) ; stralloc_free(&sc.scratch) ; o_nosys("read the mailbox index") ; return 0 ; }
    for (uint32_t msn = b ; msn <= e ; msn++)
    {
      char const *cd ;
      size_t cl ;
      typeof(bt) y = bt + (msn - b) ;
      if (tern_store_get(&S.st, view_uid(msn), &y->m) != 1 || y->m.namelen >= sizeof(y->name)) { y->m.uid = 0 ; continue ; }
      memcpy(y->name, y->m.name, y->m.namelen) ;
      y->name[y->m.namelen] = 0 ;
      y->m.name = y->name ;
      if ((needcache || usedcache) && tern_store_cache_get(&S.st, y->m.uid, &cd, &cl) == 1)
      {
        if (!stralloc_catb(&y->cache, cd, cl)) die_io("out-of-memory") ;
        y->got = 1 ;
      }
      fts_answer(&rd, &y->m, y->ft) ;
    }
    tern_store_rend(&S.st) ;
    for (uint32_t msn = b ; msn <= e ; msn++)
    {
      typeof(bt) y = bt + (msn - b) ;
      if (!y->m.uid) continue ;
      memset(&sc.c, 0, sizeof(sc.c)) ;
      sc.c.readok = 1 ;
      sc.c.m = y->m ;
      memcpy(sc.c.name, y->name, sizeof(sc.c.name)) ;
      sc.c.m.name = sc.c.name ;
      sc.c.cache = y->cache ;
      sc.c.gotcache = y->got ;
      sc.c.newsize = TERN_SIZE_UNKNOWN ;
      sc.msn = msn ;
      sc.ft = y->ft ;
      if (test(&sc, root)) (*f)(data, msn, &sc.c) ;
      if (sc.c.newcache.len || sc.c.newsize != TERN_SIZE_UNKNOWN)
      {
        stralloc *full = &sc.c.newcache ;
        size_t newlen = full->len ;
        if (sc.c.gotcache && !stralloc_catb(full, sc.c.cache.s, sc.c.cache.len)) die_io("out-of-memory") ;
        tern_store_cache_put(&S.st, y->m.uid, full->s, newlen ? full->len : 0, sc.c.newsize) ;
      }
      mctx_free(&sc.c) ;
      stralloc_free(&sc.c.newcache) ;
      stralloc_free(&y->cache) ;
      sc.c.cache = (stralloc)STRALLOC_ZERO ;
    }
    free(bt) ;
    tern_store_cache_flush(&S.st) ;
  }
  stralloc_free(&sc.scratch) ;
  return 1 ;
}

/* ---- the command ---- */

/* After "RETURN SP": "(" options ")" SP (RFC 4731 3.1, RFC 5267 3,
   SAVE of RFC 5182 when saveok); () is ALL. 1, or 0 with p->err. */
int search_return (tern_imap_p *p, int saveok, unsigned int *ret)
{
  char const *a ;
  size_t n ;
  *ret = 0 ;
  if (!tern_imap_p_char(p, '(')) return 0 ;
  while (tern_imap_p_peek(p) != ')')
  {
    if (!tern_imap_p_atom(p, &a, &n)) return 0 ;
    if (kw(a, n, "MIN")) *ret |= RET_MIN ;
    else if (kw(a, n, "MAX")) *ret |= RET_MAX ;
    else if (kw(a, n, "ALL")) *ret |= RET_ALL ;
    else if (kw(a, n, "COUNT")) *ret |= RET_COUNT ;
    else if (saveok && kw(a, n, "SAVE")) *ret |= RET_SAVE ;
    else { p->err = "Unknown RETURN option" ; return 0 ; }
    if (tern_imap_p_peek(p) == ' ') tern_imap_p_sp(p) ;
  }
  tern_imap_p_char(p, ')') ;
  if (!*ret) *ret = RET_ALL ;
  return tern_imap_p_sp(p) ;
}

typedef struct hits_s hits_t ;
struct hits_s
{
  genalloc v ;   /* uint32_t: UIDs or numbers */
  uint64_t maxmodseq, minmodseq, lastmodseq ;
} ;

static void hit (void *data, uint32_t msn, mctx *c)
{
  hits_t *h = data ;
  uint32_t v = S.uid ? c->m.uid : msn ;
  if (!genalloc_append(uint32_t, &h->v, &v)) die_io("out-of-memory") ;
  if (c->m.modseq > h->maxmodseq) h->maxmodseq = c->m.modseq ;
  if (genalloc_len(uint32_t, &h->v) == 1) h->minmodseq = c->m.modseq ;
  h->lastmodseq = c->m.modseq ;
}

void cmd_search (tern_imap_p *p)
{
  hits_t hs = { .v = GENALLOC_ZERO, .maxmodseq = 0, .minmodseq = 0, .lastmodseq = 0 } ;
  uint32_t root ;
  unsigned int ret = 0 ;
  int esearch = 0, r ;
  if (!tern_imap_p_sp(p)) goto bad ;
  {
    size_t save = p->pos ;
    char const *a ;
    size_t n ;
    if (tern_imap_p_atom(p, &a, &n) && kw(a, n, "RETURN"))
    {
      /* RFC 4731 3.1 */
      esearch = 1 ;
      if (!tern_imap_p_sp(p) || !search_return(p, 1, &ret)) goto bad ;
      save = p->pos ;
    }
    p->pos = save ;
    p->err = 0 ;
  }
  /* RFC 9051 6.4.4, E.4: IMAP4rev2 answers with ESEARCH, ALL by default */
  if (S.rev2 && !esearch) { esearch = 1 ; ret = RET_ALL ; }
  r = search_program(p, 0, &root) ;
  if (r < 0) goto fail ;
  if (!r) goto bad ;
  if (!search_scan(root, 0, &hit, &hs)) goto fail ;
  {
    size_t nh = genalloc_len(uint32_t, &hs.v) ;
    uint32_t const *h = genalloc_s(uint32_t, &hs.v) ;
    if (ret & RET_SAVE)
    {
      /* RFC 5182 2.4: with MIN or MAX and neither ALL nor COUNT, those
         are saved; else the whole result; as UIDs, in order */
      genalloc_setlen(uint32_t, &S.saved, 0) ;
      for (size_t i = 0 ; i < nh ; i++)
      {
        uint32_t u = S.uid ? h[i] : view_uid(h[i]) ;
        if (!(ret & (RET_ALL | RET_COUNT)) && (ret & (RET_MIN | RET_MAX))
         && !((ret & RET_MIN && !i) || (ret & RET_MAX && i == nh - 1))) continue ;
        if (!genalloc_append(uint32_t, &S.saved, &u)) die_io("out-of-memory") ;
      }
      ret &= ~RET_SAVE ;
    }
    if (esearch && !ret) ;   /* RETURN (SAVE): no ESEARCH response */
    else if (esearch)
    {
      /* RFC 4731 3.1: the ESEARCH response */
      o_str("* ESEARCH (TAG ") ;
      o_string(S.tag, S.taglen) ;
      o_str(")") ;
      if (S.uid) o_str(" UID") ;
      if (nh && ret & RET_MIN) { o_str(" MIN ") ; o_num(h[0]) ; }
      if (nh && ret & RET_MAX) { o_str(" MAX ") ; o_num(h[nh - 1]) ; }
      if (nh && ret & RET_ALL) { o_str(" ALL ") ; o_uidset(h, nh) ; }
      if (ret & RET_COUNT) { o_str(" COUNT ") ; o_num(nh) ; }
      /* RFC 4731 3.2 with RFC 7162 3.1.5: MIN or MAX alone, the MODSEQ
         of that message; else the highest of all */
      if (usedmodseq && nh)
      {
        uint64_t ms = hs.maxmodseq ;
        if (!(ret & (RET_ALL | RET_COUNT)))
          ms = ret == RET_MIN ? hs.minmodseq : ret == RET_MAX ? hs.lastmodseq : hs.minmodseq > hs.lastmodseq ? hs.minmodseq : hs.lastmodseq ;
        o_str(" MODSEQ ") ;
        o_num(ms) ;
      }
      o_str("\r\n") ;
    }
    else
    {
      o_str("* SEARCH") ;
      for (size_t i = 0 ; i < nh ; i++) { o_put(" ", 1) ; o_num(h[i]) ; }
      /* RFC 7162 3.1.5 */
      if (usedmodseq && nh) { o_str(" (MODSEQ ") ; o_num(hs.maxmodseq) ; o_put(")", 1) ; }
      o_str("\r\n") ;
    }
  }
  /* RFC 3501 7.4.1: no EXPUNGE during SEARCH (the UID form may) */
  view_sync(S.uid) ;
  o_tagged("OK Search completed") ;
  goto end ;
 bad:
  o_bad(p, 0) ;
 fail:
  /* RFC 5182 2.1: a SEARCH that fails saves an empty result */
  if (ret & RET_SAVE) genalloc_setlen(uint32_t, &S.saved, 0) ;
 end:
  genalloc_free(uint32_t, &hs.v) ;
}
