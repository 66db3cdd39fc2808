/* view.c: the selected folder as the client sees it. The view is the
   UIDs the client knows, in order (message number n is the n-th);
   view_sync brings it up to what the store has, telling the client what
   changed, in the order RFC 3501 7.4.1 and RFC 7162 3.2.10 allow:
   expunges (EXPUNGE, or VANISHED once QRESYNC is on) only when the
   command running allows them, then new messages (EXISTS, RECENT), then
   other sessions' flag changes (FETCH). Changes this session reported
   itself (STORE's replies) are not reported twice. The view holds a
   few octets for each run of consecutive UIDs; flags and the rest are
   read from the index when needed. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"

/* The view is kept as ranges of consecutive UIDs, each with the number
   of its first message: a folder of 100,000 messages with few gaps is a
   handful of ranges, not 400 KiB a session. */
typedef struct vr_s vr ;
struct vr_s { uint32_t lo, hi, msn ; } ;

#define R (genalloc_s(vr, &S.view))
#define NR (genalloc_len(vr, &S.view))

static uint32_t nv = 0 ;

uint32_t view_count (void) { return nv ; }

static uint32_t view_top (void) { return NR ? R[NR - 1].hi : 0 ; }

/* The index of the range holding message number msn (or UID uid). */
static size_t range_of_msn (uint32_t msn)
{
  size_t lo = 0, hi = NR ;
  while (hi - lo > 1) { size_t mid = (lo + hi) / 2 ; if (R[mid].msn <= msn) lo = mid ; else hi = mid ; }
  return lo ;
}

static size_t range_of_uid (uint32_t uid)
{
  size_t lo = 0, hi = NR ;
  while (hi - lo > 1) { size_t mid = (lo + hi) / 2 ; if (R[mid].lo <= uid) lo = mid ; else hi = mid ; }
  return lo ;
}

uint32_t view_uid (uint32_t msn)
{
  vr const *r ;
  if (!msn || msn > nv) return 0 ;
  r = R + range_of_msn(msn) ;
  return r->lo + (msn - r->msn) ;
}

uint32_t view_msn (uint32_t uid)
{
  vr const *r ;
  if (!NR || uid < R[0].lo) return 0 ;
  r = R + range_of_uid(uid) ;
  return uid <= r->hi ? r->msn + (uid - r->lo) : 0 ;
}

static void view_append (uint32_t uid)
{
  if (NR && uid == R[NR - 1].hi + 1) R[NR - 1].hi = uid ;
  else
  {
    vr x = { .lo = uid, .hi = uid, .msn = nv + 1 } ;
    if (!genalloc_append(vr, &S.view, &x)) die_io("out-of-memory") ;
  }
  nv++ ;
}

static void view_append_run (void *data, uint32_t lo, uint32_t hi)
{
  (void)data ;
  if (NR && lo == R[NR - 1].hi + 1) R[NR - 1].hi = hi ;
  else
  {
    vr x = { .lo = lo, .hi = hi, .msn = nv + 1 } ;
    if (!genalloc_append(vr, &S.view, &x)) die_io("out-of-memory") ;
  }
  nv += hi - lo + 1 ;
}

/* The UIDs of the view in [lo, hi], appended to out. */
static void view_between (uint32_t lo, uint32_t hi, genalloc *out)
{
  if (!NR || hi < R[0].lo || lo > view_top()) return ;
  for (size_t i = lo <= R[0].lo ? 0 : range_of_uid(lo) ; i < NR && R[i].lo <= hi ; i++)
  {
    uint32_t a = R[i].lo > lo ? R[i].lo : lo, b = R[i].hi < hi ? R[i].hi : hi ;
    for (uint64_t u = a ; u <= b ; u++)
    {
      uint32_t x = u ;
      if (!genalloc_append(uint32_t, out, &x)) die_io("out-of-memory") ;
    }
  }
}

