/* fts.c: the selected folder's search index (tern_fts.h) brought up to
   date before a search that can use it. The messages of the view above
   the index's mark are read and indexed in UID order, in segments, each
   written in one short transaction; when there are many, the client is
   told how far it is (RFC 9585 INPROGRESS) every PROGRESS messages.
   This is the index's only writer: deliver writes metadata only
   (DESIGN.md), so the first search after new mail indexes it. A message
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

static int text (void *data, char const *s, size_t n)
{
  tx *x = data ;
  return tern_fts_text(x->f, x->uid, s, n) ? 0 : -1 ;
}

static void progress (size_t done, size_t goal)
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

void fts_update (void)
{
  genalloc all = GENALLOC_ZERO ;
  stralloc scratch = STRALLOC_ZERO ;
  tern_fts f ;
  uint32_t upto = 0 ;
  uint32_t const *u ;
  size_t n, i, lo, hi, goal ;
  if (!tern_store_rbegin(&S.st)) return ;
  if (tern_fts_upto(&S.st, &upto) < 0) { tern_store_rend(&S.st) ; strerr_warnwu1sys("read the search index") ; return ; }
  tern_store_rend(&S.st) ;
  view_all(&all) ;
  u = genalloc_s(uint32_t, &all) ;
  n = genalloc_len(uint32_t, &all) ;
  if (!n || u[n-1] <= upto) goto end ;
  if (!tern_fts_begin(&S.st, &f)) { strerr_warnwu1sys("open the search index") ; goto end ; }
  /* the first UID above the mark (as begin read it) */
  for (lo = 0, hi = n ; lo < hi ;)
  {
    size_t mid = (lo + hi) / 2 ;
    if (u[mid] <= f.upto) lo = mid + 1 ; else hi = mid ;
  }
  goal = n - lo ;
  if (goal >= PROGRESS) progress(0, goal) ;
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
    if (f.count >= TERN_FTS_SEGMSG && !tern_fts_flush(&f)) break ;
    if (goal >= PROGRESS && !((i - lo + 1) % PROGRESS) && i + 1 < n) progress(i - lo + 1, goal) ;
  }
  if (!tern_fts_flush(&f) && errno != EAGAIN) strerr_warnwu1sys("write the search index") ;
  tern_fts_free(&f) ;
 end:
  stralloc_free(&scratch) ;
  genalloc_free(uint32_t, &all) ;
}
