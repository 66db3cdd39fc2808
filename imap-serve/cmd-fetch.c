/* cmd-fetch.c: FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2; MODSEQ and
   CHANGEDSINCE of RFC 7162 3.1.4; VANISHED of 3.2.6).

   The messages go by batches: one read transaction copies what the
   index has for a batch (records, cache entries), then the responses
   are written outside it, parsing a file only for what the cache does
   not hold; what parsing taught is put in the cache at the end of the
   batch. Message files have LF line ends; everything is sent with CRLF
   (but what BINARY decodes: as decoded), sizes and partial ranges
   counted as sent (RFC 3501 2.3.4). */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <skalibs/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/djbunix.h>
#include "imap-serve.h"

#define BATCH 256

enum { I_FLAGS, I_UID, I_INTERNALDATE, I_SAVEDATE, I_SIZE, I_ENVELOPE, I_BODY, I_BODYSTRUCTURE, I_MODSEQ, I_SECTION,
       I_BINARY, I_BINSIZE, I_EMAILID, I_THREADID, I_PREVIEW } ;

#define PATHMAX 64

typedef struct item_s item ;
struct item_s
{
  unsigned int kind ;
  unsigned int peek ;         /* BODY.PEEK, RFC822.HEADER: \Seen not set */
  uint32_t path[PATHMAX] ;
  unsigned int npath ;
  unsigned int sec ;          /* TERN_SEC_* */
  size_t fields ;             /* HEADER.FIELDS: offset of the names (NUL-separated) in fieldnames */
  unsigned int nfields ;
  int partial ;
  uint64_t pstart, plen ;
  size_t label ;              /* offset of the response's name for it in labels ("BODY[1.TEXT]", "RFC822") */
  size_t labellen ;
} ;

static genalloc items = GENALLOC_ZERO ;      /* item */
static stralloc labels = STRALLOC_ZERO ;
static stralloc fieldnames = STRALLOC_ZERO ;
static unsigned int need ;                   /* NEED_* */
#define NEED_FILE 0x01      /* a body section: the file */
#define NEED_HDR 0x02       /* ENVELOPE */
#define NEED_STRUCT 0x04    /* BODY, BODYSTRUCTURE */
#define NEED_SIZE 0x08
#define NEED_SEEN 0x10      /* a body section that sets \Seen */
#define NEED_PREVIEW 0x20   /* PREVIEW: the cache, the file when it lacks it */
#define NEED_LAZY 0x40      /* PREVIEW (LAZY) alone: the cache only */
/* what reads the cache entry: a part that opens the file learns the
   header's fields too, and what it learns is added to the entry, which
   must be there to be kept (else the entry is replaced, and the next
   FETCH learns and writes it all again) */
#define NEED_CACHE (NEED_FILE | NEED_HDR | NEED_STRUCT | NEED_PREVIEW | NEED_LAZY)

static int kw (char const *s, size_t n, char const *w)
{
  return strlen(w) == n && !strncasecmp(s, w, n) ;
}

static int add_simple (unsigned int kind, char const *label)
{
  item it = { .kind = kind, .label = labels.len, .labellen = strlen(label) } ;
  if (!stralloc_cats(&labels, label)) die_io("out-of-memory") ;
  if (!genalloc_append(item, &items, &it)) die_io("out-of-memory") ;
  return 1 ;
}

/* partial (RFC 3501 9: "<" number "." nz-number ">"), if there is one,
   its origin added to the response's name (RFC 3501 7.4.2). */
static int parse_partial (tern_imap_p *p, item *it)
{
  uint32_t a, b ;
  char fmt[16] ;
  size_t k = 0 ;
  if (tern_imap_p_peek(p) != '<') return 1 ;
  p->pos++ ;
  if (!tern_imap_p_number(p, &a) || !tern_imap_p_char(p, '.') || !tern_imap_p_nznumber(p, &b) || !tern_imap_p_char(p, '>')) return 0 ;
  it->partial = 1 ;
  it->pstart = a ;
  it->plen = b ;
  fmt[k++] = '<' ;
  k += uint_fmt(fmt + k, a) ;
  fmt[k++] = '>' ;
  if (!stralloc_catb(&labels, fmt, k)) die_io("out-of-memory") ;
  return 1 ;
}

/* BINARY, BINARY.PEEK, BINARY.SIZE (RFC 3516 4.1, RFC 9051 6.4.5), after
   the "[": section-binary is part numbers only, then "]" and, but for
   BINARY.SIZE, a partial. */
static int parse_binary (tern_imap_p *p, item *it)
{
  size_t start = p->pos ;
  it->npath = 0 ;
  if (tern_imap_p_peek(p) != ']')
    for (;;)
    {
      uint32_t n ;
      if (it->npath == PATHMAX) { p->err = "Section path too deep" ; return 0 ; }
      if (!tern_imap_p_nznumber(p, &n)) { p->err = "Invalid binary section (RFC 3516: part numbers only)" ; return 0 ; }
      it->path[it->npath++] = n ;
      if (tern_imap_p_peek(p) != '.') break ;
      p->pos++ ;
    }
  if (!tern_imap_p_char(p, ']')) { p->err = "Invalid binary section (RFC 3516: part numbers only)" ; return 0 ; }
  it->label = labels.len ;
  if (!stralloc_cats(&labels, it->kind == I_BINSIZE ? "BINARY.SIZE[" : "BINARY[")
   || !stralloc_catb(&labels, p->s + start, p->pos - start)) die_io("out-of-memory") ;
  if (it->kind == I_BINARY && !parse_partial(p, it)) return 0 ;
  it->labellen = labels.len - it->label ;
  need |= NEED_FILE ;
  if (it->kind == I_BINARY && !it->peek) need |= NEED_SEEN ;
  return 1 ;
}

