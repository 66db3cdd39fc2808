#!/usr/bin/python3
# pop3-serve: the TRANSACTION and UPDATE states. STAT, LIST, RETR (LF to
# CRLF, dot-stuffing, exact sizes), TOP, DELE, RSET, NOOP, UIDL, CAPA and
# QUIT, with raw sockets and poplib; deletions only at QUIT; a second
# session gets -ERR [IN-USE]; mail delivered during a session is not in it;
# a message renamed or removed by another program meanwhile.

import os
import poplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Pop3Instance(t)
port = inst.pop3()
MD = inst.maildir()

M1 = b"From: a@remote.test\nSubject: first\n\nline one\n.starts with a dot\n..two dots\n.\nend\n"
M2 = b"Subject: crlf\r\n\r\nalready CRLF\r\nmixed\nno final newline"
M3 = b""
M4 = b"Subject: header only, no body, no final newline"
M5 = b"Subject: top\nX-Two: 2\n\nb1\nb2\nb3\n"
files = [inst.put(M1, "1700000001.M1P1Q1.host,S=%d" % len(M1)),
         inst.put(M2, "1700000002.M1P1Q1.host:2,S", sub="cur"),
         inst.put(M3, "1700000003.M1P1Q1.host"),
         inst.put(M4, "1700000004.M1P1Q1.host:2,", sub="cur"),
         inst.put(M5, "1700000010.M1P1Q1.host")]


def wire(m):
    """What RETR must send for a stored message, before stuffing."""
    out = b""
    lines = m.split(b"\n")
    for i, l in enumerate(lines):
        if i < len(lines) - 1:
            out += (l if l.endswith(b"\r") else l + b"\r") + b"\n"
        elif l:
            out += l + b"\r\n"
    return out


WANT = [wire(m) for m in (M1, M2, M3, M4, M5)]


def login(p=port):
    c = ternlib.Pop3Conn(p)
    c.cmd("USER demo@example.test")
    r = c.cmd("PASS demo")
    return c, r


c, r = login()
t.is_(r, "+OK Logged in, 5 messages", "logged in: 5 messages from new/ and cur/")
t.is_(c.cmd("STAT"), "+OK 5 %d" % sum(len(w) for w in WANT), "STAT: the count and the exact octets (CRLF line ends)")
t.is_(c.cmd("LIST"), "+OK Scan list follows", "LIST")
t.is_(c.multi().decode(), "".join("%d %d\r\n" % (i + 1, len(w)) for i, w in enumerate(WANT)), "one line per message, in delivery order, exact sizes")
t.is_(c.cmd("LIST 2"), "+OK 2 %d" % len(WANT[1]), "LIST 2")
for i, w in enumerate(WANT):
    c.send("RETR %d\r\n" % (i + 1))
    head = c.line().decode()
    body = c.multi()
    t.ok(head == "+OK %d octets" % len(w) and body == w, "RETR %d: CRLF line ends, the message exactly, its size in the reply" % (i + 1), (head, body, w))
c.send("RETR 1\r\n")
c.line()
raw = c.buf
while b"\r\n.\r\n" not in raw:
    raw += c.s.recv(65536)
