/* html_text: unit tests of tern_html_text (the text a reader sees in an
   HTML part), tern_html_charset (a meta tag's charset) and the caps of
   TERN_HTML_MAX and TERN_HTML_TAGS. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"
#include "tap.h"

static void ht (char const *in, char const *want, char const *name)
{
  stralloc sa = STRALLOC_ZERO ;
  int ok = tern_html_text(&sa, in, strlen(in)) && stralloc_0(&sa) ;
  tap_ok(ok, name) ;
  tap_is_str(ok ? sa.s : 0, want, name) ;
  stralloc_free(&sa) ;
}

static void text (void)
{
  ht("<p>Hello, world</p>", "Hello, world", "a paragraph") ;
  ht("qu<b>ok</b>ka", "quokka", "inline tags join what they split") ;
  ht("qu<span class=x>ok</span>ka <a href='http://quokka.example'>site</a>", "quokka site", "span and a are inline; the href is not text") ;
  ht("<div>wom</div><div>bat</div>", "wom\nbat", "block tags separate") ;
  ht("one<br>two", "one\ntwo", "br is a line end") ;
  ht("<table><tr><td>a</td><td>b</td></tr></table>", "a\nb", "table cells separate") ;
  ht("<ul><li>x<li>y</ul>", "x\ny", "list items, end tags implied") ;
  ht("Fish &amp; chips, caf&eacute;, caf&#233;, caf&#xE9;", "Fish & chips, caf\xc3\xa9, caf\xc3\xa9, caf\xc3\xa9", "entities: named, decimal, hexadecimal") ;
  ht("AT&T &quokka; &lt;b&gt;", "AT&T &quokka; <b>", "a bare ampersand and an unknown name stay; escaped markup is text") ;
  ht("&notit; &copy2026", "\xc2\xacit; \xc2\xa9" "2026", "legacy names without a semicolon, as a browser reads them") ;
  ht("a&nbsp;b", "a b", "a no-break space is a space") ;
  ht("  lots \n\t of   space  ", "lots of space", "white space collapsed and trimmed") ;
  ht("<pre>a\n\n  b</pre>", "a b", "pre collapsed too") ;
  ht("before<!-- quokka -->after", "beforeafter", "comments are not text") ;
  ht("<script>var quokka = 1 ;</script>x<style>.quokka { }</style>y", "xy", "script and style contents are not text") ;
  ht("<html><head><title>quokka</title><meta charset=utf-8></head><body>body</body></html>", "body", "head and title are not text") ;
  ht("<img alt=\"quokka\" src=\"quokka.png\">", "", "attribute values are not text") ;
  ht("<div class=\"quokka\" id=quokka data-x='quokka'>seen</div>", "seen", "class, id, data attributes are not text") ;
  ht("<template>quokka</template>ok", "ok", "template contents are not text") ;
  ht("<b><i>mis</b>nested</i>", "misnested", "misnested tags mended as a browser does") ;
  ht("<p>unclosed <p>paragraphs", "unclosed\nparagraphs", "unclosed p") ;
  ht("<![CDATA[x]]>y", "y", "CDATA outside foreign content is a bogus comment") ;
  ht("<svg><text>drawn</text></svg>", "drawn", "text in svg is text") ;
  ht("", "", "empty") ;
  ht("a&#x1F6999999999999;b", "a\xef\xbf\xbd" "b", "a reference past U+10FFFF: U+FFFD (gumbo gives a stray octet)") ;
  ht("&#xD800;&#0;", "\xef\xbf\xbd\xef\xbf\xbd", "a surrogate, NUL: U+FFFD") ;
  ht("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", "UTF-8 kept") ;
  ht("<", "<", "a lone <") ;
  ht("<a", "", "an unfinished tag") ;
}

/* NULs dropped; gumbo's failed assertions do not abort */
static void gumbo_bugs (void)
{
  static char const in[] = "<table><svg><foreignObject><![CDATA[c]]>\"" ;
  stralloc sa = STRALLOC_ZERO ;
  tap_ok(stralloc_cats(&sa, "kept") && tern_html_text(&sa, in, sizeof(in) - 1), "gumbo's failed assertion on CDATA in a table does not abort") ;
  tap_ok(sa.len == 4 && !memcmp(sa.s, "kept", 4), "that part has no text, what was before it is kept") ;
  sa.len = 0 ;
  tap_ok(tern_html_text(&sa, "<p>after</p>", 12) && sa.len == 5 && !memcmp(sa.s, "after", 5), "the next part is parsed as usual") ;
  sa.len = 0 ;
  tap_ok(tern_html_text(&sa, "wom\0bat", 7) && sa.len == 6 && !memcmp(sa.s, "wombat", 6), "a NUL in text is dropped") ;
  stralloc_free(&sa) ;
}

