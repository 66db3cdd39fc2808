/* tern_store_sync: keeping the index in step with the Maildir when other
   programs (mutt, mbsync, a shell) change it, and after a crash.

   Without inotify (tern_store_watch not called), a directory is read
   again when its mtime is not the one the index recorded after its last
   full reading, or when that one is less than a second old (DESIGN.md:
   timestamps are coarser than changes). With inotify, each event names a
   file: only a name's last event counts, and only one the index does not
   already agree with costs a look at that file (event_known); an
   overflowed queue means both directories are read again. A file already in the index at its name
   costs a lookup; only what the index does not know takes the lock.
   No message file is ever parsed here: flags come from names, sizes
   from ",W=", dates from stat(2). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/types.h>
#include "tern_store_int.h"

/* A file found that the index does not know (or knows elsewhere). */
typedef struct found_s found ;
struct found_s
{
  size_t name ;        /* offset in the names stralloc */
  size_t len ;
  unsigned int incur ;
  uint64_t num ;
} ;

static char const *sortbase ;

static int found_cmp (void const *a, void const *b)
{
  found const *x = a, *y = b ;
  if (x->num != y->num) return x->num < y->num ? -1 : 1 ;
  return strcmp(sortbase + x->name, sortbase + y->name) ;
}

static int u32_cmp (void const *a, void const *b)
{
  uint32_t x = *(uint32_t const *)a, y = *(uint32_t const *)b ;
  return x < y ? -1 : x > y ;
}

/* The UID the index has for a unique name: 1, 0 none, -1 error. */
static int lookup (MDB_txn *txn, tern_store *st, char const *name, size_t ul, uint32_t *uid)
{
  MDB_val k = { .mv_size = ul, .mv_data = (void *)name }, d ;
  int r = mdb_get(txn, st->dname, &k, &d) ;
  if (r == MDB_NOTFOUND) return 0 ;
  if (r || d.mv_size != 4) { errno = r ? tern_store__mdberr(r) : EILSEQ ; return -1 ; }
  memcpy(uid, d.mv_data, 4) ;
  return 1 ;
}

/* The file incur/name exists (a regular file): 1, 0 no. */
static int exists (tern_store *st, unsigned int incur, char const *name, struct stat *s)
{
  struct stat tmp ;
  if (!s) s = &tmp ;
  return fstatat(incur ? st->curfd : st->newfd, name, s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s->st_mode) ;
}

/* What to do with a file that is there: nothing (the index has it
   there), a move or rename (the index has it elsewhere: update), or a
   new message. Returns 1 done, 2 a new one to add, 0 error. Under the
   write transaction. */
static int settle (wctx *w, unsigned int incur, char const *name, size_t len)
{
  tern_store *st = w->st ;
  size_t ul = tern_maildir_uniqlen(name, len) ;
  char const *oldname ;
  uint32_t uid ;
  rec r, nr ;
  int k = lookup(w->txn, st, name, ul, &uid) ;
  if (k < 0) return 0 ;
  if (!k) return 2 ;
  k = tern_store__getrec(w->txn, st, uid, &r, &oldname) ;
  if (k < 0) return 0 ;
  if (!k) return 2 ;
  if (r.incur == incur && r.namelen == len && !memcmp(oldname, name, len)) return 1 ;
  /* the index has it under another name: is that one still there too? */
  if (exists(st, r.incur, oldname, 0)) return 3 ;
  nr = r ;
  nr.incur = incur ;
  nr.namelen = len ;
  tern_maildir_flags(name, len, &nr.flags, &nr.kw) ;
  if (nr.flags != r.flags || nr.kw != r.kw) nr.modseq = w->modseq ;
  return tern_store__update(w, uid, &r, &nr, name) ? 1 : 0 ;
}

/* The new files: UIDs in the order they came (or the UID the uidlist
   already gave a file the index lost), the uidlist, the index. */