/* How many UIDs of the view are in [lo, hi]. */
static uint32_t view_count_between (uint32_t lo, uint32_t hi)
{
  uint32_t n = 0 ;
  if (!NR || hi < R[0].lo || lo > view_top()) return 0 ;
  for (size_t i = lo <= R[0].lo ? 0 : range_of_uid(lo) ; i < NR && R[i].lo <= hi ; i++)
  {
    uint32_t a = R[i].lo > lo ? R[i].lo : lo, b = R[i].hi < hi ? R[i].hi : hi ;
    if (b >= a) n += b - a + 1 ;
  }
  return n ;
}

void view_all (genalloc *out)
{
  view_between(1, UINT32_MAX, out) ;
}

/* Removes the sorted UIDs g (those of the view), calling f with the
   number each had when its turn came (RFC 3501 7.4.1: each EXPUNGE
   renumbers the ones after it). One pass over the ranges. */
static void view_remove (uint32_t const *g, size_t ng, void (*f)(uint32_t))
{
  genalloc out = GENALLOC_ZERO ;
  size_t j = 0 ;
  uint32_t msn = 1, removed = 0 ;
  for (size_t i = 0 ; i < NR ; i++)
  {
    vr r = R[i] ;
    uint64_t start = r.lo ;
    while (j < ng && g[j] < r.lo) j++ ;
    while (j < ng && g[j] <= r.hi)
    {
      uint32_t u = g[j++] ;
      if (u > start)
      {
        vr x = { .lo = start, .hi = u - 1, .msn = msn } ;
        if (!genalloc_append(vr, &out, &x)) die_io("out-of-memory") ;
        msn += u - start ;
      }
      if (f) (*f)(r.msn + (u - r.lo) - removed) ;
      removed++ ;
      start = (uint64_t)u + 1 ;
    }
    if (start <= r.hi)
    {
      vr x = { .lo = start, .hi = r.hi, .msn = msn } ;
      if (!genalloc_append(vr, &out, &x)) die_io("out-of-memory") ;
      msn += r.hi - start + 1 ;
    }
  }
  genalloc_free(vr, &S.view) ;
  S.view = out ;
  nv = msn - 1 ;
}

int view_recent (uint32_t uid)
{
  for (size_t i = 0 ; i < genalloc_len(tern_imap_range, &S.recent) ; i++)
  {
    tern_imap_range const *r = genalloc_s(tern_imap_range, &S.recent) + i ;
    if (uid >= r->lo && uid <= r->hi) return 1 ;
  }
  return 0 ;
}

uint32_t view_nrecent (void)
{
  uint32_t n = 0 ;
  for (size_t i = 0 ; i < genalloc_len(tern_imap_range, &S.recent) ; i++)
  {
    tern_imap_range const *r = genalloc_s(tern_imap_range, &S.recent) + i ;
    n += view_count_between(r->lo, r->hi) ;
  }
  return n ;
}

void view_own (uint32_t const *uids, size_t n, uint64_t modseq)
{
  for (size_t i = 0 ; i < n ; i++)
  {
    own_change c = { .uid = uids[i], .modseq = modseq } ;
    if (!genalloc_append(own_change, &S.own, &c)) die_io("out-of-memory") ;
  }
}

static int u32cmp (void const *a, void const *b)
{
  uint32_t x = *(uint32_t const *)a, y = *(uint32_t const *)b ;
  return x < y ? -1 : x > y ;
}

void view_saved (genalloc *out)
{
  genalloc_setlen(uint32_t, out, 0) ;
  for (size_t i = 0 ; i < genalloc_len(uint32_t, &S.saved) ; i++)
  {
    uint32_t u = genalloc_s(uint32_t, &S.saved)[i] ;
    if (view_msn(u) && !genalloc_append(uint32_t, out, &u)) die_io("out-of-memory") ;
  }
}

int view_set_or_saved (genalloc const *ranges, int dollar, int uid, genalloc *out)
{
  if (!dollar) return view_set(ranges, uid, out) ;
  view_saved(out) ;
  return 1 ;
}

