/* tern_mime_parse: a message in memory into its tree of MIME parts
   (RFC 2045, RFC 2046 5.1 and 5.2), in one pass over its lines.

   Each line costs a memchr for its end and, when it starts with "--"
   while multiparts are open, one walk down a trie of the open boundaries
   (at most BMAX octets, each sibling list scanned at most once): the work
   per line is bounded whatever the nesting, so the whole is linear.
   Nothing is allocated per line; the scratch (the stack of open parts
   and the trie) lives in m->work and is kept for the next parse.

   Boundaries are read as Dovecot 2.3 reads them: a delimiter line is
   "--" then an open boundary as a prefix (RFC 2046 5.1.1 forbids a
   boundary inside the parts, so the rest of the line is padding); when
   several open boundaries match, the longest wins, then the innermost.
   The line end before a delimiter belongs to the delimiter when it ends
   a body line (see the main loop for the other cases). A delimiter
   of an enclosing multipart closes every part inside it (a missing close
   delimiter); a part's header ends at its empty line, at such a
   delimiter, or at the end. Boundaries are cut to BMAX octets. Parts
   past TERN_MIME_DEPTH levels, or past TERN_MIME_PARTS parts (where
   delimiters stop being looked for), are opaque leaves. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

#define BMAX 80
#define NMAX (TERN_MIME_DEPTH * BMAX + 1)

enum { S_HDR, S_BODY } ;
enum { L_NONE, L_BODY, L_HDR, L_DELIM } ;

typedef struct tnode_s tnode ;
struct tnode_s
{
  unsigned char c ;
  unsigned char refs ;     /* boundaries through this node */
  signed char term ;       /* stack index of the innermost boundary ending here, or -1 */
  uint16_t child, next ;   /* 0: none (node 0 is the root) */
} ;

typedef struct ent_s ent ;
struct ent_s
{
  uint32_t part ;
  uint32_t last ;          /* last child so far */
  unsigned char state ;
  unsigned char active ;   /* a multipart whose boundary is in the trie */
  unsigned char ismime ;   /* MIME-Version or Content-Type seen */
  unsigned char blen ;
  signed char prevterm ;
  int fcur ;               /* the noted field whose continuation lines extend it, or -1 */
  uint64_t lf0, bare0 ;    /* line ends before the part, and the bare LFs among them */
  uint64_t lf1, bare1 ;    /* the same before its body */
  char bnd[BMAX] ;
} ;

typedef struct work_s work ;
struct work_s
{
  ent st[TERN_MIME_DEPTH] ;
  tnode nodes[NMAX] ;
  unsigned int nused, freelist, nbnd ;
} ;

typedef struct ctx_s ctx ;
struct ctx_s
{
  tern_mime *m ;
  work *w ;
  unsigned int sp ;        /* the innermost open part is w->st[sp] (sp is its depth) */
  int nomore ;             /* TERN_MIME_PARTS reached */
} ;

#define PART(c, i) (genalloc_s(tern_mime_part, &(c)->m->parts) + (i))

/* ---- the trie of open boundaries ---- */

static unsigned int node_new (work *w, unsigned char c, unsigned int next)
{
  unsigned int x ;
  if (w->freelist) { x = w->freelist ; w->freelist = w->nodes[x].next ; }
  else x = w->nused++ ;
  w->nodes[x].c = c ;
  w->nodes[x].refs = 0 ;
  w->nodes[x].term = -1 ;
  w->nodes[x].child = 0 ;
  w->nodes[x].next = next ;
  return x ;
}

static void trie_add (work *w, unsigned int k)
{
  ent *e = w->st + k ;
  unsigned int n = 0 ;
  for (unsigned int i = 0 ; i < e->blen ; i++)
  {
    unsigned char c = e->bnd[i] ;
    unsigned int x = w->nodes[n].child ;
    while (x && w->nodes[x].c != c) x = w->nodes[x].next ;
    if (!x) { x = node_new(w, c, w->nodes[n].child) ; w->nodes[n].child = x ; }
    w->nodes[x].refs++ ;
    n = x ;
  }
  e->prevterm = w->nodes[n].term ;
  w->nodes[n].term = k ;
  e->active = 1 ;
  w->nbnd++ ;
}

