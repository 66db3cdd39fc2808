#!/usr/bin/python3
# pwcheck alone, through the checkpassword interface (fd 3): a good login
# becomes the mailbox owner in its Maildir with USER, HOME and MAILDIR; a
# wrong password and an unknown user both exit 1 after the same crypt
# work; misuse exits 2, trouble 111; failures per remote address (IPv6
# per /64) make later attempts wait, each attempt counted before its
# password is checked (attempts in flight, up to 10, make no other wait),
# in a bounded state file that keeps the addresses with the most failures.

import os, re
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Pop3Instance(t, users=(("demo@example.test", "demo"), ("bob@example.test", "s3cret word")))
PWCHECK = os.path.join(ternlib.BUILD, "pwcheck")
SHOW = ["sh", "-c", 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) cwd=$(pwd -P)"; echo "USER=$USER"; echo "HOME=$HOME"; echo "MAILDIR=$MAILDIR"; echo "args=$*"', "show"]
tmp = tempfile.mkdtemp(dir=inst.root)


def pwcheck(user=None, pw=None, prog=SHOW, raw=None, env=None, ip="192.0.2.1", fd3=True):
    """Runs pwcheck as root (as the login monitor does) with the record on fd 3."""
    data = raw if raw is not None else user.encode() + b"\0" + pw.encode() + b"\0<1.2@host>\0"
    f = os.path.join(tmp, "fd3")
    with open(f, "wb") as fh:
        fh.write(data)
    e = {"TCPREMOTEIP": ip, "PWCHECK_DELAY": "0"}
    if env:
        e.update(env)
    redir = ' 3<"$0"' if fd3 else ""
    t0 = time.monotonic()
    r = inst.run(["sh", "-c", 'exec "$@"' + redir, f, PWCHECK] + list(prog), env=e, asuser=False)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), time.monotonic() - t0


# -- a good login --
md = inst.path("mail", "example.test", "demo")
t.ok(not os.path.exists(md), "the Maildir does not exist yet")
rc, out, err, _ = pwcheck("demo@example.test", "demo", prog=SHOW + ["x", "y z"])
t.is_(rc, 0, "a good password execs the program (which exits 0)")
uid, gid = (inst.uid, inst.gid)
want = "uid=%d gid=%d groups=%d cwd=%s\nUSER=demo@example.test\nHOME=%s\nMAILDIR=%s\nargs=x y z\n" % (uid, gid, gid, os.path.realpath(md), md, md)
t.is_(out, want, "as the owner of mail/ (never root), in the Maildir, with USER, HOME and MAILDIR, the arguments passed on")
t.ok(all(os.path.isdir(os.path.join(md, d)) for d in ("cur", "new", "tmp")), "the Maildir was created with cur, new and tmp")
st = os.stat(md)
t.ok(st.st_uid == uid and oct(st.st_mode & 0o777) == oct(0o700), "owned by the mailbox owner, mode 0700")
t.like(err, r"pwcheck: info: ok user=demo@example\.test ip=192\.0\.2\.1", "one log line: ok, user, ip")
t.ok("demo\n" not in err and "demo " not in err.replace("user=demo", ""), "the password is not logged")

rc, out, err, _ = pwcheck("DEMO@Example.TEST", "demo")
t.ok(rc == 0 and "USER=demo@example.test\n" in out, "the user name is matched in any case and passed on lowercased")
rc, out, err, _ = pwcheck("bob@example.test", "s3cret word")
t.ok(rc == 0 and "USER=bob@example.test" in out, "a password with a space")

# -- refused: exit 1 --
rc, out, err, _ = pwcheck("demo@example.test", "wrong")
t.is_((rc, out), (1, ""), "a wrong password exits 1 and runs nothing")
t.like(err, r"refused user=demo@example\.test ip=192\.0\.2\.1 wait=0 reason=password", "logged with the wait and the reason")
rc, out, err, _ = pwcheck("nobody@example.test", "demo")
t.is_((rc, out), (1, ""), "an unknown user exits 1")
t.like(err, r"reason=unknown", "logged as unknown")
rc, out, err, _ = pwcheck("demo@example.test", "")
t.is_(rc, 1, "an empty password exits 1")
rc, out, err, _ = pwcheck("", "demo")
t.is_(rc, 1, "an empty user exits 1")
rc, out, err, _ = pwcheck("demo@example.test", "demo ")
t.is_(rc, 1, "a trailing space is part of the password")

