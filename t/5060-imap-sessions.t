#!/usr/bin/python3
# imap-serve: several sessions on one mailbox.
# - another session's flag change is told at the next NOOP as an
#   untagged FETCH, once (RFC 3501 7.4.1, 5.2);
# - another session's EXPUNGE is told at NOOP, never while answering
#   FETCH, STORE or SEARCH (RFC 3501 7.4.1), and message numbers stay
#   the client's until then;
# - new messages (APPEND by another session, a file written into new/
#   by another program, a delivery by deliver) are told as EXISTS;
# - IDLE (RFC 2177) is woken by each of these and by a POP3 session
#   deleting a message; DONE ends it;
# - CONDSTORE: HIGHESTMODSEQ of SELECT and STATUS grows with every
#   change, other sessions' changes come with MODSEQ and UID (RFC 7162
#   3.1.4.2, 3.2.4);
# - QRESYNC (RFC 7162 3.2): ENABLE QRESYNC, SELECT (QRESYNC (...)) gives
#   VANISHED (EARLIER) and the changed flags; UID FETCH (CHANGEDSINCE m
#   VANISHED); VANISHED instead of EXPUNGE; * OK [CLOSED].
# Every wait is bounded (20 s for an IDLE wake-up); only that the
# response came is asserted, never how fast.

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
USER, PASS = "demo@example.test", "demo"
WAIT = 20


# ---- helpers ----

def login():
    c = ternlib.ImapConn(port)
    _, tg = c.cmd("LOGIN %s %s" % (USER, PASS))
    if " OK " not in tg:
        raise RuntimeError("login failed: " + tg)
    return c


def msg(subject, body="body\n"):
    return "From: a@remote.test\nTo: demo@example.test\nSubject: %s\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n\n%s" % (subject, body)


def append(c, folder, data, flags=""):
    data = data.replace("\n", "\r\n").encode()
    c.n += 1
    tag = "t%d" % c.n
    c.send(("%s APPEND \"%s\" %s{%d}\r\n" % (tag, folder, "(%s) " % flags if flags else "", len(data))).encode())
    ln = c.line().decode(errors="replace")
    if not ln.startswith("+"):
        return ln
    c.send(data + b"\r\n")
    return c.until(tag)[1]


def tagged_ok(tg):
    return re.match(r"^\S+ OK\b", tg) is not None


def fetches(unt):
    out = {}
    for ln in unt:
        m = re.match(r"^\* (\d+) FETCH \((.*)\)$", ln)
        if not m:
            continue
        d = out.setdefault(int(m.group(1)), {})
        body = m.group(2)
        f = re.search(r"FLAGS \(([^)]*)\)", body)
        if f:
            d["FLAGS"] = set(f.group(1).split())
        u = re.search(r"\bUID (\d+)", body)
        if u:
            d["UID"] = int(u.group(1))
        ms = re.search(r"MODSEQ \((\d+)\)", body)
        if ms:
            d["MODSEQ"] = int(ms.group(1))
    return out


def expunges(unt):
    return [int(m.group(1)) for m in (re.match(r"^\* (\d+) EXPUNGE$", ln) for ln in unt) if m]


def exists(unt):
    n = [int(m.group(1)) for m in (re.match(r"^\* (\d+) EXISTS$", ln) for ln in unt) if m]
    return n[-1] if n else None


def vanished(unt, earlier):
    """The UIDs of * VANISHED [(EARLIER)] lines."""
    out = []
    for ln in unt:
        m = re.match(r"^\* VANISHED (\(EARLIER\) )?([\d:,]+)$", ln)
        if m and bool(m.group(1)) == earlier:
            out += uidset(m.group(2))
    return sorted(out)


