/* cmd-thread.c: THREAD and UID THREAD (RFC 5256 3), the ORDEREDSUBJECT
   and REFERENCES algorithms as RFC 5256 3 writes them, step by step.

   The search program picks the messages; each hit gives its sent date,
   base subject and, for REFERENCES, its Message-ID, References and
   In-Reply-To from the cache. The tree is built in arrays (containers
   linked by index) and walked without recursion, so that a thread of any
   depth costs no stack. Message-IDs are looked up in a hash table. */

#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "imap-serve.h"

#define NONE UINT32_MAX

typedef struct trec_s trec ;
struct trec_s
{
  uint32_t msn, uid ;
  int64_t date ;
  size_t subj, subjlen ;    /* the base subject, in pool */
  int reply ;
  size_t id, idlen ;        /* the Message-ID, normalised, in pool; idlen 0: none */
  size_t refs ;             /* first reference in X.refs */
  uint32_t nrefs ;
} ;

typedef struct cont_s cont ;
struct cont_s
{
  uint32_t rec ;            /* NONE: a dummy */
  uint32_t parent ;
  uint32_t child, last ;    /* its children: a list linked both ways */
  uint32_t prev, next ;
  size_t id, idlen ;        /* the ID it is known by (idlen 0: none, not in the table) */
} ;

typedef struct ref_s ref ;
struct ref_s { size_t off, len ; } ;

typedef struct tctx_s tctx ;
struct tctx_s
{
  int refalgo ;
  genalloc recs ;           /* trec */
  genalloc refs ;           /* ref */
  genalloc conts ;          /* cont */
  stralloc pool ;
  uint32_t *table ;         /* Message-ID hash: container + 1, or 0 */
  size_t tsize ;
} ;
static tctx X ;

#define R(i) (genalloc_s(trec, &X.recs) + (i))
#define C(i) (genalloc_s(cont, &X.conts) + (i))

static int kw (char const *s, size_t n, char const *w)
{
  return strlen(w) == n && !strncasecmp(s, w, n) ;
}

/* ---- Message-IDs ---- */

/* The next msg-id of s[*pos..len), normalised into pool (the quotes and
   escapes of RFC 5322's id-left taken off, RFC 5256 3, "REFERENCES");
   1 with its place, 0 when there is no other valid one. */
