#!/usr/bin/python3
# Who runs what (DESIGN.md, Users and privileges): pop3-login's monitor is
# root and never talks to the client; its pre-auth child is ternlogin, not
# ptraceable, unable to fork; the mailbox phase runs as the mailbox owner,
# never root, and is the only process the session keeps beside the
# monitor. The chain gets exactly fds 0, 1, 2, 3 and $LOGINFD and an
# environment built by the monitor.

import os
import pwd
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("the uid checks need root")
inst = ternlib.Pop3Instance(t)
inst.put("Subject: x\n\nx\n")
port = inst.pop3()
login = pwd.getpwnam(ternlib.LOGINUSER)
owner = inst.uid
t.ok(owner != 0, "the mailbox owner (the test uid) is not root")


def wait_for(fn, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        r = fn()
        if r:
            return r
        time.sleep(0.02)
    return fn()


def monitor():
    kids = ternlib.proc_children(inst.pop3_server.pid)
    return kids[0] if len(kids) == 1 else None


c = ternlib.Pop3Conn(port)
c.cmd("USER demo@example.test")
mon = wait_for(monitor)
t.ok(mon and ternlib.proc_comm(mon) == "pop3-login", "tcpserver runs pop3-login, the monitor")
t.is_(ternlib.proc_uids(mon), [0, 0, 0, 0], "the monitor is root")
kids = ternlib.proc_children(mon)
t.is_(len(kids), 1, "it has one child before the login")
child = kids[0] if kids else 0
t.is_(ternlib.proc_uids(child), [login.pw_uid] * 4, "the pre-auth child is ternlogin (real, effective, saved, fs uid)")
with open("/proc/%d/status" % child) as f:
    gids = [l for l in f if l.startswith(("Gid:", "Groups:"))]
t.is_([g.split()[1:] for g in gids], [[str(login.pw_gid)] * 4, [str(login.pw_gid)]], "and ternlogin's group only")
t.is_(os.stat("/proc/%d/status" % child).st_uid, 0, "it is not dumpable: its /proc files belong to root, so no other ternlogin process can ptrace it")
with open("/proc/%d/limits" % child) as f:
    lim = [l for l in f if l.startswith("Max processes")]
t.ok(lim and lim[0].split()[2:4] == ["0", "0"], "it cannot fork (RLIMIT_NPROC 0)", lim)
t.is_(os.readlink("/proc/%d/cwd" % child), "/", "its working directory is /")
monfds = {int(x): os.readlink("/proc/%d/fd/%s" % (mon, x)) for x in os.listdir("/proc/%d/fd" % mon)}
childfds = {int(x): os.readlink("/proc/%d/fd/%s" % (child, x)) for x in os.listdir("/proc/%d/fd" % child)}
t.ok(monfds[0].startswith("socket:") and childfds[0] == monfds[0], "both hold the connection before the login")

r = c.cmd("PASS demo")
t.like(r, r"^\+OK Logged in", "logged in")
serve = wait_for(lambda: [k for k in ternlib.proc_children(mon) if ternlib.proc_comm(k) == "pop3-serve"])
# the pre-auth child exits at the hand-over, and the monitor reaps it:
# under load that can come a moment after pop3-serve's first reply
t.ok(serve and wait_for(lambda: ternlib.proc_children(mon) == serve),
     "the monitor's only child is now pop3-serve: the pre-auth child is gone", (serve, ternlib.proc_children(mon)))
serve = serve[0] if serve else 0
t.ok(not os.path.exists("/proc/%d" % child) or ternlib.proc_comm(child) != "pop3-login", "the pre-auth child exited")
t.is_(ternlib.proc_uids(serve), [owner] * 4, "pop3-serve runs as the mailbox owner")
t.ok(0 not in ternlib.proc_uids(serve), "never as root")
fds = {int(x): os.readlink("/proc/%d/fd/%s" % (serve, x)) for x in os.listdir("/proc/%d/fd" % serve)}
t.is_(sorted(fds), [0, 1, 2, 3], "pop3-serve holds fds 0, 1, 2 and its lock, nothing else ($LOGINFD closed after its octet)")
t.ok(fds.get(3, "").endswith("/tern-pop3.lock") and fds[0] == monfds[0], "fd 3 is the lock file, 0 the connection", fds)
monfds = {int(x): os.readlink("/proc/%d/fd/%s" % (mon, x)) for x in os.listdir("/proc/%d/fd" % mon)}
t.ok(monfds[0] == "/dev/null" and monfds[1] == "/dev/null", "the monitor let go of the connection at the hand-over", monfds)
t.is_(c.cmd("QUIT"), "+OK Bye", "QUIT")
t.is_(c.rest(), b"", "the connection closes with pop3-serve")
c.close()
t.ok(wait_for(lambda: not ternlib.proc_children(inst.pop3_server.pid)), "and the monitor is gone too")

# -- the chain's fds and environment --
out = os.path.join(inst.root, "chain")
os.mkdir(out)
# the probe opens nothing before it looks: fstat on each fd number
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
open(o + "/fds", "w").write(" ".join(map(str, fds)))
open(o + "/env", "w").write("\n".join("%s=%s" % kv for kv in os.environ.items()))
open(o + "/fd3", "wb").write(os.read(3, 4096))
open(o + "/uid", "w").write(str(os.getuid()))
sys.exit(1)
"""
port2 = inst.pop3(chain=["/usr/bin/python3", "-S", "-c", dump], env={"OUT": out, "SSLCTLFD": "9", "LOGINFD": "7"})
c = ternlib.Pop3Conn(port2)
c.cmd("USER demo@example.test")
r = c.cmd("PASS pass word")
t.is_(r, "-ERR [AUTH] Authentication failed", "a chain that exits 1: [AUTH]")
t.is_(open(os.path.join(out, "fds")).read().split(), ["0", "1", "2", "3", "4"], "the chain gets exactly fds 0, 1, 2, 3 and 4")
env = dict(l.split("=", 1) for l in open(os.path.join(out, "env")).read().splitlines() if "=" in l)
t.is_(env.get("LOGINFD"), "4", "LOGINFD=4 (the monitor's value replaces one inherited)")
t.ok("SSLCTLFD" not in env and "TERN_LOGIN_UID" not in env and "TERN_LOGIN_GID" not in env,
     "SSLCTLFD and the child's ids are not passed on")
t.ok(env.get("TCPREMOTEIP") == "127.0.0.1" and env.get("TERN_ROOT") == inst.root and env.get("OUT") == out,
     "the rest is the monitor's own environment")
t.ok("USER" not in env or env["USER"] != "demo@example.test", "nothing in it comes from the client")
t.is_(open(os.path.join(out, "fd3"), "rb").read(), b"demo@example.test\0pass word\0\0", "fd 3: user NUL password NUL and an empty timestamp")
t.is_(open(os.path.join(out, "uid")).read().strip(), "0", "the chain starts as root (pwcheck drops to the owner)")
c.close()

t.done()