def uidset(s):
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out += list(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


def code(unt, name):
    for ln in unt:
        m = re.match(r"^\* OK \[%s(?: ([^\]]*))?\]" % name, ln)
        if m:
            return m.group(1) or ""
    return None


def uids(c):
    unt, tg = c.cmd("UID FETCH 1:* (UID)")
    f = fetches(unt)
    return [f[k]["UID"] for k in sorted(f)]


def hms_status(c, folder="INBOX"):
    unt, tg = c.cmd("STATUS %s (HIGHESTMODSEQ)" % folder)
    for ln in unt:
        m = re.match(r"^\* STATUS \S+ \(HIGHESTMODSEQ (\d+)\)$", ln)
        if m:
            return int(m.group(1))
    return None


def idle_start(c):
    """Sends IDLE; returns (tag, the continuation line)."""
    c.n += 1
    tag = "t%d" % c.n
    c.send(tag + " IDLE\r\n")
    first = []
    while True:
        ln = c.line().decode(errors="replace")
        if ln.startswith("+"):
            return tag, ln, first
        first.append(ln)
        if ln.startswith(tag + " "):
            return tag, None, first


def idle_wait(c, pred, timeout=WAIT):
    """Untagged lines read while idling until one satisfies pred or the
    time is up: (lines, matched)."""
    end = time.time() + timeout
    got = []
    try:
        while time.time() < end:
            c.s.settimeout(max(0.1, end - time.time()))
            try:
                ln = c.line().decode(errors="replace")
            except socket.timeout:
                break
            got.append(ln)
            if pred(ln):
                return got, True
        return got, False
    finally:
        c.s.settimeout(15)


def idle_done(c, tag):
    c.send("DONE\r\n")
    return c.until(tag)


def deliver(subject):
    r = inst.run(["deliver", "-f", "a@remote.test", "--", USER], input=msg(subject))
    return r.returncode, r.stderr.decode(errors="replace")


def drop(subject, seq):
    """A file written into new/ the Maildir way (tmp/, then a rename), by another program."""
    name = "%d.M%dP%dQ%d.other" % (int(time.time()), seq, os.getpid(), seq)
    tmp = os.path.join(MD, "tmp", name)
    with open(tmp, "w") as f:
        f.write(msg(subject))
    os.chown(tmp, inst.uid, inst.gid)
    os.rename(tmp, os.path.join(MD, "new", name))
    return name


for i in range(1, 6):
    p = inst.put(msg("m%d" % i), "17000000%02d.M1P1Q1.host" % i)
    os.utime(p, (1700000000 + i, 1700000000 + i))

a = login()
b = login()
unt, tg = a.cmd("SELECT INBOX")
t.ok(tagged_ok(tg) and exists(unt) == 5, "session A: SELECT INBOX, 5 messages", unt)
unt, tg = b.cmd("SELECT INBOX")
t.ok(tagged_ok(tg) and exists(unt) == 5, "session B: SELECT INBOX, 5 messages", unt)

# ======== flag changes, at NOOP ========
a.cmd("STORE 1 +FLAGS (\\Flagged)")
unt, tg = b.cmd("NOOP")
f = fetches(unt)
t.ok(tagged_ok(tg) and "\\Flagged" in f.get(1, {}).get("FLAGS", set()),
     "A's STORE 1 +FLAGS (\\Flagged): B's NOOP gets * 1 FETCH (FLAGS (... \\Flagged)) (RFC 3501 7.4.1)", unt)
unt, tg = b.cmd("NOOP")
t.ok(tagged_ok(tg) and not fetches(unt), "B's next NOOP: nothing more (each change is told once)", unt)
unt, tg = a.cmd("NOOP")
t.ok(not fetches(unt), "A is not told again of its own change", unt)

# ======== an expunge, only when the command allows it ========
a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
unt, tg = a.cmd("EXPUNGE")
t.is_(expunges(unt), [2], "A: STORE 2 \\Deleted, EXPUNGE: * 2 EXPUNGE")
unt, tg = b.cmd("FETCH 1:* (FLAGS)")
# (the expunged message itself may be answered with data or with NO: RFC 2180 4.1)
t.ok(re.match(r"^\S+ (OK|NO)\b", tg) and not expunges(unt), "B's FETCH: no EXPUNGE while answering FETCH (RFC 3501 7.4.1)", unt + [tg])
t.ok(all(k in fetches(unt) for k in (1, 3, 4, 5)), "... B's messages 1, 3, 4, 5 are answered under their old numbers", unt)
unt, tg = b.cmd("STORE 3 +FLAGS (\\Seen)")
t.ok(tagged_ok(tg) and not expunges(unt), "B's STORE: no EXPUNGE while answering STORE", unt)
t.ok(3 in fetches(unt), "... and B's message 3 is still message 3 (the numbers are B's until it is told)", unt)
unt, tg = a.cmd("UID FETCH 3 (FLAGS)")
t.ok("\\Seen" in (list(fetches(unt).values()) or [{}])[0].get("FLAGS", set()),
     "B's STORE 3 changed UID 3, the message B calls 3", unt)
unt, tg = b.cmd("SEARCH ALL")
t.ok(tagged_ok(tg) and not expunges(unt), "B's SEARCH: no EXPUNGE while answering SEARCH", unt)
unt, tg = b.cmd("NOOP")
t.is_(expunges(unt), [2], "B's NOOP: * 2 EXPUNGE, now")
t.is_(uids(b), [1, 3, 4, 5], "B's view: UIDs 1, 3, 4, 5")

# ======== new messages, as EXISTS ========
t.ok(tagged_ok(append(a, "INBOX", msg("appended"))), "A appends a message")
unt, tg = b.cmd("NOOP")
t.is_(exists(unt), 5, "B's NOOP: * 5 EXISTS (RFC 3501 7.3.1)")
drop("dropped", 1)
unt, tg = b.cmd("NOOP")
t.is_(exists(unt), 6, "a file written into new/ by another program: B's NOOP gets * 6 EXISTS")
rc, err = deliver("delivered")
t.ok(rc == 0, "deliver (TERN_DIRECT) delivers a message to the user", err)
unt, tg = b.cmd("NOOP")
t.is_(exists(unt), 7, "after the delivery: B's NOOP gets * 7 EXISTS")
a.cmd("NOOP")
t.is_(uids(b), uids(a), "A (after a NOOP) and B see the same UIDs")


def msg_file(uid, subs=("cur",)):
    """(sub, name) of a UID's message file (the uidlist gives its unique part), or None."""
    with open(os.path.join(MD, "tern-uidlist")) as f:
        uniq = dict(l.split(" ", 1) for l in f.read().split("\n")[1:] if " " in l).get(str(uid))
    for sub in subs:
        for n in os.listdir(os.path.join(MD, sub)):
            if uniq and (n == uniq or n.startswith(uniq + ":")):
                return sub, n
    return None


def cur_file(uid):
    f = msg_file(uid)
    return f[1] if f else None


# another Maildir program (mutt, mbsync) flags a message by renaming it
vb = uids(b)
nm = cur_file(vb[0])
t.ok(nm is not None, "message 1 (UID %d) is in cur/ under its unique name" % vb[0], nm)
if nm:
    os.rename(os.path.join(MD, "cur", nm), os.path.join(MD, "cur", nm.split(":")[0] + ":2,FS"))
unt, tg = b.cmd("NOOP")
f = fetches(unt).get(1, {})
t.ok({"\\Flagged", "\\Seen"} <= f.get("FLAGS", set()), "another program renames it to :2,FS: B's NOOP gets * 1 FETCH (FLAGS (\\Flagged \\Seen ...))", unt)
nm = msg_file(vb[-1], ("cur", "new"))
t.ok(nm is not None, "the last message (UID %d) has a file" % vb[-1])
if nm:
    os.unlink(os.path.join(MD, *nm))
unt, tg = b.cmd("NOOP")
t.is_(expunges(unt), [len(vb)], "another program removes the last message's file: B's NOOP gets * %d EXPUNGE" % len(vb))
unt, tg = a.cmd("NOOP")
t.is_(expunges(unt), [len(vb)], "... and A's NOOP too")

# ======== IDLE (RFC 2177) ========
tag, cont, first = idle_start(b)
t.ok(cont is not None and cont.startswith("+ "), "B: IDLE gets a + continuation", first + [cont])
t.ok(first == [], "... with nothing pending before it", first)
got, _ = idle_wait(b, lambda ln: True, timeout=1.5)
t.is_(got, [], "IDLE with nothing happening: no response (for 1.5 s)")
unt, tg = idle_done(b, tag)
t.ok(tagged_ok(tg) and unt == [], "DONE ends IDLE: tagged OK (RFC 2177)", unt + [tg])

# -- woken by another session's flag change --
tag, cont, first = idle_start(b)
a.cmd("STORE 2 +FLAGS (\\Answered)")      # UID 3
got, hit = idle_wait(b, lambda ln: re.match(r"^\* 2 FETCH \(.*\\Answered", ln) is not None)
t.ok(hit, "IDLE: A's STORE wakes B with * 2 FETCH (... \\Answered ...) within %d s" % WAIT, got)
unt, tg = idle_done(b, tag)
t.ok(tagged_ok(tg) and not fetches(unt), "DONE: OK, the change is not told again", unt + [tg])

# -- woken by another session's expunge --
tag, cont, first = idle_start(b)
a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
a.cmd("EXPUNGE")
got, hit = idle_wait(b, lambda ln: ln == "* 1 EXPUNGE")
t.ok(hit, "IDLE: A's EXPUNGE of message 1 wakes B with * 1 EXPUNGE", got)
unt, tg = idle_done(b, tag)
t.ok(tagged_ok(tg), "DONE: OK", tg)
a.cmd("NOOP")

# -- woken by a delivery --
n0 = len(uids(b))
tag, cont, first = idle_start(b)
rc, err = deliver("delivered while idling")
got, hit = idle_wait(b, lambda ln: ln == "* %d EXISTS" % (n0 + 1))
t.ok(rc == 0 and hit, "IDLE: deliver wakes B with * %d EXISTS" % (n0 + 1), [rc, err] + got)
unt, tg = idle_done(b, tag)
t.ok(tagged_ok(tg), "DONE: OK", tg)

# -- woken by a file another program drops into new/ --
tag, cont, first = idle_start(b)
drop("dropped while idling", 2)
got, hit = idle_wait(b, lambda ln: ln == "* %d EXISTS" % (n0 + 2))
t.ok(hit, "IDLE: a file renamed into new/ by another program wakes B with * %d EXISTS" % (n0 + 2), got)
unt, tg = idle_done(b, tag)
t.ok(tagged_ok(tg), "DONE: OK", tg)

# -- woken by another program's flag change (a rename in cur/) --
vb = uids(b)
nm = cur_file(vb[1])
tag, cont, first = idle_start(b)
if nm:
    os.rename(os.path.join(MD, "cur", nm), os.path.join(MD, "cur", nm.split(":")[0] + ":2,D"))
got, hit = idle_wait(b, lambda ln: re.match(r"^\* 2 FETCH \(.*\\Draft", ln) is not None)
t.ok(nm and hit, "IDLE: another program renaming message 2's file to :2,D wakes B with * 2 FETCH (... \\Draft ...)", got)
unt, tg = idle_done(b, tag)
t.ok(tagged_ok(tg), "DONE: OK", tg)
a.cmd("NOOP")

# -- woken by a POP3 session deleting a message --
a.cmd("NOOP")
pport = inst.pop3()
before = uids(b)
tag, cont, first = idle_start(b)
pc = ternlib.Pop3Conn(pport)
r1 = pc.cmd("USER " + USER)
r2 = pc.cmd("PASS " + PASS)
r3 = pc.cmd("DELE 1")
r4 = pc.cmd("QUIT")
pc.close()
t.ok(r2.startswith("+OK") and r3.startswith("+OK") and r4.startswith("+OK"), "POP3 on the same mailbox: login, DELE 1, QUIT", [r1, r2, r3, r4])
got, hit = idle_wait(b, lambda ln: re.match(r"^\* \d+ EXPUNGE$", ln) is not None)
t.ok(hit, "IDLE: the POP3 deletion wakes B with * n EXPUNGE", got)
unt, tg = idle_done(b, tag)
t.ok(tagged_ok(tg), "DONE: OK", tg)
t.is_(len(uids(b)), len(before) - 1, "B's view lost one message")
unt, tg = a.cmd("NOOP")
t.is_(len(expunges(unt)), 1, "A learns of it at NOOP: one * n EXPUNGE")
t.is_(uids(a), uids(b), "A and B agree on the UIDs")

# -- after folder switches: the watches follow the selected folder (one
#    inotify instance serves the session's successive folders) --
b.cmd('CREATE "Watched"')
unt, tg = b.cmd('SELECT "Watched"')
t.ok(tagged_ok(tg), "B: SELECT Watched", unt + [tg])
unt, tg = b.cmd("SELECT INBOX")
n2 = exists(unt)
t.ok(tagged_ok(tg) and n2 == len(uids(a)), "B: back in INBOX, %s messages" % n2, [tg])
tag, cont, first = idle_start(b)
wmd = os.path.join(MD, ".Watched")
name = "%d.M9P%dQ9.other" % (int(time.time()), os.getpid())
with open(os.path.join(wmd, "tmp", name), "w") as f:
    f.write(msg("into the folder left"))
os.chown(os.path.join(wmd, "tmp", name), inst.uid, inst.gid)
os.rename(os.path.join(wmd, "tmp", name), os.path.join(wmd, "new", name))
got, hit = idle_wait(b, lambda ln: True, timeout=2.5)
t.is_(got, [], "IDLE in INBOX: a file dropped into the folder selected before wakes nothing (2.5 s)")
drop("after the switch", 3)
got, hit = idle_wait(b, lambda ln: ln == "* %d EXISTS" % (n2 + 1))
t.ok(hit, "IDLE in INBOX after SELECT Watched, SELECT INBOX: a drop into INBOX's new/ wakes B with * %d EXISTS" % (n2 + 1), got)
unt, tg = idle_done(b, tag)
t.ok(tagged_ok(tg), "DONE: OK", tg)
unt, tg = b.cmd('STATUS "Watched" (MESSAGES)')
t.ok(any("MESSAGES 1" in ln for ln in unt), "STATUS Watched: the dropped message is there", unt)
a.cmd("NOOP")

# ======== CONDSTORE: HIGHESTMODSEQ grows, MODSEQ in others' changes ========
b2 = login()
h1 = hms_status(b2)
t.ok(h1 and h1 > 0, "STATUS INBOX (HIGHESTMODSEQ) from a third session: %s" % h1)
a.cmd("STORE 1 +FLAGS (\\Seen)")
h2 = hms_status(b2)
t.ok(h1 and h2 and h2 > h1, "after A's STORE: HIGHESTMODSEQ grew (RFC 7162 3.1.2.1, 3.1.7)", [h1, h2])
a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
a.cmd("EXPUNGE")
h3 = hms_status(b2)
t.ok(h2 and h3 and h3 > h2, "after an EXPUNGE: it grew again", [h2, h3])
append(a, "INBOX", msg("one more"))
h4 = hms_status(b2)
t.ok(h3 and h4 and h4 > h3, "after an APPEND: again", [h3, h4])
unt, tg = b2.cmd("EXAMINE INBOX")
t.is_(int(code(unt, "HIGHESTMODSEQ") or 0), h4, "EXAMINE: [HIGHESTMODSEQ] is STATUS's value")
b2.cmd("LOGOUT")

unt, tg = b.cmd("ENABLE CONDSTORE")
t.ok(tagged_ok(tg) and "* ENABLED CONDSTORE" in unt, "B: ENABLE CONDSTORE (RFC 5161)", unt)
b.cmd("NOOP")
a.cmd("NOOP")
unt, tg = a.cmd("UID STORE %d +FLAGS (\\Flagged)" % uids(a)[0])
u0 = uids(a)[0]
unt, tg = b.cmd("NOOP")
f = fetches(unt).get(1, {})
t.ok("\\Flagged" in f.get("FLAGS", set()) and f.get("MODSEQ", 0) > h4,
     "B (CONDSTORE on): A's change comes as * 1 FETCH with FLAGS and its MODSEQ (RFC 7162 3.1.4.2, example 14)", unt)
t.is_(f.get("UID"), u0, "... and with the UID (RFC 7162 3.2.4)")
b.cmd("LOGOUT")
b.close()

# ======== QRESYNC (RFC 7162 3.2) ========
q = login()
unt, tg = q.cmd("SELECT INBOX (QRESYNC (1 1))")
t.like(tg, r"^\S+ BAD", "SELECT (QRESYNC ...) before ENABLE QRESYNC: BAD (3.2.3)")
unt, tg = q.cmd("ENABLE QRESYNC")
t.ok(tagged_ok(tg) and any(re.match(r"^\* ENABLED\b.*\bQRESYNC\b", ln) for ln in unt), "ENABLE QRESYNC: * ENABLED QRESYNC", unt)
unt, tg = q.cmd("SELECT INBOX")
UV = int(code(unt, "UIDVALIDITY") or 0)
M = int(code(unt, "HIGHESTMODSEQ") or 0)
known = uids(q)
t.ok(UV and M and len(known) >= 4, "SELECT INBOX: UIDVALIDITY, HIGHESTMODSEQ and the UIDs noted", [UV, M, known])
q.cmd("LOGOUT")
q.close()

a.cmd("NOOP")
X, Y, Z = known[1], known[2], known[3]
a.cmd("UID STORE %d +FLAGS (\\Draft)" % X)
a.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % Y)
unt, tg = a.cmd("EXPUNGE")
t.is_(len(expunges(unt)), 1, "A (no QRESYNC): UID %d \\Draft, UID %d expunged (* n EXPUNGE)" % (X, Y))

