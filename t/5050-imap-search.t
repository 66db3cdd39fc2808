#!/usr/bin/python3
# imap-serve: SEARCH and UID SEARCH (RFC 3501 6.4.4, 6.4.8):
# - every search key of RFC 3501, sequence sets, parentheses, nesting,
#   implicit AND, OR, NOT;
# - CHARSET UTF-8 and US-ASCII (others: NO [BADCHARSET]); strings as
#   case-insensitive substrings, non-ASCII too ("ÄÖÜ" finds "äöü"), sent
#   as literals (LITERAL+ and synchronizing);
# - what is searched: RFC 2047 encoded subjects and names (B and Q,
#   adjacent encoded words), display names and addresses, base64 and
#   quoted-printable text bodies (soft line breaks), a latin-1 body, a
#   text attachment, but not an attachment's base64 octets; HEADER with
#   an empty string (every message with the field);
# - dates: INTERNALDATE for BEFORE/ON/SINCE, the Date: field (its own
#   day, disregarding its zone) for SENT*; LARGER/SMALLER against
#   RFC822.SIZE (CRLF);
# - RECENT/NEW/OLD across two sessions; MODSEQ (RFC 7162 3.1.5, 3.1.6);
#   ESEARCH (RFC 4731: RETURN MIN MAX COUNT ALL, RETURN (), TAG, UID,
#   MODSEQ with MIN/MAX, 3.2);
# - errors: an unknown key, a missing argument, bad dates and numbers: BAD.
# Expected results were checked against Dovecot 2.3 on the same messages.

import base64
import calendar
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
USER, PASS = "demo@example.test", "demo"


def b64(b):
    return base64.encodebytes(b).decode()


def wire(m):
    return re.sub(rb"(?<!\r)\n", b"\r\n", m)


def day(s):
    """noon UTC of a YYYY-MM-DD: the INTERNALDATE (file mtime) of a message"""
    return calendar.timegm(time.strptime(s + " 12:00", "%Y-%m-%d %H:%M"))


# (Maildir subdirectory, flags in the name, INTERNALDATE, message)
MSGS = [
    # 1: Q-encoded display name, B-encoded subject, Cc and Bcc; \Answered \Seen
    ("cur", ":2,RS", "2026-06-01", """From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>
To: demo@example.test
Cc: "Carol Cc" <carol@example.net>
Bcc: hidden@example.org
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=
Date: Mon, 1 Jun 2026 10:00:00 +0000
Message-ID: <m1@example.de>
X-Mailer: Tern-Test 1.0

The quick brown fox jumps over the lazy dog.
""".encode()),
    # 2: Q-encoded latin-1 subject, a base64 UTF-8 body; \Flagged; its
    # Date is the 2nd in its own zone (the 3rd in UTC)
    ("cur", ":2,F", "2026-06-03", ("""From: Alice <alice@example.org>
To: "Bob Builder" <bob@example.net>, demo@example.test
Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=
Date: Tue, 2 Jun 2026 23:30:00 -0500
Message-ID: <m2@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

""" + b64("Der Zug f\u00e4hrt um 12 Uhr ab. \u00c4\u00d6\u00dc\n".encode())).encode()),
    # 3: raw UTF-8 subject, a quoted-printable body with a soft line
    # break; \Deleted \Draft; its Date is the 3rd in its zone (the 2nd in UTC)
    ("cur", ":2,DT", "2026-06-04", """From: carol@example.net
To: demo@example.test
Subject: \u00dcbergr\u00f6\u00dfe \u00e4\u00f6\u00fc
Date: Wed, 3 Jun 2026 01:00:00 +0900
Message-ID: <m3@example.net>
X-Mailer: other
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Sch=C3=B6ne Gr=C3=BC=C3=9Fe, =
soft break word
""".encode()),
    # 4: a latin-1 body; no flags
    ("new", "", "2026-06-05", b"""From: Dave <dave@example.com>
To: demo@example.test
Subject: latin-1 body
Date: Fri, 5 Jun 2026 08:00:00 +0200
Message-ID: <m4@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

Pr\xe9sident \xe0 l'\xe9cole
"""),
    # 5: B-encoded display name; attachments: binary (base64) and text
    # (base64); the largest; \Seen
    ("cur", ":2,S", "2026-06-06", ("""From: =?UTF-8?B?w4h2ZSDDiXZpYW4=?= <eve@example.com>
To: demo@example.test
Subject: with attachments
Date: Sat, 6 Jun 2026 09:00:00 +0000
Message-ID: <m5@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=att

--att
Content-Type: text/plain

see the attachments
""" + ("padding line\n" * 200) + """--att
Content-Type: application/octet-stream
Content-Disposition: attachment; filename=secret.bin
Content-Transfer-Encoding: base64

""" + b64(b"secret-in-attachment zebra") + """--att
Content-Type: text/plain; charset=utf-8
Content-Disposition: attachment; filename=notes.txt
Content-Transfer-Encoding: base64

""" + b64(b"uniquetextattach notes") + """--att--
""").encode()),
    # 6: two adjacent encoded words (the space between them is not text, RFC 2047 6.2)
    ("new", "", "2026-06-07", b"""From: frank@example.net
To: demo@example.test
Subject: =?UTF-8?Q?Sp=C3=A4t?= =?UTF-8?Q?er_Termin?=
Date: Sun, 7 Jun 2026 12:00:00 +0000
Message-ID: <m6@example.net>

short
"""),
    # 7: no Subject; an empty X-Blank field
    ("new", "", "2026-06-08", b"""From: grace@example.net
To: demo@example.test
Date: Mon, 8 Jun 2026 12:00:00 +0000
Message-ID: <m7@example.net>
X-Blank:

no subject here
"""),
]
SIZE = [len(wire(m[3])) for m in MSGS]

