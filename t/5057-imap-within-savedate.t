#!/usr/bin/python3
# imap-serve: WITHIN (RFC 5032: SEARCH OLDER and YOUNGER, seconds before
# now against INTERNALDATE) and SAVEDATE (RFC 8514: FETCH SAVEDATE, SEARCH
# SAVEDBEFORE, SAVEDON, SAVEDSINCE, SAVEDATESUPPORTED):
# - OLDER/YOUNGER on messages 10 days, 2 hours and 30 s old, combined, in
#   UID SEARCH, and 0 or a non-number refused (BAD: nz-number);
# - SAVEDATE is when the message came into the folder: an APPEND with an
#   INTERNALDATE of 2020 has a save date of now; a COPY's or a MOVE's save
#   date is its own; the SAVED* keys compare its day (UTC).

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
inst.maildir("example.test/demo/.Other")
now = time.time()
AGES = [10 * 86400, 2 * 3600, 30]
for i, age in enumerate(AGES):
    p = inst.put(("Subject: m%d\n\nx\n" % (i + 1)).encode(), "%d.M%dP1.host" % (1780000000 + i, i + 1))
    os.utime(p, (now - age, now - age))


def search(c, q, uid=False):
    unt, r = c.cmd(("UID " if uid else "") + "SEARCH " + q)
    lines = [u for u in unt if u.startswith("* SEARCH")]
    return (set(int(x) for x in lines[0].split()[2:]) if lines and " OK " in r else None), r


def imapdate(s):
    return calendar.timegm(time.strptime(s[:20], "%d-%b-%Y %H:%M:%S")) - (1 if s[21] == "+" else -1) * (int(s[22:24]) * 3600 + int(s[24:26]) * 60)


c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
caps = r.split("[CAPABILITY ", 1)[1].split("]")[0].split() if "[CAPABILITY " in r else []
t.ok("WITHIN" in caps and "SAVEDATE" in caps, "WITHIN and SAVEDATE in the capabilities", r)
unt, r = c.cmd("SELECT INBOX")
CASES = [
    ("OLDER 3600", {1, 2}, "OLDER 3600: INTERNALDATE more than an hour ago"),
    ("YOUNGER 3600", {3}, "YOUNGER 3600: within the hour"),
    ("YOUNGER 2592000", {1, 2, 3}, "YOUNGER 30 days: all"),
    ("OLDER 2592000", set(), "OLDER 30 days: none"),
    ("OLDER 3600 YOUNGER 86400", {2}, "OLDER and YOUNGER together: between an hour and a day"),
    ("NOT YOUNGER 60", {1, 2}, "NOT YOUNGER 60"),
]
for q, want, what in CASES:
    got, r = search(c, q)
    t.is_(got, want, what) or t.diag(r)
got, r = search(c, "YOUNGER 3600", uid=True)
unt, _ = c.cmd("FETCH 3 (UID)")
u3 = int(re.search(r"UID (\d+)", unt[0]).group(1))
t.is_(got, {u3}, "UID SEARCH YOUNGER 3600: the UID")
for q, what in (("OLDER 0", "0 is no interval"), ("YOUNGER -5", "a negative number"), ("OLDER", "no argument"),
                ("YOUNGER abc", "not a number")):
    unt, r = c.cmd("SEARCH " + q)
    t.ok(r.split()[1] == "BAD", "SEARCH %s: BAD (%s)" % (q, what), r)

# SAVEDATE
msg = b"Subject: appended\r\n\r\nold mail\r\n"
c.send(b'a1 APPEND INBOX "01-Feb-2020 10:00:00 +0000" {%d+}\r\n' % len(msg) + msg + b"\r\n")
unt, r = c.until("a1")
t.ok(" OK " in r, "APPEND with an INTERNALDATE of 2020", r)
c.cmd("NOOP")
unt, r = c.cmd("FETCH 4 (INTERNALDATE SAVEDATE)")
m = re.search(r'INTERNALDATE "([^"]+)" SAVEDATE "([^"]+)"', unt[0] if unt else "")
t.ok(m and m.group(1).strip() == "1-Feb-2020 10:00:00 +0000", "INTERNALDATE as APPEND gave it", unt)
t.ok(m and abs(imapdate(m.group(2)) - time.time()) < 120 and m.group(2).endswith("+0000"),
     "SAVEDATE: when it was saved, now (in +0000)", unt)
unt, r = c.cmd("FETCH 1:* (SAVEDATE)")
dates = re.findall(r'SAVEDATE "([^"]+)"', " ".join(unt))
t.ok(len(dates) == 4 and all(abs(imapdate(d) - now) < 300 for d in dates),
     "FETCH 1:* SAVEDATE: the files put there today were saved today, whatever their INTERNALDATE", unt)
today = time.strftime("%d-%b-%Y", time.gmtime())
yesterday = time.strftime("%d-%b-%Y", time.gmtime(time.time() - 86400))
tomorrow = time.strftime("%d-%b-%Y", time.gmtime(time.time() + 86400))
for q, want, what in [("SAVEDON " + today, {1, 2, 3, 4}, "SAVEDON today: all"),
                      ("SAVEDBEFORE " + today, set(), "SAVEDBEFORE today: none"),
                      ("SAVEDSINCE " + tomorrow, set(), "SAVEDSINCE tomorrow: none"),
                      ("SAVEDSINCE " + yesterday, {1, 2, 3, 4}, "SAVEDSINCE yesterday: all"),
                      ("SAVEDBEFORE " + tomorrow + " BEFORE 1-Jan-2021", {4}, "a SAVED key with BEFORE (INTERNALDATE)"),
                      ("SAVEDATESUPPORTED", {1, 2, 3, 4}, "SAVEDATESUPPORTED: every message (RFC 8514 4)")]:
    got, r = search(c, q)
    t.is_(got, want, what) or t.diag(r)
unt, r = c.cmd("SEARCH SAVEDON 32-Jan-2026")
t.ok(r.split()[1] == "BAD", "SAVEDON with a bad date: BAD", r)
# a COPY's save date is its own
time.sleep(1.1)
unt, r = c.cmd("COPY 4 Other")
c.cmd("SELECT Other")
unt2, r2 = c.cmd("FETCH 1 (INTERNALDATE SAVEDATE)")
m2 = re.search(r'INTERNALDATE "([^"]+)" SAVEDATE "([^"]+)"', unt2[0] if unt2 else "")
t.ok(m2 and m2.group(1).strip() == "1-Feb-2020 10:00:00 +0000" and m and imapdate(m2.group(2)) > imapdate(m.group(2)),
     "COPY: the INTERNALDATE kept, a save date of the copy's own", (unt2, m and m.group(2)))
time.sleep(1.1)
unt, r = c.cmd("MOVE 1 INBOX")
c.cmd("SELECT INBOX")
unt3, r3 = c.cmd("FETCH 5 (INTERNALDATE SAVEDATE)")
m3 = re.search(r'INTERNALDATE "([^"]+)" SAVEDATE "([^"]+)"', unt3[0] if unt3 else "")
t.ok(m3 and m2 and m3.group(1).strip() == "1-Feb-2020 10:00:00 +0000" and imapdate(m3.group(2)) > imapdate(m2.group(2)),
     "MOVE: a save date of the move's own", (r, unt3, m2 and m2.group(2)))
c.cmd("LOGOUT")
c.close()
t.done()
