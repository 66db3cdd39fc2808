#!/usr/bin/python3
# imap-serve: FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8, 7.4.2) and
# APPEND (6.3.11, RFC 3502 MULTIAPPEND, RFC 4315 APPENDUID):
# - every data item: FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY,
#   BODYSTRUCTURE (extension data), BODY[section]<partial>, BODY.PEEK,
#   RFC822, RFC822.HEADER, RFC822.TEXT, UID, MODSEQ (RFC 7162), and the
#   macros ALL, FAST, FULL;
# - sizes as sent (CRLF) for LF files, a CRLF file, no final newline, an
#   empty body; sections HEADER, HEADER.FIELDS(.NOT), TEXT, MIME, part
#   numbers into nested multiparts and message/rfc822, partial ranges
#   (past the end too);
# - BODYSTRUCTURE of the samples in t/mime/ against strings derived from
#   RFC 3501 7.4.2 and RFC 2045/2046 by hand and compared with Dovecot
#   2.3 (where they differ the RFC decides, as noted beside each);
# - \Seen set by BODY[] and RFC822 (with FLAGS in the reply), not by
#   BODY.PEEK, RFC822.HEADER or in an EXAMINEd folder;
# - APPEND then FETCH byte for byte, flags and date, APPENDUID,
#   MULTIAPPEND all or none, TRYCREATE, EXISTS in the selected folder;
# - a message file renamed by another program; errors (BAD for message
#   numbers not in the mailbox, OK for missing UIDs).

import calendar
import imaplib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

HERE = os.path.dirname(os.path.abspath(__file__))
t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
USER, PASS = "demo@example.test", "demo"


def sample(name):
    with open(os.path.join(HERE, "mime", name), "rb") as f:
        return f.read()


def wire(m):
    """A stored message as IMAP sends it: each LF not after a CR becomes CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", m)


# ---- a small parser of IMAP responses (RFC 3501 9) ----

class Parser:
    """Values: None (NIL), int, bytes (quoted or literal), str (atoms,
    flags), list. quoted8 records a quoted string holding an 8-bit octet,
    which RFC 3501 9 forbids (quoted strings are 7-bit; 8-bit needs a literal)."""

    def __init__(self, s):
        self.s, self.i, self.quoted8 = s, 0, False

    def sp(self):
        while self.s[self.i:self.i + 1] == b" ":
            self.i += 1

    def value(self):
        s = self.s
        c = s[self.i:self.i + 1]
        if c == b"(":
            self.i += 1
            out = []
            while True:
                self.sp()
                if self.i >= len(s):
                    raise ValueError("unclosed list")
                if s[self.i:self.i + 1] == b")":
                    self.i += 1
                    return out
                out.append(self.value())
        if c == b'"':
            j, buf = self.i + 1, b""
            while s[j:j + 1] != b'"':
                if j >= len(s):
                    raise ValueError("unclosed quoted string")
                if s[j:j + 1] == b"\\":
                    j += 1
                buf += s[j:j + 1]
                j += 1
            if any(b > 127 for b in buf):
                self.quoted8 = True
            self.i = j + 1
            return buf
        if c == b"{":
            m = re.match(rb"\{(\d+)\}\r\n", s[self.i:])
            if not m:
                raise ValueError("bad literal at %d" % self.i)
            st = self.i + m.end()
            n = int(m.group(1))
            self.i = st + n
            return s[st:st + n]
        m = re.match(rb"[^ ()]+", s[self.i:])
        if not m:
            raise ValueError("nothing at %d: %r" % (self.i, s[self.i:self.i + 20]))
        tok = m.group(0)
        self.i += len(tok)
        if tok.upper() == b"NIL":
            return None
        if tok.isdigit():
            return int(tok)
        return tok.decode()

    def name(self):
        """A msg-att name: BODY[HEADER.FIELDS (A B)]<0> as one upper-cased word."""
        m = re.match(rb"[A-Za-z0-9.]+(\[[^\]]*\](<\d+>)?)?", self.s[self.i:])
        if not m or not m.group(0):
            raise ValueError("no name at %d" % self.i)
        self.i += len(m.group(0))
        return m.group(0).decode().upper()


def ivalue(text):
    """An expected value written as IMAP text (str or bytes)."""
    return Parser(text.encode() if isinstance(text, str) else text).value()


def parse_fetch(line):
    """b'* N FETCH (...)' -> (N, {NAME: value}, quoted8)."""
    m = re.match(rb"\* (\d+) FETCH \(", line)
    p = Parser(line)
    p.i = m.end()
    out = {}
    while True:
        p.sp()
        if p.s[p.i:p.i + 1] == b")":
            break
        k = p.name()
        p.sp()
        out[k] = p.value()
    return int(m.group(1)), out, p.quoted8


class Conn(ternlib.ImapConn):
    """ImapConn that keeps the raw bytes of untagged FETCH lines."""

    def fetch(self, args, uid=False):
        """(list of (msn, items, quoted8), tagged) for FETCH args."""
        self.n += 1
        tag = "f%d" % self.n
        self.send("%s %sFETCH %s\r\n" % (tag, "UID " if uid else "", args))
        out = []
        while True:
            ln = self.line()
            if ln.startswith(tag.encode() + b" "):
                return out, ln.decode(errors="replace")
            if re.match(rb"\* \d+ FETCH ", ln):
                out.append(parse_fetch(ln))

    def one(self, msn, items):
        """The items of message msn from FETCH msn items (merged), the tagged reply."""
        res, tagged = self.fetch("%d %s" % (msn, items))
        got = {}
        for n, d, _ in res:
            if n == msn:
                got.update(d)
        return got, tagged


def login(p=None):
    c = Conn(p or port)
    _, r = c.cmd("LOGIN %s %s" % (USER, PASS))
    if not r.startswith("t1 OK"):
        raise RuntimeError("login: " + r)
    return c


# ---- the samples (t/mime/), delivered as files into new/ ----

ORDER = ["plain.eml", "crlf.eml", "nonl.eml", "empty-body.eml", "nested.eml", "encodings.eml",
         "rfc2231.eml", "quoted-boundary.eml", "no-close.eml", "no-ct.eml", "digest.eml",
         "8bit-headers.eml", "empty-multipart.eml", "nested-crlf"]
MSGS = {n: sample(n) for n in ORDER[:-1]}
MSGS["nested-crlf"] = wire(MSGS["nested.eml"])   # the same message with CRLF line ends
MSN = {n: i + 1 for i, n in enumerate(ORDER)}
BASE_T = 1796000000       # the INTERNALDATE of sample i is BASE_T + 3600 * i (the file's mtime)
FILES = {}
for i, n in enumerate(ORDER):
    p = inst.put(MSGS[n], "%d.M%dP1Q1.host" % (BASE_T + i, i))
    os.utime(p, (BASE_T + 3600 * i, BASE_T + 3600 * i))
    FILES[n] = p



def file_path(n):
    """Where sample n's file is now (new/NAME or cur/NAME:2,FLAGS), or None."""
    base = os.path.basename(FILES[n])
    for sub in ("new", "cur"):
        for f in os.listdir(os.path.join(MD, sub)):
            if f == base or f.startswith(base + ":"):
                return os.path.join(MD, sub, f)
    return None


