/* tern_imap_parse: the tokens of an IMAP command (RFC 3501 9, RFC 9051 9)
   over a command already in memory (tern_imap.h says how it is laid
   out). One file for the whole grammar: the steps share their character
   classes and error handling, and each is a few lines. Every step reads
   each octet it consumes once; a failed step leaves pos at the octet it
   could not take and says why in p->err, for the BAD reply. */

#include <string.h>
#include <strings.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "tern_imap.h"

#define CTL(c) ((unsigned char)(c) < 0x20 || (c) == 0x7f)

/* atom-specials: "(" ")" "{" SP CTL list-wildcards quoted-specials
   resp-specials. 8-bit octets are let into atoms: clients send UTF-8
   mailbox names unquoted, and nothing is ambiguous about them. */
static int atomchar (char c)
{
  if (!c || CTL(c)) return 0 ;
  switch (c)
  {
    case '(' : case ')' : case '{' : case ' ' : case '%' : case '*' :
    case '"' : case '\\' : case ']' : return 0 ;
  }
  return 1 ;
}

static int astringchar (char c) { return c == ']' || atomchar(c) ; }
static int listchar (char c) { return c == '%' || c == '*' || astringchar(c) ; }

static int fail (tern_imap_p *p, char const *why)
{
  p->err = why ;
  return 0 ;
}

int tern_imap_p_peek (tern_imap_p const *p)
{
  return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1 ;
}

int tern_imap_p_char (tern_imap_p *p, char c)
{
  if (p->pos >= p->len || p->s[p->pos] != c)
  {
    static char why[] = "Expected \"x\"" ;
    why[10] = c ;
    return fail(p, why) ;
  }
  p->pos++ ;
  return 1 ;
}

int tern_imap_p_sp (tern_imap_p *p)
{
  if (p->pos >= p->len) return fail(p, "Missing arguments") ;
  if (p->s[p->pos] != ' ') return fail(p, "Expected one space") ;
  p->pos++ ;
  return 1 ;
}

int tern_imap_p_eol (tern_imap_p *p)
{
  if (p->pos < p->len) return fail(p, "Extra arguments") ;
  return 1 ;
}

static int run (tern_imap_p *p, int (*cls)(char), char const **s, size_t *n, char const *why)
{
  size_t i = p->pos ;
  while (i < p->len && (*cls)(p->s[i])) i++ ;
  if (i == p->pos) return fail(p, why) ;
  *s = p->s + p->pos ;
  *n = i - p->pos ;
  p->pos = i ;
  return 1 ;
}

static int tagchar (char c) { return c != '+' && astringchar(c) ; }

int tern_imap_p_tag (tern_imap_p *p, char const **s, size_t *n)
{
  return run(p, &tagchar, s, n, "Invalid tag") ;
}

int tern_imap_p_atom (tern_imap_p *p, char const **s, size_t *n)
{
  return run(p, &atomchar, s, n, "Expected an atom") ;
}

int tern_imap_p_flag (tern_imap_p *p, char const **s, size_t *n, int star)
{
  size_t start = p->pos ;
  if (p->pos < p->len && p->s[p->pos] == '\\')
  {
    p->pos++ ;
    if (star && p->pos < p->len && p->s[p->pos] == '*')
    {
      p->pos++ ;
      *s = p->s + start ; *n = 2 ;
      return 1 ;
    }
    if (!run(p, &atomchar, s, n, "Invalid flag")) { p->pos = start ; return 0 ; }
    *s = p->s + start ; *n += 1 ;
    return 1 ;
  }
  return run(p, &atomchar, s, n, "Invalid flag") ;
}