q = login()
q.cmd("ENABLE QRESYNC")
kset = "%d:%d" % (known[0], known[-1])
unt, tg = q.cmd("SELECT INBOX (QRESYNC (%d %d %s))" % (UV, M, kset))
t.ok(tagged_ok(tg), "SELECT INBOX (QRESYNC (uidvalidity modseq %s)): OK" % kset, tg)
t.is_(vanished(unt, True), [Y], "* VANISHED (EARLIER) %d: the UID expunged since (3.2.5.1)" % Y)
f = dict((v.get("UID"), v) for v in fetches(unt).values())
t.ok(X in f and "\\Draft" in f[X].get("FLAGS", set()) and f[X].get("MODSEQ", 0) > M,
     "* n FETCH (UID %d FLAGS (... \\Draft) MODSEQ (m > modseq)): the change since" % X, unt)
t.ok(all(v.get("UID") and "MODSEQ" in v for v in fetches(unt).values()), "every FETCH of it has UID and MODSEQ (3.2.5.1)", unt)
t.ok(Z not in f, "no FETCH for UID %d (unchanged since)" % Z, unt)
iv = [i for i, ln in enumerate(unt) if ln.startswith("* VANISHED")]
ifx = [i for i, ln in enumerate(unt) if re.match(r"^\* \d+ FETCH", ln)]
t.ok(iv and ifx and max(iv) < min(ifx), "VANISHED (EARLIER) comes before the FETCH responses (3.2.6)", unt)
unt, tg = q.cmd("SELECT INBOX (QRESYNC (%d %d %d))" % (UV, M, X))
t.ok(tagged_ok(tg) and any(ln.startswith("* OK [CLOSED]") for ln in unt), "SELECT while selected, QRESYNC on: * OK [CLOSED] (3.2.11)", unt)
ic = [i for i, ln in enumerate(unt) if ln.startswith("* OK [CLOSED]")]
ie = [i for i, ln in enumerate(unt) if re.match(r"^\* \d+ EXISTS$", ln)]
t.ok(ic and ie and ic[0] < ie[0], "... before the new mailbox's responses", unt)
t.ok(vanished(unt, True) == [] and [v.get("UID") for v in fetches(unt).values()] == [X],
     "known UIDs = %d only: no VANISHED for %d, the FETCH of %d only (3.2.5.1)" % (X, Y, X), unt)