def file_flags(n):
    """The Maildir flags in the file's name ("" for none), or None when it is gone."""
    p = file_path(n)
    return None if p is None else (p.split(":2,", 1)[1] if ":2," in p else "")


c = login()
unt, r = c.cmd("SELECT INBOX")
t.ok(r.startswith("t2 OK") and "* %d EXISTS" % len(ORDER) in unt, "SELECT INBOX: the %d samples" % len(ORDER), (unt, r))

# -- RFC822.SIZE and BODY[]: sizes as sent (RFC 3501 2.3.4: CRLF) --
res, r = c.fetch("1:* (RFC822.SIZE BODY.PEEK[])")
got = {n: d for n, d, _ in res}
t.ok(r.endswith("OK Fetch completed") and len(got) == len(ORDER), "FETCH 1:* (RFC822.SIZE BODY.PEEK[]): one reply per message", r)
for n in ORDER:
    d = got.get(MSN[n], {})
    w = wire(MSGS[n])
    t.ok(d.get("BODY[]") == w and d.get("RFC822.SIZE") == len(w),
         "%s: BODY[] is the file with CRLF line ends, RFC822.SIZE its length (%d)" % (n, len(w)),
         (d.get("RFC822.SIZE"), d.get("BODY[]"), w))
t.is_(got.get(MSN["crlf.eml"], {}).get("BODY[]"), MSGS["crlf.eml"], "a file stored with CRLF is sent as it is, no CR doubled")
t.ok(got.get(MSN["nonl.eml"], {}).get("BODY[]", b"").endswith(b"\r\nlast line without a newline")
     and got.get(MSN["nonl.eml"], {}).get("RFC822.SIZE") == len(MSGS["nonl.eml"]) + MSGS["nonl.eml"].count(b"\n"),
     "no final newline: nothing added at the end", got.get(MSN["nonl.eml"]))
t.is_(got.get(MSN["empty-body.eml"], {}).get("BODY[]"), b"From: empty@example.org\r\nSubject: an empty body\r\n\r\n",
      "an empty body: the header and the empty line, nothing more")

# -- FLAGS, INTERNALDATE, UID, MODSEQ --
MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def idate(b):
    """INTERNALDATE (RFC 3501 9 date-time) -> seconds since the epoch, or None."""
    m = re.match(r'^([ \d]\d)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$', b.decode() if isinstance(b, bytes) else "")
    if not m or m.group(2) not in MON:
        return None
    tm = calendar.timegm((int(m.group(3)), MON.index(m.group(2)) + 1, int(m.group(1)), int(m.group(4)), int(m.group(5)), int(m.group(6))))
    off = (int(m.group(8)) * 60 + int(m.group(9))) * 60
    return tm - off if m.group(7) == "+" else tm + off


res, r = c.fetch("1:* (FLAGS INTERNALDATE UID)")
got = {n: d for n, d, _ in res}
t.ok(all(got.get(MSN[n], {}).get("FLAGS") == ["\\Recent"] for n in ORDER),
     "FLAGS of new messages in the first session: (\\Recent) only", got)
t.ok(all(idate(got.get(MSN[n], {}).get("INTERNALDATE", b"")) == BASE_T + 3600 * i for i, n in enumerate(ORDER)),
     "INTERNALDATE of a delivered file is its mtime, as a date-time string (RFC 3501 9)",
     [(got.get(MSN[n], {}).get("INTERNALDATE"), BASE_T + 3600 * i) for i, n in enumerate(ORDER)])
uids = [got.get(MSN[n], {}).get("UID") for n in ORDER]
t.ok(all(isinstance(u, int) for u in uids) and uids == sorted(uids) and len(set(uids)) == len(uids),
     "UID: ascending with the message numbers (RFC 3501 2.3.1.1)", uids)
d, r = c.one(1, "MODSEQ")
ms1 = d.get("MODSEQ", [None])[0] if isinstance(d.get("MODSEQ"), list) else None
t.ok(isinstance(ms1, int) and ms1 > 0, "FETCH 1 MODSEQ: (n), n > 0 (RFC 7162 3.1.4.1)", (d, r))

# -- the macros (RFC 3501 6.4.5) --
for macro, keys in (("ALL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}),
                    ("FAST", {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}),
                    ("FULL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"})):
    d, r = c.one(5, macro)
    want, _ = c.one(5, "(" + " ".join(sorted(keys)) + ")")
    t.ok(set(d) - {"MODSEQ"} == keys and all(d[k] == want.get(k) for k in keys),
         "FETCH 5 %s: exactly %s" % (macro, " ".join(sorted(keys))), (d, want))

