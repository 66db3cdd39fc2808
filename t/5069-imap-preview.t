#!/usr/bin/python3
# imap-serve: PREVIEW (RFC 8970):
# - FETCH PREVIEW: the first text/plain part (not an attachment), else
#   the text/html one as text (tags, comments, head, script, style out;
#   entities decoded); transfer encoding and charset undone, UTF-8; white
#   space collapsed; at most 256 characters, never cut inside one; ""
#   when the message has no text (RFC 8970 3.2); \Seen left alone;
# - PREVIEW (LAZY) (RFC 8970 4): the preview once it was made (by a
#   FETCH PREVIEW, or a FETCH that parsed the message), NIL before; an
#   index cache entry made without a preview (ENVELOPE only) still works;
# - RFC 8970's examples: FETCH 1 (RFC822.SIZE PREVIEW), and UID FETCH
#   1:4 (PREVIEW (LAZY)) with a preview, a NIL, an empty one;
# - PREVIEW (BOGUS), PREVIEW (LAZY BOGUS), PREVIEW () are BAD.

import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()

LONG = "é" * 300
MSGS = [
    # 1 plain
    b"Subject: plain\n\nHello   world,\n\n\tthis is\tthe  first line.\n",
    # 2 alternative: plain wins
    b"Subject: alt\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n"
    b"--b\nContent-Type: text/plain; charset=utf-8\n\nThe plain one\n"
    b"--b\nContent-Type: text/html\n\n<p>The html one</p>\n--b--\n",
    # 3 html only
    b"Subject: html\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
    b"<html><head><title>Title</title><style>p { color: red }</style></head>\n"
    b"<body><p>Hi&nbsp;&amp; <b>bold</b>&lt;x&gt;</p><!-- a comment --><script>alert(1)</script>\n"
    b"<div>caf&#233; cr&#xE8;me &bogus; a&amp</div></body></html>\n",
    # 4 no text at all
    b"Subject: pdf\nMIME-Version: 1.0\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n",
    # 5 long, two-octet characters
    b"Subject: long\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + LONG.encode() + b"\n",
    # 6 base64 latin-1
    b"Subject: latin\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: base64\n\n"
    + base64.encodebytes("Grüße aus Köln".encode("latin-1")),
    # 7 the text part an attachment: the html one
    b"Subject: att\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=c\n\n"
    b"--c\nContent-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nattached text\n"
    b"--c\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<b>Shown=\n here</b>\n--c--\n",
    # 8 a four-octet character at the cut
    b"Subject: emoji\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + b"a" * 255 + "😀😀".encode() + b"\n",
    # 9 empty body
    b"Subject: empty\n\n",
]
for i, m in enumerate(MSGS):
    inst.put(m, "%d.M%dP1.host" % (1780000000 + i, i))

c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
caps = r.split("[CAPABILITY ", 1)[1].split("]")[0].split() if "[CAPABILITY " in r else []
t.ok("PREVIEW" in caps, "PREVIEW in the capabilities", r)
c.cmd("SELECT INBOX")


def fetch(what):
    """{msn: (kind, value)} of PREVIEW: kind "s" a string (decoded UTF-8), "nil"."""
    c.send(("f FETCH %s\r\n" % what).encode())
    out = {}
    while True:
        ln = c.line()
        if ln.startswith(b"f "):
            return out, ln.decode(errors="replace")
        m = re.match(rb"\* (\d+) FETCH \(.*?PREVIEW (NIL|\"((?:[^\"\\]|\\.)*)\"|\{(\d+)\}\r\n)", ln, re.S)
        if not m:
            continue
        n = int(m.group(1))
        if m.group(2) == b"NIL":
            out[n] = ("nil", None)
        elif m.group(4) is not None:
            k = int(m.group(4))
            out[n] = ("s", ln[m.end():m.end() + k].decode())
        else:
            out[n] = ("s", re.sub(rb"\\(.)", rb"\1", m.group(3)).decode())


