#!/usr/bin/python3
# pop3-login: the AUTHORIZATION state under the login monitor. USER/PASS,
# AUTH PLAIN with an initial response and after "+ ", the authzid rule,
# the same reply (and about the same time) for a wrong password and an
# unknown user, -ERR [AUTH] and -ERR [SYS/TEMP] from the chain's exit
# code and going on after them, CAPA, QUIT, commands pipelined behind
# PASS answered by pop3-serve, and pop3-login's exit codes.

import base64
import os
import poplib
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Pop3Instance(t, users=(("demo@example.test", "demo"), ("bob@example.test", "bobpw")))
inst.put("Subject: one\n\nfirst\n")
inst.put("Subject: two\n\nsecond\n")
port = inst.pop3()
AUTHFAIL = "-ERR [AUTH] Authentication failed"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def log():
    return inst.read("log/stderr")


# -- poplib: the ordinary way in --
p = poplib.POP3("127.0.0.1", port, timeout=10)
t.like(p.getwelcome().decode(), r"^\+OK ", "greeting +OK")
caps = p.capa()
t.ok(all(c in caps for c in ("USER", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING")) and caps.get("SASL") == ["PLAIN"],
     "CAPA: USER, SASL PLAIN, TOP, UIDL, RESP-CODES, AUTH-RESP-CODE, PIPELINING", caps)
t.ok("STLS" not in caps, "no STLS advertised (no TLS yet)")
t.like(p.user("demo@example.test").decode(), r"^\+OK", "USER +OK")
t.like(p.pass_("demo").decode(), r"^\+OK Logged in, 2 messages", "PASS: +OK from pop3-serve")
t.is_(p.stat(), (2, 47), "STAT after the login")
p.quit()

# -- wrong password, unknown user: the same reply, then the session goes on --
c = ternlib.Pop3Conn(port)
r1 = [c.cmd("USER demo@example.test"), c.cmd("PASS wrong")]
r2 = [c.cmd("USER nobody@example.test"), c.cmd("PASS demo")]
t.is_(r1, ["+OK Send PASS", AUTHFAIL], "a wrong password: -ERR [AUTH] (RFC 3206)")
t.is_(r2, r1, "an unknown user: exactly the same replies")
t.is_([c.cmd("USER demo@example.test"), c.cmd("PASS demo")][1][:13], "+OK Logged in", "after two failures the next login works on the same connection")
t.like(c.cmd("STAT"), r"^\+OK 2 ", "and the mailbox is served")
t.is_(c.cmd("QUIT"), "+OK Bye", "QUIT")
c.close()


def attempt_time(user, pw):
    c = ternlib.Pop3Conn(port)
    c.cmd("USER " + user)
    t0 = time.monotonic()
    r = c.cmd("PASS " + pw)
    dt = time.monotonic() - t0
    c.close()
    return r, dt


wrong, unknown = [], []
for _ in range(7):   # interleaved: the machine's load hits both alike
    wrong.append(attempt_time("demo@example.test", "nope"))
    unknown.append(attempt_time("ghost@example.test", "nope"))
tw, tu = statistics.median(x[1] for x in wrong), statistics.median(x[1] for x in unknown)
t.diag("PASS round trip, medians: wrong password %.1f ms, unknown user %.1f ms" % (tw * 1000, tu * 1000))
t.ok(all(x[0] == AUTHFAIL for x in wrong + unknown), "every one answered -ERR [AUTH]")
t.ok(tu > 0.6 * tw and tw > 0.6 * tu, "in about the same time")

# -- AUTH PLAIN --
c = ternlib.Pop3Conn(port)
t.is_(c.cmd("AUTH PLAIN " + b64("\0demo@example.test\0demo"))[:13], "+OK Logged in", "AUTH PLAIN with an initial response")
c.cmd("QUIT")
c.close()
c = ternlib.Pop3Conn(port)
t.is_(c.cmd("AUTH PLAIN"), "+ ", "AUTH PLAIN without one: the empty '+ ' challenge")
t.is_(c.cmd(b64("\0demo@example.test\0demo"))[:13], "+OK Logged in", "the response on its own line logs in")
c.cmd("QUIT")
c.close()
c = ternlib.Pop3Conn(port)
t.is_(c.cmd("auth plain " + b64("Demo@Example.Test\0demo@example.test\0demo"))[:13], "+OK Logged in",
      "an authzid equal to the user (in any case) is fine; the verb and mechanism in any case")
c.cmd("QUIT")
c.close()

c = ternlib.Pop3Conn(port)
before = log().count("pwcheck:")
t.like(c.cmd("AUTH PLAIN " + b64("bob@example.test\0demo@example.test\0demo")), r"^-ERR \[AUTH\] ",
       "an authzid other than the user is refused (RFC 4616 2), even with a good password")
time.sleep(0.2)
t.is_(log().count("pwcheck:"), before, "without running the chain")
t.is_(c.cmd("AUTH PLAIN " + b64("\0demo@example.test\0wrong")), AUTHFAIL, "AUTH PLAIN with a wrong password")
c.close()
c = ternlib.Pop3Conn(port)
t.is_(c.cmd("AUTH PLAIN"), "+ ", "AUTH PLAIN ...")
t.is_(c.cmd("*"), "-ERR Authentication cancelled", "... '*' cancels the exchange")
t.like(c.cmd("AUTH PLAIN not-base64!"), r"^-ERR Invalid base64", "a malformed base64 response is refused")
t.like(c.cmd("AUTH PLAIN " + b64("demo@example.test\0demo")), r"^-ERR Malformed PLAIN", "a PLAIN message of two parts is refused")
t.like(c.cmd("AUTH PLAIN ="), r"^-ERR Malformed PLAIN", "an empty response ('=') is refused")
t.like(c.cmd("AUTH LOGIN"), r"^-ERR Unsupported", "another mechanism is refused")
c.send("AUTH\r\n")
t.is_([c.line(), c.line(), c.line()], [b"+OK Mechanisms follow", b"PLAIN", b"."], "bare AUTH lists the mechanisms")
t.is_(c.cmd("QUIT"), "+OK Bye", "QUIT before logging in")
t.is_(c.rest(), b"", "and the server closes the connection")
c.close()

# -- the AUTHORIZATION state's other replies --
c = ternlib.Pop3Conn(port)
t.is_(c.cmd("PASS demo"), "-ERR Send USER first", "PASS without USER")
t.is_(c.cmd("STAT"), "-ERR Not logged in", "STAT before logging in")
t.is_(c.cmd("RETR 1"), "-ERR Not logged in", "RETR before logging in")
t.is_(c.cmd("APOP demo@example.test 0123456789abcdef0123456789abcdef"), "-ERR APOP is not supported", "APOP is refused")
t.is_(c.cmd("STLS"), "-ERR STLS is not available", "STLS is refused")
t.is_(c.cmd("XYZZY"), "-ERR Unknown command", "an unknown command")
t.is_(c.cmd("USER"), "-ERR Syntax: USER name", "USER without a name")
t.is_(c.cmd("USER " + "u" * 256), "-ERR Name too long", "a user name over 255 octets")
t.is_(c.cmd("user demo@example.test"), "+OK Send PASS", "commands in any case")
t.is_(c.cmd("pass demo")[:13], "+OK Logged in", "PASS after those errors")
c.close()

# -- pipelining (RFC 2449 6.6): replies in order; what follows PASS is pop3-serve's --
c = ternlib.Pop3Conn(port)
c.send("CAPA\r\nUSER demo@example.test\r\nPASS demo\r\nSTAT\r\nLIST\r\nUIDL 1\r\nQUIT\r\n")
out = c.rest().decode()
c.close()
lines = out.split("\r\n")
capend = lines.index(".")
t.is_(lines[capend + 1:capend + 3], ["+OK Send PASS", "+OK Logged in, 2 messages"], "CAPA, USER and PASS answered in order")
t.is_(lines[capend + 3], "+OK 2 47", "STAT pipelined behind PASS is answered by pop3-serve (the pre-auth child left it in the socket)")
t.is_(lines[capend + 4:capend + 8], ["+OK Scan list follows", "1 23", "2 24", "."], "and LIST")
t.ok(lines[capend + 8].startswith("+OK 1 ") and lines[capend + 9] == "+OK Bye", "and UIDL 1 and QUIT")

c = ternlib.Pop3Conn(port)
c.send("AUTH PLAIN %s\r\nSTAT\r\nQUIT\r\n" % b64("\0demo@example.test\0demo"))
out = c.rest().decode()
c.close()
t.is_(out.split("\r\n")[1:3], ["+OK 2 47", "+OK Bye"], "commands pipelined behind AUTH PLAIN too")

c = ternlib.Pop3Conn(port)
c.send("USER demo@example.test\r\nPASS wrong\r\nUSER demo@example.test\r\nPASS demo\r\nSTAT\r\nQUIT\r\n")
out = c.rest().decode()
c.close()
t.is_(out.split("\r\n")[:6], ["+OK Send PASS", AUTHFAIL, "+OK Send PASS", "+OK Logged in, 2 messages", "+OK 2 47", "+OK Bye"],
      "a failed login in the pipeline: the child goes on reading where it stopped")

# -- too many failed logins --
c = ternlib.Pop3Conn(port)
c.send("USER demo@example.test\r\nPASS a\r\nPASS b\r\nUSER demo@example.test\r\nPASS c\r\nUSER demo@example.test\r\nPASS d\r\nUSER demo@example.test\r\nPASS demo\r\n")
out = c.rest().decode()
c.close()
t.is_(out, "+OK Send PASS\r\n%s\r\n-ERR Send USER first\r\n+OK Send PASS\r\n%s\r\n+OK Send PASS\r\n%s\r\n" % (AUTHFAIL, AUTHFAIL, AUTHFAIL),
      "after POP3_MAXLOGINS (3) failed logins the connection is closed")

# -- the chain's exit code: 1 is [AUTH], anything else [SYS/TEMP] --
def chain_port(chain, env=None):
    return inst.pop3(chain=chain, env=env)

for chain, what, want in ((["/bin/false"], "a foreign chain exiting 1", AUTHFAIL),
                          (["/bin/sh", "-c", "exit 7"], "a chain exiting 7", "-ERR [SYS/TEMP] Temporary failure, try again later"),
                          (["/bin/true"], "a chain exiting 0 without taking the session", "-ERR [SYS/TEMP] Temporary failure, try again later"),
                          (["/bin/sh", "-c", "kill -9 $$"], "a chain killed by a signal", "-ERR [SYS/TEMP] Temporary failure, try again later")):
    pt = chain_port(chain)
    c = ternlib.Pop3Conn(pt)
    got = [c.cmd("USER demo@example.test"), c.cmd("PASS demo"), c.cmd("CAPA")]
    c.close()
    t.is_(got, ["+OK Send PASS", want, "+OK Capability list follows"], "%s: %s, and the session goes on" % (what, want.split(" ")[1]))

pt = chain_port(None, env={"PWCHECK_HALFLIFE": "0"})
c = ternlib.Pop3Conn(pt)
t.is_([c.cmd("USER demo@example.test"), c.cmd("PASS demo")][1], "-ERR [SYS/TEMP] Temporary failure, try again later", "pwcheck in trouble (111): [SYS/TEMP]")
c.close()
c = ternlib.Pop3Conn(port)
os.chmod(inst.path("mail/example.test/demo/cur"), 0)
got = [c.cmd("USER demo@example.test"), c.cmd("PASS demo")][1]
os.chmod(inst.path("mail/example.test/demo/cur"), 0o700)
t.is_(got, "-ERR [SYS/TEMP] Temporary failure, try again later",
      "pop3-serve failing before it takes the session (cur/ unreadable): [SYS/TEMP] from the child")
t.is_(c.cmd("QUIT"), "+OK Bye", "and the child is still there")
c.close()
t.like(log(), r"pop3-login: info: login ip=127\.0\.0\.1 user=demo@example\.test result=temp exit=111", "the monitor logs the result and the exit code")

# -- exit codes of pop3-login itself --
PL = os.path.join(ternlib.BUILD, "pop3-login")
env = dict(inst.env, **inst.login_env())
r = subprocess.run([PL], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
t.ok(r.returncode == 100 and b"usage" in r.stderr, "no chain: usage, exit 100")
r = subprocess.run([PL, "x"], env=dict(env, POP3_TIMEOUT="soon"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
t.is_(r.returncode, 100, "an invalid POP3_TIMEOUT: 100")
if ternlib.is_root():
    e2 = dict(env)
    e2.pop("TERN_LOGIN_UID", None)
    r = subprocess.run([PL, "x"], env=e2, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    t.ok(r.returncode == 100 and b"TERN_LOGIN_UID" in r.stderr, "as root without TERN_LOGIN_UID: 100")
    r = subprocess.run([PL, "x"], env=dict(env, TERN_LOGIN_UID="0"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    t.ok(r.returncode == 100 and b"root" in r.stderr, "TERN_LOGIN_UID=0: refused, 100")
else:
    t.ok(True, "# SKIP root only")
    t.ok(True, "# SKIP root only")
r = subprocess.run([PL, "/bin/false"], env=env, input=b"CAPA\r\nQUIT\r\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
t.ok(r.returncode == 0 and r.stdout.endswith(b"+OK Bye\r\n"), "a session that ends with QUIT: 0 (here on pipes)")
r = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", PL, "/bin/false"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
t.is_(r.returncode, 111, "no network on fd 0: 111")

t.done()
