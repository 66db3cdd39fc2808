/* tern_store_read: what a reader asks of the index, inside a read
   transaction (tern_store_rbegin ... tern_store_rend): the folder's
   figures, a message, every UID, the messages in order, the change log;
   and the cache of what parsing a message file taught us, read here and
   written in batches (tern_store_cache_flush) without the folder's lock. */

#include <errno.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "tern_store_int.h"

static int seterr (int r)
{
  errno = tern_store__mdberr(r) ;
  return 0 ;
}

int tern_store_info_get (tern_store *st, tern_store_info *in)
{
  uint64_t v ;
  MDB_cursor *c ;
  MDB_val k, d ;
  int r ;
  memset(in, 0, sizeof(*in)) ;
  if (!st->rtxnlive) return (errno = EINVAL, 0) ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_UIDVALIDITY, &v) <= 0) goto bad ;
  in->uidvalidity = v ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_UIDNEXT, &v) <= 0) goto bad ;
  in->uidnext = v > UINT32_MAX ? UINT32_MAX : v ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_HMS, &in->highestmodseq) <= 0) goto bad ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_MESSAGES, &v) < 0) goto bad ;
  in->messages = v ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_UNSEEN, &v) < 0) goto bad ;
  in->unseen = v ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_DELETED, &v) < 0) goto bad ;
  in->deleted = v ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_RECENT, &v) < 0) goto bad ;
  in->recent = v ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_SIZE, &in->size) < 0) goto bad ;
  r = tern_store__meta_get(st->rtxn, st->dmeta, M_UNSIZED, &in->unsized) ;
  if (r < 0) goto bad ;
  if (!r) in->unsized = UINT64_MAX ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_OLDEST, &in->oldestmodseq) < 0) goto bad ;
  in->nkeywords = st->nkw ;
  r = mdb_cursor_open(st->rtxn, st->dunseen, &c) ;
  if (r) return seterr(r) ;
  r = mdb_cursor_get(c, &k, &d, MDB_FIRST) ;
  if (!r) { unsigned int u ; memcpy(&u, k.mv_data, sizeof(u)) ; in->firstunseen = u ; }
  mdb_cursor_close(c) ;
  if (r && r != MDB_NOTFOUND) return seterr(r) ;
  return 1 ;
 bad:
  if (!errno) errno = EILSEQ ;
  return 0 ;
}

int tern_store_get (tern_store *st, uint32_t uid, tern_msg *m)
{
  unsigned int u = uid ;
  MDB_val k = { .mv_size = sizeof(u), .mv_data = &u }, d ;
  int r = mdb_get(st->rtxn, st->dmsg, &k, &d) ;
  if (r == MDB_NOTFOUND) return 0 ;
  if (r) { errno = tern_store__mdberr(r) ; return -1 ; }
  if (d.mv_size < sizeof(rec)) { errno = EILSEQ ; return -1 ; }
  tern_store__rec_read(m, uid, d.mv_data, d.mv_size) ;
  return 1 ;
}

int tern_store_uids (tern_store *st, genalloc *ga)
{
  MDB_cursor *c ;
  MDB_val k, d ;
  int r = mdb_cursor_open(st->rtxn, st->dseq, &c) ;
  if (r) return seterr(r) ;
  for (r = mdb_cursor_get(c, &k, &d, MDB_FIRST) ; !r ; r = mdb_cursor_get(c, &k, &d, MDB_NEXT))
    if (!stralloc_catb((stralloc *)ga, d.mv_data, d.mv_size & ~(size_t)3)) { mdb_cursor_close(c) ; return 0 ; }
  mdb_cursor_close(c) ;
  return r == MDB_NOTFOUND ? 1 : seterr(r) ;
}

int tern_store_uid_runs (tern_store *st, tern_store_runs_func *f, void *data)
{
  MDB_cursor *c ;
  MDB_val k, d ;
  uint32_t lo = 0, hi = 0 ;
  int have = 0 ;
  int r = mdb_cursor_open(st->rtxn, st->dseq, &c) ;
  if (r) return seterr(r) ;
  for (r = mdb_cursor_get(c, &k, &d, MDB_FIRST) ; !r ; r = mdb_cursor_get(c, &k, &d, MDB_NEXT))
  {
    /* a chunk may be unaligned in the map: read through memcpy */
    char const *p = d.mv_data ;
    size_t n = d.mv_size / 4 ;
    uint32_t first, last ;
    if (!n) continue ;
    memcpy(&first, p, 4) ;
    memcpy(&last, p + (n - 1) * 4, 4) ;
    if (last - first == n - 1)
    {
      /* UIDs increase: no gap in this chunk */
      if (have && first == hi + 1) hi = last ;
      else { if (have) (*f)(data, lo, hi) ; lo = first ; hi = last ; have = 1 ; }
      continue ;
    }
    for (size_t i = 0 ; i < n ; i++)
    {
      uint32_t u ;
      memcpy(&u, p + i * 4, 4) ;
      if (have && u == hi + 1) hi = u ;
      else { if (have) (*f)(data, lo, hi) ; lo = hi = u ; have = 1 ; }
    }
  }
  mdb_cursor_close(c) ;
  if (r != MDB_NOTFOUND) return seterr(r) ;
  if (have) (*f)(data, lo, hi) ;
  return 1 ;
}

