/* tern_store_write: the changes sessions, deliver and pop3-serve make.
   Each one: the lock and a write transaction, the Maildir changed first
   (a rename, a link, an unlink), then the index; a crash in between
   leaves a Maildir the next sync reads right. The directories' recorded
   mtimes follow our own changes only when nothing else had changed them
   (they were trusted just before): otherwise they are cleared and the
   next process without inotify reads the directory again. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/types.h>
#include <skalibs/djbunix.h>
#include "tern_store_int.h"

/* ---- the recorded mtimes around our own changes ---- */

typedef struct mtguard_s mtguard ;
struct mtguard_s { int clean[2] ; } ;

static int mt_before (wctx *w, mtguard *g)
{
  static char const *const key[2] = { M_NEWMT, M_CURMT } ;
  int fds[2] = { w->st->newfd, w->st->curfd } ;
  for (int i = 0 ; i < 2 ; i++)
  {
    uint64_t now, stored = 0 ;
    if (!tern_store__dirmt(fds[i], &now) || tern_store__meta_get(w->txn, w->st->dmeta, key[i], &stored) < 0) return 0 ;
    g->clean[i] = now == stored && tern_store__trusted(stored) ;
  }
  return 1 ;
}

static int mt_after (wctx *w, mtguard const *g)
{
  static char const *const key[2] = { M_NEWMT, M_CURMT } ;
  int fds[2] = { w->st->newfd, w->st->curfd } ;
  for (int i = 0 ; i < 2 ; i++)
  {
    uint64_t now = 0 ;
    if (g->clean[i] && !tern_store__dirmt(fds[i], &now)) return 0 ;
    if (!tern_store__meta_put(w->txn, w->st->dmeta, key[i], g->clean[i] ? now : 0)) return 0 ;
  }
  return 1 ;
}

/* ---- flags ---- */

int tern_store_setflags (tern_store *st, uint32_t const *uids, size_t n, unsigned int op, uint32_t flags, uint32_t kw, uint64_t unchangedsince, genalloc *changed, genalloc *failed, uint64_t *modseq)
{
  stralloc nn = STRALLOC_ZERO ;
  mtguard g ;
  wctx w ;
  /* flags are in the file names: the index's commit needs no sync */
  if (!tern_store__wbegin_nosync(st, &w)) return 0 ;
  if (!mt_before(&w, &g)) goto err ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *name ;
    rec r, nr ;
    int k = tern_store__getrec(w.txn, st, uids[i], &r, &name) ;
    if (k < 0) goto err ;
    if (!k) continue ;
    nr = r ;
    switch (op)
    {
      case TERN_STORE_SET : nr.flags = (r.flags & ~TERN_F_IMAP) | (flags & TERN_F_IMAP) ; nr.kw = kw ; break ;
      case TERN_STORE_ADD : nr.flags |= flags & TERN_F_IMAP ; nr.kw |= kw ; break ;
      default : nr.flags &= ~(flags & TERN_F_IMAP) ; nr.kw &= ~kw ; break ;
    }
    /* RFC 7162 3.1.3: UNCHANGEDSINCE 0 always fails; a later MODSEQ
       fails unless the STORE would change nothing (3.1.12: no spurious
       MODIFIED for +FLAGS and -FLAGS) */
    if (unchangedsince != UINT64_MAX && (!unchangedsince || (r.modseq > unchangedsince && (nr.flags != r.flags || nr.kw != r.kw))))
    {
      if (failed && !genalloc_append(uint32_t, failed, uids + i)) goto err ;
      continue ;
    }
    /* nothing changes: no new MODSEQ */
    if (nr.flags == r.flags && nr.kw == r.kw) continue ;
    nn.len = 0 ;
    if (!tern_maildir_flagname(&nn, name, r.namelen, nr.flags, nr.kw)) goto err ;
    /* flags belong in cur/ (the Maildir spec): a message in new/ moves */
    if (renameat(r.incur ? st->curfd : st->newfd, name, st->curfd, nn.s) < 0)
    {
      if (errno == ENOENT) continue ;   /* another program moved it: the next sync says where */
      goto err ;
    }
    nr.incur = 1 ;
    nr.namelen = nn.len - 1 ;
    nr.modseq = w.modseq ;
    if (!tern_store__update(&w, uids[i], &r, &nr, nn.s)) goto err ;
    if (changed && !genalloc_append(uint32_t, changed, uids + i)) goto err ;
  }
  if (!mt_after(&w, &g)) goto err ;
  if (modseq) *modseq = w.changed ? w.modseq : w.hms ;
  stralloc_free(&nn) ;
  return tern_store__wcommit(&w) ;
 err:
  {
    int e = errno ;
    tern_store__wabort(&w) ;
    stralloc_free(&nn) ;
    errno = e ;
  }
  return 0 ;
}

