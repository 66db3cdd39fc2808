/* unit test: the IMAP grammar (tern_imap_litspec, tern_imap_p_*),
   INTERNALDATE's form, modified UTF-7 (RFC 3501 5.1.3) */

#include <string.h>
#include <stdlib.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "tern_imap.h"
#include "tap.h"

static int lit (char const *line, long long want, int wantns, int wantbin)
{
  uint64_t n = 0 ;
  int ns = -1, bin = -1 ;
  size_t head = 0 ;
  int r = tern_imap_litspec(line, strlen(line), &n, &ns, &bin, &head) ;
  if (want < 0) return r == (int)want ;
  if (!want) return r == 0 ;
  return r == 1 && (long long)n == want && ns == wantns && bin == wantbin ;
}

static tern_imap_p P (char const *s)
{
  tern_imap_p p = TERN_IMAP_P_ZERO ;
  p.s = s ; p.len = strlen(s) ;
  return p ;
}

static char const *mu (char const *utf8)
{
  static stralloc sa = STRALLOC_ZERO ;
  sa.len = 0 ;
  if (!tern_utf8_to_mutf7(&sa, utf8, strlen(utf8)) || !stralloc_0(&sa)) return "(error)" ;
  return sa.s ;
}

static char const *um (char const *m)
{
  static stralloc sa = STRALLOC_ZERO ;
  sa.len = 0 ;
  if (!tern_mutf7_to_utf8(&sa, m, strlen(m)) || !stralloc_0(&sa)) return "(error)" ;
  return sa.s ;
}

