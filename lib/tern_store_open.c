/* tern_store_open: opening a folder and its index, and building the index
   from the Maildir and the uidlist when it is missing or damaged (with
   the same UIDs and UIDVALIDITY; a new UIDVALIDITY only when the uidlist
   is gone too, and a lost uidlist is written again from the index).
   A build writes tern-index.new/ and renames it into place, so that no
   process ever opens half an index. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/strerr.h>
#include <skalibs/types.h>
#include "tern_store_int.h"

#define MAPSIZE ((size_t)8 << 30)

int tern_store__readfile (int dirfd, char const *name, stralloc *sa)
{
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC) ;
  struct stat s ;
  if (fd < 0) return 0 ;
  if (fstat(fd, &s) < 0 || !stralloc_readyplus(sa, s.st_size + 1)) { int e = errno ; fd_close(fd) ; errno = e ; return 0 ; }
  for (;;)
  {
    ssize_t r = read(fd, sa->s + sa->len, sa->a - sa->len) ;
    if (r < 0) { if (errno == EINTR) continue ; { int e = errno ; fd_close(fd) ; errno = e ; } return 0 ; }
    if (!r) break ;
    sa->len += r ;
    if (sa->len == sa->a && !stralloc_readyplus(sa, 4096)) { fd_close(fd) ; return 0 ; }
  }
  fd_close(fd) ;
  return 1 ;
}

static int rmtree (int dirfd, char const *name)
{
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) ;
  DIR *d ;
  if (fd < 0) return errno == ENOENT ;
  d = fdopendir(fd) ;
  if (!d) { fd_close(fd) ; return 0 ; }
  for (;;)
  {
    struct dirent *de = readdir(d) ;
    if (!de) break ;
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue ;
    if (unlinkat(fd, de->d_name, 0) < 0 && errno == EISDIR) rmtree(fd, de->d_name) ;
  }
  closedir(d) ;
  return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ;
}

/* ---- the LMDB environment ---- */

static int dbis (tern_store *st, MDB_txn *txn, unsigned int create)
{
  static struct { char const *name ; unsigned int flags ; size_t off ; } const t[] =
  {
    { "meta", 0, offsetof(tern_store, dmeta) },
    { "msg", MDB_INTEGERKEY, offsetof(tern_store, dmsg) },
    { "name", 0, offsetof(tern_store, dname) },
    { "seq", MDB_INTEGERKEY, offsetof(tern_store, dseq) },
    { "unseen", MDB_INTEGERKEY, offsetof(tern_store, dunseen) },
    { "new", MDB_INTEGERKEY, offsetof(tern_store, dnew) },
    { "chg", MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP, offsetof(tern_store, dchg) },
    { "exp", MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP, offsetof(tern_store, dexp) },
    { "cache", MDB_INTEGERKEY, offsetof(tern_store, dcache) },
  } ;
  for (unsigned int i = 0 ; i < sizeof(t) / sizeof(t[0]) ; i++)
  {
    int r = mdb_dbi_open(txn, t[i].name, t[i].flags | create, (MDB_dbi *)((char *)st + t[i].off)) ;
    if (r) { errno = r == MDB_NOTFOUND ? EILSEQ : tern_store__mdberr(r) ; return 0 ; }
  }
  return 1 ;
}

