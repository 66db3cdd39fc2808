#!/usr/bin/python3
# imap-serve's limits after the login: a command line over 64 KiB, a
# literal over 1 MiB in a command other than APPEND, a whole command over
# 8 MiB (BAD [TOOBIG], RFC 4469 / RFC 5530 3; a synchronizing literal is
# refused before its "+", a non-synchronizing one read and dropped: RFC
# 7888 4); APPEND over IMAP_APPENDLIMIT (NO [TOOBIG]; APPENDLIMIT=n in the
# capabilities, RFC 7889) and MULTIAPPEND (RFC 3502) over 100 messages
# (NO [LIMIT]), neither leaving anything behind; IMAP_MAXBAD; the
# autologout timer (IMAP_TIMEOUT, RFC 9051 5.4), in IDLE too (RFC 2177);
# IMAP_CMDTIMEOUT for a command whose literal never comes; and odd input
# (NUL, 8-bit octets, a tag of 1023 octets, an empty line) that must not
# end the session.

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
inst.put("Subject: one\n\nfirst\n")
inst.put("Subject: two\n\nsecond\n")
port = inst.imap()
MIB = 1 << 20


def log():
    return inst.read("log/stderr")


def session(p=port, timeout=30):
    c = ternlib.ImapConn(p, timeout=timeout)
    unt, tag = c.cmd("LOGIN demo@example.test demo", tag="L")
    if not tag.startswith("L OK"):
        raise RuntimeError("login: %r" % tag)
    c.login = tag
    return c


def ok(c, what="NOOP"):
    """Runs a command and says whether it got its tagged OK, and nothing
    the test did not expect (a stray BAD would show a command's rest read
    as a command of its own)."""
    unt, tag = c.cmd(what)
    stray = [u for u in unt if re.match(r"^\* (BAD|NO|BYE)", u)]
    return tag.startswith("t%d OK" % c.n) and not stray


def messages(c, box="INBOX"):
    unt, tag = c.cmd("STATUS %s (MESSAGES)" % box)
    for u in unt:
        m = re.match(r'^\* STATUS "?%s"? \(MESSAGES (\d+)\)$' % box, u)
        if m:
            return int(m.group(1))
    return None