/* A quoted string's value into sa. */
static int quoted (tern_imap_p *p, stralloc *sa)
{
  size_t i = p->pos + 1, from = i ;
  for (;;)
  {
    char c ;
    if (i >= p->len) return fail(p, "Unterminated quoted string") ;
    c = p->s[i] ;
    if (c == '"') break ;
    if (!c || c == '\r' || c == '\n') return fail(p, "Invalid character in quoted string") ;
    if (c == '\\')
    {
      if (i + 1 >= p->len || (p->s[i+1] != '"' && p->s[i+1] != '\\'))
        return fail(p, "Invalid escape in quoted string") ;
      if (!stralloc_catb(sa, p->s + from, i - from)) return fail(p, "Out of memory") ;
      from = ++i ;
    }
    i++ ;
  }
  if (!stralloc_catb(sa, p->s + from, i - from)) return fail(p, "Out of memory") ;
  p->pos = i + 1 ;
  return 1 ;
}

/* The literal whose head starts at pos: its table entry (or 0), pos past it. */
static tern_imap_lit const *literal_at (tern_imap_p *p, int binaryok, int *binary)
{
  size_t i = p->pos ;
  *binary = 0 ;
  if (i < p->len && p->s[i] == '~')
  {
    if (!binaryok) { fail(p, "literal8 not allowed here") ; return 0 ; }
    *binary = 1 ;
    i++ ;
  }
  if (i >= p->len || p->s[i] != '{') { fail(p, "Expected a string") ; return 0 ; }
  while (i < p->len && p->s[i] != '\n') i++ ;
  if (i >= p->len) { fail(p, "Invalid literal") ; return 0 ; }
  i++ ;
  /* the reader recorded every literal: find ours by its position */
  for (unsigned int k = 0 ; k < p->nlits ; k++)
    if (p->lits[k].pos == i)
    {
      p->pos = i ;
      return p->lits + k ;
    }
  fail(p, "Invalid literal") ;
  return 0 ;
}

static int memliteral (tern_imap_p *p, stralloc *sa)
{
  int binary ;
  tern_imap_lit const *l = literal_at(p, 0, &binary) ;
  if (!l) return 0 ;
  if (l->fd >= 0 || l->len > p->len - p->pos) return fail(p, "Literal too large here") ;
  if (memchr(p->s + p->pos, 0, l->len)) return fail(p, "NUL in a literal") ;
  if (!stralloc_catb(sa, p->s + p->pos, l->len)) return fail(p, "Out of memory") ;
  p->pos += l->len ;
  return 1 ;
}

/* "~{": a literal8 head (RFC 3516); "~" alone is an atom's. */
static int lit8 (tern_imap_p const *p)
{
  return p->pos + 1 < p->len && p->s[p->pos] == '~' && p->s[p->pos + 1] == '{' ;
}

int tern_imap_p_string (tern_imap_p *p, stralloc *sa)
{
  int c = tern_imap_p_peek(p) ;
  if (c == '"') return quoted(p, sa) ;
  if (c == '{' || lit8(p)) return memliteral(p, sa) ;
  return fail(p, c < 0 ? "Missing arguments" : "Expected a string") ;
}

int tern_imap_p_astring (tern_imap_p *p, stralloc *sa)
{
  int c = tern_imap_p_peek(p) ;
  char const *s ;
  size_t n ;
  if (c == '"' || c == '{' || lit8(p)) return tern_imap_p_string(p, sa) ;
  if (!run(p, &astringchar, &s, &n, c < 0 ? "Missing arguments" : "Expected a string")) return 0 ;
  if (!stralloc_catb(sa, s, n)) return fail(p, "Out of memory") ;
  return 1 ;
}

int tern_imap_p_nstring (tern_imap_p *p, stralloc *sa, int *isnil)
{
  if (p->len - p->pos >= 3 && !strncasecmp(p->s + p->pos, "NIL", 3)
   && (p->pos + 3 == p->len || !atomchar(p->s[p->pos + 3])))
  {
    p->pos += 3 ;
    *isnil = 1 ;
    return 1 ;
  }
  *isnil = 0 ;
  return tern_imap_p_string(p, sa) ;
}

