#!/usr/bin/python3
# imap-serve: THREAD and UID THREAD (RFC 5256 3), ORDEREDSUBJECT and
# REFERENCES:
# - REFERENCES: parents from References, else the first ID of
#   In-Reply-To; a missing parent with two replies stays as a dummy at
#   the top ("((5)(6))"); a reply by subject alone ("Re: topic") goes
#   under the thread of "topic"; two threads with the same subject, neither
#   a reply, under a new dummy; msg-ids compared after their quotes are
#   taken off; a duplicate Message-ID counts for the first message only;
#   a References loop broken; no Date: the INTERNALDATE; top level and
#   siblings by sent date;
# - ORDEREDSUBJECT on the same messages;
# - the search program, UID THREAD, an empty result;
# - a chain of 2,000 replies (no stack limit in the walk);
# - errors: an unknown algorithm, no charset, an unknown charset.

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


# (Message-ID, other fields, Subject, time on 2026-06-01 or None for no Date:)
MSGS = [
    ("<a@x>", "", "topic", "10:00"),                                        # 1
    ("<b@x>", "References: <a@x>\n", "Re: topic", "10:05"),                 # 2
    ("<c@x>", "References: <a@x>\n <b@x>\n", "Re: topic", "10:10"),         # 3
    ("<d@x>", "In-Reply-To: <a@x> (Ann's message of today)\n", "Re: topic", "10:15"),  # 4
    ("<e@x>", "References: <missing@x>\n", "lonely", "10:20"),              # 5
    ("<f@x>", "References: <missing@x>\n", "Re: lonely", "10:25"),          # 6
    ("<g@x>", "", "Re: topic", "10:30"),                                    # 7
    ("<h@x>", "", "news", "10:35"),                                         # 8
    ("<i@x>", "", "news", "10:40"),                                         # 9
    ('<"quoted"@x>', "", "quote", "10:45"),                                 # 10
    ("<j@x>", "References: <quoted@x>\n", "other subject", "10:50"),        # 11
    ("<h@x>", "", "dup", "10:55"),                                          # 12
    ("<k@x>", "References: <h@x>\n", "zz", "11:00"),                        # 13
    ("<l1@x>", "References: <l2@x>\n", "loop1", "11:05"),                   # 14
    ("<l2@x>", "References: <l1@x>\n", "loop2", "11:10"),                   # 15
    ("<m@x>", "", "early", None),                                           # 16
]
REFS = "(16)(1 (2 3)(4)(7))((5)(6))((8 13)(9))(10 11)(12)(15 14)"
ORDERED = "(16)(1 (2)(3)(4)(7))(5 6)(8 9)(10)(11)(12)(13)(14)(15)"

# A first message, expunged before the others come, so that UIDs are
# message numbers + 1.
inst.put(b"Subject: gone\n\nx\n", "1779999999.M0P0.host")
c = ternlib.ImapConn(port)
c.cmd("LOGIN demo@example.test demo")
c.cmd("SELECT INBOX")
c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
c.cmd("EXPUNGE")
c.cmd("UNSELECT")
for i, (mid, extra, subj, hm) in enumerate(MSGS):
    h = "From: someone@example.org\nTo: demo@example.test\nSubject: %s\nMessage-ID: %s\n%s" % (subj, mid, extra)
    if hm:
        h += "Date: Mon, 1 Jun 2026 %s:00 +0000\n" % hm
    p = inst.put((h + "\nbody %d\n" % (i + 1)).encode(), "%d.M%dP1.host" % (1780000000 + i, i + 1))
    os.utime(p, (when("2026-05-31 09:00"), when("2026-05-31 09:00")))
N = len(MSGS)

unt, _ = c.cmd("CAPABILITY")
caps = unt[0].split()
t.ok("THREAD=REFERENCES" in caps and "THREAD=ORDEREDSUBJECT" in caps, "CAPABILITY has THREAD=REFERENCES and THREAD=ORDEREDSUBJECT", unt)
unt, r = c.cmd("THREAD REFERENCES UTF-8 ALL")
t.ok(r.split()[1] == "BAD", "THREAD with no mailbox selected: BAD", r)
unt, r = c.cmd("SELECT INBOX")
t.ok("* %d EXISTS" % N in unt, "SELECT: %d messages" % N, unt)


