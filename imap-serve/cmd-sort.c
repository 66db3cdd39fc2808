/* cmd-sort.c: SORT and UID SORT (RFC 5256 3), the DISPLAYFROM and
   DISPLAYTO keys (RFC 5957), ESORT's RETURN (RFC 5267 3), and what THREAD
   shares with them: the base subject (RFC 5256 2.1), the sent date (2.2)
   and the fields of a cached ENVELOPE.

   The search program picks the messages (cmd-search.c); each hit gives
   its keys from the cache (the ENVELOPE and the decoded Subject, learnt
   from the file's header the first time), then the hits are sorted.
   Strings compare as i;ascii-casemap (RFC 5256 3: the default
   collation); REVERSE turns its own key only; ties go by message number,
   ascending (RFC 5256 3: "the order of the messages in the mailbox"). */

#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "imap-serve.h"

/* ---- a cached ENVELOPE (tern_imap_envelope's output, read back by
   tern_env_item and the like: lib/tern_imap_envread.c) ---- */

/* The string's value appended to sa (quoted strings unescaped); NIL appends nothing. */
void env_value (stralloc *sa, env_it const *it)
{
  if (it->kind == 1)
  {
    char const *q = it->s, *e = it->s + it->len ;
    while (q < e)
    {
      char const *bs = memchr(q, '\\', e - q) ;
      if (!bs) bs = e ;
      if (!stralloc_catb(sa, q, bs - q)) die_io("out-of-memory") ;
      if (bs + 1 < e && !stralloc_catb(sa, bs + 1, 1)) die_io("out-of-memory") ;
      q = bs + 2 ;
    }
  }
  else if (it->kind == 2 && !stralloc_catb(sa, it->s, it->len)) die_io("out-of-memory") ;
}

/* The first address of address field k (2 from, 5 to, 6 cc): its name,
   adl, mailbox and host (RFC 3501 7.4.2). 0 when the field is NIL. */
static int env_addr (char const *env, size_t len, unsigned int k, env_it a[4])
{
  env_it f, ad ;
  size_t pos = 0 ;
  if (!tern_env_field(env, len, k, &f) || f.kind != 3) return 0 ;
  if (!tern_env_item(f.s, f.len, &pos, &ad, 2) || ad.kind != 3) return 0 ;
  pos = 0 ;
  for (unsigned int i = 0 ; i < 4 ; i++)
    if (!tern_env_item(ad.s, ad.len, &pos, a + i, 3)) return 0 ;
  return 1 ;
}

/* ---- keys ---- */

/* i;ascii-casemap: a-z as A-Z */
static void upcase (char *s, size_t n)
{
  for (size_t i = 0 ; i < n ; i++) if (s[i] >= 'a' && s[i] <= 'z') s[i] -= 'a' - 'A' ;
}

/* The base subject (RFC 5256 2.1): lib/tern_imap_subject.c */
int base_subject (stralloc *sa, char const *subj, size_t len)
{
  int r = tern_imap_base_subject(sa, subj, len) ;
  if (r < 0) die_io("out-of-memory") ;
  return r ;
}

/* RFC 5256 2.2: the Date: field in UTC, else the INTERNALDATE */
int64_t sent_date (mctx *c)
{
  char const *env ;
  size_t envlen ;
  env_it d ;
  if (mctx_field(c, TERN_C_ENVELOPE, &env, &envlen) && tern_env_field(env, envlen, 0, &d) && (d.kind == 1 || d.kind == 2))
  {
    stralloc sa = STRALLOC_ZERO ;
    int64_t t ;
    int tz, ok ;
    env_value(&sa, &d) ;
    ok = tern_date822_scan(sa.s, sa.len, &t, &tz) ;
    stralloc_free(&sa) ;
    if (ok) return t ;
  }
  return c->m.internaldate ;
}

/* The cache entry has the header's fields, learnt now if not */
int mctx_header (mctx *c)
{
  char const *d ;
  size_t n ;
  if (mctx_field(c, TERN_C_ENVELOPE, &d, &n)) return 1 ;
  if (!mctx_parse(c, 1)) return 0 ;
  mctx_learn_header(c) ;
  return 1 ;
}

/* ---- the command ---- */

enum { SK_ARRIVAL, SK_CC, SK_DATE, SK_FROM, SK_SIZE, SK_SUBJECT, SK_TO, SK_DISPLAYFROM, SK_DISPLAYTO } ;
#define SKEYMAX 16

typedef struct skey_s skey ;
struct skey_s { unsigned char kind, rev ; } ;

typedef struct kval_s kval ;
struct kval_s { int64_t n ; size_t off, len ; } ;   /* a number, or a string in pool */

typedef struct sortctx_s sortctx ;
struct sortctx_s
{
  skey keys[SKEYMAX] ;
  unsigned int nkeys ;
  genalloc recs ;       /* uint32_t: message number, UID */
  genalloc vals ;       /* kval: nkeys for each record */
  genalloc mods ;       /* uint64_t: the MODSEQ of each record */
  stralloc pool ;
} ;
static sortctx X ;

