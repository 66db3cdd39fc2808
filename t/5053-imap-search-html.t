#!/usr/bin/python3
# imap-serve: SEARCH BODY and TEXT in text/html parts match the text a
# reader sees (tern_html_text), never the markup:
# - a word in a tag name or an attribute value (href, class, alt), in a
#   comment, in <script>, <style> or <title>: not found;
# - text split by inline tags ("qu<b>ok</b>ka") found as one word; block
#   tags (div, p, br, td) separate words, as a browser lays them out;
# - entities decoded (&amp; &eacute; &#233; &#xE9; &nbsp;), and "&amp;"
#   itself not matched;
# - the charset from Content-Type, or from <meta charset> without one;
#   base64 and quoted-printable HTML; multipart/alternative with a text
#   and an HTML part; a word in another part's header found by TEXT but
#   not by BODY;
# - a part over the cap (TERN_HTML_MAX, 1 MiB), a part of 60,000 nested
#   tags (over TERN_HTML_TAGS): the search answers, in seconds, what lies
#   before the cap is found, what lies past it is not;
# - the search index and the scan agree: the first search builds the
#   index (from tern_mime_texts, so from the same HTML text), then the
#   same answers from it, in that session and another; strings shorter
#   than a trigram ("qu", "é", "&a", "<b") are answered by the scan of
#   every message.
import base64
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()


def b64(b):
    return base64.encodebytes(b).decode()


def html(body, extra="", charset="utf-8"):
    cs = "; charset=%s" % charset if charset else ""
    return ("Subject: html\nFrom: a@example.org\nMIME-Version: 1.0\nContent-Type: text/html%s\n%s\n" % (cs, extra)).encode() + body


BIG = b"<html><body><p>" + b"filler text " * 87000 + b" nearcap</p><p>" + b"x" * 100000 + b" farbeyond</p></body></html>"
assert len(BIG) > (1 << 20) and BIG.index(b"nearcap") < (1 << 20) < BIG.index(b"farbeyond")

MSGS = [
    # 1: markup only: tag names, attributes, comments, script, style, title
    html(b"<html><head><title>wallaby</title><style>.numbat { color: red }</style></head><body>"
         b"<a href=\"http://quokka.example/\">a link</a> <div class=\"quokka\" id=\"bilby\">seen</div>"
         b"<img alt=\"dingo\" src=\"x.png\"><!-- koala --><script>var possum = 1;</script>"
         b"<quoll>custom</quoll> fish &amp; chips</body></html>"),
    # 2: words split by inline tags, separated by block tags
    html(b"<p>qu<b>ok</b>ka and wom<span style=\"x\">b</span>at</p><div>emu</div><div>rhea</div>"
         b"<p>cass<br>owary</p><table><tr><td>kiwi</td><td>moa</td></tr></table>"),
    # 3: entities
    html(b"<p>caf&eacute; au lait, cr&#232;me, p&#xE2;t&eacute;, tom&nbsp;thumb, R&amp;D, &lt;tag&gt;</p>"),
    # 4: charset from Content-Type (latin-1)
    html(b"<p>na\xefve gar\xe7on</p>", charset="iso-8859-1"),
    # 5: charset from <meta charset> (no charset parameter)
    html(b"<html><head><meta charset=\"iso-8859-1\"></head><body><p>sm\xf6rg\xe5sbord</p></body></html>", charset=None),
    # 6: base64 HTML
    html(b64(b"<p>pla<i>typ</i>us in base64</p>").encode(), "Content-Transfer-Encoding: base64\n"),
    # 7: quoted-printable HTML, a soft break inside a word and =3D in an attribute
    html(b"<p class=3D\"echidna\">bandi=\ncoot in qp</p>\n", "Content-Transfer-Encoding: quoted-printable\n"),
    # 8: multipart/alternative; the word "tasmanian" in a part's header only
    (b"Subject: alt\nFrom: b@example.org\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=zz\n\n"
     b"--zz\nContent-Type: text/plain\n\nplain wombat text\n"
     b"--zz\nContent-Type: text/html\nContent-Description: tasmanian devil\n\n<p>html <em>numbat</em> text</p>\n--zz--\n"),
    # 9: a plain text part: markup there is text
    b"Subject: plain\nFrom: c@example.org\n\nthe <b>quokka</b> as text\n",
    # 10: a part over TERN_HTML_MAX
    html(BIG),
    # 11: 60,000 nested divs (gumbo's slowest shape): past the 10,000-tag cap
    html(b"<p>shallow</p>" + b"<div>" * 60000 + b"deepword"),
]