/* A keyword is an atom (RFC 3501 9 flag-keyword) that is not a system
   flag: no "\", nothing atom-specials has, at most 64 octets. */
static int kw_sane (char const *s, size_t len)
{
  if (!len || len > 64) return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    unsigned char c = s[i] ;
    if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c)) return 0 ;
  }
  return 1 ;
}

int tern_store_keyword (tern_store *st, char const *s, size_t len, int create)
{
  int i = tern_store_keyword_find(st, s, len) ;
  int fd ;
  char buf[80] ;
  size_t n ;
  if (i >= 0 || !create) return i ;
  if (!kw_sane(s, len)) return (errno = EINVAL, -1) ;
  if (!tern_store__lock(st)) return -1 ;
  /* another process may have added it, or others */
  if (!tern_store__kw_load(st)) goto err ;
  i = tern_store_keyword_find(st, s, len) ;
  if (i >= 0) { tern_store__unlock(st) ; return i ; }
  if (st->nkw >= TERN_KW_MAX) { errno = ENOSPC ; goto err ; }
  n = uint_fmt(buf, st->nkw) ;
  buf[n++] = ' ' ;
  memcpy(buf + n, s, len) ; n += len ;
  buf[n++] = '\n' ;
  fd = openat(st->dirfd, KEYWORDS, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) ;
  if (fd < 0) goto err ;
  if (write(fd, buf, n) != (ssize_t)n || fsync(fd) < 0) { int e = errno ; fd_close(fd) ; errno = e ; goto err ; }
  fd_close(fd) ;
  if (!tern_store__kw_load(st)) goto err ;
  tern_store__unlock(st) ;
  return tern_store_keyword_find(st, s, len) ;
 err:
  {
    int e = errno ;
    tern_store__unlock(st) ;
    errno = e ;
  }
  return -1 ;
}

/* ---- expunge ---- */

/* The file of a message another program renamed since we indexed it:
   found by its unique name in cur/ (a whole reading: rare). */
static int refind (tern_store *st, char const *name, size_t len, stralloc *out)
{
  size_t ul = tern_maildir_uniqlen(name, len) ;
  DIR *d = tern_store__opendir(st->curfd) ;
  int found = 0 ;
  if (!d) return 0 ;
  for (;;)
  {
    struct dirent *de = readdir(d) ;
    if (!de) break ;
    if (!strncmp(de->d_name, name, ul) && (de->d_name[ul] == ':' || !de->d_name[ul]))
    {
      out->len = 0 ;
      found = stralloc_cats(out, de->d_name) && stralloc_0(out) ;
      break ;
    }
  }
  closedir(d) ;
  return found ;
}

int tern_store_expunge (tern_store *st, uint32_t const *uids, size_t n)
{
  stralloc other = STRALLOC_ZERO ;
  int dirs = 0 ;
  mtguard g ;
  wctx w ;
  if (!n) return 1 ;
  if (!tern_store__wbegin(st, &w)) return 0 ;
  if (!mt_before(&w, &g)) goto err ;
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *name ;
    rec r ;
    int k = tern_store__getrec(w.txn, st, uids[i], &r, &name) ;
    if (k < 0) goto err ;
    if (!k) continue ;
    {
      size_t nl = r.namelen ;
      char copy[nl + 1] ;
      memcpy(copy, name, nl + 1) ;
      if (unlinkat(r.incur ? st->curfd : st->newfd, copy, 0) < 0)
      {
        if (errno != ENOENT) goto err ;
        /* renamed behind our back: only if it is still \Deleted there */
        if (refind(st, copy, nl, &other))
        {
          uint32_t f, kw ;
          tern_maildir_flags(other.s, other.len - 1, &f, &kw) ;
          if (!(f & TERN_F_DELETED)) continue ;
          if (unlinkat(st->curfd, other.s, 0) < 0 && errno != ENOENT) goto err ;
        }
      }
      dirs |= r.incur ? 2 : 1 ;
      if (!tern_store__delete(&w, uids[i], &r, copy, nl)) goto err ;
    }
  }
  /* an expunge stays expunged after a crash */
  if ((dirs & 1 && !tern_store__fsync_fd(st->newfd)) || (dirs & 2 && !tern_store__fsync_fd(st->curfd))) goto err ;
  if (!mt_after(&w, &g)) goto err ;
  stralloc_free(&other) ;
  return tern_store__wcommit(&w) ;
 err:
  {
    int e = errno ;
    tern_store__wabort(&w) ;
    stralloc_free(&other) ;
    errno = e ;
  }
  return 0 ;
}