int tern_imap_p_listmailbox (tern_imap_p *p, stralloc *sa)
{
  int c = tern_imap_p_peek(p) ;
  char const *s ;
  size_t n ;
  if (c == '"' || c == '{' || lit8(p)) return tern_imap_p_string(p, sa) ;
  if (!run(p, &listchar, &s, &n, c < 0 ? "Missing arguments" : "Expected a mailbox pattern")) return 0 ;
  if (!stralloc_catb(sa, s, n)) return fail(p, "Out of memory") ;
  return 1 ;
}

int tern_imap_p_literal (tern_imap_p *p, char const **s, int *fd, uint64_t *len, int *binary)
{
  tern_imap_lit const *l = literal_at(p, 1, binary) ;
  if (!l) return 0 ;
  *len = l->len ;
  *fd = l->fd ;
  *s = 0 ;
  if (l->fd < 0)
  {
    if (l->len > p->len - p->pos) return fail(p, "Invalid literal") ;
    *s = p->s + p->pos ;
    p->pos += l->len ;
  }
  return 1 ;
}

static int digits (tern_imap_p *p, uint64_t max, uint64_t *v)
{
  size_t i = p->pos ;
  uint64_t x = 0 ;
  for (; i < p->len && p->s[i] >= '0' && p->s[i] <= '9' ; i++)
  {
    x = x * 10 + (p->s[i] - '0') ;
    if (x > max) return fail(p, "Number too large") ;
  }
  if (i == p->pos) return fail(p, "Expected a number") ;
  p->pos = i ;
  *v = x ;
  return 1 ;
}

int tern_imap_p_number (tern_imap_p *p, uint32_t *n)
{
  uint64_t v ;
  if (!digits(p, UINT32_MAX, &v)) return 0 ;
  *n = v ;
  return 1 ;
}

int tern_imap_p_number64 (tern_imap_p *p, uint64_t *n)
{
  return digits(p, (UINT64_C(1) << 63) - 1, n) ;
}

int tern_imap_p_nznumber (tern_imap_p *p, uint32_t *n)
{
  size_t start = p->pos ;
  if (!tern_imap_p_number(p, n)) return 0 ;
  if (!*n) { p->pos = start ; return fail(p, "Zero is not allowed here") ; }
  return 1 ;
}

static int seqnum (tern_imap_p *p, uint32_t *n)
{
  if (p->pos < p->len && p->s[p->pos] == '*') { p->pos++ ; *n = TERN_IMAP_STAR ; return 1 ; }
  if (!tern_imap_p_nznumber(p, n)) return fail(p, "Invalid sequence set") ;
  return 1 ;
}

int tern_imap_p_seqset (tern_imap_p *p, genalloc *ga, int *dollar)
{
  if (dollar) *dollar = 0 ;
  if (dollar && p->pos < p->len && p->s[p->pos] == '$')
  {
    p->pos++ ;
    *dollar = 1 ;
    return 1 ;
  }
  for (;;)
  {
    tern_imap_range r ;
    if (!seqnum(p, &r.lo)) return 0 ;
    r.hi = r.lo ;
    if (p->pos < p->len && p->s[p->pos] == ':')
    {
      p->pos++ ;
      if (!seqnum(p, &r.hi)) return 0 ;
      if (r.lo != TERN_IMAP_STAR && r.hi != TERN_IMAP_STAR && r.hi < r.lo) { uint32_t x = r.lo ; r.lo = r.hi ; r.hi = x ; }
    }
    if (!genalloc_append(tern_imap_range, ga, &r)) return fail(p, "Out of memory") ;
    if (p->pos >= p->len || p->s[p->pos] != ',') return 1 ;
    p->pos++ ;
  }
}

/* ---- dates ---- */

