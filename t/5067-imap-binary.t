#!/usr/bin/python3
# imap-serve: BINARY (RFC 3516; RFC 9051 6.4.5, 7.5.2):
# - FETCH BINARY[part]: quoted-printable and base64 undone, 7bit/8bit as
#   they are (the file's LF sent as CRLF); what is decoded sent exactly
#   as decoded (RFC 3516 4.2): base64's LF, CR and CRLF as they were,
#   quoted-printable's hard breaks CRLF and its =0A / =0D a lone LF / CR
#   (the shapes of imaptest's fetch-binary-mime-base64 and -qp); a
#   literal8 "~{n}" exactly when the octets sent hold a NUL, else a
#   literal; <partial> counted in the decoded data, its origin in the
#   name; BINARY.SIZE the size BINARY sends; BINARY[] the whole message;
#   a nested part (5.1) through a message/rfc822; a part that is not
#   there NIL;
# - an unknown Content-Transfer-Encoding: NO [UNKNOWN-CTE], for BINARY
#   and BINARY.SIZE alike;
# - BINARY sets \Seen, BINARY.PEEK and BINARY.SIZE do not;
# - APPEND of a literal8 (RFC 3516 4.4), synchronising or not: a leaf
#   part whose body is binary (CTE binary; 7bit/8bit with a NUL, bare CR
#   or bare LF) stored in base64, its Content-Transfer-Encoding changed
#   (added, with MIME-Version when a message has none), every other
#   octet as sent; BODY[] then has no NUL and BINARY gives the octets
#   appended back (imaptest's append-binary); REPLACE and MULTIAPPEND
#   too; fsync before the OK; over APPENDLIMIT NO [TOOBIG]; literal8
#   anywhere else BAD;
# - sections BINARY does not have (HEADER, TEXT, MIME, 0), a partial on
#   BINARY.SIZE, no section: BAD.

import base64
import os
import random
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap(env={"IMAP_APPENDLIMIT": "3000000"})
MD = inst.maildir()

BLOB = bytes([0, 1, 2, 255, 10, 13, 10, 0, 65, 66])
TEXT3 = b"line one\nline two\r\nline three\n"
MSG = (b"From: a@example.org\nSubject: parts\nMIME-Version: 1.0\n"
       b"Content-Type: multipart/mixed; boundary=xx\n\n"
       b"--xx\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
       b"caf=C3=A9 au lait=\n, s'il vous pla=C3=AEt  \nsecond line\n"
       b"--xx\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
       + base64.b64encode(BLOB) + b"\n"
       b"--xx\nContent-Type: text/plain\nContent-Transfer-Encoding: BASE64\n\n"
       + base64.encodebytes(TEXT3) +
       b"--xx\nContent-Type: application/x-thing\nContent-Transfer-Encoding: x-uuencode\n\n"
       b"begin 644 x\n#86)C\n`\nend\n"
       b"--xx\nContent-Type: message/rfc822\n\n"
       b"Subject: inner\nContent-Type: multipart/alternative; boundary=yy\n\n"
       b"--yy\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\nplain \xc3\xa9\n"
       b"--yy\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh\n"
       b"--yy--\n"
       b"--xx--\n")
inst.put(MSG, "1780000001.M1P1.host")
inst.put(b"Subject: single\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\n" + base64.encodebytes(b"one\ntwo\n"), "1780000002.M2P1.host")
inst.put(b"Subject: plain\n\nno MIME here\n", "1780000003.M3P1.host")
# imaptest's fetch-binary-mime-base64 (its part 5) and -qp, with =0A / =0D
MIXED = b"abcdefg\rhijkl\r\nmno\npqrstuvqxyz"
inst.put(b"Subject: ends\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"foo\n bar\"\n\n"
         b"--foo bar\nContent-Type: text/x-myown; charset=us-ascii\nContent-Transfer-Encoding: base64\n\n"
         + base64.b64encode(MIXED) + b"\n\n"
         b"--foo bar\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
         b"hello  \nbar=\n\nfoo\t=\nbar\nlf=0Acr=0Dcrlf=0D=0Aend\n\n"
         b"--foo bar--\n", "1780000004.M4P1.host")
