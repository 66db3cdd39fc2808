#!/usr/bin/python3
# imap-serve: UIDONLY (RFC 9586), after ENABLE UIDONLY:
# - commands with message numbers refused, BAD [UIDREQUIRED], doing
#   nothing: FETCH, STORE, SEARCH, COPY, MOVE, SORT, THREAD, REPLACE, a
#   sequence-set key in UID SEARCH, SELECT's QRESYNC seq-match-data;
# - FETCH responses are "* uid UIDFETCH (...)", without the UID item
#   unless asked for: UID FETCH, UID STORE, other sessions' flag changes
#   (seen in IDLE), QRESYNC's SELECT;
# - expunges are VANISHED, QRESYNC or not: EXPUNGE, UID EXPUNGE, MOVE,
#   REPLACE, another session's expunge seen in IDLE;
# - what has no message number stays: EXISTS, ESEARCH with UID, SEARCHRES;
#   no [UNSEEN n] at SELECT; sessions without UIDONLY unchanged.

import os
import re
import select
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
inst.maildir("example.test/demo/.Archive")
for i in range(1, 7):
    inst.put(("Subject: m%d\nFrom: ann@example.org\n\nbody %d\n" % (i, i)).encode(),
             "%d.M%dP1.host%s" % (1780000000 + i, i, ":2,S" if i in (1, 2) else ":2,"), sub="cur")

# another session takes \Recent first: the flags below are the messages' own
x = ternlib.ImapConn(port)
x.cmd("LOGIN demo@example.test demo")
x.cmd("SELECT INBOX")
x.cmd("LOGOUT")
x.close()


def login(enable=True):
    c = ternlib.ImapConn(port)
    unt, r = c.cmd("LOGIN demo@example.test demo")
    if enable:
        unt, r = c.cmd("ENABLE UIDONLY")
        t.ok(unt == ["* ENABLED UIDONLY"] and " OK" in r, "ENABLE UIDONLY: * ENABLED UIDONLY", (unt, r))
    return c


def bad_uidrequired(c, cmd, what):
    unt, r = c.cmd(cmd)
    t.ok(re.match(r"t\d+ BAD \[UIDREQUIRED\] ", r) is not None, what + ": BAD [UIDREQUIRED]", (unt, r))


c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
t.ok("UIDONLY" in r.split(), "UIDONLY in the capabilities", r)
unt, r = c.cmd("ENABLE UIDONLY")
t.ok(unt == ["* ENABLED UIDONLY"] and " OK" in r, "ENABLE UIDONLY: * ENABLED UIDONLY (RFC 9586 3)", (unt, r))
unt, r = c.cmd("ENABLE UIDONLY")
t.ok(unt == ["* ENABLED"], "a second time: not listed again (RFC 5161 3.1)", unt)
unt, r = c.cmd("SELECT INBOX")
t.ok("* 6 EXISTS" in unt and r.endswith("OK [READ-WRITE] Select completed"), "SELECT: EXISTS as ever", unt)
t.ok(not [u for u in unt if "[UNSEEN" in u], "no [UNSEEN n]: a message number", unt)

# -- message numbers refused, nothing done --
bad_uidrequired(c, "FETCH 1 (FLAGS)", "FETCH 1 (FLAGS)")
bad_uidrequired(c, "FETCH 1:* FLAGS", "FETCH 1:* FLAGS")
bad_uidrequired(c, "STORE 3 +FLAGS (\\Flagged)", "STORE")
bad_uidrequired(c, "SEARCH ALL", "SEARCH ALL (the answer would be message numbers)")
bad_uidrequired(c, "COPY 1 Archive", "COPY")
bad_uidrequired(c, "MOVE 1 Archive", "MOVE")
bad_uidrequired(c, "SORT (DATE) UTF-8 ALL", "SORT")
bad_uidrequired(c, "THREAD ORDEREDSUBJECT UTF-8 ALL", "THREAD")
bad_uidrequired(c, "UID SEARCH 1:2", "UID SEARCH with a sequence-set key")
bad_uidrequired(c, "UID SEARCH NOT 1", "UID SEARCH NOT with a sequence-set key")
bad_uidrequired(c, "UID SORT (DATE) UTF-8 OR 1 SEEN", "UID SORT with a sequence-set key")
c.send(b"t90 REPLACE 1 INBOX {10+}\r\nSubject: x\r\n")
unt, r = c.until("t90")
t.ok(re.match(r"t90 BAD \[UIDREQUIRED\] ", r) is not None, "REPLACE: BAD [UIDREQUIRED]", r)
unt, r = c.cmd("UID FETCH 1:* (FLAGS)")
t.is_(unt, ["* 1 UIDFETCH (FLAGS (\\Seen))", "* 2 UIDFETCH (FLAGS (\\Seen))", "* 3 UIDFETCH (FLAGS ())",
            "* 4 UIDFETCH (FLAGS ())", "* 5 UIDFETCH (FLAGS ())", "* 6 UIDFETCH (FLAGS ())"],
      "UID FETCH 1:* (FLAGS): UIDFETCH responses, no UID item (RFC 9586 3.3); STORE changed nothing")