# A first message, expunged before the others arrive, so that UIDs are
# message numbers + 1 and UID SEARCH is told apart from SEARCH.
inst.put(b"Subject: gone\n\nx\n", "1779999999.M0P0.host")
c0 = ternlib.ImapConn(port)
c0.cmd("LOGIN %s %s" % (USER, PASS))
c0.cmd("SELECT INBOX")
c0.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
unt, r = c0.cmd("EXPUNGE")
c0.cmd("LOGOUT")
c0.close()
for i, (sub, suf, when, data) in enumerate(MSGS):
    p = inst.put(data, "%d.M%dP1.host%s" % (1780000000 + i, i + 1, suf), sub=sub)
    os.utime(p, (day(when), day(when)))


class Conn(ternlib.ImapConn):
    def search(self, args, uid=False, tag=None):
        """(set of numbers, MODSEQ or None, untagged lines, tagged) for a SEARCH."""
        if tag is None:
            self.n += 1
            tag = "s%d" % self.n
        cmd = (tag + " " + ("UID " if uid else "") + "SEARCH ").encode() + (args if isinstance(args, bytes) else args.encode())
        self.send(cmd + b"\r\n")
        unt, tagged = self.until(tag)
        nums, ms = None, None
        for u in unt:
            m = re.match(r"\* SEARCH((?: \d+)*)(?: \(MODSEQ (\d+)\))?$", u)
            if m:
                nums = set(int(x) for x in m.group(1).split())
                ms = int(m.group(2)) if m.group(2) else None
        return nums, ms, unt, tagged

    def nums(self, args, uid=False):
        n, ms, unt, tagged = self.search(args, uid)
        return n if tagged.split(" ")[1:2] == ["OK"] else ("not OK", tagged)


def login():
    c = Conn(port)
    _, r = c.cmd("LOGIN %s %s" % (USER, PASS))
    if " OK " not in r:
        raise RuntimeError(r)
    return c


def lit(s, plus=True):
    """A literal of the UTF-8 string s (RFC 3501 4.3; LITERAL+ RFC 7888)."""
    b = s.encode()
    return b"{%d%s}\r\n" % (len(b), b"+" if plus else b"") + b


c = login()
unt, r = c.cmd("SELECT INBOX")
t.ok(" OK " in r and "* 7 EXISTS" in unt, "SELECT INBOX: 7 messages", (unt, r))
c.cmd("STORE 2 +FLAGS.SILENT ($Important)")
c.cmd("STORE 1 +FLAGS.SILENT ($Work)")
ALL = set(range(1, 8))

