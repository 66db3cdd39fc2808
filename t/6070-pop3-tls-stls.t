#!/usr/bin/python3
# POP3 and TLS: STLS in pop3-login (RFC 2595 4) under tlsd -u, POP3S under
# tlsd. STLS is advertised only under tlsd -u and before TLS; logins need
# TLS unless POP3_PLAINTEXT=1 (RFC 2595 2.3): before it USER, PASS and
# AUTH get -ERR [AUTH] (RFC 3206 5: a login against policy) and CAPA lists
# neither USER nor SASL (RFC 2595 6); what is pipelined behind STLS is
# never answered over TLS; after STLS the monitor hands the chain the
# engine's pipes; the handshake has tlsd's deadline.
import base64
import os
import re
import socket
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("pop3-login is the login monitor: it starts as root")
inst = ternlib.TlsInstance(t)
inst.put("Subject: one\n\nfirst message\n")
inst.put("Subject: two\n\nsecond\n")
pstls = inst.pop3tls()
NOPLAIN = "-ERR [AUTH] Plain-text login disallowed, start TLS first"
PLAIN = base64.b64encode(b"\0demo@example.test\0demo").decode()


class Pop3sConn(ternlib.Pop3Conn):
    """TLS from the first byte (port 995), the certificate verified."""

    def __init__(self, port, timeout=10):
        self.s = ternlib.tls_ctx(inst.crt).wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout))
        self.buf = b""
        self.greeting = self.line()


def capa(c):
    c.send("CAPA\r\n")
    first = c.line().decode()
    return first, c.multi().decode().split("\r\n")[:-1]


def stls(c):
    r = c.cmd("STLS")
    if r.startswith("+OK"):
        c.s = ternlib.tls_ctx().wrap_socket(c.s)
    return r


def log():
    return inst.read("log/stderr")