/* A section, after "BODY[" or "BODY.PEEK[": section-spec "]" [partial]. */
/* One field name of a HEADER.FIELDS label: upper case, an atom when it
   can be one, else a quoted string (a field name has no CR, LF or NUL). */
static int label_field (char const *f, unsigned int k)
{
  int atom = *f != 0 ;
  for (char const *q = f ; *q ; q++)
    if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f || strchr("(){%*\"\\]", *q)) atom = 0 ;
  if (k && !stralloc_catb(&labels, " ", 1)) return 0 ;
  if (!atom && !stralloc_catb(&labels, "\"", 1)) return 0 ;
  for (char const *q = f ; *q ; q++)
  {
    char c = *q >= 'a' && *q <= 'z' ? *q - 32 : *q ;
    if (!atom && (c == '"' || c == '\\') && !stralloc_catb(&labels, "\\", 1)) return 0 ;
    if (!stralloc_catb(&labels, &c, 1)) return 0 ;
  }
  return atom || stralloc_catb(&labels, "\"", 1) ;
}

static int parse_section (tern_imap_p *p, item *it)
{
  size_t start = p->pos, kwend = 0 ;
  it->kind = I_SECTION ;
  it->sec = TERN_SEC_ALL ;
  it->npath = 0 ;
  while (tern_imap_p_peek(p) >= '1' && tern_imap_p_peek(p) <= '9')
  {
    uint32_t n ;
    if (it->npath == PATHMAX) { p->err = "Section path too deep" ; return 0 ; }
    if (!tern_imap_p_nznumber(p, &n)) return 0 ;
    it->path[it->npath++] = n ;
    if (tern_imap_p_peek(p) != '.') break ;
    p->pos++ ;
    if (tern_imap_p_peek(p) < '1' || tern_imap_p_peek(p) > '9') break ;
  }
  if (tern_imap_p_peek(p) != ']')
  {
    size_t i = p->pos ;
    while (i < p->len && p->s[i] != ']' && p->s[i] != ' ') i++ ;
    {
      char const *w = p->s + p->pos ;
      size_t n = i - p->pos ;
      if (kw(w, n, "HEADER")) it->sec = TERN_SEC_HEADER ;
      else if (kw(w, n, "TEXT")) it->sec = TERN_SEC_TEXT ;
      else if (kw(w, n, "MIME") && it->npath) it->sec = TERN_SEC_MIME ;
      else if (kw(w, n, "HEADER.FIELDS")) it->sec = TERN_SEC_FIELDS ;
      else if (kw(w, n, "HEADER.FIELDS.NOT")) it->sec = TERN_SEC_FIELDS_NOT ;
      else { p->err = "Invalid section" ; return 0 ; }
      p->pos = kwend = i ;
    }
    if (it->sec == TERN_SEC_FIELDS || it->sec == TERN_SEC_FIELDS_NOT)
    {
      stralloc f = STRALLOC_ZERO ;
      it->fields = fieldnames.len ;
      it->nfields = 0 ;
      if (!tern_imap_p_sp(p) || !tern_imap_p_char(p, '(')) return 0 ;
      for (;;)
      {
        f.len = 0 ;
        if (!tern_imap_p_astring(p, &f)) { stralloc_free(&f) ; return 0 ; }
        if (!f.len || memchr(f.s, 0, f.len)) { stralloc_free(&f) ; p->err = "Invalid header field name" ; return 0 ; }
        if (!stralloc_catb(&fieldnames, f.s, f.len) || !stralloc_0(&fieldnames)) die_io("out-of-memory") ;
        it->nfields++ ;
        if (tern_imap_p_peek(p) != ' ') break ;
        tern_imap_p_sp(p) ;
      }
      stralloc_free(&f) ;
      if (!tern_imap_p_char(p, ')')) return 0 ;
    }
  }
  if (!tern_imap_p_char(p, ']')) return 0 ;
  /* the response's name: the section as given, field names upper case */
  it->label = labels.len ;
  if (!stralloc_cats(&labels, "BODY[")) die_io("out-of-memory") ;
  {
    /* the field names as parsed, not as sent: a literal's head is not
       part of the name */
    int fields = it->sec == TERN_SEC_FIELDS || it->sec == TERN_SEC_FIELDS_NOT ;
    size_t end = fields ? kwend : p->pos - 1 ;
    for (size_t i = start ; i < end ; i++)
    {
      char c = p->s[i] ;
      if (c >= 'a' && c <= 'z') c -= 32 ;
      if (!stralloc_catb(&labels, &c, 1)) die_io("out-of-memory") ;
    }
    if (fields)
    {
      char const *f = fieldnames.s + it->fields ;
      if (!stralloc_cats(&labels, " (")) die_io("out-of-memory") ;
      for (unsigned int k = 0 ; k < it->nfields ; k++, f += strlen(f) + 1)
        if (!label_field(f, k)) die_io("out-of-memory") ;
      if (!stralloc_cats(&labels, ")")) die_io("out-of-memory") ;
    }
  }
  if (!stralloc_cats(&labels, "]")) die_io("out-of-memory") ;
  if (!parse_partial(p, it)) return 0 ;
  it->labellen = labels.len - it->label ;
  need |= NEED_FILE ;
  if (!it->peek) need |= NEED_SEEN ;
  return 1 ;
}

