/* cmd-store.c: the commands that change the selected folder's messages:
   STORE (RFC 3501 6.4.6, UNCHANGEDSINCE of RFC 7162 3.1.3), COPY (6.4.7,
   COPYUID of RFC 4315), MOVE (RFC 6851), EXPUNGE and UID EXPUNGE (6.4.3,
   RFC 4315 2.1), CLOSE (6.4.2), UNSELECT (RFC 3691). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"

static int kw (char const *s, size_t n, char const *w)
{
  return strlen(w) == n && !strncasecmp(s, w, n) ;
}

/* A flag of STORE or APPEND: its bit, or a keyword (created when
   create). 1, or 0 with p->err (after which *nokw tells a full keyword
   table from a bad flag). */
int flag_arg (tern_store *st, char const *f, size_t n, uint32_t *flags, uint32_t *kws, int create, int *nokw)
{
  static struct { char const *name ; uint32_t bit ; } const sys[] =
  {
    { "\\Seen", TERN_F_SEEN }, { "\\Answered", TERN_F_ANSWERED }, { "\\Flagged", TERN_F_FLAGGED },
    { "\\Deleted", TERN_F_DELETED }, { "\\Draft", TERN_F_DRAFT }, { 0, 0 }
  } ;
  *nokw = 0 ;
  if (n && f[0] == '\\')
  {
    for (unsigned int i = 0 ; sys[i].name ; i++) if (kw(f, n, sys[i].name)) { *flags |= sys[i].bit ; return 1 ; }
    return 0 ;
  }
  {
    int k = tern_store_keyword(st, f, n, create) ;
    if (k >= 0) { *kws |= 1u << k ; return 1 ; }
    if (!create) return 1 ;   /* removing a keyword nobody has: nothing to do */
    *nokw = errno == ENOSPC ;
    return 0 ;
  }
}

/* ---- STORE ---- */

