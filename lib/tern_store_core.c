/* tern_store_core: the machinery every write of the store goes through:
   the folder's lock, the write transaction with its counters, and the
   record of a message kept in step with the databases that index it
   (its unique name, the sequence chunks, the unseen and new/ sets, the
   change log). One file: these only make sense together. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/types.h>
#include "tern_store_int.h"

int tern_store__mdberr (int r)
{
  switch (r)
  {
    case 0 : return 0 ;
    case MDB_MAP_FULL : case MDB_TXN_FULL : case MDB_PAGE_FULL : return ENOSPC ;
    case MDB_READERS_FULL : return EAGAIN ;
    case MDB_CORRUPTED : case MDB_PAGE_NOTFOUND : case MDB_INVALID : case MDB_VERSION_MISMATCH :
    case MDB_BAD_TXN : case MDB_BAD_VALSIZE : case MDB_BAD_DBI : case MDB_INCOMPATIBLE : return EILSEQ ;
    default : return r > 0 ? r : EIO ;
  }
}

static int seterr (int r)
{
  errno = tern_store__mdberr(r) ;
  return 0 ;
}

/* ---- the lock ---- */

/* flock has no timeout, so the lock is polled: from 50 µs, doubling up
   to 1 ms between tries. Not longer: the lock is held for well under a
   millisecond at a time (one STORE, one delivery), and a waiter that
   sleeps longer leaves it free while others wait (ten sessions storing
   flags at once ran at a third of the rate with 64 ms). */
#define LOCK_POLLMAX 1000000
int tern_store__lock (tern_store *st)
{
  struct timespec ts = { .tv_sec = 0, .tv_nsec = 50000 } ;
  time_t end = time(0) + (st->flags & TERN_STORE_NOWAIT ? LOCK_WAIT_NOWAIT : LOCK_WAIT) ;
  if (st->locked++) return 1 ;
  for (;;)
  {
    if (!flock(st->dirfd, LOCK_EX | LOCK_NB)) return 1 ;
    if (errno != EWOULDBLOCK && errno != EINTR) break ;
    if (time(0) > end) { errno = EWOULDBLOCK ; break ; }
    nanosleep(&ts, 0) ;
    if (ts.tv_nsec < LOCK_POLLMAX) ts.tv_nsec = ts.tv_nsec * 2 > LOCK_POLLMAX ? LOCK_POLLMAX : ts.tv_nsec * 2 ;
  }
  st->locked-- ;
  return 0 ;
}

void tern_store__unlock (tern_store *st)
{
  if (st->locked && !--st->locked) flock(st->dirfd, LOCK_UN) ;
}

/* ---- small things ---- */

int tern_store__dirmt (int fd, uint64_t *mt)
{
  struct stat s ;
  if (fstat(fd, &s) < 0) return 0 ;
  *mt = (uint64_t)s.st_mtim.tv_sec * 1000000000u + s.st_mtim.tv_nsec ;
  if (!*mt) *mt = 1 ;
  return 1 ;
}

/* DESIGN.md: a directory changed within the last second counts as
   changed (timestamps are coarser than the changes they date). */
int tern_store__trusted (uint64_t mt)
{
  struct timespec now ;
  uint64_t n ;
  if (!mt) return 0 ;
  clock_gettime(CLOCK_REALTIME, &now) ;
  n = (uint64_t)now.tv_sec * 1000000000u + now.tv_nsec ;
  return n > mt && n - mt > 1100000000u ;
}

int tern_store__fsync_fd (int fd)
{
  return fsync(fd) == 0 || errno == EINVAL || errno == EROFS ;
}

int tern_store__meta_get (MDB_txn *txn, MDB_dbi dbi, char const *key, uint64_t *v)
{
  MDB_val k = { .mv_size = strlen(key), .mv_data = (void *)key }, d ;
  int r = mdb_get(txn, dbi, &k, &d) ;
  if (r == MDB_NOTFOUND) return 0 ;
  if (r) { errno = tern_store__mdberr(r) ; return -1 ; }
  if (d.mv_size != 8) { errno = EILSEQ ; return -1 ; }
  memcpy(v, d.mv_data, 8) ;
  return 1 ;
}