static int parse_att (tern_imap_p *p)
{
  size_t i = p->pos ;
  char const *w = p->s + i ;
  size_t n ;
  while (i < p->len && p->s[i] != ' ' && p->s[i] != ')' && p->s[i] != '[' && p->s[i] != '(') i++ ;
  n = i - p->pos ;
  p->pos = i ;
  if (kw(w, n, "FLAGS")) return add_simple(I_FLAGS, "FLAGS") ;
  if (kw(w, n, "UID")) return add_simple(I_UID, "UID") ;
  if (kw(w, n, "INTERNALDATE")) return add_simple(I_INTERNALDATE, "INTERNALDATE") ;
  if (kw(w, n, "SAVEDATE")) return add_simple(I_SAVEDATE, "SAVEDATE") ;   /* RFC 8514 */
  if (kw(w, n, "RFC822.SIZE")) { need |= NEED_SIZE ; return add_simple(I_SIZE, "RFC822.SIZE") ; }
  if (kw(w, n, "ENVELOPE")) { need |= NEED_HDR ; return add_simple(I_ENVELOPE, "ENVELOPE") ; }
  if (kw(w, n, "BODYSTRUCTURE")) { need |= NEED_STRUCT ; return add_simple(I_BODYSTRUCTURE, "BODYSTRUCTURE") ; }
  if (kw(w, n, "PREVIEW"))
  {
    /* RFC 8970 3.1: PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"];
       LAZY: only a preview already made, else NIL */
    int lazy = 0 ;
    if (p->pos + 1 < p->len && p->s[p->pos] == ' ' && p->s[p->pos + 1] == '(')
    {
      size_t save = p->pos ;
      char const *a ;
      size_t al ;
      p->pos += 2 ;
      if (tern_imap_p_atom(p, &a, &al) && kw(a, al, "LAZY"))
      {
        lazy = 1 ;
        while (tern_imap_p_peek(p) == ' ')
        {
          tern_imap_p_sp(p) ;
          if (!tern_imap_p_atom(p, &a, &al) || !kw(a, al, "LAZY")) { p->err = "Unknown PREVIEW modifier" ; return 0 ; }
        }
        if (!tern_imap_p_char(p, ')')) return 0 ;
      }
      else { p->pos = save ; p->err = 0 ; }   /* not preview-mods: the command's fetch-modifiers */
    }
    need |= lazy ? NEED_LAZY : NEED_PREVIEW ;
    add_simple(I_PREVIEW, "PREVIEW") ;
    genalloc_s(item, &items)[genalloc_len(item, &items) - 1].peek = lazy ;
    return 1 ;
  }
  if (kw(w, n, "EMAILID")) return add_simple(I_EMAILID, "EMAILID") ;     /* RFC 8474 5 */
  if (kw(w, n, "THREADID")) return add_simple(I_THREADID, "THREADID") ;
  if (kw(w, n, "MODSEQ")) { condstore_on() ; return add_simple(I_MODSEQ, "MODSEQ") ; }
  if (kw(w, n, "RFC822") || kw(w, n, "RFC822.HEADER") || kw(w, n, "RFC822.TEXT"))
  {
    item it = { .kind = I_SECTION, .npath = 0, .sec = n == 6 ? TERN_SEC_ALL : n == 13 ? TERN_SEC_HEADER : TERN_SEC_TEXT,
                .peek = n == 13, .label = labels.len, .labellen = n } ;
    if (!stralloc_catb(&labels, n == 6 ? "RFC822" : n == 13 ? "RFC822.HEADER" : "RFC822.TEXT", n)) die_io("out-of-memory") ;
    if (!genalloc_append(item, &items, &it)) die_io("out-of-memory") ;
    need |= NEED_FILE | (it.peek ? 0 : NEED_SEEN) ;
    return 1 ;
  }
  if (kw(w, n, "BODY") || kw(w, n, "BODY.PEEK"))
  {
    item it = { .peek = n == 9 } ;
    if (tern_imap_p_peek(p) != '[')
    {
      if (n == 9) { p->err = "BODY.PEEK needs a section" ; return 0 ; }
      need |= NEED_STRUCT ;
      return add_simple(I_BODY, "BODY") ;
    }
    p->pos++ ;
    if (!parse_section(p, &it)) return 0 ;
    if (!genalloc_append(item, &items, &it)) die_io("out-of-memory") ;
    return 1 ;
  }
  if (kw(w, n, "BINARY") || kw(w, n, "BINARY.PEEK") || kw(w, n, "BINARY.SIZE"))
  {
    item it = { .kind = n == 11 && (w[7] | 32) == 's' ? I_BINSIZE : I_BINARY, .peek = n == 11 && (w[7] | 32) == 'p' } ;
    if (!tern_imap_p_char(p, '[')) { p->err = "BINARY needs a section" ; return 0 ; }
    if (!parse_binary(p, &it)) return 0 ;
    if (!genalloc_append(item, &items, &it)) die_io("out-of-memory") ;
    return 1 ;
  }
  p->err = "Unknown FETCH attribute" ;
  return 0 ;
}