# RFC 8970 3's example shape, and LAZY before anything was made
got, r = fetch("2:9 (PREVIEW (LAZY))")
t.ok(" OK " in r and all(got.get(n) == ("nil", None) for n in range(2, 10)), "PREVIEW (LAZY) before any preview was made: NIL", (got, r))
unt, r = c.cmd("FETCH 1 (RFC822.SIZE PREVIEW)")
t.ok(re.match(r'\* 1 FETCH \(RFC822.SIZE \d+ PREVIEW "Hello world, this is the first line."\)$', unt[0] if unt else ""),
     "FETCH 1 (RFC822.SIZE PREVIEW): white space collapsed, the ends trimmed", unt)
got, r = fetch("1:9 (PREVIEW)")
want = {
    1: "Hello world, this is the first line.",
    2: "The plain one",
    3: "Hi & bold<x> café crème &bogus; a&amp",
    4: "",
    5: "é" * 256,
    6: "Grüße aus Köln",
    7: "Shown here",
    8: "a" * 255 + "😀",
    9: "",
}
for n in range(1, 10):
    t.is_(got.get(n), ("s", want[n]), "PREVIEW of message %d (%s)" % (n, MSGS[n - 1].split(b"\n")[0].decode()))
t.ok(all(len(v[1]) <= 256 for v in got.values()), "never more than 256 characters")
unt, r = c.cmd("FETCH 1:9 (FLAGS)")
t.ok(not any("\\Seen" in u for u in unt), "PREVIEW does not set \\Seen", unt)

# LAZY after: RFC 8970 4's example (a preview, a NIL, an empty one)
inst.put(b"Subject: new one\n\nfresh text\n", "1780000100.M100P1.host")
inst.put(b"Subject: new two\n\nmore text\n", "1780000101.M101P1.host")
c.cmd("NOOP")
unt, r = c.cmd("FETCH 10 (ENVELOPE)")   # a cache entry without a preview
got, r = fetch("3:4,10,11 (UID PREVIEW (LAZY))")
t.ok(got.get(3) == ("s", want[3]) and got.get(4) == ("s", "") and got.get(10) == ("nil", None) and got.get(11) == ("nil", None),
     "PREVIEW (LAZY): made ones given, the empty one \"\", new ones NIL", got)
got, r = fetch("10 (PREVIEW)")
t.is_(got.get(10), ("s", "fresh text"), "then PREVIEW makes it (an entry that had no preview)")
unt, r = c.cmd("FETCH 11 (BODYSTRUCTURE)")
got, r = fetch("10:11 (PREVIEW (LAZY))")
t.ok(got.get(10) == ("s", "fresh text") and got.get(11) == ("s", "more text"),
     "and LAZY has it next time; a FETCH that parsed the message made one too", got)
got, r = fetch("11 PREVIEW (LAZY)")
t.is_(got.get(11), ("s", "more text"), "FETCH 11 PREVIEW (LAZY) without parentheses around the items")
got, r = fetch("11 (PREVIEW (LAZY) PREVIEW)")
t.ok(" OK " in r and got.get(11) == ("s", "more text"), "both forms in one FETCH", (got, r))
unt, r = c.cmd("UID FETCH 1:* (PREVIEW) (CHANGEDSINCE 1)")
t.ok(" OK " in r and len([u for u in unt if "PREVIEW" in u]) == 11, "PREVIEW with a fetch-modifier after it", (unt, r))
for q, what in (("1 (PREVIEW (BOGUS))", "an unknown modifier alone"), ("1 (PREVIEW (LAZY BOGUS))", "an unknown modifier after LAZY"),
                ("1 (PREVIEW ())", "no modifier"), ("1 (PREVIEW (LAZY)", "no closing parenthesis"),
                ("1 (PREVIEW[])", "a section")):
    unt, r = c.cmd("FETCH " + q)
    t.ok(r.split()[1] == "BAD", "FETCH %s: BAD (%s)" % (q, what), (unt, r))
c.cmd("LOGOUT")
c.close()
code, out = inst.check()
t.is_(code, 0, "mailbox-check finds the index consistent") or t.diag(out)
t.done()