int tern_store__meta_put (MDB_txn *txn, MDB_dbi dbi, char const *key, uint64_t v)
{
  MDB_val k = { .mv_size = strlen(key), .mv_data = (void *)key }, d = { .mv_size = 8, .mv_data = &v }, old ;
  int r ;
  /* the same value again dirties no page: nothing to write at commit */
  if (!mdb_get(txn, dbi, &k, &old) && old.mv_size == 8 && !memcmp(old.mv_data, &v, 8)) return 1 ;
  r = mdb_put(txn, dbi, &k, &d, 0) ;
  return r ? seterr(r) : 1 ;
}

void tern_store__rec_read (tern_msg *m, uint32_t uid, void const *data, size_t len)
{
  rec r ;
  memcpy(&r, data, sizeof(rec)) ;
  m->uid = uid ;
  m->flags = r.flags ;
  m->keywords = r.kw ;
  m->incur = r.incur ;
  m->modseq = r.modseq ;
  m->internaldate = r.idate ;
  m->savedate = r.sdate ;
  m->size = r.size ;
  m->filesize = r.fsize ;
  m->name = (char const *)data + sizeof(rec) ;
  m->namelen = len - sizeof(rec) < r.namelen ? len - sizeof(rec) : r.namelen ;
}

int tern_store__getrec (MDB_txn *txn, tern_store *st, uint32_t uid, rec *r, char const **name)
{
  unsigned int u = uid ;
  MDB_val k = { .mv_size = sizeof(u), .mv_data = &u }, d ;
  int e = mdb_get(txn, st->dmsg, &k, &d) ;
  if (e == MDB_NOTFOUND) return 0 ;
  if (e) { errno = tern_store__mdberr(e) ; return -1 ; }
  if (d.mv_size < sizeof(rec)) { errno = EILSEQ ; return -1 ; }
  memcpy(r, d.mv_data, sizeof(rec)) ;
  if (r->namelen != d.mv_size - sizeof(rec)) { errno = EILSEQ ; return -1 ; }
  /* the name is copied: the caller may write into this transaction */
  st->scratch.len = 0 ;
  if (!stralloc_catb(&st->scratch, (char const *)d.mv_data + sizeof(rec), r->namelen) || !stralloc_0(&st->scratch)) return -1 ;
  if (name) *name = st->scratch.s ;
  return 1 ;
}

/* ---- the write transaction ---- */

/* M_UNSIZED (STATUS SIZE's bound, RFC 8438 3) into w; an index made
   before it was kept has it counted once here, and written at commit. */
static int unsized_get (wctx *w)
{
  MDB_cursor *c ;
  MDB_val k, d ;
  int r = tern_store__meta_get(w->txn, w->st->dmeta, M_UNSIZED, &w->unsized) ;
  if (r < 0) return 0 ;
  w->origunsized = w->unsized ;
  if (r) return 1 ;
  w->unsized = 0 ;
  w->origunsized = UINT64_MAX ;
  r = mdb_cursor_open(w->txn, w->st->dmsg, &c) ;
  if (r) return seterr(r) ;
  for (r = mdb_cursor_get(c, &k, &d, MDB_FIRST) ; !r ; r = mdb_cursor_get(c, &k, &d, MDB_NEXT))
  {
    rec x ;
    if (d.mv_size < sizeof(rec)) continue ;
    memcpy(&x, d.mv_data, sizeof(rec)) ;
    if (x.size == TERN_SIZE_UNKNOWN) w->unsized += x.fsize ;
  }
  mdb_cursor_close(c) ;
  if (r != MDB_NOTFOUND) return seterr(r) ;
  return 1 ;
}

