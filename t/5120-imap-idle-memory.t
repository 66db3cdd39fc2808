#!/usr/bin/python3
# An idle session costs little whatever the folder's size: a second
# after its last command imap-serve stops mapping the pages of the
# folder's index (imap-serve(8): they stay in the page cache) and gives
# back its heap's free memory and its unused stack; the next command
# reads the index again and answers as before.

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
MD = inst.maildir()
port = inst.imap()
N = 3000
for i in range(N):
    inst.put("From: a@remote.test\nTo: demo@example.test\nSubject: idle %d\nMessage-ID: <%d@idle.test>\n\nbody %d\n"
             % (i, i, i), "17200%05d.M%dP1Q1.idle" % (i, i), sub="new" if i % 2 else "cur")

c = ternlib.ImapConn(port)
c.cmd('LOGIN "demo@example.test" "demo"')
lines, r = c.cmd("SELECT INBOX")
t.ok(r.endswith("OK [READ-WRITE] Select completed") and ("* %d EXISTS" % N) in lines, "SELECT of %d messages" % N, (lines, r))
index = os.path.join(MD, "tern-index", "data.mdb")


def mapped():
    """KiB of the index mapped by the imap-serve process that has it open (None: no such process)."""
    ino = os.stat(index).st_ino
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if open("/proc/%s/comm" % pid).read().strip() != "imap-serve":
                continue
            sm = open("/proc/%s/smaps" % pid).read().split("\n")
        except OSError:
            continue
        kib, cur = None, False
        for l in sm:
            f = l.split()
            if f and "-" in f[0] and len(f) >= 5 and not f[0].endswith(":"):
                cur = len(f) >= 6 and f[4] == str(ino) and f[-1] == index
                continue
            if cur and f and f[0] == "Rss:":
                kib = (kib or 0) + int(f[1])
        if kib is not None:
            return kib
    return None


lines, r = c.cmd("FETCH 1:* (FLAGS RFC822.SIZE)")
t.ok(r.endswith("OK Fetch completed") and sum(1 for l in lines if " FETCH (" in l) == N, "FETCH 1:* answers every message", r)
busy = mapped()
t.ok(busy is not None and busy > 0, "after a FETCH the session maps the index's pages (%s KiB)" % busy)
time.sleep(2)
quiet = mapped()
t.is_(quiet, 0, "a second idle: none of them mapped any more")
lines, r = c.cmd("UID FETCH %d (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % N)
t.ok(r.endswith("OK Fetch completed") and any("Subject: idle %d" % (N - 1) in l for l in lines),
     "the next command reads the index (and the message) again", (lines, r))
lines, r = c.cmd("UID SEARCH SUBJECT \"idle 1234\"")
t.ok(any(l.startswith("* SEARCH ") and l.split()[2:] == ["1235"] for l in lines), "and SEARCH too", lines)
c.cmd("LOGOUT")
c.close()
t.done()