/* Opens dir's environment: 1, 0 absent (ENOENT), -1 damaged or failing (errno). */
static int env_open (tern_store *st, char const *dir, unsigned int create)
{
  size_t plen = st->path.len - 1 ;
  char p[plen + strlen(dir) + 16] ;
  struct stat s ;
  size_t mapsize = MAPSIZE ;
  MDB_txn *txn ;
  int r, dead ;
  memcpy(p, st->path.s, plen) ; p[plen] = '/' ;
  strcpy(p + plen + 1, dir) ;
  if (!create)
  {
    size_t l = strlen(p) ;
    strcpy(p + l, "/data.mdb") ;
    if (stat(p, &s) < 0) return errno == ENOENT ? (errno = ENOENT, 0) : -1 ;
    if ((size_t)s.st_size > mapsize / 2) mapsize = (size_t)s.st_size * 2 ;
    p[l] = 0 ;
  }
  st->hasfts = 0 ;
  st->hasftx = 0 ;
  r = mdb_env_create(&st->env) ;
  if (r) { errno = tern_store__mdberr(r) ; return -1 ; }
  mdb_env_set_maxdbs(st->env, 16) ;
  mdb_env_set_maxreaders(st->env, MAXREADERS) ;
  mdb_env_set_mapsize(st->env, mapsize) ;
  r = mdb_env_open(st->env, p, MDB_NOTLS | MDB_NOMETASYNC, 0600) ;
  if (r) goto fail ;
  /* slots of readers killed with -9 (DESIGN.md's LMDB rules) */
  mdb_reader_check(st->env, &dead) ;
  r = mdb_txn_begin(st->env, 0, create ? 0 : MDB_RDONLY, &txn) ;
  if (r) goto fail ;
  if (!dbis(st, txn, create)) { int e = errno ; mdb_txn_abort(txn) ; mdb_env_close(st->env) ; st->env = 0 ; errno = e ; return -1 ; }
  /* committed, even read-only: the handles of an aborted one are closed */
  r = mdb_txn_commit(txn) ;
  if (r) goto fail ;
  return 1 ;
 fail:
  mdb_env_close(st->env) ;
  st->env = 0 ;
  errno = tern_store__mdberr(r) ;
  return -1 ;
}

static void env_close (tern_store *st)
{
  if (st->rtxn) { mdb_txn_abort(st->rtxn) ; st->rtxn = 0 ; st->rtxnlive = 0 ; }
  if (st->env) { mdb_env_close(st->env) ; st->env = 0 ; }
  st->hasfts = 0 ;
  st->hasftx = 0 ;
}

/* ---- reading ---- */

int tern_store_rbegin (tern_store *st)
{
  int r ;
  if (st->rtxnlive) return 1 ;
  for (;;)
  {
    r = st->rtxn ? mdb_txn_renew(st->rtxn) : mdb_txn_begin(st->env, 0, MDB_RDONLY, &st->rtxn) ;
    if (r != MDB_MAP_RESIZED) break ;
    /* another process grew the map */
    if (st->rtxn) { mdb_txn_abort(st->rtxn) ; st->rtxn = 0 ; }
    mdb_env_set_mapsize(st->env, 0) ;
  }
  if (r)
  {
    if (st->rtxn) { mdb_txn_abort(st->rtxn) ; st->rtxn = 0 ; }
    errno = tern_store__mdberr(r) ;
    return 0 ;
  }
  st->rtxnlive = 1 ;
  return 1 ;
}

void tern_store_rend (tern_store *st)
{
  if (st->rtxnlive) { mdb_txn_reset(st->rtxn) ; st->rtxnlive = 0 ; }
}

/* ---- keywords: tern-keywords, "N name" a line ---- */

int tern_store__kw_load (tern_store *st)
{
  stralloc f = STRALLOC_ZERO ;
  char const *names[TERN_KW_MAX] = { 0 } ;
  size_t lens[TERN_KW_MAX] = { 0 } ;
  size_t i = 0 ;
  st->kw.len = 0 ;
  st->nkw = 0 ;
  if (!tern_store__readfile(st->dirfd, KEYWORDS, &f)) return errno == ENOENT ;
  while (i < f.len)
  {
    char *nl = memchr(f.s + i, '\n', f.len - i) ;
    unsigned int n ;
    size_t k ;
    if (!nl) break ;
    k = uint_scan(f.s + i, &n) ;
    if (k && f.s[i+k] == ' ' && n < TERN_KW_MAX && f.s + i + k + 1 < nl && !names[n])
    {
      names[n] = f.s + i + k + 1 ;
      lens[n] = nl - names[n] ;
    }
    i = nl - f.s + 1 ;
  }
  /* in index order, without holes (a hole ends the list) */
  for (unsigned int n = 0 ; n < TERN_KW_MAX && names[n] ; n++)
  {
    if (!stralloc_catb(&st->kw, names[n], lens[n]) || !stralloc_0(&st->kw)) { stralloc_free(&f) ; return 0 ; }
    st->nkw++ ;
  }
  stralloc_free(&f) ;
  return 1 ;
}

