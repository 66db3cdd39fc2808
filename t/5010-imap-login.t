#!/usr/bin/python3
# imap-login: the not-authenticated state (RFC 3501 6.1-6.2, RFC 9051
# 6.1-6.2) under the login monitor. The greeting and CAPABILITY before and
# after STARTTLS, with and without IMAP_PLAINTEXT (LOGINDISABLED, no
# AUTH=PLAIN in the clear, NO [PRIVACYREQUIRED]); what is pipelined behind
# STARTTLS is dropped; LOGIN with atoms, quoted strings, literals (sync,
# and LITERAL- non-sync up to 4096: RFC 7888 5); AUTHENTICATE PLAIN (RFC
# 4616) with SASL-IR (RFC 4959) or "+ ", "=", "*", bad base64, another
# authzid; the response codes of RFC 5530; a good login's tagged OK with
# the post-login capabilities (RFC 9051 7.1), written by imap-serve, which
# also answers what was pipelined behind the login; ID (RFC 2971); NOOP,
# LOGOUT, errors and every pre-auth limit; who runs what (the monitor as
# root, the child as ternlogin, imap-serve as the mailbox owner); a chain
# that fails; imap-serve's own PREAUTH greeting without the monitor.

import base64
import os
import pwd
import re
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
BOBPW = 'se"cr\\et x'     # a quote, a backslash and a space: needs quoting or a literal
inst = ternlib.ImapInstance(t, users=(("demo@example.test", "demo"), ("bob@example.test", BOBPW), ("carol@example.test", "carol")))
inst.put("Subject: one\n\nfirst\n")
inst.put("Subject: two\n\nsecond\n")
inst.maildir("example.test/bob")
os.chmod(inst.maildir("example.test/carol"), 0)      # a Maildir its owner cannot enter
port = inst.imap()                                   # IMAP_PLAINTEXT=1, no tlsd
SERVE = os.path.join(ternlib.BUILD, "imap-serve")
FAKE = os.path.join(ternlib.HERE, "fake-checkpassword")
PRE = {"IMAP4REV1", "SASL-IR", "ID", "LITERAL-"}
POST = {"IMAP4REV1", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN",
        "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "ESEARCH", "CONDSTORE", "QRESYNC",
        "MULTIAPPEND", "APPENDLIMIT=52428800"}
AUTHFAIL = "NO [AUTHENTICATIONFAILED] "
STATUS2 = r'^\* STATUS "?INBOX"? \(MESSAGES 2\)$'


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def caps_in(line):
    """The capabilities of a [CAPABILITY ...] response code, upper case."""
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line if isinstance(line, str) else line.decode(errors="replace"))
    return set(x.upper() for x in m.group(1).split()) if m else None


def caps_cmd(c):
    unt, tag = c.cmd("CAPABILITY")
    lines = [u for u in unt if u.startswith("* CAPABILITY ")]
    if len(lines) != 1 or " OK" not in tag:
        return None
    return set(x.upper() for x in lines[0].split()[2:])


def log():
    return inst.read("log/stderr")