unt, r = c.cmd("STATUS Archive (MESSAGES)")
t.ok("MESSAGES 0" in " ".join(unt), "COPY and MOVE copied nothing", unt)
unt, r = c.cmd("UID SEARCH UID 1:2")
t.is_(unt, ["* SEARCH 1 2"], "UID SEARCH UID 1:2: the UIDs")

# -- UIDFETCH (RFC 9586 3.3) --
unt, r = c.cmd("UID FETCH 3 (UID RFC822.SIZE)")
t.ok(len(unt) == 1 and re.match(r"\* 3 UIDFETCH \(UID 3 RFC822.SIZE \d+\)$", unt[0]) is not None, "UID asked for: in the UIDFETCH", unt)
unt, r = c.cmd("UID FETCH 4 (BODY[])")
t.ok(len(unt) == 1 and unt[0].startswith("* 4 UIDFETCH (BODY[] {") and "body 4" in unt[0] and r.endswith("OK Fetch completed"),
     "UID FETCH BODY[]: UIDFETCH, \\Seen set ...", unt)
t.ok(unt[0].endswith(" FLAGS (\\Seen))"), "... and the new flags in it (RFC 3501 6.4.5)", unt)
unt, r = c.cmd("UID STORE 3 +FLAGS (\\Flagged)")
t.is_(unt, ["* 3 UIDFETCH (FLAGS (\\Flagged))"], "UID STORE: a UIDFETCH with the flags")
unt, r = c.cmd("UID SEARCH RETURN (ALL COUNT) ALL")
t.ok(len(unt) == 1 and re.match(r'\* ESEARCH \(TAG "t\d+"\) UID ALL 1:6 COUNT 6$', unt[0]) is not None, "ESEARCH: with UID", unt)
unt, r = c.cmd("UID SEARCH RETURN (SAVE) FLAGGED")
unt, r = c.cmd("UID FETCH $ (FLAGS)")
t.is_(unt, ["* 3 UIDFETCH (FLAGS (\\Flagged))"], "SEARCHRES: $ in UID FETCH")

# -- CONDSTORE: MODSEQ in the UIDFETCH --
unt, r = c.cmd("ENABLE CONDSTORE")
unt, r = c.cmd("UID STORE 5 +FLAGS (\\Answered)")
t.ok(len(unt) == 1 and re.match(r"\* 5 UIDFETCH \(FLAGS \(\\Answered\) MODSEQ \(\d+\)\)$", unt[0]) is not None,
     "UID STORE with CONDSTORE: FLAGS and MODSEQ, no UID item", unt)

# -- expunges are VANISHED, QRESYNC or not (RFC 9586 3) --
c.cmd("UID STORE 6 +FLAGS.SILENT (\\Deleted)")
unt, r = c.cmd("EXPUNGE")
t.ok(unt == ["* VANISHED 6"] and " OK" in r, "EXPUNGE: * VANISHED 6, no EXPUNGE response", (unt, r))
c.cmd("UID STORE 5 +FLAGS.SILENT (\\Deleted)")
unt, r = c.cmd("UID EXPUNGE 5")
t.ok(unt == ["* VANISHED 5"], "UID EXPUNGE: * VANISHED 5", unt)
unt, r = c.cmd("UID MOVE 4 Archive")
t.ok(len(unt) == 2 and unt[0].startswith("* OK [COPYUID ") and unt[1] == "* VANISHED 4" and " OK" in r, "UID MOVE: COPYUID, then VANISHED", (unt, r))
unt, r = c.cmd("NOOP")
t.is_(unt, [], "nothing more owed")