int tern_store_keywords_load (tern_store *st)
{
  return tern_store__kw_load(st) ;
}

char const *tern_store_keyword_name (tern_store const *st, unsigned int i)
{
  size_t pos = 0 ;
  if (i >= st->nkw) return 0 ;
  while (i--) pos += strlen(st->kw.s + pos) + 1 ;
  return st->kw.s + pos ;
}

int tern_store_keyword_find (tern_store const *st, char const *s, size_t len)
{
  size_t pos = 0 ;
  for (unsigned int i = 0 ; i < st->nkw ; i++)
  {
    char const *k = st->kw.s + pos ;
    size_t kl = strlen(k) ;
    if (kl == len && !strncasecmp(k, s, len)) return i ;
    pos += kl + 1 ;
  }
  return -1 ;
}

/* ---- building the index ---- */

typedef struct file_s file ;
struct file_s
{
  size_t name ;       /* offset in names */
  size_t len ;
  uint32_t uid ;
  unsigned int incur ;
  uint64_t num ;      /* the leading number of the name: the order of new ones */
} ;

typedef struct ent_s ent ;
struct ent_s { uint32_t uid ; size_t name ; size_t len ; } ;

static char const *sortbase ;

static int ent_cmp (void const *a, void const *b)
{
  ent const *x = a, *y = b ;
  size_t n = x->len < y->len ? x->len : y->len ;
  int c = memcmp(sortbase + x->name, sortbase + y->name, n) ;
  return c ? c : x->len < y->len ? -1 : x->len > y->len ;
}

static int file_cmp (void const *a, void const *b)
{
  file const *x = a, *y = b ;
  if (x->num != y->num) return x->num < y->num ? -1 : 1 ;
  return strcmp(sortbase + x->name, sortbase + y->name) ;
}

/* A reading of new/ or cur/ from its start, on a copy of the store's
   fd (which stays open for the next reading). */
DIR *tern_store__opendir (int fd)
{
  int d2 = dup(fd) ;
  DIR *d ;
  if (d2 < 0) return 0 ;
  d = fdopendir(d2) ;
  if (!d) { fd_close(d2) ; return 0 ; }
  rewinddir(d) ;
  return d ;
}

/* The next name of a reading that can be a message's file (not a dot
   file, a unique part, no newline, which the uidlist could not hold),
   with its length; 0 at the end, errno then set by a failed readdir. */
char const *tern_store__nextname (DIR *d, size_t *len)
{
  for (;;)
  {
    struct dirent *de ;
    errno = 0 ;
    de = readdir(d) ;
    if (!de) return 0 ;
    if (de->d_name[0] == '.') continue ;
    *len = strlen(de->d_name) ;
    if (memchr(de->d_name, '\n', *len) || !tern_maildir_uniqlen(de->d_name, *len)) continue ;
    return de->d_name ;
  }
}

static int listdir (int fd, unsigned int incur, stralloc *names, genalloc *files)
{
  DIR *d = tern_store__opendir(fd) ;
  char const *nm ;
  size_t len ;
  if (!d) return 0 ;
  while ((nm = tern_store__nextname(d, &len)))
  {
    file f = { .uid = 0, .incur = incur, .num = 0, .name = names->len, .len = len } ;
    uint64_scan(nm, &f.num) ;
    if (!stralloc_catb(names, nm, len + 1) || !genalloc_append(file, files, &f)) { errno = ENOMEM ; break ; }
  }
  {
    int e = errno ;
    closedir(d) ;
    errno = e ;
    return !e ;
  }
}

static int uniq_cmp (void const *a, void const *b)
{
  file const *x = a, *y = b ;
  size_t lx = tern_maildir_uniqlen(sortbase + x->name, x->len), ly = tern_maildir_uniqlen(sortbase + y->name, y->len) ;
  int c = memcmp(sortbase + x->name, sortbase + y->name, lx < ly ? lx : ly) ;
  if (c) return c ;
  if (lx != ly) return lx < ly ? -1 : 1 ;
  return x->incur != y->incur ? (x->incur ? -1 : 1) : 0 ;
}

