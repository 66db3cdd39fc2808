/* imap-command: libFuzzer target for the IMAP grammar (tern_imap_litspec
   and the tern_imap_p_* steps). The input is read as imap-serve reads a
   command: lines, a literal after each line that ends with a literal
   head (its octets taken from the input); then the steps are run over
   the command text in an order chosen by the first octets of the input,
   and what they promise is checked: no read outside the text, a step
   that succeeds consumes its token (or nothing only when it may), a
   failed one says why, sequence ranges ordered, dates valid. The
   modified UTF-7 functions get the same input, and must round-trip. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "tern_imap.h"

static void steps (tern_imap_p *p, uint8_t const *ops, size_t nops)
{
  stralloc sa = STRALLOC_ZERO ;
  genalloc ga = GENALLOC_ZERO ;
  for (size_t k = 0 ; k < 4096 && p->pos < p->len ; k++)
  {
    size_t before = p->pos ;
    int r = 0, mayempty = 0 ;
    char const *s ;
    size_t n ;
    uint32_t u ;
    uint64_t v ;
    int64_t t ;
    int z, d, b ;
    sa.len = 0 ;
    switch (nops ? ops[k % nops] % 16 : k % 16)
    {
      case 0 : r = tern_imap_p_sp(p) ; break ;
      case 1 : r = tern_imap_p_tag(p, &s, &n) ; if (r && (!n || s != p->s + before)) abort() ; break ;
      case 2 : r = tern_imap_p_atom(p, &s, &n) ; if (r && !n) abort() ; break ;
      case 3 : r = tern_imap_p_flag(p, &s, &n, 1) ; break ;
      case 4 : r = tern_imap_p_astring(p, &sa) ; break ;
      case 5 : r = tern_imap_p_string(p, &sa) ; break ;
      case 6 : r = tern_imap_p_nstring(p, &sa, &z) ; break ;
      case 7 : r = tern_imap_p_listmailbox(p, &sa) ; break ;
      case 8 : r = tern_imap_p_number(p, &u) ; break ;
      case 9 : r = tern_imap_p_number64(p, &v) ; if (r && v >= (UINT64_C(1) << 63)) abort() ; break ;
      case 10 : r = tern_imap_p_nznumber(p, &u) ; if (r && !u) abort() ; break ;
      case 11 :
        genalloc_setlen(tern_imap_range, &ga, 0) ;
        r = tern_imap_p_seqset(p, &ga, &d) ;
        mayempty = 0 ;
        if (r) for (size_t i = 0 ; i < genalloc_len(tern_imap_range, &ga) ; i++)
        {
          tern_imap_range const *x = genalloc_s(tern_imap_range, &ga) + i ;
          if (x->lo != TERN_IMAP_STAR && x->hi != TERN_IMAP_STAR && x->lo > x->hi) abort() ;
        }
        break ;
      case 12 :
        r = tern_imap_p_datetime(p, &t, &z) ;
        if (r && (z < -5999 || z > 5999)) abort() ;
        if (r)
        {
          char buf[TERN_IMAP_DATETIME_LEN] ;
          if (tern_imap_datetime_fmt(buf, t, z) != TERN_IMAP_DATETIME_LEN) abort() ;
        }
        break ;
      case 13 : r = tern_imap_p_date(p, &t) ; break ;
      case 14 : r = tern_imap_p_literal(p, &s, &z, &v, &b) ; if (r && z >= 0) abort() ; break ;
      case 15 : r = tern_imap_p_char(p, p->pos < p->len ? p->s[p->pos] : 'x') ; break ;
    }
    if (p->pos > p->len) abort() ;
    if (r && p->pos == before && !mayempty) abort() ;
    if (!r && !p->err) abort() ;
    if (!r) { p->pos = before + 1 ; p->err = 0 ; }
  }
  stralloc_free(&sa) ;
  genalloc_free(tern_imap_range, &ga) ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  stralloc cmd = STRALLOC_ZERO ;
  genalloc lits = GENALLOC_ZERO ;
  size_t nops = size ? data[0] % 32 : 0, i ;
  uint8_t const *ops ;
  if (size < 1 + nops) return 0 ;
  ops = data + 1 ;
  i = 1 + nops ;
  /* read as imap-serve does: a line, then the literal its head announces */
  while (i < size)
  {
    uint8_t const *nl = memchr(data + i, '\n', size - i) ;
    size_t end = nl ? (size_t)(nl - data) : size, len = end - i, start = cmd.len, head ;
    uint64_t n ;
    int ns, bin, r ;
    if (len && data[end - 1] == '\r') len-- ;
    stralloc_catb(&cmd, (char const *)data + i, len) ;
    i = nl ? end + 1 : size ;
    r = tern_imap_litspec(cmd.s + start, len, &n, &ns, &bin, &head) ;
    if (r < 0 || !r) break ;
    if (head >= len || (cmd.s[start + head] != '{' && cmd.s[start + head] != '~')) abort() ;
    if (n > size - i) break ;
    stralloc_catb(&cmd, "\r\n", 2) ;
    {
      tern_imap_lit l = { .pos = cmd.len, .len = n, .fd = -1 } ;
      genalloc_append(tern_imap_lit, &lits, &l) ;
    }
    stralloc_catb(&cmd, (char const *)data + i, n) ;
    i += n ;
  }
  {
    tern_imap_p p = TERN_IMAP_P_ZERO ;
    p.s = cmd.s ; p.len = cmd.len ;
    p.lits = genalloc_s(tern_imap_lit, &lits) ; p.nlits = genalloc_len(tern_imap_lit, &lits) ;
    steps(&p, ops, nops) ;
  }
  /* modified UTF-7: valid means it decodes, and its UTF-8 encodes back to it */
  if (tern_mutf7_valid(cmd.s, cmd.len))
  {
    stralloc u = STRALLOC_ZERO, m = STRALLOC_ZERO ;
    if (!tern_mutf7_to_utf8(&u, cmd.s, cmd.len)) abort() ;
    if (!tern_utf8_to_mutf7(&m, u.s, u.len)) abort() ;
    if (m.len != cmd.len || (m.len && memcmp(m.s, cmd.s, m.len))) abort() ;
    stralloc_free(&u) ; stralloc_free(&m) ;
  }
  {
    stralloc m = STRALLOC_ZERO, u = STRALLOC_ZERO ;
    if (tern_utf8_to_mutf7(&m, cmd.s, cmd.len))
    {
      if (!tern_mutf7_valid(m.s, m.len) || !tern_mutf7_to_utf8(&u, m.s, m.len)) abort() ;
      if (u.len != cmd.len || (u.len && memcmp(u.s, cmd.s, u.len))) abort() ;
    }
    stralloc_free(&m) ; stralloc_free(&u) ;
  }
  stralloc_free(&cmd) ;
  genalloc_free(tern_imap_lit, &lits) ;
  return 0 ;
}