static void trie_del (work *w, unsigned int k)
{
  ent *e = w->st + k ;
  unsigned int n = 0, i ;
  for (i = 0 ; i < e->blen ; i++)
  {
    unsigned int x = w->nodes[n].child ;
    while (w->nodes[x].c != (unsigned char)e->bnd[i]) x = w->nodes[x].next ;
    n = x ;
  }
  w->nodes[n].term = e->prevterm ;
  n = 0 ;
  for (i = 0 ; i < e->blen ; i++)
  {
    unsigned int x = w->nodes[n].child, prev = 0 ;
    while (w->nodes[x].c != (unsigned char)e->bnd[i]) { prev = x ; x = w->nodes[x].next ; }
    if (!--w->nodes[x].refs)
    {
      /* nothing else goes through x: unlink it and free the path below */
      if (prev) w->nodes[prev].next = w->nodes[x].next ;
      else w->nodes[n].child = w->nodes[x].next ;
      while (x)
      {
        unsigned int below = w->nodes[x].child ;
        w->nodes[x].next = w->freelist ;
        w->freelist = x ;
        x = below ;
      }
      break ;
    }
    n = x ;
  }
  e->active = 0 ;
  w->nbnd-- ;
}

/* the open multipart whose boundary is the longest prefix of s[0..n), or -1 */
static int trie_match (work const *w, char const *s, size_t n)
{
  unsigned int x = 0 ;
  int best = -1 ;
  if (n > BMAX) n = BMAX ;
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned int y = w->nodes[x].child ;
    while (y && w->nodes[y].c != (unsigned char)s[i]) y = w->nodes[y].next ;
    if (!y) break ;
    x = y ;
    if (w->nodes[x].term >= 0) best = w->nodes[x].term ;
  }
  return best ;
}

/* ---- parts ---- */

/* a new part at offset off, child of the part open at depth sp (or the
   message when there is none), pushed at depth sp+1 */
static int part_open (ctx *c, size_t off, uint64_t lf, uint64_t bare, int top)
{
  tern_mime_part p ;
  uint32_t idx = tern_mime_nparts(c->m) ;
  ent *e ;
  memset(&p, 0, sizeof p) ;
  p.parent = TERN_MIME_NONE ;
  p.child = p.next = TERN_MIME_NONE ;
  p.hdr = p.body = off ;
  if (!top)
  {
    ent *pe = c->w->st + c->sp ;
    tern_mime_part *pp = PART(c, pe->part) ;
    p.parent = pe->part ;
    p.depth = pp->depth + 1 ;
    if (pp->child == TERN_MIME_NONE) pp->child = idx ;
    else PART(c, pe->last)->next = idx ;
    pp->nchild++ ;
    pe->last = idx ;
  }
  if (!genalloc_append(tern_mime_part, &c->m->parts, &p)) return 0 ;
  if (!top) c->sp++ ;
  e = c->w->st + c->sp ;
  e->part = idx ;
  e->last = TERN_MIME_NONE ;
  e->state = S_HDR ;
  e->active = 0 ;
  e->ismime = 0 ;
  e->blen = 0 ;
  e->fcur = -1 ;
  e->lf0 = e->lf1 = lf ;
  e->bare0 = e->bare1 = bare ;
  if (tern_mime_nparts(c->m) >= TERN_MIME_PARTS) { c->nomore = 1 ; c->m->capped = 1 ; }
  return 1 ;
}

/* the boundary parameter, raw: quotes undone, RFC 2231 sections joined */
static void get_boundary (ent *e, char const *v, size_t n, size_t pos)
{
  tern_mime_rawparam p ;
  char const *sec[16] ;
  size_t seclen[16] ;
  unsigned char secq[16], secx[16] ;
  unsigned int nsec = 0 ;
  char buf[BMAX] ;
  size_t blen = 0 ;
  memset(sec, 0, sizeof sec) ;
  while ((pos = tern_mime_param_next(v, n, pos, &p)))
  {
    size_t base ;
    unsigned int idx ;
    int ext ;
    if (tmi_is(p.name, p.namelen, "boundary"))
    {
      sec[0] = p.val ; seclen[0] = p.vallen ; secq[0] = p.quoted ; secx[0] = 0 ;
      nsec = 1 ;
      break ;
    }
    if (tmi_2231(p.name, p.namelen, &base, &idx, &ext) && idx < 16 && tmi_is(p.name, base, "boundary") && !sec[idx])
    {
      sec[idx] = p.val ; seclen[idx] = p.vallen ; secq[idx] = p.quoted ; secx[idx] = ext ;
      if (idx >= nsec) nsec = idx + 1 ;
    }
  }
  for (unsigned int i = 0 ; i < nsec && sec[i] && blen < BMAX ; i++)
  {
    char const *s = sec[i] ;
    size_t l = seclen[i] ;
    if (secx[i] && !i)
    {
      /* charset'language' first: the octets are what matters here */
      char const *q = memchr(s, '\'', l) ;
      char const *q2 = q ? memchr(q + 1, '\'', l - (q + 1 - s)) : 0 ;
      if (q2) { l -= q2 + 1 - s ; s = q2 + 1 ; }
    }
    for (size_t j = 0 ; j < l && blen < BMAX ; j++)
    {
      char ch = s[j] ;
      if (secq[i] && ch == '\\' && j + 1 < l && s[j+1] != '\r' && s[j+1] != '\n') ch = s[++j] ;
      else if (secq[i] && (ch == '\\' || ch == '\r' || ch == '\n')) continue ;
      else if (secx[i] && ch == '%' && j + 2 < l && tmi_hex((unsigned char)s[j+1]) >= 0 && tmi_hex((unsigned char)s[j+2]) >= 0)
      {
        ch = tmi_hex((unsigned char)s[j+1]) << 4 | tmi_hex((unsigned char)s[j+2]) ;
        j += 2 ;
      }
      buf[blen++] = ch ;
    }
  }
  memcpy(e->bnd, buf, blen) ;
  e->blen = blen ;
}

