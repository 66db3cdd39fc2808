/* tern_fts: the search index's segments of trigram posting lists (the
   layout is in tern_fts.h). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <lmdb.h>
#include "tern_fts.h"
#include "tern_mime.h"
#include "tern_store_int.h"

#define M_FTSUPTO "ftsupto"
#define M_FTSNSEG "ftsnseg"
#define HDR 0xffffffffu
#define MAXTRI 16   /* trigrams of a needle looked up: a spread of them is enough */

static int seterr (int r)
{
  errno = tern_store__mdberr(r) ;
  return 0 ;
}

/* A database's handle, opened once (in a transaction of its own, so
   that it outlives the caller's); 0 when the folder has none yet. */
static int dbi_once (tern_store *st, char const *name, unsigned int flags, MDB_dbi *dbi, int *has)
{
  MDB_txn *txn ;
  int r ;
  if (*has) return 1 ;
  r = mdb_txn_begin(st->env, 0, MDB_RDONLY, &txn) ;
  if (r) { seterr(r) ; return -1 ; }
  r = mdb_dbi_open(txn, name, flags, dbi) ;
  if (r) { mdb_txn_abort(txn) ; if (r == MDB_NOTFOUND) return 0 ; seterr(r) ; return -1 ; }
  r = mdb_txn_commit(txn) ;
  if (r) { seterr(r) ; return -1 ; }
  *has = 1 ;
  return 1 ;
}

/* the lists; the stored texts */
static int fts_dbi (tern_store *st) { return dbi_once(st, "fts", 0, &st->dfts, &st->hasfts) ; }
static int ftx_dbi (tern_store *st) { return dbi_once(st, "ftx", MDB_INTEGERKEY, &st->dftx, &st->hasftx) ; }

static void putle (unsigned char *p, uint32_t v)
{
  p[0] = v ; p[1] = v >> 8 ; p[2] = v >> 16 ; p[3] = v >> 24 ;
}

static uint32_t getle (unsigned char const *p)
{
  return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0] ;
}

static void key (unsigned char *k, uint32_t seg, uint32_t tri)
{
  k[0] = seg >> 24 ; k[1] = seg >> 16 ; k[2] = seg >> 8 ; k[3] = seg ;
  k[4] = tri >> 24 ; k[5] = tri >> 16 ; k[6] = tri >> 8 ; k[7] = tri ;
}