static int add_found (wctx *w, stralloc *names, genalloc *fl)
{
  tern_store *st = w->st ;
  size_t n = genalloc_len(found, fl) ;
  genalloc nu = GENALLOC_ZERO, nn = GENALLOC_ZERO, nlen = GENALLOC_ZERO, all = GENALLOC_ZERO ;
  uint64_t ulsize ;
  int ok = 0 ;
  if (!n) return 1 ;
  sortbase = names->s ;
  qsort(genalloc_s(found, fl), n, sizeof(found), &found_cmp) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    found *f = genalloc_s(found, fl) + i ;
    char const *nm = names->s + f->name ;
    size_t ul = tern_maildir_uniqlen(nm, f->len) ;
    uint32_t uid ;
    if (!tern_store__adopted(w, nm, ul, &uid))
    {
      if (w->uidnext >= UINT32_MAX) { errno = EOVERFLOW ; goto end ; }
      uid = w->uidnext++ ;
      if (!genalloc_append(uint32_t, &nu, &uid) || !genalloc_append(char const *, &nn, &nm) || !genalloc_append(size_t, &nlen, &ul)) goto end ;
    }
    if (!genalloc_append(uint32_t, &all, &uid)) goto end ;
  }
  /* the UIDs are on the disk before anybody can learn them */
  if (genalloc_len(uint32_t, &nu))
  {
    if (!tern_store__uidlist_append(st, genalloc_s(uint32_t, &nu), genalloc_s(char const *, &nn), genalloc_s(size_t, &nlen), genalloc_len(uint32_t, &nu), &ulsize)) goto end ;
    if (!tern_store__meta_put(w->txn, st->dmeta, M_ULSIZE, ulsize)) goto end ;
  }
  for (size_t i = 0 ; i < n ; i++)
  {
    found const *f = genalloc_s(found, fl) + i ;
    char const *nm = names->s + f->name ;
    struct stat s ;
    rec r = { .modseq = w->modseq } ;
    if (!exists(st, f->incur, nm, &s)) continue ;   /* gone meanwhile: its UID is simply never used */
    tern_maildir_flags(nm, f->len, &r.flags, &r.kw) ;
    r.idate = s.st_mtim.tv_sec ;
    r.sdate = time(0) ;
    r.fsize = s.st_size ;
    r.size = tern_maildir_sizefield(nm, f->len, 'W') ;
    r.incur = f->incur ;
    r.namelen = f->len ;
    if (!tern_store__insert(w, genalloc_s(uint32_t, &all)[i], &r, nm) && errno != EINVAL) goto end ;
  }
  ok = 1 ;
 end:
  genalloc_free(uint32_t, &nu) ;
  genalloc_free(char const *, &nn) ;
  genalloc_free(size_t, &nlen) ;
  genalloc_free(uint32_t, &all) ;
  return ok ;
}

/* A file that is there but whose unique name another file of the index
   has too: it gets a name of its own, and is new. */
static int rename_dup (tern_store *st, unsigned int incur, char const *name, size_t len, stralloc *names, found *f)
{
  stralloc nn = STRALLOC_ZERO ;
  size_t ul = tern_maildir_uniqlen(name, len) ;
  int fd = incur ? st->curfd : st->newfd ;
  if (!tern_maildir_newname(&nn, TERN_SIZE_UNKNOWN, TERN_SIZE_UNKNOWN)) return 0 ;
  nn.len-- ;
  if (!stralloc_catb(&nn, name + ul, len - ul) || !stralloc_0(&nn)) goto err ;
  if (renameat(fd, name, fd, nn.s) < 0) goto err ;
  f->name = names->len ;
  f->len = nn.len - 1 ;
  f->incur = incur ;
  f->num = 0 ;
  uint64_scan(nn.s, &f->num) ;
  if (!stralloc_catb(names, nn.s, nn.len)) goto err ;
  stralloc_free(&nn) ;
  return 1 ;
 err:
  stralloc_free(&nn) ;
  return 0 ;
}

/* Reads new/ (which 0) or cur/ (1) whole: every file settled, the new
   ones collected, and the UIDs seen appended to seen. */