/* ---- writing ---- */

/* The converted s[0..len), from octet skip of the converted stream, at
   most take octets of it, to put (o_put, or a check). */
typedef void put_func (char const *, size_t) ;
static void crlf_walk (char const *s, size_t len, uint64_t skip, uint64_t take, put_func *put)
{
  uint64_t pos = 0 ;
  size_t i = 0 ;
  while (i < len && take)
  {
    char const *nl = memchr(s + i, '\n', len - i) ;
    size_t run = (nl ? (size_t)(nl - s) : len) - i ;
    /* the run of octets before the LF, as is */
    if (pos + run > skip)
    {
      size_t from = pos >= skip ? 0 : skip - pos ;
      size_t k = run - from ;
      if (k > take) k = take ;
      put(s + i + from, k) ;
      take -= k ;
    }
    pos += run ;
    i += run ;
    if (!nl || !take) break ;
    /* the line end: CRLF (one CR added when there was none) */
    {
      int bare = !i || s[i-1] != '\r' ;
      char const *le = bare ? "\r\n" : "\n" ;
      size_t lel = bare ? 2 : 1 ;
      for (size_t k = 0 ; k < lel && take ; k++, pos++)
        if (pos >= skip) { put(le + k, 1) ; take-- ; }
    }
    i++ ;
  }
}

static void o_crlf (char const *s, size_t len, uint64_t skip, uint64_t take)
{
  crlf_walk(s, len, skip, take, &o_put) ;
}

static int sawnul ;
static void nul_check (char const *s, size_t n)
{
  if (memchr(s, 0, n)) sawnul = 1 ;
}

static void o_section_data (char const *s, size_t len, item const *it)
{
  uint64_t total = crlf_size(s, len), start = 0, n = total ;
  if (it->partial)
  {
    start = it->pstart ;
    n = start >= total ? 0 : total - start ;
    if (n > it->plen) n = it->plen ;
  }
  o_put("{", 1) ;
  o_num(n) ;
  o_put("}\r\n", 3) ;
  if (n) o_crlf(s, len, start, n) ;
}

/* BINARY (RFC 3516 4.1, RFC 9051 6.4.5). What BINARY[path] sends: a
   leaf's body with its transfer encoding undone; [] the whole message,
   and a multipart or message/rfc822 part its body, as BODY[] (RFC 9051
   says BINARY is for leaves; nothing to decode in those anyway). The
   decoded octets are sent exactly as decoded (RFC 3516 4.2: the content
   once the transfer encoding is undone): base64's are whatever was
   encoded, quoted-printable's hard line breaks are CRLF (RFC 2045 6.7
   rule 4, tern_mime_decode) and an encoded =0A or =0D stays a lone LF or
   CR. What is not decoded is the message's own text, whose CRLF the
   Maildir file keeps as LF: it is sent with CRLF (*crlf 1). 1 with the
   octets (*cte: to decode with, TERN_CTE_8BIT for none), 0 no such part,
   -1 a transfer encoding we do not know (UNKNOWN-CTE). */
static int binary_part (tern_mime const *m, item const *x, size_t *off, size_t *len, unsigned int *cte, int *crlf)
{
  tern_mime_part const *pt ;
  uint32_t i ;
  *cte = TERN_CTE_8BIT ;
  *crlf = 1 ;
  if (!tern_mime_nparts(m)) return 0 ;
  if (!x->npath) { *off = 0 ; *len = m->len ; return 1 ; }
  i = tern_mime_find(m, x->path, x->npath) ;
  if (i == TERN_MIME_NONE) return 0 ;
  pt = tern_mime_getpart(m, i) ;
  *off = pt->body ;
  *len = pt->bodylen ;
  if (pt->flags & TERN_MIME_MULTIPART || pt->child != TERN_MIME_NONE) return 1 ;
  if (pt->cte == TERN_CTE_OTHER) return -1 ;
  if (pt->cte == TERN_CTE_BASE64 || pt->cte == TERN_CTE_QP)
  {
    *cte = pt->cte ;
    *crlf = 0 ;
  }
  return 1 ;
}

static int binary_unknown (mctx *c)
{
  item const *it = genalloc_s(item, &items) ;
  for (size_t i = 0 ; i < genalloc_len(item, &items) ; i++)
  {
    size_t off, len ;
    unsigned int cte ;
    int crlf ;
    if ((it[i].kind == I_BINARY || it[i].kind == I_BINSIZE) && binary_part(&c->mime, it + i, &off, &len, &cte, &crlf) < 0) return 1 ;
  }
  return 0 ;
}

/* The data: a literal, or a literal8 ("~{n}", RFC 3516 4.3) when the
   octets sent hold a NUL. */