static uint32_t getbe (unsigned char const *k)
{
  return (uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 | (uint32_t)k[2] << 8 | k[3] ;
}

/* a varint: 7 bits an octet, low first */
static size_t vget (unsigned char const *s, size_t n, size_t i, uint32_t *v)
{
  uint32_t x = 0 ;
  unsigned int sh = 0 ;
  while (i < n && sh < 35)
  {
    unsigned char c = s[i++] ;
    x |= (uint32_t)(c & 0x7f) << sh ;
    if (!(c & 0x80)) { *v = x ; return i ; }
    sh += 7 ;
  }
  return 0 ;
}

/* ---- reading ---- */

int tern_fts_upto (tern_store *st, uint32_t *upto)
{
  uint64_t v = 0 ;
  int r = fts_dbi(st) ;
  *upto = 0 ;
  if (r <= 0) return r < 0 ? -1 : 1 ;
  r = tern_store__meta_get(st->rtxn, st->dmeta, M_FTSUPTO, &v) ;
  if (r < 0) return -1 ;
  *upto = v ;
  return 1 ;
}

/* the UIDs of a list, appended */
static int decode (MDB_val const *d, genalloc *out)
{
  unsigned char const *s = d->mv_data ;
  size_t i = 0 ;
  uint32_t u = 0, x ;
  while (i < d->mv_size)
  {
    i = vget(s, d->mv_size, i, &x) ;
    if (!i) break ;
    u += x ;
    if (!genalloc_append(uint32_t, out, &u)) return 0 ;
  }
  return 1 ;
}

/* a = a ∩ (the list d), both sorted */
static int intersect (genalloc *a, MDB_val const *d, genalloc *tmp)
{
  uint32_t *x ;
  uint32_t const *y ;
  size_t n, m, i = 0, j = 0, k = 0 ;
  genalloc_setlen(uint32_t, tmp, 0) ;
  if (!decode(d, tmp)) return 0 ;
  x = genalloc_s(uint32_t, a) ; n = genalloc_len(uint32_t, a) ;
  y = genalloc_s(uint32_t, tmp) ; m = genalloc_len(uint32_t, tmp) ;
  while (i < n && j < m)
  {
    if (x[i] < y[j]) i++ ;
    else if (x[i] > y[j]) j++ ;
    else { x[k++] = x[i] ; i++ ; j++ ; }
  }
  genalloc_setlen(uint32_t, a, k) ;
  return 1 ;
}

static int u32cmp (void const *a, void const *b)
{
  uint32_t x = *(uint32_t const *)a, y = *(uint32_t const *)b ;
  return x < y ? -1 : x > y ;
}

int tern_fts_candidates (tern_store *st, char const *nd, size_t nl, genalloc *out, uint32_t *upto)
{
  uint32_t tris[MAXTRI], ntri = 0, all[MAXTRI * 4] ;
  uint64_t nseg = 0, v = 0 ;
  genalloc a = GENALLOC_ZERO, tmp = GENALLOC_ZERO ;
  int r ;
  *upto = 0 ;
  if (nl < TERN_FTS_MINLEN) return 0 ;
  r = fts_dbi(st) ;
  if (r <= 0) return r < 0 ? -1 : 1 ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_FTSUPTO, &v) < 0
   || tern_store__meta_get(st->rtxn, st->dmeta, M_FTSNSEG, &nseg) < 0) return -1 ;
  *upto = v ;
  /* the needle's trigrams, lowercased as the texts were, a spread of at
     most MAXTRI of them (any subset finds a superset), the last one too */
  {
    size_t nt = nl - 2, step = nt <= MAXTRI * 4 ? 1 : (nt + MAXTRI * 4 - 1) / (MAXTRI * 4) ;
    uint32_t na = 0 ;
    for (size_t i = 0 ; i < nt && na < MAXTRI * 4 ; i += step)
    {
      unsigned char const *q = (unsigned char const *)nd + i ;
      all[na++] = tern_lower(q[0]) << 16 | tern_lower(q[1]) << 8 | tern_lower(q[2]) ;
    }
    qsort(all, na, sizeof(uint32_t), &u32cmp) ;
    for (uint32_t i = 0 ; i < na && ntri < MAXTRI ; i++) if (!i || all[i] != all[i-1]) tris[ntri++] = all[i] ;
  }
  for (uint32_t seg = 0 ; seg < nseg ; seg++)
  {
    MDB_val d[MAXTRI] ;
    uint32_t best = 0 ;
    unsigned int i ;
    for (i = 0 ; i < ntri ; i++)
    {
      unsigned char k[8] ;
      MDB_val kv = { .mv_size = 8, .mv_data = k } ;
      key(k, seg, tris[i]) ;
      r = mdb_get(st->rtxn, st->dfts, &kv, d + i) ;
      if (r == MDB_NOTFOUND) break ;
      if (r) { seterr(r) ; goto err ; }
      if (d[i].mv_size < d[best].mv_size) best = i ;
    }
    if (i < ntri) continue ;   /* a trigram no message of the segment has */
    genalloc_setlen(uint32_t, &a, 0) ;
    if (!decode(d + best, &a)) goto err ;
    for (i = 0 ; i < ntri && genalloc_len(uint32_t, &a) ; i++)
      if (i != best && !intersect(&a, d + i, &tmp)) goto err ;
    if (!genalloc_catb(uint32_t, out, genalloc_s(uint32_t, &a), genalloc_len(uint32_t, &a))) goto err ;
  }
  genalloc_free(uint32_t, &a) ;
  genalloc_free(uint32_t, &tmp) ;
  return 1 ;
 err:
  genalloc_free(uint32_t, &a) ;
  genalloc_free(uint32_t, &tmp) ;
  return -1 ;
}