static int scan_dir (wctx *w, unsigned int incur, stralloc *names, genalloc *fl, genalloc *seen)
{
  tern_store *st = w->st ;
  DIR *d = tern_store__opendir(incur ? st->curfd : st->newfd) ;
  char const *nm ;
  size_t len ;
  if (!d) return 0 ;
  while ((nm = tern_store__nextname(d, &len)))
  {
    size_t ul = tern_maildir_uniqlen(nm, len) ;
    uint32_t uid ;
    int k ;
    if (ul > 511) continue ;
    k = settle(w, incur, nm, len) ;
    if (!k) break ;
    if (k == 1)
    {
      if (lookup(w->txn, st, nm, ul, &uid) == 1 && !genalloc_append(uint32_t, seen, &uid)) { errno = ENOMEM ; break ; }
      continue ;
    }
    {
      found f = { .name = names->len, .len = len, .incur = incur, .num = 0 } ;
      if (k == 3)
      {
        if (!rename_dup(st, incur, nm, len, names, &f)) continue ;
      }
      else
      {
        uint64_scan(nm, &f.num) ;
        if (!stralloc_catb(names, nm, len + 1)) { errno = ENOMEM ; break ; }
      }
      if (!genalloc_append(found, fl, &f)) { errno = ENOMEM ; break ; }
    }
  }
  {
    int e = errno ;
    closedir(d) ;
    errno = e ;
    return !e ;
  }
}

/* Messages whose file is not where the index puts it: expunged by
   another program, or renamed by one that does not take our lock (mutt
   changing flags, a tern process killed between its rename and its
   commit) after we last looked. Before any is deleted, both directories
   are read once more: a file with the unique name of one of them is
   that message under its new name (settled there, same UID); the
   others are gone. gone: the UIDs, sorted, changed in place. */
static int delete_gone (wctx *w, genalloc *gone)
{
  tern_store *st = w->st ;
  uint32_t *g = genalloc_s(uint32_t, gone) ;
  size_t n = genalloc_len(uint32_t, gone), m = 0 ;
  /* those whose file came back where the index puts it are no concern */
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *nm ;
    rec rc ;
    int k = tern_store__getrec(w->txn, st, g[i], &rc, &nm) ;
    if (k < 0) return 0 ;
    if (!k || exists(st, rc.incur, nm, 0)) continue ;
    g[m++] = g[i] ;
  }
  genalloc_setlen(uint32_t, gone, m) ;
  if (!m) return 1 ;
  for (unsigned int incur = 0 ; incur < 2 ; incur++)
  {
    DIR *d = tern_store__opendir(incur ? st->curfd : st->newfd) ;
    char const *nm ;
    size_t len ;
    if (!d) return 0 ;
    while ((nm = tern_store__nextname(d, &len)))
    {
      size_t ul = tern_maildir_uniqlen(nm, len), lo = 0, hi = m ;
      uint32_t uid ;
      if (ul > 511) continue ;
      if (lookup(w->txn, st, nm, ul, &uid) != 1) continue ;
      while (lo < hi) { size_t mid = (lo + hi) / 2 ; if (g[mid] < uid) lo = mid + 1 ; else hi = mid ; }
      if (lo >= m || g[lo] != uid) continue ;
      /* found under another name: the same message */
      if (!settle(w, incur, nm, len)) { int e = errno ; closedir(d) ; errno = e ; return 0 ; }
      g[lo] = 0 ;
    }
    {
      int e = errno ;
      closedir(d) ;
      if (e) { errno = e ; return 0 ; }
    }
  }
  for (size_t i = 0 ; i < m ; i++)
  {
    char const *nm ;
    rec rc ;
    int k ;
    if (!g[i]) continue ;
    k = tern_store__getrec(w->txn, st, g[i], &rc, &nm) ;
    if (k < 0) return 0 ;
    if (!k || exists(st, rc.incur, nm, 0)) continue ;
    {
      size_t nl = rc.namelen ;
      char copy[nl + 1] ;
      memcpy(copy, nm, nl) ;
      copy[nl] = 0 ;
      if (!tern_store__delete(w, g[i], &rc, copy, nl)) return 0 ;
    }
  }
  return 1 ;
}