unt, tg = q.cmd("SELECT INBOX (QRESYNC (%d %d %s))" % (UV + 1, M, kset))
t.ok(tagged_ok(tg) and not vanished(unt, True) and not fetches(unt),
     "another UIDVALIDITY: neither VANISHED nor FETCH (the client must start over)", unt)
unt, tg = q.cmd("UID FETCH %s (FLAGS) (CHANGEDSINCE %d VANISHED)" % (kset, M))
t.is_(vanished(unt, True), [Y], "UID FETCH %s (FLAGS) (CHANGEDSINCE m VANISHED): * VANISHED (EARLIER) %d (3.2.6)" % (kset, Y))
t.is_(sorted(v.get("UID") for v in fetches(unt).values()), [X], "... and the FETCH of UID %d" % X)
unt, tg = q.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % M)
t.like(tg, r"^\S+ BAD", "VANISHED with FETCH (not UID FETCH): BAD (3.2.6)")
unt, tg = q.cmd("UID FETCH 1:* (FLAGS) (VANISHED)")
t.like(tg, r"^\S+ BAD", "VANISHED without CHANGEDSINCE: BAD (3.2.6)")

unt, tg = q.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % Z)
hq = hms_status(q) or 0
unt, tg = q.cmd("EXPUNGE")
t.ok(tagged_ok(tg) and vanished(unt, False) == [Z] and not expunges(unt),
     "EXPUNGE with QRESYNC on: * VANISHED %d, no * n EXPUNGE (3.2.7)" % Z, unt)