def tmpfiles():
    d = os.path.join(inst.mailbox_path(), "tmp")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def junk(n):
    """n octets that would be commands if read as such."""
    s = (b"zz LOGOUT\r\n" * (n // 11 + 1))[:n]
    return s


def closed_after(c, t0):
    """(what came, closed, seconds since t0) once the server closes."""
    out, closed = ternlib.read_until_close(c.s, timeout=30)
    return (c.buf + out).decode(errors="replace"), closed, time.monotonic() - t0


# ---------------------------------------------------------------- lines
c = session()
t.ok(re.search(r"\bAPPENDLIMIT=52428800\b", c.login), "the default APPENDLIMIT=52428800 in the login's [CAPABILITY]", c.login)
c.send("big1 SEARCH TEXT " + "x" * 70000 + "\r\n")
r = c.line().decode()
t.like(r, r"^(big1|\*) BAD \[TOOBIG\] ", "a command line over 64 KiB: BAD [TOOBIG]")
t.ok(ok(c), "and the session goes on")
unt, tag = c.cmd("SELECT INBOX")
t.ok(tag.startswith("t%d OK" % c.n), "SELECT INBOX")
unt, tag = c.cmd("SEARCH TEXT " + "x" * 60000)
t.ok(unt == ["* SEARCH"] and tag.startswith("t%d OK" % c.n), "a line of 60,000 octets is a command like any other", (unt, tag[:80]))

# ---------------------------------------------------------------- literals outside APPEND
c.send("lit1 SEARCH TEXT {%d}\r\n" % (MIB + 1))
r = c.line().decode()
t.like(r, r"^lit1 BAD \[TOOBIG\] ", "a synchronizing literal over 1 MiB: BAD [TOOBIG] instead of '+'")
t.ok(ok(c), "and the session goes on")
c.send(b"lit2 SEARCH TEXT {%d+}\r\n" % (MIB + 1) + junk(MIB + 1) + b"\r\n")
r = c.line().decode()
t.like(r, r"^lit2 BAD \[TOOBIG\] ", "a non-synchronizing literal over 1 MiB: BAD [TOOBIG]")
t.ok(ok(c), "its octets were read and dropped (none taken for a command): the next command works")
c.send(b"lit3 SEARCH TEXT {%d+}\r\n" % MIB + b"q" * MIB + b" TEXT {%d+}\r\n" % (MIB + 1) + junk(MIB + 1) + b" ALL\r\n")
r = c.line().decode()
t.like(r, r"^lit3 BAD \[TOOBIG\] ", "an oversized literal after a good one in the same command: BAD [TOOBIG]")
t.ok(ok(c), "the rest of that command is dropped too")
c.send(b"lit4 SEARCH TEXT {%d+}\r\n" % MIB + b"q" * MIB + b"\r\n")
unt, tag = c.until("lit4")
t.ok(unt == ["* SEARCH"] and tag.startswith("lit4 OK"), "a literal of exactly 1 MiB is taken", (unt, tag))
# a whole command: at most 8 MiB
c.send(b"lit5 SEARCH" + b"".join(b" TEXT {%d+}\r\n" % MIB + b"w" * MIB for _ in range(9)) + b"\r\n")
r = c.line().decode()
t.like(r, r"^lit5 BAD \[TOOBIG\] ", "nine literals of 1 MiB in one command (over 8 MiB): BAD [TOOBIG]")
t.ok(ok(c), "and the session goes on")
c.cmd("LOGOUT")
c.close()

# ---------------------------------------------------------------- APPEND and APPENDLIMIT (RFC 7889)
pl = inst.imap(env={"IMAP_APPENDLIMIT": "1000"})
c = session(pl)
t.ok(re.search(r"\bAPPENDLIMIT=1000\b", c.login), "IMAP_APPENDLIMIT=1000: APPENDLIMIT=1000 in the login's [CAPABILITY]", c.login)
unt, tag = c.cmd("CAPABILITY")
t.ok(unt and re.search(r" APPENDLIMIT=1000( |$)", unt[0]) and len(re.findall("APPENDLIMIT", unt[0])) == 1,
     "and in CAPABILITY", unt)
n0 = messages(c)
t.is_(n0, 2, "INBOX has 2 messages")
msg = b"Subject: limit\r\n\r\n" + b"y" * (1000 - 20) + b"\r\n"
t.is_(len(msg), 1000, "a message of exactly 1000 octets ...")
c.send(b"a1 APPEND INBOX {1000}\r\n")
r = c.line().decode()
t.like(r, r"^\+ ", "... gets its '+'")
c.send(msg + b"\r\n")
unt, tag = c.until("a1")
t.like(tag, r"^a1 OK ", "and is appended")
t.is_(messages(c), n0 + 1, "INBOX: one more")
c.send(b"a2 APPEND INBOX (\\Seen) {1001}\r\n")
r = c.line().decode()
t.like(r, r"^a2 NO \[TOOBIG\] ", "a synchronizing literal of 1001 octets: NO [TOOBIG] instead of '+'")
t.ok(ok(c), "and the session goes on")
c.send(b"a3 APPEND INBOX {1001+}\r\n" + junk(1001) + b"\r\n")
r = c.line().decode()
t.like(r, r"^a3 NO \[TOOBIG\] ", "a non-synchronizing one of 1001: NO [TOOBIG] after reading it")
t.ok(ok(c), "none of its octets taken for a command: the next one works")
c.send(b"a4 APPEND INBOX {10+}\r\nSubject: x {1001+}\r\n" + junk(1001) + b" {10+}\r\nSubject: y\r\n")
r = c.line().decode()
t.like(r, r"^a4 NO \[TOOBIG\] ", "MULTIAPPEND with a message over the limit in the middle: NO [TOOBIG]")
t.ok(ok(c), "the rest of the command dropped")
t.is_(messages(c), n0 + 1, "none of the three appended (RFC 3502: all or nothing)")
t.is_(tmpfiles(), [], "and nothing left in tmp/")
c.cmd("LOGOUT")
c.close()

# ---------------------------------------------------------------- MULTIAPPEND: 100 messages at most
c = session()
n0 = messages(c)
one = b"Subject: m\r\n\r\nm\r\n"
c.send(b"m1 APPEND INBOX" + b"".join(b" {%d+}\r\n" % len(one) + one for _ in range(100)) + b"\r\n")
unt, tag = c.until("m1")
t.like(tag, r"^m1 OK ", "MULTIAPPEND of 100 messages: OK")
t.is_(messages(c), n0 + 100, "100 more in INBOX")
c.send(b"m2 APPEND INBOX" + b"".join(b" {%d+}\r\n" % len(one) + one for _ in range(101)) + b"\r\n")
unt, tag = c.until("m2")
t.like(tag, r"^m2 NO \[LIMIT\] ", "of 101: NO [LIMIT] (RFC 5530 3)")
unt2, tag2 = c.cmd("NOOP")
t.ok(not [u for u in unt + unt2 if re.match(r"^\* (BAD|NO|BYE)", u)] and tag2.startswith("t%d OK" % c.n),
     "the rest of the command dropped (nothing of it read as a command), the session goes on", unt + unt2)
t.is_(messages(c), n0 + 100, "none of the 101 appended")
c.send(b"m3 APPEND INBOX" + b"".join(b" {%d+}\r\n" % len(one) + one for _ in range(100)) + b" {%d}\r\n" % len(one))
r = c.line().decode()
t.like(r, r"^m3 NO \[LIMIT\] ", "a 101st message as a synchronizing literal: NO [LIMIT], no '+'")
t.ok(ok(c), "and the session goes on")
t.is_(messages(c), n0 + 100, "nothing appended")
t.is_(tmpfiles(), [], "nothing left in tmp/")
c.cmd("LOGOUT")
c.close()
rc, out = inst.check()
t.is_(rc, 0, "mailbox-check: the index agrees with the Maildir after all that", ) or t.diag(out)

# ---------------------------------------------------------------- IMAP_MAXBAD
pb = inst.imap(env={"IMAP_MAXBAD": "3"})
c = session(pb)
r = [c.cmd("BOGUS")[1], c.cmd("FETCH")[1]]
t.ok(all(re.match(r"^t\d+ BAD ", x) for x in r), "two bad commands after login: BAD each", r)
t.ok(ok(c), "the session goes on")
c.send("t9 XYZZY\r\n")
out = c.rest().decode(errors="replace")
c.close()
t.like(out, r"^t9 BAD [^\r\n]*\r\n\* BYE [^\r\n]*\r\n$", "the third (IMAP_MAXBAD=3): BAD, then * BYE and the close")
t.like(log(), r"imap-serve: info: end user=demo@example\.test ip=127\.0\.0\.1 reason=errors", "logged")

# ---------------------------------------------------------------- the autologout timer (RFC 9051 5.4)
pt = inst.imap(env={"IMAP_TIMEOUT": "2"})
c = session(pt)
t0 = time.monotonic()
out, closed, dt = closed_after(c, t0)
c.close()
t.ok(re.match(r"^\* BYE [^\r\n]*\r\n$", out) and closed, "an idle session: * BYE, then closed", out)
t.ok(dt >= 2.0, "after IMAP_TIMEOUT (2 s here), not before (%.1f s)" % dt)
c = session(pt)
c.cmd("SELECT INBOX")
c.send("i1 IDLE\r\n")
t0 = time.monotonic()
r = c.line().decode()
t.like(r, r"^\+ ", "IDLE: '+'")
out, closed, dt = closed_after(c, t0)
c.close()
t.ok(re.match(r"^\* BYE [^\r\n]*\r\n$", out) and closed, "IDLE without DONE ends with the timeout: * BYE, closed (RFC 2177)", out)
t.ok(dt >= 2.0, "after IMAP_TIMEOUT, not before (%.1f s)" % dt)
c = session(pt)
c.send("i2 IDLE\r\n")
c.line()
time.sleep(1.2)
c.send("DONE\r\n")
t.like(c.line().decode(), r"^i2 OK ", "an IDLE ended by DONE before the timeout: OK")
t.ok(ok(c), "and the session goes on")
c.close()

# ---------------------------------------------------------------- IMAP_CMDTIMEOUT: a command that never ends
pc = inst.imap(env={"IMAP_CMDTIMEOUT": "2"})
for what, data in (("an APPEND whose message never comes", b"c1 APPEND INBOX {20}\r\n"),
                   ("a synchronizing literal that never comes", b"c2 SELECT {5}\r\n"),
                   ("a non-synchronizing literal cut short", b"c3 SELECT {5+}\r\nIN"),
                   ("the line after a literal never ending", b"c4 SELECT {5+}\r\nINBOX (CONDST")):
    c = session(pc)
    t0 = time.monotonic()
    c.send(data)
    out, closed, dt = closed_after(c, t0)
    c.close()
    out = re.sub(r"^\+ [^\r\n]*\r\n", "", out)
    t.ok(re.match(r"^\* BYE [^\r\n]*\r\n$", out) and closed and dt >= 2.0,
         "%s: * BYE and closed after IMAP_CMDTIMEOUT (2 s here, %.1f s)" % (what, dt), out)
c = session(pc)
time.sleep(2.5)
t.ok(ok(c), "IMAP_CMDTIMEOUT is not the idle timer: a session idle for longer is still there")
c.close()

# ---------------------------------------------------------------- odd input
c = session()
serve = [l for l in log().splitlines() if "imap-serve: info: login" in l]
c.send("\r\n")
t.like(c.line().decode(), r"^\* BAD ", "an empty line: * BAD")
t.ok(ok(c), "and the session goes on")
c.send(b"n1 NOOP\x00\r\n")
t.like(c.line().decode(errors="replace"), r"^(n1|\*) BAD ", "a NUL in a command line: BAD")
c.send(b'n2 SELECT "IN\x00BOX"\r\n')
t.like(c.line().decode(errors="replace"), r"^(n2|\*) (BAD|NO) ", "a NUL in a quoted string: BAD or NO")
c.send(b"n3 SEARCH TEXT {3}\r\n")
c.line()
c.send(b"a\x00b\r\n")
unt, tag = c.until("n3")
t.like(tag, r"^n3 (OK|NO|BAD)", "a NUL in a literal: a tagged reply")
c.send(b"n4 SELECT INB\xffOX\r\n")
t.like(c.line().decode(errors="replace"), r"^(n4|\*) (BAD|NO) ", "an 8-bit octet in an atom: BAD or NO")
c.send(b'n5 CREATE "\xc3\xa9t\xc3\xa9"\r\n')
unt, tag = c.until("n5")
t.like(tag, r"^n5 (OK|NO|BAD)", "8-bit octets in a quoted mailbox name: a tagged reply")
c.send(b"n6 APPEND INBOX {10}\r\n")
c.line()
c.send(b"S: \xff\x00\x80\r\n\r\n\r\n")
unt, tag = c.until("n6")
t.like(tag, r"^n6 (OK|NO|BAD)", "NUL and 8-bit octets in an appended message: a tagged reply")
t.ok(ok(c), "the session goes on")
tag1023 = ("a.b-" * 256)[:1023]
unt, tag = c.cmd("NOOP", tag=tag1023)
t.ok(tag.startswith(tag1023 + " OK"), "a tag of 1023 octets is echoed whole with OK", tag[:40] + "..." + tag[1000:])
c.send("x" * 5000 + " NOOP\r\n")
r = c.line().decode(errors="replace")
t.like(r, r"^\S+ BAD ", "a tag of 5000 octets: BAD")
t.ok(ok(c), "the session goes on")
unt, tag = c.cmd("LOGOUT")
t.ok(unt == ["* BYE Logging out"] or (len(unt) == 1 and unt[0].startswith("* BYE")), "and ends with LOGOUT")
c.close()
time.sleep(0.3)
L = log()
t.ok("imap-serve: fatal" not in L and not re.search(r"imap-login: .*(signal|killed|exit=1[3-9][0-9])", L),
     "no imap-serve died on the way", [l for l in L.splitlines() if "fatal" in l or "exit=" in l][-5:])
t.ok(re.search(r"imap-serve: info: end user=demo@example\.test ip=127\.0\.0\.1 reason=logout", L), "the session logged its end")
rc, out = inst.check()
t.is_(rc, 0, "mailbox-check: the Maildir and its index agree") or t.diag(out)

t.done()
