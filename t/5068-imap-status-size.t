#!/usr/bin/python3
# imap-serve: STATUS=SIZE (RFC 8438) and STATUS DELETED (RFC 9051 6.3.11):
# - RFC 8438 3's example (UIDNEXT MESSAGES SIZE) on a folder of appended
#   messages: SIZE the exact sum of their RFC822.SIZE;
# - messages another program put there (LF line ends, no ",W=" in the
#   name: their size unknown to the index): SIZE at least the sum (the
#   RFC's "equal to or greater"), and exact once FETCH RFC822.SIZE taught
#   the index; deliveries, expunges, MOVE change it;
# - DELETED counts \Deleted, before and after EXPUNGE;
# - LIST ... RETURN (STATUS (MESSAGES SIZE DELETED)) (RFC 8438 3, LIST-STATUS);
# - an unknown STATUS item is still a BAD.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
inst.maildir("example.test/demo/.blurdybloop")
inst.maildir("example.test/demo/.Other")

c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
caps = r.split("[CAPABILITY ", 1)[1].split("]")[0].split() if "[CAPABILITY " in r else []
t.ok("STATUS=SIZE" in caps, "STATUS=SIZE in the capabilities", r)


def status(box, items):
    unt, r = c.cmd("STATUS %s (%s)" % (box, items))
    m = [u for u in unt if u.startswith("* STATUS")]
    return (m[0] if m else None), r


def val(line, item):
    m = re.search(r"\b%s (\d+)" % item, line or "")
    return int(m.group(1)) if m else None


def append(box, msg):
    c.send(b"a APPEND %s {%d+}\r\n" % (box.encode(), len(msg)) + msg + b"\r\n")
    return c.until("a")[1]


MSGS = [b"Subject: one\r\n\r\nhello\r\n", b"Subject: two\r\n\r\n" + b"y" * 1000 + b"\r\n",
        b"Subject: three\r\nFrom: a@b.example\r\n\r\nbye\r\n"]
for m in MSGS:
    append("blurdybloop", m)
total = sum(len(m) for m in MSGS)

line, r = status("blurdybloop", "UIDNEXT MESSAGES SIZE")
t.ok(line and re.fullmatch(r'\* STATUS "?blurdybloop"? \(MESSAGES 3 UIDNEXT \d+ SIZE %d\)' % total, line) and " OK " in r,
     "RFC 8438 3: STATUS blurdybloop (UIDNEXT MESSAGES SIZE), SIZE the sum of the messages' octets", (line, r))
c.cmd("SELECT blurdybloop")
unt, r = c.cmd("FETCH 1:* (RFC822.SIZE)")
sizes = [int(x) for x in re.findall(r"RFC822.SIZE (\d+)", " ".join(unt))]
t.is_(sum(sizes), total, "the sum of FETCH RFC822.SIZE is the same")
line, r = status("blurdybloop", "SIZE")
t.is_(val(line, "SIZE"), total, "STATUS SIZE of the selected folder")

# DELETED
line, r = status("blurdybloop", "DELETED MESSAGES")
t.ok(line and val(line, "DELETED") == 0 and val(line, "MESSAGES") == 3, "DELETED 0 with no \\Deleted message", line)
c.cmd("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
line, r = status("blurdybloop", "DELETED")
t.is_(val(line, "DELETED"), 2, "DELETED 2 after STORE +FLAGS \\Deleted on two")
c.cmd("STORE 3 -FLAGS.SILENT (\\Deleted)")
line, r = status("blurdybloop", "DELETED")
t.is_(val(line, "DELETED"), 1, "DELETED 1 after one lost it again")
c.cmd("EXPUNGE")
line, r = status("blurdybloop", "DELETED SIZE MESSAGES")
t.ok(line and val(line, "DELETED") == 0 and val(line, "MESSAGES") == 2 and val(line, "SIZE") == total - len(MSGS[0]),
     "after EXPUNGE: DELETED 0, SIZE less the expunged message's", line)
c.cmd("MOVE 1 Other")
line, r = status("Other", "SIZE")
t.is_(val(line, "SIZE"), len(MSGS[1]), "MOVE: the size goes with the message (destination)")
line, r = status("blurdybloop", "SIZE")
t.is_(val(line, "SIZE"), len(MSGS[2]), "MOVE: and leaves the source")
c.cmd("UNSELECT")

# messages of unknown size: files with LF line ends, no ",W=" in their names
LFMSGS = [b"Subject: lf %d\n\n" % i + b"line\n" * (i * 10) for i in range(1, 4)]
for i, m in enumerate(LFMSGS):
    inst.put(m, "%d.M%dP1.host" % (1780000000 + i, i))
exact = sum(len(m) + m.count(b"\n") for m in LFMSGS)
line, r = status("INBOX", "MESSAGES SIZE")
t.ok(line and val(line, "MESSAGES") == 3 and val(line, "SIZE") >= exact,
     "sizes the index does not know: SIZE at least the sum of RFC822.SIZE (RFC 8438 3)", (line, exact))
c.cmd("EXAMINE INBOX")
unt, r = c.cmd("FETCH 1:* (RFC822.SIZE)")
t.is_(sum(int(x) for x in re.findall(r"RFC822.SIZE (\d+)", " ".join(unt))), exact, "RFC822.SIZE counts each LF as CRLF")
line, r = status("INBOX", "SIZE")
t.is_(val(line, "SIZE"), exact, "once FETCH taught the index the sizes: SIZE exact")
inst.put(b"Subject: late\n\nx\n", "1780000099.M99P1.host")
c.cmd("NOOP")
line, r = status("INBOX", "SIZE MESSAGES")
t.ok(line and val(line, "MESSAGES") == 4 and val(line, "SIZE") >= exact + 20, "a new delivery adds to SIZE", line)
c.cmd("UNSELECT")

# LIST-STATUS
unt, r = c.cmd('LIST "" "*" RETURN (STATUS (MESSAGES SIZE DELETED))')
st = {}
for u in unt:
    m = re.match(r"\* STATUS \"?([^\" ]+)\"? \((.*)\)", u)
    if m:
        st[m.group(1)] = m.group(2)
t.ok(" OK " in r and st.get("blurdybloop") == "MESSAGES 1 SIZE %d DELETED 0" % len(MSGS[2])
     and st.get("Other") == "MESSAGES 1 SIZE %d DELETED 0" % len(MSGS[1]),
     "LIST RETURN (STATUS (MESSAGES SIZE DELETED))", (unt, r))

# bad input
for q, what in (("blurdybloop (SIZE BOGUS)", "an unknown item"), ("blurdybloop (SIZE", "no closing parenthesis"),
                ("blurdybloop SIZE", "no list"), ("blurdybloop ()", "an empty list")):
    unt, r = c.cmd("STATUS " + q)
    t.ok(r.split()[1] == "BAD", "STATUS %s: BAD (%s)" % (q, what), r)
line, r = status("nosuch", "SIZE")
t.ok(line is None and r.split()[1] == "NO" and ("[NONEXISTENT]" in r or "[TRYCREATE]" in r), "STATUS SIZE of no folder: NO", r)
c.cmd("LOGOUT")
c.close()
code, out = inst.check()
t.is_(code, 0, "mailbox-check finds the index consistent") or t.diag(out)
t.done()