int tern_store_expunge_names (tern_store *st, char const *names, size_t nnames)
{
  size_t pos = 0 ;
  wctx w ;
  if (!nnames) return 1 ;
  if (!tern_store__wbegin(st, &w)) return 0 ;
  for (size_t i = 0 ; i < nnames ; i++)
  {
    char const *nm = names + pos ;
    size_t len = strlen(nm), ul = tern_maildir_uniqlen(nm, len) ;
    MDB_val k = { .mv_size = ul, .mv_data = (void *)nm }, d ;
    pos += len + 1 ;
    int r = mdb_get(w.txn, st->dname, &k, &d) ;
    if (r == MDB_NOTFOUND) continue ;
    if (r || d.mv_size != 4) { errno = r ? tern_store__mdberr(r) : EILSEQ ; goto err ; }
    {
      uint32_t uid ;
      char const *name ;
      rec rc ;
      memcpy(&uid, d.mv_data, 4) ;
      r = tern_store__getrec(w.txn, st, uid, &rc, &name) ;
      if (r < 0) goto err ;
      if (!r) continue ;
      {
        size_t nl = rc.namelen ;
        char copy[nl + 1] ;
        memcpy(copy, name, nl + 1) ;
        /* only what is really gone: the caller removed it */
        if (!faccessat(rc.incur ? st->curfd : st->newfd, copy, F_OK, AT_SYMLINK_NOFOLLOW)) continue ;
        if (!tern_store__delete(&w, uid, &rc, copy, nl)) goto err ;
      }
    }
  }
  /* the caller removed files from both directories: read again later */
  if (!tern_store__meta_put(w.txn, st->dmeta, M_NEWMT, 0) || !tern_store__meta_put(w.txn, st->dmeta, M_CURMT, 0)) goto err ;
  return tern_store__wcommit(&w) ;
 err:
  {
    int e = errno ;
    tern_store__wabort(&w) ;
    errno = e ;
  }
  return 0 ;
}

/* ---- new messages ---- */

/* Index entries for files now in cur/ (or new/) under names[i], under
   the transaction: UIDs, the uidlist, the records. */
static int index_new (wctx *w, char const *const *names, unsigned int const *incur, tern_store_new *nm, size_t n, uint32_t *uids)
{
  tern_store *st = w->st ;
  size_t lens[n ? n : 1] ;
  uint64_t ulsize ;
  int64_t now = time(0) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if (w->uidnext >= UINT32_MAX) return (errno = EOVERFLOW, 0) ;
    uids[i] = w->uidnext++ ;
    lens[i] = tern_maildir_uniqlen(names[i], strlen(names[i])) ;
  }
  if (!tern_store__uidlist_append(st, uids, names, lens, n, &ulsize)
   || !tern_store__meta_put(w->txn, st->dmeta, M_ULSIZE, ulsize)) return 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    rec r = { .modseq = w->modseq, .sdate = now } ;
    size_t len = strlen(names[i]) ;
    tern_maildir_flags(names[i], len, &r.flags, &r.kw) ;
    r.idate = nm[i].internaldate ;
    r.size = nm[i].size ;
    r.fsize = nm[i].filesize ;
    r.incur = incur[i] ;
    r.namelen = len ;
    if (!tern_store__insert(w, uids[i], &r, names[i])) return 0 ;
  }
  return 1 ;
}