static int wbegin (tern_store *st, wctx *w, unsigned int flags)
{
  int r ;
  memset(w, 0, sizeof(*w)) ;
  w->st = st ;
  w->nosync = !!flags ;
  if (st->rtxnlive) tern_store_rend(st) ;
  if (!tern_store__lock(st)) return 0 ;
  for (;;)
  {
    r = mdb_txn_begin(st->env, 0, 0, &w->txn) ;
    if (r != MDB_MAP_RESIZED) break ;
    mdb_env_set_mapsize(st->env, 0) ;
  }
  if (r) { tern_store__unlock(st) ; return seterr(r) ; }
  if (tern_store__meta_get(w->txn, st->dmeta, M_HMS, &w->hms) <= 0
   || tern_store__meta_get(w->txn, st->dmeta, M_UIDNEXT, &w->uidnext) <= 0
   || tern_store__meta_get(w->txn, st->dmeta, M_MESSAGES, &w->messages) < 0
   || tern_store__meta_get(w->txn, st->dmeta, M_UNSEEN, &w->unseen) < 0
   || tern_store__meta_get(w->txn, st->dmeta, M_DELETED, &w->deleted) < 0
   || tern_store__meta_get(w->txn, st->dmeta, M_SIZE, &w->size) < 0
   || tern_store__meta_get(w->txn, st->dmeta, M_NTOMB, &w->ntomb) < 0
   || tern_store__meta_get(w->txn, st->dmeta, M_OLDEST, &w->oldest) < 0)
  {
    if (!errno) errno = EILSEQ ;
    tern_store__wabort(w) ;
    return 0 ;
  }
  if (!unsized_get(w)) { tern_store__wabort(w) ; return 0 ; }
  w->modseq = w->hms + 1 ;
  w->orig[0] = w->uidnext ; w->orig[1] = w->messages ; w->orig[2] = w->unseen ; w->orig[3] = w->deleted ;
  w->orig[4] = w->size ; w->orig[5] = w->ntomb ; w->orig[6] = w->oldest ;
  /* the uidlist first: no UID it gave is given again, and files it
     named but the index lost are found now, with their UIDs */
  if (!tern_store__uidlist_catch_up(w)) { tern_store__wabort(w) ; return 0 ; }
  if (w->adopt.len && !tern_store__scan(st, w, 1, 1)) { tern_store__wabort(w) ; return 0 ; }
  return 1 ;
}

int tern_store__wbegin (tern_store *st, wctx *w)
{
  return wbegin(st, w, 0) ;
}

int tern_store__wbegin_nosync (tern_store *st, wctx *w)
{
  return wbegin(st, w, !!tern_store__bootid()) ;
}

void tern_store__wabort (wctx *w)
{
  if (w->txn) mdb_txn_abort(w->txn) ;
  w->txn = 0 ;
  stralloc_free(&w->adopt) ;
  tern_store__unlock(w->st) ;
}

/* Old tombstones go once there are many more than VANISHED needs; the
   oldest MODSEQ the log still answers for moves up with them. */
static int prune (wctx *w)
{
  uint64_t keep = w->messages > TOMB_MIN ? w->messages : TOMB_MIN ;
  MDB_cursor *e ;
  MDB_val k, d ;
  int r ;
  if (w->ntomb <= 2 * keep) return 1 ;
  r = mdb_cursor_open(w->txn, w->st->dexp, &e) ;
  if (r) return seterr(r) ;
  r = mdb_cursor_get(e, &k, &d, MDB_FIRST) ;
  while (!r && w->ntomb > keep)
  {
    uint64_t ms ;
    memcpy(&ms, k.mv_data, 8) ;
    r = mdb_cursor_del(e, 0) ;
    if (r) break ;
    w->ntomb-- ;
    if (ms > w->oldest) w->oldest = ms ;
    r = mdb_cursor_get(e, &k, &d, MDB_GET_CURRENT) ;
    if (r) r = mdb_cursor_get(e, &k, &d, MDB_FIRST) ;
  }
  mdb_cursor_close(e) ;
  if (r && r != MDB_NOTFOUND) return seterr(r) ;
  return 1 ;
}

int tern_store__wcommit (wctx *w)
{
  tern_store *st = w->st ;
  int r ;
  if (w->changed && !prune(w)) goto err ;
  /* only what changed: a transaction that wrote nothing commits without
     a single write or sync (a SELECT that finds nothing new) */
  if ((w->changed && !tern_store__meta_put(w->txn, st->dmeta, M_HMS, w->modseq))
   || (w->uidnext != w->orig[0] && !tern_store__meta_put(w->txn, st->dmeta, M_UIDNEXT, w->uidnext))
   || (w->messages != w->orig[1] && !tern_store__meta_put(w->txn, st->dmeta, M_MESSAGES, w->messages))
   || (w->unseen != w->orig[2] && !tern_store__meta_put(w->txn, st->dmeta, M_UNSEEN, w->unseen))
   || (w->deleted != w->orig[3] && !tern_store__meta_put(w->txn, st->dmeta, M_DELETED, w->deleted))
   || (w->size != w->orig[4] && !tern_store__meta_put(w->txn, st->dmeta, M_SIZE, w->size))
   || (w->ntomb != w->orig[5] && !tern_store__meta_put(w->txn, st->dmeta, M_NTOMB, w->ntomb))
   || (w->oldest != w->orig[6] && !tern_store__meta_put(w->txn, st->dmeta, M_OLDEST, w->oldest))
   || (w->unsized != w->origunsized && !tern_store__meta_put(w->txn, st->dmeta, M_UNSIZED, w->unsized))) goto err ;
  /* without its sync, only once the folder is marked (tern_store_unsynced.c) */
  if (w->nosync && w->changed && !tern_store__mark(st)) goto err ;
  /* the environment's flag (LMDB 0.9.24 reads that one at commit, not
     the transaction's), set for this commit only: the process has one
     write transaction at a time */
  if (w->nosync) mdb_env_set_flags(st->env, MDB_NOSYNC, 1) ;
  r = mdb_txn_commit(w->txn) ;
  if (w->nosync) mdb_env_set_flags(st->env, MDB_NOSYNC, 0) ;
  w->txn = 0 ;
  stralloc_free(&w->adopt) ;
  tern_store__unlock(st) ;
  if (r) return seterr(r) ;
  return 1 ;
 err:
  {
    int e = errno ;
    tern_store__wabort(w) ;
    errno = e ;
  }
  return 0 ;
}