/* The messages the index places in a directory that was read whole and
   that were not seen there: gone (expunged by another program). */
static int vanished (wctx *w, unsigned int incur, genalloc *seen)
{
  tern_store *st = w->st ;
  genalloc gone = GENALLOC_ZERO ;
  size_t ns = genalloc_len(uint32_t, seen), j = 0 ;
  uint32_t const *sv ;
  MDB_cursor *c ;
  MDB_val k, d ;
  int r, ok = 0 ;
  if (ns) qsort(genalloc_s(uint32_t, seen), ns, sizeof(uint32_t), &u32_cmp) ;
  sv = genalloc_s(uint32_t, seen) ;
  /* new/ has its own set; cur/ is everything else */
  r = mdb_cursor_open(w->txn, incur ? st->dmsg : st->dnew, &c) ;
  if (r) { errno = tern_store__mdberr(r) ; return 0 ; }
  for (r = mdb_cursor_get(c, &k, &d, MDB_FIRST) ; !r ; r = mdb_cursor_get(c, &k, &d, MDB_NEXT))
  {
    unsigned int u ;
    memcpy(&u, k.mv_data, sizeof(u)) ;
    if (incur)
    {
      rec rc ;
      if (d.mv_size < sizeof(rec)) continue ;
      memcpy(&rc, d.mv_data, sizeof(rec)) ;
      if (!rc.incur) continue ;
    }
    while (j < ns && sv[j] < u) j++ ;
    if (j < ns && sv[j] == u) continue ;
    if (!genalloc_append(uint32_t, &gone, &u)) goto end ;
  }
  mdb_cursor_close(c) ;
  c = 0 ;
  if (r != MDB_NOTFOUND) { errno = tern_store__mdberr(r) ; goto end ; }
  /* (sorted: the cursor went by UID) */
  if (!delete_gone(w, &gone)) goto end ;
  ok = 1 ;
 end:
  if (c) mdb_cursor_close(c) ;
  genalloc_free(uint32_t, &gone) ;
  return ok ;
}

/* Reads the directories whose flag is set whole; records their mtimes
   when they can be trusted. Under the write transaction. */
int tern_store__scan (tern_store *st, wctx *w, int dnew, int dcur)
{
  stralloc names = STRALLOC_ZERO ;
  genalloc fl = GENALLOC_ZERO, seen = GENALLOC_ZERO ;
  uint64_t mt[2] = { 0, 0 } ;
  size_t nseen0 ;
  int ok = 0 ;
  /* the mtimes from before the reading: a change during it makes them
     differ next time */
  if ((dnew && !tern_store__dirmt(st->newfd, mt)) || (dcur && !tern_store__dirmt(st->curfd, mt + 1))) return 0 ;
  /* both directories read before anything is called gone: a file moved
     from new/ to cur/ is found at its new place first (and keeps its UID) */
  if (dnew && !scan_dir(w, 0, &names, &fl, &seen)) goto end ;
  nseen0 = genalloc_len(uint32_t, &seen) ;
  if (dcur && !scan_dir(w, 1, &names, &fl, &seen)) goto end ;
  if (dnew)
  {
    genalloc s0 = GENALLOC_ZERO ;
    int r ;
    if (!stralloc_copyb((stralloc *)&s0, (char const *)genalloc_s(uint32_t, &seen), nseen0 * 4)) goto end ;
    r = vanished(w, 0, &s0) ;
    genalloc_free(uint32_t, &s0) ;
    if (!r) goto end ;
  }
  if (dcur)
  {
    genalloc s1 = GENALLOC_ZERO ;
    int r ;
    if (!stralloc_copyb((stralloc *)&s1, (char const *)(genalloc_s(uint32_t, &seen) + nseen0), (genalloc_len(uint32_t, &seen) - nseen0) * 4)) goto end ;
    r = vanished(w, 1, &s1) ;
    genalloc_free(uint32_t, &s1) ;
    if (!r) goto end ;
  }
  if (!add_found(w, &names, &fl)) goto end ;
  if (dnew && !tern_store__meta_put(w->txn, st->dmeta, M_NEWMT, tern_store__trusted(mt[0]) ? mt[0] : 0)) goto end ;
  if (dcur && !tern_store__meta_put(w->txn, st->dmeta, M_CURMT, tern_store__trusted(mt[1]) ? mt[1] : 0)) goto end ;
  ok = 1 ;
 end:
  stralloc_free(&names) ;
  genalloc_free(found, &fl) ;
  genalloc_free(uint32_t, &seen) ;
  return ok ;
}

