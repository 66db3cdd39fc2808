#!/usr/bin/python3
# Who runs what in submission (DESIGN.md, Users and privileges): smtp-recv
# -s is the login monitor, root, holding neither the connection nor the
# TLS engine's pipes; the SMTP session runs in its child as ternsub, a
# uid of its own (not ternlogin, the POP3 pre-auth children's: those
# hold passwords and must not be able to queue mail or trace a session;
# not dumpable, no core dumps, allowed to fork: it runs $QUEUE, which
# runs as ternsub too), never the other way; the checkpassword chain
# runs as root with "true" as the next program, fds 0 and 1 on /dev/null,
# 3 the credentials, no $LOGINFD, in the monitor's environment. Failed
# AUTHs are counted per address across connections (pwcheck's delay
# grows). A client that never finishes the TLS handshake is dropped at
# tlsd's -K timeout, on port 465 and after STARTTLS.
import base64
import os
import pwd
import re
import socket
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib
import smtprecv

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("the uid checks need root")
inst = ternlib.TlsInstance(t)
login = ternlib.ensure_user(ternlib.LOGINUSER)
sub = ternlib.ensure_user(ternlib.SUBUSER)
tls = pwd.getpwnam("terntls")
port = inst.submission()
tcpd = inst.pop3_server.pid
PLAIN = base64.b64encode(b"\0demo@example.test\0demo").decode()


