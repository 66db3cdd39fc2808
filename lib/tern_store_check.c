/* tern_store_check: is the index what the Maildir and the uidlist say?
   For mailbox-check(8) and the crash tests: every file in new/ and cur/
   is a message of the index under its exact name, with the flags its
   name says and the UID the uidlist gives its unique name; every
   message of the index has its file; the uidlist's UIDs increase and
   name each unique name once; UIDNEXT is above every UID; the sets and
   counters kept beside the records agree with them. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/types.h>
#include <skalibs/djbunix.h>
#include "tern_store_int.h"

static int say (stralloc *rep, char const *a, char const *b, char const *c)
{
  return stralloc_cats(rep, a) && (!b || stralloc_cats(rep, b)) && (!c || stralloc_cats(rep, c)) && stralloc_catb(rep, "\n", 1) ;
}

static char const *u32 (uint64_t v)
{
  static char buf[4][UINT64_FMT] ;
  static unsigned int k = 0 ;
  char *b = buf[k++ & 3] ;
  b[uint64_fmt(b, v)] = 0 ;
  return b ;
}

typedef struct ul_s ul ;
struct ul_s { uint32_t uid ; size_t name, len ; } ;
static char const *ulbase ;

static int ul_byname (void const *a, void const *b)
{
  ul const *x = a, *y = b ;
  size_t n = x->len < y->len ? x->len : y->len ;
  int c = memcmp(ulbase + x->name, ulbase + y->name, n) ;
  return c ? c : x->len < y->len ? -1 : x->len > y->len ;
}

int tern_store_check (tern_store *st, stralloc *rep)
{
  stralloc f = STRALLOC_ZERO ;
  genalloc uls = GENALLOC_ZERO ;
  uint32_t uv, next, last = 0, maxuid = 0 ;
  uint64_t v, messages = 0, unseen = 0, deleted = 0, nunseen = 0, nnew = 0, nseq = 0, uidnext = 0 ;
  size_t off, start = rep->len, nul ;
  tern_store_iter it ;
  tern_msg m ;
  int r, ok = -1 ;

  /* the uidlist */
  if (!tern_store__readfile(st->dirfd, UIDLIST, &f)) { if (errno == ENOENT) say(rep, "no uidlist", 0, 0) ; else return -1 ; }
  else if (!tern_store__uidlist_header(f.s, f.len, &uv, &next, &off)) say(rep, "uidlist: bad header", 0, 0) ;
  else
  {
    if (uv != st->uidvalidity) say(rep, "uidlist: UIDVALIDITY ", u32(uv), " is not the index's") ;
    for (;;)
    {
      ul e ;
      char const *nm ;
      r = tern_store__uidlist_line(f.s, f.len, &off, &e.uid, &nm, &e.len) ;
      if (r < 0) { say(rep, "uidlist: malformed line", 0, 0) ; break ; }
      if (!r) break ;
      if (e.uid <= last) say(rep, "uidlist: UID ", u32(e.uid), " does not increase") ;
      last = e.uid ;
      e.name = nm - f.s ;
      if (!genalloc_append(ul, &uls, &e)) goto end ;
    }
    if (off != f.len) say(rep, "uidlist: torn last line", 0, 0) ;
  }
  nul = genalloc_len(ul, &uls) ;
  ulbase = f.s ;
  if (nul) qsort(genalloc_s(ul, &uls), nul, sizeof(ul), &ul_byname) ;
  for (size_t i = 1 ; i < nul ; i++)
    if (!ul_byname(genalloc_s(ul, &uls) + i - 1, genalloc_s(ul, &uls) + i)) say(rep, "uidlist: a unique name twice, UID ", u32(genalloc_s(ul, &uls)[i].uid), 0) ;

  if (!tern_store_rbegin(st)) goto end ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_UIDNEXT, &uidnext) <= 0) { say(rep, "index: no UIDNEXT", 0, 0) ; }
  if (last >= uidnext && uidnext) say(rep, "index: UIDNEXT ", u32(uidnext), " is not above the uidlist's last UID") ;

  /* every message of the index */
  if (!tern_store_iter_start(st, &it, 1)) { tern_store_rend(st) ; goto end ; }
  while ((r = tern_store_next(&it, &m)) == 1)
  {
    char name[m.namelen + 1] ;
    struct stat s ;
    uint32_t fl, kw ;
    ul key = { .uid = 0 } ;
    size_t lo = 0, hi = nul ;
    memcpy(name, m.name, m.namelen) ;
    name[m.namelen] = 0 ;
    messages++ ;
    if (!(m.flags & TERN_F_SEEN)) unseen++ ;
    if (m.flags & TERN_F_DELETED) deleted++ ;
    if (m.uid > maxuid) maxuid = m.uid ;
    if (m.uid >= uidnext) say(rep, "index: UID ", u32(m.uid), " is not below UIDNEXT") ;
    if (fstatat(m.incur ? st->curfd : st->newfd, name, &s, AT_SYMLINK_NOFOLLOW) < 0)
      say(rep, "index: UID ", u32(m.uid), m.incur ? ": no file in cur/" : ": no file in new/") ;
    tern_maildir_flags(name, m.namelen, &fl, &kw) ;
    if ((fl & ~TERN_F_PASSED) != (m.flags & ~TERN_F_PASSED) || kw != m.keywords) say(rep, "index: UID ", u32(m.uid), ": flags are not the file name's") ;
    if (m.size != TERN_SIZE_UNKNOWN && m.filesize && m.size < m.filesize) say(rep, "index: UID ", u32(m.uid), ": RFC822.SIZE below the file's size") ;
    /* the uidlist's UID for its unique name */
    key.len = tern_maildir_uniqlen(name, m.namelen) ;
    while (lo < hi)
    {
      size_t mid = (lo + hi) / 2 ;
      ul const *e = genalloc_s(ul, &uls) + mid ;
      size_t n = e->len < key.len ? e->len : key.len ;
      int c = memcmp(f.s + e->name, name, n) ;
      if (!c) c = e->len < key.len ? -1 : e->len > key.len ;
      if (!c) { key.uid = e->uid ; break ; }
      if (c < 0) lo = mid + 1 ; else hi = mid ;
    }
    if (!key.uid) say(rep, "index: UID ", u32(m.uid), ": not in the uidlist") ;
    else if (key.uid != m.uid) say(rep, "index: UID ", u32(m.uid), ": the uidlist gives another UID") ;
  }
  tern_store_iter_end(&it) ;
  if (r < 0) { tern_store_rend(st) ; goto end ; }

  /* counters and sets */
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_MESSAGES, &v) < 0 || v != messages) say(rep, "index: message count ", u32(v), " is wrong") ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_UNSEEN, &v) < 0 || v != unseen) say(rep, "index: unseen count ", u32(v), " is wrong") ;
  if (tern_store__meta_get(st->rtxn, st->dmeta, M_DELETED, &v) < 0 || v != deleted) say(rep, "index: deleted count ", u32(v), " is wrong") ;
  {
    MDB_stat ms ;
    if (!mdb_stat(st->rtxn, st->dunseen, &ms)) nunseen = ms.ms_entries ;
    if (nunseen != unseen) say(rep, "index: the unseen set has ", u32(nunseen), " entries") ;
    if (!mdb_stat(st->rtxn, st->dname, &ms) && ms.ms_entries != messages) say(rep, "index: the name set has ", u32(ms.ms_entries), " entries") ;
    if (!mdb_stat(st->rtxn, st->dnew, &ms)) nnew = ms.ms_entries ;
    if (!mdb_stat(st->rtxn, st->dchg, &ms) && ms.ms_entries != messages) say(rep, "index: the change log has ", u32(ms.ms_entries), " live entries") ;
  }
  {
    genalloc seq = GENALLOC_ZERO ;
    if (!tern_store_uids(st, &seq)) { tern_store_rend(st) ; goto end ; }
    nseq = genalloc_len(uint32_t, &seq) ;
    if (nseq != messages) say(rep, "index: the sequence has ", u32(nseq), " UIDs") ;
    for (size_t i = 1 ; i < nseq ; i++)
      if (genalloc_s(uint32_t, &seq)[i-1] >= genalloc_s(uint32_t, &seq)[i]) { say(rep, "index: the sequence is out of order", 0, 0) ; break ; }
    genalloc_free(uint32_t, &seq) ;
  }
  tern_store_rend(st) ;

  /* every file */
  for (unsigned int incur = 0 ; incur < 2 ; incur++)
  {
    DIR *d = tern_store__opendir(incur ? st->curfd : st->newfd) ;
    size_t innew = 0 ;
    if (!d) goto end ;
    if (!tern_store_rbegin(st)) { closedir(d) ; goto end ; }
    for (;;)
    {
      struct dirent *de = readdir(d) ;
      size_t len, ul_ ;
      MDB_val k, dv ;
      if (!de) break ;
      if (de->d_name[0] == '.') continue ;
      len = strlen(de->d_name) ;
      ul_ = tern_maildir_uniqlen(de->d_name, len) ;
      k.mv_size = ul_ ; k.mv_data = de->d_name ;
      if (mdb_get(st->rtxn, st->dname, &k, &dv) || dv.mv_size != 4)
      {
        say(rep, incur ? "cur/" : "new/", de->d_name, ": not in the index") ;
        continue ;
      }
      {
        uint32_t uid ;
        memcpy(&uid, dv.mv_data, 4) ;
        if (tern_store_get(st, uid, &m) != 1 || m.incur != incur || m.namelen != len || memcmp(m.name, de->d_name, len))
          say(rep, incur ? "cur/" : "new/", de->d_name, ": the index has it under another name") ;
        else if (!incur) innew++ ;
      }
    }
    tern_store_rend(st) ;
    closedir(d) ;
    if (!incur && innew != nnew) say(rep, "index: the new/ set has ", u32(nnew), " entries") ;
  }
  ok = rep->len == start ;
 end:
  stralloc_free(&f) ;
  genalloc_free(ul, &uls) ;
  return ok ;
}