CASES = [
    # flags (RFC 3501 6.4.4), from the Maildir names and STORE
    ("ALL", ALL, "every message"),
    ("ANSWERED", {1}, ":2,R is \\Answered"), ("UNANSWERED", ALL - {1}, ""),
    ("DELETED", {3}, ":2,T is \\Deleted"), ("UNDELETED", ALL - {3}, ""),
    ("DRAFT", {3}, ":2,D is \\Draft"), ("UNDRAFT", ALL - {3}, ""),
    ("FLAGGED", {2}, ":2,F is \\Flagged"), ("UNFLAGGED", ALL - {2}, ""),
    ("SEEN", {1, 5}, ":2,S is \\Seen"), ("UNSEEN", ALL - {1, 5}, ""),
    ("KEYWORD $Important", {2}, "a keyword set by STORE"), ("UNKEYWORD $Important", ALL - {2}, ""),
    ("KEYWORD $NeverUsed", set(), "a keyword no message has"), ("UNKEYWORD $NeverUsed", ALL, ""),
    ("keyword $important", {2}, "keys and keywords are case-insensitive"),
    # INTERNALDATE (the file's mtime here), its date only
    ("BEFORE 4-Jun-2026", {1, 2}, "BEFORE: INTERNALDATE earlier than the day"),
    ("ON 4-Jun-2026", {3}, "ON: that day"),
    ("ON 3-Jun-2026", {2}, "ON: INTERNALDATE, not the Date: field (2 was sent on the 2nd, stored on the 3rd)"),
    ("SINCE 4-Jun-2026", {3, 4, 5, 6, 7}, "SINCE: that day or later"),
    ("BEFORE 1-Jan-2000", set(), "BEFORE a day before them all"),
    # the Date: field, its date in its own zone
    ("SENTBEFORE 3-Jun-2026", {1, 2}, "SENTBEFORE: the Date: field's day"),
    ("SENTON 2-Jun-2026", {2}, "SENTON: 23:30 -0500 on the 2nd is the 2nd (the zone disregarded)"),
    ("SENTON 3-Jun-2026", {3}, "SENTON: 01:00 +0900 on the 3rd is the 3rd"),
    ("SENTSINCE 5-Jun-2026", {4, 5, 6, 7}, "SENTSINCE"),
    # addresses: display names (RFC 2047 decoded) and addresses
    ("FROM JOERG@EXAMPLE", {1}, "FROM: the address, case-insensitive"),
    ("FROM example.org", {2}, "FROM: part of the domain"),
    ("TO \"bob builder\"", {2}, "TO: a display name"),
    ("TO demo@example.test", ALL, "TO: an address in a list"),
    ("CC carol", {1}, "CC: only the Cc field (3 is from carol)"),
    ("BCC hidden", {1}, "BCC"),
    ("SUBJECT caf", {2}, "SUBJECT in a Q-encoded latin-1 word"),
    ("SUBJECT \"aus k\"", {1}, "SUBJECT in a B-encoded UTF-8 word"),
    ("CHARSET US-ASCII SUBJECT \"aus k\"", {1}, "CHARSET US-ASCII"),
    ("CHARSET UTF-8 SUBJECT latin", {4}, "CHARSET UTF-8 with an atom"),
    ("SUBJECT \"\"", ALL - {7}, "SUBJECT \"\": every message with a subject (as Dovecot)"),
    # bodies
    ("BODY \"LAZY DOG\"", {1}, "BODY: a case-insensitive substring"),
    ("BODY \"l'\"", {4}, "BODY in a latin-1 8bit body"),
    ("BODY uniquetextattach", {5}, "BODY in a text attachment, base64 decoded"),
    ("BODY c2VjcmV0", set(), "BODY not in an attachment's base64 octets"),
    ("BODY zebra", set(), "nor in a binary attachment (Dovecot 2.3 agrees)"),
    ("BODY padding", {5}, "BODY in the first part of a multipart"),
    ("BODY alice", set(), "BODY is not the header"),
    ("TEXT alice@example.org", {2}, "TEXT: the header too"),
    ("TEXT x-mailer", {1, 3}, "TEXT: field names are header text"),
    # HEADER
    ("HEADER X-Mailer \"\"", {1, 3}, "HEADER field \"\": every message with the field"),
    ("HEADER X-Blank \"\"", {7}, "HEADER field \"\": an empty field counts"),
    ("HEADER Subject \"\"", ALL - {7}, "HEADER Subject \"\": not the message without one"),
    ("HEADER x-mailer TERN", {1}, "HEADER: field name and value case-insensitive"),
    ("HEADER Message-ID \"<m2@\"", {2}, "HEADER with special characters"),
    ("HEADER X-Nothing \"\"", set(), "HEADER of a field no message has"),
    # sizes: RFC822.SIZE, with CRLF
    ("LARGER %d" % SIZE[1], set(i + 1 for i, s in enumerate(SIZE) if s > SIZE[1]), "LARGER n: strictly larger than n octets"),
    ("LARGER %d" % (SIZE[1] - 1), set(i + 1 for i, s in enumerate(SIZE) if s > SIZE[1] - 1), "LARGER n-1: n itself too"),
    ("SMALLER %d" % SIZE[1], set(i + 1 for i, s in enumerate(SIZE) if s < SIZE[1]), "SMALLER n: strictly smaller"),
    ("SMALLER %d" % (SIZE[1] + 1), set(i + 1 for i, s in enumerate(SIZE) if s < SIZE[1] + 1), "SMALLER n+1: n itself too"),
    ("LARGER %d" % len(MSGS[1][3]), set(i + 1 for i, s in enumerate(SIZE) if s > len(MSGS[1][3])),
     "sizes count CRLF: 2 is larger than its file"),
    # sequence sets and UID
    ("2:4", {2, 3, 4}, "a sequence range"),
    ("4:2", {2, 3, 4}, "a range backwards"),
    ("1,3,5:*", {1, 3, 5, 6, 7}, "a set with *"),
    ("*", {7}, "* is the last message"),
    ("UID 3:4", {2, 3}, "UID a:b: message numbers of those UIDs"),
    ("UID 1", set(), "UID of an expunged message"),
    ("UID 8:*", {7}, "UID n:* includes the last"),
    ("2:4 UNSEEN", {2, 3, 4}, "a set and a key"),
    # structure
    ("SEEN ANSWERED", {1}, "implicit AND"),
    ("OR SEEN FLAGGED", {1, 2, 5}, "OR"),
    ("OR OR SEEN FLAGGED DRAFT", {1, 2, 3, 5}, "OR of an OR"),
    ("NOT SEEN", ALL - {1, 5}, "NOT"),
    ("NOT NOT SEEN", {1, 5}, "NOT NOT"),
    ("(OR SEEN FLAGGED) (NOT DELETED)", {1, 2, 5}, "parenthesised lists"),
    ("OR (SEEN ANSWERED) (FLAGGED KEYWORD $Important)", {1, 2}, "OR of two lists"),
    ("NOT (OR SEEN FLAGGED)", {3, 4, 6, 7}, "NOT of a list"),
    ("((((ALL))))", ALL, "nested parentheses"),
    ("(SINCE 2-Jun-2026 (BEFORE 6-Jun-2026 (NOT ON 4-Jun-2026)))", {2, 4}, "nested lists of dates"),
    ("OR FROM carol CC carol", {1, 3}, "OR of two address keys"),
]
for key, want, what in CASES:
    got = c.nums(key)
    t.is_(got, want, "SEARCH %s: %s" % (key, what) if what else "SEARCH %s" % key)