int tern_fts_texts_get (tern_store *st, tern_fts_rd *rd, uint32_t uid, char const **s, size_t *n)
{
  size_t pos ;
  if (!rd->s || uid < rd->lo || uid > rd->last)
  {
    /* the chunk that would hold it: the first whose last UID is at or above */
    MDB_cursor *c ;
    MDB_val k = { .mv_size = 4, .mv_data = &uid }, d ;
    int r = ftx_dbi(st) ;
    if (r <= 0) return r ;
    r = mdb_cursor_open(st->rtxn, st->dftx, &c) ;
    if (r) { seterr(r) ; return -1 ; }
    r = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE) ;
    mdb_cursor_close(c) ;
    if (r == MDB_NOTFOUND)
    {
      rd->s = (unsigned char const *)"" ; rd->n = 0 ; rd->lo = uid ; rd->last = UINT32_MAX ; rd->pos = 0 ;
      return 0 ;
    }
    if (r) { seterr(r) ; return -1 ; }
    if (k.mv_size != 4) { errno = EILSEQ ; return -1 ; }
    rd->s = d.mv_data ;
    rd->n = d.mv_size ;
    rd->lo = uid ;
    memcpy(&rd->last, k.mv_data, 4) ;
    rd->pos = 0 ;
  }
  pos = rd->pos + 8 <= rd->n && getle(rd->s + rd->pos) <= uid ? rd->pos : 0 ;
  while (pos + 8 <= rd->n)
  {
    uint32_t u = getle(rd->s + pos), ml = getle(rd->s + pos + 4) ;
    if (ml > rd->n - pos - 8) break ;   /* damaged: as if not there */
    if (u >= uid)
    {
      rd->pos = pos ;
      if (u > uid) return 0 ;
      *s = (char const *)rd->s + pos + 8 ;
      *n = ml ;
      return 1 ;
    }
    pos += 8 + (size_t)ml ;
  }
  return 0 ;
}

int tern_fts_texts_match (char const *s, size_t n, unsigned int what, char const *nd, size_t nl, char const *lower)
{
  unsigned char const *p = (unsigned char const *)s ;
  size_t i = 0 ;
  if (!nl) return 1 ;
  while (i < n)
  {
    unsigned int k = p[i++] ;
    uint32_t l ;
    size_t j = vget(p, n, i, &l) ;
    if (!j || l > n - j) return 0 ;
    i = j ;
    if ((k & TERN_FTS_KBODY || what == TERN_MSEARCH_TEXT) && l >= nl)
    {
      if (k & TERN_FTS_KFOLD) { if (memmem(s + i, l, nd, nl)) return 1 ; }
      else if (lower && memmem(s + i, l, lower, nl)) return 1 ;
    }
    i += l ;
  }
  return 0 ;
}

int tern_fts_size (tern_store *st, uint64_t *octets, uint64_t *entries)
{
  MDB_stat s ;
  int r = fts_dbi(st) ;
  *octets = *entries = 0 ;
  if (r <= 0) return r < 0 ? 0 : 1 ;
  r = mdb_stat(st->rtxn, st->dfts, &s) ;
  if (r) return seterr(r) ;
  *octets = (uint64_t)(s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages) * s.ms_psize ;
  *entries = s.ms_entries ;
  r = ftx_dbi(st) ;
  if (r < 0) return 0 ;
  if (!r) return 1 ;
  r = mdb_stat(st->rtxn, st->dftx, &s) ;
  if (r) return seterr(r) ;
  *octets += (uint64_t)(s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages) * s.ms_psize ;
  return 1 ;
}

/* ---- building ---- */

static tern_fts_ent *slot (tern_fts *f, uint32_t tri)
{
  size_t mask = f->tsize - 1 ;
  size_t h = (size_t)((tri * 2654435761u) ^ (tri >> 13)) & mask ;
  while (f->t[h].tri && f->t[h].tri != tri + 1) h = (h + 1) & mask ;
  return f->t + h ;
}

static int grow (tern_fts *f)
{
  tern_fts_ent *old = f->t ;
  size_t on = f->tsize ;
  f->tsize = on ? on * 2 : 4096 ;
  f->t = calloc(f->tsize, sizeof(tern_fts_ent)) ;
  if (!f->t) { f->t = old ; f->tsize = on ; return 0 ; }
  for (size_t i = 0 ; i < on ; i++)
    if (old[i].tri) *slot(f, old[i].tri - 1) = old[i] ;
  free(old) ;
  return 1 ;
}

static void clear (tern_fts *f)
{
  for (size_t i = 0 ; i < f->tsize ; i++) free(f->t[i].buf) ;
  free(f->t) ;
  f->t = 0 ;
  f->tsize = f->tn = 0 ;
}

static int put (tern_fts_ent *e, uint32_t d)
{
  if (e->cap - e->len < 5)
  {
    uint32_t nc = e->cap ? e->cap * 2 : 8 ;
    unsigned char *b = realloc(e->buf, nc) ;
    if (!b) return 0 ;
    e->buf = b ;
    e->cap = nc ;
  }
  do
  {
    unsigned char c = d & 0x7f ;
    d >>= 7 ;
    e->buf[e->len++] = c | (d ? 0x80 : 0) ;
  } while (d) ;
  return 1 ;
}