/* Two files with one unique name (a tool that copied a file within the
   folder): the one in new/, or the later one, is renamed to a unique
   name of its own, so that both are messages; none is left out. */
static int undup (tern_store *st, stralloc *names, genalloc *files)
{
  size_t n = genalloc_len(file, files) ;
  sortbase = names->s ;
  if (n < 2) return 1 ;
  qsort(genalloc_s(file, files), n, sizeof(file), &uniq_cmp) ;
  for (size_t i = 1 ; i < n ; i++)
  {
    file *a = genalloc_s(file, files) + i - 1, *b = a + 1 ;
    size_t la = tern_maildir_uniqlen(names->s + a->name, a->len), lb = tern_maildir_uniqlen(names->s + b->name, b->len) ;
    stralloc nn = STRALLOC_ZERO ;
    size_t off ;
    if (la != lb || memcmp(names->s + a->name, names->s + b->name, la)) continue ;
    if (!tern_maildir_newname(&nn, TERN_SIZE_UNKNOWN, TERN_SIZE_UNKNOWN)) return 0 ;
    nn.len-- ;
    if (!stralloc_catb(&nn, names->s + b->name + lb, b->len - lb) || !stralloc_0(&nn)) { stralloc_free(&nn) ; return 0 ; }
    if (renameat(b->incur ? st->curfd : st->newfd, names->s + b->name, b->incur ? st->curfd : st->newfd, nn.s) < 0) { stralloc_free(&nn) ; continue ; }
    strerr_warnw("two files with one unique name in ", st->path.s, ": renamed ", names->s + b->name, " to ", nn.s) ;
    off = names->len ;
    if (!stralloc_catb(names, nn.s, nn.len)) { stralloc_free(&nn) ; return 0 ; }
    stralloc_free(&nn) ;
    sortbase = names->s ;
    b = genalloc_s(file, files) + i ;
    b->name = off ;
    b->len = strlen(names->s + off) ;
  }
  return 1 ;
}