void cmd_store (tern_imap_p *p)
{
  genalloc ranges = GENALLOC_ZERO, uids = GENALLOC_ZERO, changed = GENALLOC_ZERO, failed = GENALLOC_ZERO ;
  uint64_t unchangedsince = UINT64_MAX, ms = 0 ;
  uint32_t flags = 0, kws = 0 ;
  unsigned int op ;
  int silent = 0, paren = 0, dollar ;
  char const *a ;
  size_t n ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_seqset(p, &ranges, &dollar) || !tern_imap_p_sp(p)) goto bad ;
  if (tern_imap_p_peek(p) == '(')
  {
    tern_imap_p_char(p, '(') ;
    if (!tern_imap_p_atom(p, &a, &n) || !kw(a, n, "UNCHANGEDSINCE")) { p->err = "Unknown STORE modifier" ; goto bad ; }
    if (!tern_imap_p_sp(p) || !tern_imap_p_number64(p, &unchangedsince) || !tern_imap_p_char(p, ')') || !tern_imap_p_sp(p)) goto bad ;
    condstore_on() ;
  }
  if (!tern_imap_p_atom(p, &a, &n)) goto bad ;
  op = TERN_STORE_SET ;
  if (n && a[0] == '+') { op = TERN_STORE_ADD ; a++ ; n-- ; }
  else if (n && a[0] == '-') { op = TERN_STORE_REMOVE ; a++ ; n-- ; }
  if (kw(a, n, "FLAGS.SILENT")) silent = 1 ;
  else if (!kw(a, n, "FLAGS")) { p->err = "Expected FLAGS, +FLAGS or -FLAGS" ; goto bad ; }
  if (!tern_imap_p_sp(p)) goto bad ;
  if (tern_imap_p_peek(p) == '(') { tern_imap_p_char(p, '(') ; paren = 1 ; }
  if (S.readonly)
  {
    genalloc_free(tern_imap_range, &ranges) ;
    o_tagged("NO [READ-ONLY] The mailbox is read-only") ;
    return ;
  }
  while (!(paren && tern_imap_p_peek(p) == ')') && p->pos < p->len)
  {
    int nokw ;
    if (!tern_imap_p_flag(p, &a, &n, 0)) goto bad ;
    if (!flag_arg(&S.st, a, n, &flags, &kws, op != TERN_STORE_REMOVE, &nokw))
    {
      if (nokw) { genalloc_free(tern_imap_range, &ranges) ; o_tagged("NO [LIMIT] No room for another keyword in this mailbox") ; return ; }
      p->err = "Invalid flag" ;
      goto bad ;
    }
    if (tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  if (paren && !tern_imap_p_char(p, ')')) goto bad ;
  if (!tern_imap_p_eol(p)) goto bad ;
  if (!view_set_or_saved(&ranges, dollar, S.uid, &uids)) goto end ;
  view_disk() ;
  /* a new keyword: the client learns it before a FETCH shows it */
  view_announce_flags(0) ;
  if (!tern_store_setflags(&S.st, genalloc_s(uint32_t, &uids), genalloc_len(uint32_t, &uids), op, flags, kws, unchangedsince, &changed, &failed, &ms))
  {
    o_nosys("store the flags") ;
    goto end ;
  }
  view_own(genalloc_s(uint32_t, &changed), genalloc_len(uint32_t, &changed), ms) ;
  /* the FETCH responses: of what changed (.SILENT: only with UNCHANGEDSINCE,
     and then with MODSEQ, RFC 7162 3.1.3) */
  if (!silent || unchangedsince != UINT64_MAX)
  {
    if (tern_store_rbegin(&S.st))
    {
      size_t nc = genalloc_len(uint32_t, &changed) ;
      for (size_t i = 0 ; i < nc ; i++)
      {
        uint32_t u = genalloc_s(uint32_t, &changed)[i] ;
        uint32_t msn = view_msn(u) ;
        tern_msg m ;
        if (!msn || tern_store_get(&S.st, u, &m) != 1) continue ;
        if (silent)
        {
          o_fetch_open(msn, u) ;
          if (!S.uidonly && (S.uid || S.condstore)) { o_str("UID ") ; o_num(u) ; o_put(" ", 1) ; }
          o_str("MODSEQ (") ; o_num(m.modseq) ; o_str("))\r\n") ;
        }
        else fetch_flags_line(msn, &m, 0) ;
      }
      tern_store_rend(&S.st) ;
    }
  }
  /* RFC 7162 3.1.3: no EXPUNGE during STORE (the UID form may) */
  view_sync(S.uid) ;
  if (genalloc_len(uint32_t, &failed))
  {
    size_t nf = genalloc_len(uint32_t, &failed) ;
    uint32_t *f = genalloc_s(uint32_t, &failed) ;
    if (!S.uid) for (size_t i = 0 ; i < nf ; i++) f[i] = view_msn(f[i]) ;
    o_put(S.tag, S.taglen) ;
    o_str(" OK [MODIFIED ") ;
    o_uidset(f, nf) ;
    o_str("] Conditional STORE failed\r\n") ;
  }
  else o_tagged("OK Store completed") ;
  goto end ;
 bad:
  o_bad(p, 0) ;
 end:
  genalloc_free(tern_imap_range, &ranges) ;
  genalloc_free(uint32_t, &uids) ;
  genalloc_free(uint32_t, &changed) ;
  genalloc_free(uint32_t, &failed) ;
}

/* ---- COPY, MOVE ---- */

/* The quota's check of a COPY of uids: 1, or 0 after the NO. */
static int copy_quota (tern_store *dst, genalloc const *uids)
{
  uint64_t total = 0 ;
  size_t n = genalloc_len(uint32_t, uids) ;
  if (!tern_store_rbegin(&S.st)) { o_nosys("read the index") ; return 0 ; }
  for (size_t i = 0 ; i < n ; i++)
  {
    tern_msg m ;
    if (tern_store_get(&S.st, genalloc_s(uint32_t, uids)[i], &m) <= 0) continue ;   /* gone: not copied */
    total += m.size != TERN_SIZE_UNKNOWN ? m.size : m.filesize ;
  }
  tern_store_rend(&S.st) ;
  return quota_check(dst, total, n) ;
}

static void do_copy (tern_imap_p *p, int move)
{
  genalloc ranges = GENALLOC_ZERO, uids = GENALLOC_ZERO ;
  stralloc name = STRALLOC_ZERO ;
  tern_store dst = TERN_STORE_ZERO, *dp = &dst ;
  tern_store_info in ;
  uint32_t *nu = 0 ;
  int same = 0, dollar ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_seqset(p, &ranges, &dollar) || !tern_imap_p_sp(p) || !mailbox_arg(p, &name) || !tern_imap_p_eol(p))
  {
    o_bad(p, 0) ;
    goto end ;
  }
  if (!view_set_or_saved(&ranges, dollar, S.uid, &uids)) goto end ;
  view_disk() ;
  if (move && S.readonly) { o_tagged("NO [READ-ONLY] The mailbox is read-only") ; goto end ; }
  same = name.len == S.mbox.len && !memcmp(name.s, S.mbox.s, name.len) ;
  if (same) dp = &S.st ;
  else if (!folder_open(&dst, name.s, name.len)) goto end ;
  if (!genalloc_len(uint32_t, &uids))
  {
    /* nothing to copy: done (RFC 4315 3: no COPYUID for nothing) */
    o_tagged(move ? "OK Move completed" : "OK Copy completed") ;
    goto end ;
  }
  /* RFC 9208 4.3: a COPY adds to the user's usage (a MOVE between the
     user's folders does not) */
  if (!move && !copy_quota(same ? 0 : dp, &uids)) goto end ;
  nu = calloc(genalloc_len(uint32_t, &uids), sizeof(uint32_t)) ;
  if (!nu) die_io("out-of-memory") ;
  /* (a move into itself is a copy, then the originals expunged) */
  if (!tern_store_copy(&S.st, dp, genalloc_s(uint32_t, &uids), genalloc_len(uint32_t, &uids), move, nu))
  {
    o_nosys(move ? "move the messages" : "copy the messages") ;
    goto end ;
  }
  {
    /* COPYUID (RFC 4315 3): the source UIDs and the new ones, in order */
    size_t n = genalloc_len(uint32_t, &uids), k = 0 ;
    uint32_t *src = genalloc_s(uint32_t, &uids) ;
    int ok = tern_store_rbegin(dp) && tern_store_info_get(dp, &in) ;
    tern_store_rend(dp) ;
    for (size_t i = 0 ; i < n ; i++) if (nu[i]) { src[k] = src[i] ; nu[k] = nu[i] ; k++ ; }
    if (move)
    {
      if (ok && k) { o_str("* OK [COPYUID ") ; o_num(in.uidvalidity) ; o_put(" ", 1) ; o_uidset(src, k) ; o_put(" ", 1) ; o_uidset(nu, k) ; o_str("] Moved\r\n") ; }
      view_sync(1) ;
      /* RFC 6851 4.4: with QRESYNC, the source's new HIGHESTMODSEQ */
      if (S.qresync && k)
      {
        o_put(S.tag, S.taglen) ;
        o_str(" OK [HIGHESTMODSEQ ") ;
        o_num(S.modseq) ;
        o_str("] Move completed\r\n") ;
      }
      else o_tagged("OK Move completed") ;
    }
    else
    {
      if (same) view_sync(S.uid) ;
      if (ok && k)
      {
        o_put(S.tag, S.taglen) ;
        o_str(" OK [COPYUID ") ; o_num(in.uidvalidity) ; o_put(" ", 1) ; o_uidset(src, k) ; o_put(" ", 1) ; o_uidset(nu, k) ;
        o_str("] Copy completed\r\n") ;
      }
      else o_tagged("OK Copy completed") ;
    }
  }
 end:
  free(nu) ;
  if (!same) tern_store_close(&dst) ;
  stralloc_free(&name) ;
  genalloc_free(tern_imap_range, &ranges) ;
  genalloc_free(uint32_t, &uids) ;
}