QPEND = b"hello\r\nbar\r\nfoo\tbar\r\nlf\ncr\rcrlf\r\nend\r\n"

c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
caps = r.split("[CAPABILITY ", 1)[1].split("]")[0].split() if "[CAPABILITY " in r else []
t.ok("BINARY" in caps, "BINARY in the capabilities", r)
c.cmd("SELECT INBOX")


def fetch(what, tag="f", cmd="FETCH"):
    """Raw FETCH: (untagged lines as bytes, tagged line as str)."""
    c.send(("%s %s %s\r\n" % (tag, cmd, what)).encode())
    unt = []
    while True:
        ln = c.line()
        if ln.startswith(tag.encode() + b" "):
            return unt, ln.decode(errors="replace")
        unt.append(ln)


def item(unt, name):
    """The value of item name in the FETCH lines: (kind, bytes): kind "~"
    for a literal8, "{" a literal, "" anything else."""
    for ln in unt:
        i = ln.find(name.encode() + b" ")
        if i < 0:
            continue
        rest = ln[i + len(name) + 1:]
        m = re.match(rb"(~?)\{(\d+)\}\r\n", rest)
        if m:
            n = int(m.group(2))
            return ("~" if m.group(1) else "{"), rest[m.end():m.end() + n]
        m = re.match(rb"([^ )]+)", rest)
        return "", m.group(1)
    return None, None


# the line end before a boundary is the boundary's (RFC 2046 5.1.1)
QP1 = "café au lait, s'il vous plaît\r\nsecond line".encode()
unt, r = fetch("1 (BINARY.PEEK[1] BINARY.SIZE[1])")
k, v = item(unt, "BINARY[1]")
t.ok(" OK " in r and k == "{" and v == QP1, "BINARY[1]: quoted-printable undone, soft break joined, a literal", (unt, r))
t.is_(item(unt, "BINARY.SIZE[1]")[1], str(len(QP1)).encode(), "BINARY.SIZE[1]: the size of that")
unt, r = fetch("1 (BINARY.PEEK[2] BINARY.SIZE[2])")
k, v = item(unt, "BINARY[2]")
t.ok(k == "~" and v == BLOB, "BINARY[2]: base64 undone, octets exactly (NUL, CR, LF, 0xff), a literal8 ~{n}", unt)
t.is_(item(unt, "BINARY.SIZE[2]")[1], str(len(BLOB)).encode(), "BINARY.SIZE[2]")
unt, r = fetch("1 (BINARY.PEEK[2]<1.3>)")
k, v = item(unt, "BINARY[2]<1>")
t.ok(k == "{" and v == BLOB[1:4], "BINARY[2]<1.3>: decoded octets 1 to 3, the origin in the name; no NUL there, a literal", unt)
unt, r = fetch("1 (BINARY.PEEK[2]<6.100>)")
k, v = item(unt, "BINARY[2]<6>")
t.ok(k == "~" and v == BLOB[6:], "BINARY[2]<6.100>: to the end, a NUL in it: literal8", unt)
unt, r = fetch("1 (BINARY.PEEK[2]<50.10>)")
k, v = item(unt, "BINARY[2]<50>")
t.ok(k == "{" and v == b"", "a partial past the end: empty", unt)
unt, r = fetch("1 (BINARY.PEEK[3] BINARY.SIZE[3])")
t.ok(item(unt, "BINARY[3]") == ("{", TEXT3), "BINARY[3]: a base64 text part as decoded, its LF and CRLF as they were (RFC 3516 4.2)", unt)
t.is_(item(unt, "BINARY.SIZE[3]")[1], str(len(TEXT3)).encode(), "BINARY.SIZE[3] counts the decoded octets")
unt, r = fetch("1 (BINARY.PEEK[3]<10.10>)")
t.is_(item(unt, "BINARY[3]<10>")[1], TEXT3[10:20], "BINARY[3]<10.10>: the partial counted in the decoded octets")
# imaptest fetch-binary-mime-base64: "abcdefg\rhijkl\r\nmno\npqrstuvqxyz"
unt, r = fetch("4 (BINARY.SIZE[1] BINARY.PEEK[1])")
t.ok(item(unt, "BINARY.SIZE[1]")[1] == b"30" and item(unt, "BINARY[1]") == ("{", MIXED),
     "base64 with a bare CR, a CRLF and a bare LF: 30 octets back exactly", unt)