static int build (tern_store *st)
{
  stralloc ul = STRALLOC_ZERO, names = STRALLOC_ZERO, lines = STRALLOC_ZERO ;
  genalloc ents = GENALLOC_ZERO, files = GENALLOC_ZERO ;
  uint32_t uv = 0, next = 1, base ;
  uint64_t ulsize = 0, base64, newmt = 0, curmt = 0 ;
  size_t off, nfiles, nents ;
  int haveul = 0, ok = 0 ;
  wctx w ;
  struct timespec now ;

  if (!tern_store__lock(st)) return 0 ;
  /* another process may have built it while we waited */
  {
    int r = env_open(st, INDEX_DIR, 0) ;
    if (r == 1) { tern_store__unlock(st) ; return 1 ; }
  }
  strerr_warni("building the index of ", st->path.s) ;
  tern_store__dirmt(st->newfd, &newmt) ;
  tern_store__dirmt(st->curfd, &curmt) ;

  /* the uidlist: the UIDs to keep */
  if (tern_store__readfile(st->dirfd, UIDLIST, &ul))
  {
    if (tern_store__uidlist_header(ul.s, ul.len, &uv, &next, &off))
    {
      haveul = 1 ;
      for (;;)
      {
        ent e ;
        char const *nm ;
        int r = tern_store__uidlist_line(ul.s, ul.len, &off, &e.uid, &nm, &e.len) ;
        if (r <= 0) break ;
        e.name = nm - ul.s ;
        if (e.uid >= next) next = e.uid + 1 ;
        if (!genalloc_append(ent, &ents, &e)) goto end ;
      }
    }
    else
    {
      strerr_warnw("unreadable uidlist in ", st->path.s, ": kept as tern-uidlist.broken, new UIDVALIDITY") ;
      renameat(st->dirfd, UIDLIST, st->dirfd, UIDLIST ".broken") ;
    }
  }
  else if (errno != ENOENT) goto end ;
  nents = genalloc_len(ent, &ents) ;
  sortbase = ul.s ;
  if (nents) qsort(genalloc_s(ent, &ents), nents, sizeof(ent), &ent_cmp) ;

  /* the files */
  if (!listdir(st->newfd, 0, &names, &files) || !listdir(st->curfd, 1, &names, &files)) goto end ;
  nfiles = genalloc_len(file, &files) ;
  if (!undup(st, &names, &files)) goto end ;
  for (size_t i = 0 ; i < nfiles ; i++)
  {
    file *f = genalloc_s(file, &files) + i ;
    ent key = { .uid = 0 } ;
    size_t lo = 0, hi = nents ;
    key.len = tern_maildir_uniqlen(names.s + f->name, f->len) ;
    /* binary search of the uidlist by unique name */
    while (lo < hi)
    {
      size_t mid = (lo + hi) / 2 ;
      ent const *e = genalloc_s(ent, &ents) + mid ;
      size_t n = e->len < key.len ? e->len : key.len ;
      int c = memcmp(ul.s + e->name, names.s + f->name, n) ;
      if (!c) c = e->len < key.len ? -1 : e->len > key.len ;
      if (!c) { f->uid = e->uid ; genalloc_s(ent, &ents)[mid].uid = 0 ; break ; }   /* taken: a duplicate gets a new UID */
      if (c < 0) lo = mid + 1 ; else hi = mid ;
    }
  }
  /* files the uidlist does not know get UIDs in the order they came */
  sortbase = names.s ;
  if (nfiles) qsort(genalloc_s(file, &files), nfiles, sizeof(file), &file_cmp) ;
  if (!haveul && !tern_store__uidvalidity_new(st->path.s, &uv)) goto end ;
  {
    genalloc nu = GENALLOC_ZERO, nn = GENALLOC_ZERO, nl = GENALLOC_ZERO ;
    for (size_t i = 0 ; i < nfiles ; i++)
    {
      file *f = genalloc_s(file, &files) + i ;
      char const *nm = names.s + f->name ;
      size_t l = tern_maildir_uniqlen(nm, f->len) ;
      if (f->uid) continue ;
      f->uid = next++ ;
      if (!genalloc_append(uint32_t, &nu, &f->uid) || !genalloc_append(char const *, &nn, &nm) || !genalloc_append(size_t, &nl, &l))
      { genalloc_free(uint32_t, &nu) ; genalloc_free(char const *, &nn) ; genalloc_free(size_t, &nl) ; goto end ; }
    }
    if (!haveul)
    {
      /* a new uidlist, every file in it */
      for (size_t i = 0 ; i < nfiles ; i++)
      {
        file const *f = genalloc_s(file, &files) + i ;
        char fmt[UINT_FMT] ;
        if (!stralloc_catb(&lines, fmt, uint_fmt(fmt, f->uid)) || !stralloc_catb(&lines, " ", 1)
         || !stralloc_catb(&lines, names.s + f->name, tern_maildir_uniqlen(names.s + f->name, f->len))
         || !stralloc_catb(&lines, "\n", 1)) goto end ;
      }
      if (!tern_store__uidlist_write(st, uv, next, lines.s, lines.len, &ulsize)) goto end ;
    }
    else if (genalloc_len(uint32_t, &nu))
    {
      if (!tern_store__uidlist_append(st, genalloc_s(uint32_t, &nu), genalloc_s(char const *, &nn), genalloc_s(size_t, &nl), genalloc_len(uint32_t, &nu), &ulsize))
      { genalloc_free(uint32_t, &nu) ; genalloc_free(char const *, &nn) ; genalloc_free(size_t, &nl) ; goto end ; }
    }
    else
    {
      struct stat s ;
      if (fstatat(st->dirfd, UIDLIST, &s, 0) < 0) goto end ;
      ulsize = s.st_size ;
    }
    genalloc_free(uint32_t, &nu) ; genalloc_free(char const *, &nn) ; genalloc_free(size_t, &nl) ;
  }

  /* the index, beside the old one, then in its place */
  rmtree(st->dirfd, INDEX_DIR ".new") ;
  if (mkdirat(st->dirfd, INDEX_DIR ".new", 0700) < 0) goto end ;
  if (env_open(st, INDEX_DIR ".new", MDB_CREATE) != 1) goto end ;
  clock_gettime(CLOCK_REALTIME, &now) ;
  /* MODSEQs start from the time in microseconds: above any a client may
     have seen from an index that was lost (RFC 7162 asks them never to
     go back) */
  base64 = (uint64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 ;
  memset(&w, 0, sizeof(w)) ;
  w.st = st ;
  if (mdb_txn_begin(st->env, 0, 0, &w.txn)) goto end ;
  w.modseq = w.hms = w.oldest = base64 ;
  w.uidnext = next ;
  base = next ;
  for (size_t i = 0 ; i < nfiles ; i++)
  {
    file const *f = genalloc_s(file, &files) + i ;
    char const *nm = names.s + f->name ;
    struct stat s ;
    rec r = { .modseq = base64, .size = TERN_SIZE_UNKNOWN } ;
    if (fstatat(f->incur ? st->curfd : st->newfd, nm, &s, 0) < 0) continue ;   /* gone since */
    if (!S_ISREG(s.st_mode)) continue ;
    tern_maildir_flags(nm, f->len, &r.flags, &r.kw) ;
    r.idate = s.st_mtim.tv_sec ;
    r.sdate = s.st_ctim.tv_sec ;
    r.fsize = s.st_size ;
    r.size = tern_maildir_sizefield(nm, f->len, 'W') ;
    r.incur = f->incur ;
    r.namelen = f->len ;
    if (!tern_store__insert(&w, f->uid, &r, nm))
    {
      if (errno == EINVAL) continue ;
      mdb_txn_abort(w.txn) ;
      goto end ;
    }
    /* a message still in new/ was never seen by a session: \Recent */
    if (!f->incur && f->uid < base) base = f->uid ;
    /* and a folder without a uidlist was never seen by any: all are */
    if (!haveul && f->uid < base) base = f->uid ;
  }
  if (!tern_store__meta_put(w.txn, st->dmeta, M_VERSION, INDEX_VERSION)
   || !tern_store__meta_put(w.txn, st->dmeta, M_UIDVALIDITY, uv)
   || !tern_store__meta_put(w.txn, st->dmeta, M_ULSIZE, ulsize)
   || !tern_store__meta_put(w.txn, st->dmeta, M_NEWMT, tern_store__trusted(newmt) ? newmt : 0)
   || !tern_store__meta_put(w.txn, st->dmeta, M_CURMT, tern_store__trusted(curmt) ? curmt : 0)
   || !tern_store__meta_put(w.txn, st->dmeta, M_RECENT, base)
   || !tern_store__meta_put(w.txn, st->dmeta, M_HMS, w.hms)
   || !tern_store__meta_put(w.txn, st->dmeta, M_UIDNEXT, w.uidnext)
   || !tern_store__meta_put(w.txn, st->dmeta, M_MESSAGES, w.messages)
   || !tern_store__meta_put(w.txn, st->dmeta, M_UNSEEN, w.unseen)
   || !tern_store__meta_put(w.txn, st->dmeta, M_DELETED, w.deleted)
   || !tern_store__meta_put(w.txn, st->dmeta, M_SIZE, w.size)
   || !tern_store__meta_put(w.txn, st->dmeta, M_UNSIZED, w.unsized)
   || !tern_store__meta_put(w.txn, st->dmeta, M_NTOMB, 0)
   || !tern_store__meta_put(w.txn, st->dmeta, M_OLDEST, w.oldest))
  { mdb_txn_abort(w.txn) ; goto end ; }
  if (mdb_txn_commit(w.txn)) goto end ;
  if (mdb_env_sync(st->env, 1)) goto end ;
  env_close(st) ;
  rmtree(st->dirfd, INDEX_DIR) ;
  if (renameat(st->dirfd, INDEX_DIR ".new", st->dirfd, INDEX_DIR) < 0) goto end ;
  tern_store__fsync_fd(st->dirfd) ;
  ok = env_open(st, INDEX_DIR, 0) == 1 ;
 end:
  {
    int e = errno ;
    if (!ok) env_close(st) ;
    tern_store__unlock(st) ;
    stralloc_free(&ul) ; stralloc_free(&names) ; stralloc_free(&lines) ;
    genalloc_free(ent, &ents) ; genalloc_free(file, &files) ;
    errno = e ;
  }
  return ok ;
}

/* The uidlist was lost but the index holds it all: written again from
   the index, same UIDVALIDITY, same UIDs. */
static int uidlist_restore (tern_store *st, uint32_t uv)
{
  stralloc lines = STRALLOC_ZERO ;
  tern_store_iter it ;
  tern_msg m ;
  uint64_t next = 0, size ;
  int r, ok = 0 ;
  if (!tern_store__lock(st)) return 0 ;
  if (!faccessat(st->dirfd, UIDLIST, F_OK, 0)) { tern_store__unlock(st) ; return 1 ; }
  strerr_warnw("no uidlist in ", st->path.s, ": writing it again from the index") ;
  if (!tern_store_rbegin(st)) goto end ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_UIDNEXT, &next) <= 0) goto endr ;
  if (!tern_store_iter_start(st, &it, 1)) goto endr ;
  while ((r = tern_store_next(&it, &m)) == 1)
  {
    char fmt[UINT_FMT] ;
    if (!stralloc_catb(&lines, fmt, uint_fmt(fmt, m.uid)) || !stralloc_catb(&lines, " ", 1)
     || !stralloc_catb(&lines, m.name, tern_maildir_uniqlen(m.name, m.namelen)) || !stralloc_catb(&lines, "\n", 1)) break ;
  }
  tern_store_iter_end(&it) ;
  if (r) goto endr ;
  tern_store_rend(st) ;
  ok = tern_store__uidlist_write(st, uv, next, lines.s, lines.len, &size) ;
  if (ok)
  {
    wctx w ;
    ok = tern_store__wbegin(st, &w) && tern_store__meta_put(w.txn, st->dmeta, M_ULSIZE, size) && tern_store__wcommit(&w) ;
  }
  goto end ;
 endr:
  tern_store_rend(st) ;
 end:
  tern_store__unlock(st) ;
  stralloc_free(&lines) ;
  return ok ;
}