# ---- ENVELOPE (RFC 3501 7.4.2) ----
# date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to,
# message-id; sender and reply-to default to from; a group is
# (NIL NIL "name" NIL) ... (NIL NIL NIL NIL); display names unquoted;
# the folded Subject unfolded (RFC 5322 2.2.3). Dovecot 2.3 agrees
# (it sends the folded subject as a literal: the same string).
ENV = {
    "plain.eml": '("Mon, 7 Dec 2026 10:00:00 +0100" "A plain message folded onto two lines"'
                 ' (("Alice Q. Example" NIL "alice" "example.org")) ((NIL NIL "list-bounce" "example.org"))'
                 ' (("Replies" NIL "replies" "example.org"))'
                 ' ((NIL NIL "demo" "example.test")("Bob, Jr." NIL "bob" "example.net"))'
                 ' ((NIL NIL "Friends" NIL)(NIL NIL "carol" "example.net")("Dave" NIL "dave" "example.net")(NIL NIL NIL NIL)(NIL NIL "erin" "example.net"))'
                 ' NIL "<parent.0@example.org>" "<plain.1@example.org>")',
    "nested.eml": '("Tue, 8 Dec 2026 08:30:00 -0500" "nested parts" (("Nested" NIL "nested" "example.org"))'
                  ' (("Nested" NIL "nested" "example.org")) (("Nested" NIL "nested" "example.org"))'
                  ' ((NIL NIL "demo" "example.test")) NIL NIL NIL "<nested.1@example.org>")',
    "empty-body.eml": '(NIL "an empty body" ((NIL NIL "empty" "example.org")) ((NIL NIL "empty" "example.org"))'
                      ' ((NIL NIL "empty" "example.org")) NIL NIL NIL NIL NIL)',
    # raw 8-bit header text goes out as literals; encoded-words are not decoded
    "8bit-headers.eml": '(NIL {17}\r\nGr\u00fc\u00dfe aus K\u00f6ln (({13}\r\nJ\u00f6rg M\u00fcller NIL "joerg" "example.de"))'
                        ' (({13}\r\nJ\u00f6rg M\u00fcller NIL "joerg" "example.de"))'
                        ' (({13}\r\nJ\u00f6rg M\u00fcller NIL "joerg" "example.de"))'
                        ' (("=?ISO-8859-1?Q?Andr=E9?=" NIL "andre" "example.fr")) NIL NIL NIL NIL)',
}
for n, e in ENV.items():
    d, r = c.one(MSN[n], "ENVELOPE")
    t.is_(d.get("ENVELOPE"), ivalue(e.encode()), "ENVELOPE of %s" % n)
res, r = c.fetch("%d (ENVELOPE BODYSTRUCTURE)" % MSN["8bit-headers.eml"])
t.ok(res and not res[0][2], "8-bit header text is never in a quoted string (RFC 3501 9: literals)", res)

# ---- BODY and BODYSTRUCTURE (RFC 3501 7.4.2) ----
# Non-multipart: type subtype (params) id description encoding size
# [lines for text/*; envelope body lines for message/rfc822], then the
# extension data md5 disposition language location. Multipart: the
# parts, the subtype, then params disposition language location. Sizes
# and lines are of the body as sent (CRLF); the CRLF before a boundary
# belongs to the boundary (RFC 2046 5.1.1), so a part ending "hello"
# is 5 octets and 0 lines; a line count is the number of line ends.
BS = {
    # 8+25+19 octets, 3 lines; no Content-Type: text/plain us-ascii (RFC 2045 5.2)
    "plain.eml": '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 52 3 NIL NIL NIL NIL)',
    "crlf.eml": '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2 NIL NIL NIL NIL)',
    # "first line" CRLF "last line without a newline": 10+2+27, one line end
    "nonl.eml": '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 39 1 NIL NIL NIL NIL)',
    "empty-body.eml": '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)',
    "no-ct.eml": '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1 NIL NIL NIL NIL)',
    # part 3, the message/rfc822: from "From: Inner" to "--inner--" and
    # the line end after it, 341 octets and 17 line ends. RFC 2046 5.1.1
    # would give that CRLF to the "--outer--" after it (339 and 16); tern
    # reads it as Dovecot 2.3 does: a delimiter takes the line end of a
    # body line only, a close delimiter line keeps its own, so that an
    # enclosed message (or multipart) saved from BODY[3] ends with a line
    # end and the sizes agree with the reference server's.
    "nested.eml": '((("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 30 1 NIL NIL NIL NIL)'
                  '("text" "html" ("charset" "utf-8") NIL NIL "7bit" 18 0 NIL NIL NIL NIL) "alternative" ("boundary" "alt") NIL NIL NIL)'
                  '("application" "octet-stream" ("name" "data.bin") "<data@example.org>" "some bytes" "base64" 44'
                  ' "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename" "data.bin" "size" "32")) ("en" "de") "http://example.org/data.bin")'
                  '("message" "rfc822" NIL NIL NIL "7bit" 341 ("Mon, 7 Dec 2026 23:59:59 +0000" "inner message"'
                  ' (("Inner" NIL "inner" "example.net")) (("Inner" NIL "inner" "example.net")) (("Inner" NIL "inner" "example.net"))'
                  ' (("Nested" NIL "nested" "example.org")) NIL NIL NIL NIL)'
                  ' (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL)'
                  '("image" "png" NIL NIL NIL "base64" 12 NIL NIL NIL NIL) "mixed" ("boundary" "inner") NIL NIL NIL) 17 NIL NIL NIL NIL)'
                  ' "mixed" ("boundary" "outer") NIL NIL NIL)',
    # types, parameters and encodings as the message spells them; a
    # comment in a parameter list skipped (RFC 2045 5.1, RFC 822 3.4.3);
    # a quoted CTE is not a mechanism (a token, RFC 2045 6.1): 7bit; an
    # unknown CTE as given; no Content-Type, and an invalid one, are
    # text/plain us-ascii (RFC 2045 5.2). Dovecot 2.3 agrees but for the
    # invalid "garbage", which it sends as ("garbage" "" ...), an empty
    # subtype; RFC 2045 5.2 recommends the default: text/plain.
    "encodings.eml": '(("TEXT" "PLAIN" ("CHARSET" "ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 9 0 NIL NIL NIL NIL)'
                     '("text" "plain" ("charset" "utf-8" "format" "flowed") NIL NIL "7bit" 12 0 NIL NIL NIL NIL)'
                     '("application" "x-thing" NIL NIL NIL "x-uuencode" 19 NIL NIL NIL NIL)'
                     '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 0 NIL ("inline" NIL) NIL NIL)'
                     '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 23 0 NIL NIL NIL NIL)'
                     ' "Mixed" ("BOUNDARY" "b1") NIL NIL NIL)',
    # RFC 2231: continuations joined; an encoded value kept encoded under
    # "name*" (RFC 3501 says nothing; Dovecot 2.3 does this, and it keeps
    # the strings 7-bit)
    "rfc2231.eml": '(("application" "pdf" ("name" "long file name.pdf") NIL NIL "7bit" 8 NIL'
                   ' ("attachment" ("filename*" "utf-8\'\'%E2%82%AC%20rates%20and%20more.pdf")) NIL NIL)'
                   '("text" "plain" ("charset" "us-ascii" "title*" "iso-8859-1\'de\'F%FCr%20Sie") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)'
                   ' "mixed" ("boundary" "r") NIL NIL NIL)',
    # a quoted boundary with a space, colon, slash and parentheses; a
    # delimiter line with transport padding (RFC 2046 5.1.1)
    "quoted-boundary.eml": '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)'
                           '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)'
                           ' "alternative" ("boundary" "=_x y:z/(1)") NIL NIL NIL)',
    # no close delimiter: the last part runs to the end (its final CRLF included)
    "no-close.eml": '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)'
                    '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 22 1 NIL NIL NIL NIL) "mixed" ("boundary" "nc") NIL NIL NIL)',
    # in a digest a part without Content-Type is message/rfc822 (RFC 2046 5.1.5)
    "digest.eml": '(("message" "rfc822" NIL NIL NIL "7bit" 49 (NIL "digest one" ((NIL NIL "one" "example.org"))'
                  ' ((NIL NIL "one" "example.org")) ((NIL NIL "one" "example.org")) NIL NIL NIL NIL NIL)'
                  ' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)'
                  '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 15 0 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL)',
    # an 8-bit parameter value: a literal
    "8bit-headers.eml": '("text" "plain" ("charset" "utf-8" "name" {11}\r\nB\u00fccher.txt) NIL NIL "8bit" 9 1 NIL NIL NIL NIL)',
    # no boundary in the body: RFC 3501 9 needs 1*body in a multipart;
    # as Dovecot 2.3, one empty text/plain part
    "empty-multipart.eml": '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
                           ' "mixed" ("boundary" "nothing") NIL NIL NIL)',
}
BS["nested-crlf"] = BS["nested.eml"]   # the same with CRLF in the file: the same structure


