#!/usr/bin/python3
# imap-serve: SEARCHRES (RFC 5182): SEARCH RETURN (SAVE) and "$":
# - RETURN (SAVE) alone: no ESEARCH response, the result kept; with ALL
#   both; with MIN or MAX alone only those are kept (2.4);
# - "$" in FETCH, UID FETCH, STORE, COPY, MOVE, UID EXPUNGE and SEARCH
#   ("$", "UID $", with other keys), pipelined right after the SAVE;
# - expunged messages leave "$"; a failed SEARCH saves nothing; SELECT
#   empties it; "$" with no saved result is empty, not an error.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
inst.maildir("example.test/demo/.Other")
# flags: 2, 4, 5 \Flagged; sizes grow with the number
for i in range(1, 9):
    inst.put(("Subject: m%d\nFrom: %s@example.org\n\n%s\n" % (i, "smith" if i == 4 else "ann", "x" * (i * 100))).encode(),
             "%d.M%dP1.host%s" % (1780000000 + i, i, ":2,F" if i in (2, 4, 5) else ""), sub="cur" if i in (2, 4, 5) else "new")

c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
t.ok("SEARCHRES" in r, "SEARCHRES in the capabilities", r)
c.cmd("SELECT INBOX")


def nums(unt, what="FETCH"):
    return [int(u.split()[1]) for u in unt if re.match(r"\* \d+ %s" % what, u)]


def search(q):
    unt, r = c.cmd("SEARCH " + q)
    lines = [u for u in unt if u.startswith("* SEARCH")]
    return ([int(x) for x in lines[0].split()[2:]] if lines else None), unt, r


unt, r = c.cmd("SEARCH RETURN (SAVE) FLAGGED")
t.ok(" OK " in r and unt == [], "SEARCH RETURN (SAVE): OK, no ESEARCH response (RFC 5182 2.1)", (unt, r))
unt, r = c.cmd("FETCH $ (UID FLAGS)")
t.is_(nums(unt), [2, 4, 5], "FETCH $: the saved messages")
unt, r = c.cmd("UID FETCH $ (FLAGS)")
t.is_(nums(unt), [2, 4, 5], "UID FETCH $: the same messages")
got, unt, r = search("$ NOT FROM smith")
t.is_(got, [2, 5], "SEARCH $ with another key")
got, unt, r = search("UID $")
t.is_(got, [2, 4, 5], "SEARCH UID $")
got, unt, r = search("OR $ 1")
t.is_(got, [1, 2, 4, 5], "SEARCH OR $ 1")
# pipelined: the FETCH uses the result of the SEARCH before it
c.send("p1 SEARCH RETURN (SAVE) SMALLER 350\r\np2 FETCH $ (UID)\r\n")
u1, r1 = c.until("p1")
u2, r2 = c.until("p2")
t.ok(" OK " in r1 and nums(u2) == [1, 2, 3], "SEARCH RETURN (SAVE) then FETCH $, pipelined", (u2, r2))
unt, r = c.cmd("SEARCH RETURN (SAVE ALL) FLAGGED")
t.ok(len(unt) == 1 and re.match(r'\* ESEARCH \(TAG "[^"]+"\) ALL 2,4:5$', unt[0]), "RETURN (SAVE ALL): the ESEARCH response too", unt)
unt, r = c.cmd("FETCH $ (UID)")
t.is_(nums(unt), [2, 4, 5], "and the result saved")
unt, r = c.cmd("SEARCH RETURN (SAVE MIN) FLAGGED")
t.ok(len(unt) == 1 and re.search(r"MIN 2$", unt[0]), "RETURN (SAVE MIN): MIN returned", unt)
unt, r = c.cmd("FETCH $ (UID)")
t.is_(nums(unt), [2], "RETURN (SAVE MIN): only MIN saved (RFC 5182 2.4)")
unt, r = c.cmd("SEARCH RETURN (SAVE MIN MAX) FLAGGED")
unt, r = c.cmd("FETCH $ (UID)")
t.is_(nums(unt), [2, 5], "RETURN (SAVE MIN MAX): MIN and MAX saved")
unt, r = c.cmd("SEARCH RETURN (SAVE MIN COUNT) FLAGGED")
unt, r = c.cmd("FETCH $ (UID)")
t.is_(nums(unt), [2, 4, 5], "RETURN (SAVE MIN COUNT): with COUNT, all saved")
# STORE, COPY with $
c.cmd("SEARCH RETURN (SAVE) FROM smith")
unt, r = c.cmd("STORE $ +FLAGS (\\Seen)")
t.ok(" OK " in r and nums(unt) == [4], "STORE $", unt)
unt, r = c.cmd("COPY $ Other")
t.ok(" OK " in r and "COPYUID" in r, "COPY $", r)
unt, r = c.cmd("STATUS Other (MESSAGES)")
t.ok(any("MESSAGES 1" in u for u in unt), "COPY $: one message in Other", unt)
# an expunged message leaves $
c.cmd("SEARCH RETURN (SAVE) FLAGGED")
c.cmd("STORE 4 +FLAGS.SILENT (\\Deleted)")
c.cmd("EXPUNGE")
unt, r = c.cmd("FETCH $ (UID)")
t.is_(nums(unt), [2, 4], "after EXPUNGE of message 4: $ is the other two (now 2 and 4)")
# UID EXPUNGE $ and MOVE $
c.cmd("SEARCH RETURN (SAVE) 7")
c.cmd("STORE 7 +FLAGS.SILENT (\\Deleted)")
unt, r = c.cmd("UID EXPUNGE $")
t.ok(" OK " in r and nums(unt, "EXPUNGE") == [7], "UID EXPUNGE $", unt)
c.cmd("SEARCH RETURN (SAVE) 1")
unt, r = c.cmd("MOVE $ Other")
t.ok(" OK " in r and nums(unt, "EXPUNGE") == [1], "MOVE $", (unt, r))
# a failed SEARCH empties $
c.cmd("SEARCH RETURN (SAVE) ALL")
unt, r = c.cmd("SEARCH RETURN (SAVE) CHARSET KOI8-R SUBJECT x")
t.ok(r.split()[1] == "NO", "a SEARCH that fails (NO [BADCHARSET])", r)
unt, r = c.cmd("FETCH $ (UID)")
t.ok(" OK " in r and nums(unt) == [], "then $ is empty: FETCH $ gives nothing, OK", (unt, r))
c.cmd("SEARCH RETURN (SAVE) ALL")
c.cmd("SELECT Other")
unt, r = c.cmd("FETCH $ (UID)")
t.ok(" OK " in r and nums(unt) == [], "SELECT empties $", (unt, r))
got, unt, r = search("$")
t.is_(got, [], "SEARCH $ with nothing saved: no hit")
unt, r = c.cmd("SEARCH RETURN (SAVE BOGUS) ALL")
t.ok(r.split()[1] == "BAD", "an unknown RETURN option: BAD", r)
unt, r = c.cmd("FETCH $$ (UID)")
t.ok(r.split()[1] == "BAD", "FETCH $$: BAD", r)
c.cmd("LOGOUT")
c.close()
t.done()
