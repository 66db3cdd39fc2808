/* tern_mime_7bit: the 8BITMIME downgrade (RFC 6152 3; RFC 2045 6.7;
   RFC 2046 5). Reads a message (LF line ends, CRLF tolerated) from fd to
   its end, following its MIME structure through multipart and
   message/rfc822. TERN_MIME_SCAN notes, one byte per leaf part in flags,
   whether its body has 8-bit octets. TERN_MIME_EMIT then writes the
   message through sink with those leaves' bodies in quoted-printable and
   their Content-Transfer-Encoding rewritten (and an "8bit" or "binary"
   label on anything else changed to "7bit"); both passes must see the
   same message, since leaves are known by their order.

   Memory is bounded and time linear: lines are classified from their
   first HEADMAX octets (a boundary line is short), entity headers are
   held up to HDRMAX octets (beyond, that entity passes through
   unchanged), nesting stops at DEPTH (deeper entities are opaque
   leaves). Leaves already in base64 or quoted-printable, and preambles
   and epilogues, are never rewritten. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <skalibs/stralloc.h>
#include <skalibs/allreadwrite.h>
#include "tern.h"

#define DEPTH 16
#define HDRMAX 65536
#define HEADMAX 256
#define QPMAX 75   /* octets before a soft line break (76 with the '=') */

enum { K_LEAF, K_MULTI, K_MESSAGE } ;
enum { S_HEADER, S_HEADRAW, S_BODY } ;
enum { C_NONE, C_7BIT, C_8BIT, C_ENCODED, C_OTHER } ;

typedef struct ent_s ent ;
struct ent_s
{
  unsigned char kind ;
  unsigned char state ;
  unsigned char conv ;     /* leaf converted to quoted-printable */
  unsigned char digest ;   /* multipart/digest: parts default to message/rfc822 */
  unsigned char defmsg ;   /* this entity defaults to message/rfc822 */
  unsigned char bndlen ;
  char bnd[70] ;
} ;

typedef struct m_s m_t ;
struct m_s
{
  unsigned int mode ;
  stralloc *flags ;
  tern_mime_sink *sink ;
  void *ctx ;
  ent st[DEPTH] ;
  unsigned int depth ;
  stralloc hdr ;
  size_t leaves ;
  size_t leaf ;            /* the current leaf's index */
  char head[HEADMAX] ;
  size_t headlen ;
  int decided ;            /* the current line is known not to be a boundary or an empty line */
  unsigned int col ;
  int pendws ;
  int pendcr ;
  size_t olen ;
  int err ;
  char obuf[8192] ;
} ;

/* ---- output ---- */

static void flush (m_t *m)
{
  if (m->olen && !m->err && !(*m->sink)(m->ctx, m->obuf, m->olen)) m->err = errno ? errno : EIO ;
  m->olen = 0 ;
}

static void emit (m_t *m, char const *s, size_t n)
{
  if (m->mode != TERN_MIME_EMIT || m->err) return ;
  while (n)
  {
    size_t w = sizeof m->obuf - m->olen ;
    if (w > n) w = n ;
    memcpy(m->obuf + m->olen, s, w) ;
    m->olen += w ; s += w ; n -= w ;
    if (m->olen == sizeof m->obuf) flush(m) ;
  }
}

#define emits(m, s) emit(m, (s), strlen(s))

/* ---- quoted-printable (RFC 2045 6.7), a line at a time, in pieces ---- */

static void qp_token (m_t *m, char const *t, size_t n)
{
  if (m->col + n > QPMAX) { emit(m, "=\n", 2) ; m->col = 0 ; }
  emit(m, t, n) ;
  m->col += n ;
}

static void qp_hex (m_t *m, unsigned char c)
{
  static char const hex[16] = "0123456789ABCDEF" ;
  char t[3] = { '=', hex[c >> 4], hex[c & 15] } ;
  qp_token(m, t, 3) ;
}