int view_set (genalloc const *ranges, int uid, genalloc *out)
{
  size_t nr = genalloc_len(tern_imap_range, ranges) ;
  tern_imap_range const *r = genalloc_s(tern_imap_range, ranges) ;
  genalloc_setlen(uint32_t, out, 0) ;
  for (size_t i = 0 ; i < nr ; i++)
  {
    uint32_t lo = r[i].lo, hi = r[i].hi ;
    if (uid)
    {
      /* "*" is the highest UID in use (RFC 3501 9): 5:* with a last UID
         of 3 is 3:5 */
      uint32_t top = view_top() ;
      if (lo == TERN_IMAP_STAR) lo = top ;
      if (hi == TERN_IMAP_STAR) hi = top ;
      if (lo > hi) { uint32_t x = lo ; lo = hi ; hi = x ; }
      view_between(lo, hi, out) ;
    }
    else
    {
      if (lo == TERN_IMAP_STAR) lo = nv ;
      if (hi == TERN_IMAP_STAR) hi = nv ;
      if (lo > hi) { uint32_t x = lo ; lo = hi ; hi = x ; }
      if (!lo || hi > nv)
      {
        o_bad(0, nv ? "Invalid message sequence number" : "No messages in the mailbox") ;
        return 0 ;
      }
      view_between(view_uid(lo), view_uid(hi), out) ;
    }
  }
  if (nr > 1)
  {
    size_t k = genalloc_len(uint32_t, out), j = 0 ;
    uint32_t *u = genalloc_s(uint32_t, out) ;
    qsort(u, k, 4, &u32cmp) ;
    for (size_t i = 0 ; i < k ; i++) if (!j || u[i] != u[j-1]) u[j++] = u[i] ;
    genalloc_setlen(uint32_t, out, j) ;
  }
  return 1 ;
}

/* ---- FLAGS ---- */

void view_announce_flags (int always)
{
  if (!always && S.st.nkw == S.nkw) return ;
  o_str("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft") ;
  for (unsigned int i = 0 ; i < S.st.nkw ; i++) { o_put(" ", 1) ; o_str(tern_store_keyword_name(&S.st, i)) ; }
  o_str(")\r\n* OK [PERMANENTFLAGS (") ;
  if (!S.readonly)
  {
    o_str("\\Answered \\Flagged \\Deleted \\Seen \\Draft") ;
    for (unsigned int i = 0 ; i < S.st.nkw ; i++) { o_put(" ", 1) ; o_str(tern_store_keyword_name(&S.st, i)) ; }
    if (S.st.nkw < TERN_KW_MAX) o_str(" \\*") ;
  }
  o_str(")] Flags permitted\r\n") ;
  S.nkw = S.st.nkw ;
}

/* ---- sync ---- */

typedef struct chctx_s chctx ;
struct chctx_s
{
  genalloc flags ;      /* uint32_t UIDs whose flags changed */
  genalloc gone ;       /* uint32_t UIDs expunged */
  uint32_t top ;        /* the view's last UID */
} ;

static int own_seen (uint32_t uid, uint64_t modseq)
{
  for (size_t i = 0 ; i < genalloc_len(own_change, &S.own) ; i++)
  {
    own_change const *c = genalloc_s(own_change, &S.own) + i ;
    if (c->uid == uid && c->modseq == modseq) return 1 ;
  }
  return 0 ;
}

static int onchange (void *data, uint64_t modseq, uint32_t uid, int expunged)
{
  chctx *c = data ;
  if (uid > c->top) return 1 ;   /* a new message: EXISTS, below */
  if (!view_msn(uid)) return 1 ;
  if (expunged) { if (!genalloc_append(uint32_t, &c->gone, &uid)) die_io("out-of-memory") ; }
  else if (!own_seen(uid, modseq) && !genalloc_append(uint32_t, &c->flags, &uid)) die_io("out-of-memory") ;
  return 1 ;
}

/* The view's UIDs that the index no longer has (the change log was
   pruned past the client's MODSEQ): a full comparison. */
static void gone_by_diff (chctx *c)
{
  genalloc now = GENALLOC_ZERO, mine = GENALLOC_ZERO ;
  size_t j = 0, nn ;
  if (!tern_store_uids(&S.st, &now)) { strerr_warnwu1sys("read the index") ; return ; }
  view_all(&mine) ;
  nn = genalloc_len(uint32_t, &now) ;
  for (size_t i = 0 ; i < genalloc_len(uint32_t, &mine) ; i++)
  {
    uint32_t u = genalloc_s(uint32_t, &mine)[i] ;
    while (j < nn && genalloc_s(uint32_t, &now)[j] < u) j++ ;
    if (j < nn && genalloc_s(uint32_t, &now)[j] == u) continue ;
    if (!genalloc_append(uint32_t, &c->gone, &u)) die_io("out-of-memory") ;
  }
  genalloc_free(uint32_t, &now) ;
  genalloc_free(uint32_t, &mine) ;
}