/* The uidlist has lines the index does not (a writer killed between the
   two): their files are found by reading both directories. */
static int uidlist_behind (tern_store *st, uint64_t ulsize, int *behind)
{
  struct stat s ;
  *behind = 0 ;
  if (fstatat(st->dirfd, UIDLIST, &s, 0) < 0) return errno == ENOENT ;
  *behind = (uint64_t)s.st_size != ulsize ;
  return 1 ;
}

/* ---- inotify ---- */

/* One inotify instance per process, kept for the process's life and
   lent to one watching store at a time: closing an instance waits for
   the kernel's grace period (milliseconds, the bulk of a re-SELECT),
   removing its watches does not. A second store that watches while the
   first still does gets an instance of its own. */
static int procino = -1 ;
static tern_store const *procuser = 0 ;

int tern_store_watch (tern_store *st)
{
  size_t plen = st->path.len - 1 ;
  char p[plen + 8] ;
  uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR | IN_EXCL_UNLINK ;
  if (st->ino >= 0) return st->ino ;
  if (!procuser)
  {
    if (procino < 0) procino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC) ;
    st->ino = procino ;
  }
  else st->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC) ;
  if (st->ino < 0) return -1 ;
  if (st->ino == procino) procuser = st ;
  memcpy(p, st->path.s, plen) ;
  memcpy(p + plen, "/new", 5) ;
  st->wnew = inotify_add_watch(st->ino, p, mask) ;
  memcpy(p + plen, "/cur", 5) ;
  st->wcur = st->wnew < 0 ? -1 : inotify_add_watch(st->ino, p, mask) ;
  if (st->wnew < 0 || st->wcur < 0)
  {
    int e = errno ;
    tern_store__unwatch(st) ;
    errno = e ;
    return -1 ;
  }
  /* what happened before the watches, the next sync learns from the
     mtimes; what happens after, from the events */
  st->evprimed = 0 ;
  return st->ino ;
}

void tern_store__unwatch (tern_store *st)
{
  if (st->ino < 0) return ;
  if (st->ino == procino)
  {
    /* the events still queued for these watches are read and dropped
       by the next user (their watch descriptors are not reused) */
    if (st->wnew >= 0) inotify_rm_watch(st->ino, st->wnew) ;
    if (st->wcur >= 0) inotify_rm_watch(st->ino, st->wcur) ;
    procuser = 0 ;
  }
  else fd_close(st->ino) ;
  st->ino = st->wnew = st->wcur = -1 ;
}