m = re.match(r"^\S+ OK \[HIGHESTMODSEQ (\d+)\]", tg)
t.ok(m and int(m.group(1)) > hq, "... and the tagged OK carries [HIGHESTMODSEQ n], n above the one before (3.2.7: MUST)", [hq, tg])
q.cmd("CREATE Other")
for i in range(3):
    append(q, "INBOX", msg("q%d" % i))
q.cmd("NOOP")
vq = [u for u in uids(q) if u != X][-3:]
q.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % vq[0])
unt, tg = q.cmd("UID EXPUNGE %d" % vq[0])
t.ok(tagged_ok(tg) and vanished(unt, False) == [vq[0]] and not expunges(unt), "UID EXPUNGE with QRESYNC on: * VANISHED %d (3.2.9)" % vq[0], unt)
t.like(tg, r"^\S+ OK \[HIGHESTMODSEQ \d+\]", "... the tagged OK carries [HIGHESTMODSEQ n] (3.2.9: MUST)")
unt, tg = q.cmd("UID MOVE %d Other" % vq[1])
t.ok(tagged_ok(tg) and any(re.match(r"^\* OK \[COPYUID \d+ %d 1\]" % vq[1], ln) for ln in unt) and vanished(unt, False) == [vq[1]]
     and not expunges(unt), "UID MOVE with QRESYNC on: * OK [COPYUID ...], * VANISHED %d (RFC 6851 4.4)" % vq[1], unt + [tg])