/* ---- the sequence chunks: every UID, in order, 1024 to a value ---- */

static int seq_find (MDB_cursor *c, uint32_t uid, MDB_val *k, MDB_val *d)
{
  unsigned int u = uid ;
  int r ;
  k->mv_size = sizeof(u) ; k->mv_data = &u ;
  r = mdb_cursor_get(c, k, d, MDB_SET_RANGE) ;
  if (!r)
  {
    unsigned int got ;
    memcpy(&got, k->mv_data, sizeof(got)) ;
    if (got == uid) return 0 ;
    r = mdb_cursor_get(c, k, d, MDB_PREV) ;
  }
  else if (r == MDB_NOTFOUND) r = mdb_cursor_get(c, k, d, MDB_LAST) ;
  return r ;
}

static int seq_insert (wctx *w, uint32_t uid)
{
  MDB_cursor *c ;
  MDB_val k, d ;
  stralloc *sa = &w->st->scratch ;
  unsigned int key ;
  size_t n, i ;
  int r = mdb_cursor_open(w->txn, w->st->dseq, &c) ;
  if (r) return seterr(r) ;
  r = seq_find(c, uid, &k, &d) ;
  if (r == MDB_NOTFOUND)
  {
    /* the first chunk, or one before every other */
    unsigned int u = uid ;
    MDB_val nk = { .mv_size = sizeof(u), .mv_data = &u }, nd = { .mv_size = 4, .mv_data = &u } ;
    mdb_cursor_close(c) ;
    r = mdb_put(w->txn, w->st->dseq, &nk, &nd, 0) ;
    return r ? seterr(r) : 1 ;
  }
  if (r) { mdb_cursor_close(c) ; return seterr(r) ; }
  memcpy(&key, k.mv_data, sizeof(key)) ;
  n = d.mv_size / 4 ;
  sa->len = 0 ;
  if (!stralloc_catb(sa, d.mv_data, d.mv_size) || !stralloc_readyplus(sa, 4)) { mdb_cursor_close(c) ; return 0 ; }
  mdb_cursor_close(c) ;
  {
    uint32_t *a = (uint32_t *)sa->s ;
    /* position by binary search; chunks are sorted */
    size_t lo = 0, hi = n ;
    while (lo < hi) { size_t mid = (lo + hi) / 2 ; if (a[mid] < uid) lo = mid + 1 ; else hi = mid ; }
    if (lo < n && a[lo] == uid) return 1 ;
    memmove(a + lo + 1, a + lo, (n - lo) * 4) ;
    a[lo] = uid ;
    n++ ;
    i = lo ;
  }
  (void)i ;
  if (n > 2 * SEQCHUNK)
  {
    /* split: the second half gets its own key */
    uint32_t *a = (uint32_t *)sa->s ;
    unsigned int k2 = a[SEQCHUNK] ;
    MDB_val nk = { .mv_size = sizeof(key), .mv_data = &key }, nd = { .mv_size = SEQCHUNK * 4, .mv_data = a } ;
    MDB_val nk2 = { .mv_size = sizeof(k2), .mv_data = &k2 }, nd2 = { .mv_size = (n - SEQCHUNK) * 4, .mv_data = a + SEQCHUNK } ;
    r = mdb_put(w->txn, w->st->dseq, &nk, &nd, 0) ;
    if (!r) r = mdb_put(w->txn, w->st->dseq, &nk2, &nd2, 0) ;
    return r ? seterr(r) : 1 ;
  }
  if (key > uid)
  {
    /* the new UID is below the chunk's key: the chunk moves to it */
    MDB_val ok = { .mv_size = sizeof(key), .mv_data = &key } ;
    r = mdb_del(w->txn, w->st->dseq, &ok, 0) ;
    if (r) return seterr(r) ;
    key = uid ;
  }
  {
    MDB_val nk = { .mv_size = sizeof(key), .mv_data = &key }, nd = { .mv_size = n * 4, .mv_data = sa->s } ;
    r = mdb_put(w->txn, w->st->dseq, &nk, &nd, 0) ;
  }
  return r ? seterr(r) : 1 ;
}