/* Drains the inotify queue into st->evnames. */
static int drain (tern_store *st)
{
  /* small: a session's stack is memory every idle connection keeps
     (an event is at most sizeof(struct inotify_event) + NAME_MAX + 1) */
  char buf[1024] __attribute__((aligned(__alignof__(struct inotify_event)))) ;
  for (;;)
  {
    ssize_t r = read(st->ino, buf, sizeof(buf)) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      return errno == EAGAIN ;
    }
    if (!r) return 1 ;
    for (char *p = buf ; p < buf + r ;)
    {
      struct inotify_event const *ev = (struct inotify_event const *)p ;
      p += sizeof(*ev) + ev->len ;
      if (ev->mask & IN_Q_OVERFLOW) { st->evdirty = 1 ; continue ; }
      if (ev->wd != st->wnew && ev->wd != st->wcur) continue ;   /* an earlier store's */
      if (ev->mask & IN_IGNORED) { st->evdirty = 1 ; continue ; }
      if (!ev->len || st->evdirty) continue ;
      if (st->evnames.len > (4u << 20)) { st->evdirty = 1 ; st->evnames.len = 0 ; continue ; }
      {
        /* the directory, in lower case for an arrival (IN_CREATE,
           IN_MOVED_TO), upper case for a departure */
        char d = ev->wd == st->wcur ? 'c' : 'n' ;
        if (!(ev->mask & (IN_CREATE | IN_MOVED_TO))) d -= 'a' - 'A' ;
        if (!stralloc_catb(&st->evnames, &d, 1) || !stralloc_cats(&st->evnames, ev->name) || !stralloc_0(&st->evnames)) return 0 ;
      }
    }
  }
}

/* Does an event need work? Not when the index has the file at that name
   and it is there, nor when the file is gone and the index has it
   elsewhere (an old event). Under txn (read or write).
   An arrival at a name the index has, or a departure from a name it
   does not have, agrees with the index without a look at the disk:
   what happened to that name since is a later event, judged in its
   turn. That is the common case, the renames and expunges of the
   folder's other sessions, which recorded them before we read their
   events; only the others cost a stat(2). 1 known, 0 work, -1 error. */
static int event_known (MDB_txn *txn, tern_store *st, unsigned int incur, int arrived, char const *name)
{
  size_t len = strlen(name), ul = tern_maildir_uniqlen(name, len) ;
  char const *old ;
  uint32_t uid ;
  rec rc ;
  int k = lookup(txn, st, name, ul, &uid), there, here = 0, got = 0 ;
  if (k < 0) return -1 ;
  if (k)
  {
    got = tern_store__getrec(txn, st, uid, &rc, &old) ;
    if (got < 0) return -1 ;
    here = got && rc.incur == incur && rc.namelen == len && !memcmp(old, name, len) ;
  }
  if (arrived ? here : !here) return 1 ;
  there = exists(st, incur, name, 0) ;
  if (!k || !got) return !there ;
  return here ? there : !there ;
}

/* The event at evnames.s[i]: its directory, and whether it is an arrival. */
static unsigned int ev_incur (char d) { return d == 'c' || d == 'C' ; }
static int ev_arrived (char d) { return d == 'c' || d == 'n' ; }

/* The recorded mtimes of both directories made untrusted (0), if not
   already. */
static int mt_forget (wctx *w)
{
  static char const *const key[2] = { M_NEWMT, M_CURMT } ;
  for (unsigned int j = 0 ; j < 2 ; j++)
  {
    uint64_t v = 0 ;
    int r = tern_store__meta_get(w->txn, w->st->dmeta, key[j], &v) ;
    if (r < 0) return 0 ;
    if ((!r || v) && !tern_store__meta_put(w->txn, w->st->dmeta, key[j], 0)) return 0 ;
  }
  return 1 ;
}

/* Only the last event of a name tells what is there now: the earlier
   ones are marked EV_OLD and not judged (on a busy folder most names
   are already renamed again by the time their arrival is read). */
#define EV_OLD 'x'

static char const *evbase ;

static int ev_cmp (void const *a, void const *b)
{
  size_t x = *(size_t const *)a, y = *(size_t const *)b ;
  int c = (evbase[x] | 0x20) - (evbase[y] | 0x20) ;
  if (!c) c = strcmp(evbase + x + 1, evbase + y + 1) ;
  return c ? c : x < y ? -1 : x > y ;
}