int tern_store_add (tern_store *st, tern_store_new *nm, size_t n)
{
  stralloc names = STRALLOC_ZERO ;
  size_t offs[n ? n : 1] ;
  char const *np[n ? n : 1] ;
  unsigned int incur[n ? n : 1] ;
  uint32_t uids[n ? n : 1] ;
  size_t linked = 0 ;
  int tmpfd ;
  mtguard g ;
  wctx w ;
  if (!n) return 1 ;
  tmpfd = nm[0].tmpdirfd >= 0 ? dup(nm[0].tmpdirfd) : openat(st->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (tmpfd < 0) return 0 ;
  if (!tern_store__wbegin(st, &w)) { fd_close(tmpfd) ; return 0 ; }
  if (!mt_before(&w, &g)) goto err ;
  /* into cur/ under fresh names with the flags; the tmp/ names stay
     until the end, so that a failure leaves them as they were */
  for (size_t i = 0 ; i < n ; i++)
  {
    stralloc u = STRALLOC_ZERO ;
    struct timespec ts[2] ;
    int r ;
    if (!nm[i].internaldate) nm[i].internaldate = time(0) ;
    /* INTERNALDATE is the file's mtime, as a rebuilt index reads it */
    ts[0].tv_sec = ts[1].tv_sec = nm[i].internaldate ;
    ts[0].tv_nsec = ts[1].tv_nsec = 0 ;
    utimensat(tmpfd, nm[i].tmpname, ts, 0) ;
    if (!tern_maildir_newname(&u, nm[i].filesize, nm[i].size)) goto err ;
    offs[i] = names.len ;
    r = tern_maildir_flagname(&names, u.s, u.len - 1, nm[i].flags, nm[i].keywords) ;
    stralloc_free(&u) ;
    if (!r) goto err ;
    if (linkat(tmpfd, nm[i].tmpname, st->curfd, names.s + offs[i], 0) < 0) goto err ;
    linked++ ;
    incur[i] = 1 ;
  }
  if (!tern_store__fsync_fd(st->curfd)) goto err ;
  for (size_t i = 0 ; i < n ; i++) np[i] = names.s + offs[i] ;
  if (!index_new(&w, np, incur, nm, n, uids)) goto err ;
  if (!mt_after(&w, &g)) goto err ;
  if (!tern_store__wcommit(&w)) goto errc ;
  for (size_t i = 0 ; i < n ; i++) { nm[i].uid = uids[i] ; unlinkat(tmpfd, nm[i].tmpname, 0) ; }
  fd_close(tmpfd) ;
  stralloc_free(&names) ;
  return 1 ;
 err:
  {
    int e = errno ;
    tern_store__wabort(&w) ;
    errno = e ;
  }
 errc:
  {
    int e = errno ;
    for (size_t i = 0 ; i < linked ; i++) unlinkat(st->curfd, names.s + offs[i], 0) ;
    fd_close(tmpfd) ;
    stralloc_free(&names) ;
    errno = e ;
  }
  return 0 ;
}

int tern_store_delivered (tern_store *st, char const *name, uint64_t fsize, uint64_t size, int64_t mtime)
{
  tern_store_new nm = { .tmpname = 0, .tmpdirfd = -1, .flags = 0, .keywords = 0, .internaldate = mtime, .size = size, .filesize = fsize } ;
  size_t len = strlen(name), ul = tern_maildir_uniqlen(name, len) ;
  MDB_val k = { .mv_size = ul, .mv_data = (void *)name }, d ;
  unsigned int incur = 0 ;
  uint32_t uid ;
  mtguard g ;
  wctx w ;
  int r ;
  if (!tern_store__wbegin(st, &w)) return 0 ;
  /* a session's sync may have found it first (and even expunged it, or
     moved it to cur/ since): only a file still in new/ that the index
     does not know is ours to add */
  r = mdb_get(w.txn, st->dname, &k, &d) ;
  if (!r) { tern_store__wabort(&w) ; return 1 ; }
  if (r != MDB_NOTFOUND) { tern_store__wabort(&w) ; errno = tern_store__mdberr(r) ; return 0 ; }
  if (faccessat(st->newfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) { tern_store__wabort(&w) ; return errno == ENOENT ; }
  /* new/ changed by us just now: before-state unknown, so read as the
     directories were before our link (the caller made it already) */
  g.clean[0] = 0 ;
  {
    uint64_t now, stored = 0 ;
    if (!tern_store__dirmt(st->curfd, &now) || tern_store__meta_get(w.txn, st->dmeta, M_CURMT, &stored) < 0) goto err ;
    g.clean[1] = now == stored && tern_store__trusted(stored) ;
  }
  if (!index_new(&w, &name, &incur, &nm, 1, &uid)) goto err ;
  if (!mt_after(&w, &g)) goto err ;
  return tern_store__wcommit(&w) ;
 err:
  {
    int e = errno ;
    tern_store__wabort(&w) ;
    errno = e ;
  }
  return 0 ;
}

/* ---- COPY and MOVE ---- */

int tern_store_copy (tern_store *src, tern_store *dst, uint32_t const *uids, size_t n, int move, uint32_t *newuids)
{
  stralloc names = STRALLOC_ZERO, kwmap = STRALLOC_ZERO ;
  genalloc srcinfo = GENALLOC_ZERO ;   /* tern_store_new, and the source's names in names */
  size_t *offs = 0, *srcoffs = 0, made = 0 ;
  uint32_t *got = 0 ;
  int ok = 0 ;
  if (!n) return 1 ;
  offs = (size_t *)malloc(n * sizeof(size_t)) ;
  srcoffs = (size_t *)malloc(n * sizeof(size_t)) ;
  got = (uint32_t *)malloc(n * sizeof(uint32_t)) ;
  if (!offs || !srcoffs || !got) goto end ;
  for (size_t i = 0 ; i < n ; i++) newuids[i] = 0 ;
  /* what each message is, from the source's index */
  if (!tern_store_rbegin(src)) goto end ;
  for (size_t i = 0 ; i < n ; i++)
  {
    tern_msg m ;
    tern_store_new nm = { 0 } ;
    int r = tern_store_get(src, uids[i], &m) ;
    if (r < 0) { tern_store_rend(src) ; goto end ; }
    srcoffs[i] = (size_t)-1 ;
    if (!r) { if (!genalloc_append(tern_store_new, &srcinfo, &nm)) { tern_store_rend(src) ; goto end ; } continue ; }
    nm.flags = m.flags ;
    nm.keywords = m.keywords ;
    nm.internaldate = m.internaldate ;
    nm.size = m.size ;
    nm.filesize = m.filesize ;
    nm.uid = m.incur ;
    srcoffs[i] = names.len ;
    if (!stralloc_catb(&names, m.name, m.namelen) || !stralloc_0(&names) || !genalloc_append(tern_store_new, &srcinfo, &nm))
    { tern_store_rend(src) ; goto end ; }
  }
  tern_store_rend(src) ;
  /* keywords by name: the destination's own indexes */
  for (size_t i = 0 ; i < n ; i++)
  {
    tern_store_new *nm = genalloc_s(tern_store_new, &srcinfo) + i ;
    uint32_t kw = 0 ;
    for (unsigned int b = 0 ; b < TERN_KW_MAX ; b++)
      if (nm->keywords & (1u << b))
      {
        char const *kn = tern_store_keyword_name(src, b) ;
        int j = kn ? tern_store_keyword(dst, kn, strlen(kn), 1) : -1 ;
        if (j >= 0) kw |= 1u << j ;
      }
    nm->keywords = kw ;
  }
  {
    mtguard g ;
    wctx w ;
    char const **np = (char const **)malloc(n * sizeof(char *)) ;
    unsigned int *incur = (unsigned int *)malloc(n * sizeof(unsigned int)) ;
    tern_store_new *list = (tern_store_new *)malloc(n * sizeof(tern_store_new)) ;
    size_t k = 0 ;
    if (!np || !incur || !list) { free(np) ; free(incur) ; free(list) ; goto end ; }
    if (!tern_store__wbegin(dst, &w)) { free(np) ; free(incur) ; free(list) ; goto end ; }
    if (!mt_before(&w, &g)) goto werr ;
    for (size_t i = 0 ; i < n ; i++)
    {
      tern_store_new *nm = genalloc_s(tern_store_new, &srcinfo) + i ;
      stralloc u = STRALLOC_ZERO ;
      int r ;
      offs[i] = (size_t)-1 ;
      if (srcoffs[i] == (size_t)-1) continue ;
      if (!tern_maildir_newname(&u, nm->filesize, nm->size)) goto werr ;
      {
        /* the EMAILID goes with the message (RFC 8474 5.1: MOVE keeps
           it, and COPY here too), in the new name's ",I=" */
        char id[TERN_EMAILID_MAX + 1] ;
        size_t il = tern_maildir_emailid(id, names.s + srcoffs[i], strlen(names.s + srcoffs[i])) ;
        u.len-- ;
        if (!stralloc_catb(&u, ",I=", 3) || !stralloc_catb(&u, id, il) || !stralloc_0(&u)) { stralloc_free(&u) ; goto werr ; }
      }
      offs[i] = names.len ;
      r = tern_maildir_flagname(&names, u.s, u.len - 1, nm->flags, nm->keywords) ;
      stralloc_free(&u) ;
      if (!r) goto werr ;
      /* a hard link keeps the file, its mtime (INTERNALDATE, which COPY
         keeps: RFC 3501 6.4.7) and its size; MOVE renames it */
      r = move ? renameat(nm->uid ? src->curfd : src->newfd, names.s + srcoffs[i], dst->curfd, names.s + offs[i])
               : linkat(nm->uid ? src->curfd : src->newfd, names.s + srcoffs[i], dst->curfd, names.s + offs[i], 0) ;
      if (r < 0)
      {
        if (errno == ENOENT) { offs[i] = (size_t)-1 ; continue ; }
        goto werr ;
      }
      made++ ;
    }
    if (!tern_store__fsync_fd(dst->curfd)) goto werr ;
    for (size_t i = 0 ; i < n ; i++)
    {
      if (offs[i] == (size_t)-1) continue ;
      np[k] = names.s + offs[i] ;
      incur[k] = 1 ;
      list[k] = genalloc_s(tern_store_new, &srcinfo)[i] ;
      k++ ;
    }
    if (!index_new(&w, np, incur, list, k, got)) goto werr ;
    if (!mt_after(&w, &g)) goto werr ;
    if (!tern_store__wcommit(&w)) { free(np) ; free(incur) ; free(list) ; goto end ; }
    k = 0 ;
    for (size_t i = 0 ; i < n ; i++) if (offs[i] != (size_t)-1) newuids[i] = got[k++] ;
    free(np) ; free(incur) ; free(list) ;
    goto moved ;
   werr:
    {
      int e = errno ;
      tern_store__wabort(&w) ;
      /* undo: a copy's links go; a move's files go back */
      for (size_t i = 0 ; i < n ; i++)
      {
        tern_store_new *nm = genalloc_s(tern_store_new, &srcinfo) + i ;
        if (offs[i] == (size_t)-1 || !made) continue ;
        if (move) renameat(dst->curfd, names.s + offs[i], nm->uid ? src->curfd : src->newfd, names.s + srcoffs[i]) ;
        else unlinkat(dst->curfd, names.s + offs[i], 0) ;
      }
      free(np) ; free(incur) ; free(list) ;
      errno = e ;
      goto end ;
    }
  }
 moved:
  if (move)
  {
    /* the source's files are gone: its index follows */
    genalloc gone = GENALLOC_ZERO ;
    wctx w ;
    int dirs = 0 ;
    for (size_t i = 0 ; i < n ; i++)
      if (newuids[i])
      {
        dirs |= genalloc_s(tern_store_new, &srcinfo)[i].uid ? 2 : 1 ;
        if (!genalloc_append(uint32_t, &gone, uids + i)) goto end ;
      }
    if ((dirs & 1 && !tern_store__fsync_fd(src->newfd)) || (dirs & 2 && !tern_store__fsync_fd(src->curfd))) { genalloc_free(uint32_t, &gone) ; goto end ; }
    if (!tern_store__wbegin(src, &w)) { genalloc_free(uint32_t, &gone) ; goto end ; }
    for (size_t i = 0 ; i < genalloc_len(uint32_t, &gone) ; i++)
    {
      char const *name ;
      rec r ;
      int g = tern_store__getrec(w.txn, src, genalloc_s(uint32_t, &gone)[i], &r, &name) ;
      if (g < 0) { tern_store__wabort(&w) ; genalloc_free(uint32_t, &gone) ; goto end ; }
      if (!g) continue ;
      {
        size_t nl = r.namelen ;
        char copy[nl + 1] ;
        memcpy(copy, name, nl + 1) ;
        if (!tern_store__delete(&w, genalloc_s(uint32_t, &gone)[i], &r, copy, nl)) { tern_store__wabort(&w) ; genalloc_free(uint32_t, &gone) ; goto end ; }
      }
    }
    if (!tern_store__meta_put(w.txn, src->dmeta, M_CURMT, 0) || !tern_store__meta_put(w.txn, src->dmeta, M_NEWMT, 0)) { tern_store__wabort(&w) ; genalloc_free(uint32_t, &gone) ; goto end ; }
    genalloc_free(uint32_t, &gone) ;
    if (!tern_store__wcommit(&w)) goto end ;
  }
  ok = 1 ;
 end:
  {
    int e = errno ;
    free(offs) ; free(srcoffs) ; free(got) ;
    stralloc_free(&names) ; stralloc_free(&kwmap) ;
    genalloc_free(tern_store_new, &srcinfo) ;
    errno = e ;
  }
  return ok ;
}

/* ---- \Recent, and new/ to cur/ ---- */

int tern_store_claim_recent (tern_store *st, uint32_t *from, uint32_t *to)
{
  uint64_t mark = 0, next = 0 ;
  wctx w ;
  /* nothing to claim (the common SELECT): no lock, no write */
  if (!tern_store_rbegin(st)) return 0 ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_RECENT, &mark) < 0 || tern_store__meta_get(st->rtxn, st->dmeta, M_UIDNEXT, &next) <= 0)
  {
    tern_store_rend(st) ;
    return 0 ;
  }
  tern_store_rend(st) ;
  if (next <= mark) { *from = mark ; *to = next ; return 1 ; }
  if (!tern_store__wbegin(st, &w)) return 0 ;
  if (tern_store__meta_get(w.txn, st->dmeta, M_RECENT, &mark) < 0) { tern_store__wabort(&w) ; return 0 ; }
  *from = mark ;
  *to = w.uidnext ;
  if (w.uidnext > mark && !tern_store__meta_put(w.txn, st->dmeta, M_RECENT, w.uidnext)) { tern_store__wabort(&w) ; return 0 ; }
  return tern_store__wcommit(&w) ;
}