static void qp_ws (m_t *m)
{
  if (m->pendws >= 0) { char c = m->pendws ; m->pendws = -1 ; qp_token(m, &c, 1) ; }
}

static void qp (m_t *m, char const *s, size_t n, int eol)
{
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned char c = s[i] ;
    if (m->pendcr) { qp_ws(m) ; qp_hex(m, '\r') ; m->pendcr = 0 ; }
    if (c == '\r') { m->pendcr = 1 ; continue ; }
    if (c == ' ' || c == '\t') { qp_ws(m) ; m->pendws = c ; continue ; }
    qp_ws(m) ;
    if (c >= 33 && c <= 126 && c != '=') { char x = c ; qp_token(m, &x, 1) ; }
    else qp_hex(m, c) ;
  }
  if (eol)
  {
    /* whitespace ending a line is encoded; a CR before the LF is the line end */
    if (m->pendws >= 0) { unsigned char c = m->pendws ; m->pendws = -1 ; qp_hex(m, c) ; }
    m->pendcr = 0 ;
    emit(m, "\n", 1) ;
    m->col = 0 ;
  }
}

/* at the end of the message, a last line without its LF */
static void qp_end (m_t *m)
{
  if (m->pendws >= 0) { unsigned char c = m->pendws ; m->pendws = -1 ; qp_hex(m, c) ; }
  if (m->pendcr) { qp_hex(m, '\r') ; m->pendcr = 0 ; }
}

/* ---- header fields (RFC 2045 5.1, 6.1; RFC 5322 3.2.2) ---- */

static void cfws (char const *v, size_t n, size_t *i)
{
  while (*i < n)
  {
    char c = v[*i] ;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') (*i)++ ;
    else if (c == '(')
    {
      unsigned int level = 0 ;
      for (; *i < n ; (*i)++)
      {
        if (v[*i] == '\\') { (*i)++ ; continue ; }
        if (v[*i] == '(') level++ ;
        else if (v[*i] == ')' && !--level) { (*i)++ ; break ; }
      }
    }
    else break ;
  }
}

static size_t token (char const *v, size_t n, size_t *i)
{
  size_t start = *i ;
  while (*i < n)
  {
    unsigned char c = v[*i] ;
    if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c)) break ;
    (*i)++ ;
  }
  return *i - start ;
}

static int tokis (char const *v, size_t len, char const *s)
{
  return len == strlen(s) && !strncasecmp(v, s, len) ;
}

typedef struct mimehdr_s mimehdr ;
struct mimehdr_s
{
  int has_ctype ;
  int has_mimever ;
  int multi ;              /* multipart with a usable boundary */
  int digest ;
  int message ;            /* message/rfc822 */
  int cte ;
  unsigned char bndlen ;
  char bnd[70] ;
} ;

static void parse_ctype (mimehdr *h, char const *v, size_t n)
{
  size_t i = 0, tl, sl ;
  char const *t, *st ;
  cfws(v, n, &i) ; t = v + i ; tl = token(v, n, &i) ;
  cfws(v, n, &i) ;
  if (!tl || i >= n || v[i] != '/') return ;
  i++ ;
  cfws(v, n, &i) ; st = v + i ; sl = token(v, n, &i) ;
  if (!sl) return ;
  h->has_ctype = 1 ;
  if (tokis(t, tl, "message") && tokis(st, sl, "rfc822")) { h->message = 1 ; return ; }
  if (!tokis(t, tl, "multipart")) return ;
  h->digest = tokis(st, sl, "digest") ;
  for (;;)
  {
    char const *a ;
    size_t al ;
    char val[71] ;
    size_t vl = 0 ;
    cfws(v, n, &i) ;
    if (i >= n || v[i] != ';') return ;
    i++ ;
    cfws(v, n, &i) ; a = v + i ; al = token(v, n, &i) ;
    cfws(v, n, &i) ;
    if (!al || i >= n || v[i] != '=') return ;
    i++ ;
    cfws(v, n, &i) ;
    if (i < n && v[i] == '"')
    {
      for (i++ ; i < n && v[i] != '"' ; i++)
      {
        if (v[i] == '\\' && i + 1 < n) i++ ;
        if (v[i] == '\r' || v[i] == '\n') continue ;
        if (vl < sizeof val) val[vl] = v[i] ;
        vl++ ;
      }
      if (i >= n) return ;
      i++ ;
    }
    else
    {
      char const *x = v + i ;
      vl = token(v, n, &i) ;
      if (vl <= sizeof val) memcpy(val, x, vl) ;
    }
    if (tokis(a, al, "boundary"))
    {
      if (vl && vl <= 70) { memcpy(h->bnd, val, vl) ; h->bndlen = vl ; h->multi = 1 ; }
      return ;
    }
  }
}

