#!/usr/bin/python3
# imap-serve: COMPRESS=DEFLATE (RFC 4978):
# - advertised after login only; COMPRESS before login is not accepted;
# - COMPRESS with no or an unknown mechanism: BAD; the OK is sent
#   uncompressed, everything after it raw deflate both ways (RFC 4978 3);
# - through the compressed stream: SELECT, FETCH of whole messages (the
#   bytes as on disk, fewer bytes on the wire than after inflating), APPEND
#   with a synchronizing literal (the "+" comes compressed) and a LITERAL+
#   one, IDLE woken by a delivery, two commands in one deflate block;
# - COMPRESS again: NO [COMPRESSIONACTIVE];
# - a stream that is not deflate: the session ends, the server stays up;
# - mbsync (t/5100) uses COMPRESS too, as it finds it advertised.

import os
import random
import re
import socket
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()

rng = random.Random(5)
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
BODIES = []
for i in range(30):
    body = "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(300))
    data = ("From: s%d@example.org\nTo: demo@example.test\nSubject: m%d\nMessage-ID: <z%d@x>\n\n%s\n" % (i, i, i, body)).encode()
    inst.put(data, "%d.M%dP1.host" % (1780000000 + i, i + 1))
    BODIES.append(data.replace(b"\n", b"\r\n"))


class ZConn(ternlib.ImapConn):
    """ImapConn that, once on(), deflates what it sends and inflates what it reads."""
    z = False
    wire_in = 0
    plain_in = 0

    def on(self):
        self.z = True
        self.co = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.de = zlib.decompressobj(-15)

    def send(self, data):
        data = data if isinstance(data, bytes) else data.encode()
        if self.z:
            data = self.co.compress(data) + self.co.flush(zlib.Z_SYNC_FLUSH)
        self.s.sendall(data)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        if self.z:
            self.wire_in += len(d)
            d = self.de.decompress(d)
            self.plain_in += len(d)
        self.buf += d


c = ZConn(port)
t.ok("COMPRESS" not in c.greeting.decode(), "the greeting does not offer COMPRESS (not before login)", c.greeting)
unt, r = c.cmd("COMPRESS DEFLATE")
t.ok(" OK " not in r, "COMPRESS before login is not accepted", r)
unt, r = c.cmd("LOGIN demo@example.test demo")
t.ok("COMPRESS=DEFLATE" in r, "after login: COMPRESS=DEFLATE in the capabilities", r)
for args, what in (("", "no mechanism"), (" FOO", "an unknown mechanism"), (" DEFLATE X", "too many arguments")):
    unt, r = c.cmd("COMPRESS" + args)
    t.ok(r.split()[1] == "BAD", "COMPRESS%s: BAD (%s)" % (args, what), r)
c.send("z1 COMPRESS DEFLATE\r\n")
r = c.line().decode()
t.is_(r, "z1 OK DEFLATE active", "COMPRESS DEFLATE: OK, uncompressed")
c.on()
unt, r = c.cmd("SELECT INBOX")
t.ok(" OK " in r and "* %d EXISTS" % len(BODIES) in unt, "SELECT through the compressed stream", (unt, r))
w0, p0 = c.wire_in, c.plain_in
unt, r = c.cmd("FETCH 1:* (BODY.PEEK[])")
got = [u.split("\r\n", 1)[1][:-1].encode() if "\r\n" in u else b"" for u in unt]
t.ok(" OK " in r and got == BODIES, "FETCH 1:* BODY[]: every message as on disk", r)
t.ok(c.wire_in - w0 < (c.plain_in - p0) / 2, "the FETCH came compressed: %d octets on the wire for %d" % (c.wire_in - w0, c.plain_in - p0))
# APPEND: a synchronizing literal, then LITERAL+
msg = b"From: a@example.org\r\nSubject: appended\r\n\r\nthrough deflate\r\n"
c.send(b"a1 APPEND INBOX {%d}\r\n" % len(msg))
cont = c.line()
t.ok(cont.startswith(b"+"), "APPEND: the continuation comes compressed", cont)
c.send(msg + b"\r\n")
unt, r = c.until("a1")
t.ok(" OK " in r and "APPENDUID" in r, "APPEND with a synchronizing literal", r)
c.send(b"a2 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
unt, r = c.until("a2")
t.ok(" OK " in r, "APPEND with a LITERAL+ literal", r)
n = len(BODIES) + 2
t.ok(any(u == "* %d EXISTS" % n for u in unt), "after the APPEND: %d EXISTS" % n, unt)
unt, r = c.cmd("FETCH %d BODY.PEEK[]" % n)
t.ok(unt and unt[0].endswith("\r\n" + msg.decode() + ")"), "the appended message reads back", unt)
# two commands in one deflate block
c.send("p1 NOOP\r\np2 STATUS INBOX (MESSAGES)\r\n")
u1, r1 = c.until("p1")
u2, r2 = c.until("p2")
t.ok(" OK " in r1 and " OK " in r2 and any("MESSAGES %d" % n in u for u in u2), "two pipelined commands in one block", (u2, r2))
# IDLE, woken by a delivery
c.send("i1 IDLE\r\n")
cont = c.line()
t.ok(cont.startswith(b"+"), "IDLE: the continuation", cont)
inst.put(b"Subject: during idle\n\nx\n", "1781000000.M1P1.host")
c.s.settimeout(15)
ln = c.line().decode()
t.is_(ln, "* %d EXISTS" % (n + 1), "IDLE: a delivery is told through the compressed stream")
c.send("DONE\r\n")
unt, r = c.until("i1")
t.ok(" OK " in r, "IDLE ends with DONE", r)
unt, r = c.cmd("COMPRESS DEFLATE")
t.ok(r.split()[1] == "NO" and "[COMPRESSIONACTIVE]" in r, "COMPRESS again: NO [COMPRESSIONACTIVE]", r)
unt, r = c.cmd("LOGOUT")
t.ok(any(u.startswith("* BYE") for u in unt) and " OK " in r, "LOGOUT: BYE and OK, compressed", (unt, r))
c.close()

# a broken stream
c = ZConn(port)
c.cmd("LOGIN demo@example.test demo")
c.send("z1 COMPRESS DEFLATE\r\n")
c.line()
c.s.sendall(b"\xff" * 64)
c.s.settimeout(10)
try:
    rest = c.s.recv(100)
    closed = rest == b""
except (ConnectionResetError, socket.timeout) as e:
    closed = not isinstance(e, socket.timeout)
t.ok(closed, "a stream that is not deflate: the session ends")
c2 = ternlib.ImapConn(port)
unt, r = c2.cmd("LOGIN demo@example.test demo")
t.ok(" OK " in r, "the server takes the next session", r)
c2.cmd("LOGOUT")
c2.close()
t.done()