static void o_binary (mctx *c, item const *x)
{
  stralloc dec = STRALLOC_ZERO ;
  char const *s ;
  size_t off, len ;
  unsigned int cte ;
  int crlf ;
  uint64_t total, start = 0, n ;
  if (binary_part(&c->mime, x, &off, &len, &cte, &crlf) <= 0)
  {
    o_str(x->kind == I_BINSIZE ? "0" : "NIL") ;
    return ;
  }
  s = c->map + off ;
  /* BINARY.SIZE counts the octets BINARY sends (RFC 3516 4.2) */
  if (x->kind == I_BINSIZE)
  {
    o_num(crlf ? crlf_size(s, len) : tern_mime_decode_size(s, len, cte, 0)) ;
    return ;
  }
  if (!crlf)
  {
    if (!tern_mime_decode(&dec, s, len, cte)) die_io("out-of-memory") ;
    s = dec.s ? dec.s : "" ;
    len = dec.len ;
  }
  /* a partial counts in those same octets (RFC 3516 4.1) */
  total = crlf ? crlf_size(s, len) : len ;
  n = total ;
  if (x->partial)
  {
    start = x->pstart ;
    n = start >= total ? 0 : total - start ;
    if (n > x->plen) n = x->plen ;
  }
  sawnul = 0 ;
  if (crlf) crlf_walk(s, len, start, n, &nul_check) ;
  else if (n) nul_check(s + start, n) ;
  o_str(sawnul ? "~{" : "{") ;
  o_num(n) ;
  o_put("}\r\n", 3) ;
  if (crlf) o_crlf(s, len, start, n) ;
  else o_put(s + start, n) ;
  stralloc_free(&dec) ;
}

void fetch_flags_line (uint32_t msn, tern_msg const *m, int unsolicited)
{
  o_fetch_open(msn, m->uid) ;
  /* RFC 7162 3.2.4: once CONDSTORE is on, UID and MODSEQ in every
     untagged FETCH that is not a plain FETCH's reply (a UIDFETCH has it) */
  /* RFC 9051 7.5.2: in IMAP4rev2 every unsolicited FETCH has the UID */
  if (!S.uidonly && (S.uid || S.condstore || (unsolicited && (S.qresync || S.rev2)))) { o_str("UID ") ; o_num(m->uid) ; o_put(" ", 1) ; }
  o_str("FLAGS ") ;
  o_flags(m->flags, m->keywords, view_recent(m->uid)) ;
  if (S.condstore) { o_str(" MODSEQ (") ; o_num(m->modseq) ; o_put(")", 1) ; }
  o_str(")\r\n") ;
}

/* The response for one message: 1, 0 when its file is gone, -1 when a
   BINARY part has a transfer encoding we cannot undo (nothing sent). */
static int one (mctx *c, uint32_t msn, int addflags, int addmodseq)
{
  item const *it = genalloc_s(item, &items) ;
  size_t ni = genalloc_len(item, &items) ;
  int sp = 0, uiddone = 0, flagsdone = 0, modseqdone = 0 ;
  char const *d ;
  size_t n ;
  /* what needs the file, first: a message that vanished says nothing */
  {
    int preview = (need & NEED_PREVIEW) && !mctx_field(c, TERN_C_PREVIEW, &d, &n) ;
    if ((need & NEED_FILE) || preview || ((need & (NEED_HDR)) && !mctx_field(c, TERN_C_ENVELOPE, &d, &n))
     || ((need & NEED_STRUCT) && (!mctx_field(c, TERN_C_BODYSTRUCTURE, &d, &n) || !mctx_field(c, TERN_C_BODY, &d, &n))))
    {
      if (!mctx_parse(c, !(need & (NEED_FILE | NEED_STRUCT)) && !preview)) return 0 ;
      mctx_learn_header(c) ;
      if (need & NEED_STRUCT) mctx_learn_struct(c) ;
      if (preview || (need & NEED_FILE && need & (NEED_PREVIEW | NEED_LAZY))) mctx_learn_preview(c) ;
    }
  }
  if ((need & NEED_SIZE) && c->m.size == TERN_SIZE_UNKNOWN)
  {
    if (!mctx_map(c)) return 0 ;
    c->m.size = crlf_size(c->map, c->maplen) ;
    c->newsize = c->m.size ;
  }
  if (need & NEED_FILE && binary_unknown(c)) return -1 ;
  o_fetch_open(msn, c->m.uid) ;
  for (size_t i = 0 ; i < ni ; i++)
  {
    item const *x = it + i ;
    if (x->kind == I_UID && uiddone) continue ;
    if (x->kind == I_FLAGS && flagsdone) continue ;
    if (x->kind == I_MODSEQ && modseqdone) continue ;
    if (sp) o_put(" ", 1) ;
    sp = 1 ;
    o_put(labels.s + x->label, x->labellen) ;
    o_put(" ", 1) ;
    switch (x->kind)
    {
      case I_FLAGS : o_flags(c->m.flags, c->m.keywords, view_recent(c->m.uid)) ; flagsdone = 1 ; break ;
      case I_UID : o_num(c->m.uid) ; uiddone = 1 ; break ;
      case I_MODSEQ : o_put("(", 1) ; o_num(c->m.modseq) ; o_put(")", 1) ; modseqdone = 1 ; break ;
      case I_INTERNALDATE :
      case I_SAVEDATE :
      {
        char b[TERN_IMAP_DATETIME_LEN + 2] ;
        b[0] = '"' ;
        tern_imap_datetime_fmt(b + 1, x->kind == I_SAVEDATE ? c->m.savedate : c->m.internaldate, 0) ;
        b[TERN_IMAP_DATETIME_LEN + 1] = '"' ;
        o_put(b, sizeof(b)) ;
        break ;
      }
      case I_SIZE : o_num(c->m.size) ; break ;
      case I_ENVELOPE :
        if (mctx_field(c, TERN_C_ENVELOPE, &d, &n)) o_put(d, n) ;
        else o_str("NIL") ;
        break ;
      case I_BODY :
        if (mctx_field(c, TERN_C_BODY, &d, &n)) o_put(d, n) ;
        else o_str("NIL") ;
        break ;
      case I_BODYSTRUCTURE :
        if (mctx_field(c, TERN_C_BODYSTRUCTURE, &d, &n)) o_put(d, n) ;
        else o_str("NIL") ;
        break ;
      case I_SECTION :
      {
        size_t off, len ;
        if (!tern_mime_section(&c->mime, x->path, x->npath, x->sec, &off, &len)) { o_str("\"\"") ; break ; }
        if (x->sec == TERN_SEC_FIELDS || x->sec == TERN_SEC_FIELDS_NOT)
        {
          stralloc sa = STRALLOC_ZERO ;
          char const *names[x->nfields ? x->nfields : 1] ;
          size_t pos = x->fields ;
          for (unsigned int k = 0 ; k < x->nfields ; k++) { names[k] = fieldnames.s + pos ; pos += strlen(fieldnames.s + pos) + 1 ; }
          if (!tern_hdr_fields(&sa, c->map + off, len, names, x->nfields, x->sec == TERN_SEC_FIELDS_NOT)) die_io("out-of-memory") ;
          o_section_data(sa.s, sa.len, x) ;
          stralloc_free(&sa) ;
        }
        else o_section_data(c->map + off, len, x) ;
        break ;
      }
      case I_BINARY :
      case I_BINSIZE : o_binary(c, x) ; break ;
      case I_EMAILID :
      {
        char id[TERN_EMAILID_MAX + 1] ;
        size_t il = tern_maildir_emailid(id, c->m.name, c->m.namelen) ;
        o_put("(", 1) ; o_put(id, il) ; o_put(")", 1) ;
        break ;
      }
      case I_THREADID : o_str("NIL") ; break ;   /* RFC 8474 5.2: no threads computed */
      case I_PREVIEW :
        if (mctx_field(c, TERN_C_PREVIEW, &d, &n)) o_string(d, n) ;
        else o_str("NIL") ;   /* LAZY, and not made yet (RFC 8970 4) */
        break ;
    }
  }
  /* what the client did not ask for but must learn (RFC 3501 6.4.5:
     flags that changed; RFC 7162 3.1.4.1: MODSEQ with CHANGEDSINCE; UID
     in UID FETCH, RFC 3501 6.4.8) */
  if (!S.uidonly && (S.uid || (addflags && S.condstore)) && !uiddone) { if (sp) o_put(" ", 1) ; o_str("UID ") ; o_num(c->m.uid) ; sp = 1 ; }
  if (addflags && !flagsdone) { if (sp) o_put(" ", 1) ; o_str("FLAGS ") ; o_flags(c->m.flags, c->m.keywords, view_recent(c->m.uid)) ; sp = 1 ; }
  if ((addmodseq || (addflags && S.condstore)) && !modseqdone) { if (sp) o_put(" ", 1) ; o_str("MODSEQ (") ; o_num(c->m.modseq) ; o_put(")", 1) ; }
  o_str(")\r\n") ;
  return 1 ;
}