def strip_ext(v, top=True):
    """BODY from BODYSTRUCTURE: the extension data dropped (RFC 3501 7.4.2)."""
    if not isinstance(v, list):
        return v
    if v and isinstance(v[0], list):            # multipart: parts, subtype, ext...
        k = 0
        while isinstance(v[k], list):
            k += 1
        return [strip_ext(x) for x in v[:k]] + [v[k]]
    # basic fields: 7; text: + lines; message/rfc822: + envelope body lines
    typ = (v[0] or b"").lower(), (v[1] or b"").lower()
    n = 7
    if typ[0] == b"text":
        n = 8
    elif typ == (b"message", b"rfc822"):
        return v[:7] + [v[7], strip_ext(v[8]), v[9]]
    return v[:n]


res, r = c.fetch("1:* (BODYSTRUCTURE BODY)")
got = {n: (d, q8) for n, d, q8 in res}
for n in ORDER:
    d, q8 = got.get(MSN[n], ({}, False))
    want = ivalue(BS[n].encode())
    t.is_(d.get("BODYSTRUCTURE"), want, "BODYSTRUCTURE of %s" % n)
    t.is_(d.get("BODY"), strip_ext(want), "BODY of %s: the same without extension data" % n)
    if n == "8bit-headers.eml":
        t.ok(not q8, "its 8-bit parameter is a literal, not a quoted string (RFC 3501 9)")

# ---- body sections (RFC 3501 6.4.5) ----
P = MSGS["plain.eml"]
PH, PT = P.split(b"\n\n", 1)
PH += b"\n\n"
secs = [("BODY.PEEK[HEADER]", "BODY[HEADER]", wire(PH), "the header, with the empty line after it"),
        ("BODY.PEEK[TEXT]", "BODY[TEXT]", wire(PT), "the body"),
        ("BODY.PEEK[1]", "BODY[1]", wire(PT), "a non-multipart message has a part 1: its body"),
        ("BODY.PEEK[1.MIME]", "BODY[1.MIME]", wire(PH), "1.MIME of a non-multipart message: its header (as Dovecot)"),
        ("BODY.PEEK[HEADER.FIELDS (From Subject)]", "BODY[HEADER.FIELDS (FROM SUBJECT)]",
         b'From: "Alice Q. Example" <alice@example.org>\r\nSubject: A plain message\r\n folded onto two lines\r\n\r\n',
         "HEADER.FIELDS: those fields, in the message's order, folded lines whole, then the empty line"),
        ("BODY.PEEK[HEADER.FIELDS (received)]", "BODY[HEADER.FIELDS (RECEIVED)]",
         b"Received: from mx.example.org by mx.example.test; Mon, 7 Dec 2026 09:00:01 +0000\r\n"
         b"Received: from client.example.org by mx.example.org; Mon, 7 Dec 2026 09:00:00 +0000\r\n\r\n",
         "HEADER.FIELDS: names case-insensitive, every occurrence"),
        ("BODY.PEEK[HEADER.FIELDS (X-Nothing)]", "BODY[HEADER.FIELDS (X-NOTHING)]", b"\r\n",
         "HEADER.FIELDS of a field not there: the empty line alone"),
        ("BODY.PEEK[HEADER.FIELDS.NOT (Return-Path Received From Sender Reply-To To Cc Date Message-ID In-Reply-To)]",
         "BODY[HEADER.FIELDS.NOT (RETURN-PATH RECEIVED FROM SENDER REPLY-TO TO CC DATE MESSAGE-ID IN-REPLY-TO)]",
         b"Subject: A plain message\r\n folded onto two lines\r\nX-Tag: one\r\n\r\n",
         "HEADER.FIELDS.NOT: the other fields, then the empty line"),
        ("BODY.PEEK[HEADER.FIELDS ({7+}\r\nSubject \"x-tag\")]", "BODY[HEADER.FIELDS (SUBJECT X-TAG)]",
         b"Subject: A plain message\r\n folded onto two lines\r\nX-Tag: one\r\n\r\n",
         "HEADER.FIELDS with names as a literal and a quoted string: the reply names them, not the literal's head"),
        ("RFC822.HEADER", "RFC822.HEADER", wire(PH), "RFC822.HEADER: the header"),
        ("BODY.PEEK[TEXT]<6.2>", "BODY[TEXT]<6>", b"\r\n", "partial: the CR the server adds before an LF counts (RFC 3501 6.4.5)"),
        ("BODY.PEEK[TEXT]<7.3>", "BODY[TEXT]<7>", b"\nth", "partial from the LF of a CRLF"),
        ("BODY.PEEK[]<0.10>", "BODY[]<0>", wire(P)[:10], "partial <0.10>: the first 10 octets; the reply names the origin only"),
        ("BODY.PEEK[]<%d.100>" % (len(wire(P)) - 5), "BODY[]<%d>" % (len(wire(P)) - 5), wire(P)[-5:],
         "partial running past the end: what there is"),
        ("BODY.PEEK[]<%d.10>" % len(wire(P)), "BODY[]<%d>" % len(wire(P)), b"", "partial starting at the end: an empty string"),
        ("BODY.PEEK[]<%d.10>" % (len(wire(P)) + 1000), "BODY[]<%d>" % (len(wire(P)) + 1000), b"",
         "partial starting past the end: an empty string"),
        ]
