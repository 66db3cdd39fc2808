#!/usr/bin/python3
# imap-serve: OBJECTID (RFC 8474):
# - MAILBOXID: in CREATE's OK, SELECT/EXAMINE's [MAILBOXID (id)], STATUS
#   and LIST RETURN (STATUS (MAILBOXID)); RFC 8474 4.4's example: the id
#   survives RENAME, a folder created again under an old name gets
#   another; the same id from every session (kept in the folder), also
#   for a folder made by another program (made on first use); ids of
#   1-255 of A-Z a-z 0-9 - _;
# - EMAILID: one per message, different for different messages, the same
#   after MOVE and COPY (RFC 8474 5.1's example), after a flag change;
#   THREADID NIL (RFC 8474 5.2: threads not computed);
# - SEARCH EMAILID and THREADID (RFC 8474 6); a bad object id is a BAD.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
inst.maildir("example.test/demo/.Legacy")
for i in range(1, 4):
    inst.put(b"Subject: m%d\nMessage-ID: <m%d@example.org>\n\nbody %d\n" % (i, i, i), "%d.M%dP1.host" % (1780000000 + i, i))

ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
caps = r.split("[CAPABILITY ", 1)[1].split("]")[0].split() if "[CAPABILITY " in r else []
t.ok("OBJECTID" in caps, "OBJECTID in the capabilities", r)


def create(name):
    unt, r = c.cmd("CREATE " + name)
    m = re.search(r"OK \[MAILBOXID \(([^)]*)\)\]", r)
    return m.group(1) if m else None, r


def status_id(name, conn=None):
    unt, r = (conn or c).cmd("STATUS %s (MAILBOXID)" % name)
    m = re.search(r"\(MAILBOXID \(([^)]*)\)\)", " ".join(unt))
    return m.group(1) if m else None, (unt, r)


# RFC 8474 4.4's example
foo, r = create("foo")
t.ok(foo and ID.match(foo), "CREATE foo: OK [MAILBOXID (id)], a valid object id", r)
bar, r = create("bar")
t.ok(bar and ID.match(bar) and bar != foo, "CREATE bar: another id", r)
unt, r = c.cmd("CREATE foo")
t.ok(r.split()[1] == "NO" and "MAILBOXID" not in r, "CREATE foo again: NO, no id", r)
unt, r = c.cmd("RENAME foo renamed")
t.ok(" OK " in r, "RENAME foo renamed", r)
got, x = status_id("renamed")
t.is_(got, foo, "STATUS renamed (MAILBOXID): foo's id, kept through the RENAME")
got, x = status_id("bar")
t.is_(got, bar, "STATUS bar (MAILBOXID): bar's")
foo2, r = create("foo")
t.ok(foo2 and foo2 not in (foo, bar), "CREATE foo once more: a new id, not the renamed one's", r)
unt, r = c.cmd("DELETE bar")
bar2, r = create("bar")
t.ok(bar2 and bar2 != bar, "a folder deleted and created again: another id", (bar, bar2))

# SELECT, EXAMINE, another session, a folder made by another program
unt, r = c.cmd("SELECT renamed")
codes = [u for u in unt if "[MAILBOXID" in u]
t.ok(len(codes) == 1 and codes[0] == "* OK [MAILBOXID (%s)] Ok" % foo, "SELECT: * OK [MAILBOXID (id)]", unt)
unt, r = c.cmd("EXAMINE INBOX")
inbox = re.search(r"\[MAILBOXID \(([^)]*)\)\]", " ".join(unt))
inbox = inbox.group(1) if inbox else None
t.ok(inbox and ID.match(inbox) and inbox not in (foo, foo2, bar2), "EXAMINE INBOX: INBOX has its own id", unt)
c2 = ternlib.ImapConn(port)
c2.cmd("LOGIN demo@example.test demo")
legacy, x = status_id("Legacy", c2)
t.ok(legacy and ID.match(legacy), "a folder another program made gets an id on first use", x)
got, x = status_id("Legacy")
t.is_(got, legacy, "and every session sees that one")
got, x = status_id("INBOX", c2)
t.is_(got, inbox, "INBOX's id, from another session")
c2.cmd("LOGOUT")
c2.close()
unt, r = c.cmd('LIST "" "*" RETURN (STATUS (MESSAGES MAILBOXID))')
st = dict(re.findall(r'\* STATUS "?([^" ]+)"? \(MESSAGES \d+ MAILBOXID \(([^)]*)\)\)', "\n".join(unt)))
t.ok(" OK " in r and st.get("renamed") == foo and st.get("INBOX") == inbox and st.get("Legacy") == legacy,
     "LIST RETURN (STATUS (MESSAGES MAILBOXID))", (unt, r))
