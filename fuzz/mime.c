/* mime: libFuzzer target for the MIME library. Parses the input, writes
   BODY, BODYSTRUCTURE and ENVELOPE, resolves sections, decodes the text
   of every leaf, decodes header fields and parameters, scans dates and
   searches, and checks what the library promises: every part inside
   its parent and the message, sizes as sent and line counts exact, IMAP
   output balanced, text out always UTF-8, the ASCII search agreeing with
   a naive one, and the same views whether the message has LF or CRLF
   line ends. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"

#define MAXLEAVES 64

#include <stdio.h>
#define check(ok) ((ok) ? (void)0 : (fprintf(stderr, "mime fuzz: check failed at line %d: %s\n", __LINE__, #ok), abort()))

static int utf8ok (char const *s, size_t n)
{
  size_t i = 0 ;
  while (i < n)
  {
    unsigned char c = s[i] ;
    size_t l ;
    if (c < 0x80) { i++ ; continue ; }
    if (c < 0xc2 || c > 0xf4) return 0 ;
    l = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4 ;
    if (n - i < l) return 0 ;
    for (size_t k = 1 ; k < l ; k++) if (((unsigned char)s[i+k] & 0xc0) != 0x80) return 0 ;
    i += l ;
  }
  return 1 ;
}

/* one parenthesised list, balanced, strings and literals skipped */
static int balanced (char const *s, size_t n)
{
  size_t i = 0 ;
  long depth = 0 ;
  if (!n || s[0] != '(') return 0 ;
  while (i < n)
  {
    char c = s[i] ;
    if (c == '"')
    {
      for (i++ ; i < n && s[i] != '"' ; i++)
      {
        if (s[i] == '\r' || s[i] == '\n' || !s[i]) return 0 ;
        if (s[i] == '\\') i++ ;
      }
      if (i >= n) return 0 ;
      i++ ;
      continue ;
    }
    if (c == '{')
    {
      size_t v = 0, j = i + 1 ;
      while (j < n && s[j] >= '0' && s[j] <= '9') v = v * 10 + (s[j++] - '0') ;
      if (j + 2 >= n || s[j] != '}' || s[j+1] != '\r' || s[j+2] != '\n') return 0 ;
      j += 3 ;
      if (v > n - j) return 0 ;
      if (memchr(s + j, 0, v)) return 0 ;
      i = j + v ;
      continue ;
    }
    if (c == '(') depth++ ;
    else if (c == ')' && --depth < 0) return 0 ;
    else if (c == '\r' || c == '\n') return 0 ;
    i++ ;
    if (!depth && i != n) return 0 ;
  }
  return !depth ;
}

static uint64_t count (char const *s, size_t n, int bare)
{
  uint64_t k = 0 ;
  for (size_t i = 0 ; i < n ; i++)
    if (s[i] == '\n' && (!bare || !i || s[i-1] != '\r')) k++ ;
  return k ;
}

static void tree (tern_mime const *m)
{
  uint32_t np = tern_mime_nparts(m) ;
  check(np >= 1 && np <= TERN_MIME_PARTS) ;
  for (uint32_t i = 0 ; i < np ; i++)
  {
    tern_mime_part const *p = tern_mime_getpart(m, i) ;
    uint32_t nc = 0, prev = TERN_MIME_NONE ;
    check(p->body == p->hdr + p->hdrlen) ;
    check(p->body + p->bodylen <= m->len) ;
    check(p->hdrsize == p->hdrlen + count(m->msg + p->hdr, p->hdrlen, 1)) ;
    check(p->bodysize == p->bodylen + count(m->msg + p->body, p->bodylen, 1)) ;
    check(p->bodylines == count(m->msg + p->body, p->bodylen, 0)) ;
    check(p->depth < TERN_MIME_DEPTH) ;
    check(!(p->flags & TERN_MIME_MULTIPART) || !(p->flags & TERN_MIME_RFC822)) ;
    if (!i) check(p->parent == TERN_MIME_NONE && !p->depth && !p->hdr && p->body + p->bodylen == m->len) ;
    else
    {
      tern_mime_part const *q ;
      check(p->parent < i) ;
      q = tern_mime_getpart(m, p->parent) ;
      check(p->depth == q->depth + 1) ;
      check(q->flags & (TERN_MIME_MULTIPART | TERN_MIME_RFC822)) ;
      check(p->hdr >= q->body && p->body + p->bodylen <= q->body + q->bodylen) ;
    }
    for (uint32_t c = p->child ; c != TERN_MIME_NONE ; c = tern_mime_getpart(m, c)->next)
    {
      tern_mime_part const *cp ;
      check(c > i && c < np) ;
      cp = tern_mime_getpart(m, c) ;
      check(cp->parent == i) ;
      if (prev != TERN_MIME_NONE)
      {
        tern_mime_part const *pp = tern_mime_getpart(m, prev) ;
        check(cp->hdr >= pp->body + pp->bodylen) ;
      }
      prev = c ;
      nc++ ;
    }
    check(nc == p->nchild) ;
    if (p->flags & TERN_MIME_RFC822)
    {
      /* the enclosed message begins with the body; it may end a line end short of it */
      tern_mime_part const *cp = tern_mime_getpart(m, p->child) ;
      check(nc == 1 && cp->hdr == p->body && cp->hdrlen + cp->bodylen <= p->bodylen && cp->hdrlen + cp->bodylen + 2 >= p->bodylen) ;
    }
    if (!(p->flags & (TERN_MIME_MULTIPART | TERN_MIME_RFC822))) check(!nc) ;
  }
}