static void parse_cte (mimehdr *h, char const *v, size_t n)
{
  size_t i = 0, tl ;
  char const *t ;
  cfws(v, n, &i) ; t = v + i ; tl = token(v, n, &i) ;
  if (tokis(t, tl, "7bit")) h->cte = C_7BIT ;
  else if (tokis(t, tl, "8bit") || tokis(t, tl, "binary")) h->cte = C_8BIT ;
  else if (tokis(t, tl, "quoted-printable") || tokis(t, tl, "base64")) h->cte = C_ENCODED ;
  else h->cte = C_OTHER ;
}

/* Walks the held header a field at a time: start, length with its line
   ends, the name's length (0 if the line has no colon). */
static size_t next_field (char const *s, size_t n, size_t pos, size_t *len, size_t *namelen)
{
  size_t i = pos ;
  while (i < n)
  {
    char const *nl = memchr(s + i, '\n', n - i) ;
    i = nl ? (size_t)(nl - s) + 1 : n ;
    if (i >= n || (s[i] != ' ' && s[i] != '\t')) break ;
  }
  *len = i - pos ;
  {
    char const *colon = memchr(s + pos, ':', *len) ;
    *namelen = colon ? (size_t)(colon - (s + pos)) : 0 ;
    while (*namelen && (s[pos + *namelen - 1] == ' ' || s[pos + *namelen - 1] == '\t')) (*namelen)-- ;
  }
  return i ;
}

/* ---- entities ---- */

static ent *top (m_t *m)
{
  return m->st + m->depth - 1 ;
}

static void push (m_t *m, int defmsg)
{
  ent *e = m->st + m->depth++ ;
  memset(e, 0, sizeof *e) ;
  e->kind = K_LEAF ;
  e->state = S_HEADER ;
  e->defmsg = defmsg ;
  m->hdr.len = 0 ;
}

static void new_leaf (m_t *m, ent *e, int identity)
{
  e->kind = K_LEAF ;
  m->leaf = m->leaves++ ;
  if (m->mode == TERN_MIME_SCAN)
  {
    if (!stralloc_catb(m->flags, "", 1) && !m->err) m->err = errno ;
    e->conv = 0 ;
  }
  else e->conv = identity && m->leaf < m->flags->len && m->flags->s[m->leaf] ;
  m->col = 0 ; m->pendws = -1 ; m->pendcr = 0 ;
}