for a, b in ((0, 7), (0, 8), (0, 10), (10, 10), (5, 10), (15, 100)):
    unt, r = fetch("4 (BINARY.PEEK[1]<%d.%d>)" % (a, b))
    t.is_(item(unt, "BINARY[1]<%d>" % a)[1], MIXED[a:a + b], "BINARY[1]<%d.%d> of it (imaptest's partials)" % (a, b))
unt, r = fetch("4 (BINARY.SIZE[2] BINARY.PEEK[2] BINARY.PEEK[2]<17.8>)")
t.ok(item(unt, "BINARY[2]") == ("{", QPEND) and item(unt, "BINARY.SIZE[2]")[1] == str(len(QPEND)).encode(),
     "quoted-printable: hard breaks CRLF, soft ones joined, =0A a lone LF, =0D a lone CR", unt)
t.is_(item(unt, "BINARY[2]<17>")[1], QPEND[17:25], "a partial of it in those octets")
unt, r = fetch("1 (BINARY.PEEK[4])")
t.ok(r.startswith("f NO [UNKNOWN-CTE]") and not unt, "BINARY[4] (x-uuencode): NO [UNKNOWN-CTE], no FETCH response", (unt, r))
unt, r = fetch("1 (BINARY.SIZE[4])")
t.ok(r.startswith("f NO [UNKNOWN-CTE]"), "BINARY.SIZE[4]: NO [UNKNOWN-CTE]", r)
unt, r = fetch("1:4 (UID BINARY.PEEK[4])")
t.ok(r.startswith("f NO [UNKNOWN-CTE]") and len(unt) == 3, "1:4: the other messages answered, then NO [UNKNOWN-CTE]", (unt, r))
unt, r = fetch("1 (BINARY.PEEK[5.1] BINARY.PEEK[5.2] BINARY.SIZE[5.2])")
t.is_(item(unt, "BINARY[5.1]")[1], "plain é".encode(), "BINARY[5.1]: 8bit text inside the message/rfc822 part, CRLF")
t.ok(item(unt, "BINARY[5.2]")[1] == b"GIF89a" and item(unt, "BINARY.SIZE[5.2]")[1] == b"6", "BINARY[5.2]: nested base64", unt)
unt, r = fetch("1 (BINARY.PEEK[] BODY.PEEK[])")
t.ok(item(unt, "BINARY[]")[1] == item(unt, "BODY[]")[1] == MSG.replace(b"\n", b"\r\n"), "BINARY[]: the whole message, as BODY[]", unt)
unt, r = fetch("1 (BINARY.PEEK[5] BODY.PEEK[5])")
t.ok(item(unt, "BINARY[5]")[1] == item(unt, "BODY[5]")[1] and len(item(unt, "BODY[5]")[1]) > 50,
     "BINARY[5] (message/rfc822): its body as is", unt)
unt, r = fetch("1 (BINARY.PEEK[9] BINARY.SIZE[9] BINARY.PEEK[2.3])")
t.ok(" OK " in r and item(unt, "BINARY[9]") == ("", b"NIL") and item(unt, "BINARY.SIZE[9]") == ("", b"0")
     and item(unt, "BINARY[2.3]") == ("", b"NIL"), "parts that are not there: NIL, size 0", unt)
