#!/usr/bin/python3
# imap-serve: SORT and UID SORT (RFC 5256 3), DISPLAYFROM and DISPLAYTO
# (RFC 5957), ESORT (RFC 5267 3):
# - the base subject of RFC 5256 2.1: "Re:", "Fw:", "Fwd:" (any case,
#   repeated, with a blob as in "Re[2]:"), leading [blobs], a lone blob
#   kept, trailing "(fwd)", "[Fwd: ...]" wrapping, RFC 2047 words decoded
#   first, white space runs and folding as one space;
# - FROM, TO and CC by the first address's mailbox, a group by its name;
#   DISPLAYFROM and DISPLAYTO by the decoded display name, else
#   mailbox@host; DATE by the Date: field in UTC, INTERNALDATE without
#   one; ARRIVAL; SIZE (RFC822.SIZE);
# - REVERSE turns its own key only, ties by message number; several keys;
# - the search program (a CHARSET is required), UID SORT, MODSEQ (RFC
#   7162 3.1.5), RETURN (MIN MAX COUNT ALL) in sort order;
# - the same answers from the file (first SORT) and from the cache;
# - errors: unknown or missing keys, REVERSE alone, no charset, an
#   unknown charset (NO [BADCHARSET]), no mailbox selected.

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


def when(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%d %H:%M"))


# (Subject field, its base subject as RFC 5256 2.1 makes it (upper-cased),
#  From, To, Date field or None, INTERNALDATE, extra body lines)
MSGS = [
    ("Re: [list] hello world (fwd)", "HELLO WORLD", "Zed <alpha@example.org>", "bob@example.net",
     "Mon, 1 Jun 2026 10:00:00 +0000", "2026-06-05 10:00", 1),
    ("[Fwd: Re: Hello   world]", "HELLO WORLD", "Adam <zulu@example.org>", "\"Zoe\" <amy@example.net>",
     "Mon, 1 Jun 2026 11:30:00 +0200", "2026-06-04 10:00", 40),
    ("FW: zeta", "ZETA", "mike@example.com", "undisclosed-recipients:;",
     None, "2026-05-30 10:00", 3),
    ("Re[2]: alpha", "ALPHA", "=?UTF-8?Q?=C3=89mile?= <emile@example.fr>", "carl@example.net",
     "Sun, 31 May 2026 23:00:00 -0500", "2026-06-03 10:00", 10),
    ("[PATCH] [v2] beta", "BETA", "\"Bea\" <bea@example.org>", "Dan <dan@example.net>",
     "Mon, 1 Jun 2026 01:00:00 +0000", "2026-06-02 10:00", 2),
    ("[only blob]", "[ONLY BLOB]", "nina@example.org", "ed@example.net",
     "Tue, 2 Jun 2026 08:00:00 +0000", "2026-06-01 10:00", 7),
    ("=?UTF-8?Q?Re=3A_gamma?=", "GAMMA", "olga@example.org", "fay@example.net",
     "Tue, 2 Jun 2026 09:00:00 +0000", "2026-06-06 10:00", 5),
    (None, "", "paul@example.org", "gus@example.net",
     "Tue, 2 Jun 2026 10:00:00 +0000", "2026-06-07 10:00", 1),
    ("re:Re: RE: alpha", "ALPHA", "quinn@example.org", "hal@example.net",
     "Tue, 2 Jun 2026 11:00:00 +0000", "2026-06-08 10:00", 20),
    ("Fwd: beta (fwd) (FWD)", "BETA", "rita@example.org", "ivy@example.net",
     "Tue, 2 Jun 2026 12:00:00 +0000", "2026-06-09 10:00", 4),
    ("\t delta\t\n  folded", "DELTA FOLDED", "sam@example.org", "jo@example.net",
     "Tue, 2 Jun 2026 13:00:00 +0000", "2026-06-10 10:00", 9),
    ("[a][b] Re: [c] Fwd: epsilon", "EPSILON", "tom@example.org", "kim@example.net",
     "Tue, 2 Jun 2026 14:00:00 +0000", "2026-06-11 10:00", 6),
]
N = len(MSGS)
files = []
for i, (subj, base, frm, to, date, idate, nbody) in enumerate(MSGS):
    h = "From: %s\nTo: %s\n" % (frm, to)
    if subj is not None:
        h += "Subject: %s\n" % subj
    if date:
        h += "Date: %s\n" % date
    h += "Message-ID: <s%d@example.test>\n" % (i + 1)
    data = (h + "\n" + "body line\n" * nbody).encode()
    p = inst.put(data, "%d.M%dP1.host" % (1780000000 + i, i + 1))
    os.utime(p, (when(idate), when(idate)))
    files.append(data)
SIZES = [len(d.replace(b"\n", b"\r\n")) for d in files]

c = ternlib.ImapConn(port)
c.cmd("LOGIN demo@example.test demo")
unt, _ = c.cmd("CAPABILITY")
caps = unt[0].split()
t.ok(all(x in caps for x in ("SORT", "SORT=DISPLAY", "ESORT")), "CAPABILITY has SORT, SORT=DISPLAY and ESORT", unt)
unt, r = c.cmd("SORT (ARRIVAL) UTF-8 ALL")
t.ok(r.split()[1] == "BAD", "SORT with no mailbox selected: BAD", r)
unt, r = c.cmd("SELECT INBOX")
t.ok("* %d EXISTS" % N in unt, "SELECT: %d messages" % N, unt)


def sort(args, uid=False):
    unt, r = c.cmd(("UID " if uid else "") + "SORT " + args)
    lines = [x for x in unt if x.startswith("* SORT")]
    if " OK " not in r or len(lines) != 1:
        return None, unt, r
    return [int(x) for x in lines[0].split()[2:] if x.isdigit()], lines[0], r


def expect(keyf, reverse=False):
    """message numbers sorted by keyf(i) (i from 0), ties by number"""
    ids = list(range(N))
    ids.sort(key=lambda i: i)
    ids.sort(key=keyf, reverse=reverse)   # stable: ties stay ascending
    return [i + 1 for i in ids]


def up(s):
    return s.upper().encode()


def mailbox(a):
    a = a.strip()
    if a.endswith(":;"):
        return a[:-2]
    m = re.search(r"<([^@>]*)@", a)
    return m.group(1) if m else a.split("@")[0]


def display(a):
    a = a.strip()
    if a.endswith(":;"):
        return a[:-2]
    if "=?UTF-8?Q?=C3=89mile?=" in a:
        return "\u00c9mile"
    m = re.match(r'"?([^"<]*?)"?\s*<', a)
    if m and m.group(1):
        return m.group(1)
    return a.strip("<>")


def sent(i):
    d = MSGS[i][4]
    if d is None:
        return when(MSGS[i][5])
    tm = time.strptime(d[:-6], "%a, %d %b %Y %H:%M:%S")
    z = d[-5:]
    off = (int(z[1:3]) * 60 + int(z[3:])) * (1 if z[0] == "+" else -1)
    return calendar.timegm(tm) - off * 60


SUBJ = expect(lambda i: up(MSGS[i][1]))
for rnd in ("from the files", "from the cache"):
    got, line, r = sort("(SUBJECT) UTF-8 ALL")
    t.ok(got == SUBJ, "SORT (SUBJECT), %s: the base subjects of RFC 5256 2.1" % rnd, (got, SUBJ, line, r))
# each base subject, by the group it falls in
groups = {}
for i, m in enumerate(MSGS):
    groups.setdefault(m[1], []).append(i + 1)
for base, ids in sorted(groups.items()):
    if len(ids) > 1:
        pos = [SUBJ.index(x) for x in ids]
        t.ok(got and [got[p] for p in pos] == ids and max(pos) - min(pos) == len(ids) - 1,
             "base subject %r: messages %s together" % (base, ids), got)
t.ok(got and got[0] == 8, "no Subject sorts first (the empty string)", got)

CASES = [
    ("(ARRIVAL)", expect(lambda i: when(MSGS[i][5])), "ARRIVAL: INTERNALDATE"),
    ("(REVERSE ARRIVAL)", expect(lambda i: when(MSGS[i][5]), True), "REVERSE ARRIVAL"),
    ("(DATE)", expect(sent), "DATE: the Date: field in UTC; INTERNALDATE without one (message 3)"),
    ("(SIZE)", expect(lambda i: SIZES[i]), "SIZE: RFC822.SIZE"),
    ("(REVERSE SIZE)", expect(lambda i: SIZES[i], True), "REVERSE SIZE"),
    ("(FROM)", expect(lambda i: up(mailbox(MSGS[i][2]))), "FROM: the mailbox, not the display name"),
    ("(TO)", expect(lambda i: up(mailbox(MSGS[i][3]))), "TO: a group by its name"),
    ("(CC)", list(range(1, N + 1)), "CC: no message has one: message number order"),
    ("(REVERSE CC)", list(range(1, N + 1)), "REVERSE CC: ties stay in message number order"),
    ("(DISPLAYFROM)", expect(lambda i: up(display(MSGS[i][2]))), "DISPLAYFROM: decoded display names, else the address"),
    ("(DISPLAYTO)", expect(lambda i: up(display(MSGS[i][3]))), "DISPLAYTO: a group by its name"),
    ("(SUBJECT REVERSE DATE)", expect(lambda i: (up(MSGS[i][1]), -sent(i))),
     "SUBJECT then REVERSE DATE: REVERSE turns the second key only"),
    ("(reverse subject arrival)", sorted(expect(lambda i: when(MSGS[i][5])), key=lambda n: up(MSGS[n - 1][1]), reverse=True),
     "REVERSE SUBJECT then ARRIVAL (1 and 2 tie on the subject, 2 came first), keys in any case"),
]
for args, want, what in CASES:
    got, line, r = sort(args + " US-ASCII ALL")
    t.ok(got == want, "SORT %s: %s" % (args, what), (got, want, line, r))

# the search program
got, line, r = sort("(SUBJECT) UTF-8 SUBJECT alpha")
t.ok(got == [4, 9], "SORT with a search key: only the hits, sorted", (got, line, r))
got, line, r = sort("(SIZE) UTF-8 OR FROM zulu FROM alpha")
t.ok(got == sorted([1, 2], key=lambda i: SIZES[i - 1]), "SORT with OR", (got, line, r))
got, line, r = sort("(ARRIVAL) UTF-8 SUBJECT nothingmatches")
t.ok(got == [] and line == "* SORT", "SORT with no hit: an empty * SORT", (got, line, r))
# UIDs: expunge message 1 so that numbers and UIDs differ
c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
c.cmd("EXPUNGE")
got, line, r = sort("(SIZE) UTF-8 ALL")
gotu, lineu, ru = sort("(SIZE) UTF-8 ALL", uid=True)
t.ok(got is not None and gotu == [x + 1 for x in got], "UID SORT: the same order as UIDs", (got, gotu))
got, line, r = sort("(ARRIVAL) UTF-8 UID 5:7")
t.ok(got == expect(lambda i: when(MSGS[i][5]))[0:0] + sorted([4, 5, 6], key=lambda n: when(MSGS[n][5])),
     "SORT with a UID set", (got, line, r))
# MODSEQ (RFC 7162 3.1.5)
c.cmd("STORE 3 +FLAGS.SILENT (\\Flagged)")
unt, r = c.cmd("FETCH 1:* (MODSEQ)")
ms = [max(int(x) for x in re.findall(r"MODSEQ \((\d+)\)", " ".join(unt)))]
got, line, r = sort("(ARRIVAL) UTF-8 MODSEQ 1")
t.ok(got is not None and ms and line.endswith("(MODSEQ %d)" % ms[0]), "SORT with MODSEQ: (MODSEQ highest)", (line, ms, unt))

# ESORT
order = sort("(REVERSE SIZE) UTF-8 ALL")[0]
unt, r = c.cmd("SORT RETURN (MIN MAX COUNT) (REVERSE SIZE) UTF-8 ALL")
t.ok(" OK " in r and unt == ['* ESEARCH (TAG "%s") MIN %d MAX %d COUNT %d' % ("t%d" % c.n, order[0], order[-1], len(order))],
     "ESORT RETURN (MIN MAX COUNT): the first and last in sort order", (unt, order))
unt, r = c.cmd("SORT RETURN (ALL) (REVERSE SIZE) UTF-8 ALL")
m = re.match(r'\* ESEARCH \(TAG "[^"]+"\) ALL (\S+)$', unt[0] if unt else "")
seq = []
for part in (m.group(1).split(",") if m else []):
    a, _, b = part.partition(":")
    seq += list(range(int(a), int(b) + 1)) if b else [int(a)]
t.ok(seq == order, "ESORT RETURN (ALL): every number in sort order", (unt, order))
unt, r = c.cmd("SORT RETURN () (ARRIVAL) UTF-8 ALL")
t.ok(len(unt) == 1 and re.search(r"\) ALL \d", unt[0]) and " OK " in r, "ESORT RETURN (): ALL", unt)
unt, r = c.cmd("UID SORT RETURN (MIN COUNT) (ARRIVAL) UTF-8 SUBJECT nothingmatches")
t.ok(len(unt) == 1 and re.match(r'\* ESEARCH \(TAG "[^"]+"\) UID COUNT 0$', unt[0]), "UID ESORT with no hit: COUNT 0, no MIN", unt)

# errors
for args, what in [("(NOSUCHKEY) UTF-8 ALL", "an unknown key"), ("() UTF-8 ALL", "no key"),
                   ("(REVERSE) UTF-8 ALL", "REVERSE alone"), ("(REVERSE REVERSE DATE) UTF-8 ALL", "REVERSE twice"),
                   ("(ARRIVAL) ALL", "no charset"), ("(ARRIVAL)", "no charset nor search"),
                   ("ARRIVAL UTF-8 ALL", "criteria without parentheses"),
                   ("RETURN (FOO) (ARRIVAL) UTF-8 ALL", "an unknown RETURN option"),
                   ("(ARRIVAL) UTF-8 NOSUCHSEARCHKEY", "a bad search key")]:
    unt, r = c.cmd("SORT " + args)
    t.ok(r.split()[1] == "BAD", "SORT %s: BAD (%s)" % (args, what), r)
unt, r = c.cmd("SORT (ARRIVAL) KOI8-R ALL")
t.ok(r.split()[1] == "NO" and "[BADCHARSET" in r, "an unknown charset: NO [BADCHARSET]", r)
unt, r = c.cmd("NOOP")
t.ok(" OK " in r, "the session goes on", r)
c.cmd("LOGOUT")
c.close()
t.done()