def wait_for(fn, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        r = fn()
        if r:
            return r
        time.sleep(0.05)
    return fn()


def wait_log(regex, timeout=10):
    return wait_for(lambda: re.search(regex, log()), timeout)


def tls_wrap(c):
    c.s = ternlib.tls_ctx(inst.crt).wrap_socket(c.s)


def quiet(c, secs=1.0):
    """What the server sends unasked within secs (b"" when nothing)."""
    c.s.settimeout(secs)
    try:
        d = c.buf + c.s.recv(4096)
    except socket.timeout:
        d = c.buf
    except (ConnectionResetError, ssl.SSLError):
        d = c.buf + b"[reset]"
    c.buf = b""
    c.s.settimeout(15)
    return d


def tagged_ok(line, tag):
    return line.startswith(tag + " OK")


# ---------------------------------------------------------------- greeting
# RFC 9051 7.1: the greeting may carry the capabilities; RFC 7888 5: LITERAL-
# and LITERAL+ are never both advertised.
c = ternlib.ImapConn(port)
g = c.greeting.decode()
t.like(g, r"^\* OK \[CAPABILITY [^\]]+\] ", "greeting: * OK [CAPABILITY ...]")
gc = caps_in(g) or set()
t.ok(PRE <= gc and "AUTH=PLAIN" in gc, "IMAP4rev1 SASL-IR ID LITERAL- AUTH=PLAIN in it (IMAP_PLAINTEXT=1)", gc)
t.ok("LITERAL+" not in gc and "LOGINDISABLED" not in gc and "STARTTLS" not in gc,
     "neither LITERAL+ nor LOGINDISABLED, and no STARTTLS without tlsd", gc)
t.is_(caps_cmd(c), gc, "CAPABILITY lists the same")
unt, tag = c.cmd("CAPABILITY now")
t.like(tag, r"^t\d+ BAD ", "CAPABILITY with an argument: BAD")
unt, tag = c.cmd("STARTTLS")
t.like(tag, r"^t\d+ (BAD|NO) ", "STARTTLS without tlsd -u: refused")
unt, tag = c.cmd("NOOP")
t.ok(unt == [] and tagged_ok(tag, "t%d" % c.n), "NOOP: OK", (unt, tag))
unt, tag = c.cmd("noop")
t.ok(tagged_ok(tag, "t%d" % c.n), "commands in any case")
t.like(c.cmd("NOOP x")[1], r"^t\d+ BAD ", "NOOP with an argument: BAD")
t.like(c.cmd("XYZZY")[1], r"^t\d+ BAD ", "an unknown command: BAD")
for cmd in ("SELECT INBOX", "EXAMINE INBOX", 'LIST "" *', "STATUS INBOX (MESSAGES)", "FETCH 1 FLAGS", "IDLE",
            "ENABLE IMAP4rev2", "NAMESPACE", "UID FETCH 1 FLAGS", "CREATE foo"):
    unt, tag = c.cmd(cmd)
    t.ok(re.match(r"^t\d+ BAD ", tag) and unt == [], "%s before login: BAD, nothing else" % cmd.split()[0], (unt, tag))
# RFC 9051 6.1.3: BYE, then the tagged OK, then the close
unt, tag = c.cmd("LOGOUT", tag="bye1")
t.ok(len(unt) == 1 and unt[0].startswith("* BYE ") and tag.startswith("bye1 OK"), "LOGOUT: * BYE then bye1 OK", (unt, tag))
t.is_(c.rest(), b"", "and the server closes the connection")
c.close()
t.like(log(), r"imap-login: info: connect ip=127\.0\.0\.1", "the monitor logs the connection")
t.ok(wait_log(r"imap-login: info: end ip=127\.0\.0\.1 reason=logout"), "and the child its end")

# ---------------------------------------------------------------- ID (RFC 2971)
IDREPLY = r'^\* ID (NIL|\("[^"]*" ("[^"]*"|NIL)( "[^"]*" ("[^"]*"|NIL))*\))$'
c = ternlib.ImapConn(port)
unt, tag = c.cmd("ID NIL")
t.ok(len(unt) == 1 and re.match(IDREPLY, unt[0]) and tagged_ok(tag, "t1"), "ID NIL: * ID (...) and OK", (unt, tag))
unt, tag = c.cmd('ID ("name" "test client" "version" "1.0" "os" NIL)')
t.ok(len(unt) == 1 and re.match(IDREPLY, unt[0]) and tagged_ok(tag, "t2"), "ID with a list: * ID (...) and OK", (unt, tag))
# RFC 2971 3.3: at most 30 pairs, fields up to 30 octets, values up to 1024
big = "ID (" + " ".join('"%s" "%s"' % (("f%02d" % i) * 10, chr(97 + i % 26) * 1024) for i in range(30)) + ")"
t.ok(len(big) > 30000, "the largest ID of RFC 2971 3.3 is %d octets" % len(big))
unt, tag = c.cmd(big)
t.ok(len(unt) == 1 and re.match(IDREPLY, unt[0]) and tagged_ok(tag, "t3"), "and it is accepted", (unt[:1], tag))
c.send('t4 ID ({4+}\r\nname {5+}\r\nvalue)\r\n')
unt, tag = c.until("t4")
t.ok(len(unt) == 1 and tagged_ok(tag, "t4"), "ID with non-synchronizing literals (LITERAL-)", (unt, tag))
t.like(c.cmd("ID")[1], r"^t\d+ BAD ", "ID without an argument: BAD")
t.like(c.cmd('ID ("name")')[1], r"^t\d+ BAD ", "ID with an odd list: BAD")
c.close()

# ---------------------------------------------------------------- LOGIN
def fresh(p=port):
    return ternlib.ImapConn(p)


c = fresh()
unt, tag = c.cmd("LOGIN demo@example.test demo", tag="Ab.7-x")
t.ok(unt == [] and tag.startswith("Ab.7-x OK [CAPABILITY "), "LOGIN with atoms: the same tag, OK [CAPABILITY ...]", (unt, tag))
lc = caps_in(tag) or set()
t.ok(POST <= lc, "the post-login capabilities in it (RFC 9051 7.1)", lc)
t.ok(not lc & {"LITERAL-", "LOGINDISABLED", "STARTTLS", "SASL-IR"} and not any(x.startswith("AUTH=") for x in lc),
     "and none of the pre-auth ones", lc)
t.is_(caps_cmd(c), lc, "CAPABILITY after the login lists the same")
unt, tag = c.cmd("SELECT INBOX")
t.ok("* 2 EXISTS" in unt and " OK " in tag, "the mailbox is served: SELECT INBOX, 2 EXISTS", (unt, tag))
t.like(c.cmd("LOGIN demo@example.test demo")[1], r"^t\d+ BAD ", "LOGIN again: BAD (RFC 9051 6.2: no way back)")
c.cmd("LOGOUT")
c.close()

c = fresh()
t.ok(c.cmd('LOGIN "demo@example.test" "demo"')[1].startswith("t1 OK [CAPABILITY"), "LOGIN with quoted strings")
c.close()
c = fresh()
q = BOBPW.replace("\\", "\\\\").replace('"', '\\"')
t.ok(c.cmd('LOGIN "bob@example.test" "%s"' % q)[1].startswith("t1 OK [CAPABILITY"), 'quoted with \\" and \\\\ escapes')
c.close()
c = fresh()
t.like(c.cmd('LOGIN bob@example.test "%s"' % BOBPW)[1], r"^t1 BAD ", "the same password unescaped: BAD (RFC 9051 9, quoted)")
t.like(c.cmd('LOGIN bob@example.test "a\\x"')[1], r"^t2 BAD ", "a backslash before anything but a quote or a backslash: BAD")
c.close()

# synchronizing literals: "+" before each (RFC 9051 4.3)
c = fresh()
c.send("s1 LOGIN {16}\r\n")
t.like(c.line().decode(), r"^\+ ", "LOGIN {16}: a continuation request")
c.send("bob@example.test {%d}\r\n" % len(BOBPW))
t.like(c.line().decode(), r"^\+ ", "and another for the password's literal")
c.send(BOBPW + "\r\n")
t.ok(c.line().decode().startswith("s1 OK [CAPABILITY"), "logged in with two literals")
c.close()
# non-synchronizing (LITERAL-, RFC 7888): no "+", the whole command at once
c = fresh()
c.send("n1 LOGIN {16+}\r\nbob@example.test {%d+}\r\n%s\r\n" % (len(BOBPW), BOBPW))
first = c.line().decode()
t.ok(first.startswith("n1 OK [CAPABILITY"), "LOGIN with non-synchronizing literals: OK, no continuation", first)
c.close()
c = fresh()
c.send("n2 LOGIN demo@example.test {4096+}\r\n" + "p" * 4096 + "\r\n")
r = c.line().decode()
t.ok(r.startswith("n2 " + AUTHFAIL), "a non-synchronizing literal of 4096 octets is read (a wrong password: NO)", r)
c.send("n3 LOGIN demo@example.test {4096}\r\n")
r = c.line().decode()
t.like(r, r"^\+ ", "a synchronizing one of 4096: +")
c.send("q" * 4096 + "\r\n")
t.ok(c.line().decode().startswith("n3 " + AUTHFAIL), "and read")
t.ok(c.cmd("LOGIN demo@example.test demo")[1].startswith("t1 OK [CAPABILITY"), "then a good login on the same connection")
c.close()

# wrong password, unknown user: the same reply, and the session goes on
c = fresh()
r1 = c.cmd("LOGIN demo@example.test wrong")
r2 = c.cmd("LOGIN nobody@example.test demo")
t.ok(r1[0] == [] and r1[1].startswith("t1 " + AUTHFAIL), "a wrong password: NO [AUTHENTICATIONFAILED] (RFC 5530 3)", r1)
t.is_((r2[0], r2[1][3:]), (r1[0], r1[1][3:]), "an unknown user: exactly the same reply")
t.like(c.cmd("LOGIN")[1], r"^t\d+ BAD ", "LOGIN without arguments: BAD")
t.like(c.cmd("LOGIN onlyuser")[1], r"^t\d+ BAD ", "LOGIN with one: BAD")
t.ok(c.cmd("LOGIN demo@example.test demo")[1].startswith("t5 OK [CAPABILITY"), "after two failures a good login works")
c.close()
t.ok(not [pw for pw in ("wrong", BOBPW, "=wrong") if pw in log()], "no password in the log")
t.like(log(), r"imap-login: info: login ip=127\.0\.0\.1 user=demo@example\.test result=refused exit=1", "the monitor logs a refusal")
t.like(log(), r"imap-login: info: login ip=127\.0\.0\.1 user=demo@example\.test result=ok", "and a login")

# IMAP_MAXLOGINS (3): the third failure ends the session
c = fresh()
out = [c.cmd("LOGIN demo@example.test bad%d" % i)[1] for i in range(2)]
c.send("t3 LOGIN demo@example.test bad2\r\n")
rest = c.rest().decode(errors="replace")
c.close()
t.ok(all(x.startswith("t%d %s" % (i + 1, AUTHFAIL)) for i, x in enumerate(out)), "two failed logins: NO each", out)
t.like(rest, r"^t3 NO \[AUTHENTICATIONFAILED\] [^\r\n]*\r\n\* BYE [^\r\n]*\r\n$",
       "the third (IMAP_MAXLOGINS=3): NO, then * BYE and the close")
p1 = inst.imap(env={"IMAP_MAXLOGINS": "1"})
c = fresh(p1)
c.send("t1 LOGIN demo@example.test bad\r\n")
t.like(c.rest().decode(errors="replace"), r"^t1 NO \[AUTHENTICATIONFAILED\] [^\r\n]*\r\n\* BYE ", "IMAP_MAXLOGINS=1: BYE after the first")
c.close()

# ---------------------------------------------------------------- AUTHENTICATE PLAIN
c = fresh()
unt, tag = c.cmd("AUTHENTICATE PLAIN " + b64("\0demo@example.test\0demo"), tag="au1")
t.ok(unt == [] and tag.startswith("au1 OK [CAPABILITY ") and POST <= (caps_in(tag) or set()),
     "AUTHENTICATE PLAIN with an initial response (SASL-IR): au1 OK [CAPABILITY ...]", (unt, tag))
c.close()
c = fresh()
c.send("au2 AUTHENTICATE PLAIN\r\n")
t.is_(c.line(), b"+ ", "without one: the empty challenge '+ ' (RFC 9051 7.5)")
c.send(b64("\0bob@example.test\0" + BOBPW) + "\r\n")
t.ok(c.line().decode().startswith("au2 OK [CAPABILITY"), "the response on its own line logs in")
c.close()
c = fresh()
t.ok(c.cmd("authenticate plain " + b64("Demo@Example.TEST\0demo@example.test\0demo"))[1].startswith("t1 OK [CAPABILITY"),
     "an authzid equal to the user (in any case) is fine; the verb and mechanism in any case")
c.close()

c = fresh()
before = log().count("pwcheck:")
r = c.cmd("AUTHENTICATE PLAIN " + b64("bob@example.test\0demo@example.test\0demo"))[1]
t.ok(r.startswith("t1 NO [AUTHORIZATIONFAILED] "), "an authzid other than the user: NO [AUTHORIZATIONFAILED] (RFC 4616 2, RFC 5530 3)", r)
time.sleep(0.2)
t.is_(log().count("pwcheck:"), before, "without running the chain")
t.ok(c.cmd("AUTHENTICATE PLAIN " + b64("\0demo@example.test\0wrong"))[1].startswith("t2 " + AUTHFAIL),
     "a wrong password: NO [AUTHENTICATIONFAILED]")
c.close()
c = fresh()
r = c.cmd("AUTHENTICATE PLAIN =")[1]
t.like(r, r"^t1 NO ", "'=' (an empty initial response, RFC 4959): not a PLAIN message, NO")
c.send("t2 AUTHENTICATE PLAIN\r\n")
c.line()
c.send("*\r\n")
t.like(c.line().decode(), r"^t2 BAD ", "'*' cancels the exchange: BAD (RFC 9051 6.2.2)")
for i, bad in enumerate(("AB!D", "=AAA", "AAA=BBBB", "ZGVtbw", "ZGVtbw=")):
    r = c.cmd("AUTHENTICATE PLAIN " + bad, tag="b%d" % i)[1]
    t.like(r, r"^b%d BAD " % i, "invalid base64 %r as the initial response: BAD (RFC 9051 6.2.2)" % bad)
c.send("b9 AUTHENTICATE PLAIN\r\n")
c.line()
c.send("not base64!\r\n")
t.like(c.line().decode(), r"^b9 BAD ", "and after '+ '")
t.like(c.cmd("AUTHENTICATE PLAIN " + b64("demo@example.test\0demo"))[1], r"^t\d+ NO ", "a PLAIN message of two parts: NO")
c.send("b10 AUTHENTICATE PLAIN\r\n")
c.line()
c.send("\r\n")
t.like(c.line().decode(), r"^b10 NO ", "an empty line after '+ ' (an empty response): not a PLAIN message, NO")
for i, ir in enumerate(('"%s"' % b64("\0demo@example.test\0demo"), "{32+}\r\n" + b64("\0demo@example.test\0demo"))):
    t.like(c.cmd("AUTHENTICATE PLAIN " + ir, tag="q%d" % i)[1], r"^q%d BAD " % i,
           "an initial response as a %s: BAD (RFC 9051 6.2.2: base64 outside strings and literals)" % ("quoted string", "literal")[i])
t.like(c.cmd("AUTHENTICATE CRAM-MD5")[1], r"^t\d+ NO ", "an unsupported mechanism: NO (RFC 9051 6.2.2)")
t.like(c.cmd("AUTHENTICATE")[1], r"^t\d+ BAD ", "AUTHENTICATE without a mechanism: BAD")
t.ok(c.cmd("AUTHENTICATE PLAIN " + b64("\0demo@example.test\0demo"))[1].startswith("t%d OK [CAPABILITY" % c.n),
     "after all that (failures that were not logins), a good one works")
c.close()

# ---------------------------------------------------------------- pipelining behind the login
c = fresh()
c.send("p1 CAPABILITY\r\np2 LOGIN demo@example.test demo\r\np3 SELECT INBOX\r\n"
       "p4 FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\np5 LOGOUT\r\n")
out = c.rest().decode(errors="replace")
c.close()
lines = out.split("\r\n")
tags = [l.split(" ", 1)[0] for l in lines if re.match(r"^p\d ", l)]
t.is_(tags, ["p1", "p2", "p3", "p4", "p5"], "five pipelined commands, five tagged replies in order")
t.ok(any(l.startswith("p2 OK [CAPABILITY") for l in lines), "p2 LOGIN: OK [CAPABILITY ...]")
t.ok("* 2 EXISTS" in lines and any(l.startswith("p3 OK") for l in lines),
     "p3 SELECT pipelined behind LOGIN is answered by imap-serve (the child left it in the socket)", out[-600:])
t.ok("Subject: two" in out and any(l.startswith("p4 OK") for l in lines), "p4 FETCH too")
t.ok(lines[-3] == "* BYE Logging out" and lines[-2].startswith("p5 OK") and lines[-1] == "",
     "and p5 LOGOUT last: * BYE, p5 OK, then the close", lines[-4:])
c = fresh()
c.send("q1 LOGIN demo@example.test wrong\r\nq2 AUTHENTICATE PLAIN %s\r\nq3 STATUS INBOX (MESSAGES)\r\nq4 LOGOUT\r\n"
       % b64("\0demo@example.test\0demo"))
out = c.rest().decode(errors="replace")
c.close()
t.like(out, r"^q1 NO \[AUTHENTICATIONFAILED\][^\r]*\r\nq2 OK \[CAPABILITY [^\r]*\r\n\* STATUS \"?INBOX\"? \(MESSAGES 2\)\r\nq3 OK[^\r]*\r\n\* BYE",
       "a failed LOGIN, a good AUTHENTICATE, STATUS and LOGOUT pipelined: each answered in order")

# ---------------------------------------------------------------- errors and limits before login
pe = inst.imap(env={"IMAP_MAXERRORS": "3"})
c = fresh(pe)
r = [c.cmd("BOGUS%d" % i)[1] for i in range(2)]
t.ok(all(re.match(r"^t\d+ BAD ", x) for x in r), "two bad commands: BAD each")
t.ok(tagged_ok(c.cmd("NOOP")[1], "t3"), "the session goes on")
c.send("t4 BOGUS\r\n")
out = c.rest().decode(errors="replace")
c.close()
t.like(out, r"^t4 BAD [^\r\n]*\r\n\* BYE [^\r\n]*\r\n$", "the third (IMAP_MAXERRORS=3): BAD, then * BYE and the close")

c = fresh()
c.send("big1 NOOP " + "x" * 33000 + "\r\n")
r = c.line().decode()
t.like(r, r"^(big1|\*) BAD \[TOOBIG\] ", "a line over 32 KiB: BAD [TOOBIG]")
t.ok(tagged_ok(c.cmd("NOOP")[1], "t1"), "and the session goes on")
c.send("big2 LOGIN demo@example.test {4097}\r\n")
r = c.line().decode()
t.like(r, r"^big2 BAD \[TOOBIG\] ", "a synchronizing literal over 4096 octets: BAD [TOOBIG], no '+' (RFC 7888 5)")
t.ok(tagged_ok(c.cmd("NOOP")[1], "t2"), "and the session goes on")
c.send("big3 LOGIN demo@example.test {5000+}\r\n" + "z" * 5000 + "\r\n")
out = c.rest().decode(errors="replace")
c.close()
t.like(out, r"^\* BYE \[TOOBIG\] [^\r\n]*\r\n$", "a non-synchronizing literal over 4096: * BYE [TOOBIG] and the close (RFC 7888 5, 4)")

c = fresh()
c.send("e1 NOOP\r\n\r\ne2 NOOP\r\n")
r = [c.line().decode(), c.line().decode(), c.line().decode()]
t.ok(r[0].startswith("e1 OK") and re.match(r"^\* BAD ", r[1]) and r[2].startswith("e2 OK"), "an empty line: * BAD, and on", r)
c.send(b"e3 NO\x00OP\r\n")
t.like(c.line().decode(errors="replace"), r"^(e3|\*) BAD ", "a NUL in a command: BAD")
c.send(b"e3b LOGIN demo@example.test {4+}\r\nde\x00o\r\n")
t.like(c.line().decode(errors="replace"), r"^e3b BAD ", "a NUL in a literal (RFC 9051 4.3: CHAR8 excludes it): BAD")
c.send("e4 LOGIN \"demo@example.test\r\n")
t.like(c.line().decode(), r"^e4 BAD ", "an unterminated quoted string: BAD")
c.send("e5 LOGIN {x}\r\n")
t.like(c.line().decode(), r"^e5 BAD ", "a malformed literal: BAD")
t.ok(tagged_ok(c.cmd("NOOP")[1], "t1"), "and the session goes on")
c.close()

# IMAP_LOGINTIMEOUT: an idle client is told and dropped
pt = inst.imap(env={"IMAP_LOGINTIMEOUT": "2"})
t0 = time.monotonic()
c = ternlib.ImapConn(pt, timeout=20)
out = c.rest()
dt = time.monotonic() - t0
c.close()
t.like(out.decode(errors="replace"), r"^\* BYE [^\r\n]*\r\n$", "an idle connection before login: * BYE, then closed")
t.ok(dt >= 2.0, "after IMAP_LOGINTIMEOUT (2 s here), not before (%.1f s)" % dt)

# ---------------------------------------------------------------- STARTTLS (RFC 9051 6.2.1, 6.2.3)
ptls = inst.imap(tls=True, plaintext=False)
c = fresh(ptls)
gc = caps_in(c.greeting) or set()
t.ok(PRE <= gc and {"STARTTLS", "LOGINDISABLED"} <= gc and not any(x.startswith("AUTH=") for x in gc),
     "under tlsd -u, logins in the clear off: STARTTLS and LOGINDISABLED, no AUTH=PLAIN", gc)
t.is_(caps_cmd(c), gc, "CAPABILITY says the same")
r = c.cmd("LOGIN demo@example.test demo")[1]
t.like(r, r"^t\d+ NO \[PRIVACYREQUIRED\] ", "LOGIN in the clear: NO [PRIVACYREQUIRED] (RFC 5530 3)")
r = c.cmd("AUTHENTICATE PLAIN " + b64("\0demo@example.test\0demo"))[1]
t.like(r, r"^t\d+ NO \[PRIVACYREQUIRED\] ", "AUTHENTICATE PLAIN in the clear: NO [PRIVACYREQUIRED]")
c.send("a9 AUTHENTICATE PLAIN\r\n")
r = c.line().decode()
t.like(r, r"^a9 NO \[PRIVACYREQUIRED\] ", "and without an initial response: NO at once, no '+ '")
t.like(c.cmd("STARTTLS now")[1], r"^t\d+ BAD ", "STARTTLS with an argument: BAD")
t.ok(tagged_ok(c.cmd("STARTTLS")[1], "t%d" % c.n), "STARTTLS: OK")
tls_wrap(c)
t.is_(quiet(c), b"", "nothing comes over TLS before the client speaks")
ac = caps_cmd(c) or set()
t.ok(PRE <= ac and "AUTH=PLAIN" in ac and not ac & {"STARTTLS", "LOGINDISABLED"},
     "CAPABILITY over TLS: AUTH=PLAIN, no STARTTLS, no LOGINDISABLED", ac)
t.like(c.cmd("STARTTLS")[1], r"^t\d+ BAD ", "STARTTLS again: BAD (RFC 9051 6.2.1)")
t.ok(c.cmd("LOGIN demo@example.test wrong")[1].startswith("t%d %s" % (c.n, AUTHFAIL)), "a wrong password over TLS: NO")
c.send("z1 LOGIN demo@example.test demo\r\nz2 STATUS INBOX (MESSAGES)\r\n")
r = c.line().decode()
t.ok(r.startswith("z1 OK [CAPABILITY ") and POST <= (caps_in(r) or set()), "LOGIN over TLS: OK [CAPABILITY ...]", r)
unt, tag = c.until("z2")
t.ok(len(unt) == 1 and re.match(STATUS2, unt[0]) and tag.startswith("z2 OK"), "and the command pipelined behind it, over TLS", (unt, tag))
c.close()
t.ok(wait_log(r"imap-login: info: starttls ip=127\.0\.0\.1 protocol=TLSv1\.\d cipher=\S+ dropped=0"), "imap-login logs STARTTLS")

# CVE-2011-0411's lesson (RFC 9051 6.2.1): what follows STARTTLS in the clear is dropped
pplain = inst.imap(tls=True)
c = fresh(pplain)
gc = caps_in(c.greeting) or set()
t.ok({"STARTTLS", "AUTH=PLAIN"} <= gc and "LOGINDISABLED" not in gc, "IMAP_PLAINTEXT=1 under tlsd -u: STARTTLS and AUTH=PLAIN", gc)
pipelined = "x2 LOGIN demo@example.test demo\r\nx3 LOGOUT\r\n"
c.send("x1 STARTTLS\r\n" + pipelined)
t.ok(c.line().decode().startswith("x1 OK"), "STARTTLS with LOGIN and LOGOUT behind it in the same packet: OK")
tls_wrap(c)
t.is_(quiet(c, 1.5), b"", "over TLS no reply to either")
unt, tag = c.cmd("SELECT INBOX")
t.like(tag, r"^t1 BAD ", "the pipelined LOGIN was not executed: SELECT is BAD (not authenticated)")
t.ok(tagged_ok(c.cmd("NOOP")[1], "t2"), "nor the LOGOUT: the session is there")
ac = caps_cmd(c) or set()
t.ok("AUTH=PLAIN" in ac and not ac & {"STARTTLS", "LOGINDISABLED"}, "CAPABILITY over TLS (IMAP_PLAINTEXT=1): AUTH=PLAIN, no STARTTLS", ac)
c.close()
t.ok(wait_log(r"starttls ip=127\.0\.0\.1 protocol=\S+ cipher=\S+ dropped=%d\b" % len(pipelined)),
     "the %d octets dropped are logged" % len(pipelined))
c = fresh(pplain)
t.ok(c.cmd("LOGIN demo@example.test demo")[1].startswith("t1 OK [CAPABILITY"), "IMAP_PLAINTEXT=1: LOGIN in the clear works")
c.close()
c = fresh(pplain)
t.ok(tagged_ok(c.cmd("STARTTLS")[1], "t1"), "STARTTLS: OK ...")
c.send("t2 LOGIN demo@example.test demo\r\n")
t.ok(b" OK" not in c.rest(), "... then plaintext: a broken handshake, never answered")
c.close()

# without tlsd and without IMAP_PLAINTEXT: no way to log in is offered
pbare = inst.imap(plaintext=False)
c = fresh(pbare)
gc = caps_in(c.greeting) or set()
t.ok("LOGINDISABLED" in gc and "STARTTLS" not in gc and "AUTH=PLAIN" not in gc, "no tlsd, no IMAP_PLAINTEXT: LOGINDISABLED only", gc)
t.like(c.cmd("LOGIN demo@example.test demo")[1], r"^t1 NO \[PRIVACYREQUIRED\] ", "LOGIN: NO [PRIVACYREQUIRED]")
c.close()

# IMAPS: TLS from the first byte; STARTTLS there is BAD (RFC 9051 6.2.1)
pimaps = inst.imap(tls=True, implicit=True, plaintext=False)
s = ternlib.tls_ctx(inst.crt).wrap_socket(socket.create_connection(("127.0.0.1", pimaps), timeout=15))
c = ternlib.ImapConn(None, sock=s)
gc = caps_in(c.greeting) or set()
t.ok("AUTH=PLAIN" in gc and not gc & {"STARTTLS", "LOGINDISABLED"}, "IMAPS: AUTH=PLAIN, no STARTTLS, no LOGINDISABLED", gc)
t.like(c.cmd("STARTTLS")[1], r"^t1 BAD ", "STARTTLS on the implicit TLS port: BAD")
t.ok(c.cmd("LOGIN demo@example.test demo")[1].startswith("t2 OK [CAPABILITY"), "LOGIN over IMAPS")
c.close()

# imaplib, as a client does it
import imaplib
m = imaplib.IMAP4("127.0.0.1", ptls, timeout=15)
t.ok("LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities, "imaplib sees STARTTLS and LOGINDISABLED", m.capabilities)
m.starttls(ssl_context=ternlib.tls_ctx(inst.crt))
t.ok("AUTH=PLAIN" in m.capabilities and "LOGINDISABLED" not in m.capabilities, "imaplib.starttls(): AUTH=PLAIN after it", m.capabilities)
typ, data = m.login("demo@example.test", "demo")
t.is_(typ, "OK", "imaplib login over TLS")
typ, data = m.select("INBOX")
t.is_((typ, data), ("OK", [b"2"]), "imaplib select: 2 messages")
m.logout()
m = imaplib.IMAP4("127.0.0.1", port, timeout=15)
typ, data = m.authenticate("PLAIN", lambda x: b"\0bob@example.test\0" + BOBPW.encode())
t.is_(typ, "OK", "imaplib authenticate PLAIN in the clear with IMAP_PLAINTEXT=1")
m.logout()

# ---------------------------------------------------------------- who runs what
if not ternlib.is_root():
    t.ok(True, "# SKIP the uid checks need root")
else:
    login = pwd.getpwnam(ternlib.LOGINUSER)
    owner = inst.uid
    pp = inst.imap()
    srv = inst.pop3_server
    c = fresh(pp)
    mon = wait_for(lambda: (lambda k: k[0] if len(k) == 1 else None)(ternlib.proc_children(srv.pid)))
    t.ok(mon and ternlib.proc_comm(mon) == "imap-login", "tcpserver runs imap-login, the monitor")
    t.is_(ternlib.proc_uids(mon), [0, 0, 0, 0], "the monitor is root")
    kids = wait_for(lambda: ternlib.proc_children(mon))
    t.is_(len(kids), 1, "it has one child before the login")
    child = kids[0] if kids else 0
    t.is_(ternlib.proc_uids(child), [login.pw_uid] * 4, "the pre-auth child is ternlogin (real, effective, saved, fs)")
    with open("/proc/%d/status" % child) as f:
        gids = [l.split()[1:] for l in f if l.startswith(("Gid:", "Groups:"))]
    t.is_(gids, [[str(login.pw_gid)] * 4, [str(login.pw_gid)]], "and ternlogin's group only")
    t.is_(os.stat("/proc/%d/status" % child).st_uid, 0, "it is not dumpable (its /proc files are root's)")
    with open("/proc/%d/limits" % child) as f:
        lim = [l for l in f if l.startswith("Max processes")]
    t.ok(lim and lim[0].split()[2:4] == ["0", "0"], "it cannot fork (RLIMIT_NPROC 0)", lim)
    t.is_(os.readlink("/proc/%d/cwd" % child), "/", "its working directory is /")
    r = c.cmd("LOGIN demo@example.test demo")[1]
    t.ok(r.startswith("t1 OK [CAPABILITY"), "logged in")
    serve = wait_for(lambda: [k for k in ternlib.proc_children(mon) if ternlib.proc_comm(k) == "imap-serve"])
    t.ok(serve and wait_for(lambda: ternlib.proc_children(mon) == serve),
         "the monitor stays, its only child now imap-serve: the pre-auth child is gone", (serve, ternlib.proc_children(mon)))
    serve = serve[0] if serve else 0
    t.ok(ternlib.proc_uids(mon) == [0, 0, 0, 0] and ternlib.proc_comm(mon) == "imap-login", "the monitor is still there, root")
    t.is_(ternlib.proc_uids(serve), [owner] * 4, "imap-serve runs as the mailbox owner (the test uid), never root")
    fds = {int(x): os.readlink("/proc/%d/fd/%s" % (serve, x)) for x in os.listdir("/proc/%d/fd" % serve)}
    monfds = {int(x): os.readlink("/proc/%d/fd/%s" % (mon, x)) for x in os.listdir("/proc/%d/fd" % mon)}
    t.ok(fds.get(0, "").startswith("socket:") and 3 not in fds and 4 not in fds,
         "imap-serve has the connection, and neither the credentials (fd 3) nor $LOGINFD (4)", fds)
    t.ok(monfds[0] == "/dev/null" and monfds[1] == "/dev/null", "the monitor let go of the connection at the hand-over", monfds)
    c.cmd("LOGOUT")
    t.is_(c.rest(), b"", "LOGOUT closes the connection")
    c.close()
    t.ok(wait_for(lambda: not ternlib.proc_children(srv.pid)), "and the monitor is gone too")

    # imap-serve refuses root: a checkpassword that leaves it root
    home = inst.mailbox_path()
    fenv = {"FAKE_USER": "alice", "FAKE_PASS": "wonderland", "FAKE_HOME": home, "MAILDIR": home}
    pr = inst.imap(chain=[FAKE, SERVE], env=dict(fenv, FAKE_UID="0", FAKE_GID="0"))
    c = fresh(pr)
    r = c.cmd("LOGIN alice wonderland")[1]
    t.like(r, r"^t1 NO \[UNAVAILABLE\] ", "a chain that leaves imap-serve root: it refuses to run, NO [UNAVAILABLE]")
    t.ok(tagged_ok(c.cmd("NOOP")[1], "t2"), "and the session goes on")
    t.like(c.cmd("LOGIN alice wrong")[1], r"^t3 NO \[AUTHENTICATIONFAILED\] ", "the checkpassword's exit 1: NO [AUTHENTICATIONFAILED]")
    c.close()
    t.like(log(), r"imap-serve: fatal: refusing to run as root", "imap-serve says why in the log")
    t.like(log(), r"imap-login: info: login ip=127\.0\.0\.1 user=alice result=temp exit=100", "the monitor logs the temporary failure")
    fok = dict(fenv, FAKE_UID=str(owner), FAKE_GID=str(inst.gid))
    pf = inst.imap(chain=[FAKE, SERVE], env=fok)
    c = fresh(pf)
    r = c.cmd("LOGIN alice wonderland", tag="fk")[1]
    t.ok(r.startswith("fk OK [CAPABILITY "), "any checkpassword program works: fake-checkpassword imap-serve", r)
    t.ok([u for u in c.cmd("STATUS INBOX (MESSAGES)")[0] if re.match(STATUS2, u)], "and serves $MAILDIR")
    c.close()
    pm = inst.imap(chain=[FAKE, SERVE], env=dict(fok, MAILDIR=inst.path("mail", "nonexistent")))
    c = fresh(pm)
    t.like(c.cmd("LOGIN alice wonderland")[1], r"^t1 NO \[UNAVAILABLE\] ", "a Maildir that is not there: NO [UNAVAILABLE]")
    t.ok(tagged_ok(c.cmd("NOOP")[1], "t2"), "and the session goes on")
    c.close()
    c = fresh()
    t.like(c.cmd("LOGIN carol@example.test carol")[1], r"^t1 NO \[UNAVAILABLE\] ",
           "a Maildir its owner cannot enter (pwcheck fails before imap-serve takes over): NO [UNAVAILABLE]")
    t.ok(tagged_ok(c.cmd("NOOP")[1], "t2"), "and the session goes on")
    t.like(c.cmd("SELECT INBOX")[1], r"^t3 BAD ", "still not authenticated")
    t.ok(c.cmd("LOGIN demo@example.test demo")[1].startswith("t4 OK [CAPABILITY"), "another user logs in on the same connection")
    c.close()
    p111 = inst.imap(chain=["/bin/sh", "-c", "exit 111"])
    c = fresh(p111)
    t.like(c.cmd("LOGIN demo@example.test demo")[1], r"^t1 NO \[UNAVAILABLE\] ", "a checkpassword that exits 111: NO [UNAVAILABLE]")
    t.ok(tagged_ok(c.cmd("NOOP")[1], "t2"), "and the session goes on")
    t.like(c.cmd("AUTHENTICATE PLAIN " + b64("\0demo@example.test\0demo"))[1], r"^t3 NO \[UNAVAILABLE\] ", "AUTHENTICATE too")
    c.close()
    t.ok(wait_log(r"imap-login: info: login ip=127\.0\.0\.1 user=demo@example\.test result=temp exit=111"), "logged: result=temp exit=111")

    # the chain's fds and environment (as t/4050 for POP3), with the login's tag
    out = os.path.join(inst.root, "chain")
    os.mkdir(out)
    dump = r"""
import os, sys
fds = []
for fd in range(256):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
o = os.environ["OUT"]
n = len(os.listdir(o))
open(o + "/fds%d" % n, "w").write(" ".join(map(str, fds)))
open(o + "/env%d" % n, "w").write("\n".join("%s=%s" % kv for kv in os.environ.items()))
open(o + "/fd3_%d" % n, "wb").write(os.read(3, 4096))
sys.exit(1)
"""
    pd = inst.imap(chain=["/usr/bin/python3", "-S", "-c", dump], env={"OUT": out, "IMAPLOGINTAG": "evil", "LOGINFD": "7"})
    c = fresh(pd)
    r = c.cmd("LOGIN demo@example.test {9+}\r\npass word", tag="Tg.1")[1]
    t.like(r, r"^Tg\.1 NO \[AUTHENTICATIONFAILED\] ", "a chain that exits 1: NO [AUTHENTICATIONFAILED]")
    wait_for(lambda: len(os.listdir(out)) >= 3)
    env = dict(l.split("=", 1) for l in open(os.path.join(out, "env0")).read().splitlines() if "=" in l)
    t.is_(open(os.path.join(out, "fds0")).read().split(), ["0", "1", "2", "3", "4"], "the chain gets exactly fds 0 to 4")
    t.is_(env.get("IMAPLOGINTAG"), "Tg.1", "IMAPLOGINTAG is the login's tag (the one inherited is replaced)")
    t.is_(env.get("LOGINFD"), "4", "LOGINFD=4")
    t.is_(open(os.path.join(out, "fd3_0"), "rb").read(), b"demo@example.test\0pass word\0\0", "fd 3: user NUL password NUL NUL")
    r = c.cmd("AUTHENTICATE PLAIN " + b64("\0bob@example.test\0pw"), tag="Tg.2")[1]
    wait_for(lambda: len(os.listdir(out)) >= 6)
    env = dict(l.split("=", 1) for l in open(os.path.join(out, "env3")).read().splitlines() if "=" in l)
    t.is_(env.get("IMAPLOGINTAG"), "Tg.2", "AUTHENTICATE's tag for the next attempt")
    c.close()

# ---------------------------------------------------------------- PREAUTH without the monitor
# imap-serve at the end of a checkpassword chain run by something else (no
# $IMAPLOGINTAG, no $LOGINFD): RFC 9051 7.1.4, with the capabilities.
r = inst.run([SERVE], input=b"a1 CAPABILITY\r\na2 LOGOUT\r\n",
             env={"MAILDIR": inst.mailbox_path(), "IMAPLOGINTAG": "", "LOGINFD": "", "USER": "demo@example.test"})
out = r.stdout.decode(errors="replace")
first = out.split("\r\n")[0]
t.like(first, r"^\* PREAUTH \[CAPABILITY [^\]]+\] ", "imap-serve alone: * PREAUTH [CAPABILITY ...]")
t.ok(POST <= (caps_in(first) or set()), "with the post-login capabilities", first)
t.ok(r.returncode == 0 and re.search(r"\r\n\* BYE [^\r\n]*\r\na2 OK[^\r\n]*\r\n$", out), "and serves: LOGOUT, exit 0", out[-300:])
if ternlib.is_root():
    rfd, wfd = os.pipe()
    os.write(wfd, b"alice\0wonderland\0\0")
    os.close(wfd)
    e = dict(inst.env, FAKE_USER="alice", FAKE_PASS="wonderland", FAKE_HOME=inst.mailbox_path(),
             FAKE_UID=str(inst.uid), FAKE_GID=str(inst.gid), MAILDIR=inst.mailbox_path())
    e.pop("IMAPLOGINTAG", None)
    e.pop("LOGINFD", None)
    p = subprocess.run([FAKE, SERVE], input=b"b1 STATUS INBOX (MESSAGES)\r\nb2 LOGOUT\r\n", env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, pass_fds=(rfd,), preexec_fn=lambda: os.dup2(rfd, 3))
    os.close(rfd)
    out = p.stdout.decode(errors="replace")
    t.like(out, r"^\* PREAUTH \[CAPABILITY [^\]]+\] [^\r\n]*alice\r\n\* STATUS \"?INBOX\"? \(MESSAGES 2\)\r\nb1 OK",
           "fake-checkpassword imap-serve on its own: * PREAUTH (logged in as alice), then the commands")
    r = inst.run([SERVE], input=b"a1 LOGOUT\r\n", env={"MAILDIR": inst.mailbox_path()}, asuser=False)
    t.ok(r.returncode == 100 and b"refusing to run as root" in r.stderr and r.stdout == b"",
         "imap-serve run as root: exit 100, nothing said to the client", (r.returncode, r.stdout, r.stderr))

t.done()