unt, r = fetch("2 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1]<4.4>)")
t.ok(item(unt, "BINARY[1]") == ("{", b"one\ntwo\n") and item(unt, "BINARY.SIZE[1]")[1] == b"8"
     and item(unt, "BINARY[1]<4>")[1] == b"two\n", "a single-part message: BINARY[1] its decoded body", unt)
unt, r = fetch("3 (BINARY.PEEK[1] BINARY.SIZE[1])")
t.ok(item(unt, "BINARY[1]")[1] == b"no MIME here\r\n" and item(unt, "BINARY.SIZE[1]")[1] == b"14", "no MIME: the body as is", unt)

# \Seen
unt, r = fetch("1 (FLAGS)")
t.ok(b"\\Seen" not in b"".join(unt), "BINARY.PEEK and BINARY.SIZE left \\Seen alone", unt)
unt, r = fetch("1 (BINARY[2])")
t.ok(b"\\Seen" in b"".join(unt) and item(unt, "BINARY[2]")[1] == BLOB, "BINARY[2] sets \\Seen (told in the same response)", unt)

# bad syntax
for q, what in (("1 (BINARY[1.TEXT])", "TEXT"), ("1 (BINARY[HEADER])", "HEADER"), ("1 (BINARY[1.MIME])", "MIME"),
                ("1 (BINARY[0])", "part 0"), ("1 (BINARY.SIZE[1]<0.5>)", "a partial on BINARY.SIZE"),
                ("1 (BINARY)", "no section"), ("1 (BINARY.PEEK[1)", "no ]"), ("1 (BINARY[1.])", "a trailing dot"),
                ("1 (BINARY[1]<5>)", "a partial without length")):
    unt, r = fetch(q)
    t.ok(r.split()[1] == "BAD" and not unt, "FETCH %s: BAD (%s)" % (q, what), (unt, r))

# APPEND with literal8
NEW = (b"Subject: bin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
       b"--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
       b"--q\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
       b"\x00\x01\xff\r\n\x00zz\r\n--q--\r\n")
c.send(b"a1 APPEND INBOX ~{%d}\r\n" % len(NEW))
ln = c.line()
t.ok(ln.startswith(b"+"), "APPEND ~{n}: the continuation request", ln)
c.send(NEW + b"\r\n")
unt, r = c.until("a1")
t.ok(" OK [APPENDUID " in r, "APPEND of a literal8 with NUL octets: OK (RFC 3516 4.4)", (unt, r))
c.send(b"a2 APPEND INBOX (\\Seen) ~{%d+}\r\n" % len(NEW) + NEW + b"\r\n")
unt, r = c.until("a2")
t.ok(" OK [APPENDUID " in r, "APPEND of a non-synchronising literal8 ~{n+}", (unt, r))
c.cmd("NOOP")
unt, r = fetch("5:6 (BINARY.PEEK[2] BINARY.SIZE[2] RFC822.SIZE)")
k, v = item(unt[:1], "BINARY[2]")
t.ok(k == "~" and v == b"\x00\x01\xff\r\n\x00zz" and item(unt[:1], "BINARY.SIZE[2]")[1] == b"8", "its binary part back as sent, a literal8", unt)
t.is_(item(unt[1:], "BINARY[2]")[1], b"\x00\x01\xff\r\n\x00zz", "the second too")
unt, r = fetch("5 (BODY.PEEK[] BODY.PEEK[2.MIME] BODY.PEEK[1] RFC822.SIZE)")
k, body = item(unt, "BODY[]")
t.ok(k == "{" and b"\x00" not in body and item(unt, "BODY[2.MIME]")[1] ==
     b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
     and item(unt, "BODY[1]")[1] == b"hi", "its binary part stored in base64, the rest as sent", unt)