def wait_for(fn, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        r = fn()
        if r:
            return r
        time.sleep(0.02)
    return fn()


def fds(pid):
    d = "/proc/%d/fd" % pid
    out = {}
    for x in os.listdir(d):
        try:
            out[int(x)] = os.readlink(os.path.join(d, x))
        except OSError:
            pass
    return out


def tls587(p):
    c = smtprecv.Conn(p)
    c.cmd("EHLO client.example")
    c.cmd("STARTTLS")
    c.s = ternlib.tls_ctx().wrap_socket(c.s)
    c.cmd("EHLO client.example")
    return c


c = tls587(port)
mon = wait_for(lambda: (ternlib.proc_children(tcpd) or [None])[0])
t.is_(ternlib.proc_comm(mon), "smtp-recv", "tlsd execs smtp-recv -s: the monitor")
t.is_(ternlib.proc_uids(mon), [0, 0, 0, 0], "the monitor is root")
kids = ternlib.proc_children(mon)
uids = {k: ternlib.proc_uids(k) for k in kids}
session = [k for k in kids if ternlib.proc_comm(k) == "smtp-recv"]
engine = [k for k in kids if ternlib.proc_comm(k) == "tlsd"]
t.ok(len(kids) == 2 and len(session) == 1 and len(engine) == 1, "its children: the session and tlsd's TLS engine", kids)
session = session[0] if session else 0
t.is_(uids.get(session), [sub.pw_uid] * 4, "the session runs as ternsub (real, effective, saved, fs)")
t.ok(sub.pw_uid != login.pw_uid and sub.pw_gid != login.pw_gid, "ternsub is not ternlogin, the POP3 pre-auth children's uid, nor in its group")
with open("/proc/%d/status" % session) as f:
    gids = [l.split()[1:] for l in f if l.startswith(("Gid:", "Groups:"))]
t.is_(gids, [[str(sub.pw_gid)] * 4, [str(sub.pw_gid)]], "with ternsub's group only")
t.is_(uids.get(engine[0] if engine else 0, [None])[:2], [tls.pw_uid] * 2, "the engine runs as terntls")
t.is_(os.stat("/proc/%d/status" % session).st_uid, 0, "the session is not dumpable (its /proc files are root's)")
with open("/proc/%d/limits" % session) as f:
    lim = {l[:26].strip(): l[26:].split()[:2] for l in f}
t.ok(lim.get("Max core file size") == ["0", "0"], "no core dumps", lim)
t.ok(lim.get("Max processes") != ["0", "0"], "but it may fork: it runs the queue program for each message", lim)
t.is_(os.readlink("/proc/%d/cwd" % session), "/", "its working directory is /")
mf = fds(mon)
t.ok(mf.get(0) == "/dev/null" and mf.get(1) == "/dev/null", "the monitor let go of fds 0 and 1 at once", mf)
t.ok(not any(v.startswith("socket:") for v in mf.values()), "it holds no socket: not the connection, not SSLCTLFD", mf)
sf = fds(session)
t.ok(all(sf[i].startswith("pipe:") for i in (0, 1)), "the session reads and writes the engine's pipes", sf)
engine_socks = {v for k, v in fds(engine[0]).items() if v.startswith("socket:")} if engine else set()
t.ok(not any(v in engine_socks for v in list(mf.values()) + list(sf.values())), "the connection itself is the engine's alone")

# the queue program, spawned by the session, is ternsub too
t.like(c.cmd("AUTH PLAIN " + PLAIN), r"^235", "AUTH")
c.cmd("MAIL FROM:<demo@example.test>")
c.cmd("RCPT TO:<demo@example.test>")
c.cmd("DATA")
t.like(c.cmd("Subject: uid\r\n\r\nx\r\n."), r"^250", "a message")
c.cmd("QUIT")
c.close()
msgs = [f for f in os.listdir(inst.qdir) if f.endswith(".msg")]
t.ok(msgs and os.stat(os.path.join(inst.qdir, msgs[-1])).st_uid == sub.pw_uid, "the queue program ran as ternsub (it wrote the file)")
t.ok(wait_for(lambda: not ternlib.proc_children(tcpd)), "after QUIT the monitor is gone too")

# -- the checkpassword chain: what the monitor gives it --
out = inst.path("probe")
os.makedirs(out)
probe = r"""
import os, sys
fds = []
for fd in range(256):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
o = os.environ["OUT"]
open(o + "/fds", "w").write(" ".join(map(str, fds)))
open(o + "/null", "w").write(" ".join(os.readlink("/proc/self/fd/%d" % i) for i in (0, 1)))
open(o + "/env", "w").write("\n".join("%s=%s" % kv for kv in os.environ.items()))
open(o + "/fd3", "wb").write(os.read(3, 4096))
open(o + "/argv", "w").write(" ".join(sys.argv[1:]))
open(o + "/uid", "w").write(str(os.getuid()))
sys.exit(0)
"""
p2 = inst.submission(chain=["/usr/bin/python3", "-S", "-c", probe, "arg1"], env={"OUT": out, "LOGINFD": "7"})
c = tls587(p2)
t.like(c.cmd("AUTH LOGIN " + base64.b64encode(b"demo@example.test").decode()), r"^334 ", "AUTH LOGIN")
t.is_(c.cmd(base64.b64encode(b"pass word").decode()), "235 2.7.0 Authentication successful", "a chain that exits 0: 235")
c.close()
t.is_(open(os.path.join(out, "fds")).read().split(), ["0", "1", "2", "3"], "the chain gets exactly fds 0, 1, 2 and 3")
t.is_(open(os.path.join(out, "null")).read(), "/dev/null /dev/null", "0 and 1 on /dev/null")
t.is_(open(os.path.join(out, "fd3"), "rb").read(), b"demo@example.test\0pass word\0\0", "fd 3: user NUL password NUL and an empty timestamp")
t.is_(open(os.path.join(out, "argv")).read(), "arg1 true", "its arguments, then true as the next program")
env = dict(l.split("=", 1) for l in open(os.path.join(out, "env")).read().splitlines() if "=" in l)
t.ok("LOGINFD" not in env and "SSLCTLFD" not in env and "TERN_LOGIN_UID" not in env and "CERTFILE" not in env,
     "no LOGINFD (nothing to take over), no UCSPI-TLS fds, no ids, no key file")
t.is_(env.get("TCPREMOTEIP"), "127.0.0.1", "TCPREMOTEIP, for pwcheck's count per address")
t.is_(open(os.path.join(out, "uid")).read(), "0", "the chain starts as root")

# -- failed AUTHs, counted per address across connections: pwcheck's wait grows --
inst2 = ternlib.TlsInstance(t)
p3 = inst2.submission(env={"PWCHECK_DELAY": "200", "PWCHECK_MAXDELAY": "5000"})
for i in range(3):
    c = tls587(p3)
    t.is_(c.cmd("AUTH PLAIN " + base64.b64encode(b"\0demo@example.test\0wrong%d" % i).decode()),
          "535 5.7.8 Authentication credentials invalid", "connection %d: a wrong password, 535" % (i + 1))
    c.close()
c = tls587(p3)
t.like(c.cmd("AUTH PLAIN " + PLAIN), r"^235 ", "then the right password: 235, after the wait")
c.close()
waits = [int(w) for w in re.findall(r"pwcheck: info: (?:refused|ok) user=demo@example\.test ip=127\.0\.0\.1 wait=(\d+)", inst2.read("log/stderr"))]
t.is_(waits, [0, 200, 400, 800], "pwcheck waited 0, 200, 400, 800 ms: the count follows the address from one connection to the next")

# -- the TLS handshake has a deadline (tlsd -K): a silent client is dropped --
p465 = inst.submission(implicit=True, tlsopts=["-K", "1500"])
pk = inst.submission(tlsopts=["-K", "1500"])
s = socket.create_connection(("127.0.0.1", p465), timeout=30)
t0 = time.time()
try:
    eof = s.recv(100) == b""
except ConnectionResetError:
    eof = True
except socket.timeout:
    eof = False     # still open when the socket gave up: not dropped
dt = time.time() - t0
s.close()
t.ok(eof and dt >= 1.0, "port 465: a client that never starts the handshake is dropped after -K (%.1f s)" % dt)
c = smtprecv.Conn(pk)
c.cmd("EHLO client.example")
t.like(c.cmd("STARTTLS"), r"^220", "STARTTLS: 220")
t0 = time.time()
closed = c.closed(10)
dt = time.time() - t0
t.ok(closed and dt >= 1.0, "a client that never sends its ClientHello after 220 is dropped after -K (%.1f s)" % dt)
c.close()
t.ok(smtprecv.wait_for(lambda: re.search(r"tlsd: warning: handshake failed ip=127\.0\.0\.1 reason=timeout", inst.read("log/stderr"))),
     "tlsd logs the timeout")

t.done()