static int next_msgid (char const *s, size_t len, size_t *pos, ref *out)
{
  size_t i = *pos ;
  while (i < len)
  {
    char const *lt = memchr(s + i, '<', len - i) ;
    char const *gt ;
    size_t start = X.pool.len ;
    int at = 0 ;
    if (!lt) break ;
    gt = memchr(lt, '>', s + len - lt) ;
    if (!gt) break ;
    for (char const *q = lt + 1 ; q < gt ; q++)
    {
      if (*q == '"' || *q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') continue ;
      if (*q == '\\' && q + 1 < gt) q++ ;
      if (*q == '@') at = 1 ;
      if (!stralloc_catb(&X.pool, q, 1)) die_io("out-of-memory") ;
    }
    i = gt + 1 - s ;
    if (at && X.pool.len > start + 1)
    {
      out->off = start ;
      out->len = X.pool.len - start ;
      *pos = i ;
      return 1 ;
    }
    X.pool.len = start ;
  }
  *pos = len ;
  return 0 ;
}

/* The container of an ID (case-sensitive, RFC 5256), made a dummy if new */
static uint32_t id_cont (size_t off, size_t len)
{
  size_t mask = X.tsize - 1 ;
  size_t h = tern_fnv1a(X.pool.s + off, len) & mask ;
  cont c = { .rec = NONE, .parent = NONE, .child = NONE, .last = NONE, .prev = NONE, .next = NONE, .id = off, .idlen = len } ;
  for (;; h = (h + 1) & mask)
  {
    uint32_t k = X.table[h] ;
    if (!k) break ;
    if (C(k - 1)->idlen == len && !memcmp(X.pool.s + C(k - 1)->id, X.pool.s + off, len)) return k - 1 ;
  }
  if (!genalloc_append(cont, &X.conts, &c)) die_io("out-of-memory") ;
  X.table[h] = genalloc_len(cont, &X.conts) ;
  return X.table[h] - 1 ;
}

static uint32_t new_cont (uint32_t rec)
{
  cont c = { .rec = rec, .parent = NONE, .child = NONE, .last = NONE, .prev = NONE, .next = NONE, .id = 0, .idlen = 0 } ;
  if (!genalloc_append(cont, &X.conts, &c)) die_io("out-of-memory") ;
  return genalloc_len(cont, &X.conts) - 1 ;
}

/* ---- the tree ---- */

/* the list of p's children from first to last in c's place (c's own
   links are left to the caller) */
static void replace (uint32_t c, uint32_t first, uint32_t last)
{
  uint32_t p = C(c)->parent, pr = C(c)->prev, nx = C(c)->next ;
  if (first == NONE) { first = nx ; last = pr ; }
  else { C(first)->prev = pr ; C(last)->next = nx ; }
  if (pr != NONE) C(pr)->next = first ; else C(p)->child = first ;
  if (nx != NONE) C(nx)->prev = last ; else C(p)->last = last ;
}

static void unlink_cont (uint32_t c)
{
  if (C(c)->parent == NONE) return ;
  replace(c, NONE, NONE) ;
  C(c)->parent = C(c)->prev = C(c)->next = NONE ;
}

static void add_child (uint32_t p, uint32_t c)
{
  C(c)->parent = p ;
  C(c)->prev = C(p)->last ;
  C(c)->next = NONE ;
  if (C(p)->last != NONE) C(C(p)->last)->next = c ; else C(p)->child = c ;
  C(p)->last = c ;
}

/* whether a is c or under it: c's children are looked for first, so
   that the walk up (as long as the thread is deep) is only made for a
   container that has some, which a new message has not */
static int under (uint32_t a, uint32_t c)
{
  if (a == c) return 1 ;
  if (C(c)->child == NONE) return 0 ;
  for (; a != NONE ; a = C(a)->parent) if (a == c) return 1 ;
  return 0 ;
}

static int64_t cdate (uint32_t c, uint32_t *msn)
{
  /* a dummy sorts as its first child (RFC 5256 3, steps 4 and 6) */
  while (C(c)->rec == NONE && C(c)->child != NONE) c = C(c)->child ;
  if (C(c)->rec == NONE) { *msn = 0 ; return 0 ; }
  *msn = R(C(c)->rec)->msn ;
  return R(C(c)->rec)->date ;
}

static int ccmp (void const *a, void const *b)
{
  uint32_t ma, mb ;
  int64_t da = cdate(*(uint32_t const *)a, &ma), db = cdate(*(uint32_t const *)b, &mb) ;
  if (da != db) return da < db ? -1 : 1 ;
  return ma < mb ? -1 : ma > mb ;
}

/* The children of p in sent date order (ties: message number) */
static void sort_children (uint32_t p, genalloc *tmp)
{
  uint32_t n = 0, *v ;
  genalloc_setlen(uint32_t, tmp, 0) ;
  for (uint32_t c = C(p)->child ; c != NONE ; c = C(c)->next)
    if (!genalloc_append(uint32_t, tmp, &c)) die_io("out-of-memory") ;
  n = genalloc_len(uint32_t, tmp) ;
  if (n < 2) return ;
  v = genalloc_s(uint32_t, tmp) ;
  qsort(v, n, sizeof(uint32_t), &ccmp) ;
  C(p)->child = v[0] ;
  C(p)->last = v[n-1] ;
  for (uint32_t i = 0 ; i < n ; i++)
  {
    C(v[i])->prev = i ? v[i-1] : NONE ;
    C(v[i])->next = i + 1 < n ? v[i+1] : NONE ;
  }
}

/* Every container under root, parents before children */
static void preorder (uint32_t root, genalloc *out)
{
  genalloc_setlen(uint32_t, out, 0) ;
  if (!genalloc_append(uint32_t, out, &root)) die_io("out-of-memory") ;
  for (size_t i = 0 ; i < genalloc_len(uint32_t, out) ; i++)
    for (uint32_t c = C(genalloc_s(uint32_t, out)[i])->child ; c != NONE ; c = C(c)->next)
      if (!genalloc_append(uint32_t, out, &c)) die_io("out-of-memory") ;
}

static void thread_subject (uint32_t c, size_t *s, size_t *n, int *reply)
{
  uint32_t r = C(c)->rec != NONE ? C(c)->rec : C(c)->child != NONE ? C(C(c)->child)->rec : NONE ;
  if (r == NONE) { *n = 0 ; return ; }
  *s = R(r)->subj ; *n = R(r)->subjlen ; *reply = R(r)->reply ;
}

static uint32_t references (void)
{
  uint32_t root ;
  uint32_t nr = genalloc_len(trec, &X.recs) ;
  genalloc tmp = GENALLOC_ZERO, order = GENALLOC_ZERO ;
  X.tsize = 64 ;
  while (X.tsize < 2 * ((size_t)nr + genalloc_len(ref, &X.refs)) + 2) X.tsize <<= 1 ;
  X.table = calloc(X.tsize, sizeof(uint32_t)) ;
  if (!X.table) die_io("out-of-memory") ;
  /* (1) */
  for (uint32_t i = 0 ; i < nr ; i++)
  {
    trec *r = R(i) ;
    uint32_t me, prev = NONE ;
    if (r->idlen)
    {
      me = id_cont(r->id, r->idlen) ;
      if (C(me)->rec != NONE) me = new_cont(i) ;   /* a duplicate: an ID of its own */
      else C(me)->rec = i ;
    }
    else me = new_cont(i) ;
    /* (A) */
    for (uint32_t k = 0 ; k < r->nrefs ; k++)
    {
      ref const *f = genalloc_s(ref, &X.refs) + r->refs + k ;
      uint32_t c = id_cont(f->off, f->len) ;
      if (prev != NONE && C(c)->parent == NONE && c != prev && !under(prev, c)) add_child(prev, c) ;
      prev = c ;
    }
    /* (B) */
    unlink_cont(me) ;
    if (prev != NONE && prev != me && !under(prev, me)) add_child(prev, me) ;
  }
  /* (2) the root: a container of its own */
  {
    uint32_t nc = genalloc_len(cont, &X.conts) ;
    uint32_t top = new_cont(NONE) ;
    for (uint32_t c = 0 ; c < nc ; c++) if (C(c)->parent == NONE) add_child(top, c) ;
    root = top ;
  }
  free(X.table) ;
  X.table = 0 ;
  /* (3) children before their parents: each dummy's children are pruned
     when the dummy is looked at from its parent */
  preorder(root, &order) ;
  for (size_t j = genalloc_len(uint32_t, &order) ; j-- ;)
  {
    uint32_t p = genalloc_s(uint32_t, &order)[j] ;
    for (uint32_t c = C(p)->child, nx ; c != NONE ; c = nx)
    {
      nx = C(c)->next ;
      if (C(c)->rec != NONE || (p == root && C(c)->child != NONE && C(C(c)->child)->next != NONE)) continue ;
      /* a dummy: its children (maybe none) in its place */
      for (uint32_t k = C(c)->child ; k != NONE ; k = C(k)->next) C(k)->parent = p ;
      replace(c, C(c)->child, C(c)->last) ;
      C(c)->parent = C(c)->prev = C(c)->next = C(c)->child = C(c)->last = NONE ;
    }
  }
  /* (4) */
  for (uint32_t c = C(root)->child ; c != NONE ; c = C(c)->next)
    if (C(c)->rec == NONE) sort_children(c, &tmp) ;
  sort_children(root, &tmp) ;
  /* (5) the subject table, hashed: one pass to fill it (B), one to merge (C) */
  {
    typedef struct { size_t s, sl ; uint32_t c ; } sent ;
    genalloc tops = GENALLOC_ZERO ;   /* uint32_t: the top level as step 4 left it */
    size_t ts = 64, nt ;
    sent *ht ;
    for (uint32_t c = C(root)->child ; c != NONE ; c = C(c)->next)
      if (!genalloc_append(uint32_t, &tops, &c)) die_io("out-of-memory") ;
    nt = genalloc_len(uint32_t, &tops) ;
    while (ts < 2 * nt + 2) ts <<= 1 ;
    ht = calloc(ts, sizeof(sent)) ;
    if (!ht) die_io("out-of-memory") ;
    for (int pass = 0 ; pass < 2 ; pass++)
      for (size_t i = 0 ; i < nt ; i++)
      {
        uint32_t c = genalloc_s(uint32_t, &tops)[i], t ;
        size_t s, sl, h ;
        int reply = 0, r2 = 0 ;
        sent *e ;
        if (C(c)->parent != root) continue ;   /* merged into another */
        thread_subject(c, &s, &sl, &reply) ;
        if (!sl) continue ;
        for (h = tern_fnv1a(X.pool.s + s, sl) & (ts - 1) ; ; h = (h + 1) & (ts - 1))
        {
          e = ht + h ;
          if (!e->sl || (e->sl == sl && !memcmp(X.pool.s + e->s, X.pool.s + s, sl))) break ;
        }
        if (!e->sl) { e->s = s ; e->sl = sl ; e->c = c ; continue ; }
        t = e->c ;
        thread_subject(t, &s, &sl, &r2) ;
        if (!pass)
        {
          /* (B iv) a dummy, or a message that is not a reply, is more interesting */
          if (C(t)->rec != NONE && (C(c)->rec == NONE || (r2 && !reply))) e->c = c ;
          continue ;
        }
        /* (C) */
        if (t == c) continue ;
        if (C(t)->rec == NONE && C(c)->rec == NONE)
        {
          uint32_t k ;
          while ((k = C(c)->child) != NONE) { unlink_cont(k) ; add_child(t, k) ; }
          unlink_cont(c) ;
        }
        else if (C(t)->rec == NONE || (reply && !r2)) { unlink_cont(c) ; add_child(t, c) ; }
        else
        {
          /* a new dummy in t's place at the top, over both */
          uint32_t d = new_cont(NONE) ;
          unlink_cont(c) ;
          C(d)->parent = root ;
          replace(t, d, d) ;
          C(t)->parent = C(t)->prev = C(t)->next = NONE ;
          add_child(d, t) ;
          add_child(d, c) ;
          e->c = d ;
        }
      }
    free(ht) ;
    genalloc_free(uint32_t, &tops) ;
  }
  /* (6) every set of siblings, the deepest first */
  preorder(root, &order) ;
  for (size_t j = genalloc_len(uint32_t, &order) ; j-- ;)
  {
    uint32_t p = genalloc_s(uint32_t, &order)[j] ;
    if (C(p)->child != NONE) sort_children(p, &tmp) ;
  }
  genalloc_free(uint32_t, &tmp) ;
  genalloc_free(uint32_t, &order) ;
  return root ;
}

/* by base subject, then date, then number */
static int subjcmp (void const *a, void const *b)
{
  trec const *x = R(C(*(uint32_t const *)a)->rec), *y = R(C(*(uint32_t const *)b)->rec) ;
  size_t l = x->subjlen < y->subjlen ? x->subjlen : y->subjlen ;
  int r = memcmp(X.pool.s + x->subj, X.pool.s + y->subj, l) ;
  if (r) return r ;
  if (x->subjlen != y->subjlen) return x->subjlen < y->subjlen ? -1 : 1 ;
  if (x->date != y->date) return x->date < y->date ? -1 : 1 ;
  return x->msn < y->msn ? -1 : x->msn > y->msn ;
}

/* ORDEREDSUBJECT: by base subject then date; each subject's first
   message the parent of the others; threads by their first's date */
static uint32_t ordered (void)
{
  uint32_t nr = genalloc_len(trec, &X.recs) ;
  uint32_t root = new_cont(NONE) ;
  genalloc tmp = GENALLOC_ZERO ;
  uint32_t *v = nr ? malloc(nr * sizeof(uint32_t)) : 0 ;
  if (nr && !v) die_io("out-of-memory") ;
  for (uint32_t i = 0 ; i < nr ; i++) v[i] = new_cont(i) ;
  qsort(v, nr, sizeof(uint32_t), &subjcmp) ;
  for (uint32_t i = 0 ; i < nr ;)
  {
    uint32_t j = i + 1 ;
    trec const *x = R(C(v[i])->rec) ;
    add_child(root, v[i]) ;
    for (; j < nr ; j++)
    {
      trec const *y = R(C(v[j])->rec) ;
      if (y->subjlen != x->subjlen || memcmp(X.pool.s + y->subj, X.pool.s + x->subj, x->subjlen)) break ;
      add_child(v[i], v[j]) ;
    }
    i = j ;
  }
  free(v) ;
  sort_children(root, &tmp) ;
  genalloc_free(uint32_t, &tmp) ;
  return root ;
}

/* ---- output ---- */

/* thread-list (RFC 5256 4): a message, then its only child on the same
   level or its children each in parentheses. Walked with a stack of the
   containers whose ")" is due. */
static void o_threads (uint32_t root)
{
  genalloc st = GENALLOC_ZERO ;   /* uint32_t: a container to write, or NONE - k: k ")" */
  uint32_t c ;
  for (c = C(root)->child ; c != NONE ; c = C(c)->next)
  {
    uint32_t x = c ;
    genalloc_setlen(uint32_t, &st, 0) ;
    o_put("(", 1) ;
    for (;;)
    {
      uint32_t k ;
      if (C(x)->rec != NONE) o_num(S.uid ? R(C(x)->rec)->uid : R(C(x)->rec)->msn) ;
      k = C(x)->child ;
      if (k != NONE && C(k)->next == NONE)
      {
        /* one child: on the same level (a dummy with one child, which
           step 3 leaves nowhere, would be "(" and nothing else) */
        if (C(x)->rec != NONE) o_put(" ", 1) ;
        x = k ;
        continue ;
      }
      if (k != NONE)
      {
        /* each child as "(...)": pushed last first */
        uint32_t n = 0, base = genalloc_len(uint32_t, &st) ;
        uint32_t close = NONE - 1 ;
        if (C(x)->rec != NONE) o_put(" ", 1) ;
        for (uint32_t y = k ; y != NONE ; y = C(y)->next) n++ ;
        if (!genalloc_readyplus(uint32_t, &st, 2 * n)) die_io("out-of-memory") ;
        genalloc_setlen(uint32_t, &st, base + 2 * n) ;
        {
          uint32_t *s = genalloc_s(uint32_t, &st) + base ;
          uint32_t i = 2 * n ;
          for (uint32_t y = k ; y != NONE ; y = C(y)->next) { s[--i] = y ; s[--i] = close ; }
          /* s[2n-1] is the first child, below it its ")", and so on */
        }
      }
      /* next: pop */
      for (;;)
      {
        uint32_t len = genalloc_len(uint32_t, &st), y ;
        if (!len) { x = NONE ; break ; }
        y = genalloc_s(uint32_t, &st)[len - 1] ;
        genalloc_setlen(uint32_t, &st, len - 1) ;
        if (y == NONE - 1) { o_put(")", 1) ; continue ; }
        o_put("(", 1) ;
        x = y ;
        break ;
      }
      if (x == NONE) break ;
    }
    o_put(")", 1) ;
  }
  genalloc_free(uint32_t, &st) ;
}

/* ---- the command ---- */

static void hit (void *data, uint32_t msn, mctx *c)
{
  trec r = { .msn = msn, .uid = c->m.uid, .subj = X.pool.len, .subjlen = 0, .idlen = 0, .refs = genalloc_len(ref, &X.refs), .nrefs = 0 } ;
  char const *d ;
  size_t n ;
  (void)data ;
  mctx_header(c) ;
  r.date = sent_date(c) ;
  if (mctx_field(c, TERN_C_SUBJECT, &d, &n)) r.reply = base_subject(&X.pool, d, n) ;
  r.subjlen = X.pool.len - r.subj ;
  if (X.refalgo)
  {
    char const *env ;
    size_t envlen, pos ;
    env_it it[10] ;
    int gotenv = mctx_field(c, TERN_C_ENVELOPE, &env, &envlen) && tern_env_fields(env, envlen, 9, it) ;
    ref f ;
    stralloc v = STRALLOC_ZERO ;
    if (gotenv)
    {
      env_value(&v, it + 9) ;
      pos = 0 ;
      if (next_msgid(v.s, v.len, &pos, &f)) { r.id = f.off ; r.idlen = f.len ; }
    }
    if (mctx_references(c, &d, &n))
      for (pos = 0 ; next_msgid(d, n, &pos, &f) ;)
      {
        if (!genalloc_append(ref, &X.refs, &f)) die_io("out-of-memory") ;
        r.nrefs++ ;
      }
    if (!r.nrefs && gotenv)
    {
      /* RFC 5256 3: the first valid ID of In-Reply-To, only */
      v.len = 0 ;
      env_value(&v, it + 8) ;
      pos = 0 ;
      if (next_msgid(v.s, v.len, &pos, &f) && genalloc_append(ref, &X.refs, &f)) r.nrefs = 1 ;
    }
    stralloc_free(&v) ;
  }
  if (!genalloc_append(trec, &X.recs, &r)) die_io("out-of-memory") ;
}

void cmd_thread (tern_imap_p *p)
{
  uint32_t root ;
  char const *a ;
  size_t n ;
  int r ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_atom(p, &a, &n)) goto bad ;
  if (kw(a, n, "REFERENCES")) X.refalgo = 1 ;
  else if (kw(a, n, "ORDEREDSUBJECT")) X.refalgo = 0 ;
  else { p->err = "Unknown threading algorithm" ; goto bad ; }
  if (!tern_imap_p_sp(p)) goto bad ;
  r = search_program(p, 1, &root) ;
  if (r < 0) goto end ;
  if (!r) goto bad ;
  X.pool.len = 0 ;
  if (!stralloc_catb(&X.pool, "", 1)) die_io("out-of-memory") ;   /* offset 0: no ID */
  if (!search_scan(root, 1, &hit, 0)) goto end ;
  root = X.refalgo ? references() : ordered() ;
  o_str("* THREAD") ;
  if (C(root)->child != NONE) { o_put(" ", 1) ; o_threads(root) ; }
  o_str("\r\n") ;
  view_sync(S.uid) ;
  o_tagged("OK Thread completed") ;
  goto end ;
 bad:
  o_bad(p, 0) ;
 end:
  genalloc_free(trec, &X.recs) ;
  genalloc_free(ref, &X.refs) ;
  genalloc_free(cont, &X.conts) ;
  stralloc_free(&X.pool) ;
}