# -- IDLE: another session's changes as UIDFETCH and VANISHED --
o = login(enable=False)
o.cmd("SELECT INBOX")
c.send("i1 IDLE\r\n")
ln = c.line().decode()
t.ok(ln.startswith("+"), "IDLE", ln)
o.cmd("UID STORE 2 +FLAGS (\\Draft)")
o.cmd("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
unt, r = o.cmd("UID EXPUNGE 1")
t.ok("* 1 EXPUNGE" in unt, "the other session (no UIDONLY): * 1 EXPUNGE as ever", unt)
got = []
end = time.time() + 10
while time.time() < end and not ("* VANISHED 1" in got and any("UIDFETCH" in g for g in got)):
    r_, _, _ = select.select([c.s], [], [], 0.5)
    if r_ or b"\r\n" in c.buf:
        got.append(c.line().decode())
c.send("DONE\r\n")
unt, r = c.until("i1")
got += unt
t.ok([g for g in got if re.match(r"\* 2 UIDFETCH \(FLAGS \(\\Seen \\Draft\) MODSEQ \(\d+\)\)$", g)] != [],
     "in IDLE: the other session's flag change as * 2 UIDFETCH", got)
t.ok("* VANISHED 1" in got and not [g for g in got if "EXPUNGE" in g], "in IDLE: its expunge as * VANISHED 1", got)
inst.put(b"Subject: new\n\nfresh\n")
c.send("i2 IDLE\r\n")
got = []
while True:
    ln = c.line().decode()
    if ln.startswith("+"):
        break
    got.append(ln)
end = time.time() + 10
while time.time() < end and not [g for g in got if g.endswith(" EXISTS")]:
    r_, _, _ = select.select([c.s], [], [], 0.5)
    if r_ or b"\r\n" in c.buf:
        got.append(c.line().decode())
c.send("DONE\r\n")
c.until("i2")
t.ok("* 3 EXISTS" in got, "a delivery: * 3 EXISTS as ever (a count, not a number of a message)", got)
unt, r = o.cmd("FETCH 1 (FLAGS)")
t.ok(unt and unt[0].startswith("* 1 FETCH (FLAGS ("), "the other session: FETCH with message numbers as ever", unt)
o.cmd("LOGOUT")
o.close()

# -- REPLACE: UID REPLACE works, its expunge a VANISHED --
m = b"Subject: replaced\r\n\r\nnew text\r\n"
c.send(b"r1 UID REPLACE 3 INBOX {%d+}\r\n" % len(m) + m + b"\r\n")
unt, r = c.until("r1")
unt = [u for u in unt if not u.endswith(" RECENT")]
t.ok(r.startswith("r1 OK") and len(unt) == 3 and unt[0].startswith("* OK [APPENDUID ") and unt[1] == "* 4 EXISTS" and unt[2] == "* VANISHED 3",
     "UID REPLACE: APPENDUID, EXISTS, VANISHED", (unt, r))

# -- QRESYNC: SELECT's seq-match-data refused, the rest in UIDs --
unt, r = c.cmd("ENABLE QRESYNC")
unt, r = c.cmd("STATUS INBOX (UIDVALIDITY HIGHESTMODSEQ)")
uv = int(re.search(r"UIDVALIDITY (\d+)", unt[0]).group(1))
bad_uidrequired(c, "SELECT INBOX (QRESYNC (%d 1 (1,3,6 1,3,6)))" % uv, "SELECT with QRESYNC seq-match-data")
unt, r = c.cmd("SELECT INBOX (QRESYNC (%d 1 1:9))" % uv)
t.ok("* VANISHED (EARLIER) 1,3:6" in unt, "SELECT (QRESYNC ...): VANISHED (EARLIER)", unt)
fl = [u for u in unt if "FETCH" in u]
t.ok(fl and all(re.match(r"\* \d+ UIDFETCH \(FLAGS \([^)]*\) MODSEQ \(\d+\)\)$", u) for u in fl), "and the changes as UIDFETCH", fl)
c.cmd("LOGOUT")
c.close()

# -- a session without UIDONLY is not touched --
d = login(enable=False)
d.cmd("SELECT INBOX")
unt, r = d.cmd("FETCH 1:* (UID)")
t.ok(len(unt) == 3 and all(re.match(r"\* \d+ FETCH \(UID \d+\)$", u) for u in unt), "without UIDONLY: FETCH by message number", unt)
d.cmd("LOGOUT")
d.close()
t.done()