static unsigned int get_cte (char const *v, size_t n)
{
  size_t i = tmi_cfws(v, n, 0), j = tmi_token(v, n, i) ;
  char const *t = v + i ;
  size_t tl = j - i ;
  if (!tl || tmi_cfws(v, n, j) != n) return TERN_CTE_7BIT ;  /* not a token: ignored, as Dovecot does */
  if (tmi_is(t, tl, "7bit")) return TERN_CTE_7BIT ;
  if (tmi_is(t, tl, "8bit")) return TERN_CTE_8BIT ;
  if (tmi_is(t, tl, "binary")) return TERN_CTE_BINARY ;
  if (tmi_is(t, tl, "quoted-printable")) return TERN_CTE_QP ;
  if (tmi_is(t, tl, "base64")) return TERN_CTE_BASE64 ;
  return TERN_CTE_OTHER ;
}

/* The header of st[sp] is over: what the part is. With body, its body
   begins now (at the counters given), else the part ends with its header. */
static int header_end (ctx *c, int body, uint64_t lf, uint64_t bare)
{
  ent *e = c->w->st + c->sp ;
  tern_mime_part *p = PART(c, e->part) ;
  tern_mime_part const *parent = p->parent == TERN_MIME_NONE ? 0 : PART(c, p->parent) ;
  unsigned int flags = 0 ;
  if (!e->ismime && !(parent && parent->flags & TERN_MIME_MULTIPART)) p->fields = 0 ;
  e->lf1 = lf ; e->bare1 = bare ;
  e->state = S_BODY ;
  if (p->fields & 1u << TERN_MIME_F_TYPE)
  {
    char const *v = c->m->msg + p->fval[TERN_MIME_F_TYPE] ;
    size_t n = p->flen[TERN_MIME_F_TYPE], tl, sl, pos ;
    char const *t, *st ;
    if (tern_mime_ctype(v, n, &t, &tl, &st, &sl, &pos))
    {
      if (tmi_is(t, tl, "multipart"))
      {
        flags = TERN_MIME_MULTIPART ;
        if (tmi_is(st, sl, "digest")) flags |= TERN_MIME_DIGEST ;
        get_boundary(e, v, n, pos) ;
      }
      else if (tmi_is(t, tl, "message") && tmi_is(st, sl, "rfc822")) flags = TERN_MIME_RFC822 ;
      else if (tmi_is(t, tl, "message") && tmi_is(st, sl, "global")) flags = TERN_MIME_RFC822 | TERN_MIME_GLOBAL ;
      else if (tmi_is(t, tl, "text")) flags = TERN_MIME_TEXT ;
    }
    else flags = TERN_MIME_DEFAULTED ;
  }
  else flags = TERN_MIME_DEFAULTED ;
  if (flags & TERN_MIME_DEFAULTED)
    flags |= parent && parent->flags & TERN_MIME_DIGEST ? TERN_MIME_RFC822 : TERN_MIME_TEXT ;
  p->cte = p->fields & 1u << TERN_MIME_F_CTE ? get_cte(c->m->msg + p->fval[TERN_MIME_F_CTE], p->flen[TERN_MIME_F_CTE]) : TERN_CTE_7BIT ;
  if (flags & (TERN_MIME_MULTIPART | TERN_MIME_RFC822)
   && (p->depth + 1 >= TERN_MIME_DEPTH || (flags & TERN_MIME_RFC822 && c->nomore)))
  {
    /* RFC 2046 gives no limit; Dovecot shows these as application/octet-stream */
    flags = TERN_MIME_CAPPED ;
    c->m->capped = 1 ;
  }
  p->flags = flags ;
  if (flags & TERN_MIME_MULTIPART && e->blen && body && !c->nomore) trie_add(c->w, c->sp) ;
  if (flags & TERN_MIME_RFC822) return part_open(c, p->body, lf, bare, 0) ;
  return 1 ;
}