int tern_store_iter_start (tern_store *st, tern_store_iter *it, uint32_t from)
{
  int r = mdb_cursor_open(st->rtxn, st->dmsg, &it->c) ;
  it->started = 0 ;
  it->from = from ;
  if (r) { it->c = 0 ; return seterr(r) ; }
  return 1 ;
}

int tern_store_next (tern_store_iter *it, tern_msg *m)
{
  unsigned int u = it->from ;
  MDB_val k = { .mv_size = sizeof(u), .mv_data = &u }, d ;
  int r = mdb_cursor_get(it->c, &k, &d, it->started ? MDB_NEXT : MDB_SET_RANGE) ;
  it->started = 1 ;
  if (r == MDB_NOTFOUND) return 0 ;
  if (r) { errno = tern_store__mdberr(r) ; return -1 ; }
  if (d.mv_size < sizeof(rec) || k.mv_size != sizeof(u)) { errno = EILSEQ ; return -1 ; }
  memcpy(&u, k.mv_data, sizeof(u)) ;
  tern_store__rec_read(m, u, d.mv_data, d.mv_size) ;
  return 1 ;
}

void tern_store_iter_end (tern_store_iter *it)
{
  if (it->c) mdb_cursor_close(it->c) ;
  it->c = 0 ;
}

/* The two logs merged in MODSEQ order. */
int tern_store_changes (tern_store *st, uint64_t since, tern_store_change_func *f, void *data)
{
  MDB_cursor *c[2] ;
  MDB_val k[2], d[2] ;
  int r[2], ok = 1 ;
  size_t key = since + 1 ;
  if ((r[0] = mdb_cursor_open(st->rtxn, st->dchg, c)))
    return seterr(r[0]) ;
  if ((r[1] = mdb_cursor_open(st->rtxn, st->dexp, c + 1)))
  {
    mdb_cursor_close(c[0]) ;
    return seterr(r[1]) ;
  }
  for (int i = 0 ; i < 2 ; i++)
  {
    k[i].mv_size = sizeof(key) ; k[i].mv_data = &key ;
    r[i] = mdb_cursor_get(c[i], k + i, d + i, MDB_SET_RANGE) ;
  }
  while (ok && (!r[0] || !r[1]))
  {
    size_t m0 = 0, m1 = 0 ;
    int i ;
    unsigned int uid ;
    if (!r[0]) memcpy(&m0, k[0].mv_data, sizeof(m0)) ;
    if (!r[1]) memcpy(&m1, k[1].mv_data, sizeof(m1)) ;
    i = r[0] ? 1 : r[1] ? 0 : m1 < m0 ;
    memcpy(&uid, d[i].mv_data, sizeof(uid)) ;
    ok = (*f)(data, i ? m1 : m0, uid, i) ;
    r[i] = mdb_cursor_get(c[i], k + i, d + i, MDB_NEXT) ;
  }
  mdb_cursor_close(c[0]) ;
  mdb_cursor_close(c[1]) ;
  if ((r[0] && r[0] != MDB_NOTFOUND) || (r[1] && r[1] != MDB_NOTFOUND)) return seterr(r[0] && r[0] != MDB_NOTFOUND ? r[0] : r[1]) ;
  return 1 ;
}

/* ---- the cache ---- */

int tern_store_cache_get (tern_store *st, uint32_t uid, char const **s, size_t *len)
{
  unsigned int u = uid ;
  MDB_val k = { .mv_size = sizeof(u), .mv_data = &u }, d ;
  int r = mdb_get(st->rtxn, st->dcache, &k, &d) ;
  if (r == MDB_NOTFOUND) return 0 ;
  if (r) { errno = tern_store__mdberr(r) ; return -1 ; }
  *s = d.mv_data ;
  *len = d.mv_size ;
  return 1 ;
}

int tern_store_cache_field (char const *s, size_t len, char type, char const **data, size_t *dlen)
{
  size_t i = 0 ;
  while (len - i >= 5)
  {
    uint32_t n = (unsigned char)s[i+1] | (unsigned char)s[i+2] << 8 | (unsigned char)s[i+3] << 16 | (uint32_t)(unsigned char)s[i+4] << 24 ;
    if (n > len - i - 5) return 0 ;
    if (s[i] == type) { *data = s + i + 5 ; *dlen = n ; return 1 ; }
    i += 5 + n ;
  }
  return 0 ;
}