/* the header's end: s (n octets, empty or a CR) is the empty line, kept as it was */
static void header_end (m_t *m, char const *s, size_t n, int eol)
{
  ent *e = top(m) ;
  mimehdr h ;
  int identity, relabel ;
  if (e->state == S_HEADRAW)
  {
    new_leaf(m, e, 0) ;
    e->conv = 0 ;
    e->state = S_BODY ;
    emit(m, s, n) ;
    if (eol) emit(m, "\n", 1) ;
    return ;
  }
  memset(&h, 0, sizeof h) ;
  {
    size_t pos = 0, len, nl ;
    int seen_ct = 0, seen_cte = 0 ;
    while (pos < m->hdr.len)
    {
      char const *f = m->hdr.s + pos ;
      pos = next_field(m->hdr.s, m->hdr.len, pos, &len, &nl) ;
      if (!nl) continue ;
      if (!seen_ct && tokis(f, nl, "content-type")) { seen_ct = 1 ; parse_ctype(&h, f + nl + 1, len - nl - 1) ; }
      else if (!seen_cte && tokis(f, nl, "content-transfer-encoding")) { seen_cte = 1 ; parse_cte(&h, f + nl + 1, len - nl - 1) ; }
      else if (tokis(f, nl, "mime-version")) h.has_mimever = 1 ;
    }
  }
  if (!h.has_ctype && e->defmsg) h.message = 1 ;
  identity = h.cte == C_NONE || h.cte == C_7BIT || h.cte == C_8BIT ;
  if (h.multi && identity && m->depth < DEPTH)
  {
    e->kind = K_MULTI ;
    e->digest = h.digest ;
    memcpy(e->bnd, h.bnd, h.bndlen) ;
    e->bndlen = h.bndlen ;
  }
  else if (h.message && identity && m->depth < DEPTH) e->kind = K_MESSAGE ;
  else new_leaf(m, e, identity && !h.multi && !h.message) ;  /* too deep: opaque */

  relabel = h.cte == C_8BIT || (e->kind == K_LEAF && e->conv) ;
  if (m->mode == TERN_MIME_EMIT)
  {
    size_t pos = 0, len, nl ;
    while (pos < m->hdr.len)
    {
      char const *f = m->hdr.s + pos ;
      pos = next_field(m->hdr.s, m->hdr.len, pos, &len, &nl) ;
      if (relabel && nl && tokis(f, nl, "content-transfer-encoding")) continue ;
      emit(m, f, len) ;
    }
    if (m->depth == 1 && relabel && !h.has_mimever) emits(m, "MIME-Version: 1.0\n") ;
    if (m->depth == 1 && e->kind == K_LEAF && e->conv && !h.has_ctype)
      emits(m, "Content-Type: text/plain; charset=unknown-8bit\n") ;
    if (relabel)
      emits(m, e->kind == K_LEAF && e->conv ? "Content-Transfer-Encoding: quoted-printable\n" : "Content-Transfer-Encoding: 7bit\n") ;
    emit(m, s, n) ;
    if (eol) emit(m, "\n", 1) ;
  }
  e->state = S_BODY ;
  if (e->kind == K_MESSAGE) push(m, 0) ;
}

/* A piece of the current line (eol: the piece ends it) that is not a
   boundary and not a header's end. */
static void content (m_t *m, char const *s, size_t n, int eol)
{
  ent *e = top(m) ;
  if (e->state == S_HEADER)
  {
    if (m->hdr.len + n + 1 <= HDRMAX)
    {
      if (!stralloc_catb(&m->hdr, s, n) || (eol && !stralloc_catb(&m->hdr, "\n", 1))) { if (!m->err) m->err = errno ; }
      return ;
    }
    /* too big to interpret: pass the entity through as it is */
    emit(m, m->hdr.s, m->hdr.len) ;
    m->hdr.len = 0 ;
    e->state = S_HEADRAW ;
  }
  if (e->state == S_BODY && e->kind == K_LEAF)
  {
    if (m->mode == TERN_MIME_SCAN)
    {
      for (size_t i = 0 ; i < n ; i++)
        if ((unsigned char)s[i] >= 128) { if (m->leaf < m->flags->len) m->flags->s[m->leaf] = 1 ; break ; }
      return ;
    }
    if (e->conv) { qp(m, s, n, eol) ; return ; }
  }
  emit(m, s, n) ;
  if (eol) emit(m, "\n", 1) ;
}

