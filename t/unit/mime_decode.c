/* mime_decode: unit tests of what turns MIME into text: tern_hdr_decode
   (RFC 2047), tern_mime_param (RFC 2045 5.1, RFC 2231), tern_charset_utf8
   (iconv), tern_mime_decode (RFC 2045 6.7, 6.8), tern_mime_text, and
   tern_date822_scan (RFC 5322 3.3, 4.3). The base64 and quoted-printable
   cases are those of Dovecot's imaptest fetch-binary-mime scripts. */

#include <stdio.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"
#include "tap.h"

static void is_bytes (stralloc *sa, char const *want, size_t wantlen, char const *name)
{
  int ok = tap_ok(sa->len == wantlen && (!wantlen || !memcmp(sa->s, want, wantlen)), name) ;
  if (!ok) printf("# got:  '%.*s'\n# want: '%.*s'\n", (int)sa->len, sa->s, (int)wantlen, want) ;
}

static void hd (char const *in, char const *want, char const *name)
{
  stralloc sa = STRALLOC_ZERO ;
  tap_ok(tern_hdr_decode(&sa, in, strlen(in)), name) ;
  is_bytes(&sa, want, strlen(want), name) ;
  stralloc_free(&sa) ;
}

static void hdr_decode (void)
{
  hd(" plain text ", "plain text", "plain, trimmed") ;
  hd("a\r\n b\n\tc", "a b\tc", "unfolded: line ends dropped, white space kept") ;
  hd("=?utf-8?q?J=C3=B6rg?=", "J\xc3\xb6rg", "Q word") ;
  hd("=?UTF-8?Q?a_b_c?=", "a b c", "Q: underscores are spaces") ;
  hd("=?utf-8?b?SsO2cmc=?=", "J\xc3\xb6rg", "B word") ;
  hd("=?utf-8?b?w6Q?=", "\xc3\xa4", "B word without padding") ;
  hd("=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M=C3=BCller?=", "J\xc3\xb6rg M\xc3\xbcller", "adjacent words: the space between goes (RFC 2047 6.2)") ;
  hd("=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab", "adjacent words across a fold") ;
  hd("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c", "words with text between keep their spaces") ;
  hd("=?utf-8?b?4oK?= =?utf-8?b?sA==?=", "\xe2\x82\xb0", "a character split across two words") ;
  hd("=?iso-8859-1?q?a?= =?utf-8?q?=C3=A4?=", "a\xc3\xa4", "adjacent words in two charsets") ;
  hd("=?ISO-8859-1?B?5A==?=", "\xc3\xa4", "latin-1, charset name in uppercase") ;
  hd("=?utf-8*en?q?hi?=", "hi", "RFC 2231 5 language suffix") ;
  hd("=?x-unknown-charset?q?caf=C3=A9?=", "caf\xc3\xa9", "unknown charset: the octets as UTF-8") ;
  hd("=?x-unknown-charset?q?caf=E9?=", "caf\xef\xbf\xbd", "unknown charset, not UTF-8: U+FFFD") ;
  hd("=?utf-8?b?!!!?= x", "=?utf-8?b?!!!?= x", "broken base64 stays text") ;
  hd("=??q?x?= =?utf-8?x?y?= =?utf-8?q?open", "=??q?x?= =?utf-8?x?y?= =?utf-8?q?open", "not words: no charset, unknown encoding, unterminated") ;
  hd("=?utf-8?q?bad=ZZescape?=", "bad=ZZescape", "Q: a bad escape kept") ;
  hd("pre=?utf-8?q?mid?=post", "premidpost", "a word inside text (leniently)") ;
  hd("\xff raw \xc3\xa4", "\xef\xbf\xbd raw \xc3\xa4", "8-bit text: UTF-8 kept, the rest U+FFFD") ;
  hd("=?utf-8?q?a?==?utf-8?q?b?=", "ab", "words with nothing between") ;
  hd("", "", "empty") ;
}