def thread(args, uid=False):
    unt, r = c.cmd(("UID " if uid else "") + "THREAD " + args)
    lines = [x for x in unt if x.startswith("* THREAD")]
    return (lines[0][len("* THREAD"):].strip() if len(lines) == 1 and " OK " in r else None), unt, r


for rnd in ("from the files", "from the cache"):
    got, unt, r = thread("REFERENCES UTF-8 ALL")
    t.is_(got, REFS, "THREAD REFERENCES, %s: RFC 5256 3's steps" % rnd) or t.diag(unt, r)
got, unt, r = thread("ORDEREDSUBJECT US-ASCII ALL")
t.is_(got, ORDERED, "THREAD ORDEREDSUBJECT: by base subject, each subject's first message the parent") or t.diag(unt, r)
got, unt, r = thread("orderedsubject utf-8 SUBJECT topic")
t.is_(got, "(1 (2)(3)(4)(7))", "THREAD with a search key: only the hits") or t.diag(unt, r)
got, unt, r = thread("REFERENCES UTF-8 SUBJECT lonely")
t.is_(got, "((5)(6))", "THREAD REFERENCES of two replies to a missing message") or t.diag(unt, r)
got, unt, r = thread("REFERENCES UTF-8 SUBJECT nothingmatches")
t.is_(got, "", "no hit: an empty * THREAD") or t.diag(unt, r)
got, unt, r = thread("REFERENCES UTF-8 ALL", uid=True)
t.is_(got, re.sub(r"\d+", lambda m: str(int(m.group(0)) + 1), REFS), "UID THREAD: the same threads, in UIDs") or t.diag(unt, r)

for args, what in [("NOSUCHALGO UTF-8 ALL", "an unknown algorithm"), ("REFERENCES ALL", "no charset"),
                   ("REFERENCES", "nothing after the algorithm"), ("(REFERENCES) UTF-8 ALL", "a list for the algorithm"),
                   ("REFERENCES UTF-8 NOSUCHKEY", "a bad search key")]:
    unt, r = c.cmd("THREAD " + args)
    t.ok(r.split()[1] == "BAD", "THREAD %s: BAD (%s)" % (args, what), r)
unt, r = c.cmd("THREAD REFERENCES KOI8-R ALL")
t.ok(r.split()[1] == "NO" and "[BADCHARSET" in r, "an unknown charset: NO [BADCHARSET]", r)

# a chain of 2,000 replies, each to the one before
DEEP = 2000
box = "example.test/demo/.Deep"
inst.maildir(box)
for i in range(1, DEEP + 1):
    refs = "References: <deep%d@x>\n" % (i - 1) if i > 1 else ""
    data = "Subject: Re: deep\nMessage-ID: <deep%d@x>\n%sDate: Mon, 1 Jun 2026 10:00:%02d +0000\n\nx\n" % (i, refs, i % 60)
    inst.put(data.encode(), "%d.M%dP2.host" % (1790000000 + i, i), mailbox=box)
try:
    unt, r = c.cmd("SELECT Deep")
except EOFError:
    with open(inst.path("log", "stderr"), errors="replace") as f:
        t.diag("the session ended; its log: " + f.read()[-3000:])
    raise
t.ok("* %d EXISTS" % DEEP in unt, "a folder of %d messages" % DEEP, unt[:5])
got, unt, r = thread("REFERENCES UTF-8 ALL")
t.is_(got, "(" + " ".join(str(i) for i in range(1, DEEP + 1)) + ")", "a chain of %d replies: one thread, each the child of the one before" % DEEP)
unt, r = c.cmd("NOOP")
t.ok(" OK " in r, "the session goes on", r)
c.cmd("LOGOUT")
c.close()
t.done()