static int seq_remove (wctx *w, uint32_t uid)
{
  MDB_cursor *c ;
  MDB_val k, d ;
  stralloc *sa = &w->st->scratch ;
  unsigned int key ;
  size_t n ;
  int r = mdb_cursor_open(w->txn, w->st->dseq, &c) ;
  if (r) return seterr(r) ;
  r = seq_find(c, uid, &k, &d) ;
  if (r) { mdb_cursor_close(c) ; return r == MDB_NOTFOUND ? 1 : seterr(r) ; }
  memcpy(&key, k.mv_data, sizeof(key)) ;
  n = d.mv_size / 4 ;
  sa->len = 0 ;
  if (!stralloc_catb(sa, d.mv_data, d.mv_size)) { mdb_cursor_close(c) ; return 0 ; }
  {
    uint32_t *a = (uint32_t *)sa->s ;
    size_t lo = 0, hi = n ;
    while (lo < hi) { size_t mid = (lo + hi) / 2 ; if (a[mid] < uid) lo = mid + 1 ; else hi = mid ; }
    if (lo == n || a[lo] != uid) { mdb_cursor_close(c) ; return 1 ; }
    memmove(a + lo, a + lo + 1, (n - lo - 1) * 4) ;
    n-- ;
  }
  mdb_cursor_close(c) ;
  {
    /* the key stays: a lower bound of the chunk is all it must be. (Our
       own copy of it: a put of another size moves the page's data under
       a key that points into the page.) */
    MDB_val nk = { .mv_size = sizeof(key), .mv_data = &key } ;
    MDB_val nd = { .mv_size = n * 4, .mv_data = sa->s } ;
    r = n ? mdb_put(w->txn, w->st->dseq, &nk, &nd, 0) : mdb_del(w->txn, w->st->dseq, &nk, 0) ;
  }
  return r ? seterr(r) : 1 ;
}

/* ---- sets keyed by UID (unseen, in new/) ---- */

static int set_put (wctx *w, MDB_dbi dbi, uint32_t uid)
{
  unsigned int u = uid ;
  MDB_val k = { .mv_size = sizeof(u), .mv_data = &u }, d = { .mv_size = 0, .mv_data = "" } ;
  int r = mdb_put(w->txn, dbi, &k, &d, 0) ;
  return r ? seterr(r) : 1 ;
}

static int set_del (wctx *w, MDB_dbi dbi, uint32_t uid)
{
  unsigned int u = uid ;
  MDB_val k = { .mv_size = sizeof(u), .mv_data = &u } ;
  int r = mdb_del(w->txn, dbi, &k, 0) ;
  return r && r != MDB_NOTFOUND ? seterr(r) : 1 ;
}

/* ---- the change log: MODSEQ to UID (dchg: live messages at their
   last change; dexp: expunged ones) ---- */

static int chg_put (wctx *w, MDB_dbi dbi, uint64_t ms, uint32_t uid)
{
  size_t key = ms ;
  unsigned int u = uid ;
  MDB_val k = { .mv_size = sizeof(key), .mv_data = &key }, d = { .mv_size = sizeof(u), .mv_data = &u } ;
  int r = mdb_put(w->txn, dbi, &k, &d, MDB_NODUPDATA) ;
  return r && r != MDB_KEYEXIST ? seterr(r) : 1 ;
}

static int chg_del (wctx *w, uint64_t ms, uint32_t uid)
{
  size_t key = ms ;
  unsigned int u = uid ;
  MDB_val k = { .mv_size = sizeof(key), .mv_data = &key }, d = { .mv_size = sizeof(u), .mv_data = &u } ;
  int r = mdb_del(w->txn, w->st->dchg, &k, &d) ;
  return r && r != MDB_NOTFOUND ? seterr(r) : 1 ;
}