void cmd_fetch (tern_imap_p *p)
{
  genalloc ranges = GENALLOC_ZERO, uids = GENALLOC_ZERO, seen = GENALLOC_ZERO ;
  uint64_t changedsince = 0 ;
  int vanished = 0, missing = 0, unknowncte = 0, dollar ;
  mctx *batch = 0 ;
  size_t nu, nbatch = 0 ;
  genalloc_setlen(item, &items, 0) ;
  labels.len = 0 ;
  fieldnames.len = 0 ;
  need = 0 ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_seqset(p, &ranges, &dollar) || !tern_imap_p_sp(p)) goto bad ;
  if (tern_imap_p_peek(p) == '(')
  {
    tern_imap_p_char(p, '(') ;
    for (;;)
    {
      if (!parse_att(p)) goto bad ;
      if (tern_imap_p_peek(p) != ' ') break ;
      tern_imap_p_sp(p) ;
    }
    if (!tern_imap_p_char(p, ')')) goto bad ;
  }
  else
  {
    char const *w = p->s + p->pos ;
    size_t i = p->pos ;
    while (i < p->len && p->s[i] != ' ') i++ ;
    /* the macros (RFC 3501 6.4.5) */
    if (kw(w, i - p->pos, "ALL") || kw(w, i - p->pos, "FAST") || kw(w, i - p->pos, "FULL"))
    {
      int full = kw(w, i - p->pos, "FULL"), all = kw(w, i - p->pos, "ALL") ;
      p->pos = i ;
      add_simple(I_FLAGS, "FLAGS") ;
      add_simple(I_INTERNALDATE, "INTERNALDATE") ;
      add_simple(I_SIZE, "RFC822.SIZE") ;
      need |= NEED_SIZE ;
      if (all || full) { add_simple(I_ENVELOPE, "ENVELOPE") ; need |= NEED_HDR ; }
      if (full) { add_simple(I_BODY, "BODY") ; need |= NEED_STRUCT ; }
    }
    else if (!parse_att(p)) goto bad ;
  }
  if (tern_imap_p_peek(p) == ' ')
  {
    /* fetch-modifiers (RFC 7162 3.1.4, 3.2.6) */
    char const *a ;
    size_t n ;
    tern_imap_p_sp(p) ;
    if (!tern_imap_p_char(p, '(')) goto bad ;
    for (;;)
    {
      if (!tern_imap_p_atom(p, &a, &n)) goto bad ;
      if (kw(a, n, "CHANGEDSINCE"))
      {
        if (!tern_imap_p_sp(p) || !tern_imap_p_number64(p, &changedsince)) goto bad ;
        condstore_on() ;
      }
      else if (kw(a, n, "VANISHED"))
      {
        if (!S.uid || !S.qresync) { p->err = "VANISHED needs UID FETCH and QRESYNC enabled (RFC 7162 3.2.6)" ; goto bad ; }
        vanished = 1 ;
      }
      else { p->err = "Unknown FETCH modifier" ; goto bad ; }
      if (tern_imap_p_peek(p) != ' ') break ;
      tern_imap_p_sp(p) ;
    }
    if (!tern_imap_p_char(p, ')')) goto bad ;
    if (vanished && !changedsince) { p->err = "VANISHED needs CHANGEDSINCE" ; goto bad ; }
  }
  if (!tern_imap_p_eol(p)) goto bad ;
  if (!view_set_or_saved(&ranges, dollar, S.uid, &uids)) goto end ;
  view_disk() ;
  if (vanished) view_vanished(changedsince, &ranges, 1) ;
  nu = genalloc_len(uint32_t, &uids) ;

  /* \Seen first, so that the responses show it (RFC 3501 6.4.5) */
  if ((need & NEED_SEEN) && !S.readonly && nu)
  {
    if (tern_store_rbegin(&S.st))
    {
      for (size_t i = 0 ; i < nu ; i++)
      {
        tern_msg m ;
        uint32_t u = genalloc_s(uint32_t, &uids)[i] ;
        if (tern_store_get(&S.st, u, &m) == 1 && !(m.flags & TERN_F_SEEN) && !genalloc_append(uint32_t, &seen, &u)) die_io("out-of-memory") ;
      }
      tern_store_rend(&S.st) ;
    }
    if (genalloc_len(uint32_t, &seen))
    {
      genalloc changed = GENALLOC_ZERO ;
      uint64_t ms ;
      if (tern_store_setflags(&S.st, genalloc_s(uint32_t, &seen), genalloc_len(uint32_t, &seen), TERN_STORE_ADD, TERN_F_SEEN, 0, UINT64_MAX, &changed, 0, &ms))
        view_own(genalloc_s(uint32_t, &changed), genalloc_len(uint32_t, &changed), ms) ;
      else strerr_warnwu1sys("set \\Seen") ;
      genalloc_free(uint32_t, &changed) ;
    }
  }

  /* no more entries than messages: 256 of them are 188 KiB, which
     malloc maps and unmaps at each command */
  nbatch = nu < BATCH ? nu : BATCH ;
  batch = calloc(nbatch ? nbatch : 1, sizeof(mctx)) ;
  if (!batch) die_io("out-of-memory") ;
  for (size_t b = 0 ; b < nu ; b += BATCH)
  {
    size_t k = nu - b < BATCH ? nu - b : BATCH ;
    if (!tern_store_rbegin(&S.st)) { o_nosys("read the mailbox index") ; goto end ; }
    for (size_t i = 0 ; i < k ; i++)
    {
      mctx *c = batch + i ;
      uint32_t u = genalloc_s(uint32_t, &uids)[b + i] ;
      char const *cd ;
      size_t cl ;
      c->m.uid = 0 ;
      c->gotcache = 0 ;
      c->newcache.len = 0 ;
      c->newsize = TERN_SIZE_UNKNOWN ;
      /* one message's file at a time (freed before the next): a small
         one is read, not mapped (msgctx.c) */
      c->readok = 1 ;
      if (tern_store_get(&S.st, u, &c->m) != 1) continue ;
      if (changedsince && c->m.modseq <= changedsince) { c->m.uid = 0 ; continue ; }
      if (c->m.namelen >= sizeof(c->name)) { c->m.uid = 0 ; continue ; }
      memcpy(c->name, c->m.name, c->m.namelen) ;
      c->name[c->m.namelen] = 0 ;
      c->m.name = c->name ;
      if ((need & NEED_CACHE) && tern_store_cache_get(&S.st, u, &cd, &cl) == 1)
      {
        c->cache.len = 0 ;
        if (!stralloc_catb(&c->cache, cd, cl)) die_io("out-of-memory") ;
        c->gotcache = 1 ;
      }
    }
    tern_store_rend(&S.st) ;
    for (size_t i = 0 ; i < k ; i++)
    {
      mctx *c = batch + i ;
      uint32_t u = genalloc_s(uint32_t, &uids)[b + i] ;
      uint32_t msn = view_msn(u) ;
      int isseen = 0, r ;
      if (!c->m.uid)
      {
        if (!changedsince) missing = 1 ;
        continue ;
      }
      for (size_t j = 0 ; j < genalloc_len(uint32_t, &seen) ; j++) if (genalloc_s(uint32_t, &seen)[j] == u) { isseen = 1 ; break ; }
      r = one(c, msn, isseen, changedsince != 0) ;
      if (r < 0) unknowncte = 1 ;
      else if (!r)
      {
        if (errno != ENOENT) strerr_warnwu2sys("read a message of ", S.st.path.s) ;
        missing = 1 ;
      }
      if (c->newcache.len || c->newsize != TERN_SIZE_UNKNOWN)
      {
        /* the entry as it will be: what we had and what we learnt */
        stralloc *full = &c->newcache ;
        if (c->gotcache && !stralloc_catb(full, c->cache.s, c->cache.len)) die_io("out-of-memory") ;
        if (!tern_store_cache_put(&S.st, u, full->s, c->newcache.len ? full->len : 0, c->newsize)) strerr_warnwu1sys("cache") ;
      }
      mctx_free(c) ;
    }
    tern_store_cache_flush(&S.st) ;
  }
  /* RFC 3501 7.4.1: no EXPUNGE during FETCH; the UID form may have them */
  view_sync(S.uid) ;
  /* RFC 9051 7.5.2: a part we cannot decode fails the command */
  if (unknowncte) o_tagged("NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding in a requested part") ;
  else o_tagged(missing && !S.uid ? "NO [EXPUNGEISSUED] Some of the requested messages no longer exist" : "OK Fetch completed") ;
  goto end ;
 bad:
  o_bad(p, 0) ;
 end:
  if (batch)
  {
    for (size_t i = 0 ; i < nbatch ; i++) { stralloc_free(&batch[i].cache) ; stralloc_free(&batch[i].newcache) ; }
    free(batch) ;
  }
  genalloc_free(tern_imap_range, &ranges) ;
  genalloc_free(uint32_t, &uids) ;
  genalloc_free(uint32_t, &seen) ;
}