static int ev_superseded (tern_store *st)
{
  genalloc off = GENALLOC_ZERO ;
  size_t n ;
  size_t *o ;
  for (size_t i = 0 ; i < st->evnames.len ; i += strlen(st->evnames.s + i + 1) + 2)
    if (!genalloc_append(size_t, &off, &i)) { genalloc_free(size_t, &off) ; errno = ENOMEM ; return 0 ; }
  n = genalloc_len(size_t, &off) ;
  o = genalloc_s(size_t, &off) ;
  evbase = st->evnames.s ;
  if (n > 1) qsort(o, n, sizeof(size_t), &ev_cmp) ;
  /* sorted by directory, name, then time: all but a group's last go */
  for (size_t j = 0 ; j + 1 < n ; j++)
    if ((evbase[o[j]] | 0x20) == (evbase[o[j+1]] | 0x20) && !strcmp(evbase + o[j] + 1, evbase + o[j+1] + 1))
      st->evnames.s[o[j]] = EV_OLD ;
  genalloc_free(size_t, &off) ;
  return 1 ;
}

static int sync_events (tern_store *st)
{
  stralloc names = STRALLOC_ZERO ;
  genalloc fl = GENALLOC_ZERO, gone = GENALLOC_ZERO ;
  size_t i ;
  int work = 0, ok = 0 ;
  wctx w ;
  if (!drain(st)) return -1 ;
  if (st->evdirty) return 2 ;
  if (!st->evnames.len) return 0 ;
  if (!ev_superseded(st)) return -1 ;
  if (!tern_store_rbegin(st)) return -1 ;
  for (i = 0 ; i < st->evnames.len ; i += strlen(st->evnames.s + i + 1) + 2)
  {
    int k ;
    if (st->evnames.s[i] == EV_OLD) continue ;
    k = event_known(st->rtxn, st, ev_incur(st->evnames.s[i]), ev_arrived(st->evnames.s[i]), st->evnames.s + i + 1) ;
    if (k < 0) { tern_store_rend(st) ; return -1 ; }
    if (!k) { work = 1 ; break ; }
  }
  tern_store_rend(st) ;
  if (!work) { st->evnames.len = 0 ; return 0 ; }
  /* (usually another session's change, renamed but not yet committed:
     the lock waits for its commit, after which it is known) */
  if (!tern_store__wbegin(st, &w)) return -1 ;
  work = 0 ;
  /* first the files that are there, then the ones that went (deleted
     by delete_gone, which looks for them once more) */
  for (int pass = 0 ; pass < 2 ; pass++)
    for (i = 0 ; i < st->evnames.len ; i += strlen(st->evnames.s + i + 1) + 2)
    {
      unsigned int incur = ev_incur(st->evnames.s[i]) ;
      char const *nm = st->evnames.s + i + 1 ;
      size_t len = strlen(nm), ul = tern_maildir_uniqlen(nm, len) ;
      int there ;
      if (st->evnames.s[i] == EV_OLD) continue ;
      if (!ul || ul > 511 || memchr(nm, '\n', len) || nm[0] == '.') continue ;
      {
        int k = event_known(w.txn, st, incur, ev_arrived(st->evnames.s[i]), nm) ;
        if (k < 0) goto err ;
        if (k) continue ;
      }
      work = 1 ;
      there = exists(st, incur, nm, 0) ;
      if (!pass && there)
      {
        int k = settle(&w, incur, nm, len) ;
        if (!k) goto err ;
        if (k >= 2)
        {
          /* skip a name already collected */
          int dup = 0 ;
          found f = { .name = names.len, .len = len, .incur = incur, .num = 0 } ;
          for (size_t j = 0 ; j < genalloc_len(found, &fl) ; j++)
          {
            found const *g = genalloc_s(found, &fl) + j ;
            if (g->incur == incur && g->len == len && !memcmp(names.s + g->name, nm, len)) { dup = 1 ; break ; }
          }
          if (dup) continue ;
          if (k == 3) { if (!rename_dup(st, incur, nm, len, &names, &f)) continue ; }
          else
          {
            uint64_scan(nm, &f.num) ;
            if (!stralloc_catb(&names, nm, len + 1)) goto err ;
          }
          if (!genalloc_append(found, &fl, &f)) goto err ;
        }
      }
      else if (pass && !there)
      {
        uint32_t uid ;
        char const *old ;
        rec rc ;
        int k = lookup(w.txn, st, nm, ul, &uid) ;
        if (k < 0) goto err ;
        if (!k) continue ;
        k = tern_store__getrec(w.txn, st, uid, &rc, &old) ;
        if (k < 0) goto err ;
        if (!k || rc.incur != incur || rc.namelen != len || memcmp(old, nm, len)) continue ;
        if (!genalloc_append(uint32_t, &gone, &uid)) goto err ;
      }
    }
  if (genalloc_len(uint32_t, &gone))
  {
    size_t n = genalloc_len(uint32_t, &gone), m = 0 ;
    uint32_t *g = genalloc_s(uint32_t, &gone) ;
    qsort(g, n, sizeof(uint32_t), &u32_cmp) ;
    for (size_t j = 0 ; j < n ; j++) if (!m || g[m-1] != g[j]) g[m++] = g[j] ;
    genalloc_setlen(uint32_t, &gone, m) ;
    if (!delete_gone(&w, &gone)) goto err ;
  }
  if (!add_found(&w, &names, &fl)) goto err ;
  /* other programs changed the directories: the next process without
     our events must read them (written only then: a transaction that
     wrote nothing commits without a sync) */
  if (work && !mt_forget(&w)) goto err ;
  if (!tern_store__wcommit(&w)) goto errc ;
  st->evnames.len = 0 ;
  ok = 1 ;
  goto end ;
 err:
  tern_store__wabort(&w) ;
 errc:
  ok = -1 ;
 end:
  stralloc_free(&names) ;
  genalloc_free(found, &fl) ;
  genalloc_free(uint32_t, &gone) ;
  return ok ;
}