static int kw (char const *s, size_t n, char const *w)
{
  return strlen(w) == n && !strncasecmp(s, w, n) ;
}

static void key_addr (mctx *c, unsigned int field, int display, kval *v)
{
  char const *env ;
  size_t envlen ;
  env_it a[4] ;
  if (!mctx_field(c, TERN_C_ENVELOPE, &env, &envlen) || !env_addr(env, envlen, field, a)) return ;
  if (display)
  {
    /* RFC 5957 7: the decoded display-name; without one, the group's
       name (a group's start has no host) or addr-mailbox@addr-host */
    stralloc raw = STRALLOC_ZERO ;
    env_value(&raw, a) ;
    if (!tern_hdr_decode(&X.pool, raw.s, raw.len)) die_io("out-of-memory") ;
    stralloc_free(&raw) ;
    if (X.pool.len > v->off) return ;
    env_value(&X.pool, a + 2) ;
    if (a[3].kind)
    {
      if (!stralloc_catb(&X.pool, "@", 1)) die_io("out-of-memory") ;
      env_value(&X.pool, a + 3) ;
    }
  }
  else env_value(&X.pool, a + 2) ;   /* RFC 5256 3: the addr-mailbox */
}

static void hit (void *data, uint32_t msn, mctx *c)
{
  uint32_t r[2] = { msn, c->m.uid } ;
  int header = 0 ;
  (void)data ;
  for (unsigned int i = 0 ; i < X.nkeys ; i++)
    if (X.keys[i].kind != SK_ARRIVAL && X.keys[i].kind != SK_SIZE) header = 1 ;
  /* a file that went away sorts with empty keys */
  if (header) mctx_header(c) ;
  for (unsigned int i = 0 ; i < X.nkeys ; i++)
  {
    kval v = { .n = 0, .off = X.pool.len, .len = 0 } ;
    char const *d ;
    size_t n ;
    switch (X.keys[i].kind)
    {
      case SK_ARRIVAL : v.n = c->m.internaldate ; break ;
      case SK_DATE : v.n = sent_date(c) ; break ;
      case SK_SIZE :
        if (c->m.size != TERN_SIZE_UNKNOWN) v.n = c->m.size ;
        else if (mctx_map(c)) v.n = c->newsize = crlf_size(c->map, c->maplen) ;
        break ;
      case SK_SUBJECT : if (mctx_field(c, TERN_C_SUBJECT, &d, &n)) base_subject(&X.pool, d, n) ; break ;
      case SK_FROM : key_addr(c, 2, 0, &v) ; break ;
      case SK_TO : key_addr(c, 5, 0, &v) ; break ;
      case SK_CC : key_addr(c, 6, 0, &v) ; break ;
      case SK_DISPLAYFROM : key_addr(c, 2, 1, &v) ; break ;
      case SK_DISPLAYTO : key_addr(c, 5, 1, &v) ; break ;
    }
    if (X.keys[i].kind != SK_SUBJECT) upcase(X.pool.s + v.off, X.pool.len - v.off) ;
    v.len = X.pool.len - v.off ;
    if (!genalloc_append(kval, &X.vals, &v)) die_io("out-of-memory") ;
  }
  if (!genalloc_catb(uint32_t, &X.recs, r, 2) || !genalloc_append(uint64_t, &X.mods, &c->m.modseq)) die_io("out-of-memory") ;
}

static int cmp (void const *a, void const *b)
{
  uint32_t i = *(uint32_t const *)a, j = *(uint32_t const *)b ;
  kval const *u = genalloc_s(kval, &X.vals) + (size_t)i * X.nkeys ;
  kval const *w = genalloc_s(kval, &X.vals) + (size_t)j * X.nkeys ;
  for (unsigned int k = 0 ; k < X.nkeys ; k++)
  {
    int r ;
    if (X.keys[k].kind == SK_ARRIVAL || X.keys[k].kind == SK_DATE || X.keys[k].kind == SK_SIZE)
      r = u[k].n < w[k].n ? -1 : u[k].n > w[k].n ;
    else
    {
      size_t l = u[k].len < w[k].len ? u[k].len : w[k].len ;
      r = l ? memcmp(X.pool.s + u[k].off, X.pool.s + w[k].off, l) : 0 ;   /* the pool is null while every key is empty */
      if (!r) r = u[k].len < w[k].len ? -1 : u[k].len > w[k].len ;
    }
    if (r) return X.keys[k].rev ? -r : r ;
  }
  /* records are in message number order */
  return i < j ? -1 : i > j ;
}