/* What the index says must agree with the uidlist: 1 yes, 0 no
   (damaged: build again), -1 error. */
static int agree (tern_store *st)
{
  char buf[128] ;
  uint64_t v, uv ;
  uint32_t fuv, fnext ;
  size_t off ;
  ssize_t n ;
  int fd ;
  if (!tern_store_rbegin(st)) return -1 ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_VERSION, &v) <= 0 || v != INDEX_VERSION
   || tern_store__meta_get(st->rtxn, st->dmeta, M_UIDVALIDITY, &uv) <= 0 || !uv || uv > UINT32_MAX)
  {
    tern_store_rend(st) ;
    return 0 ;
  }
  tern_store_rend(st) ;
  st->uidvalidity = uv ;
  fd = openat(st->dirfd, UIDLIST, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0)
  {
    if (errno != ENOENT) return -1 ;
    return uidlist_restore(st, uv) ? 1 : -1 ;
  }
  n = read(fd, buf, sizeof(buf)) ;
  fd_close(fd) ;
  if (n < 0) return -1 ;
  if (!tern_store__uidlist_header(buf, n, &fuv, &fnext, &off) || fuv != uv) return 0 ;
  return 1 ;
}

static int subdirs (tern_store *st)
{
  static char const *const sub[3] = { "cur", "new", "tmp" } ;
  for (unsigned int i = 0 ; i < 3 ; i++)
    if (mkdirat(st->dirfd, sub[i], 0700) < 0 && errno != EEXIST) return 0 ;
  st->newfd = openat(st->dirfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  st->curfd = openat(st->dirfd, "cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  return st->newfd >= 0 && st->curfd >= 0 ;
}

int tern_store_open (tern_store *st, char const *path, unsigned int flags)
{
  int r ;
  if (!geteuid()) return (errno = EPERM, 0) ;
  st->flags = flags ;
  st->path.len = 0 ;
  if (!stralloc_cats(&st->path, path) || !stralloc_0(&st->path)) return 0 ;
  st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (st->dirfd < 0) return 0 ;
  if (!subdirs(st)) goto err ;
  r = env_open(st, INDEX_DIR, 0) ;
  if (r == 1)
  {
    r = agree(st) ;
    if (r < 0) goto err ;
    if (!r)
    {
      env_close(st) ;
      strerr_warnw("index of ", path, " does not match its uidlist: building it again") ;
      r = -1 ;
      errno = EILSEQ ;
    }
    else
    {
      /* commits without sync, then a crash or a reboot: maybe damaged */
      r = tern_store__crashed(st) ;
      if (r < 0) goto err ;
      if (r)
      {
        env_close(st) ;
        strerr_warnw("index of ", path, " was written without sync before the system went down: building it again") ;
        r = -1 ;
        errno = EILSEQ ;
      }
      else r = 1 ;
    }
  }
  if (r != 1)
  {
    if (!r && !(flags & TERN_STORE_CREATE)) { errno = ENOENT ; goto err ; }
    if (r < 0)
    {
      if (errno != EILSEQ && errno != EINVAL) goto err ;
      if (flags & TERN_STORE_NOWAIT) goto err ;   /* deliver leaves it to the next session */
      strerr_warnw("damaged index in ", path, ": building it again") ;
      if (!tern_store__lock(st)) goto err ;
      rmtree(st->dirfd, INDEX_DIR) ;
      tern_store__unlock(st) ;
    }
    if (!build(st)) goto err ;
    r = agree(st) ;
    if (r != 1) { if (!r) errno = EILSEQ ; goto err ; }
  }
  if (!tern_store__kw_load(st)) goto err ;
  return 1 ;
 err:
  {
    int e = errno ;
    tern_store_close(st) ;
    errno = e ;
  }
  return 0 ;
}

/* LMDB does not say where it mapped the file (me_mapaddr is only for
   MDB_FIXEDMAP): /proc/self/maps does, by the file's inode. Read a
   buffer at a time (a sanitizer's process has thousands of lines). */
static void unmap_line (char const *line, unsigned long ino)
{
  unsigned long lo, hi, n ;
  char perms[8] ;
  /* "lo-hi perms offset dev inode path": a read-only shared mapping of
     the file; its pages stay in the page cache, this process only stops
     mapping them until it reads again */
  if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &lo, &hi, perms, &n) == 4
   && n == ino && perms[3] == 's' && perms[1] == '-')
    madvise((void *)lo, hi - lo, MADV_DONTNEED) ;
}