/* The part open at depth sp ends at off, lf and bare being the counters
   there. When off comes before where it has got to, the line end before
   a delimiter was the last line end of its header (its empty line, or
   the line before the delimiter): that line end is the delimiter's
   (RFC 2046 5.1.1: a body part is headers then, optionally, CRLF and a
   body), so the header ends at off; a part that began after off is
   empty, at off. */
static int part_close (ctx *c, size_t off, uint64_t lf, uint64_t bare)
{
  ent *e = c->w->st + c->sp ;
  tern_mime_part *p = PART(c, e->part) ;
  if (off < p->hdr) { p->hdr = off ; e->lf0 = lf ; e->bare0 = bare ; }
  if (e->state == S_HDR || off < p->body)
  {
    int hdr = e->state == S_HDR ;
    p->hdrlen = off - p->hdr ;
    p->hdrsize = p->hdrlen + (bare - e->bare0) ;
    p->body = off ;
    e->lf1 = lf ; e->bare1 = bare ;
    if (hdr)
    {
      if (!header_end(c, 0, lf, bare)) return 0 ;
      /* a message/rfc822 header cut short still has its (empty) message */
      if (c->w->st + c->sp != e && !part_close(c, off, lf, bare)) return 0 ;
    }
  }
  p = PART(c, e->part) ;
  p->bodylen = off - p->body ;
  p->bodysize = p->bodylen + (bare - e->bare1) ;
  p->bodylines = lf - e->lf1 ;
  if (e->active) trie_del(c->w, c->sp) ;
  if (c->sp) c->sp-- ;
  return 1 ;
}

/* a header line [p, end) that is not the empty line */
static void header_line (ctx *c, size_t p, size_t end)
{
  ent *e = c->w->st + c->sp ;
  tern_mime_part *part = PART(c, e->part) ;
  char const *s = c->m->msg ;
  char const *colon ;
  size_t nl ;
  int f = -1 ;
  if (s[p] == ' ' || s[p] == '\t')
  {
    if (e->fcur >= 0) part->flen[e->fcur] = end - part->fval[e->fcur] ;
    return ;
  }
  e->fcur = -1 ;
  if (p - part->hdr >= TERN_MIME_HDRMAX) { c->m->capped = 1 ; return ; }
  colon = memchr(s + p, ':', end - p) ;
  if (!colon) return ;
  nl = colon - (s + p) ;
  while (nl && (s[p + nl - 1] == ' ' || s[p + nl - 1] == '\t')) nl-- ;
  if (nl == 12 && tmi_is(s + p, 12, "mime-version")) { e->ismime = 1 ; return ; }
  if (nl < 10 || !tmi_is(s + p, 8, "content-")) return ;
  {
    char const *x = s + p + 8 ;
    size_t xl = nl - 8 ;
    if (tmi_is(x, xl, "type")) { f = TERN_MIME_F_TYPE ; e->ismime = 1 ; }
    else if (tmi_is(x, xl, "transfer-encoding")) f = TERN_MIME_F_CTE ;
    else if (tmi_is(x, xl, "id")) f = TERN_MIME_F_ID ;
    else if (tmi_is(x, xl, "description")) f = TERN_MIME_F_DESC ;
    else if (tmi_is(x, xl, "md5")) f = TERN_MIME_F_MD5 ;
    else if (tmi_is(x, xl, "disposition")) f = TERN_MIME_F_DISP ;
    else if (tmi_is(x, xl, "language")) f = TERN_MIME_F_LANG ;
    else if (tmi_is(x, xl, "location")) f = TERN_MIME_F_LOC ;
  }
  if (f < 0 || part->fields & 1u << f) return ;
  part->fields |= 1u << f ;
  part->fval[f] = colon + 1 - s ;
  part->flen[f] = end - part->fval[f] ;
  e->fcur = f ;
}