static void pa (char const *v, char const *name, int wantr, char const *want, char const *tn)
{
  stralloc sa = STRALLOC_ZERO ;
  int r = tern_mime_param(&sa, v, strlen(v), name) ;
  tap_is_int(r, wantr, tn) ;
  if (r > 0) is_bytes(&sa, want, strlen(want), tn) ;
  stralloc_free(&sa) ;
}

static void params (void)
{
  pa("text/plain; charset=\"UTF-8\"", "charset", 1, "UTF-8", "quoted value") ;
  pa("text/plain; CharSet=us-ascii", "charset", 1, "us-ascii", "name case-insensitive") ;
  pa("text/plain", "charset", 0, "", "absent") ;
  pa("text/plain; format=flowed; charset=iso-8859-1 (latin) ; delsp=yes", "charset", 1, "iso-8859-1", "comments") ;
  pa("text/plain; x=\"a\\\"b\\\\c\"", "x", 1, "a\"b\\c", "quoted-pairs") ;
  pa("text/plain; x=\"a\r\n b\"", "x", 1, "a b", "a folded quoted string") ;
  pa("text/plain; junk; =; x=1", "x", 1, "1", "junk before it") ;
  pa("attachment; filename*=iso-8859-1'de'%E4rger.txt", "filename", 1, "\xc3\xa4rger.txt", "RFC 2231 4: charset'language'%XX") ;
  pa("attachment; filename*0*=utf-8''%E2%82%AC; filename*1=\".txt\"; filename=fallback", "filename", 1, "\xe2\x82\xac.txt", "RFC 2231 3, 4.1: sections, extended first") ;
  pa("attachment; name*1=b; name*0=a; name*2*=%41", "name", 1, "abA", "sections out of order") ;
  pa("attachment; name*0=a; name*2=c", "name", 1, "ac", "a missing section skipped") ;
  pa("attachment; filename*=''%FF", "filename", 1, "\xef\xbf\xbd", "no charset: UTF-8, invalid becomes U+FFFD") ;
  pa("attachment; filename=\"=?utf-8?q?J=C3=B6rg.txt?=\"", "filename", 1, "J\xc3\xb6rg.txt", "RFC 2047 in a quoted value, as mailers do") ;
  pa("attachment; filename=\"T\xc3\xa4st.txt\"", "filename", 1, "T\xc3\xa4st.txt", "raw UTF-8") ;
  pa("attachment; filename=\"unterminated", "filename", 1, "unterminated", "an unterminated quoted string") ;
  pa("multipart/mixed; boundary=\"----=_Part_0\"", "boundary", 1, "----=_Part_0", "boundary") ;
}

static void cs (char const *in, size_t n, char const *charset, char const *want, size_t wantlen, char const *name)
{
  stralloc sa = STRALLOC_ZERO ;
  tap_ok(tern_charset_utf8(&sa, in, n, charset, strlen(charset)), name) ;
  is_bytes(&sa, want, wantlen, name) ;
  stralloc_free(&sa) ;
}