static void say_expunge (uint32_t msn)
{
  o_str("* ") ;
  o_num(msn) ;
  o_str(" EXPUNGE\r\n") ;
}

/* Sends the expunges of pendexp and removes them from the view. */
static void flush_expunges (void)
{
  size_t ng = genalloc_len(uint32_t, &S.pendexp) ;
  uint32_t *g = genalloc_s(uint32_t, &S.pendexp) ;
  int vanished = S.qresync || S.uidonly ;
  if (!ng) return ;
  qsort(g, ng, 4, &u32cmp) ;
  if (vanished)
  {
    /* RFC 7162 3.2.10; RFC 9586 3: no message numbers */
    o_str("* VANISHED ") ;
    o_uidset(g, ng) ;
    o_str("\r\n") ;
  }
  view_remove(g, ng, vanished ? 0 : &say_expunge) ;
  genalloc_setlen(uint32_t, &S.pendexp, 0) ;
}

/* The index up to date with the Maildir, before a command uses it
   (another program may have renamed a file since): nothing is told the
   client here, view_sync does that when the command allows. */
void view_disk (void)
{
  if (S.selected && tern_store_sync(&S.st) < 0) strerr_warnwu2sys("bring the index up to date in ", S.st.path.s) ;
}

void view_sync (int expok)
{
  tern_store_info in ;
  chctx c = { .flags = GENALLOC_ZERO, .gone = GENALLOC_ZERO, .top = view_top() } ;
  uint32_t oldn ;
  if (!S.selected) return ;
  if (tern_store_sync(&S.st) < 0) strerr_warnwu2sys("bring the index up to date in ", S.st.path.s) ;
  if (!tern_store_rbegin(&S.st)) { strerr_warnwu1sys("read the index") ; return ; }
  if (!tern_store_info_get(&S.st, &in)) { tern_store_rend(&S.st) ; strerr_warnwu1sys("read the index") ; return ; }
  if (in.highestmodseq != S.modseq)
  {
    if (in.oldestmodseq > S.modseq) gone_by_diff(&c) ;
    if (!tern_store_changes(&S.st, S.modseq, &onchange, &c)) strerr_warnwu1sys("read the change log") ;
    S.modseq = in.highestmodseq ;
  }
  genalloc_setlen(own_change, &S.own, 0) ;
  for (size_t i = 0 ; i < genalloc_len(uint32_t, &c.gone) ; i++)
  {
    uint32_t u = genalloc_s(uint32_t, &c.gone)[i] ;
    int dup = 0 ;
    for (size_t k = 0 ; k < genalloc_len(uint32_t, &S.pendexp) ; k++) if (genalloc_s(uint32_t, &S.pendexp)[k] == u) { dup = 1 ; break ; }
    if (!dup && !genalloc_append(uint32_t, &S.pendexp, &u)) die_io("out-of-memory") ;
  }
  if (expok) flush_expunges() ;
  /* new messages */
  oldn = nv ;
  if (in.uidnext > c.top + 1)
  {
    tern_store_iter it ;
    tern_msg m ;
    int r ;
    if (tern_store_iter_start(&S.st, &it, c.top + 1))
    {
      while ((r = tern_store_next(&it, &m)) == 1)
        view_append(m.uid) ;
      tern_store_iter_end(&it) ;
    }
  }
  tern_store_rend(&S.st) ;
  if (nv != oldn)
  {
    /* \Recent for the first session that sees them (RFC 3501 2.3.2) */
    if (!S.readonly)
    {
      uint32_t from, to ;
      if (tern_store_claim_recent(&S.st, &from, &to) && to > from)
      {
        tern_imap_range r = { .lo = from, .hi = to - 1 } ;
        if (!genalloc_append(tern_imap_range, &S.recent, &r)) die_io("out-of-memory") ;
      }
    }
    o_str("* ") ; o_num(nv) ; o_str(" EXISTS\r\n") ;
    /* RFC 9051 E.12: no RECENT in IMAP4rev2 */
    if (!S.rev2) { o_str("* ") ; o_num(view_nrecent()) ; o_str(" RECENT\r\n") ; }
  }
  /* keywords another process defined */
  if (genalloc_len(uint32_t, &c.flags))
  {
    tern_store_keywords_load(&S.st) ;
    view_announce_flags(0) ;
    if (tern_store_rbegin(&S.st))
    {
      for (size_t i = 0 ; i < genalloc_len(uint32_t, &c.flags) ; i++)
      {
        uint32_t u = genalloc_s(uint32_t, &c.flags)[i] ;
        uint32_t msn = view_msn(u) ;
        tern_msg m ;
        int pend = 0 ;
        for (size_t k = 0 ; k < genalloc_len(uint32_t, &S.pendexp) ; k++) if (genalloc_s(uint32_t, &S.pendexp)[k] == u) { pend = 1 ; break ; }
        if (pend || !msn || tern_store_get(&S.st, u, &m) != 1) continue ;
        fetch_flags_line(msn, &m, 1) ;
      }
      tern_store_rend(&S.st) ;
    }
  }
  genalloc_free(uint32_t, &c.flags) ;
  genalloc_free(uint32_t, &c.gone) ;
}