int tern_mime_parse (tern_mime *m, char const *s, size_t len)
{
  ctx c = { .m = m, .sp = 0, .nomore = 0 } ;
  size_t p = 0, lastterm = 0 ;
  uint64_t lf = 0, bare = 0 ;
  int lastbare = 0 ;
  int lastline = L_NONE ;   /* what the line before was */
  unsigned int lasthdr = 0 ; /* with L_HDR: the depth of the part whose header it was in */
  if (!m->work)
  {
    m->work = malloc(sizeof(work)) ;
    if (!m->work) return 0 ;
  }
  c.w = m->work ;
  c.w->nused = 1 ;
  c.w->freelist = 0 ;
  c.w->nbnd = 0 ;
  c.w->nodes[0].child = 0 ;
  c.w->nodes[0].term = -1 ;
  m->msg = s ;
  m->len = len ;
  m->capped = 0 ;
  genalloc_setlen(tern_mime_part, &m->parts, 0) ;
  if (!part_open(&c, 0, 0, 0, 1)) return 0 ;

  while (p < len)
  {
    ent *e = c.w->st + c.sp ;
    char const *nl ;
    size_t q, end ;
    int isbare ;

    if (e->state == S_BODY && (!c.w->nbnd || c.nomore))
    {
      /* nothing can end what is open but the end: count the rest */
      while (p < len)
      {
        nl = memchr(s + p, '\n', len - p) ;
        if (!nl) break ;
        lf++ ;
        if (nl == s || nl[-1] != '\r') bare++ ;
        p = nl - s + 1 ;
      }
      break ;
    }

    nl = memchr(s + p, '\n', len - p) ;
    q = nl ? (size_t)(nl - s) + 1 : len ;
    end = nl ? q - 1 : len ;
    isbare = 0 ;
    if (nl)
    {
      if (end > p && s[end - 1] == '\r') end-- ;
      else isbare = 1 ;
    }

    if (c.w->nbnd && !c.nomore && end - p >= 2 && s[p] == '-' && s[p+1] == '-')
    {
      size_t fs = end - p - 2 ;
      int k ;
      if (fs > 2 && s[end-1] == '-' && s[end-2] == '-') fs -= 2 ;
      k = trie_match(c.w, s + p + 2, fs) ;
      if (k >= 0)
      {
        ent *b = c.w->st + k ;
        size_t eoff = p - lastterm ;
        uint64_t elf = lf - !!lastterm, ebare = bare - (lastterm && lastbare) ;
        int close = p + 2 + b->blen + 2 <= end && s[p + 2 + b->blen] == '-' && s[p + 3 + b->blen] == '-' ;
        while (c.sp > (unsigned int)k)
        {
          /* The line end before the delimiter is the delimiter's when it
             ended a line of body. One that ended a delimiter line stays
             with that line; one that ended a header's last line leaves
             that header (and what began after it) but stays in the part
             around it. RFC 2046 5.1.1's grammar cannot say which in
             these two cases ("--inner--" then "--outer", a header then
             a delimiter); this is Dovecot's reading. */
          int here = lastline == L_BODY || (lastline == L_HDR && c.sp >= lasthdr) ;
          if (!part_close(&c, here ? eoff : p, here ? elf : lf, here ? ebare : bare)) return 0 ;
        }
        if (nl) { lf++ ; bare += isbare ; }
        lastterm = nl ? q - end : 0 ;
        lastbare = isbare ;
        if (close) trie_del(c.w, k) ;
        else if (nl && !part_open(&c, q, lf, bare, 0)) return 0 ;
        /* a delimiter without its line end, at the very end, opens nothing (as in Dovecot) */
        lastline = L_DELIM ;
        p = q ;
        continue ;
      }
    }

    if (e->state == S_HDR)
    {
      if (nl && end == p)
      {
        tern_mime_part *part = PART(&c, e->part) ;
        lf++ ; bare += isbare ;
        part->hdrlen = q - part->hdr ;
        part->hdrsize = part->hdrlen + (bare - e->bare0) ;
        part->body = q ;
        lastline = L_HDR ;
        lasthdr = c.sp ;
        if (!header_end(&c, 1, lf, bare)) return 0 ;
        lastterm = q - end ;
        lastbare = isbare ;
        p = q ;
        continue ;
      }
      header_line(&c, p, end) ;
      lastline = L_HDR ;
      lasthdr = c.sp ;
    }
    else lastline = L_BODY ;
    if (nl) { lf++ ; bare += isbare ; }
    lastterm = nl ? q - end : 0 ;
    lastbare = isbare ;
    p = q ;
  }

  for (;;)
  {
    unsigned int sp = c.sp ;
    if (!part_close(&c, len, lf, bare)) return 0 ;
    if (!sp) break ;
  }
  return 1 ;
}