static void charsets (void)
{
  cs("\xe4\xf6", 2, "ISO-8859-1", "\xc3\xa4\xc3\xb6", 4, "iso-8859-1") ;
  cs("\xe4", 1, "latin1", "\xc3\xa4", 2, "latin1") ;
  cs("\xe4", 1, "Latin1", "\xc3\xa4", 2, "Latin1 (case)") ;
  cs("a\x80\x81z", 4, "windows-1252", "a\xe2\x82\xac\xef\xbf\xbdz", 8, "windows-1252: undefined octet becomes U+FFFD, then on") ;
  cs("\xff ok \xc3\xa4", 7, "utf8", "\xef\xbf\xbd ok \xc3\xa4", 9, "utf8") ;
  cs("\xc3\xa4\xed\xa0\x80", 5, "UTF-8", "\xc3\xa4\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 11, "UTF-8: a surrogate is invalid") ;
  cs("plain \xc3\xa4", 8, "us-ascii", "plain \xc3\xa4", 8, "us-ascii is read as UTF-8") ;
  cs("x", 1, "ascii", "x", 1, "ascii") ;
  cs("\xe4", 1, "x-no-such-charset", "\xef\xbf\xbd", 3, "unknown charset") ;
  cs("\xe4", 1, "../../etc/passwd", "\xef\xbf\xbd", 3, "a name that is no name") ;
  cs("\x1b$B$3\x1b(B", 8, "iso-2022-jp", "\xe3\x81\x93", 3, "iso-2022-jp (stateful)") ;
  cs("+AOQ-", 5, "utf-7", "\xc3\xa4", 2, "utf-7") ;
  cs("\x81", 1, "shift_jis", "\xef\xbf\xbd", 3, "a sequence cut short") ;
  cs("\xe4", 1, "ISO-8859-1", "\xc3\xa4", 2, "the cached converter again") ;
  cs("", 0, "koi8-r", "", 0, "empty") ;
}

static void dec (char const *in, unsigned int cte, char const *want, size_t wantlen, char const *name)
{
  stralloc sa = STRALLOC_ZERO ;
  uint64_t crlf = wantlen ;
  tap_ok(tern_mime_decode(&sa, in, strlen(in), cte), name) ;
  is_bytes(&sa, want, wantlen, name) ;
  stralloc_free(&sa) ;
  /* tern_mime_decode_size agrees, without and with LF made CRLF */
  for (size_t i = 0 ; i < wantlen ; i++) if (want[i] == '\n' && (!i || want[i-1] != '\r')) crlf++ ;
  tap_is_int(tern_mime_decode_size(in, strlen(in), cte, 0), wantlen, name) ;
  tap_is_int(tern_mime_decode_size(in, strlen(in), cte, 1), crlf, name) ;
}

static void decodes (void)
{
  /* imaptest fetch-binary-mime-base64 */
  dec("\naGVs\nbG8gd29y\nbGQ=\n", TERN_CTE_BASE64, "hello world", 11, "base64 in lines") ;
  dec("  aGVs    \n bG8g  \n   d29y  \t \n    bGQ= \n\n", TERN_CTE_BASE64, "hello world", 11, "base64 with white space") ;
  dec("aGVsbG8g\ndG8geW91IHRv\nbw==\n", TERN_CTE_BASE64, "hello to you too", 16, "base64 ==") ;
  dec("aGVsbG8gdG8gZXZlcnlvbmUh", TERN_CTE_BASE64, "hello to everyone!", 18, "base64 without line end") ;
  dec("YWJjZGVmZw1oaWprbA0KbW5vCnBxcnN0dXZxeHl6\n", TERN_CTE_BASE64, "abcdefg\rhijkl\r\nmno\npqrstuvqxyz", 30, "base64: octets exactly") ;
  dec("aG!V*sbG8=\r\naGk=", TERN_CTE_BASE64, "hellohi", 7, "base64: junk skipped, two encodings one after the other") ;
  dec("a", TERN_CTE_BASE64, "", 0, "base64: one sextet is no octet") ;
  /* imaptest fetch-binary-mime-qp */
  dec("hello  \nbar=\n\nfoo\t=\nbar\nfoo\t \t= \n=62\nfoo = \t\nbar\nfoo =\n=62\nfoo  \nbar=\n\nfoo_bar\n", TERN_CTE_QP,
    "hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n", 65, "quoted-printable (imaptest)") ;
  dec("caf=C3=A9 caf=c3=a9\r\n", TERN_CTE_QP, "caf\xc3\xa9 caf\xc3\xa9\r\n", 13, "qp: either case of hex") ;
  dec("bad =zz and =4 end=", TERN_CTE_QP, "bad =zz and =4 end", 18, "qp: bad escapes kept, soft break at the end") ;
  dec("a=\r\nb", TERN_CTE_QP, "ab", 2, "qp: CRLF soft break") ;
  dec("x\ty", TERN_CTE_7BIT, "x\ty", 3, "7bit copied") ;
  dec("=41", TERN_CTE_OTHER, "=41", 3, "unknown encodings copied") ;
  dec("CmEKYg0KYwo=\n", TERN_CTE_BASE64, "\na\nb\r\nc\n", 8, "base64 of LF line ends (sizes with them as CRLF)") ;
  dec("a=0Ab=0D=0Ac\n", TERN_CTE_QP, "a\nb\r\nc\r\n", 8, "qp: encoded line ends") ;
  dec("x\ny\r\n\n", TERN_CTE_8BIT, "x\ny\r\n\n", 6, "8bit copied, LF and CRLF") ;
  dec("AAEC/w==", TERN_CTE_BASE64, "\0\1\2\377", 4, "base64 to binary, NUL included") ;
}

static void texts (void)
{
  static char const msg[] =
    "Content-Type: multipart/mixed; boundary=b\n\n"
    "--b\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nK=E4se\n"
    "--b\nContent-Type: text; charset=utf-8\nContent-Transfer-Encoding: base64\n\nw6Q=\n"
    "--b\n\nplain \xff\n"
    "--b--\n" ;
  tern_mime m = TERN_MIME_ZERO ;
  stralloc sa = STRALLOC_ZERO ;
  tern_mime_parse(&m, msg, sizeof msg - 1) ;
  tern_mime_text(&sa, &m, 1) ;
  is_bytes(&sa, "K\xc3\xa4se", 5, "text: qp, latin-1 (the line end is the delimiter's)") ;
  sa.len = 0 ; tern_mime_text(&sa, &m, 2) ;
  is_bytes(&sa, "\xc3\xa4", 2, "text: base64, the charset of a Content-Type too broken to have a subtype") ;
  sa.len = 0 ; tern_mime_text(&sa, &m, 3) ;
  is_bytes(&sa, "plain \xef\xbf\xbd", 9, "text: default us-ascii, 8-bit replaced") ;
  sa.len = 0 ; tern_mime_text(&sa, &m, 0) ;
  tap_is_int(sa.len, 0, "text: a multipart has none") ;
  sa.len = 0 ; tap_ok(tern_mime_text(&sa, &m, 99) && !sa.len, "text: no such part") ;
  stralloc_free(&sa) ;
  tern_mime_free(&m) ;
}

static void dt (char const *in, int wantr, long long want, int wantz, char const *name)
{
  int64_t t = 0 ;
  int z = 0 ;
  int r = tern_date822_scan(in, strlen(in), &t, &z) ;
  tap_ok(r == wantr && (!r || (t == want && z == wantz)), name) ;
  if (r != wantr || (r && (t != want || z != wantz))) printf("# got %d %lld %d\n", r, (long long)t, z) ;
}

static void dates (void)
{
  dt("Thu, 15 Feb 2007 01:02:03 +0200", 1, 1171494123, 120, "RFC 5322 3.3") ;
  dt("15 Feb 2007 01:02:03 +0200", 1, 1171494123, 120, "no day of the week") ;
  dt("Thu, 15 Feb 2007 01:02 +0200", 1, 1171494120, 120, "no seconds") ;
  dt("  Thu ,  15  Feb  2007  01 : 02 : 03  -0130 (comment)", 1, 1171506723, -90, "CFWS everywhere (RFC 5322 4.3)") ;
  dt("15 Feb 07 01:02:03 GMT", 1, 1171501323, 0, "two-digit year 07, GMT") ;
  dt("1 Jan 70 00:00:00 EST", 1, 18000, -300, "two-digit year 70, EST") ;
  dt("1 jan 49 00:00:00 UT", 1, 2493072000LL, 0, "49 is 2049") ;
  dt("1 Jan 050 00:00:00 +0000", 1, -631152000LL, 0, "three-digit year: 1950") ;
  dt("Sat, 1 Jul 2006 12:00:00 PDT", 1, 1151780400, -420, "PDT") ;
  dt("Sat, 1 Jul 2006 12:00:00 CDT", 1, 1151773200, -300, "CDT") ;
  dt("Sat, 1 Jul 2006 12:00:00 MST", 1, 1151780400, -420, "MST") ;
  dt("31 Dec 99 23:59 A", 1, 946684740, 0, "military zone: +0000") ;
  dt("Fri, 31 Dec 1999 23:59:60 Z", 1, 946684800, 0, "leap second") ;
  dt("Sat, 1 Jul 2006 12:00:00", 1, 1151755200, 0, "no zone") ;
  dt("Sat, 1 Jul 2006 12:00:00 CEST", 1, 1151755200, 0, "unknown zone: +0000") ;
  dt("29 Feb 2004 00:00:00 +0000", 1, 1078012800, 0, "leap day") ;
  dt("15-Feb-2007 01:02:03 +02:00", 1, 1171494123, 120, "dashes, +hh:mm") ;
  dt("1 January 2000 00:00:00 +0000", 1, 946684800, 0, "a month spelt out") ;
  dt("garbage", 0, 0, 0, "garbage") ;
  dt("", 0, 0, 0, "empty") ;
  dt("32 Jan 2000 00:00 +0000", 0, 0, 0, "day 32") ;
  dt("1 Foo 2000 00:00 +0000", 0, 0, 0, "no such month") ;
  dt("1 Jan 2000 24:00 +0000", 0, 0, 0, "hour 24") ;
  dt("1 Jan 2000", 0, 0, 0, "no time") ;
}

static void pv (char const *msg, size_t len, char const *want, char const *name)
{
  tern_mime m = TERN_MIME_ZERO ;
  stralloc sa = STRALLOC_ZERO ;
  tern_mime_parse(&m, msg, len) ;
  tap_ok(tern_mime_preview(&sa, &m), name) ;
  is_bytes(&sa, want, strlen(want), name) ;
  stralloc_free(&sa) ;
  tern_mime_free(&m) ;
}

/* markup every octet of which starts something: linear, or this never ends */
static void pv_big (char const *head, char unit, char const *name)
{
  stralloc msg = STRALLOC_ZERO ;
  stralloc_cats(&msg, head) ;
  for (size_t i = 0 ; i < (1u << 20) ; i++) stralloc_catb(&msg, &unit, 1) ;
  {
    tern_mime m = TERN_MIME_ZERO ;
    stralloc sa = STRALLOC_ZERO ;
    tern_mime_parse(&m, msg.s, msg.len) ;
    tap_ok(tern_mime_preview(&sa, &m) && sa.len <= 4 * TERN_PREVIEW_CHARS, name) ;
    stralloc_free(&sa) ;
    tern_mime_free(&m) ;
  }
  stralloc_free(&msg) ;
}

static void previews (void)
{
  static char const html[] = "MIME-Version: 1.0\nContent-Type: text/html\n\n<p>a<!--x-->b</p><br>&#x1F600;&#0;<style>s</style><HEAD >h</head>end" ;
  pv("Subject: x\n\n  a \t b\r\n\n c  \n", sizeof "Subject: x\n\n  a \t b\r\n\n c  \n" - 1, "a b c", "preview: white space collapsed") ;
  pv(html, sizeof html - 1, "ab \xf0\x9f\x98\x80\xef\xbf\xbd end", "preview: html, comments, entities, style, head") ;
  pv("Subject: x\n", sizeof "Subject: x\n" - 1, "", "preview: no body") ;
  {
    /* 255 characters, then a space at the cut: not kept */
    char msg[400], want[300] ;
    size_t k = 0 ;
    k += sprintf(msg, "Subject: x\n\n") ;
    memset(msg + k, 'a', 255) ; k += 255 ;
    memcpy(msg + k, " b\n", 3) ; k += 3 ;
    memset(want, 'a', 255) ; want[255] = 0 ;
    pv(msg, k, want, "preview: no space at the cut") ;
  }
  pv_big("MIME-Version: 1.0\nContent-Type: text/html\n\n", '&', "preview: 1 MiB of & (linear)") ;
  pv_big("MIME-Version: 1.0\nContent-Type: text/html\n\n", '<', "preview: 1 MiB of < (linear)") ;
  pv_big("MIME-Version: 1.0\nContent-Type: text/html\n\n<head>", '<', "preview: an unclosed head (linear)") ;
  pv_big("Subject: x\n\n", ' ', "preview: 1 MiB of spaces") ;
}

int main (void)
{
  previews() ;
  hdr_decode() ;
  params() ;
  charsets() ;
  decodes() ;
  texts() ;
  dates() ;
  return tap_done() ;
}