# -- the same work for an unknown user as for a wrong password --
tw, tu = [], []
for _ in range(7):   # interleaved: the machine's load hits both alike
    tw.append(pwcheck("demo@example.test", "not-the-password", ip="192.0.2.2")[3])
    tu.append(pwcheck("nobody@example.test", "not-the-password", ip="192.0.2.2")[3])
wrong, unknown = statistics.median(tw), statistics.median(tu)
t.diag("median wall time: wrong password %.1f ms, unknown user %.1f ms" % (wrong * 1000, unknown * 1000))
t.ok(unknown > 0.6 * wrong and wrong > 0.6 * unknown,
     "an unknown user costs what a wrong password costs (the dummy hash is checked)")

# -- misuse: exit 2 --
rc, out, err, _ = pwcheck("demo@example.test", "demo", prog=[])
t.ok(rc == 2 and "usage" in err, "no program to run: usage, exit 2", err)
rc, out, err, _ = pwcheck("demo@example.test", "demo", fd3=False)
t.ok(rc == 2 and out == "", "no fd 3: exit 2", err)
rc, out, err, _ = pwcheck(raw=b"demo@example.test")
t.is_(rc, 2, "a record without NUL: exit 2")
rc, out, err, _ = pwcheck(raw=b"demo@example.test\0demo")
t.is_(rc, 2, "a password without its NUL: exit 2")
rc, out, err, _ = pwcheck(raw=b"demo@example.test\0demo\0" + b"x" * 5000)
t.is_(rc, 2, "more than 4096 octets on fd 3: exit 2")
rc, out, err, _ = pwcheck(raw=b"demo@example.test\0demo\0")
t.is_(rc, 0, "a record without a timestamp is accepted")

# -- trouble: exit 111 --
rc, out, err, _ = pwcheck("demo@example.test", "demo", env={"PWCHECK_HALFLIFE": "0"})
t.is_(rc, 111, "an invalid PWCHECK_HALFLIFE: 111")
rc, out, err, _ = pwcheck("demo@example.test", "demo", prog=["/nonexistent/prog"])
t.ok(rc == 111 and "exec" in err, "the program cannot be run: 111", err)
if ternlib.is_root():
    os.chown(inst.path("mail"), 0, 0)
    rc, out, err, _ = pwcheck("demo@example.test", "demo")
    t.ok(rc == 111 and out == "" and "root" in err, "mail/ owned by root: 111, nothing runs as root", err)
    os.chown(inst.path("mail"), inst.uid, inst.gid)
    os.rename(inst.path("etc/passwd.cdb"), inst.path("etc/passwd.cdb.save"))
    os.mkdir(inst.path("etc/passwd.cdb"))
    rc, out, err, _ = pwcheck("demo@example.test", "demo")
    t.is_(rc, 111, "etc/passwd.cdb unreadable: 111")
    os.rmdir(inst.path("etc/passwd.cdb"))
    os.rename(inst.path("etc/passwd.cdb.save"), inst.path("etc/passwd.cdb"))
else:
    t.ok(True, "# SKIP mail/ owned by root needs root")
    t.ok(True, "# SKIP the unreadable passwd.cdb needs root")
rc, out, err, _ = pwcheck("demo@example.test", "demo")
t.is_(rc, 0, "and a good login works again")

# -- failures per remote address --
# pwcheck logs the wait it applies (wait=MS): the checks read that, not a
# clock; a measured duration is only ever checked to be at least the wait.
DELAY = {"PWCHECK_DELAY": "300", "PWCHECK_MAXDELAY": "1000"}
def waited(err):
    m = re.search(r" wait=(\d+)", err)
    return int(m.group(1)) if m else None
waits = []
for i in range(4):
    rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="198.51.100.7")
    waits.append(waited(err))
    if i == 3:
        t.ok(dt >= 0.9, "the wait is real: the fourth attempt took at least 1 s (%.2f s)" % dt)