static int add (tern_fts *f, uint32_t tri, uint32_t uid)
{
  tern_fts_ent *e = slot(f, tri) ;
  if (!e->tri)
  {
    if ((f->tn + 1) * 10 > f->tsize * 7)
    {
      if (!grow(f)) return 0 ;
      e = slot(f, tri) ;
    }
    e->tri = tri + 1 ;
    f->tn++ ;
  }
  else if (e->last == uid) return 1 ;
  if (!put(e, e->len ? uid - e->last : uid)) return 0 ;
  e->last = uid ;
  return 1 ;
}

int tern_fts_begin (tern_store *st, tern_fts *f)
{
  uint64_t upto = 0, nseg = 0 ;
  int r ;
  *f = (tern_fts)TERN_FTS_ZERO ;
  f->st = st ;
  if (!grow(f)) return 0 ;
  r = fts_dbi(st) ;
  if (r < 0) return 0 ;
  if (!r) return 1 ;
  if (!tern_store_rbegin(st)) return 0 ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_FTSUPTO, &upto) < 0
   || tern_store__meta_get(st->rtxn, st->dmeta, M_FTSNSEG, &nseg) < 0) goto err ;
  f->upto = upto ;
  f->seg = nseg ;
  if (nseg)
  {
    /* the last segment, back into memory when it has room */
    unsigned char k[8] ;
    MDB_val kv = { .mv_size = 8, .mv_data = k }, d ;
    key(k, nseg - 1, HDR) ;
    r = mdb_get(st->rtxn, st->dfts, &kv, &d) ;
    if (r || d.mv_size < 12) { errno = r ? tern_store__mdberr(r) : EILSEQ ; goto err ; }
    if (getbe(d.mv_data) < TERN_FTS_SEGMSG)
    {
      MDB_cursor *c ;
      f->seg = nseg - 1 ;
      f->count = getbe(d.mv_data) ;
      f->first = getbe((unsigned char const *)d.mv_data + 4) ;
      key(k, f->seg, 0) ;
      r = mdb_cursor_open(st->rtxn, st->dfts, &c) ;
      if (r) { seterr(r) ; goto err ; }
      for (r = mdb_cursor_get(c, &kv, &d, MDB_SET_RANGE) ; !r ; r = mdb_cursor_get(c, &kv, &d, MDB_NEXT))
      {
        unsigned char const *kk = kv.mv_data ;
        uint32_t tri, u = 0, x ;
        tern_fts_ent *e ;
        size_t i = 0 ;
        if (kv.mv_size != 8 || getbe(kk) != f->seg || (tri = getbe(kk + 4)) == HDR) break ;
        if ((f->tn + 1) * 10 > f->tsize * 7 && !grow(f)) { mdb_cursor_close(c) ; goto err ; }
        e = slot(f, tri) ;
        e->tri = tri + 1 ;
        f->tn++ ;
        e->buf = malloc(d.mv_size + 8) ;
        if (!e->buf) { mdb_cursor_close(c) ; goto err ; }
        memcpy(e->buf, d.mv_data, d.mv_size) ;
        e->len = d.mv_size ;
        e->cap = d.mv_size + 8 ;
        while (i < e->len && (i = vget(e->buf, e->len, i, &x))) u += x ;
        e->last = u ;
      }
      mdb_cursor_close(c) ;
      if (r && r != MDB_NOTFOUND) { seterr(r) ; goto err ; }
    }
  }
  tern_store_rend(st) ;
  f->uid = 0 ;
  f->base = f->upto ;
  return 1 ;
 err:
  {
    int e = errno ;
    tern_store_rend(st) ;
    clear(f) ;
    errno = e ;
  }
  return 0 ;
}

/* a message's place in txt: its UID and a length that done fills in */
static int txt_start (tern_fts *f, uint32_t uid)
{
  unsigned char h[8] ;
  if (f->txtuid == uid) return 1 ;
  putle(h, uid) ;
  putle(h + 4, 0) ;
  if (!stralloc_catb(&f->txt, (char *)h, 8)) return 0 ;
  f->msg = f->txt.len - 8 ;
  f->txtuid = uid ;
  f->txtover = 0 ;
  return 1 ;
}

/* a text of it, in search form: folded (p, n from tern_search_fold) or
   ASCII (lowercased here) */