void tern_store_unmap_pages (tern_store *st)
{
  struct stat s ;
  char buf[4096] ;
  size_t have = 0 ;
  int fd, skip = 0 ;
  mdb_filehandle_t mfd ;
  if (!st->env || mdb_env_get_fd(st->env, &mfd) || fstat(mfd, &s) < 0) return ;
  fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) return ;
  for (;;)
  {
    ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have) ;
    char *line = buf, *nl ;
    if (r <= 0) break ;
    have += r ;
    buf[have] = 0 ;
    while ((nl = strchr(line, '\n')))
    {
      *nl = 0 ;
      if (!skip) unmap_line(line, (unsigned long)s.st_ino) ;
      skip = 0 ;
      line = nl + 1 ;
    }
    have = buf + have - line ;
    /* a line longer than the buffer (a long path): dropped to its end */
    if (have == sizeof(buf) - 1) { have = 0 ; skip = 1 ; }
    memmove(buf, line, have) ;
  }
  fd_close(fd) ;
}

void tern_store_close (tern_store *st)
{
  tern_store__cache_drop(st) ;
  /* what this process committed without sync; deliver leaves another's */
  if ((st->unsynced || !(st->flags & TERN_STORE_NOWAIT)) && !tern_store_settle(st))
    strerr_warnwu2sys("sync the index of ", st->path.s) ;
  env_close(st) ;
  tern_store__unwatch(st) ;
  if (st->newfd >= 0) { fd_close(st->newfd) ; st->newfd = -1 ; }
  if (st->curfd >= 0) { fd_close(st->curfd) ; st->curfd = -1 ; }
  if (st->dirfd >= 0) { fd_close(st->dirfd) ; st->dirfd = -1 ; }
  st->locked = 0 ;
  stralloc_free(&st->path) ;
  stralloc_free(&st->evnames) ;
  stralloc_free(&st->kw) ;
  stralloc_free(&st->scratch) ;
  st->nkw = 0 ;
}