c.buf = b""
t.ok(b"\r\n..starts with a dot\r\n...two dots\r\n..\r\nend\r\n.\r\n" in raw, "on the wire, lines starting with a dot are stuffed", raw)
c.send("TOP 5 0\r\n")
t.is_((c.line(), c.multi()), (b"+OK Top of message follows", b"Subject: top\r\nX-Two: 2\r\n\r\n"), "TOP 5 0: the header and the empty line")
c.send("TOP 5 2\r\n")
t.is_((c.line(), c.multi()), (b"+OK Top of message follows", b"Subject: top\r\nX-Two: 2\r\n\r\nb1\r\nb2\r\n"), "TOP 5 2: and two lines of the body")
c.send("TOP 5 99\r\n")
t.is_(c.line() and c.multi(), WANT[4], "TOP 5 99: the whole message")
c.send("TOP 4 3\r\n")
t.is_(c.line() and c.multi(), WANT[3], "TOP of a message without a body")
c.send("TOP 2 1\r\n")
t.is_(c.line() and c.multi(), b"Subject: crlf\r\n\r\nalready CRLF\r\n", "TOP of a message with CRLF line ends")
c.send("TOP 3 0\r\n")
t.is_(c.line() and c.multi(), b"", "TOP of an empty message")
t.is_(c.cmd("TOP 5"), "-ERR Syntax: TOP message lines", "TOP without a line count")
t.is_(c.cmd("TOP 5 -1"), "-ERR Syntax: TOP message lines", "TOP with a negative count")
t.is_(c.cmd("NOOP"), "+OK", "NOOP")
t.is_(c.cmd("RETR 6"), "-ERR No such message", "RETR of a message that does not exist")
t.is_(c.cmd("RETR 0"), "-ERR No such message", "RETR 0")
t.is_(c.cmd("RETR one"), "-ERR Syntax: a message number", "RETR with a word")
t.is_(c.cmd("RETR 1 2"), "-ERR Syntax: a message number", "RETR with two arguments")
t.is_(c.cmd("RETR"), "-ERR Syntax: a message number", "RETR without an argument")
t.is_(c.cmd("RETR +1"), "-ERR Syntax: a message number", "a number is digits only")
t.is_(c.cmd("LIST 99999999999999999999"), "-ERR Syntax: a message number", "a number too large")
t.is_(c.cmd("DELE 1"), "+OK Message deleted", "DELE 1")
t.is_(c.cmd("DELE 1"), "-ERR Message is deleted", "DELE of a deleted message")
t.is_(c.cmd("RETR 1"), "-ERR Message is deleted", "RETR of a deleted message")
t.is_(c.cmd("LIST 1"), "-ERR Message is deleted", "LIST of a deleted message")
t.is_(c.cmd("TOP 1 0"), "-ERR Message is deleted", "TOP of a deleted message")
t.is_(c.cmd("UIDL 1"), "-ERR Message is deleted", "UIDL of a deleted message")
t.is_(c.cmd("STAT"), "+OK 4 %d" % sum(len(w) for w in WANT[1:]), "STAT leaves deleted messages out")
c.send("LIST\r\n")
c.line()
t.ok(not c.multi().startswith(b"1 "), "so does LIST")
t.ok(os.path.exists(files[0]), "the file is still there: deletions happen at QUIT")
t.is_(c.cmd("RSET"), "+OK Maildrop has 5 messages", "RSET")
t.like(c.cmd("LIST 1"), r"^\+OK 1 ", "unmarks the deleted message")
t.is_(c.cmd("DELE 1"), "+OK Message deleted", "DELE 1 again")
t.is_(c.cmd("DELE 3"), "+OK Message deleted", "DELE 3")
t.is_(c.cmd("USER demo@example.test"), "-ERR Already logged in", "USER after the login")
t.is_(c.cmd("PASS demo"), "-ERR Already logged in", "PASS after the login")
t.is_(c.cmd("AUTH PLAIN"), "-ERR Already logged in", "AUTH after the login")
t.is_(c.cmd("STLS"), "-ERR STLS is not available", "STLS")
t.is_(c.cmd("FOO"), "-ERR Unknown command", "an unknown command")
t.is_(c.cmd("NOOP x"), "-ERR Syntax: NOOP", "NOOP with an argument")
c.send("CAPA\r\n")
t.is_(c.line(), b"+OK Capability list follows", "CAPA after the login ...")
caps = c.multi().decode().split("\r\n")
t.ok({"TOP", "UIDL", "USER", "SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"} <= set(caps), "... the same capabilities (RFC 2449 5)", caps)

# -- a second session on the same mailbox --
c2, r2 = login()
t.is_(r2, "-ERR [IN-USE] Mailbox in use by another session", "a second session gets -ERR [IN-USE] (RFC 2449 8.1.2)")
t.is_(c2.rest(), b"", "and is closed")
c2.close()

# -- QUIT: the UPDATE state --
t.is_(c.cmd("QUIT"), "+OK Bye", "QUIT")
t.is_(c.rest(), b"", "closes the connection")
c.close()
t.ok(not os.path.exists(files[0]) and not os.path.exists(files[2]), "the deleted messages are gone")
t.ok(all(os.path.exists(f) for f in (files[1], files[3], files[4])), "the others are still there, untouched")
t.is_(open(files[1], "rb").read(), M2, "byte for byte")

# -- deletions happen only at QUIT --
c, r = login()
t.is_(r, "+OK Logged in, 3 messages", "a new session after the first one ended: the lock is free")
t.is_(c.cmd("DELE 1"), "+OK Message deleted", "DELE 1 (from cur/) ...")
c.close()
time.sleep(0.5)
t.ok(os.path.exists(files[1]), "... then the connection drops without QUIT: nothing is deleted")
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("demo@example.test")
p.pass_("demo")
t.is_(p.stat()[0], 3, "poplib: the message is still listed")
p.dele(1)
p.quit()
t.ok(not os.path.exists(files[1]), "poplib DELE and QUIT remove a message in cur/")