unt, r = c.cmd("STATUS INBOX (MESSAGES MAILBOXID UIDNEXT)")
t.ok(re.search(r"\(MESSAGES 3 UIDNEXT \d+ MAILBOXID \(%s\)\)" % re.escape(inbox), " ".join(unt)) is not None,
     "STATUS with other items", unt)

# EMAILID, THREADID
c.cmd("SELECT INBOX")


def ids(box=None, sel=None):
    unt, r = c.cmd("FETCH 1:* (EMAILID THREADID)")
    return re.findall(r"\* \d+ FETCH \(EMAILID \(([^)]*)\) THREADID (NIL)\)", "\n".join(unt)), (unt, r)


got, x = ids()
e = [g[0] for g in got]
t.ok(len(e) == 3 and all(ID.match(i) for i in e) and len(set(e)) == 3, "FETCH EMAILID: valid ids, one per message", x)
t.ok(all(g[1] == "NIL" for g in got), "THREADID NIL (RFC 8474 5.2)", x)
c.cmd("STORE 1 +FLAGS (\\Seen \\Flagged)")
got, x = ids()
t.is_([g[0] for g in got], e, "a flag change (a rename of the file) keeps the ids")
unt, r = c.cmd("UID FETCH 1:* (EMAILID)")
t.ok(all("UID " in u for u in unt if "FETCH" in u), "UID FETCH EMAILID", unt)
# RFC 8474 5.1's example: COPY and MOVE keep the id
unt, r = c.cmd("COPY 1 renamed")
t.ok(" OK " in r, "COPY 1 renamed", r)
unt, r = c.cmd("MOVE 2 renamed")
t.ok(" OK " in r, "MOVE 2 renamed", r)
c.cmd("SELECT renamed")
got, x = ids()
t.is_(sorted(g[0] for g in got), sorted(e[:2]), "in the destination: the same EMAILIDs (COPY and MOVE)")
unt, r = c.cmd("UID SEARCH EMAILID " + e[1])
t.ok(re.search(r"^\* SEARCH \d+$", "\n".join(unt), re.M) is not None, "SEARCH EMAILID finds the moved message", unt)
unt, r = c.cmd("COPY 1:2 bar")
c.cmd("SELECT bar")
got, x = ids()
t.is_(sorted(g[0] for g in got), sorted(e[:2]), "copied again: still the same")
c.cmd("SELECT INBOX")
unt, r = c.cmd("SEARCH EMAILID " + e[0])
t.ok("* SEARCH 1" in unt, "SEARCH EMAILID: the message with that id", unt)
unt, r = c.cmd("SEARCH EMAILID " + e[2])
t.ok("* SEARCH 2" in unt, "SEARCH EMAILID of the third (now 2)", unt)
unt, r = c.cmd("SEARCH EMAILID Mnosuchid")
t.ok("* SEARCH" in unt and " OK " in r, "SEARCH EMAILID of no message: none", unt)
unt, r = c.cmd("SEARCH OR EMAILID %s EMAILID %s" % (e[0], e[2]))
t.ok("* SEARCH 1 2" in unt, "OR of two EMAILIDs", unt)
unt, r = c.cmd("SEARCH THREADID T123")
t.ok("* SEARCH" in unt and " OK " in r, "SEARCH THREADID: none (no thread ids)", unt)
unt, r = c.cmd("SEARCH NOT THREADID T123")
t.ok("* SEARCH 1 2" in unt, "NOT THREADID: all", unt)
for q, what in (("EMAILID", "no id"), ("EMAILID a.b", "a dot"), ('EMAILID "M1"', "a quoted string"),
                ("EMAILID " + "x" * 256, "256 characters"), ("THREADID a+b", "a plus")):
    unt, r = c.cmd("SEARCH " + q)
    t.ok(r.split()[1] == "BAD", "SEARCH %s: BAD (%s)" % (q, what), r)
unt, r = c.cmd("SEARCH EMAILID " + "x" * 255)
t.ok(" OK " in r, "an id of 255 characters is valid", r)
c.cmd("LOGOUT")
c.close()
code, out = inst.check()
t.is_(code, 0, "mailbox-check finds the index consistent") or t.diag(out)
t.done()