/* ---- select and close ---- */

void view_close (int expunge)
{
  if (!S.selected) return ;
  genalloc_setlen(uint32_t, &S.saved, 0) ;   /* RFC 5182 2.1 */
  if (expunge && !S.readonly)
  {
    /* CLOSE: the \Deleted messages go, silently (RFC 3501 6.4.2) */
    genalloc del = GENALLOC_ZERO ;
    if (tern_store_rbegin(&S.st))
    {
      genalloc all = GENALLOC_ZERO ;
      view_all(&all) ;
      for (size_t i = 0 ; i < genalloc_len(uint32_t, &all) ; i++)
      {
        tern_msg m ;
        uint32_t u = genalloc_s(uint32_t, &all)[i] ;
        if (tern_store_get(&S.st, u, &m) == 1 && m.flags & TERN_F_DELETED && !genalloc_append(uint32_t, &del, &u)) die_io("out-of-memory") ;
      }
      genalloc_free(uint32_t, &all) ;
      tern_store_rend(&S.st) ;
      if (genalloc_len(uint32_t, &del) && !tern_store_expunge(&S.st, genalloc_s(uint32_t, &del), genalloc_len(uint32_t, &del)))
        strerr_warnwu2sys("expunge in ", S.st.path.s) ;
    }
    genalloc_free(uint32_t, &del) ;
  }
  tern_store_cache_flush(&S.st) ;
  tern_store_close(&S.st) ;
  S.st = (tern_store)TERN_STORE_ZERO ;
  S.watchfd = -1 ;
  S.selected = 0 ;
  S.ftsdeferred = S.ftsidle = 0 ;
  genalloc_free(vr, &S.view) ;
  nv = 0 ;
  genalloc_setlen(tern_imap_range, &S.recent, 0) ;
  genalloc_setlen(uint32_t, &S.pendexp, 0) ;
  genalloc_setlen(own_change, &S.own, 0) ;
  S.mbox.len = 0 ;
}

