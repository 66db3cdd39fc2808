#!/usr/bin/python3
# imap-serve: a FETCH of what the index already knows writes nothing.
# Once a message's cache entry holds what parsing its file teaches
# (ENVELOPE, BODY, BODYSTRUCTURE, the size), no FETCH of it commits a
# write transaction to the folder's index (each such commit is an
# fdatasync): not of a body section alone (BODY.PEEK[TEXT],
# RFC822.HEADER, BODY.PEEK[HEADER.FIELDS]), which parses the file and
# used to replace the entry with the header fields alone, dropping the
# BODYSTRUCTURE and PREVIEW stored before; not of BODYSTRUCTURE after
# such a FETCH. The answers stay what they were (a client sees nothing
# of this but the speed).
import os
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
MD = inst.maildir()
port = inst.imap()
for i in range(3):
    inst.put("From: a@remote.test\nTo: demo@example.test\nSubject: nowrite %d\nMessage-ID: <%d@nowrite.test>\n"
             "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\nbody %d\n" % (i, i, i),
             "17300%05d.M%dP1Q1.nowrite" % (i, i), sub="cur")
index = os.path.join(MD, "tern-index", "data.mdb")
c = ternlib.ImapConn(port)
c.cmd('LOGIN "demo@example.test" "demo"')
lines, r = c.cmd("SELECT INBOX")
t.ok(r.endswith("OK [READ-WRITE] Select completed") and "* 3 EXISTS" in lines, "SELECT", (lines, r))
BS = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 1 NIL NIL NIL NIL)'
ENV = '(NIL "nowrite 0" ((NIL NIL "a" "remote.test"))'

def once():
    """Every kind of FETCH, once; the answers checked."""
    out = []
    lines, r = c.cmd("FETCH 1:* (BODYSTRUCTURE ENVELOPE RFC822.SIZE)")
    out.append(r.endswith("OK Fetch completed") and any(BS in l for l in lines) and any(ENV in l for l in lines))
    lines, r = c.cmd("FETCH 1 (BODY.PEEK[TEXT])")
    out.append(r.endswith("OK Fetch completed") and any("BODY[TEXT] {8}" in l for l in lines))
    lines, r = c.cmd("FETCH 1:* (RFC822.HEADER)")
    out.append(r.endswith("OK Fetch completed") and sum(1 for l in lines if "RFC822.HEADER {" in l) == 3)
    lines, r = c.cmd("FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out.append(r.endswith("OK Fetch completed") and any("Subject: nowrite 1" in l for l in lines))
    lines, r = c.cmd("FETCH 1:* (BODYSTRUCTURE)")
    out.append(r.endswith("OK Fetch completed") and sum(1 for l in lines if BS in l) == 3)
    return all(out), out

ok, out = once()
t.ok(ok, "the first round of FETCHes answers (and fills the cache)", out)
ok, out = once()
t.ok(ok, "a second round answers the same", out)
time.sleep(0.05)
m0 = os.stat(index).st_mtime_ns
s0 = os.stat(index).st_size
for k in range(3):
    ok, out = once()
    t.ok(ok, "round %d answers the same" % (k + 3), out)
st = os.stat(index)
t.ok(st.st_mtime_ns == m0 and st.st_size == s0,
     "three more rounds wrote nothing to the index (data.mdb not modified)", (m0, st.st_mtime_ns))
# the flags of a body FETCH still change and are still written
lines, r = c.cmd("FETCH 3 (BODY[TEXT])")
t.ok(any("FLAGS (\\Seen" in l for l in lines), "BODY[TEXT] sets \\Seen", lines)
t.ok(os.stat(index).st_mtime_ns != m0, "and that is written")
c.cmd("LOGOUT")
c.close()
t.done()