for req, label, want, what in secs:
    d, r = c.one(MSN["plain.eml"], "(%s)" % req)
    t.ok(d.get(label) == want and r.endswith("OK Fetch completed"), "FETCH %s: %s" % (req.replace("\r\n", "\\r\\n"), what), (d, r, want))

unt, r = c.cmd('FETCH %d (BODY.PEEK[HEADER.FIELDS ({7+}\r\nSubject "x-tag")])' % MSN["plain.eml"])
t.ok(unt and "BODY[HEADER.FIELDS (SUBJECT X-TAG)] {" in unt[0], "the reply's section names the fields, not the literal's head", unt)

N = MSGS["nested.eml"]


def between(m, start, end, inclusive=True):
    """The octets of m from start (included) to end (included or not)."""
    i = m.index(start)
    j = m.index(end, i) + (len(end) if inclusive else 0)
    return m[i:j]


NSEC = [
    ("TEXT", between(N, b"This is the preamble.", b"This is the epilogue.\n"), "the body, preamble and epilogue included"),
    ("1", between(N, b"--alt\nContent-Type: text/plain", b"--alt--\n"),
     "1: a multipart part's body, its close delimiter's line end included (as Dovecot 2.3; "
     "see the BODYSTRUCTURE of nested.eml)"),
    ("1.1", b"Caf=C3=A9 au lait\nsecond line", "1.1: a part in a nested multipart, still encoded"),
    ("1.1.MIME", b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n",
     "1.1.MIME: the part's own header and the empty line"),
    ("1.2", b"<p>Caf&eacute;</p>", "1.2"),
    ("2", b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "2: the base64 as it is (FETCH does not decode)"),
    ("2.MIME", between(N, b"Content-Type: application/octet-stream", b"IQ==\n\n"), "2.MIME"),
    ("3", between(N, b"From: Inner", b"--inner--\n"), "3: the enclosed message/rfc822, header and body"),
    ("3.MIME", b"Content-Type: message/rfc822\n\n", "3.MIME: the part's header, not the enclosed message's"),
    ("3.HEADER", between(N, b"From: Inner", b"boundary=inner\n\n"), "3.HEADER: the enclosed message's header"),
    ("3.TEXT", between(N, b"--inner\n", b"--inner--\n"), "3.TEXT: the enclosed message's body"),
    ("3.HEADER.FIELDS (Subject)", b"Subject: inner message\n\n", "3.HEADER.FIELDS"),
    ("3.1", b"inner text", "3.1: the first part of the enclosed multipart"),
    ("3.1.MIME", b"Content-Type: text/plain\n\n", "3.1.MIME"),
    ("3.2", b"iVBORw0KGgo=", "3.2"),
    ("3.2.MIME", b"Content-Type: image/png\nContent-Transfer-Encoding: base64\n\n", "3.2.MIME"),
    ("4", b"", "4: a part that does not exist: an empty string (as Dovecot)"),
    ("1.3", b"", "1.3: nor does this one"),
]
for sec, want, what in NSEC:
    for n in ("nested.eml", "nested-crlf"):
        d, r = c.one(MSN[n], "(BODY.PEEK[%s])" % sec)
        label = "BODY[%s]" % sec.upper()
        t.ok(d.get(label) == wire(want) and r.endswith("OK Fetch completed"),
             "%s BODY[%s]: %s" % (n, sec, what), (d, r, wire(want)))
d, r = c.one(MSN["nested.eml"], "(BODY.PEEK[1.1]<5.7> BODY.PEEK[3]<330.100> BODY.PEEK[3.TEXT]<0.5>)")
t.ok(d.get("BODY[1.1]<5>") == b"3=A9 au" and d.get("BODY[3]<330>") == b"--inner--\r\n" and d.get("BODY[3.TEXT]<0>") == b"--inn",
     "partial ranges of parts: counted from the start of the part", d)
t.is_(c.one(MSN["nested.eml"], "(BODY.PEEK[3.2.TEXT])")[0].get("BODY[3.2.TEXT]"), b"",
      "TEXT of a part that is no message: an empty string (as Dovecot)")

# -- RFC822 and RFC822.TEXT (they set \Seen: on messages we read anyway) --
d, r = c.one(MSN["nested.eml"], "(RFC822.TEXT)")
t.is_(d.get("RFC822.TEXT"), wire(between(N, b"This is the preamble.", b"This is the epilogue.\n")), "RFC822.TEXT: the body")

# ---- \Seen (RFC 3501 6.4.5) ----
QUIET = "the peeks and the others leave \\Seen alone"
for items in ("BODY.PEEK[]", "BODY.PEEK[TEXT]", "RFC822.HEADER", "RFC822.SIZE", "BODYSTRUCTURE", "ENVELOPE", "BODY.PEEK[1]"):
    c.one(MSN["plain.eml"], "(%s)" % items)
d, r = c.one(MSN["plain.eml"], "FLAGS")
t.ok("\\Seen" not in (d.get("FLAGS") or ["?"]), "after BODY.PEEK[], RFC822.HEADER, RFC822.SIZE, BODYSTRUCTURE: not \\Seen", d)
t.ok(file_flags("plain.eml") is not None and "S" not in file_flags("plain.eml"), "nor in the Maildir file's name", file_flags("plain.eml"))
d, r = c.one(MSN["plain.eml"], "(BODY[])")
t.ok(d.get("BODY[]") == wire(P) and "\\Seen" in (d.get("FLAGS") or []),
     "FETCH BODY[]: \\Seen is set and the new FLAGS come with the reply", d)
d, r = c.one(MSN["plain.eml"], "FLAGS")
t.ok("\\Seen" in (d.get("FLAGS") or []), "FLAGS now has \\Seen", d)
t.ok("S" in (file_flags("plain.eml") or "") and file_path("plain.eml").startswith(os.path.join(MD, "cur", "")),
     "and the Maildir file is cur/NAME:2,S (what mutt reads)", file_path("plain.eml"))