static int criteria (tern_imap_p *p)
{
  static struct { char const *name ; unsigned char kind ; } const names[] =
  {
    { "ARRIVAL", SK_ARRIVAL }, { "CC", SK_CC }, { "DATE", SK_DATE }, { "FROM", SK_FROM }, { "SIZE", SK_SIZE },
    { "SUBJECT", SK_SUBJECT }, { "TO", SK_TO }, { "DISPLAYFROM", SK_DISPLAYFROM }, { "DISPLAYTO", SK_DISPLAYTO }
  } ;
  int rev = 0 ;
  X.nkeys = 0 ;
  if (!tern_imap_p_char(p, '(')) return 0 ;
  for (;;)
  {
    char const *a ;
    size_t n ;
    unsigned int i = 0 ;
    if (!tern_imap_p_atom(p, &a, &n)) return 0 ;
    if (kw(a, n, "REVERSE"))
    {
      if (rev) { p->err = "REVERSE twice" ; return 0 ; }
      rev = 1 ;
      if (!tern_imap_p_sp(p)) return 0 ;
      continue ;
    }
    for (; i < sizeof(names) / sizeof(names[0]) ; i++) if (kw(a, n, names[i].name)) break ;
    if (i == sizeof(names) / sizeof(names[0])) { p->err = "Unknown sort key" ; return 0 ; }
    if (X.nkeys == SKEYMAX) { p->err = "Too many sort keys" ; return 0 ; }
    X.keys[X.nkeys].kind = names[i].kind ;
    X.keys[X.nkeys++].rev = rev ;
    rev = 0 ;
    if (tern_imap_p_peek(p) == ')') break ;
    if (!tern_imap_p_sp(p)) return 0 ;
  }
  return tern_imap_p_char(p, ')') && tern_imap_p_sp(p) ;
}

void cmd_sort (tern_imap_p *p)
{
  uint32_t root ;
  unsigned int ret = 0 ;
  int esort = 0, r ;
  genalloc order = GENALLOC_ZERO ;   /* uint32_t: record numbers, sorted */
  if (!tern_imap_p_sp(p)) goto bad ;
  if (tern_imap_p_peek(p) != '(')
  {
    char const *a ;
    size_t n ;
    /* RFC 5267 3 */
    if (!tern_imap_p_atom(p, &a, &n) || !kw(a, n, "RETURN")) { p->err = "Sort criteria expected" ; goto bad ; }
    esort = 1 ;
    if (!tern_imap_p_sp(p) || !search_return(p, 0, &ret)) goto bad ;
  }
  if (!criteria(p)) goto bad ;
  r = search_program(p, 1, &root) ;
  if (r < 0) goto end ;
  if (!r) goto bad ;
  genalloc_setlen(uint32_t, &X.recs, 0) ;
  genalloc_setlen(kval, &X.vals, 0) ;
  genalloc_setlen(uint64_t, &X.mods, 0) ;
  X.pool.len = 0 ;
  if (!search_scan(root, 1, &hit, 0)) goto end ;
  {
    size_t nh = genalloc_len(uint32_t, &X.recs) / 2 ;
    uint32_t const *rec = genalloc_s(uint32_t, &X.recs) ;
    uint64_t maxmod = 0 ;
    uint32_t *o ;
    if (!genalloc_ready(uint32_t, &order, nh)) die_io("out-of-memory") ;
    o = genalloc_s(uint32_t, &order) ;
    for (size_t i = 0 ; i < nh ; i++)
    {
      o[i] = i ;
      if (genalloc_s(uint64_t, &X.mods)[i] > maxmod) maxmod = genalloc_s(uint64_t, &X.mods)[i] ;
    }
    qsort(o, nh, sizeof(uint32_t), &cmp) ;
    /* the numbers (or UIDs) in their order, over o itself */
    for (size_t i = 0 ; i < nh ; i++) o[i] = rec[2 * o[i] + !!S.uid] ;
    if (esort)
    {
      o_str("* ESEARCH (TAG ") ;
      o_string(S.tag, S.taglen) ;
      o_str(")") ;
      if (S.uid) o_str(" UID") ;
      if (nh && ret & RET_MIN) { o_str(" MIN ") ; o_num(o[0]) ; }
      if (nh && ret & RET_MAX) { o_str(" MAX ") ; o_num(o[nh - 1]) ; }
      /* in sort order: only ascending runs become ranges */
      if (nh && ret & RET_ALL) { o_str(" ALL ") ; o_uidset(o, nh) ; }
      if (ret & RET_COUNT) { o_str(" COUNT ") ; o_num(nh) ; }
      if (search_usedmodseq() && nh) { o_str(" MODSEQ ") ; o_num(maxmod) ; }
    }
    else
    {
      o_str("* SORT") ;
      for (size_t i = 0 ; i < nh ; i++) { o_put(" ", 1) ; o_num(o[i]) ; }
      /* RFC 7162 3.1.5 */
      if (search_usedmodseq() && nh) { o_str(" (MODSEQ ") ; o_num(maxmod) ; o_put(")", 1) ; }
    }
    o_str("\r\n") ;
  }
  view_sync(S.uid) ;
  o_tagged("OK Sort completed") ;
  goto end ;
 bad:
  o_bad(p, 0) ;
 end:
  genalloc_free(uint32_t, &order) ;
  genalloc_free(uint32_t, &X.recs) ;
  genalloc_free(kval, &X.vals) ;
  genalloc_free(uint64_t, &X.mods) ;
  stralloc_free(&X.pool) ;
}