t.is_(item(unt, "RFC822.SIZE")[1], str(len(body)).encode(), "RFC822.SIZE: what is stored, as sent back")

# imaptest's append-binary: a binary part with a NUL, a bare LF, CRLF, a
# bare LF; BODY[1] must not carry the NUL (neither a literal nor a
# literal8 may, RFC 3516 4.3), BINARY[1] must give the octets back
def append8(msg, tag="b", sync=True, flags=""):
    """APPEND msg as a literal8: (reply, its UID or None)."""
    if sync:
        c.send(b"%s APPEND INBOX %s~{%d}\r\n" % (tag.encode(), flags.encode(), len(msg)))
        ln = c.line()
        if not ln.startswith(b"+"):
            return ln.decode(errors="replace"), None
        c.send(msg + b"\r\n")
    else:
        c.send(b"%s APPEND INBOX %s~{%d+}\r\n" % (tag.encode(), flags.encode(), len(msg)) + msg + b"\r\n")
    unt, r = c.until(tag)
    m = re.search(r"\[APPENDUID \d+ (\d+)\]", r)
    return r, int(m.group(1)) if m else None


def ufetch(uid, what):
    return fetch("%d %s" % (uid, what), cmd="UID FETCH")


HDR_IMAPTEST = (b"From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nMime-Version: 1.0\r\n"
                b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n")
RAW7 = b"\x00-\xe4\n\r\n\n"
r, u = append8(HDR_IMAPTEST + RAW7)
t.ok(u is not None, "imaptest append-binary: APPEND OK", r)
unt, r = ufetch(u, "(BODY.PEEK[1] BODY.PEEK[] BODY.PEEK[HEADER] BODYSTRUCTURE)")
k, v = item(unt, "BODY[1]")
t.ok(k == "{" and v not in (RAW7, RAW7.replace(b"\n", b"\r\n"), b"\x00-\xe4\r\n\r\n\r\n") and b"\x00" not in v,
     "BODY[1]: no NUL, in none of the forms imaptest forbids", unt)
t.is_(base64.b64decode(v), RAW7, "BODY[1] is the part in base64")
k, v = item(unt, "BODY[]")
t.ok(k == "{" and b"\x00" not in v, "BODY[]: a literal without NUL", unt)
t.is_(item(unt, "BODY[HEADER]")[1], HDR_IMAPTEST.replace(b"Transfer-Encoding: binary", b"Transfer-Encoding: base64"),
      "the header as sent but for the Content-Transfer-Encoding")
t.ok(b'"base64" 14 NIL' in unt[0], "BODYSTRUCTURE: base64, 12 characters and a line end", unt)
unt, r = ufetch(u, "(BINARY.SIZE[1] BINARY.PEEK[1])")
t.ok(item(unt, "BINARY.SIZE[1]")[1] == b"7" and item(unt, "BINARY[1]") == ("~", RAW7),
     "BINARY.SIZE[1] 7, BINARY[1] the 7 octets appended, a literal8 (imaptest's reply)", unt)
unt, r = ufetch(u, "(BINARY.PEEK[1]<3.3> BINARY.PEEK[]<0.4>)")
t.ok(item(unt, "BINARY[1]<3>")[1] == RAW7[3:6] and item(unt, "BINARY[]<0>")[1] == b"From",
     "a partial of it counts the octets appended", unt)

# which parts: binary ones (named, or 7bit/8bit with a NUL, a bare CR, a
# bare LF); the others, and every octet around them, as sent
BLOBS = [b"cr\ronly", b"lf\nonly", b"nul\x00", b"8bit \xe9t\xe9\r\nline two", b"plain\r\ntext"]
MULTI = (b"Subject: which\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"b b\"\r\n\r\npreamble\r\n"
         b"--b b\r\nContent-Type: text/plain\r\n\r\n" + BLOBS[0] + b"\r\n"
         b"--b b\r\nContent-Type: application/x-a\r\nContent-Transfer-Encoding: 8bit\r\nX-Keep: 1\r\n\r\n" + BLOBS[1] + b"\r\n"
         b"--b b\r\ncontent-transfer-encoding:\r\n  7BIT\r\nContent-Type: application/x-b\r\n\r\n" + BLOBS[2] + b"\r\n"
         b"--b b\r\nContent-Type: text/plain; charset=latin1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + BLOBS[3] + b"\r\n"
         b"--b b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(BLOBS[4]) + b"\r\n"
         b"--b b--\r\nepilogue\r\n")
r, u = append8(MULTI, sync=False)
unt, r = ufetch(u, "(BINARY.PEEK[1] BINARY.PEEK[2] BINARY.PEEK[3] BINARY.PEEK[4] BINARY.PEEK[5] BINARY.SIZE[3])")
t.ok(all(item(unt, "BINARY[%d]" % (i + 1))[1] == BLOBS[i] for i in range(5)) and item(unt, "BINARY.SIZE[3]")[1] == b"4",
     "a bare CR, a bare LF, a NUL: each part given back exactly", unt)
unt, r = ufetch(u, "(BODY.PEEK[1.MIME] BODY.PEEK[2.MIME] BODY.PEEK[3.MIME] BODY.PEEK[4] BODY.PEEK[4.MIME] BODY.PEEK[5] BODY.PEEK[TEXT])")
t.is_(item(unt, "BODY[1.MIME]")[1], b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n",
      "no Content-Transfer-Encoding: one added at the end of the part's header")
t.is_(item(unt, "BODY[2.MIME]")[1], b"Content-Type: application/x-a\r\nContent-Transfer-Encoding: base64\r\nX-Keep: 1\r\n\r\n",
      "8bit: the value changed in place, the other fields kept")
t.is_(item(unt, "BODY[3.MIME]")[1], b"content-transfer-encoding: base64\r\nContent-Type: application/x-b\r\n\r\n",
      "a folded 7BIT value: replaced whole, the name as written")
t.ok(item(unt, "BODY[4]")[1] == BLOBS[3] and item(unt, "BODY[4.MIME]")[1].endswith(b"8bit\r\n\r\n"),
     "8bit text with CRLF line ends only: kept as sent", unt)
t.is_(item(unt, "BODY[5]")[1], base64.b64encode(BLOBS[4]), "a base64 part: kept as sent")
k, v = item(unt, "BODY[TEXT]")
t.ok(v.startswith(b"preamble\r\n--b b\r\n") and v.endswith(b"--b b--\r\nepilogue\r\n") and b"\x00" not in v
     and v.count(b"--b b") == 6, "preamble, delimiters, epilogue as sent", v)

# a message that is no MIME (RFC 2045 4: no MIME-Version, no
# Content-Type) gets MIME-Version with its new field; an enclosed one too
PLAIN = b"Subject: no mime\r\n\r\nzero \x00 and a bare\nLF\r\n"
r, u = append8(PLAIN)
unt, r = ufetch(u, "(BODY.PEEK[HEADER] BINARY.PEEK[1] BINARY.SIZE[1])")
t.ok(item(unt, "BODY[HEADER]")[1] == b"Subject: no mime\r\nContent-Transfer-Encoding: base64\r\nMIME-Version: 1.0\r\n\r\n"
     and item(unt, "BINARY[1]")[1] == PLAIN[20:] and item(unt, "BINARY.SIZE[1]")[1] == str(len(PLAIN) - 20).encode(),
     "no MIME: MIME-Version added, the body in base64 to its last CRLF", unt)
INNER = b"Subject: inner\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\r"
WRAP = (b"Subject: wrap\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n"
        b"--w\r\nContent-Type: message/rfc822\r\n\r\n" + INNER + b"\r\n--w--\r\n")
r, u = append8(WRAP)
unt, r = ufetch(u, "(BINARY.PEEK[1.1] BODY.PEEK[1.HEADER] BODY.PEEK[1])")
t.ok(item(unt, "BINARY[1.1]")[1] == b"\x00\x01\r" and item(unt, "BODY[1.HEADER]")[1] ==
     b"Subject: inner\r\nContent-Transfer-Encoding: base64\r\nMIME-Version: 1.0\r\n\r\n" and b"\x00" not in item(unt, "BODY[1]")[1],
     "inside a message/rfc822: the enclosed message's body in base64, MIME-Version added", unt)
TEXTONLY = b"Subject: text\r\nContent-Type: text/plain\r\n\r\nline\r\n\r\nlast\r\n"
r, u = append8(TEXTONLY)
unt, r = ufetch(u, "(BODY.PEEK[] RFC822.SIZE)")
t.ok(item(unt, "BODY[]")[1] == TEXTONLY and item(unt, "RFC822.SIZE")[1] == str(len(TEXTONLY)).encode(),
     "a literal8 with no binary part: stored as sent", unt)

# edges: no header at all; a multipart that says binary (left, as in
# Dovecot: only leaves are converted), its part converted; nothing
r, u = append8(b"\r\n\r\n\x00")
unt, r = ufetch(u, "(BINARY.PEEK[1] BODY.PEEK[HEADER])")
t.ok(item(unt, "BINARY[1]")[1] == b"\r\n\x00" and item(unt, "BODY[HEADER]")[1] ==
     b"Content-Transfer-Encoding: base64\r\nMIME-Version: 1.0\r\n\r\n", "an empty header: the fields added before its empty line", unt)
MPBIN = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\nContent-Transfer-Encoding: binary\r\n\r\n"
         b"--x\r\n\r\n\x00\r\n--x--\r\n")