d, r = c.one(MSN["crlf.eml"], "RFC822")
t.ok(d.get("RFC822") == MSGS["crlf.eml"] and "\\Seen" in (d.get("FLAGS") or []), "FETCH RFC822: sets \\Seen, FLAGS in the reply", d)
d, r = c.one(MSN["nonl.eml"], "RFC822.TEXT")
t.ok("\\Seen" in (d.get("FLAGS") or []), "FETCH RFC822.TEXT sets \\Seen too (it is BODY[TEXT])", d)
d, r = c.one(MSN["empty-body.eml"], "BODY[HEADER]")
t.ok("\\Seen" in (d.get("FLAGS") or []), "FETCH BODY[HEADER] sets \\Seen (only .PEEK does not)", d)

# EXAMINE: read-only, \Seen is not set (RFC 3501 6.3.2)
e = login()
unt, r = e.cmd("EXAMINE INBOX")
t.ok("READ-ONLY" in r, "EXAMINE INBOX: [READ-ONLY]", r)
d, r = e.one(MSN["no-ct.eml"], "(BODY[] RFC822)")
t.ok(d.get("BODY[]") == wire(MSGS["no-ct.eml"]) and "\\Seen" not in (d.get("FLAGS") or []),
     "in an EXAMINEd folder FETCH BODY[] and RFC822 give the message, and no \\Seen", d)
d, r = e.one(MSN["no-ct.eml"], "FLAGS")
t.ok("\\Seen" not in (d.get("FLAGS") or ["?"]), "FLAGS there: still not \\Seen", d)
e.cmd("LOGOUT")
e.close()
c.cmd("NOOP")
d, r = c.one(MSN["no-ct.eml"], "FLAGS")
t.ok("\\Seen" not in (d.get("FLAGS") or ["?"]) and file_flags("no-ct.eml") is not None and "S" not in file_flags("no-ct.eml"),
     "nor in the other (read-write) session, nor on the disk", (d, file_path("no-ct.eml")))

# -- MODSEQ grows with a change (RFC 7162 3.1.4) --
d, r = c.one(1, "MODSEQ")
ms2 = d.get("MODSEQ", [None])[0] if isinstance(d.get("MODSEQ"), list) else None
t.ok(isinstance(ms2, int) and ms2 > ms1, "MODSEQ of message 1 grew when BODY[] set \\Seen", (ms1, ms2))
unt, r = c.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)")
d, r = c.one(1, "(MODSEQ FLAGS)")
ms3 = d.get("MODSEQ", [None])[0] if isinstance(d.get("MODSEQ"), list) else None
t.ok(isinstance(ms3, int) and ms3 > ms2 and "\\Flagged" in (d.get("FLAGS") or []), "and again with STORE +FLAGS", (ms2, ms3, d))

# ---- UID FETCH (RFC 3501 6.4.8) ----
u5 = uids[MSN["nested.eml"] - 1]
res, r = c.fetch("%d FLAGS" % u5, uid=True)
t.ok(r.endswith("OK Fetch completed") and len(res) == 1 and res[0][0] == MSN["nested.eml"] and res[0][1].get("UID") == u5,
     "UID FETCH u FLAGS: the message, with its UID though not asked", (res, r))
res, r = c.fetch("%d:%d (UID RFC822.SIZE)" % (uids[0], uids[2]), uid=True)
t.ok([x[1].get("UID") for x in res] == uids[:3], "UID FETCH a:b: the messages in that range", (res, r))
top = max(uids)
res, r = c.fetch("%d (FLAGS)" % (top + 100), uid=True)
t.ok(r.endswith("OK Fetch completed") and not res, "UID FETCH of a UID not there: OK and nothing", (res, r))
res, r = c.fetch("%d,%d:%d FLAGS" % (uids[1], top + 50, top + 60), uid=True)
t.ok(r.endswith("OK Fetch completed") and [x[1].get("UID") for x in res] == [uids[1]],
     "UID FETCH of a set partly there: only the ones there", (res, r))
res, r = c.fetch("%d:* UID" % (top + 10), uid=True)
t.ok(r.endswith("OK Fetch completed") and [x[1].get("UID") for x in res] == [top],
     "UID FETCH n:* with n past the last UID: the last message (RFC 3501 6.4.8)", (res, r))

# ---- errors ----
res, r = c.fetch("%d FLAGS" % (len(ORDER) + 1))
t.ok(re.match(r"f\d+ BAD", r) is not None and not res, "FETCH of a message number past EXISTS: BAD", (res, r))
res, r = c.fetch("0 FLAGS")
t.ok(re.match(r"f\d+ BAD", r) is not None, "FETCH 0: BAD (message numbers start at 1)", r)
res, r = c.fetch("1 (FLAGS NONSENSE)")
t.ok(re.match(r"f\d+ BAD", r) is not None and not res, "FETCH of an unknown item: BAD, nothing sent", (res, r))
res, r = c.fetch("1 (BODY[NOSUCH])")
t.ok(re.match(r"f\d+ BAD", r) is not None and not res, "FETCH of an unknown section: BAD", (res, r))
res, r = c.fetch("1 BODY[]<1>")
t.ok(re.match(r"f\d+ BAD", r) is not None and not res, "a partial without a length: BAD (RFC 3501 9)", (res, r))
g = login()
unt, r = g.cmd("CREATE Empty")
unt, r = g.cmd("SELECT Empty")
t.ok(r.startswith("t3 OK") and "* 0 EXISTS" in unt, "SELECT an empty folder", (unt, r))
res, r = g.fetch("1:* FLAGS")
t.ok(re.match(r"f\d+ BAD", r) is not None and not res, "FETCH 1:* on an empty mailbox: BAD (no message number exists)", (res, r))
res, r = g.fetch("1:* FLAGS", uid=True)
t.ok(r.endswith("OK Fetch completed") and not res, "UID FETCH 1:* on an empty mailbox: OK and nothing", (res, r))

# ---- a message file renamed by another program (mutt marks it read and flagged) ----
src = file_path("quoted-boundary.eml")
dst = os.path.join(MD, "cur", os.path.basename(FILES["quoted-boundary.eml"]) + ":2,FS")
os.rename(src, dst)
d, r = c.one(MSN["quoted-boundary.eml"], "(BODY.PEEK[] RFC822.SIZE)")
t.ok(d.get("BODY[]") == wire(MSGS["quoted-boundary.eml"]) and r.endswith("OK Fetch completed"),
     "after mutt moved the file to cur/NAME:2,FS, FETCH BODY.PEEK[] still gives the message", (d, r))