static char const months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" } ;

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), m from 1. */
static int64_t days_from_civil (int64_t y, unsigned int m, unsigned int d)
{
  int64_t era ;
  unsigned int yoe, doy, doe ;
  y -= m <= 2 ;
  era = (y >= 0 ? y : y - 399) / 400 ;
  yoe = (unsigned int)(y - era * 400) ;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1 ;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy ;
  return era * 146097 + (int64_t)doe - 719468 ;
}

static int ndig (tern_imap_p *p, unsigned int n, unsigned int *v)
{
  unsigned int x = 0 ;
  if (p->len - p->pos < n) return 0 ;
  for (unsigned int i = 0 ; i < n ; i++)
  {
    char c = p->s[p->pos + i] ;
    if (c < '0' || c > '9') return 0 ;
    x = x * 10 + (c - '0') ;
  }
  p->pos += n ;
  *v = x ;
  return 1 ;
}

static unsigned int mdays (unsigned int y, unsigned int m)
{
  static unsigned char const md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 } ;
  return m == 2 && ((!(y % 4) && y % 100) || !(y % 400)) ? 29 : md[m-1] ;
}

/* date-text: day "-" month "-" year; the day 1 or 2 digits, or space
   and a digit (date-day-fixed) when fixed is set. */
static int datetext (tern_imap_p *p, int fixed, unsigned int *y, unsigned int *m, unsigned int *d)
{
  unsigned int i ;
  if (fixed && p->pos < p->len && p->s[p->pos] == ' ') p->pos++ ;
  if (!ndig(p, 1, d)) return 0 ;
  if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') { *d = *d * 10 + (p->s[p->pos] - '0') ; p->pos++ ; }
  if (p->len - p->pos < 5 || p->s[p->pos] != '-') return 0 ;
  for (i = 0 ; i < 12 ; i++) if (!strncasecmp(p->s + p->pos + 1, months[i], 3)) break ;
  if (i == 12 || p->s[p->pos + 4] != '-') return 0 ;
  p->pos += 5 ;
  *m = i + 1 ;
  if (!ndig(p, 4, y)) return 0 ;
  return *d >= 1 && *d <= mdays(*y, *m) ;
}

int tern_imap_p_date (tern_imap_p *p, int64_t *t)
{
  size_t start = p->pos ;
  unsigned int y, m, d ;
  int q = p->pos < p->len && p->s[p->pos] == '"' ;
  if (q) p->pos++ ;
  if (!datetext(p, 0, &y, &m, &d) || (q && !tern_imap_p_char(p, '"')))
  {
    p->pos = start ;
    return fail(p, "Invalid date") ;
  }
  *t = days_from_civil(y, m, d) * 86400 ;
  return 1 ;
}

int tern_imap_p_datetime (tern_imap_p *p, int64_t *t, int *zone)
{
  size_t start = p->pos ;
  unsigned int y, m, d, hh, mm, ss, zh, zm ;
  int sign ;
  if (!tern_imap_p_char(p, '"') || !datetext(p, 1, &y, &m, &d) || !tern_imap_p_char(p, ' ')
   || !ndig(p, 2, &hh) || !tern_imap_p_char(p, ':') || !ndig(p, 2, &mm) || !tern_imap_p_char(p, ':')
   || !ndig(p, 2, &ss) || !tern_imap_p_char(p, ' ') || p->pos >= p->len
   || (p->s[p->pos] != '+' && p->s[p->pos] != '-')) goto bad ;
  sign = p->s[p->pos++] == '-' ? -1 : 1 ;
  if (!ndig(p, 2, &zh) || !ndig(p, 2, &zm) || !tern_imap_p_char(p, '"')) goto bad ;
  if (hh > 23 || mm > 59 || ss > 60 || zm > 59) goto bad ;
  *zone = sign * (int)(zh * 60 + zm) ;
  *t = days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)*zone * 60 ;
  return 1 ;
 bad:
  p->pos = start ;
  return fail(p, "Invalid date-time") ;
}