# non-ASCII in literals, with CHARSET UTF-8 (RFC 3501 6.4.4)
LIT = [
    ("FROM", "j\u00f6rg", {1}, "a Q-encoded display name"),
    ("FROM", "\u00c9VIAN", {5}, "a B-encoded display name, upper case for lower"),
    ("SUBJECT", "CR\u00c8ME", {2}, "a latin-1 encoded word, upper case for lower"),
    ("SUBJECT", "\u00c4\u00d6\u00dc", {3}, "\"\u00c4\u00d6\u00dc\" finds \"\u00e4\u00f6\u00fc\" in a raw UTF-8 subject"),
    ("SUBJECT", "r\u00fc\u00df", {1}, "inside a word of a B-encoded subject"),
    ("SUBJECT", "sp\u00e4ter termin", {6}, "across two adjacent encoded words"),
    ("BODY", "\u00e4\u00f6\u00fc", {2}, "\"\u00e4\u00f6\u00fc\" finds \"\u00c4\u00d6\u00dc\" in a base64 body"),
    ("BODY", "f\u00e4hrt", {2}, "in a base64 UTF-8 body"),
    ("BODY", "Gr\u00fc\u00dfe, soft break", {3}, "in a quoted-printable body, across a soft line break"),
    ("BODY", "PR\u00c9SIDENT", {4}, "in a latin-1 body, converted"),
    ("BODY", "l'\u00e9cole", {4}, "in a latin-1 body, with an apostrophe"),
    ("BODY", "K\u00f6ln", set(), "BODY does not see the subject"),
    ("TEXT", "K\u00f6ln", {1}, "TEXT does (decoded)"),
    ("TEXT", "\u00fcbergr\u00f6", {3}, "TEXT in a raw UTF-8 header"),
]
for key, s, want, what in LIT:
    got = c.nums(b"CHARSET UTF-8 " + key.encode() + b" " + lit(s))
    t.is_(got, want, "SEARCH CHARSET UTF-8 %s {literal}%s: %s" % (key, s, what))