r, u = append8(MPBIN)
unt, r = ufetch(u, "(BINARY.PEEK[1] BODY.PEEK[HEADER] BODY.PEEK[1.MIME])")
t.ok(item(unt, "BINARY[1]")[1] == b"\x00" and item(unt, "BODY[HEADER]")[1] == MPBIN[:MPBIN.index(b"--x")]
     and item(unt, "BODY[1.MIME]")[1] == b"Content-Transfer-Encoding: base64\r\n\r\n", "a multipart said binary: kept, its leaf converted", unt)
r, u = append8(b"")
t.ok(r.startswith("b NO [CANNOT]"), "an empty literal8: NO [CANNOT]", r)

# a large binary part, streamed (more than the write buffer, many lines)
rnd = random.Random(3516)
BIG = bytes(rnd.getrandbits(8) for _ in range(1 << 21))
while b"\n--zz" in BIG:
    BIG = BIG.replace(b"\n--zz", b"\n--zy")
BIGMSG = (b"Subject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
          b"Content-Type: application/octet-stream\r\n\r\n" + BIG + b"\r\n--zz--\r\n")
r, u = append8(BIGMSG)
unt, r = ufetch(u, "(BINARY.SIZE[1] BINARY.PEEK[1] RFC822.SIZE)")
t.ok(item(unt, "BINARY.SIZE[1]")[1] == str(len(BIG)).encode() and item(unt, "BINARY[1]")[1] == BIG,
     "a 2 MiB binary part: back exactly", (r, [x[:200] for x in unt]))

