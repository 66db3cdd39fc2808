/* fts.c: the selected folder's search index (tern_fts.h) brought up to
   date before a search that can use it. The messages of the view above
   the index's mark are read and indexed in UID order, in segments, each
   written in one short transaction; when there are many, the client is
   told how far it is (RFC 9585 INPROGRESS) every PROGRESS messages.
   This is the index's only writer: deliver writes metadata only
   (DESIGN.md), so the first search after new mail indexes it. The first
   search of a selection that finds more than FTS_DEFER messages behind
   (an old folder never searched) does not wait for it: the scan answers
   (with the progress lines), and the index is built after, in the
   session's idle time a segment at a time (fts_idle), or by the next
   search, whichever comes first. A message
   whose file cannot be read stops the run there (it may have moved:
   the next search, after its sync, goes on from it); what is not
   indexed is searched by the scan. */

#include <errno.h>
#include <string.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"
#include "tern_fts.h"

#define PROGRESS 2000

typedef struct tx_s tx ;
struct tx_s { tern_fts *f ; uint32_t uid ; } ;

static int text (void *data, unsigned int kind, char const *s, size_t n)
{
  tx *x = data ;
  return tern_fts_text(x->f, x->uid, kind == TERN_MTEXT_LEAF ? TERN_FTS_KBODY : 0, s, n) ? 0 : -1 ;
}

void fts_progress (size_t done, size_t goal)
{
  o_str("* OK [INPROGRESS (") ;
  o_string(S.tag, S.taglen) ;
  o_put(" ", 1) ;
  o_num(done) ;
  o_put(" ", 1) ;
  o_num(goal) ;
  o_str(")] Indexing the folder for search\r\n") ;
  o_flush() ;
}

/* The messages of the view, and the first one above the index's mark
   (*lo, as the index has it now); 0 when that cannot be read. */
static int above (genalloc *all, uint32_t mark, size_t *lo)
{
  uint32_t const *u = genalloc_s(uint32_t, all) ;
  size_t l = 0, h = genalloc_len(uint32_t, all) ;
  while (l < h)
  {
    size_t mid = (l + h) / 2 ;
    if (u[mid] <= mark) l = mid + 1 ; else h = mid ;
  }
  *lo = l ;
  return 1 ;
}

size_t fts_behind (void)
{
  genalloc all = GENALLOC_ZERO ;
  uint32_t upto = 0, nv = view_count() ;
  size_t lo, n ;
  if (!tern_store_rbegin(&S.st)) return 0 ;
  if (tern_fts_upto(&S.st, &upto) < 0) { tern_store_rend(&S.st) ; return 0 ; }
  tern_store_rend(&S.st) ;
  if (!nv || view_uid(nv) <= upto) return 0 ;   /* up to date: no copy of the view */
  view_all(&all) ;
  above(&all, upto, &lo) ;
  n = genalloc_len(uint32_t, &all) - lo ;
  genalloc_free(uint32_t, &all) ;
  return n ;
}

/* Indexes the view's messages above the mark: all of them, with
   progress lines, or (slice) until a segment was written. 1 when some
   are left, 0 when none. */
static int run (int slice)
{
  genalloc all = GENALLOC_ZERO ;
  stralloc scratch = STRALLOC_ZERO ;
  tern_fts f ;
  uint32_t upto = 0 ;
  uint32_t const *u ;
  size_t n, i, lo, goal ;
  int left = 0 ;
  if (!tern_store_rbegin(&S.st)) return 0 ;
  if (tern_fts_upto(&S.st, &upto) < 0) { tern_store_rend(&S.st) ; strerr_warnwu1sys("read the search index") ; return 0 ; }
  tern_store_rend(&S.st) ;
  view_all(&all) ;
  u = genalloc_s(uint32_t, &all) ;
  n = genalloc_len(uint32_t, &all) ;
  if (!n || u[n-1] <= upto) goto end ;
  if (!tern_fts_begin(&S.st, &f)) { strerr_warnwu1sys("open the search index") ; goto end ; }
  above(&all, f.upto, &lo) ;
  goal = n - lo ;
  if (!slice && goal >= PROGRESS) fts_progress(0, goal) ;
  for (i = lo ; i < n ; i++)
  {
    mctx c ;
    tx x = { .f = &f, .uid = u[i] } ;
    int r ;
    memset(&c, 0, sizeof(c)) ;
    c.readok = 1 ;
    if (!tern_store_rbegin(&S.st)) break ;
    r = tern_store_get(&S.st, u[i], &c.m) ;
    if (r == 1 && c.m.namelen < sizeof(c.name))
    {
      memcpy(c.name, c.m.name, c.m.namelen) ;
      c.name[c.m.namelen] = 0 ;
      c.m.name = c.name ;
    }
    tern_store_rend(&S.st) ;
    if (r < 0) break ;
    if (r == 1)
    {
      if (c.m.namelen >= sizeof(c.name)) { tern_fts_done(&f, u[i]) ; continue ; }
      if (!mctx_parse(&c, 0)) break ;
      r = tern_mime_texts(&c.mime, TERN_MSEARCH_TEXT, &scratch, &text, &x) ;
      mctx_free(&c) ;
      if (r < 0) die_io("out-of-memory") ;
    }
    tern_fts_done(&f, u[i]) ;
    if (f.count >= TERN_FTS_SEGMSG || f.txt.len >= TERN_FTS_TXTFLUSH)
    {
      if (!tern_fts_flush(&f)) break ;
      if (slice) { left = i + 1 < n ; break ; }
    }
    if (!slice && goal >= PROGRESS && !((i - lo + 1) % PROGRESS) && i + 1 < n) fts_progress(i - lo + 1, goal) ;
  }
  if (!tern_fts_flush(&f) && errno != EAGAIN) { strerr_warnwu1sys("write the search index") ; left = 0 ; }
  tern_fts_free(&f) ;
 end:
  stralloc_free(&scratch) ;
  genalloc_free(uint32_t, &all) ;
  return left ;
}

void fts_update (void)
{
  run(0) ;
  S.ftsidle = 0 ;
}

int fts_idle (void)
{
  if (!S.selected || !S.ftsidle) return 0 ;
  S.ftsidle = run(1) ;
  return S.ftsidle ;
}