# a synchronizing literal: the continuation first (RFC 3501 7.5)
c.send(b"y1 SEARCH CHARSET UTF-8 SUBJECT {%d}\r\n" % len("K\u00d6LN".encode()))
cont = c.line()
t.ok(cont.startswith(b"+"), "a synchronizing literal in SEARCH gets a continuation", cont)
if cont.startswith(b"+"):
    c.send("K\u00d6LN".encode() + b" UNSEEN\r\n")
    unt, r = c.until("y1")
else:
    unt, r = [], cont.decode(errors="replace")
t.ok(r.startswith("y1 OK") and "* SEARCH" in unt and not [u for u in unt if re.match(r"\* SEARCH .", u)],
     "and the search runs: K\u00d6LN AND UNSEEN finds nothing (1 is \\Seen)", (unt, r))
c.send(b"y2 SEARCH CHARSET UTF-8 OR SUBJECT " + lit("K\u00d6LN") + b" SUBJECT " + lit("CAF\u00c9") + b"\r\n")
unt, r = c.until("y2")
t.ok(r.startswith("y2 OK") and "* SEARCH 1 2" in unt, "two literals in one SEARCH", (unt, r))

# CHARSET: UTF-8 and US-ASCII only (RFC 3501 6.4.4: NO [BADCHARSET])
for cs in ("ISO-8859-1", "X-NO-SUCH-CHARSET"):
    n, ms, unt, r = c.search("CHARSET %s SUBJECT x" % cs)
    t.ok(re.match(r"s\d+ NO \[BADCHARSET", r) is not None and not [u for u in unt if u.startswith("* SEARCH")],
         "CHARSET %s: NO [BADCHARSET ...] and no result" % cs, (unt, r))
n, ms, unt, r = c.search("CHARSET utf-8 SUBJECT caf")
t.ok(r.split(" ")[1] == "OK" and n == {2}, "the charset name is case-insensitive", (unt, r))

# ---- UID SEARCH (RFC 3501 6.4.8): UIDs are message numbers + 1 here ----
t.is_(c.nums("SEEN", uid=True), {2, 6}, "UID SEARCH SEEN: the UIDs")
t.is_(c.nums("1:2", uid=True), {2, 3}, "UID SEARCH 1:2: a message-number set, answered in UIDs")
t.is_(c.nums("UID 3:4", uid=True), {3, 4}, "UID SEARCH UID 3:4")
t.is_(c.nums("UID 100:200", uid=True), set(), "UID SEARCH UID of UIDs not there: nothing")