void cmd_copy (tern_imap_p *p) { do_copy(p, 0) ; }
void cmd_move (tern_imap_p *p) { do_copy(p, 1) ; }

/* ---- EXPUNGE, CLOSE, UNSELECT ---- */

void cmd_expunge (tern_imap_p *p)
{
  genalloc ranges = GENALLOC_ZERO, uids = GENALLOC_ZERO, del = GENALLOC_ZERO ;
  int dollar = 0 ;
  if (S.uid)
  {
    /* UID EXPUNGE set (RFC 4315 2.1) */
    if (!tern_imap_p_sp(p) || !tern_imap_p_seqset(p, &ranges, &dollar)) { o_bad(p, 0) ; goto end ; }
  }
  if (!tern_imap_p_eol(p)) { o_bad(p, 0) ; goto end ; }
  if (S.readonly) { o_tagged("NO [READ-ONLY] The mailbox is read-only") ; goto end ; }
  view_disk() ;
  if (S.uid) { if (!view_set_or_saved(&ranges, dollar, 1, &uids)) goto end ; }
  else view_all(&uids) ;
  if (tern_store_rbegin(&S.st))
  {
    for (size_t i = 0 ; i < genalloc_len(uint32_t, &uids) ; i++)
    {
      tern_msg m ;
      uint32_t u = genalloc_s(uint32_t, &uids)[i] ;
      if (tern_store_get(&S.st, u, &m) == 1 && m.flags & TERN_F_DELETED && !genalloc_append(uint32_t, &del, &u)) die_io("out-of-memory") ;
    }
    tern_store_rend(&S.st) ;
  }
  if (genalloc_len(uint32_t, &del) && !tern_store_expunge(&S.st, genalloc_s(uint32_t, &del), genalloc_len(uint32_t, &del)))
  {
    o_nosys("expunge") ;
    goto end ;
  }
  view_sync(1) ;
  /* RFC 7162 3.2.7, 3.2.9: with QRESYNC, the new HIGHESTMODSEQ of an expunge */
  if (S.qresync && genalloc_len(uint32_t, &del))
  {
    o_put(S.tag, S.taglen) ;
    o_str(" OK [HIGHESTMODSEQ ") ;
    o_num(S.modseq) ;
    o_str("] Expunge completed\r\n") ;
  }
  else o_tagged("OK Expunge completed") ;
 end:
  genalloc_free(tern_imap_range, &ranges) ;
  genalloc_free(uint32_t, &uids) ;
  genalloc_free(uint32_t, &del) ;
}

void cmd_close (tern_imap_p *p)
{
  if (!tern_imap_p_eol(p)) { o_bad(p, 0) ; return ; }
  view_close(1) ;
  o_tagged("OK Close completed") ;
}

void cmd_unselect (tern_imap_p *p)
{
  if (!tern_imap_p_eol(p)) { o_bad(p, 0) ; return ; }
  view_close(0) ;
  o_tagged("OK Unselect completed") ;
}