t.ok(re.match(r"^\S+ OK \[HIGHESTMODSEQ \d+\]", tg) or code(unt, "HIGHESTMODSEQ"),
     "... with [HIGHESTMODSEQ n] in the tagged or an untagged OK (RFC 6851 4.4: MUST)", unt + [tg])
a.cmd("NOOP")
W = uids(a)[-1]
a.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % W)
a.cmd("EXPUNGE")
unt, tg = q.cmd("NOOP")
t.ok(vanished(unt, False) == [W] and not expunges(unt), "another session's expunge: * VANISHED %d at NOOP (3.2.10.2)" % W, unt)
a.cmd("UID STORE %d -FLAGS (\\Draft)" % X)
unt, tg = q.cmd("NOOP")
f = list(fetches(unt).values())
t.ok(len(f) == 1 and f[0].get("UID") == X and "\\Draft" not in f[0].get("FLAGS", {"\\Draft"}) and f[0].get("MODSEQ"),
     "another session's flag change: * n FETCH (UID %d FLAGS (...) MODSEQ (...)) at NOOP (3.2.4)" % X, unt)

q2 = login()
q2.cmd("SELECT INBOX")
unt, tg = q2.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
t.like(tg, r"^\S+ BAD", "UID FETCH (CHANGEDSINCE 1 VANISHED) in a session without ENABLE QRESYNC: BAD (3.2.6)")
unt, tg = q2.cmd("SELECT INBOX")
t.ok(tagged_ok(tg) and not any(ln.startswith("* OK [CLOSED]") for ln in unt),
     "SELECT while selected without QRESYNC: no [CLOSED] (3.2.11 is for QRESYNC sessions)", unt)
q2.cmd("UNSELECT")
q2.cmd("ENABLE QRESYNC")
q2.cmd("SELECT INBOX")
unt, tg = q2.cmd("EXAMINE INBOX")
t.ok(tagged_ok(tg) and any(ln.startswith("* OK [CLOSED]") for ln in unt), "EXAMINE while selected: * OK [CLOSED] too", unt)
q2.cmd("SELECT INBOX")
q2.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
n1 = len(uids(q2))
unt, tg = q2.cmd("CLOSE")
t.ok(tagged_ok(tg) and not vanished(unt, False) and not expunges(unt) and "HIGHESTMODSEQ" not in tg,
     "CLOSE with QRESYNC on: neither VANISHED nor EXPUNGE, no HIGHESTMODSEQ in the OK (3.2.8)", unt + [tg])
unt, tg = q2.cmd("SELECT INBOX")
t.is_(exists(unt), n1 - 1, "... and the \\Deleted message is gone")
for x in (a, q, q2):
    x.cmd("LOGOUT")
    x.close()

rc, out = inst.check()
t.is_(rc, 0, "mailbox-check: the index agrees with the Maildir after all of it")
if rc:
    t.diag(out)
t.done()