/* ---- NOTIFY's MessageNew (RFC 5465 5.2) ---- */

/* "(" fetch-att *(SP fetch-att) ")" at p, as FETCH reads them: 1, or 0
   with p->err. They stay parsed until the next FETCH. */
int fetch_atts (tern_imap_p *p)
{
  genalloc_setlen(item, &items, 0) ;
  labels.len = 0 ;
  fieldnames.len = 0 ;
  need = 0 ;
  if (!tern_imap_p_char(p, '(')) return 0 ;
  for (;;)
  {
    if (!parse_att(p)) return 0 ;
    if (tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  return tern_imap_p_char(p, ')') ;
}

/* The unsolicited FETCH responses, with the UID, of the messages uids
   (of the view, sorted) for the attributes p holds (fetch_atts' text,
   read again: a FETCH since may have replaced them). */
void fetch_unsolicited (tern_imap_p *p, uint32_t const *uids, size_t n)
{
  genalloc seen = GENALLOC_ZERO ;
  int olduid = S.uid ;
  if (!fetch_atts(p)) return ;
  if ((need & NEED_SEEN) && !S.readonly && n && tern_store_rbegin(&S.st))
  {
    for (size_t i = 0 ; i < n ; i++)
    {
      tern_msg m ;
      if (tern_store_get(&S.st, uids[i], &m) == 1 && !(m.flags & TERN_F_SEEN) && !genalloc_append(uint32_t, &seen, uids + i)) die_io("out-of-memory") ;
    }
    tern_store_rend(&S.st) ;
    if (genalloc_len(uint32_t, &seen))
    {
      genalloc changed = GENALLOC_ZERO ;
      uint64_t ms ;
      if (tern_store_setflags(&S.st, genalloc_s(uint32_t, &seen), genalloc_len(uint32_t, &seen), TERN_STORE_ADD, TERN_F_SEEN, 0, UINT64_MAX, &changed, 0, &ms))
        view_own(genalloc_s(uint32_t, &changed), genalloc_len(uint32_t, &changed), ms) ;
      genalloc_free(uint32_t, &changed) ;
    }
  }
  S.uid = 1 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    mctx c ;
    char const *cd ;
    size_t cl ;
    uint32_t msn = view_msn(uids[i]) ;
    memset(&c, 0, sizeof(c)) ;
    c.newsize = TERN_SIZE_UNKNOWN ;
    c.readok = 1 ;
    if (!msn || !tern_store_rbegin(&S.st)) continue ;
    if (tern_store_get(&S.st, uids[i], &c.m) != 1 || c.m.namelen >= sizeof(c.name)) { tern_store_rend(&S.st) ; continue ; }
    memcpy(c.name, c.m.name, c.m.namelen) ;
    c.name[c.m.namelen] = 0 ;
    c.m.name = c.name ;
    if ((need & NEED_CACHE) && tern_store_cache_get(&S.st, uids[i], &cd, &cl) == 1)
    {
      if (!stralloc_catb(&c.cache, cd, cl)) die_io("out-of-memory") ;
      c.gotcache = 1 ;
    }
    tern_store_rend(&S.st) ;
    {
      int isseen = 0 ;
      for (size_t j = 0 ; j < genalloc_len(uint32_t, &seen) ; j++) if (genalloc_s(uint32_t, &seen)[j] == uids[i]) { isseen = 1 ; break ; }
      one(&c, msn, isseen, 0) ;
    }
    if (c.newcache.len || c.newsize != TERN_SIZE_UNKNOWN)
    {
      size_t learnt = c.newcache.len ;
      if (c.gotcache && !stralloc_catb(&c.newcache, c.cache.s, c.cache.len)) die_io("out-of-memory") ;
      tern_store_cache_put(&S.st, uids[i], c.newcache.s, learnt ? c.newcache.len : 0, c.newsize) ;
    }
    mctx_free(&c) ;
    stralloc_free(&c.cache) ;
    stralloc_free(&c.newcache) ;
  }
  tern_store_cache_flush(&S.st) ;
  S.uid = olduid ;
  genalloc_free(uint32_t, &seen) ;
}