# REPLACE (RFC 8508) and MULTIAPPEND (RFC 3502) share the spooling
r, u = append8(TEXTONLY, tag="r0")
c.send(b"r1 UID REPLACE %d INBOX ~{%d}\r\n" % (u, len(HDR_IMAPTEST + RAW7)))
ln = c.line()
c.send(HDR_IMAPTEST + RAW7 + b"\r\n")
unt, r = c.until("r1")
m = re.search(r"APPENDUID \d+ (\d+)", " ".join(unt))
t.ok(r.startswith("r1 OK") and m, "UID REPLACE with a literal8", (unt, r))
unt, r = ufetch(int(m.group(1)), "(BINARY.PEEK[1] BODY.PEEK[1])")
t.ok(item(unt, "BINARY[1]") == ("~", RAW7) and b"\x00" not in item(unt, "BODY[1]")[1], "its binary part in base64 too", unt)
c.send(b"m1 APPEND INBOX ~{%d+}\r\n" % len(PLAIN) + PLAIN + b" (\\Seen) ~{%d+}\r\n" % len(MULTI) + MULTI + b"\r\n")
unt, r = c.until("m1")
m = re.search(r"APPENDUID \d+ (\d+):(\d+)", r)
t.ok(m, "MULTIAPPEND of two literal8", r)
unt, r = fetch("%s:%s (BINARY.PEEK[1] BINARY.PEEK[2])" % (m.group(1), m.group(2)), cmd="UID FETCH")
t.ok(item(unt[:1], "BINARY[1]")[1] == PLAIN[20:] and item(unt[1:], "BINARY[2]")[1] == BLOBS[1], "each stored as one alone", unt)
big = b"Subject: big\r\n\r\n" + b"\x00" * 3000000 + b"\r\n"
c.send(b"a3 APPEND INBOX ~{%d}\r\n" % len(big))
unt, r = c.until("a3")
t.ok(r.startswith("a3 NO [TOOBIG]"), "a literal8 over APPENDLIMIT: NO [TOOBIG] before it is sent", r)
c.send(b"a4 SEARCH SUBJECT ~{2}\r\n")
unt, r = c.until("a4")
t.ok(r.startswith("a4 BAD"), "literal8 outside APPEND: BAD", r)
unt, r = c.cmd("NOOP")
t.ok(" OK " in r, "the session goes on", r)
c.cmd("LOGOUT")
c.close()
code, out = inst.check()
t.is_(code, 0, "mailbox-check finds the index consistent") or t.diag(out)