def wait_log(regex, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if re.search(regex, log()):
            return True
        time.sleep(0.05)
    return False


# -- before TLS, plain-text logins off (the default) --
c = ternlib.Pop3Conn(pstls)
t.like(c.greeting.decode(), r"^\+OK ", "under tlsd -u: the greeting in plaintext")
first, caps = capa(c)
t.ok("STLS" in caps and "USER" not in caps and not any(x.startswith("SASL") for x in caps),
     "CAPA before TLS: STLS, and neither USER nor SASL (no login in the clear)", caps)
t.is_(c.cmd("USER demo@example.test"), NOPLAIN, "USER before TLS: -ERR [AUTH] (RFC 3206 5: a login against policy)")
t.is_(c.cmd("PASS demo"), NOPLAIN, "PASS before TLS: the same")
t.is_(c.cmd("AUTH PLAIN " + PLAIN), NOPLAIN, "AUTH PLAIN before TLS: the same")
c.send("AUTH\r\n")
t.is_([c.line(), c.line()], [b"+OK Mechanisms follow", b"."], "AUTH alone before TLS lists no mechanism")
t.is_(c.cmd("STLS now"), "-ERR Syntax: STLS", "STLS with an argument: -ERR")
t.is_(stls(c), "+OK Begin TLS negotiation", "STLS: +OK Begin TLS negotiation")
first, caps = capa(c)
t.ok(first.startswith("+OK") and "USER" in caps and "SASL PLAIN" in caps and "STLS" not in caps,
     "CAPA over TLS: USER and SASL PLAIN, no STLS (RFC 2595 4)", caps)
t.is_(c.cmd("STLS"), "-ERR Command not permitted when TLS active", "STLS over TLS: -ERR")
t.is_([c.cmd("USER demo@example.test"), c.cmd("PASS wrong")], ["+OK Send PASS", "-ERR [AUTH] Authentication failed"],
      "a wrong password over TLS: -ERR [AUTH], the session goes on")
t.is_([c.cmd("USER demo@example.test"), c.cmd("PASS demo")], ["+OK Send PASS", "+OK Logged in, 2 messages"],
      "USER and PASS over TLS: pop3-serve takes over the TLS session")
t.like(c.cmd("STAT"), r"^\+OK 2 ", "STAT over TLS")
t.like(c.cmd("RETR 1"), r"^\+OK", "RETR 1")
t.is_(c.multi(), b"Subject: one\r\n\r\nfirst message\r\n", "the message, over TLS")
t.is_(c.cmd("QUIT"), "+OK Bye", "QUIT")
t.is_(c.rest(), b"", "and the connection closes")
c.close()
t.like(log(), r"pop3-login: info: stls ip=127\.0\.0\.1 protocol=TLSv1\.2 cipher=\S+ dropped=0", "pop3-login logs STLS")

# -- AUTH PLAIN after STLS, initial response and "+ " --
c = ternlib.Pop3Conn(pstls)
stls(c)
t.like(c.cmd("AUTH PLAIN " + PLAIN), r"^\+OK Logged in", "AUTH PLAIN over TLS: logged in")
c.cmd("QUIT")
c.close()
c = ternlib.Pop3Conn(pstls)
stls(c)
t.is_(c.cmd("AUTH PLAIN"), "+ ", "AUTH PLAIN alone over TLS: +")
t.like(c.cmd(PLAIN), r"^\+OK Logged in", "the response after +: logged in")
c.cmd("QUIT")
c.close()

# -- who holds what after STLS and the login --
c = ternlib.Pop3Conn(pstls)
stls(c)
c.cmd("USER demo@example.test")
t.like(c.cmd("PASS demo"), r"^\+OK Logged in", "logged in after STLS")
kids = ternlib.proc_children(inst.pop3_server.pid)
mon = kids[0] if len(kids) == 1 else 0
serve = [k for k in ternlib.proc_children(mon) if ternlib.proc_comm(k) == "pop3-serve"]
engine = [k for k in ternlib.proc_children(mon) if ternlib.proc_comm(k) == "tlsd"]
t.ok(len(serve) == 1 and len(engine) == 1, "the monitor's children: pop3-serve and the TLS engine")


def fdmap(pid):
    return {int(x): os.readlink("/proc/%d/fd/%s" % (pid, x)) for x in os.listdir("/proc/%d/fd" % pid)}


sf = fdmap(serve[0]) if serve else {}
ef = fdmap(engine[0]) if engine else {}
mf = fdmap(mon) if mon else {}
t.ok(sf.get(0, "").startswith("pipe:") and sf.get(1, "").startswith("pipe:") and sf[0] in ef.values() and sf[1] in ef.values(),
     "pop3-serve's fds 0 and 1 are the engine's pipes", (sf, ef))
t.ok(mf.get(0) == "/dev/null" and mf.get(1) == "/dev/null" and sf[0] not in mf.values() and sf[1] not in mf.values(),
     "the monitor let go of the network and of the engine's pipes at the hand-over", mf)
t.ok(not any(v.startswith("socket:") for v in list(sf.values()) + list(mf.values())), "the connection is the engine's alone")
c.cmd("QUIT")
c.close()

# -- CVE-2011-0411's lesson for POP3: what is pipelined behind STLS is dropped --
c = ternlib.Pop3Conn(pstls)
c.send(b"STLS\r\nUSER demo@example.test\r\nPASS demo\r\nSTAT\r\n")
t.is_(c.line(), b"+OK Begin TLS negotiation", "STLS with USER, PASS and STAT behind it in the same packet: +OK")
c.s = ternlib.tls_ctx().wrap_socket(c.s)
c.s.settimeout(1.5)
try:
    early = c.s.recv(4096)
except socket.timeout:
    early = b""
t.is_(early, b"", "over TLS nothing comes before the client speaks")
c.s.settimeout(10)
t.is_(c.cmd("PASS demo"), "-ERR Send USER first", "the pipelined USER was forgotten: PASS needs USER first")
c.close()
t.ok(wait_log(r"stls ip=127\.0\.0\.1 protocol=\S+ cipher=\S+ dropped=41\b"), "the 41 octets dropped are logged")
c = ternlib.Pop3Conn(pstls)
t.is_(c.cmd("STLS"), "+OK Begin TLS negotiation", "STLS: +OK")
c.send(b"USER demo@example.test\r\nPASS demo\r\n")
t.ok(b"+OK" not in c.rest(), "plaintext after the +OK goes to the engine, a broken handshake: never answered")
c.close()
t.ok(wait_log(r"pop3-login: warning: stls ip=127\.0\.0\.1 result=failed reason=handshake"), "pop3-login logs the failed STLS")

# -- POP3_PLAINTEXT=1: logins before TLS, as the demo allows on loopback --
pplain = inst.pop3tls(env={"POP3_PLAINTEXT": "1"})
c = ternlib.Pop3Conn(pplain)
first, caps = capa(c)
t.ok("STLS" in caps and "USER" in caps and "SASL PLAIN" in caps, "POP3_PLAINTEXT=1: CAPA offers STLS, USER and SASL PLAIN", caps)
t.is_([c.cmd("USER demo@example.test"), c.cmd("PASS demo")][1], "+OK Logged in, 2 messages", "and USER/PASS work in plaintext")
c.cmd("QUIT")
c.close()
r = subprocess.run([os.path.join(ternlib.BUILD, "pop3-login"), "/bin/false"], env=dict(inst.env, POP3_PLAINTEXT="yes", **inst.login_env()),
                   input=b"QUIT\r\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
t.ok(r.returncode == 100 and b"POP3_PLAINTEXT" in r.stderr, "POP3_PLAINTEXT=yes: invalid, exit 100")

# -- without tlsd: no STLS, and no login without POP3_PLAINTEXT --
pbare = inst.pop3tls(tls=False)
c = ternlib.Pop3Conn(pbare)
first, caps = capa(c)
t.ok("STLS" not in caps and "USER" not in caps, "without tlsd -u: neither STLS nor USER in CAPA", caps)
t.is_(c.cmd("STLS"), "-ERR STLS is not available", "STLS without tlsd -u: -ERR")
t.is_(c.cmd("USER demo@example.test"), NOPLAIN, "USER: refused")
c.close()
pbad = inst.pop3tls(tls=False, env={"SSLCTLFD": "99", "SSLREADFD": "98", "SSLWRITEFD": "97", "POP3_PLAINTEXT": "1"})
c = ternlib.Pop3Conn(pbad)
first, caps = capa(c)
t.ok("STLS" not in caps and "USER" in caps, "SSLCTLFD naming no open fd: no STLS", caps)
c.close()
t.like(log(), r"pop3-login: warning: invalid SSLCTLFD, SSLREADFD or SSLWRITEFD: no STLS", "and a warning")

# -- POP3S: TLS from the first byte (tlsd without -u) --
p995 = inst.pop3tls(implicit=True)
c = Pop3sConn(p995)
t.like(c.greeting.decode(), r"^\+OK ", "port 995: the greeting over TLS")
first, caps = capa(c)
t.ok("USER" in caps and "SASL PLAIN" in caps and "STLS" not in caps, "CAPA on 995: USER, SASL PLAIN, no STLS", caps)
t.is_(c.cmd("STLS"), "-ERR Command not permitted when TLS active", "STLS on 995: -ERR")
t.is_([c.cmd("USER demo@example.test"), c.cmd("PASS demo")][1], "+OK Logged in, 2 messages", "USER/PASS on 995")
t.like(c.cmd("UIDL 1"), r"^\+OK 1 ", "UIDL")
t.is_(c.cmd("QUIT"), "+OK Bye", "QUIT")
c.close()

# -- the handshake deadline (tlsd -K) --
p995k = inst.pop3tls(implicit=True, tlsopts=["-K", "1500"])
pstlsk = inst.pop3tls(tlsopts=["-K", "1500"])
s = socket.create_connection(("127.0.0.1", p995k), timeout=30)
t0 = time.time()
try:
    eof = s.recv(100) == b""
except ConnectionResetError:
    eof = True
except socket.timeout:
    eof = False     # still open when the socket gave up: not dropped
dt = time.time() - t0
s.close()
t.ok(eof and dt >= 1.0, "port 995: a client that never starts the handshake is dropped after -K (%.1f s)" % dt)
c = ternlib.Pop3Conn(pstlsk)
t.is_(c.cmd("STLS"), "+OK Begin TLS negotiation", "STLS: +OK")
t0 = time.time()
rest, closed = ternlib.read_until_close(c.s, timeout=30)
dt = time.time() - t0
t.ok(rest == b"" and closed and dt >= 1.0, "a client that never sends its ClientHello after STLS is dropped after -K (%.1f s)" % dt)
c.close()

t.done()
