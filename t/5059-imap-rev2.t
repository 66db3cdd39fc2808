#!/usr/bin/python3
# imap-serve: IMAP4rev2 (RFC 9051) beside IMAP4rev1, through ENABLE:
# - both in CAPABILITY; ENABLE IMAP4rev2 answers ENABLED (RFC 9051 6.3.1);
# - SELECT in rev2: EXISTS, FLAGS without \Recent, the folder's LIST
#   (6.3.2), no RECENT and no UNSEEN (E.11, E.12), [CLOSED] when another
#   folder was selected;
# - SEARCH answers with ESEARCH, ALL by default (6.4.4, E.4), UID SEARCH
#   with the UID indicator, an empty result without ALL;
# - no \Recent in FETCH FLAGS; every unsolicited FETCH has the UID (7.5.2);
# - STATUS SIZE and DELETED (6.3.11), FETCH BINARY (6.4.5);
# - mailbox names in UTF-8 (5.1);
# - a rev1 session on the same folder keeps * SEARCH, RECENT, UNSEEN and
#   modified UTF-7.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
inst.maildir("example.test/demo/.&AMk-t&AOk-")
for i in range(1, 4):
    inst.put(("Subject: m%d\r\nFrom: ann@example.org\r\n\r\nbody %d\r\n" % (i, i)).encode(),
             "%d.M%dP1.host%s" % (1780000000 + i, i, ":2,S" if i == 1 else ""), sub="cur" if i == 1 else "new")
inst.put(b"Subject: b\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n", "1780000009.M9P1.host",
         mailbox="example.test/demo/.&AMk-t&AOk-")

c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
caps = r.split("[CAPABILITY ", 1)[1].split("]")[0].split() if "[CAPABILITY " in r else []
t.ok("IMAP4rev1" in caps and "IMAP4rev2" in caps, "IMAP4rev1 and IMAP4rev2 in the capabilities", r)
for need in ("BINARY", "STATUS=SIZE", "LITERAL+", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "UIDPLUS", "ESEARCH",
             "SEARCHRES", "LIST-EXTENDED", "LIST-STATUS", "MOVE", "SPECIAL-USE"):
    t.ok(need in caps, "%s offered, which IMAP4rev2 folds in (E.2)" % need, caps)

unt, r = c.cmd("ENABLE IMAP4rev2")
t.ok(unt == ["* ENABLED IMAP4rev2"] and " OK " in r, "ENABLE IMAP4rev2: * ENABLED IMAP4rev2", (unt, r))

unt, r = c.cmd("SELECT INBOX")
t.ok(" OK " in r and "* 3 EXISTS" in unt, "SELECT INBOX: OK, 3 EXISTS", (unt, r))
t.ok(not any(u.endswith(" RECENT") for u in unt), "no RECENT response (E.12)", unt)
t.ok(not any("[UNSEEN " in u for u in unt), "no [UNSEEN] response code (E.11)", unt)
fl = [u for u in unt if u.startswith("* FLAGS ")]
t.ok(fl and "\\Recent" not in fl[0], "FLAGS without \\Recent", fl)
t.ok(any(re.match(r'^\* LIST \(\\HasNoChildren\) "\." "?INBOX"?$', u) for u in unt), "the folder's LIST response (6.3.2)", unt)

unt, r = c.cmd("SEARCH ALL")
t.is_(unt, ['* ESEARCH (TAG "%s") ALL 1:3' % r.split()[0]], "SEARCH ALL: * ESEARCH (TAG ...) ALL 1:3 (6.4.4)")
tag = r.split()[0]
unt, r = c.cmd("UID SEARCH UNSEEN")
m = re.match(r'\* ESEARCH \(TAG "(\S+)"\) UID ALL (\S+)$', unt[0] if unt else "")
t.ok(m and m.group(1) == r.split()[0], "UID SEARCH: * ESEARCH (TAG ...) UID ALL set", unt)
unt, r = c.cmd("SEARCH SUBJECT nothing-like-this")
t.is_(unt, ['* ESEARCH (TAG "%s")' % r.split()[0]], "no match: ESEARCH without ALL")
unt, r = c.cmd("SEARCH RETURN (COUNT) ALL")
t.is_(unt, ['* ESEARCH (TAG "%s") COUNT 3' % r.split()[0]], "RETURN (COUNT) still as asked")
unt, r = c.cmd("FETCH 2 (FLAGS)")
t.ok(unt and "\\Recent" not in unt[0], "FETCH FLAGS: no \\Recent (E.12)", unt)

# another session's flag change: unsolicited FETCH with the UID (7.5.2)
c2 = ternlib.ImapConn(port)
c2.cmd("LOGIN demo@example.test demo")
unt2, r2 = c2.cmd("SELECT INBOX")
t.ok(any(u.endswith(" RECENT") for u in unt2), "a rev1 session on the same folder: RECENT", unt2)
c2.cmd("STORE 3 +FLAGS (\\Flagged)")
unt2, r2 = c2.cmd("SEARCH FLAGGED")
t.is_(unt2, ["* SEARCH 3"], "and * SEARCH, not ESEARCH")
unt, r = c.cmd("NOOP")
f = [u for u in unt if re.match(r"\* 3 FETCH ", u)]
t.ok(f and re.search(r"\bUID \d+", f[0]) and "\\Flagged" in f[0], "rev2: the other session's change as FETCH with the UID", unt)

unt, r = c.cmd('STATUS INBOX (MESSAGES SIZE DELETED)')
m = re.search(r"\(MESSAGES (\d+) SIZE (\d+) DELETED (\d+)\)", " ".join(unt))
t.ok(m and m.group(1) == "3" and int(m.group(2)) > 0 and m.group(3) == "0", "STATUS SIZE and DELETED (6.3.11)", unt)

unt, r = c.cmd('LIST "" "*"')
t.ok(any(u.endswith('"Été"') for u in unt), "LIST: the name in UTF-8 (5.1)", unt)
unt, r = c.cmd('SELECT "Été"')
t.ok(" OK " in r and any(u.startswith("* OK [CLOSED]") for u in unt), "SELECT of a UTF-8 name, after [CLOSED]", unt)
t.ok('* LIST (\\HasNoChildren) "." "Été"' in unt, "and its LIST in UTF-8", unt)
unt, r = c.cmd("FETCH 1 (BINARY[1] BINARY.SIZE[1])")
t.ok(unt and "hello world" in unt[0] and "BINARY.SIZE[1] 11" in unt[0], "FETCH BINARY[1]: the decoded text (6.4.5)", unt)

unt2, r2 = c2.cmd('LIST "" "*"')
t.ok(any(u.endswith("&AMk-t&AOk-") or u.endswith('"&AMk-t&AOk-"') for u in unt2), "the rev1 session: modified UTF-7", unt2)
c2.cmd("LOGOUT")
c.cmd("LOGOUT")
t.done()