c.cmd("NOOP")
d, r = c.one(MSN["quoted-boundary.eml"], "(FLAGS BODY.PEEK[TEXT])")
t.ok("\\Flagged" in (d.get("FLAGS") or []) and "\\Seen" in (d.get("FLAGS") or []) and d.get("BODY[TEXT]"),
     "and FLAGS shows mutt's \\Flagged \\Seen", d)
os.rename(dst, dst[:-len(":2,FS")] + ":2,RS")
d, r = c.one(MSN["quoted-boundary.eml"], "(BODY.PEEK[1])")
t.ok(d.get("BODY[1]") == b"one" and r.endswith("OK Fetch completed"), "renamed again (:2,RS): FETCH still works", (d, r))
c.cmd("NOOP")
d, r = c.one(MSN["quoted-boundary.eml"], "FLAGS")
t.ok("\\Answered" in (d.get("FLAGS") or []) and "\\Flagged" not in (d.get("FLAGS") or []), "and FLAGS follows", d)

# ---- APPEND (RFC 3501 6.3.11) then FETCH, as a client does (imaplib) ----
SHAPES = [
    ("a simple message", b"From: app@example.org\r\nTo: demo@example.test\r\nSubject: appended\r\n\r\nhello\r\nworld\r\n"),
    ("a multipart", b"Subject: mp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
                    b"Content-Type: text/plain\r\n\r\npart one\r\n--zz\r\nContent-Type: application/octet-stream\r\n"
                    b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--zz--\r\n"),
    ("no final CRLF", b"Subject: no final CRLF\r\n\r\nthe end"),
    ("a header and an empty body", b"Subject: header only\r\n\r\n"),
    ("a header without the empty line", b"Subject: no empty line\r\nX-A: b\r\n"),
    ("8-bit text", "Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGr\u00fc\u00dfe \u2014 \u00e9t\u00e9\r\n".encode()),
    ("dots, From lines, empty lines", b"Subject: dots\r\n\r\n.\r\n..two\r\nFrom the start\r\n>From quoted\r\n\r\n\r\n"),
    ("a long line", b"Subject: long\r\n\r\n" + b"x" * 5000 + b"\r\ny\r\n"),
]
im = imaplib.IMAP4("127.0.0.1", port)
im.login(USER, PASS)
typ, st = im.status("INBOX", "(UIDNEXT UIDVALIDITY)")
stx = st[0] if st and st[0] else b""
uidnext, uidvalidity = (int(re.search(rb"%s (\d+)" % k, stx).group(1)) if re.search(rb"%s (\d+)" % k, stx) else 0
                        for k in (b"UIDNEXT", b"UIDVALIDITY"))
im.select("INBOX")
for what, m in SHAPES:
    typ, data = im.append("INBOX", None, None, m)
    au = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0] if data and data[0] else b"")
    t.ok(typ == "OK" and au and int(au.group(1)) == uidvalidity, "APPEND %s: OK [APPENDUID uidvalidity uid] (RFC 4315 3)" % what, (typ, data))
    if not au:
        continue
    u = int(au.group(2))
    if what == "a simple message":
        t.is_(u, uidnext, "its UID is the UIDNEXT STATUS gave before")
    typ, data = im.uid("FETCH", str(u), "(RFC822.SIZE BODY.PEEK[])")
    body = data[0][1] if data and isinstance(data[0], tuple) else None
    size = re.search(rb"RFC822\.SIZE (\d+)", data[0][0] if body is not None else b"")
    t.ok(body == m and size and int(size.group(1)) == len(m),
         "UID FETCH BODY[]: the message byte for byte; RFC822.SIZE the literal's length (%d)" % len(m), (data, m))
im.logout()

# -- flags and a date (RFC 3501 6.3.11) --
M = b"Subject: dated\r\n\r\nwith flags and a date\r\n"


def append_raw(conn, args, msgs, sync=True):
    """APPEND args {n}... raw: msgs is [(prefix, message)], prefix what
    comes before the literal (flags, date). Sync literals wait for the
    continuation; a tagged reply instead ends the command. Returns
    (untagged, tagged, how many literals were sent)."""
    conn.n += 1
    tag = "a%d" % conn.n
    line = ("%s APPEND %s" % (tag, args)).encode()
    sent = 0
    for i, (prefix, m) in enumerate(msgs):
        line += (b" " + prefix if prefix else b"") + (b" {%d}" % len(m) if sync else b" {%d+}" % len(m))
        conn.send(line + b"\r\n")
        if sync:
            ln = conn.line()
            if not ln.startswith(b"+"):
                unt = []
                while not ln.startswith(tag.encode() + b" "):
                    unt.append(ln.decode(errors="replace"))
                    ln = conn.line()
                return unt, ln.decode(errors="replace"), sent
        conn.send(m)
        sent += 1
        line = b""
    conn.send(b"\r\n")
    unt, tagged = conn.until(tag)
    return unt, tagged, sent


a = login()
unt, r, _ = append_raw(a, "INBOX", [(b'(\\Flagged \\Seen $Work) "14-Jul-2021 02:44:25 -0700"', M)])
au = re.search(r"\[APPENDUID (\d+) (\d+)\]", r)
t.ok(r.startswith("a") and " OK " in r and au, "APPEND with flags and a date-time: OK [APPENDUID]", r)
a.cmd("SELECT INBOX")
res, r = a.fetch("%s (FLAGS INTERNALDATE BODY.PEEK[])" % (au.group(2) if au else "0"), uid=True)
d = res[0][1] if res else {}
t.ok(set(d.get("FLAGS") or []) >= {"\\Flagged", "\\Seen", "$Work"}, "the flags given are set (the keyword too)", d)
t.ok(idate(d.get("INTERNALDATE", b"")) == calendar.timegm((2021, 7, 14, 9, 44, 25)),
     "INTERNALDATE is the date given (the same instant; +0000 or -0700)", d.get("INTERNALDATE"))
t.is_(d.get("BODY[]"), M, "and the message")
unt, r, _ = append_raw(a, "INBOX", [(b'" 4-Jan-2020 23:59:59 +0130"', M)])
au = re.search(r"\[APPENDUID (\d+) (\d+)\]", r)
res, _ = a.fetch("%s INTERNALDATE" % (au.group(2) if au else "0"), uid=True)
t.ok(au and res and idate(res[0][1].get("INTERNALDATE", b"")) == calendar.timegm((2020, 1, 4, 22, 29, 59)),
     "a date with a space-padded day (date-day-fixed) and a +0130 zone", (r, res))