static int txt_put (tern_fts *f, uint32_t uid, unsigned int kind, unsigned char const *p, size_t n, int folded)
{
  unsigned char v[5] ;
  size_t vl = 0, len = n ;
  char *o ;
  if (!txt_start(f, uid)) return 0 ;
  if (f->txtover) return 1 ;
  if (n > TERN_FTS_TEXTMAX || f->txt.len - f->msg - 8 + 6 + n > TERN_FTS_TEXTMAX) { f->txtover = 1 ; return 1 ; }
  do { v[vl] = len & 0x7f ; len >>= 7 ; if (len) v[vl] |= 0x80 ; vl++ ; } while (len) ;
  if (!stralloc_readyplus(&f->txt, 1 + vl + n)) return 0 ;
  o = f->txt.s + f->txt.len ;
  *o++ = (kind & TERN_FTS_KBODY) | (folded ? TERN_FTS_KFOLD : 0) ;
  memcpy(o, v, vl) ; o += vl ;
  if (folded) memcpy(o, p, n) ;
  else for (size_t i = 0 ; i < n ; i++) o[i] = tern_lower(p[i]) ;
  f->txt.len += 1 + vl + n ;
  return 1 ;
}

int tern_fts_text (tern_fts *f, uint32_t uid, unsigned int kind, char const *s, size_t n)
{
  unsigned char const *p = (unsigned char const *)s ;
  uint32_t t = 0 ;
  int folded = 0 ;
  if (!tern_search_isascii(s, n))
  {
    f->fold.len = 0 ;
    if (!tern_search_fold(&f->fold, s, n)) return 0 ;
    p = (unsigned char const *)f->fold.s ;
    n = f->fold.len ;
    folded = 1 ;
  }
  for (size_t i = 0 ; i < n ; i++)
  {
    t = (t << 8 | tern_lower(p[i])) & 0xffffff ;
    if (i >= 2 && !add(f, t, uid)) return 0 ;
  }
  return txt_put(f, uid, kind, p, n, folded) ;
}

void tern_fts_done (tern_fts *f, uint32_t uid)
{
  if (!f->count) f->first = uid ;
  f->count++ ;
  f->upto = uid ;
  /* its texts' length; none kept when over the cap or when its place
     could not be made (its file is read instead) */
  if (f->txtuid != uid && !txt_start(f, uid)) { f->txtuid = 0 ; return ; }
  if (f->txtover) f->txt.len = f->msg ;
  else putle((unsigned char *)f->txt.s + f->msg + 4, f->txt.len - f->msg - 8) ;
  f->txtuid = 0 ;
  f->txtover = 0 ;
}

/* The texts added since the last flush, in chunks of consecutive
   messages of about TXTCHUNK octets (a message longer has one of its
   own), each keyed by its last UID. */
#define TXTCHUNK 65000
static int write_texts (tern_fts *f, MDB_txn *txn, MDB_dbi *dbi)
{
  unsigned char const *s = (unsigned char const *)f->txt.s ;
  size_t i = 0, n = f->txt.len ;
  int r ;
  if (!n) return 0 ;
  r = mdb_dbi_open(txn, "ftx", MDB_CREATE | MDB_INTEGERKEY, dbi) ;
  if (r) return r ;
  while (i < n)
  {
    size_t j = i ;
    uint32_t last = 0 ;
    MDB_val k = { .mv_size = 4, .mv_data = &last }, d ;
    while (j + 8 <= n)
    {
      size_t ml = getle(s + j + 4) ;
      if (j > i && j + 8 + ml - i > TXTCHUNK) break ;
      last = getle(s + j) ;
      j += 8 + ml ;
    }
    d.mv_size = j - i ;
    d.mv_data = (void *)(s + i) ;
    r = mdb_put(txn, *dbi, &k, &d, 0) ;
    if (r) return r ;
    i = j ;
  }
  return 0 ;
}

static int entcmp (void const *a, void const *b)
{
  uint32_t x = (*(tern_fts_ent *const *)a)->tri, y = (*(tern_fts_ent *const *)b)->tri ;
  return x < y ? -1 : x > y ;
}