int tern_store_to_cur (tern_store *st)
{
  genalloc inn = GENALLOC_ZERO ;
  stralloc nn = STRALLOC_ZERO ;
  MDB_cursor *c ;
  MDB_val k, d ;
  mtguard g ;
  wctx w ;
  int r ;
  /* an empty new/ (the common SELECT): no lock, no write */
  {
    MDB_stat ms ;
    if (!tern_store_rbegin(st)) return 0 ;
    r = mdb_stat(st->rtxn, st->dnew, &ms) ;
    tern_store_rend(st) ;
    if (!r && !ms.ms_entries) return 1 ;
  }
  if (!tern_store__wbegin(st, &w)) return 0 ;
  if (!mt_before(&w, &g)) goto err ;
  r = mdb_cursor_open(w.txn, st->dnew, &c) ;
  if (r) { errno = tern_store__mdberr(r) ; goto err ; }
  for (r = mdb_cursor_get(c, &k, &d, MDB_FIRST) ; !r ; r = mdb_cursor_get(c, &k, &d, MDB_NEXT))
  {
    unsigned int u ;
    memcpy(&u, k.mv_data, sizeof(u)) ;
    if (!genalloc_append(uint32_t, &inn, (uint32_t *)&u)) { mdb_cursor_close(c) ; goto err ; }
  }
  mdb_cursor_close(c) ;
  if (!genalloc_len(uint32_t, &inn)) { tern_store__wabort(&w) ; genalloc_free(uint32_t, &inn) ; return 1 ; }
  for (size_t i = 0 ; i < genalloc_len(uint32_t, &inn) ; i++)
  {
    uint32_t uid = genalloc_s(uint32_t, &inn)[i] ;
    char const *name ;
    rec rc, nr ;
    int k2 = tern_store__getrec(w.txn, st, uid, &rc, &name) ;
    if (k2 < 0) goto err ;
    if (!k2 || rc.incur) continue ;
    nn.len = 0 ;
    if (!tern_maildir_flagname(&nn, name, rc.namelen, rc.flags, rc.kw)) goto err ;
    if (renameat(st->newfd, name, st->curfd, nn.s) < 0)
    {
      if (errno == ENOENT) continue ;
      goto err ;
    }
    nr = rc ;
    nr.incur = 1 ;
    nr.namelen = nn.len - 1 ;
    if (!tern_store__update(&w, uid, &rc, &nr, nn.s)) goto err ;
  }
  if (!mt_after(&w, &g)) goto err ;
  genalloc_free(uint32_t, &inn) ;
  stralloc_free(&nn) ;
  return tern_store__wcommit(&w) ;
 err:
  {
    int e = errno ;
    tern_store__wabort(&w) ;
    genalloc_free(uint32_t, &inn) ;
    stralloc_free(&nn) ;
    errno = e ;
  }
  return 0 ;
}