int tern_store_sync (tern_store *st)
{
  uint64_t nmt = 0, cmt = 0, snew = 0, scur = 0, ulsize = 0, hms0 = 0, hms1 = 0 ;
  int dnew, dcur, behind, r ;
  wctx w ;
  if (st->ino >= 0 && st->evprimed)
  {
    r = sync_events(st) ;
    if (r < 2) return r ;
    /* an overflow, or the first sync after the watches: read both */
    st->evdirty = 0 ;
    st->evnames.len = 0 ;
    if (!tern_store__wbegin(st, &w)) return -1 ;
    hms0 = w.hms ;
    if (!tern_store__scan(st, &w, 1, 1)) { tern_store__wabort(&w) ; return -1 ; }
    hms1 = w.changed ? w.modseq : w.hms ;
    if (!tern_store__wcommit(&w)) return -1 ;
    return hms1 != hms0 ;
  }
  if (st->ino >= 0) st->evprimed = 1 ;
  if (!tern_store__dirmt(st->newfd, &nmt) || !tern_store__dirmt(st->curfd, &cmt)) return -1 ;
  if (!tern_store_rbegin(st)) return -1 ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_NEWMT, &snew) < 0
   || tern_store__meta_get(st->rtxn, st->dmeta, M_CURMT, &scur) < 0
   || tern_store__meta_get(st->rtxn, st->dmeta, M_ULSIZE, &ulsize) < 0) { tern_store_rend(st) ; return -1 ; }
  tern_store_rend(st) ;
  if (!uidlist_behind(st, ulsize, &behind)) return -1 ;
  dnew = nmt != snew || !tern_store__trusted(snew) ;
  dcur = cmt != scur || !tern_store__trusted(scur) ;
  if (!dnew && !dcur && !behind) return 0 ;
  if (!tern_store__wbegin(st, &w)) return -1 ;
  hms0 = w.hms ;
  /* (wbegin caught up with the uidlist, and read both directories if
     it named files the index lacked) */
  if (!tern_store__scan(st, &w, dnew, dcur)) { tern_store__wabort(&w) ; return -1 ; }
  hms1 = w.changed ? w.modseq : w.hms ;
  if (!tern_store__wcommit(&w)) return -1 ;
  return hms1 != hms0 ;
}