static void cs (char const *in, char const *want, char const *name)
{
  char const *c = 0 ;
  size_t n = 0 ;
  char buf[64] = "" ;
  if (tern_html_charset(in, strlen(in), &c, &n) && n < sizeof(buf)) { memcpy(buf, c, n) ; buf[n] = 0 ; }
  tap_is_str(buf, want, name) ;
}

static void charset (void)
{
  cs("<html><head><meta charset=\"iso-8859-1\"></head>", "iso-8859-1", "meta charset") ;
  cs("<META CHARSET=UTF-8>", "UTF-8", "upper case, no quotes") ;
  cs("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\">", "windows-1252", "http-equiv content") ;
  cs("<meta name=x><p>charset=koi8-r", "", "charset= outside a meta tag") ;
  cs("<metadata charset=x>", "", "not a meta tag") ;
  cs("<meta charset=>", "", "no name") ;
  {
    char big[1200] ;
    memset(big, ' ', sizeof(big)) ;
    memcpy(big + 1100, "<meta charset=utf-8>", 20) ;
    big[1120] = 0 ;
    cs(big, "", "only the first 1024 octets are looked at") ;
  }
}

static void caps (void)
{
  size_t n = TERN_HTML_MAX + 100, i ;
  char *s = malloc(n + 1) ;
  stralloc sa = STRALLOC_ZERO ;
  if (!s) { tap_ok(0, "malloc") ; return ; }
  /* text up to the cap, then a word past it */
  memset(s, 'a', n) ;
  for (i = 100 ; i < n ; i += 100) s[i] = ' ' ;
  memcpy(s + TERN_HTML_MAX - 10, " seen ", 6) ;
  memcpy(s + TERN_HTML_MAX + 10, " unseen ", 8) ;
  s[n] = 0 ;
  tap_ok(tern_html_text(&sa, s, n), "a part over TERN_HTML_MAX") ;
  tap_ok(sa.len < TERN_HTML_MAX + 1 && stralloc_0(&sa) && strstr(sa.s, "seen") && !strstr(sa.s, "unseen"), "parsed up to TERN_HTML_MAX octets, not past it") ;
  stralloc_free(&sa) ;
  /* TERN_HTML_TAGS nested divs, then text: the text is past the cap */
  sa.len = 0 ;
  {
    stralloc h = STRALLOC_ZERO ;
    for (i = 0 ; i < TERN_HTML_TAGS - 1 ; i++) stralloc_cats(&h, "<div>") ;
    stralloc_cats(&h, "<i>inside</i><b>outside</b>") ;
    tap_ok(tern_html_text(&sa, h.s, h.len) && stralloc_0(&sa), "deeply nested divs") ;
    tap_ok(strstr(sa.s, "inside") && !strstr(sa.s, "outside"), "parsed up to TERN_HTML_TAGS tags, not past them") ;
    stralloc_free(&h) ;
  }
  stralloc_free(&sa) ;
  free(s) ;
}

/* tern_mime_text of a text/html part: transfer encoding, charset */
static void mt (char const *msg, char const *want, char const *name)
{
  tern_mime m = TERN_MIME_ZERO ;
  stralloc sa = STRALLOC_ZERO ;
  int ok = tern_mime_parse(&m, msg, strlen(msg)) && tern_mime_text(&sa, &m, 0) && stralloc_0(&sa) ;
  tap_ok(ok, name) ;
  tap_is_str(ok ? sa.s : 0, want, name) ;
  stralloc_free(&sa) ;
  tern_mime_free(&m) ;
}

static void mime (void)
{
  mt("Content-Type: text/html; charset=iso-8859-1\n\n<p>caf\xe9</p>", "caf\xc3\xa9", "Content-Type charset") ;
  mt("Content-Type: text/html\n\n<meta charset=iso-8859-1><p>caf\xe9</p>", "caf\xc3\xa9", "meta charset") ;
  mt("Content-Type: text/html; charset=utf-8\n\n<meta charset=iso-8859-1><p>caf\xc3\xa9</p>", "caf\xc3\xa9", "Content-Type wins over meta") ;
  mt("Content-Type: text/html\nContent-Transfer-Encoding: base64\n\nPGI+cXVvPC9iPmtrYQ==\n", "quokka", "base64") ;
  mt("Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<p class=3D\"x\">qu=\nokka</p>\n", "quokka", "quoted-printable") ;
  mt("Content-Type: text/plain\n\n<b>kept</b>", "<b>kept</b>", "text/plain is not HTML") ;
}

int main (void)
{
  text() ;
  gumbo_bugs() ;
  charset() ;
  caps() ;
  mime() ;
  return tap_done() ;
}
