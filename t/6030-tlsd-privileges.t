#!/usr/bin/python3
# Who runs what under tlsd: the TLS engine (tlsd's child) reads the keys
# as root and is TLS_UID/TLS_GID before the first byte from the network,
# in both modes; the application keeps tlsd's starting uid (root here).
# tlsd refuses to run its engine as root by omission; -Z keeps the
# engine's variables for the application; the engine dumps no core.
import os
import socket
import ssl
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("needs root (the engine changes uid)")
inst = ternlib.Instance(t)
d = inst.path("tls")
os.makedirs(d)
tlsuser = ternlib.ensure_user("terntls")
crt, key = ternlib.openssl_cert(d, "priv.test", "ec")
env = {"CERTFILE": crt, "KEYFILE": key, "TLS_UID": str(tlsuser.pw_uid), "TLS_GID": str(tlsuser.pw_gid)}
TLSD = os.path.join(ternlib.BUILD, "tlsd")

inst.write("app", """#!/bin/sh
echo "uid=$(id -u) gid=$(id -g) ctl=${SSLCTLFD-unset} cert=${CERTFILE-unset} tlsuid=${TLS_UID-unset}"
exec cat
""", 0o755)
app = inst.path("app")


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def wait_for(fn, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.02)
    return fn()


def tree(tcpserver_pid):
    """(tlsd or the application it became, the engine) under tcpserver."""
    kids = ternlib.proc_children(tcpserver_pid)
    if len(kids) != 1:
        return None
    eng = ternlib.proc_children(kids[0])
    return (kids[0], eng[0]) if len(eng) == 1 else None


def uids(pid):
    """(real, effective, saved) uid."""
    u = ternlib.proc_uids(pid)
    return tuple(u[:3]) if u else None


def status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].split()
    return None


# -- implicit TLS --
port = ternlib.tlsd_server(inst, (), [app], env=env, asuser=False)
tcpd = inst.procs[-1].pid
s = socket.create_connection(("127.0.0.1", port), timeout=10)
pids = wait_for(lambda: tree(tcpd))
t.ok(pids, "a connection: tlsd and its engine child", pids)
parent, engine = pids
want = tuple([tlsuser.pw_uid] * 3)
t.is_(wait_for(lambda: uids(engine) == want and want), want,
      "before the client sent a byte, the engine runs as TLS_UID (real, effective, saved)")
t.is_(status(engine, "Gid")[:3], [str(tlsuser.pw_gid)] * 3, "and TLS_GID")
t.is_(status(engine, "Groups"), [str(tlsuser.pw_gid)], "with no supplementary group but TLS_GID")
t.is_(uids(parent), (0, 0, 0), "tlsd itself (to become the application) is still root")
with open("/proc/%d/limits" % engine) as f:
    t.like(f.read(), r"Max core file size\s+0\s+0", "the engine holding the keys dumps no core")
c = context().wrap_socket(s)
buf = b""
while b"\n" not in buf:
    buf += c.recv(4096)
t.like(buf.decode(), r"^uid=0 gid=0 ctl=unset cert=unset tlsuid=unset", "the application runs as tlsd's starting uid, root")
t.is_(uids(engine), want, "the engine is still TLS_UID after the handshake")
c.close()

# -- UCSPI-TLS (-u): the engine drops before the application's "Y" --
port = ternlib.tlsd_server(inst, ("-u",), [app], env=env, asuser=False)
tcpd = inst.procs[-1].pid
s = socket.create_connection(("127.0.0.1", port), timeout=10)
line = s.recv(4096).decode()
t.like(line, r"^uid=0 gid=0 ctl=\d+ cert=unset tlsuid=unset", "-u: the application starts at once, as root, with SSLCTLFD")
pids = wait_for(lambda: tree(tcpd))
t.ok(pids and uids(pids[1]) == want, "-u: the engine is TLS_UID already, before any command", pids)
s.close()

# -- refusals and -Z --
def direct(opts, e, prog=("true",)):
    return subprocess.run([TLSD] + list(opts) + list(prog), env=dict(inst.env, **e), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)

r = direct((), {"CERTFILE": crt, "KEYFILE": key})
t.ok(r.returncode == 100 and b"refusing to run the TLS engine as root" in r.stderr,
     "as root without TLS_UID and TLS_GID: exit 100, nothing run", r.stderr)
r = direct((), {"CERTFILE": crt, "KEYFILE": key, "TLS_UID": str(tlsuser.pw_uid)})
t.ok(r.returncode == 100 and b"TLS_UID and TLS_GID go together" in r.stderr, "TLS_UID without TLS_GID: exit 100", r.stderr)
r = direct((), dict(env, TLS_UID="ternd"))
t.ok(r.returncode == 100 and b"invalid TLS_UID" in r.stderr, "TLS_UID must be numeric: exit 100", r.stderr)

port = ternlib.tlsd_server(inst, ("-Z",), [app], env=env, asuser=False)
c = context().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
buf = b""
while b"\n" not in buf:
    buf += c.recv(4096)
c.close()
t.like(buf.decode(), r"cert=%s tlsuid=%d" % (crt.replace(".", r"\."), tlsuser.pw_uid), "-Z: the application keeps CERTFILE and TLS_UID")

# -- the key file is root's: only the engine, before dropping, reads it --
t.is_(oct(os.stat(key).st_mode & 0o777), "0o600", "the test key is mode 0600")
t.is_(os.stat(key).st_uid, 0, "and root's")
t.done()