# ---- RECENT, NEW, OLD (RFC 3501 2.3.2): this is the first session to see the 7 ----
t.is_(c.nums("RECENT"), ALL, "RECENT: the first session to see them has them all \\Recent")
t.is_(c.nums("NEW"), ALL - {1, 5}, "NEW: recent and not seen")
t.is_(c.nums("OLD"), set(), "OLD: none")
c2 = login()
c2.cmd("SELECT INBOX")
t.is_(c2.nums("RECENT"), set(), "a second session: RECENT none")
t.is_(c2.nums("OLD"), ALL, "OLD all")
t.is_(c2.nums("NEW"), set(), "NEW none")
p8 = inst.put(b"From: late@example.net\nTo: demo@example.test\nSubject: late arrival\n\nnew\n", "1780000100.M9P1.host")
unt, r = c2.cmd("NOOP")
t.ok("* 8 EXISTS" in unt, "a message delivered now: the second session sees it at NOOP", unt)
t.is_(c2.nums("RECENT"), {8}, "and it is \\Recent there")
t.is_(c2.nums("NEW"), {8}, "NEW: 8")
t.is_(c2.nums("SUBJECT late"), {8}, "and searchable at once")
unt, r = c.cmd("NOOP")
t.ok("* 8 EXISTS" in unt, "the first session sees it too", unt)
t.is_(c.nums("RECENT 8"), set(), "but not \\Recent: another session had it first")
t.is_(c.nums("OLD 8"), {8}, "so OLD there")
c2.cmd("LOGOUT")
c2.close()
ALL8 = ALL | {8}

# a folder no session has opened yet, its files put there by another
# program (two in cur/, one in new/ between them): the first SELECT is
# the first session to see all three, so all are \Recent (RFC 3501
# 2.3.2; Dovecot 2.3 agrees)
FR = os.path.join(MD, ".Fresh")
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(FR, sub))
open(os.path.join(FR, "maildirfolder"), "w").close()
for i, (sub, name) in enumerate((("cur", "1780000201.M1P1.host:2,S"), ("new", "1780000202.M2P1.host"), ("cur", "1780000203.M3P1.host:2,"))):
    with open(os.path.join(FR, sub, name), "wb") as f:
        f.write(b"Subject: fresh %d\n\nx\n" % i)
inst.chown_all()
f1 = login()
unt, r = f1.cmd("SELECT Fresh")
t.ok(" OK " in r and "* 3 EXISTS" in unt, "SELECT a folder made by another program: 3 messages", (unt, r))
t.ok("* 3 RECENT" in unt, "* 3 RECENT: this session is the first to see them", unt)
t.is_(f1.nums("RECENT"), {1, 2, 3}, "SEARCH RECENT there: all three, those in cur/ too")
t.is_(f1.nums("NEW"), {2, 3}, "SEARCH NEW: the recent ones not \\Seen")
f1.cmd("LOGOUT")
f1.close()

# ---- MODSEQ (RFC 7162 3.1.5, 3.1.6) ----
unt, r = c.cmd("FETCH 1:* (MODSEQ)")
MS = {}
for u in unt:
    m = re.match(r"\* (\d+) FETCH \(.*MODSEQ \((\d+)\)", u)
    if m:
        MS[int(m.group(1))] = int(m.group(2))
