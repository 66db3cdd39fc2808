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
# - APPEND of a literal8 (RFC 3516 4.4), synchronising or not, a NUL in
#   it: stored as sent, BINARY gives the octets back; over APPENDLIMIT NO
#   [TOOBIG]; literal8 anywhere else BAD;
# - sections BINARY does not have (HEADER, TEXT, MIME, 0), a partial on
#   BINARY.SIZE, no section: BAD.

import base64
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap(env={"IMAP_APPENDLIMIT": "20000"})
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


def fetch(what, tag="f"):
    """Raw FETCH: (untagged lines as bytes, tagged line as str)."""
    c.send(("%s FETCH %s\r\n" % (tag, what)).encode())
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
t.is_(item(unt[:1], "RFC822.SIZE")[1], str(len(NEW)).encode(), "RFC822.SIZE as appended")
t.is_(item(unt[1:], "BINARY[2]")[1], b"\x00\x01\xff\r\n\x00zz", "the second too")
big = b"Subject: big\r\n\r\n" + b"\x00" * 30000 + b"\r\n"
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
t.done()
