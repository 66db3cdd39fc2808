#!/usr/bin/python3
# kill -9 of pop3-serve during QUIT, with thousands of messages marked
# deleted: afterwards every message is either still there, byte for byte,
# or gone; never damaged. The lock goes with the process, and the next
# session lists exactly what is left.

import hashlib
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Pop3Instance(t)
port = inst.pop3()
MD = inst.maildir()
N = 3000

msgs = {}
for i in range(N):
    body = (b"Subject: message %d\n\n" % i) + hashlib.sha256(b"%d" % i).hexdigest().encode() * (8 + i % 40) + b"\n"
    name = "17000%05d.M%dP1Q1.host,S=%d" % (i, i, len(body)) + (":2,S" if i % 2 else "")
    msgs[name] = (("cur" if i % 2 else "new"), body)


def refill():
    for name, (sub, body) in msgs.items():
        p = os.path.join(MD, sub, name)
        if not os.path.exists(p):
            inst.put(body, name, sub=sub)


def state():
    """(present, damaged) over the original messages."""
    present = damaged = 0
    for name, (sub, body) in msgs.items():
        p = os.path.join(MD, sub, name)
        try:
            with open(p, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            continue
        present += 1
        if data != body:
            damaged += 1
    extra = set(os.listdir(os.path.join(MD, "new"))) | set(os.listdir(os.path.join(MD, "cur")))
    extra -= set(msgs)
    return present, damaged, extra


def serve_pid():
    for mon in ternlib.proc_children(inst.pop3_server.pid):
        for c in ternlib.proc_children(mon):
            if ternlib.proc_comm(c) == "pop3-serve":
                return c
    return None


def session_dele_all():
    c = ternlib.Pop3Conn(port, timeout=60)
    c.cmd("USER demo@example.test")
    r = c.cmd("PASS demo")
    if not r.startswith("+OK Logged in, "):
        t.diag(inst.read("log/stderr")[-3000:])
        raise RuntimeError("login failed: " + r)
    n = int(r.split()[3])
    c.send("".join("DELE %d\r\n" % i for i in range(1, n + 1)))
    for i in range(n):
        c.line()
    return c, n


# a complete QUIT first, to know how long the unlinks take
refill()
c, n = session_dele_all()
t.is_(n, N, "%d messages in the session, all marked deleted" % N)
t0 = time.monotonic()
r = c.cmd("QUIT")
T = time.monotonic() - t0
c.close()
t.ok(r == "+OK Bye" and state()[0] == 0, "QUIT removes all of them (in %.0f ms)" % (T * 1000))

def count():
    return len(os.listdir(os.path.join(MD, "new"))) + len(os.listdir(os.path.join(MD, "cur")))


partial = 0
# kill at once, then when the unlinks are under way: once fewer than
# N * (1 - frac) messages are left (the count is watched as they go)
for k, frac in enumerate((0.0, 0.01, 0.2, 0.5, 0.8, 0.95)):
    refill()
    c, n = session_dele_all()
    pid = serve_pid()
    c.send("QUIT\r\n")
    if frac:
        end = time.monotonic() + 10
        while count() > N * (1 - frac) and time.monotonic() < end:
            pass
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass   # QUIT finished first
    c.rest()
    c.close()
    time.sleep(0.1)
    present, damaged, extra = state()
    t.diag("kill -9 with %d%% removed: %d of %d messages left" % (frac * 100, present, N))
    t.ok(damaged == 0 and not extra, "kill -9 after %d%% of the unlinks: every message intact or gone, nothing else in the Maildir" % (frac * 100))
    if 0 < present < N:
        partial += 1
    # the next session: the lock is free and it lists what is there
    c = ternlib.Pop3Conn(port, timeout=60)
    c.cmd("USER demo@example.test")
    r = c.cmd("PASS demo")
    ok = r == "+OK Logged in, %d messages" % present
    if present:
        c.send("RETR %d\r\n" % present)
        c.line()
        got = c.multi()
        ok = ok and got.replace(b"\r\n", b"\n") in [b for s, b in msgs.values()]
    c.cmd("QUIT")
    c.close()
    t.ok(ok, "the next session gets the lock, lists the %d left and retrieves them whole" % present, r)
t.diag("%d of 6 kills landed in the middle of the unlinks" % partial)
t.ok(partial >= 3, "most kills landed in the middle of the unlinks")

t.done()