t.is_(waits, [0, 300, 600, 1000], "each further attempt waits longer: 0, 300, 600, then capped at PWCHECK_MAXDELAY")
rc, out, err, dt = pwcheck("demo@example.test", "demo", env=DELAY, ip="198.51.100.7")
t.ok(rc == 0 and waited(err) == 1000, "a good password from that address waits too (no timing oracle)", err)
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="198.51.100.8")
t.is_(waited(err), 0, "another address does not wait")
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="2001:db8::7")
rc, out, err, dt2 = pwcheck("demo@example.test", "wrong", env=DELAY, ip="2001:db8::7")
t.is_(waited(err), 300, "IPv6 addresses are counted too")
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="2001:db8::1:2:3:4")
t.is_(waited(err), 600, "an IPv6 address is counted by its /64: another address in it waits for the same failures")
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="2001:db8:0:1::7")
t.is_(waited(err), 0, "the next /64 does not")
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="::ffff:c633:6408")
t.is_(waited(err), 300, "an IPv4-mapped IPv6 address (::ffff:c633:6408) counts as its IPv4 address, not as the /64 of them all")
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="::ffff:c633:6409")
t.is_(waited(err), 0, "and another IPv4-mapped address is another address")

state = inst.path("auth", "failures")
st = os.stat(state)
t.ok(oct(st.st_mode & 0o777) == oct(0o600) and oct(os.stat(inst.path("auth")).st_mode & 0o777) == oct(0o700),
     "the state file is auth/failures, mode 0600 in a 0700 directory")
t.ok(st.st_size <= 1024 * 32, "it is a fixed table (%d octets)" % st.st_size)

