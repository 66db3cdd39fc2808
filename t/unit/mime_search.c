/* mime_search: unit tests of search (RFC 3501 6.4.4, RFC 5051):
   tern_search_fold, tern_search_match and tern_mime_search. The messages
   of search_body are those of Dovecot's imaptest search-body script. */

#include <stdio.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"
#include "tap.h"

static void fo (char const *in, char const *want, char const *name)
{
  stralloc sa = STRALLOC_ZERO ;
  tap_ok(tern_search_fold(&sa, in, strlen(in)), name) ;
  tap_ok(sa.len == strlen(want) && !memcmp(sa.s, want, sa.len), name) ;
  if (sa.len != strlen(want) || memcmp(sa.s, want, sa.len)) printf("# got: '%.*s'\n", (int)sa.len, sa.s) ;
  stralloc_free(&sa) ;
}

static void folds (void)
{
  fo("Hello", "hello", "ASCII") ;
  fo("\xc3\x84\xc3\x96", "a\xcc\x88o\xcc\x88", "\xc3\x84\xc3\x96: folded and decomposed") ;
  fo("a\xcc\x88", "a\xcc\x88", "already decomposed") ;
  fo("Stra\xc3\x9f" "e", "strasse", "sharp s") ;
  fo("\xe2\x84\xaa", "k", "Kelvin sign") ;
  fo("\xce\xa3\xcf\x83\xcf\x82", "\xcf\x83\xcf\x83\xcf\x83", "the three sigmas") ;
  fo("\xef\xac\x81", "fi", "a ligature (NFKD)") ;
  fo("a\xffz", "a\xffz", "invalid octets kept") ;
}

static int m1 (char const *hay, char const *needle)
{
  stralloc f = STRALLOC_ZERO ;
  int r ;
  tern_search_fold(&f, needle, strlen(needle)) ;
  r = tern_search_match(hay, strlen(hay), f.s, f.len) ;
  stralloc_free(&f) ;
  return r ;
}

static void matches (void)
{
  tap_is_int(m1("Hello World", "WORLD"), 1, "ASCII, case") ;
  tap_is_int(m1("Hello World", "lo wo"), 1, "ASCII, across a space") ;
  tap_is_int(m1("Hello World", "wrld"), 0, "ASCII, no") ;
  tap_is_int(m1("Hello", "Hello!"), 0, "longer than the text") ;
  tap_is_int(m1("aaaaaaaaaaaaaaaaaaab", "aab"), 1, "overlapping candidates") ;
  tap_is_int(m1("xxxxxxxxxxQ", "q"), 1, "the last octet") ;
  tap_is_int(m1("Qxxxxxxxxxx", "q"), 1, "the first octet") ;
  tap_is_int(m1("zzz@example.org", "@EXAMPLE"), 1, "a rare octet first") ;
  tap_is_int(m1("abc", "\xc3\xa4"), 0, "a non-ASCII needle in ASCII text") ;
  tap_is_int(m1("x \xc3\x84\xc3\x96 y", "\xc3\xa4\xc3\xb6"), 1, "\xc3\x84\xc3\x96 / \xc3\xa4\xc3\xb6") ;
  tap_is_int(m1("x A\xcc\x88 y", "\xc3\xa4"), 1, "precomposed needle, decomposed text") ;
  tap_is_int(m1("Die STRASSE", "stra\xc3\x9f" "e"), 1, "\xc3\x9f matches SS") ;
  tap_is_int(m1("Die Stra\xc3\x9f" "e", "STRASSE"), 1, "SS matches \xc3\x9f") ;
  tap_is_int(m1("273 \xe2\x84\xaa", "273 k"), 1, "Kelvin sign in the text") ;
  tap_is_int(m1("273 K", "273 \xe2\x84\xaa"), 1, "Kelvin sign in the needle") ;
  tap_is_int(m1("\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3", "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82"), 1, "Greek capitals, final sigma in the needle") ;
  tap_is_int(m1("caf\xc3\xa9 \xff", "CAF\xc3\x89"), 1, "text with an invalid octet") ;
  tap_is_int(m1("\xe2\x82\xac 5", "\xe2\x82\xac"), 1, "non-letters") ;
}

static int ms (char const *msg, unsigned int what, char const *needle)
{
  tern_mime m = TERN_MIME_ZERO ;
  stralloc f = STRALLOC_ZERO, scratch = STRALLOC_ZERO ;
  int r ;
  tern_mime_parse(&m, msg, strlen(msg)) ;
  tern_search_fold(&f, needle, strlen(needle)) ;
  r = tern_mime_search(&m, what, f.s, f.len, &scratch) ;
  stralloc_free(&f) ;
  stralloc_free(&scratch) ;
  tern_mime_free(&m) ;
  return r ;
}