/* Pending entries in st->evnames' sibling: a stralloc of records (uid,
   size, length, entry). Kept in a static per process: one folder at a
   time writes its cache. */
static stralloc pending = STRALLOC_ZERO ;
static tern_store *pendingst = 0 ;
static unsigned int npending = 0 ;

int tern_store_cache_flush (tern_store *st)
{
  MDB_txn *txn ;
  size_t i = 0 ;
  int r ;
  if (!npending || pendingst != st) return 1 ;
  if (st->rtxnlive) tern_store_rend(st) ;
  for (;;)
  {
    r = mdb_txn_begin(st->env, 0, 0, &txn) ;
    if (r != MDB_MAP_RESIZED) break ;
    mdb_env_set_mapsize(st->env, 0) ;
  }
  if (r) goto err ;
  while (i < pending.len)
  {
    uint32_t uid ;
    uint64_t size, len ;
    unsigned int u ;
    MDB_val k = { .mv_size = sizeof(u), .mv_data = &u }, d ;
    memcpy(&uid, pending.s + i, 4) ;
    memcpy(&size, pending.s + i + 4, 8) ;
    memcpy(&len, pending.s + i + 12, 8) ;
    u = uid ;
    /* only for a message that is still there */
    r = mdb_get(txn, st->dmsg, &k, &d) ;
    if (!r && d.mv_size >= sizeof(rec))
    {
      rec rc ;
      memcpy(&rc, d.mv_data, sizeof(rec)) ;
      if (size != TERN_SIZE_UNKNOWN && rc.size == TERN_SIZE_UNKNOWN)
      {
        /* a size learnt: the record and the folder's sum */
        stralloc *sc = &st->scratch ;
        uint64_t total = 0, unsized ;
        int ru ;
        sc->len = 0 ;
        if (!stralloc_catb(sc, d.mv_data, d.mv_size)) { mdb_txn_abort(txn) ; goto errno_ ; }
        rc.size = size ;
        memcpy(sc->s, &rc, sizeof(rec)) ;
        d.mv_data = sc->s ;
        r = mdb_put(txn, st->dmsg, &k, &d, 0) ;
        if (r) { mdb_txn_abort(txn) ; goto err ; }
        if (tern_store__meta_get(txn, st->dmeta, M_SIZE, &total) < 0
         || !tern_store__meta_put(txn, st->dmeta, M_SIZE, total + size)
         || (ru = tern_store__meta_get(txn, st->dmeta, M_UNSIZED, &unsized)) < 0
         || (ru && !tern_store__meta_put(txn, st->dmeta, M_UNSIZED, unsized >= rc.fsize ? unsized - rc.fsize : 0))) { mdb_txn_abort(txn) ; goto errno_ ; }
      }
      if (len)
      {
        MDB_val cd = { .mv_size = len, .mv_data = pending.s + i + 20 } ;
        k.mv_data = &u ;
        r = mdb_put(txn, st->dcache, &k, &cd, 0) ;
        if (r) { mdb_txn_abort(txn) ; goto err ; }
      }
    }
    else if (r && r != MDB_NOTFOUND) { mdb_txn_abort(txn) ; goto err ; }
    i += 20 + len ;
  }
  r = mdb_txn_commit(txn) ;
  if (r) goto err ;
  pending.len = 0 ;
  npending = 0 ;
  return 1 ;
 err:
  errno = tern_store__mdberr(r) ;
 errno_:
  pending.len = 0 ;
  npending = 0 ;
  return 0 ;
}

int tern_store_cache_put (tern_store *st, uint32_t uid, char const *s, size_t len, uint64_t size)
{
  uint64_t l = len ;
  if (pendingst != st) { if (pendingst && npending) tern_store_cache_flush(pendingst) ; pending.len = 0 ; npending = 0 ; pendingst = st ; }
  if (!stralloc_catb(&pending, (char *)&uid, 4) || !stralloc_catb(&pending, (char *)&size, 8)
   || !stralloc_catb(&pending, (char *)&l, 8) || !stralloc_catb(&pending, s, len)) return 0 ;
  if (++npending >= 256 && !st->rtxnlive) return tern_store_cache_flush(st) ;
  return 1 ;
}

/* A store going away: what it had pending is written, or dropped. */
void tern_store__cache_drop (tern_store *st)
{
  if (pendingst != st) return ;
  if (npending && st->env) tern_store_cache_flush(st) ;
  pending.len = 0 ;
  npending = 0 ;
  pendingst = 0 ;
}