# -- mail delivered during a session is not in it --
c, r = login()
n0 = c.cmd("STAT")
new = inst.put(b"Subject: late\n\nlate\n", "1800000000.M1P1Q1.host")
r = inst.run(["deliver", "-d", MD], input="Subject: delivered\n\nhi\n")
t.is_(r.returncode, 0, "deliver -d puts a message into new/ during the session")
t.is_(c.cmd("STAT"), n0, "STAT does not change")
c.send("UIDL\r\n")
c.line()
t.ok(b"1800000000" not in c.multi(), "neither does UIDL")
t.is_(c.cmd("RETR 5"), "-ERR No such message", "the new ones have no number")
c.cmd("QUIT")
c.close()
c, r = login()
t.is_(r, "+OK Logged in, 4 messages", "the next session sees them")

# -- another program renames or removes a message during the session --
c.send("UIDL\r\n")
c.line()
uidl = c.multi()
old = inst.path("mail/example.test/demo/new/1800000000.M1P1Q1.host")
os.rename(old, inst.path("mail/example.test/demo/cur/1800000000.M1P1Q1.host:2,S"))
c.send("RETR 4\r\n")
t.is_((c.line(), c.multi()), (b"+OK 23 octets", b"Subject: late\r\n\r\nlate\r\n"), "a message moved to cur/ with flags (as an IMAP client does) is still retrieved")
c.send("UIDL\r\n")
c.line()
t.is_(c.multi(), uidl, "and keeps its UIDL")
os.unlink(files[3])
t.is_(c.cmd("RETR 1"), "-ERR [SYS/TEMP] Cannot open the message", "a message removed by another program: -ERR, the session goes on")
t.is_(c.cmd("DELE 1"), "+OK Message deleted", "it can be deleted")
t.is_(c.cmd("DELE 4"), "+OK Message deleted", "and the moved one too")
t.is_(c.cmd("QUIT"), "+OK Bye", "QUIT removes what is still there and ignores what is gone")
c.close()
t.ok(not os.path.exists(inst.path("mail/example.test/demo/cur/1800000000.M1P1Q1.host:2,S")), "the moved message was removed under its new name")

# -- many messages, a large one, pipelined commands --
for f in os.listdir(inst.path("mail/example.test/demo/new")) + os.listdir(inst.path("mail/example.test/demo/cur")):
    for sub in ("new", "cur"):
        try:
            os.unlink(inst.path("mail/example.test/demo", sub, f))
        except FileNotFoundError:
            pass
big = b"Subject: big\n\n" + b"".join(b"%06d ........................................................................\n" % i for i in range(20000)) + b".\n"
inst.put(big, "1700000100.M1P1Q1.host")
for i in range(300):
    inst.put(b"Subject: %d\n\nbody %d\n" % (i, i), "1700000200.M%03dP1Q1.host" % i)
c, r = login()
t.is_(r, "+OK Logged in, 301 messages", "301 messages")
c.send("RETR 1\r\n")
head, body = c.line(), c.multi()
t.ok(head == b"+OK Message follows" and body == wire(big), "a 1.6 MB message is sent whole (read in chunks, once; its size is not known before)", head)
c.send("LIST 1\r\n")
t.is_(c.line(), ("+OK 1 %d" % len(wire(big))).encode(), "its size, learned while sending it")
c.send("".join("RETR %d\r\nDELE %d\r\n" % (i, i) for i in range(2, 302)))
ok = True
for i in range(2, 302):
    head, body, dele = c.line(), c.multi(), c.line()
    j = (i - 2)
    ok = ok and body == b"Subject: %d\r\n\r\nbody %d\r\n" % (j, j) and dele == b"+OK Message deleted"
t.ok(ok, "600 pipelined commands: every reply, in order")
t.is_(c.cmd("STAT"), "+OK 1 %d" % len(wire(big)), "STAT")
c.cmd("QUIT")
c.rest()
c.close()
t.is_(len(os.listdir(inst.path("mail/example.test/demo/new"))), 1, "300 messages deleted at QUIT")
t.like(inst.read("log/stderr"), r"pop3-serve: info: end user=demo@example\.test ip=127\.0\.0\.1 reason=quit retrieved=301 deleted=300", "the end of the session is logged")

t.done()