int main (void)
{
  /* literal heads */
  tap_ok(lit("a LOGIN {5}", 5, 0, 0), "litspec: {5} at the end of a line") ;
  tap_ok(lit("a APPEND INBOX {310+}", 310, 1, 0), "litspec: {310+} is non-synchronizing (RFC 7888)") ;
  tap_ok(lit("a APPEND INBOX ~{12}", 12, 0, 1), "litspec: ~{12} is a literal8 (RFC 3516)") ;
  tap_ok(lit("a SELECT \"x {5}\"", 0, 0, 0), "litspec: a head inside a quoted string is text") ;
  tap_ok(lit("a SELECT \"x \\\" {5}", 0, 0, 0), "litspec: an escaped quote does not end the string") ;
  tap_ok(lit("a SELECT foo}", 0, 0, 0), "litspec: a '}' in an atom is no literal") ;
  tap_ok(lit("a LOGIN {}", -1, 0, 0), "litspec: {} is malformed") ;
  tap_ok(lit("a LOGIN {5x}", -1, 0, 0), "litspec: {5x} is malformed") ;
  tap_ok(lit("a LOGIN {99999999999999999999}", -1, 0, 0), "litspec: a number of 2^63 or more is malformed") ;
  tap_ok(lit("a NOOP", 0, 0, 0), "litspec: a plain line ends the command") ;

  /* tokens */
  {
    tern_imap_p p = P("a001 LOGIN \"fred\\\\x\" {3}\r\nabc") ;
    tern_imap_lit l = { .pos = 0, .len = 3, .fd = -1 } ;
    stralloc sa = STRALLOC_ZERO ;
    char const *s ; size_t n ;
    l.pos = strlen("a001 LOGIN \"fred\\\\x\" {3}\r\n") ;
    p.lits = &l ; p.nlits = 1 ;
    tap_ok(tern_imap_p_tag(&p, &s, &n) && n == 4 && !memcmp(s, "a001", 4), "tag") ;
    tap_ok(tern_imap_p_sp(&p) && tern_imap_p_atom(&p, &s, &n) && n == 5, "command name") ;
    tap_ok(tern_imap_p_sp(&p) && tern_imap_p_astring(&p, &sa) && sa.len == 6 && !memcmp(sa.s, "fred\\x", 6), "quoted string with an escape") ;
    sa.len = 0 ;
    tap_ok(tern_imap_p_sp(&p) && tern_imap_p_astring(&p, &sa) && sa.len == 3 && !memcmp(sa.s, "abc", 3), "literal string") ;
    tap_ok(tern_imap_p_eol(&p), "end of the command") ;
    stralloc_free(&sa) ;
  }
  {
    tern_imap_p p = P("+tag") ;
    char const *s ; size_t n ;
    tap_ok(!tern_imap_p_tag(&p, &s, &n), "a tag cannot start with '+'") ;
    p = P("x\"y") ;
    tap_ok(tern_imap_p_atom(&p, &s, &n) && n == 1, "an atom stops at a quote") ;
  }
  {
    tern_imap_p p = P("\"unterminated") ;
    stralloc sa = STRALLOC_ZERO ;
    tap_ok(!tern_imap_p_astring(&p, &sa) && p.err && strstr(p.err, "Unterminated"), "unterminated quoted string") ;
    p = P("{3}\r\nabc") ;
    tap_ok(!tern_imap_p_astring(&p, &sa), "a literal the reader did not record is refused") ;
    p = P("NIL") ;
    {
      int isnil = 0 ;
      tap_ok(tern_imap_p_nstring(&p, &sa, &isnil) && isnil, "nstring NIL") ;
    }
    stralloc_free(&sa) ;
  }
  {
    tern_imap_p p = P("1:3,5,*,7:2,4:*") ;
    genalloc ga = GENALLOC_ZERO ;
    tern_imap_range const *r ;
    tap_ok(tern_imap_p_seqset(&p, &ga, 0) && genalloc_len(tern_imap_range, &ga) == 5, "sequence set of five ranges") ;
    r = genalloc_s(tern_imap_range, &ga) ;
    tap_ok(r[0].lo == 1 && r[0].hi == 3 && r[1].lo == 5 && r[2].lo == TERN_IMAP_STAR && r[3].lo == 2 && r[3].hi == 7
           && r[4].lo == 4 && r[4].hi == TERN_IMAP_STAR, "ranges ordered, '*' kept as STAR") ;
    genalloc_free(tern_imap_range, &ga) ;
    p = P("0:3") ;
    tap_ok(!tern_imap_p_seqset(&p, &ga, 0), "0 is no sequence number") ;
    p = P("1,") ;
    tap_ok(!tern_imap_p_seqset(&p, &ga, 0), "a trailing comma is an error") ;
    genalloc_free(tern_imap_range, &ga) ;
    {
      int d = 0 ;
      p = P("$") ;
      tap_ok(tern_imap_p_seqset(&p, &ga, &d) && d == 1, "$ (SEARCHRES)") ;
    }
  }
  {
    uint32_t n ;
    uint64_t n64 ;
    tern_imap_p p = P("4294967295") ;
    tap_ok(tern_imap_p_number(&p, &n) && n == 4294967295u, "number: 2^32-1") ;
    p = P("4294967296") ;
    tap_ok(!tern_imap_p_number(&p, &n), "number: 2^32 is too large") ;
    p = P("9223372036854775807") ;
    tap_ok(tern_imap_p_number64(&p, &n64) && n64 == 9223372036854775807ull, "number64: 2^63-1") ;
  }
  {
    int64_t t ; int z ;
    char buf[TERN_IMAP_DATETIME_LEN + 1] ;
    tern_imap_p p = P("\"17-Jul-1996 02:44:25 -0700\"") ;
    tap_ok(tern_imap_p_datetime(&p, &t, &z) && t == 837596665 && z == -420, "date-time of RFC 3501 6.3.11") ;
    buf[tern_imap_datetime_fmt(buf, t, z)] = 0 ;
    tap_is_str(buf, "17-Jul-1996 02:44:25 -0700", "INTERNALDATE form") ;
    buf[tern_imap_datetime_fmt(buf, 0, 0)] = 0 ;
    tap_is_str(buf, " 1-Jan-1970 00:00:00 +0000", "a one-digit day is padded with a space") ;
    p = P("\" 1-Feb-2000 00:00:00 +0000\"") ;
    tap_ok(tern_imap_p_datetime(&p, &t, &z) && t == 949363200, "date-day-fixed with a space") ;
    p = P("\"31-Feb-2000 00:00:00 +0000\"") ;
    tap_ok(!tern_imap_p_datetime(&p, &t, &z), "31 February is refused") ;
    p = P("1-Feb-1994") ;
    tap_ok(tern_imap_p_date(&p, &t) && t == 760060800, "SEARCH date unquoted") ;
    p = P("\"29-Feb-2024\"") ;
    tap_ok(tern_imap_p_date(&p, &t) && t == 1709164800, "SEARCH date quoted, leap day") ;
  }

  /* modified UTF-7 (RFC 3501 5.1.3's example and more) */
  tap_is_str(mu("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "UTF-8 to modified UTF-7 (the RFC's example)") ;
  tap_is_str(um("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "and back") ;
  tap_is_str(mu("R&D"), "R&-D", "'&' is '&-'") ;
  tap_is_str(um("R&-D"), "R&D", "'&-' is '&'") ;
  tap_is_str(mu("Entw\xc3\xbcrfe"), "Entw&APw-rfe", "a Latin-1 letter") ;
  tap_is_str(mu("\xf0\x9f\x93\xa7 mail"), "&2D3c5w- mail", "a character beyond the BMP: a surrogate pair") ;
  tap_is_str(um("&2D3c5w- mail"), "\xf0\x9f\x93\xa7 mail", "and back") ;
  tap_ok(tern_mutf7_valid("INBOX", 5), "plain ASCII is valid") ;
  tap_ok(!tern_mutf7_valid("&AGE-", 5), "encoded printable ASCII is invalid") ;
  tap_ok(!tern_mutf7_valid("&U,BTFw", 7), "a run without its '-' is invalid") ;
  tap_ok(!tern_mutf7_valid("&-&", 3), "a lone '&' at the end is invalid") ;
  tap_ok(!tern_mutf7_valid("&2D3-", 5), "a lone high surrogate is invalid") ;
  tap_ok(!tern_mutf7_valid("\xc3\xbc", 2), "8-bit octets are invalid") ;
  tap_ok(!tern_mutf7_valid("&APx-", 5), "non-zero padding bits are invalid") ;
  tap_ok(!tern_mutf7_valid("Entw&APw-&APw-rfe", 17), "two runs one after the other are not the canonical form") ;
  tap_ok(!tern_mutf7_valid("&-", 2) == 0, "&- alone is valid") ;
  {
    stralloc sa = STRALLOC_ZERO ;
    tap_ok(!tern_utf8_to_mutf7(&sa, "\xc3", 1), "truncated UTF-8 is refused") ;
    tap_ok(!tern_utf8_to_mutf7(&sa, "\xed\xa0\x80", 3), "an encoded surrogate is refused") ;
    stralloc_free(&sa) ;
  }
  return tap_done() ;
}