static int is_boundary (ent const *e, char const *s, size_t n, int *close)
{
  size_t i ;
  if (e->kind != K_MULTI || n < 2u + e->bndlen || memcmp(s + 2, e->bnd, e->bndlen)) return 0 ;
  i = 2 + e->bndlen ;
  *close = 0 ;
  if (i + 2 <= n && s[i] == '-' && s[i+1] == '-') { *close = 1 ; i += 2 ; }
  for (; i < n ; i++) if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0 ;
  return 1 ;
}

/* a whole line of at most HEADMAX octets (eol: it had its LF) */
static void line_full (m_t *m, char const *s, size_t n, int eol)
{
  ent *e = top(m) ;
  if (n >= 2 && s[0] == '-' && s[1] == '-')
  {
    unsigned int i = m->depth ;
    int close ;
    while (i--)
      if (is_boundary(m->st + i, s, n, &close))
      {
        /* ends every entity inside multipart i */
        while (m->depth > i + 1)
        {
          ent *x = top(m) ;
          if (x->state == S_HEADER) { emit(m, m->hdr.s, m->hdr.len) ; m->hdr.len = 0 ; }
          else if (x->kind == K_LEAF && x->conv) qp_end(m) ;
          m->depth-- ;
        }
        emit(m, s, n) ;
        if (eol) emit(m, "\n", 1) ;
        if (!close) push(m, m->st[i].digest) ;
        return ;
      }
  }
  if ((e->state == S_HEADER || e->state == S_HEADRAW) && (!n || (n == 1 && s[0] == '\r')))
  {
    header_end(m, s, n, eol) ;
    return ;
  }
  content(m, s, n, eol) ;
}

static void piece (m_t *m, char const *s, size_t n, int eol)
{
  if (!m->decided)
  {
    size_t take = HEADMAX - m->headlen ;
    if (take > n) take = n ;
    memcpy(m->head + m->headlen, s, take) ;
    m->headlen += take ;
    if (eol && take == n) { line_full(m, m->head, m->headlen, 1) ; m->headlen = 0 ; return ; }
    if (m->headlen < HEADMAX) return ;
    m->decided = 1 ;
    content(m, m->head, m->headlen, 0) ;
    m->headlen = 0 ;
    s += take ; n -= take ;
  }
  content(m, s, n, eol) ;
  if (eol) m->decided = 0 ;
}

int tern_mime_7bit (int fd, stralloc *flags, unsigned int mode, tern_mime_sink *sink, void *ctx)
{
  static m_t const zero ;
  m_t *m = malloc(sizeof *m) ;
  char buf[16384] ;
  int e ;
  if (!m) return 0 ;
  *m = zero ;
  m->mode = mode ;
  m->flags = flags ;
  m->sink = sink ;
  m->ctx = ctx ;
  m->hdr = stralloc_zero ;
  m->pendws = -1 ;
  if (mode == TERN_MIME_SCAN) flags->len = 0 ;
  push(m, 0) ;
  for (;;)
  {
    ssize_t r = fd_read(fd, buf, sizeof buf) ;
    char const *s = buf ;
    if (r < 0) { if (!m->err) m->err = errno ; break ; }
    if (!r) break ;
    while (r)
    {
      char const *nl = memchr(s, '\n', r) ;
      size_t k = nl ? (size_t)(nl - s) : (size_t)r ;
      piece(m, s, k, !!nl) ;
      k += !!nl ;
      s += k ; r -= k ;
    }
    if (m->err) break ;
  }
  if (!m->err)
  {
    /* a last line without its LF */
    ent *x ;
    if (!m->decided && m->headlen) line_full(m, m->head, m->headlen, 0) ;
    x = top(m) ;
    if (x->state == S_HEADER) emit(m, m->hdr.s, m->hdr.len) ;
    else if (x->state == S_BODY && x->kind == K_LEAF && x->conv) qp_end(m) ;
    flush(m) ;
  }
  stralloc_free(&m->hdr) ;
  e = m->err ;
  free(m) ;
  if (e) return (errno = e, 0) ;
  return 1 ;
}