# durability: the file made of a literal8 is fsynced before it goes into
# cur/, and that before the OK (strace, when there is one)
if os.path.exists("/usr/bin/strace"):
    inst2 = ternlib.ImapInstance(t)
    logdir = tempfile.mkdtemp(prefix="tern-5067-")
    os.chmod(logdir, 0o1777)   # imap-serve runs as the mail user
    log = os.path.join(logdir, "strace.log")
    port2 = inst2.imap(chain=[os.path.join(ternlib.BUILD, "pwcheck"), "/usr/bin/strace", "-f", "-qq", "-o", log,
                              "-e", "trace=openat,fsync,fdatasync,linkat,renameat,renameat2,write",
                              os.path.join(ternlib.BUILD, "imap-serve")])
    inst2.maildir()
    c = ternlib.ImapConn(port2)
    c.cmd("LOGIN demo@example.test demo")
    c.send(b"d1 APPEND INBOX ~{%d+}\r\n" % len(MULTI) + MULTI + b"\r\n")
    unt, r = c.until("d1")
    c.cmd("LOGOUT")
    c.close()
    with open(log, errors="replace") as f:
        tr = f.read().splitlines()
    shutil.rmtree(logdir, ignore_errors=True)
    fd = fsync = link = ok = None
    for i, ln in enumerate(tr):
        m = re.search(r'openat\(\d+, "(tern-append\.\d+\.\d+)", .*O_CREAT.* = (\d+)', ln)
        if m:
            name, fd = m.group(1), m.group(2)
        if fd and fsync is None and re.search(r"fsync\(%s\) += 0" % fd, ln):
            fsync = i
        if fd and re.search(r'linkat\(\d+, "%s"' % re.escape(name), ln):
            link = i
        if "d1 OK" in ln:
            ok = i
    t.ok(r.startswith("d1 OK") and None not in (fsync, link, ok) and fsync < link < ok,
         "the literal8's file: fsync, then into cur/, then the OK", (r, fsync, link, ok))
else:
    t.skip("no strace")
t.done()