CASES = [
    ("BODY quokka", {2, 9}, "a word in an href and a class: not found (2 has it split by tags, 9 in plain text)"),
    ("BODY bilby", set(), "an id attribute"),
    ("BODY dingo", set(), "an alt attribute"),
    ("BODY koala", set(), "a comment"),
    ("BODY possum", set(), "script contents"),
    ("BODY numbat", {8}, "style contents not found (8 has the word as text)"),
    ("BODY wallaby", set(), "the title"),
    ("BODY quoll", set(), "an unknown tag's name"),
    ("BODY custom", {1}, "an unknown tag's text"),
    ("BODY \"href\"", set(), "the attribute name"),
    ("BODY \"a link\"", {1}, "the text of a link"),
    ("BODY \"link seen\"", set(), "a block begins on a line of its own (a space does not match a line end, as in text/plain)"),
    ("BODY \"<b>\"", {9}, "markup is not text in HTML, is text in text/plain"),
    ("BODY \"fish & chips\"", {1}, "&amp; is &"),
    ("BODY \"&amp;\"", set(), "the entity's own spelling is not text"),
    ("BODY \"quokka and wombat\"", {2}, "inline tags join: qu<b>ok</b>ka, wom<span>b</span>at"),
    ("BODY emurhea", set(), "block tags separate: <div>emu</div><div>rhea</div>"),
    ("BODY \"emu\"", {2}, "a block's text"),
    ("BODY cassowary", set(), "br separates"),
    ("BODY kiwimoa", set(), "table cells separate"),
    ("BODY kiwi", {2}, "a table cell's text"),
    ("BODY \"café au lait\"", {3}, "&eacute;"),
    ("BODY \"crème\"", {3}, "&#232;"),
    ("BODY \"PÂTÉ\"", {3}, "&#xE2; and case folding"),
    ("BODY \"tom thumb\"", {3}, "&nbsp; as a space"),
    ("BODY \"r&d\"", {3}, "&amp; inside a word"),
    ("BODY \"<tag>\"", {3}, "&lt; &gt;: escaped markup is text"),
    ("BODY eacute", set(), "an entity's name is not text"),
    ("BODY \"naïve garçon\"", {4}, "latin-1 from Content-Type"),
    ("BODY \"smörgåsbord\"", {5}, "latin-1 from <meta charset>"),
    ("BODY platypus", {6}, "base64 HTML, a word split by <i>"),
    ("BODY bandicoot", {7}, "quoted-printable HTML, across a soft line break"),
    ("BODY echidna", set(), "a quoted-printable attribute value"),
    ("BODY numbat", {8}, "the HTML part of a multipart/alternative"),
    ("BODY \"plain wombat\"", {8}, "its text part"),
    ("BODY tasmanian", set(), "BODY: not in a part's header"),
    ("TEXT tasmanian", {8}, "TEXT: in a part's header"),
    ("TEXT quokka", {2, 9}, "TEXT: attributes are not text either"),
    ("BODY nearcap", {10}, "a huge part: text before the cap is found"),
    ("BODY farbeyond", set(), "text past the cap is not"),
    ("NOT BODY possum", set(range(1, 12)), "NOT BODY"),
    ("BODY shallow", {11}, "nested 60,000 deep: the text before the tags is found"),
    ("BODY deepword", set(), "and what follows the 10,000th tag is not"),
    ("OR BODY platypus BODY bandicoot", {6, 7}, "OR"),
    ("BODY qu", {2, 9}, "two letters (shorter than a trigram: the scan always)"),
    ("BODY \"é\"", {3}, "one non-ASCII letter from an entity"),
    ("BODY \"&a\"", set(), "two characters of an entity's spelling"),
    ("BODY \"<b\"", {9}, "two characters of a tag"),
    ("BODY \"=3\"", set(), "quoted-printable's own octets"),
    ("BODY \"ka\"", {2, 9}, "the end of qu<b>ok</b>ka"),
]


def run_cases(c, when):
    start = time.time()
    for q, want, what in CASES:
        unt, r = c.cmd("SEARCH CHARSET UTF-8 " + q)
        got = [u for u in unt if u.startswith("* SEARCH")]
        hits = set(int(x) for x in got[0].split()[2:]) if got else None
        t.is_(hits, want, "%s: %s: %s" % (when, q, what)) or t.diag(repr((q, unt[-3:], r)))
    took = time.time() - start
    t.diag("%s: %d searches in %.1f s" % (when, len(CASES), took))


def login():
    c = ternlib.ImapConn(port, timeout=120)
    c.cmd("LOGIN demo@example.test demo")
    return c


# ---- the index: INBOX, the first search builds it, then from it
for i, m in enumerate(MSGS):
    inst.put(m, "%d.M%dP1.host" % (1780000000 + i, i + 1))
c = login()
c.cmd("SELECT INBOX")
run_cases(c, "first search (builds the index)")
run_cases(c, "from the index")
c.cmd("LOGOUT")
c.close()
c = login()
c.cmd("SELECT INBOX")
run_cases(c, "another session, from the index")
unt, r = c.cmd("FETCH 10 (RFC822.SIZE)")
t.ok(" OK " in r, "the session still answers after the huge part", (unt, r))
c.cmd("LOGOUT")
c.close()
t.done()