int view_select (char const *name, size_t len, int readonly, tern_imap_p *qr)
{
  stralloc dir = STRALLOC_ZERO ;
  tern_store_info in ;
  (void)qr ;
  if (!folder_dir(&dir, name, len)) return 0 ;
  if (!tern_store_open(&S.st, dir.s, TERN_STORE_CREATE))
  {
    int e = errno ;
    stralloc_free(&dir) ;
    S.st = (tern_store)TERN_STORE_ZERO ;
    errno = e ;
    if (e == ENOENT || e == ENOTDIR) o_tagged("NO [NONEXISTENT] No such mailbox") ;
    else o_nosys("open the mailbox") ;
    return 0 ;
  }
  stralloc_free(&dir) ;
  S.selected = 1 ;
  S.ftsdeferred = S.ftsidle = 0 ;
  S.readonly = readonly ;
  S.mbox.len = 0 ;
  if (!stralloc_catb(&S.mbox, name, len)) die_io("out-of-memory") ;
  /* the events from now on, what happened before from the mtimes */
  S.watchfd = tern_store_watch(&S.st) ;
  if (tern_store_sync(&S.st) < 0) strerr_warnwu2sys("bring the index up to date in ", S.st.path.s) ;
  if (!readonly)
  {
    uint32_t from, to ;
    if (tern_store_claim_recent(&S.st, &from, &to) && to > from)
    {
      tern_imap_range r = { .lo = from, .hi = to - 1 } ;
      if (!genalloc_append(tern_imap_range, &S.recent, &r)) die_io("out-of-memory") ;
    }
    /* seen by a client: no longer new for Maildir readers either */
    if (!tern_store_to_cur(&S.st)) strerr_warnwu2sys("move new/ to cur/ in ", S.st.path.s) ;
  }
  genalloc_setlen(vr, &S.view, 0) ;
  nv = 0 ;
  if (!tern_store_rbegin(&S.st) || !tern_store_info_get(&S.st, &in) || !tern_store_uid_runs(&S.st, &view_append_run, 0))
  {
    tern_store_rend(&S.st) ;
    o_nosys("read the mailbox index") ;
    view_close(0) ;
    return 0 ;
  }
  tern_store_rend(&S.st) ;
  S.modseq = in.highestmodseq ;
  /* EXAMINE claims nothing, but shows what is still \Recent (RFC 3501 6.3.2) */
  if (readonly && in.uidnext > in.recent)
  {
    tern_imap_range r = { .lo = in.recent ? in.recent : 1, .hi = in.uidnext - 1 } ;
    if (!genalloc_append(tern_imap_range, &S.recent, &r)) die_io("out-of-memory") ;
  }
  view_announce_flags(1) ;
  o_str("* ") ; o_num(nv) ; o_str(" EXISTS\r\n") ;
  /* RFC 9051 E.11, E.12: neither RECENT nor UNSEEN in IMAP4rev2; UNSEEN
     is a message number (RFC 9586 3) */
  if (!S.rev2) { o_str("* ") ; o_num(view_nrecent()) ; o_str(" RECENT\r\n") ; }
  if (in.firstunseen && !S.rev2 && !S.uidonly)
  {
    uint32_t msn = view_msn(in.firstunseen) ;
    if (msn) { o_str("* OK [UNSEEN ") ; o_num(msn) ; o_str("] First unseen\r\n") ; }
  }
  o_str("* OK [UIDVALIDITY ") ; o_num(in.uidvalidity) ; o_str("] UIDs valid\r\n") ;
  o_str("* OK [UIDNEXT ") ; o_num(in.uidnext) ; o_str("] Predicted next UID\r\n") ;
  o_str("* OK [HIGHESTMODSEQ ") ; o_num(in.highestmodseq) ; o_str("] Highest\r\n") ;
  {
    /* RFC 8474 4.2 */
    char id[TERN_MAILBOXID_MAX + 1] ;
    if (tern_folder_mailboxid(S.st.path.s, id)) { o_str("* OK [MAILBOXID (") ; o_str(id) ; o_str(")] Ok\r\n") ; }
    else strerr_warnwu2sys("make the MAILBOXID of ", S.st.path.s) ;
  }
  return 1 ;
}

/* ---- QRESYNC ---- */

/* Is uid in the ranges (all of them when there are none)? "*" is any
   UID from lo up. */
static int in_ranges (genalloc const *known, uint32_t uid)
{
  size_t n = known ? genalloc_len(tern_imap_range, known) : 0 ;
  if (!n) return 1 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    tern_imap_range const *r = genalloc_s(tern_imap_range, known) + i ;
    /* "*" in known UIDs: any UID from the other end up */
    uint32_t lo = r->lo == TERN_IMAP_STAR ? UINT32_MAX : r->lo, hi = r->hi == TERN_IMAP_STAR ? UINT32_MAX : r->hi ;
    if (lo > hi) { uint32_t x = lo ; lo = hi ; hi = x ; }
    if (uid >= lo && uid <= hi) return 1 ;
  }
  return 0 ;
}