t.ok(sorted(MS) == sorted(ALL8), "FETCH 1:* MODSEQ: one for each", unt)
unt, r = c.cmd("STORE 4 +FLAGS.SILENT (\\Answered)")
unt, r = c.cmd("FETCH 4 (MODSEQ)")
m = re.search(r"MODSEQ \((\d+)\)", " ".join(unt))
MS[4] = int(m.group(1)) if m else 0
top = max(MS.values())
t.ok(MS[4] == top and all(MS[k] < top for k in MS if k != 4), "after STORE on 4 its MODSEQ is the highest", MS)
n, ms, unt, r = c.search("MODSEQ 1")
t.ok(n == ALL8 and ms == top, "SEARCH MODSEQ 1: every message, then (MODSEQ highest of them)", (unt, r, top))
n, ms, unt, r = c.search("MODSEQ %d" % MS[4])
t.ok(n == {4} and ms == MS[4], "SEARCH MODSEQ n: those changed at n or later, with (MODSEQ n)", (unt, r))
n, ms, unt, r = c.search("MODSEQ %d" % (top + 1))
t.ok(n == set() and ms is None and "* SEARCH" in unt, "SEARCH MODSEQ past the highest: * SEARCH, without (MODSEQ)", (unt, r))
n, ms, unt, r = c.search("NOT MODSEQ %d 1:3" % MS[4])
t.ok(n == {1, 2, 3} and ms == max(MS[1], MS[2], MS[3]), "NOT MODSEQ n with a set: (MODSEQ) the highest of those returned", (unt, r))
n, ms, unt, r = c.search('MODSEQ "/flags/\\\\Answered" all %d' % MS[4])
t.ok(n == {4} and ms == MS[4], "MODSEQ with an entry name and type (ignored by a server without per-flag MODSEQ)", (unt, r))
n, ms, unt, r = c.search("MODSEQ %d" % MS[4], uid=True)
t.ok(n == {5} and ms == MS[4], "UID SEARCH MODSEQ: the UID, and (MODSEQ)", (unt, r))

# ---- ESEARCH (RFC 4731) ----


def esearch(conn, args, uid=False):
    """(dict of the ESEARCH reply: TAG, UID, MIN, MAX, COUNT, ALL (a set), MODSEQ; tagged)."""
    conn.n += 1
    tag = "e%d" % conn.n
    conn.send((tag + " " + ("UID " if uid else "") + "SEARCH " + args + "\r\n").encode())
    unt, r = conn.until(tag)
    out = None
    for u in unt:
        m = re.match(r'\* ESEARCH(?: \(TAG "([^"]*)"\))?( UID)?((?: [A-Z]+ [0-9:,]+)*)$', u)
        if m:
            out = {"TAG": m.group(1), "UID": bool(m.group(2))}
            toks = m.group(3).split()
            for k, v in zip(toks[::2], toks[1::2]):
                if k == "ALL":
                    s = set()
                    for part in v.split(","):
                        a, _, b = part.partition(":")
                        lo, hi = sorted((int(a), int(b or a)))
                        s |= set(range(lo, hi + 1))
                    out[k] = s
                else:
                    out[k] = int(v)
        elif u.startswith("* SEARCH"):
            out = ("a SEARCH reply", u)
    return out, r, tag


d, r, tag = esearch(c, "RETURN (MIN MAX COUNT ALL) SEEN")
t.is_(d, {"TAG": tag, "UID": False, "MIN": 1, "MAX": 5, "COUNT": 2, "ALL": {1, 5}},
      "RETURN (MIN MAX COUNT ALL): * ESEARCH (TAG \"...\") MIN 1 MAX 5 COUNT 2 ALL 1,5")