static int write_segment (tern_fts *f, tern_fts_ent **v, size_t nv)
{
  tern_store *st = f->st ;
  MDB_txn *txn ;
  MDB_dbi dbi, tdbi = 0 ;
  MDB_cursor *c ;
  unsigned char k[8], h[12] ;
  MDB_val kv = { .mv_size = 8, .mv_data = k }, d ;
  uint64_t upto = 0 ;
  int r ;
  for (;;)
  {
    r = mdb_txn_begin(st->env, 0, 0, &txn) ;
    if (r != MDB_MAP_RESIZED) break ;
    mdb_env_set_mapsize(st->env, 0) ;
  }
  if (r) return -r ;
  r = mdb_dbi_open(txn, "fts", MDB_CREATE, &dbi) ;
  if (r) goto abort ;
  /* another session indexed meanwhile: this work is stale */
  if (tern_store__meta_get(txn, st->dmeta, M_FTSUPTO, &upto) < 0) { r = MDB_CORRUPTED ; goto abort ; }
  if (upto != f->base) { mdb_txn_abort(txn) ; errno = EAGAIN ; return 0 ; }
  /* the segment's old lists out, the new ones in, in key order */
  r = mdb_cursor_open(txn, dbi, &c) ;
  if (r) goto abort ;
  key(k, f->seg, 0) ;
  for (r = mdb_cursor_get(c, &kv, &d, MDB_SET_RANGE) ; !r ; r = mdb_cursor_get(c, &kv, &d, MDB_NEXT))
  {
    if (kv.mv_size != 8 || getbe(kv.mv_data) != f->seg) break ;
    r = mdb_cursor_del(c, 0) ;
    if (r) break ;
  }
  mdb_cursor_close(c) ;
  if (r && r != MDB_NOTFOUND) goto abort ;
  kv.mv_data = k ;
  for (size_t i = 0 ; i < nv ; i++)
  {
    MDB_val dv = { .mv_size = v[i]->len, .mv_data = v[i]->buf } ;
    key(k, f->seg, v[i]->tri - 1) ;
    r = mdb_put(txn, dbi, &kv, &dv, MDB_APPEND) ;
    if (r) goto abort ;
  }
  key(k, f->seg, HDR) ;
  h[0] = f->count >> 24 ; h[1] = f->count >> 16 ; h[2] = f->count >> 8 ; h[3] = f->count ;
  key(h + 4, f->first, f->upto) ;
  d.mv_size = 12 ; d.mv_data = h ;
  r = mdb_put(txn, dbi, &kv, &d, MDB_APPEND) ;
  if (r) goto abort ;
  r = write_texts(f, txn, &tdbi) ;
  if (r) goto abort ;
  if (!tern_store__meta_put(txn, st->dmeta, M_FTSUPTO, f->upto) || !tern_store__meta_put(txn, st->dmeta, M_FTSNSEG, f->seg + 1))
  {
    mdb_txn_abort(txn) ;
    return 0 ;
  }
  r = mdb_txn_commit(txn) ;
  if (r) return -r ;
  st->dfts = dbi ;
  st->hasfts = 1 ;
  if (f->txt.len) { st->dftx = tdbi ; st->hasftx = 1 ; }
  f->txt.len = 0 ;
  f->base = f->upto ;
  return 1 ;
 abort:
  mdb_txn_abort(txn) ;
  return -r ;
}

int tern_fts_flush (tern_fts *f)
{
  tern_fts_ent **v ;
  size_t nv = 0 ;
  int r ;
  if (!f->count || f->upto == f->base) return 1 ;
  if (f->st->rtxnlive) tern_store_rend(f->st) ;
  v = malloc((f->tn + 1) * sizeof(*v)) ;
  if (!v) return 0 ;
  for (size_t i = 0 ; i < f->tsize ; i++) if (f->t[i].tri) v[nv++] = f->t + i ;
  qsort(v, nv, sizeof(*v), &entcmp) ;
  r = write_segment(f, v, nv) ;
  if (r == -MDB_MAP_FULL)
  {
    /* the map grows: no transaction of ours is open */
    MDB_envinfo ei ;
    mdb_env_info(f->st->env, &ei) ;
    if (!mdb_env_set_mapsize(f->st->env, ei.me_mapsize * 2)) r = write_segment(f, v, nv) ;
  }
  free(v) ;
  if (r < 0) return seterr(-r) ;
  if (!r) return 0 ;
  if (f->count >= TERN_FTS_SEGMSG)
  {
    /* full: the next messages start the next segment */
    clear(f) ;
    f->seg++ ;
    f->count = 0 ;
    f->first = 0 ;
    if (!grow(f)) return 0 ;
  }
  return 1 ;
}

void tern_fts_free (tern_fts *f)
{
  clear(f) ;
  stralloc_free(&f->fold) ;
  stralloc_free(&f->txt) ;
}