/* BODY, BODYSTRUCTURE and ENVELOPE of the whole message, one after another */
static void views (tern_mime const *m, stralloc *out)
{
  tern_mime_part const *p = tern_mime_getpart(m, 0) ;
  size_t a ;
  out->len = 0 ;
  for (int ext = 0 ; ext < 2 ; ext++)
  {
    a = out->len ;
    check(tern_imap_bodystructure(out, m, 0, ext, 0)) ;
    check(balanced(out->s + a, out->len - a)) ;
  }
  a = out->len ;
  check(tern_imap_envelope(out, m->msg + p->hdr, p->hdrlen, 0)) ;
  check(balanced(out->s + a, out->len - a)) ;
  a = out->len ;
  check(tern_imap_bodystructure(out, m, 0, 1, TERN_ISTR_UTF8)) ;
  check(balanced(out->s + a, out->len - a)) ;
}

static int naive (char const *s, size_t n, char const *nd, size_t nl)
{
  for (size_t i = 0 ; i + nl <= n ; i++)
  {
    size_t k = 0 ;
    while (k < nl)
    {
      unsigned char a = s[i+k], b = nd[k] ;
      if (a >= 'A' && a <= 'Z') a += 32 ;
      if (b >= 'A' && b <= 'Z') b += 32 ;
      if (a != b) break ;
      k++ ;
    }
    if (k == nl) return 1 ;
  }
  return 0 ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  static tern_mime m = TERN_MIME_ZERO, m2 = TERN_MIME_ZERO ;
  char const *s = (char const *)data ;
  stralloc out = STRALLOC_ZERO, out2 = STRALLOC_ZERO, tmp = STRALLOC_ZERO, needle = STRALLOC_ZERO, crlf = STRALLOC_ZERO ;
  tern_mime_part const *root ;
  unsigned int leaves = 0 ;

  check(tern_mime_parse(&m, s, size)) ;
  tree(&m) ;
  views(&m, &out) ;

  /* the same message with CRLF line ends has the same views */
  for (size_t i = 0 ; i < size ; i++)
  {
    if (s[i] == '\n' && (!i || s[i-1] != '\r')) check(stralloc_catb(&crlf, "\r", 1)) ;
    check(stralloc_catb(&crlf, s + i, 1)) ;
  }
  check(tern_mime_parse(&m2, crlf.s ? crlf.s : "", crlf.len)) ;
  tree(&m2) ;
  views(&m2, &out2) ;
  check(tern_mime_nparts(&m) == tern_mime_nparts(&m2)) ;
  check(out.len == out2.len && !memcmp(out.s, out2.s, out.len)) ;

  /* sections from the first octets */
  for (unsigned int k = 0 ; k + 3 <= size && k < 12 ; k += 3)
  {
    uint32_t path[3] = { data[k] % 5, data[k+1] % 5, data[k+2] % 5 } ;
    size_t off, len ;
    for (unsigned int kind = TERN_SEC_ALL ; kind <= TERN_SEC_MIME ; kind++)
      if (tern_mime_section(&m, path, k % 4, kind, &off, &len)) check(off <= size && len <= size - off) ;
    {
      uint32_t i = tern_mime_find(&m, path, k % 4) ;
      check(i == TERN_MIME_NONE || i < tern_mime_nparts(&m)) ;
    }
  }

  /* header fields of the message */
  root = tern_mime_getpart(&m, 0) ;
  {
    size_t pos = 0 ;
    tern_hdr_field f ;
    char const *names[2] = { "subject", "from" } ;
    while (tern_hdr_next(s + root->hdr, root->hdrlen, &pos, &f))
    {
      int64_t t ;
      int z ;
      check(f.raw >= s && f.raw + f.rawlen <= s + size && f.val >= f.raw && f.val + f.vallen <= f.raw + f.rawlen) ;
      tmp.len = 0 ;
      check(tern_hdr_decode(&tmp, f.val, f.vallen)) ;
      check(utf8ok(tmp.s, tmp.len)) ;
      tern_date822_scan(f.val, f.vallen, &t, &z) ;
      tmp.len = 0 ;
      check(tern_mime_param(&tmp, f.val, f.vallen, "name") >= 0) ;
      check(utf8ok(tmp.s, tmp.len)) ;
    }
    tmp.len = 0 ;
    check(tern_hdr_fields(&tmp, s + root->hdr, root->hdrlen, names, 2, size & 1)) ;
    check(tmp.len <= root->hdrlen + 2 * 1 + 2) ;
  }

  /* the text of the leaves */
  for (uint32_t i = 0 ; i < tern_mime_nparts(&m) && leaves < MAXLEAVES ; i++)
  {
    tern_mime_part const *p = tern_mime_getpart(&m, i) ;
    if (p->child != TERN_MIME_NONE) continue ;
    leaves++ ;
    tmp.len = 0 ;
    check(tern_mime_text(&tmp, &m, i)) ;
    check(utf8ok(tmp.s, tmp.len)) ;
    tmp.len = 0 ;
    check(tern_mime_decode(&tmp, s + p->body, p->bodylen, p->cte)) ;
    check(tmp.len <= 2 * p->bodylen + 2) ;
    /* BINARY.SIZE: the count without a copy agrees with the decode */
    check(tern_mime_decode_size(s + p->body, p->bodylen, p->cte, 0) == tmp.len) ;
    {
      uint64_t crlf = tmp.len ;
      for (size_t j = 0 ; j < tmp.len ; j++) if (tmp.s[j] == '\n' && (!j || tmp.s[j-1] != '\r')) crlf++ ;
      check(tern_mime_decode_size(s + p->body, p->bodylen, p->cte, 1) == crlf) ;
    }
  }

  /* PREVIEW: UTF-8, at most TERN_PREVIEW_CHARS characters, no white space at the ends */
  tmp.len = 0 ;
  check(tern_mime_preview(&tmp, &m)) ;
  check(utf8ok(tmp.s, tmp.len)) ;
  {
    size_t chars = 0 ;
    for (size_t j = 0 ; j < tmp.len ; j++) if (((unsigned char)tmp.s[j] & 0xc0) != 0x80) chars++ ;
    check(chars <= TERN_PREVIEW_CHARS) ;
    check(!tmp.len || (tmp.s[0] != ' ' && tmp.s[tmp.len - 1] != ' ')) ;
  }

  /* search: a needle from the input, the ASCII path against a naive search */
  if (size >= 2)
  {
    size_t nl = 1 + data[0] % 6 ;
    if (nl > size - 1) nl = size - 1 ;
    check(tern_search_fold(&needle, s + 1, nl)) ;
    if (needle.len)
    {
      int ascii = 1 ;
      int r ;
      for (size_t i = 0 ; i < size ; i++) if (data[i] >= 0x80) { ascii = 0 ; break ; }
      r = tern_search_match(s, size, needle.s, needle.len) ;
      check(r >= 0) ;
      if (ascii) check(r == naive(s, size, needle.s, needle.len)) ;
      check(tern_mime_search(&m, TERN_MSEARCH_BODY, needle.s, needle.len, &tmp) >= 0) ;
      check(tern_mime_search(&m, TERN_MSEARCH_TEXT, needle.s, needle.len, &tmp) >= 0) ;
    }
  }

  stralloc_free(&out) ;
  stralloc_free(&out2) ;
  stralloc_free(&tmp) ;
  stralloc_free(&needle) ;
  stralloc_free(&crlf) ;
  return 0 ;
}