/* imaptest search-body: which of the four messages each search finds */
static void search_body (void)
{
  static char const *const msgs[4] =
  {
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n\nasdfghjkl zxcvbnm\n\n",
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\nSubject: qwertyuiop\n\nasdfghjkl\n\n",
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\nX-Header: qwertyuiop\n\nzxcvbnm\n\n",
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n\nzxcvbnm qwertyuiop\n",
  } ;
  static struct { unsigned int what ; char const *needle ; char const *want ; } const cases[] =
  {
    { TERN_MSEARCH_TEXT, "asdfghjkl", "1100" }, { TERN_MSEARCH_TEXT, "zxcvbnm", "1011" }, { TERN_MSEARCH_TEXT, "qwertyuiop", "0111" },
    { TERN_MSEARCH_BODY, "asdfghjkl", "1100" }, { TERN_MSEARCH_BODY, "zxcvbnm", "1011" }, { TERN_MSEARCH_BODY, "qwertyuiop", "0001" },
    { TERN_MSEARCH_TEXT, "sdfghjk", "1100" }, { TERN_MSEARCH_TEXT, "xcvbn", "1011" }, { TERN_MSEARCH_TEXT, "wertyuio", "0111" },
    { TERN_MSEARCH_BODY, "sdfghjk", "1100" }, { TERN_MSEARCH_BODY, "xcvbn", "1011" }, { TERN_MSEARCH_BODY, "wertyuio", "0001" },
  } ;
  for (unsigned int i = 0 ; i < sizeof cases / sizeof *cases ; i++)
  {
    char got[5], name[64] ;
    for (unsigned int k = 0 ; k < 4 ; k++) got[k] = '0' + ms(msgs[k], cases[i].what, cases[i].needle) ;
    got[4] = 0 ;
    snprintf(name, sizeof name, "search-body: %s %s", cases[i].what == TERN_MSEARCH_TEXT ? "text" : "body", cases[i].needle) ;
    tap_is_str(got, cases[i].want, name) ;
  }
  tap_is_int(ms("Subject: NiL\n\nnil\n", TERN_MSEARCH_BODY, "nil"), 1, "nil: search body nil") ;
}

static void search_mime (void)
{
  static char const msg[] =
    "Subject: outer =?utf-8?q?J=C3=B6rg?=\n"
    "Content-Type: multipart/mixed; boundary=x\n\n"
    "--x\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nK=E4se und Br=F6tchen\n"
    "--x\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\nPGI+R3LDvMOfZTwvYj4=\n"
    "--x\nContent-Type: message/rfc822\n\nSubject: zanzibar\n\ninner text quux\n"
    "--x\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\ncGxvdWdo\n"
    "--x\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n"
    "--x--\n" ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "k\xc3\xa4se"), 1, "body: quoted-printable latin-1 text") ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "BR\xc3\x96TCHEN"), 1, "body: case-insensitive") ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "gr\xc3\xbcsse"), 1, "body: base64 HTML, \xc3\x9f as ss") ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "quux"), 1, "body: the text of an enclosed message") ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "zanzibar"), 0, "body: not the enclosed header (as Dovecot)") ;
  tap_is_int(ms(msg, TERN_MSEARCH_TEXT, "zanzibar"), 1, "text: the enclosed header") ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "plough"), 0, "body: not a base64 attachment") ;
  tap_is_int(ms(msg, TERN_MSEARCH_TEXT, "plough"), 0, "text: not a base64 attachment") ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "cGxvdWdo"), 0, "body: not its base64 either") ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "mx.example"), 1, "body: a delivery report") ;
  tap_is_int(ms(msg, TERN_MSEARCH_TEXT, "j\xc3\xb6rg"), 1, "text: an encoded-word decoded") ;
  tap_is_int(ms(msg, TERN_MSEARCH_BODY, "j\xc3\xb6rg"), 0, "body: not the header") ;
  tap_is_int(ms(msg, TERN_MSEARCH_TEXT, "subject: outer"), 1, "text: field names too") ;
  tap_is_int(ms(msg, TERN_MSEARCH_TEXT, "transfer-encoding: quoted"), 1, "text: a part's header") ;
  tap_is_int(ms("Subject: x\n\n", TERN_MSEARCH_BODY, "x"), 0, "body: empty") ;
}

int main (void)
{
  folds() ;
  matches() ;
  search_body() ;
  search_mime() ;
  return tap_done() ;
}