typedef struct vctx_s vctx ;
struct vctx_s { genalloc const *known ; genalloc out ; int exp ; } ;

static int vcollect (void *data, uint64_t modseq, uint32_t uid, int expunged)
{
  vctx *c = data ;
  if (expunged != c->exp || !in_ranges(c->known, uid)) return 1 ;
  if (!c->exp && !view_msn(uid)) return 1 ;
  if (!genalloc_append(uint32_t, &c->out, &uid)) die_io("out-of-memory") ;
  return 1 ;
}

void view_vanished (uint64_t modseq, genalloc const *known, int earlier)
{
  tern_store_info in ;
  vctx c = { .known = known, .out = GENALLOC_ZERO, .exp = 1 } ;
  if (!tern_store_rbegin(&S.st)) return ;
  if (!tern_store_info_get(&S.st, &in)) { tern_store_rend(&S.st) ; return ; }
  if (modseq >= in.oldestmodseq)
  {
    if (!tern_store_changes(&S.st, modseq, &vcollect, &c)) strerr_warnwu1sys("read the change log") ;
    tern_store_rend(&S.st) ;
  }
  else
  {
    /* the log does not reach back that far: every UID below UIDNEXT of
       the known ones that is not a message (RFC 7162 3.2.5.2 allows it) */
    genalloc now = GENALLOC_ZERO ;
    size_t j = 0, nn ;
    int ok = tern_store_uids(&S.st, &now) ;
    tern_store_rend(&S.st) ;
    if (!ok) { genalloc_free(uint32_t, &now) ; return ; }
    nn = genalloc_len(uint32_t, &now) ;
    /* walk the gaps, not every UID: ranges of known are checked at their ends */
    for (uint32_t u = 1 ; u < in.uidnext ;)
    {
      uint32_t next = j < nn ? genalloc_s(uint32_t, &now)[j] : in.uidnext ;
      for (; u < next ; u++)
      {
        if (!in_ranges(known, u)) continue ;
        if (!genalloc_append(uint32_t, &c.out, &u)) die_io("out-of-memory") ;
        if (genalloc_len(uint32_t, &c.out) > (1u << 22)) break ;   /* a bound on a client asking for the world */
      }
      if (j < nn) { u = next + 1 ; j++ ; }
      else break ;
    }
    genalloc_free(uint32_t, &now) ;
  }
  if (genalloc_len(uint32_t, &c.out))
  {
    size_t n = genalloc_len(uint32_t, &c.out), k = 0 ;
    uint32_t *u = genalloc_s(uint32_t, &c.out) ;
    qsort(u, n, 4, &u32cmp) ;
    for (size_t i = 0 ; i < n ; i++) if (!k || u[i] != u[k-1]) u[k++] = u[i] ;
    o_str(earlier ? "* VANISHED (EARLIER) " : "* VANISHED ") ;
    o_uidset(u, k) ;
    o_str("\r\n") ;
  }
  genalloc_free(uint32_t, &c.out) ;
}

void view_changed (uint64_t modseq, genalloc const *known)
{
  vctx c = { .known = known, .out = GENALLOC_ZERO, .exp = 0 } ;
  size_t n, k = 0 ;
  uint32_t *u ;
  if (!tern_store_rbegin(&S.st)) return ;
  if (!tern_store_changes(&S.st, modseq, &vcollect, &c)) strerr_warnwu1sys("read the change log") ;
  n = genalloc_len(uint32_t, &c.out) ;
  u = genalloc_s(uint32_t, &c.out) ;
  qsort(u, n, 4, &u32cmp) ;
  for (size_t i = 0 ; i < n ; i++) if (!k || u[i] != u[k-1]) u[k++] = u[i] ;
  for (size_t i = 0 ; i < k ; i++)
  {
    tern_msg m ;
    uint32_t msn = view_msn(u[i]) ;
    if (msn && tern_store_get(&S.st, u[i], &m) == 1) fetch_flags_line(msn, &m, 1) ;
  }
  tern_store_rend(&S.st) ;
  genalloc_free(uint32_t, &c.out) ;
}