d, r, tag = esearch(c, "RETURN () UNSEEN")
t.is_(d, {"TAG": tag, "UID": False, "ALL": ALL8 - {1, 5}}, "RETURN (): the same as RETURN (ALL), as a sequence set")
d, r, tag = esearch(c, "RETURN (COUNT) ALL", uid=True)
t.is_(d, {"TAG": tag, "UID": True, "COUNT": 8}, "UID SEARCH RETURN (COUNT): UID in the reply")
d, r, tag = esearch(c, "RETURN (MIN MAX) SEEN", uid=True)
t.is_(d, {"TAG": tag, "UID": True, "MIN": 2, "MAX": 6}, "UID SEARCH RETURN (MIN MAX): UIDs")
d, r, tag = esearch(c, "RETURN (ALL) SEEN DELETED")
t.is_(d, {"TAG": tag, "UID": False}, "no match with RETURN (ALL): * ESEARCH (TAG \"...\") alone")
d, r, tag = esearch(c, "RETURN (MIN MAX COUNT) KEYWORD $NeverUsed")
t.is_(d, {"TAG": tag, "UID": False, "COUNT": 0}, "no match: COUNT 0, no MIN or MAX")
d, r, tag = esearch(c, "RETURN (min) all")
t.is_(d, {"TAG": tag, "UID": False, "MIN": 1}, "return options case-insensitive; MIN alone")
d, r, tag = esearch(c, "RETURN (COUNT) CHARSET UTF-8 SUBJECT caf")
t.is_(d, {"TAG": tag, "UID": False, "COUNT": 1}, "RETURN then CHARSET")
# MODSEQ in ESEARCH (RFC 4731 3.2, RFC 7162 3.1.10)
d, r, tag = esearch(c, "RETURN (ALL) MODSEQ 1")
t.is_(d, {"TAG": tag, "UID": False, "ALL": ALL8, "MODSEQ": top}, "RETURN (ALL) MODSEQ: MODSEQ the highest of them all")
d, r, tag = esearch(c, "RETURN (MIN) MODSEQ 1")
t.is_(d, {"TAG": tag, "UID": False, "MIN": 1, "MODSEQ": MS[1]}, "RETURN (MIN) MODSEQ: the MODSEQ of the MIN message (RFC 4731 3.2)")
d, r, tag = esearch(c, "RETURN (MAX) MODSEQ 1")
t.is_(d, {"TAG": tag, "UID": False, "MAX": 8, "MODSEQ": MS[8]}, "RETURN (MAX) MODSEQ: that of the MAX message")
d, r, tag = esearch(c, "RETURN (MIN MAX) MODSEQ 1")
t.is_(d, {"TAG": tag, "UID": False, "MIN": 1, "MAX": 8, "MODSEQ": max(MS[1], MS[8])},
      "RETURN (MIN MAX) MODSEQ: the higher of those two")
d, r, tag = esearch(c, "RETURN (COUNT) MODSEQ %d" % (top + 1))
t.is_(d, {"TAG": tag, "UID": False, "COUNT": 0}, "no match: no MODSEQ in the ESEARCH reply")

# ---- errors (RFC 3501 6.4.4: BAD for a syntax error) ----
for args, what in (("FOOBAR", "an unknown key"), ("SUBJECT", "SUBJECT without its string"),
                   ("HEADER Subject", "HEADER without the string"), ("KEYWORD", "KEYWORD without a keyword"),
                   ("BEFORE notadate", "a bad date"), ("ON 31-Foo-2026", "an unknown month"),
                   ("SINCE \"1-Jun-2026 10:00:00\"", "a date-time where a date goes"),
                   ("LARGER abc", "a bad number"), ("SMALLER", "SMALLER without a number"),
                   ("OR SEEN", "OR with one key"), ("NOT", "NOT with nothing"),
                   ("(SEEN", "an unclosed parenthesis"), ("SEEN)", "a parenthesis too many"), ("()", "an empty list"),
                   ("UID", "UID without a set"), ("UID abc", "UID with a bad set"), ("0:3", "message number 0"),
                   ("MODSEQ", "MODSEQ without a number"), ("MODSEQ abc", "MODSEQ with a bad number"),
                   ('MODSEQ "/flags/\\\\Seen" nosuchtype 1', "MODSEQ with an unknown entry type"),
                   ("RETURN (NONSENSE) ALL", "an unknown RETURN option"), ("RETURN (MIN", "an unclosed RETURN list"),
                   ("CHARSET", "CHARSET without a name"), ("", "no key at all")):
    n, ms, unt, r = c.search(args)
    t.ok(re.match(r"s\d+ BAD", r) is not None and not [u for u in unt if u.startswith("* SEARCH") or u.startswith("* ESEARCH")],
         "SEARCH %s: BAD (%s)" % (args, what), (unt, r))
unt, r = c.cmd("NOOP")
t.ok(" OK" in r, "the session goes on after the BADs", r)
c.cmd("UNSELECT")
n, ms, unt, r = c.search("ALL")
t.ok(re.match(r"s\d+ (BAD|NO)", r) is not None and not [u for u in unt if u.startswith("* SEARCH")],
     "SEARCH with no folder selected: refused", (unt, r))
c.cmd("LOGOUT")
c.close()
rc, out = inst.check()
t.ok(rc == 0, "mailbox-check: the index agrees with the Maildir", out)
t.done()