static int put_rec (wctx *w, uint32_t uid, rec const *r, char const *name, unsigned int flag)
{
  unsigned int u = uid ;
  size_t nlen = r->namelen ;
  MDB_val k = { .mv_size = sizeof(u), .mv_data = &u }, d = { .mv_size = sizeof(rec) + nlen, .mv_data = 0 } ;
  int e = mdb_put(w->txn, w->st->dmsg, &k, &d, MDB_RESERVE | flag) ;
  if (e) return seterr(e) ;
  memcpy(d.mv_data, r, sizeof(rec)) ;
  memcpy((char *)d.mv_data + sizeof(rec), name, nlen) ;
  return 1 ;
}

static void count (wctx *w, rec const *r, int sign)
{
  w->messages += sign ;
  if (!(r->flags & TERN_F_SEEN)) w->unseen += sign ;
  if (r->flags & TERN_F_DELETED) w->deleted += sign ;
  if (r->size != TERN_SIZE_UNKNOWN) w->size += sign * (int64_t)r->size ;
  else w->unsized += sign * (int64_t)r->fsize ;
}

int tern_store__insert (wctx *w, uint32_t uid, rec const *r, char const *name)
{
  size_t ul = tern_maildir_uniqlen(name, r->namelen) ;
  unsigned int u = uid ;
  MDB_val k = { .mv_size = ul, .mv_data = (void *)name }, d = { .mv_size = sizeof(u), .mv_data = &u } ;
  int e ;
  if (!ul || ul > 511) { errno = EINVAL ; return 0 ; }
  if (!put_rec(w, uid, r, name, MDB_NOOVERWRITE)) return 0 ;
  e = mdb_put(w->txn, w->st->dname, &k, &d, 0) ;
  if (e) return seterr(e) ;
  if (!seq_insert(w, uid)) return 0 ;
  if (!(r->flags & TERN_F_SEEN) && !set_put(w, w->st->dunseen, uid)) return 0 ;
  if (!r->incur && !set_put(w, w->st->dnew, uid)) return 0 ;
  if (!chg_put(w, w->st->dchg, r->modseq, uid)) return 0 ;
  count(w, r, 1) ;
  if (uid >= w->uidnext) w->uidnext = (uint64_t)uid + 1 ;
  w->changed = 1 ;
  return 1 ;
}

int tern_store__update (wctx *w, uint32_t uid, rec const *old, rec const *r, char const *name)
{
  if (!put_rec(w, uid, r, name, 0)) return 0 ;
  if ((old->flags ^ r->flags) & TERN_F_SEEN)
  {
    if (r->flags & TERN_F_SEEN ? !set_del(w, w->st->dunseen, uid) : !set_put(w, w->st->dunseen, uid)) return 0 ;
  }
  if (old->incur != r->incur)
  {
    if (r->incur ? !set_del(w, w->st->dnew, uid) : !set_put(w, w->st->dnew, uid)) return 0 ;
  }
  if (old->modseq != r->modseq)
  {
    if (!chg_del(w, old->modseq, uid) || !chg_put(w, w->st->dchg, r->modseq, uid)) return 0 ;
    w->changed = 1 ;
  }
  count(w, old, -1) ;
  count(w, r, 1) ;
  return 1 ;
}

int tern_store__delete (wctx *w, uint32_t uid, rec const *r, char const *name, size_t namelen)
{
  unsigned int u = uid ;
  size_t ul = tern_maildir_uniqlen(name, namelen) ;
  MDB_val k = { .mv_size = sizeof(u), .mv_data = &u } ;
  MDB_val nk = { .mv_size = ul, .mv_data = (void *)name } ;
  int e = mdb_del(w->txn, w->st->dmsg, &k, 0) ;
  if (e == MDB_NOTFOUND) return 1 ;
  if (e) return seterr(e) ;
  e = mdb_del(w->txn, w->st->dname, &nk, 0) ;
  if (e && e != MDB_NOTFOUND) return seterr(e) ;
  e = mdb_del(w->txn, w->st->dcache, &k, 0) ;
  if (e && e != MDB_NOTFOUND) return seterr(e) ;
  if (!seq_remove(w, uid) || !set_del(w, w->st->dunseen, uid) || !set_del(w, w->st->dnew, uid)
   || !chg_del(w, r->modseq, uid) || !chg_put(w, w->st->dexp, w->modseq, uid)) return 0 ;
  w->ntomb++ ;
  count(w, r, -1) ;
  w->changed = 1 ;
  return 1 ;
}