ENTRY = struct.Struct("=16sIIQ")
def entries():
    with open(state, "rb") as f:
        data = f.read()
    return [ENTRY.unpack_from(data, i * 32) for i in range(len(data) // 32)]
def ip4(s):
    return bytes(int(x) for x in s.split(".")) + b"\0" * 12
e = [x for x in entries() if x[0] == ip4("198.51.100.7")]
t.ok(len(e) == 1 and e[0][1] == 4 and abs(e[0][3] - time.time()) < 30, "the entry counts 4 failures, last one now")

# decay: a failure count halves for every PWCHECK_HALFLIFE seconds without one
with open(state, "r+b") as f:
    for i, x in enumerate(entries()):
        if x[0] == ip4("198.51.100.7"):
            f.seek(i * 32)
            f.write(ENTRY.pack(x[0], x[1], x[2], x[3] - 1200))
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="198.51.100.7")
t.is_(waited(err), 300, "after two half-lives (1200 s) 4 failures count as 1: the wait is 300 ms again")
e = [x for x in entries() if x[0] == ip4("198.51.100.7")]
t.ok(e and e[0][1] == 2, "and the new failure makes it 2")

# counted before the password is checked: while an attempt waits, its
# address's count already includes it
def count_of(ip):
    e = [x for x in entries() if x[0] == ip4(ip) and x[3]]
    return e[0][1] if e else 0
for i in range(3):
    pwcheck("demo@example.test", "wrong", env=DELAY, ip="192.0.2.40")
t.is_(count_of("192.0.2.40"), 3, "three failures counted")
with open(os.path.join(tmp, "slow"), "wb") as fh:
    fh.write(b"demo@example.test\0wrong\0\0")
p = subprocess.Popen(["sh", "-c", 'exec "$@" 3<"$0"', os.path.join(tmp, "slow"), PWCHECK] + SHOW,
                     env=dict(inst.env, TCPREMOTEIP="192.0.2.40", PWCHECK_DELAY="2000", PWCHECK_MAXDELAY="3000"),
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
seen = None
while p.poll() is None:
    if count_of("192.0.2.40") == 4:
        seen = p.poll() is None
        break
    time.sleep(0.01)
out, err = p.communicate()
t.ok(seen, "an attempt counts as a failure while it waits, before its password is checked", err)
t.like(err.decode(), r"wait=3000 reason=password", "(it waited for the three before it)")
t.is_(count_of("192.0.2.40"), 4, "a wrong password stays counted")

# attempts in flight do not make the others from their address wait (a
# client's several connections, users behind one NAT), up to 10 of them;
# once failed they count; one in flight for 120 s was killed: a failure
ENTRY6 = struct.Struct("=16sIHHQ")   # the same 32 octets: is6 and the attempts in flight apart
def put_entry(ip, count, inflight, age):
    with open(state, "r+b") as f:
        for i, x in enumerate(entries()):
            if x[0] == ip4(ip) or not x[3]:
                f.seek(i * 32)
                f.write(ENTRY6.pack(ip4(ip), count, 0, inflight, int(time.time()) - age))
                return
procs = [subprocess.Popen(["sh", "-c", 'exec "$@" 3<"$0"', os.path.join(tmp, "par%d" % i), PWCHECK] + SHOW,
                          env=dict(inst.env, TCPREMOTEIP="192.0.2.41", **DELAY),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
         for i in range(3) if open(os.path.join(tmp, "par%d" % i), "wb").write(b"demo@example.test\0demo\0\0")]
res = [(p.wait(), waited(p.communicate()[1].decode())) for p in procs]
t.is_(res, [(0, 0)] * 3, "three good logins at once from one address: none waits for the others")
t.is_(count_of("192.0.2.41"), 0, "and they leave nothing counted")
put_entry("192.0.2.43", 3, 3, 0)
rc, out, err, dt = pwcheck("demo@example.test", "demo", env=DELAY, ip="192.0.2.43")
t.ok(rc == 0 and waited(err) == 0, "three attempts in flight (count 3, 3 in flight): no wait", err)
put_entry("192.0.2.43", 12, 12, 0)
rc, out, err, dt = pwcheck("demo@example.test", "demo", env=DELAY, ip="192.0.2.43")
t.is_(waited(err), 600, "twelve in flight: past the 10 that are free, the two others count (600 ms)")
put_entry("192.0.2.43", 2, 2, 130)
rc, out, err, dt = pwcheck("demo@example.test", "demo", env=DELAY, ip="192.0.2.43")
t.is_(waited(err), 600, "two in flight for 130 s were killed before their verdicts: two failures (600 ms)")
put_entry("192.0.2.44", 0, 0, 0)
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="192.0.2.44")
e = [x for x in map(ENTRY6.unpack, [ENTRY.pack(*x) for x in entries()]) if x[0] == ip4("192.0.2.44")]
t.ok(rc == 1 and e and e[0][1] == 1 and e[0][3] == 0, "a wrong password: one failure, no longer in flight", e)
procs = [subprocess.Popen(["sh", "-c", 'exec "$@" 3<"$0"', os.path.join(tmp, "par%d" % i), PWCHECK] + SHOW,
                          env=dict(inst.env, TCPREMOTEIP="192.0.2.45", **DELAY),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
         for i in range(3) if open(os.path.join(tmp, "par%d" % i), "wb").write(b"demo@example.test\0wrong\0\0")]
for p in procs:
    p.communicate()
rc, out, err, dt = pwcheck("demo@example.test", "demo", env=DELAY, ip="192.0.2.45")
t.is_(waited(err), 1000, "after three wrong passwords at once, the next attempt waits for three failures (capped at 1000 ms)")

# a right password takes its count back: a success changes nothing
rc, out, err, dt = pwcheck("demo@example.test", "demo", env=DELAY, ip="192.0.2.42")
t.ok(rc == 0 and not [x for x in entries() if x[0] == ip4("192.0.2.42") and x[3]],
     "a good login from a new address leaves no entry behind")
before = [x for x in entries() if x[0] == ip4("192.0.2.40")]
rc, out, err, dt = pwcheck("demo@example.test", "demo", env=DELAY, ip="192.0.2.40")
after = [x for x in entries() if x[0] == ip4("192.0.2.40")]
t.ok(rc == 0 and waited(err) == 1000 and before == after,
     "a good login after failures waits, and leaves the count and its clock as they were", (before, after))

# bounded: with the table full, the entry with the lowest count makes room
now = int(time.time())
with open(state, "wb") as f:
    for i in range(1024):
        f.write(ENTRY.pack(ip4("10.0.%d.%d" % (i // 256, i % 256)), 5, 0, now - 10 - (i == 77) * 1000))
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="203.0.113.9")
ips = [x[0] for x in entries()]
t.ok(os.stat(state).st_size == 1024 * 32 and ip4("203.0.113.9") in ips and ip4("10.0.0.77") not in ips,
     "a full table keeps its size: the entry whose count decayed lowest was replaced")
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="10.0.1.1")
t.is_(waited(err), 1000, "the entries kept still count (5 failures: the capped wait)")
with open(state, "wb") as f:
    for i in range(1024):
        # 10.0.0.5 failed once, recently; 10.0.0.6 five times, long ago
        # (decayed to 2); the rest five times, recently
        count, age = {5: (1, 10), 6: (5, 1000), 7: (1, 20)}.get(i, (5, 10))
        f.write(ENTRY.pack(ip4("10.0.%d.%d" % (i // 256, i % 256)), count, 0, now - age))
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="203.0.113.10")
ips = [x[0] for x in entries()]
t.ok(ip4("10.0.0.7") not in ips and ip4("10.0.0.5") in ips and ip4("10.0.0.6") in ips,
     "the lowest count goes first, the older of two equal ones, not the oldest entry")
rc, out, err, dt = pwcheck("demo@example.test", "wrong", env=DELAY, ip="203.0.113.11")
ips = [x[0] for x in entries()]
t.ok(ip4("10.0.0.5") not in ips and ip4("10.0.0.6") in ips,
     "then the other once-failed one: the address that failed most stays, old as it is")

# without TCPREMOTEIP the failures are counted under the unspecified address
e1 = pwcheck("demo@example.test", "wrong", env=dict(DELAY, TCPREMOTEIP=""), ip="")
e2 = pwcheck("demo@example.test", "wrong", env=dict(DELAY, TCPREMOTEIP=""), ip="")
t.ok(waited(e2[2]) > waited(e1[2]), "no TCPREMOTEIP: one shared count", (e1[2], e2[2]))
rc, out, err, dt = pwcheck("demo@example.test", "wrong", ip="not-an-ip")
t.is_(rc, 111, "a malformed TCPREMOTEIP: 111")


# -- a mailbox value deliver would refuse: refused here too (one check, lib/) --
def cdb_write(path, items):
    """A cdb file (D. J. Bernstein's format) of (key, value) pairs."""
    def h(k):
        x = 5381
        for c in k:
            x = (((x << 5) + x) ^ c) & 0xffffffff
        return x
    recs, pos, buckets = b"", 2048, [[] for _ in range(256)]
    for k, v in items:
        buckets[h(k) & 255].append((h(k), pos))
        rec = struct.pack("<II", len(k), len(v)) + k + v
        recs += rec
        pos += len(rec)
    head, tables = b"", b""
    for b in buckets:
        n = 2 * len(b)
        slots = [(0, 0)] * n
        for hv, p in b:
            j = (hv >> 8) % n
            while slots[j][1]:
                j = (j + 1) % n
            slots[j] = (hv, p)
        head += struct.pack("<II", pos + len(tables), n)
        tables += b"".join(struct.pack("<II", hv, p) for hv, p in slots)
    with open(path, "wb") as f:
        f.write(head + recs + tables)


users_cdb = inst.path("etc/users.cdb")
os.rename(users_cdb, users_cdb + ".save")
for value, what in ((b"example.test/./demo", "a '.' component"), (b"./example.test/demo", "a leading '.'"),
                    (b"example.test/demo\0x", "a NUL"), (b"example.test/../demo", "a '..' component")):
    cdb_write(users_cdb, [(b"demo@example.test", value)])
    rc, out, err, _ = pwcheck("demo@example.test", "demo")
    t.ok(rc == 111 and out == "" and "bad mailbox in etc/users.cdb" in err,
         "a mailbox with %s: 111, nothing runs" % what, (rc, out, err))
    r = inst.run(["deliver", "demo@example.test"], input="Subject: x\n\nx\n")
    t.ok(r.returncode == 111 and r.stdout.startswith(b"4.3.5 users.cdb has a malformed mailbox"),
         "and deliver refuses it the same", r.stdout)
os.rename(users_cdb + ".save", users_cdb)
rc, out, err, _ = pwcheck("demo@example.test", "demo")
t.is_(rc, 0, "the real users.cdb again: the login works")

t.done()
