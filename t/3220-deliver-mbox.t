#!/usr/bin/python3
# deliver -m: the From_ line, mboxrd quoting, the dotlock and the fcntl
# lock, concurrent appenders, and a failed append cut back.

import fcntl
import os
import re
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Instance(t)
D = os.path.join(inst.root, "mboxes")
os.makedirs(D)
os.chown(D, inst.uid, inst.gid)
MBOX = os.path.join(D, "mbox")
FROMRE = rb"From (\S+) (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}\n"


def deliver(args, msg, env=None, preexec=None):
    e = dict(inst.env)
    if env:
        e.update(env)
    r = subprocess.run(inst.asuser + ["deliver"] + list(args), input=msg if isinstance(msg, bytes) else msg.encode(),
                       env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def content(path=MBOX):
    try:
        return open(path, "rb").read()
    except FileNotFoundError:
        return b""


def spawn_deliver(args, msg):
    p = subprocess.Popen(inst.asuser + ["deliver"] + list(args), env=inst.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(msg)
    p.stdin.close()
    return p


# -- one message --
rc, out, err = deliver(["-f", "x@remote.test", "-m", MBOX, "demo@example.test"], "Subject: one\n\nbody\n")
data = content()
t.is_(rc, 0, "-m appends to an mbox, creating it")
m = re.match(FROMRE, data)
t.ok(m and m.group(1) == b"x@remote.test", "it starts with From SENDER and an asctime date", data[:60])
t.ok(data[m.end():] == b"Return-Path: <x@remote.test>\nDelivered-To: demo@example.test\nSubject: one\n\nbody\n\n" if m else False,
     "then Return-Path, Delivered-To, the message and a blank line")
t.is_(oct(os.stat(MBOX).st_mode & 0o777), oct(0o600), "a new mbox is mode 0600")
t.ok(not os.path.exists(MBOX + ".lock"), "the dotlock is removed")

rc, out, err = deliver(["-f", "", "-m", MBOX], "Subject: two\n\nno final newline")
data = content()
msgs = re.split(rb"(?m)^(?=From )", data)
msgs = [x for x in msgs if x]
t.is_(len(msgs), 2, "a second message is appended after the first")
t.ok(re.match(FROMRE, msgs[-1]) and re.match(FROMRE, msgs[-1]).group(1) == b"MAILER-DAEMON",
     "the null sender is From MAILER-DAEMON", msgs[-1][:40])
t.ok(msgs[-1].endswith(b"\nno final newline\n\n"), "a missing final newline is added before the blank line")
t.ok(b"Delivered-To" not in msgs[-1], "without an address, no Delivered-To")

# -- mboxrd quoting --
os.unlink(MBOX)
body = b"From a\n>From b\n>>From c\nFrom\nFromage\n From x\nF\n>\n>>x\n>>>Fro\nFrom end"
rc, out, err = deliver(["-f", "x@remote.test", "-m", MBOX], b"Subject: q\n\n" + body)
want = b"Subject: q\n\n>From a\n>>From b\n>>>From c\nFrom\nFromage\n From x\nF\n>\n>>x\n>>>Fro\n>From end\n\n"
data = content()
t.ok(data.endswith(want), "lines matching ^>*From get one more '>', nothing else changes", data)
# a quoted line across the 64 KiB read boundary
os.unlink(MBOX)
head = b"Subject: boundary\n\n"
pad = b"x" * (65536 - len(head) - 4) + b"\n"
body = pad + b">>From across\nend\n"
rc, out, err = deliver(["-f", "x@remote.test", "-m", MBOX], head + body)
t.ok(content().endswith(pad + b">>>From across\nend\n\n"), "quoting works across the read buffer's boundary")
os.unlink(MBOX)
body = b"y" * (65536 - len(head) - 1) + b"\nFrom split\n"
rc, out, err = deliver(["-f", "x@remote.test", "-m", MBOX], head + body)
t.ok(content().endswith(b"\n>From split\n\n"), "even when the line starts right at the boundary")

# -- two concurrent appenders: no interleaving --
os.unlink(MBOX)
N = 4
big = {}
files = []
for i in range(N):
    lines = b"".join(b"message %d line %06d From inside\n" % (i, j) for j in range(300000))
    big[i] = b"Subject: %d\n\n" % i + lines
    path = os.path.join(inst.root, "big%d" % i)
    with open(path, "wb") as f:
        f.write(big[i])
    files.append(open(path, "rb"))
# regular files on fd 0: no spooling, so that the appends overlap in time
procs = [subprocess.Popen(inst.asuser + ["deliver", "-f", "s%d@remote.test" % i, "-m", MBOX], env=inst.env,
                          stdin=files[i], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(N)]
codes = [p.wait(timeout=120) for p in procs]
for f in files:
    f.close()
t.is_(codes, [0] * N, "%d concurrent appenders all succeed" % N)
data = content()
parts = [x for x in re.split(rb"(?m)^(?=From \S+ \w{3} \w{3} )", data) if x]
t.is_(len(parts), N, "the mbox holds %d messages" % N)
ok = True
seen = set()
for p in parts:
    m = re.match(FROMRE, p)
    if not m:
        ok = False
        break
    i = int(m.group(1)[1:2])
    seen.add(i)
    if p[m.end():] != b"Return-Path: <s%d@remote.test>\n" % i + big[i] + b"\n":
        ok = False
t.ok(ok and seen == set(range(N)), "each one whole and uninterleaved (dotlock + fcntl lock)")

# -- the dotlock --
os.unlink(MBOX)
lock = MBOX + ".lock"
open(lock, "w").close()
old = time.time() - 11 * 60
os.utime(lock, (old, old))
rc, out, err = deliver(["-f", "x@remote.test", "-m", MBOX], "Subject: stale\n\nx\n")
t.ok(rc == 0 and b"Subject: stale" in content() and not os.path.exists(lock),
     "a dotlock older than 10 minutes is stale: removed, and the delivery goes on")
t.like(err, "stale", "and the log says so")
open(lock, "w").close()
p = spawn_deliver(["-f", "x@remote.test", "-m", MBOX], b"Subject: waited\n\nx\n")
time.sleep(1.0)
t.ok(p.poll() is None and b"waited" not in content(), "a fresh dotlock makes deliver wait")
os.unlink(lock)
t.ok(p.wait(timeout=30) == 0 and b"Subject: waited" in content(), "and it delivers once the lock is gone")

fd = os.open(MBOX, os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
p = spawn_deliver(["-f", "x@remote.test", "-m", MBOX], b"Subject: fcntl\n\nx\n")
time.sleep(1.0)
t.ok(p.poll() is None and b"fcntl" not in content(), "an fcntl lock on the mbox makes deliver wait")
fcntl.lockf(fd, fcntl.LOCK_UN)
os.close(fd)
t.ok(p.wait(timeout=30) == 0 and b"Subject: fcntl" in content(), "and it delivers once the lock is released")

# -- a failed append is cut back --
before = content()
size = len(before)
limit = size + 3000


def fsize():
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


rc, out, err = deliver(["-f", "x@remote.test", "-m", MBOX], b"Subject: too big\n\n" + b"z" * 20000 + b"\n", preexec=fsize)
t.ok(rc == 111 and out.startswith("4."), "a write error (file size limit) is a temporary failure", out)
t.ok(content() == before, "the mbox is truncated back to its original length")
t.ok(not os.path.exists(lock), "and the dotlock is removed")

# -- a missing directory --
rc, out, err = deliver(["-f", "x@remote.test", "-m", os.path.join(D, "nodir", "mbox")], "Subject: x\n\nx\n")
t.ok(rc == 111 and out.startswith("4."), "an mbox in a missing directory: 111")

t.done()