# -- APPEND to the selected folder: EXISTS before the OK (RFC 3501 6.3.11) --
unt, r = a.cmd("NOOP")
unt, r = a.cmd("STATUS INBOX (MESSAGES)")
nbefore = int(re.search(r"MESSAGES (\d+)", " ".join(unt)).group(1))
unt, r, _ = append_raw(a, "INBOX", [(b"", b"Subject: to the selected folder\r\n\r\nx\r\n")])
t.ok(" OK " in r and "* %d EXISTS" % (nbefore + 1) in unt, "APPEND to the selected folder: * %d EXISTS before the tagged OK" % (nbefore + 1), (unt, r))

# -- MULTIAPPEND (RFC 3502) --
unt, r = a.cmd("STATUS INBOX (MESSAGES UIDNEXT)")
sm = re.search(r"MESSAGES (\d+) UIDNEXT (\d+)", " ".join(unt))
nbefore, unext = int(sm.group(1)), int(sm.group(2))
MM = [b"Subject: multi one\r\n\r\n1\r\n", b"Subject: multi two\r\n\r\n22\r\n", b"Subject: multi three\r\n\r\n333\r\n"]
unt, r, _ = append_raw(a, "INBOX", [(b"(\\Seen)", MM[0]), (b"", MM[1]), (b'(\\Draft) "01-Feb-2022 10:00:00 +0000"', MM[2])])
au = re.search(r"\[APPENDUID (\d+) (\d+):(\d+)\]", r)
t.ok(" OK " in r and au and int(au.group(3)) - int(au.group(2)) == 2 and int(au.group(2)) >= unext,
     "MULTIAPPEND of three: OK [APPENDUID v first:last]", r)
if au:
    res, _ = a.fetch("%s:%s (FLAGS BODY.PEEK[] INTERNALDATE)" % (au.group(2), au.group(3)), uid=True)
    bodies = [x[1].get("BODY[]") for x in res]
    fl = [x[1].get("FLAGS") or [] for x in res]
    t.ok(bodies == MM, "the three messages, in order, byte for byte", bodies)
    t.ok(len(fl) == 3 and "\\Seen" in fl[0] and "\\Seen" not in fl[1] and "\\Draft" in fl[2] and "\\Draft" not in fl[0],
         "each with its own flags", fl)
    t.ok(len(res) == 3 and idate(res[2][1].get("INTERNALDATE", b"")) == calendar.timegm((2022, 2, 1, 10, 0, 0)), "the third with its date", res)


def stored_files():
    return sorted(os.listdir(os.path.join(MD, "new")) + os.listdir(os.path.join(MD, "cur")))


def count():
    unt, r = a.cmd("STATUS INBOX (MESSAGES)")
    m = re.search(r"MESSAGES (\d+)", " ".join(unt))
    return int(m.group(1)) if m else None


# one bad message in the middle: none is stored (RFC 3502 6)
n0, f0 = count(), stored_files()
unt, r, sent = append_raw(a, "INBOX", [(b"", MM[0]), (b'"31-Foo-2021 10:00:00 +0000"', MM[1]), (b"", MM[2])], sync=False)
t.ok(re.match(r"a\d+ (BAD|NO)", r) is not None, "MULTIAPPEND with a bad date-time in the middle (LITERAL+): refused", (unt, r))
t.ok(count() == n0 and stored_files() == f0, "and none of the three is stored", (n0, count()))
unt, r, sent = append_raw(a, "INBOX", [(b"", MM[0]), (b"(\\Seen)", b""), (b"", MM[2])], sync=False)
t.ok(re.match(r"a\d+ (BAD|NO)", r) is not None, "MULTIAPPEND with an empty message in the middle: refused", (unt, r))
t.ok(count() == n0 and stored_files() == f0, "and none is stored", (n0, count()))
unt, r, sent = append_raw(a, "INBOX", [(b"", MM[0]), (b"(\\Bogus)", MM[1]), (b"", MM[2])], sync=True)
t.ok(re.match(r"a\d+ (BAD|NO)", r) is not None, "MULTIAPPEND with an unknown system flag in the middle (sync literals): refused", (unt, r, sent))
t.ok(count() == n0 and stored_files() == f0, "and none is stored", (n0, count()))
t.ok(os.listdir(os.path.join(MD, "tmp")) == [], "nothing left behind in tmp/", os.listdir(os.path.join(MD, "tmp")))
unt, r = a.cmd("NOOP")
t.ok(r.endswith("OK NOOP completed") or " OK" in r, "the session goes on", r)

# too big in the middle (APPENDLIMIT, RFC 7889): NO [TOOBIG] instead of the continuation
port2 = inst.imap(env={"IMAP_APPENDLIMIT": "1000"})
b2 = login(port2)
unt, r = b2.cmd("CAPABILITY")
t.ok("APPENDLIMIT=1000" in " ".join(unt), "IMAP_APPENDLIMIT=1000: APPENDLIMIT=1000 advertised", unt)
n0, f0 = count(), stored_files()
unt, r, sent = append_raw(b2, "INBOX", [(b"", MM[0]), (b"", b"Subject: big\r\n\r\n" + b"y" * 2000 + b"\r\n"), (b"", MM[2])], sync=True)
t.ok(re.match(r"a\d+ NO \[TOOBIG\]", r) is not None and sent == 1, "MULTIAPPEND with a message over APPENDLIMIT in the middle: NO [TOOBIG] before its literal", (unt, r, sent))
t.ok(count() == n0 and stored_files() == f0, "and the first one is not stored either", (n0, count()))
unt, r = b2.cmd("NOOP")
t.ok(" OK" in r, "that session goes on too", r)
b2.close()

# -- APPEND to a folder that does not exist: NO [TRYCREATE] (RFC 3501 6.3.11) --
unt, r, sent = append_raw(a, "NoSuchFolder", [(b"", M)])
t.ok(re.match(r"a\d+ NO \[TRYCREATE\]", r) is not None, "APPEND to a missing folder: NO [TRYCREATE]", (unt, r))
unt, r = a.cmd('LIST "" NoSuchFolder')
t.ok(not [l for l in unt if l.startswith("* LIST")], "and the folder was not created", unt)
a.cmd("LOGOUT")
a.close()

c.cmd("LOGOUT")
c.close()
g.close()
rc, out = inst.check()
t.ok(rc == 0, "mailbox-check: the index agrees with the Maildir", out)
t.done()
