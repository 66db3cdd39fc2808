#!/usr/bin/python3
# imap-serve, the store: flag changes committed to the index without an
# fdatasync, and what makes that safe (lib/tern_store_unsynced.c):
# - a STORE renames the files (the truth) and commits the index with no
#   fdatasync between the command and its OK (strace on the session);
#   the folder then has tern-index/unsynced holding this boot's id;
# - the session going idle syncs the index (an fdatasync) and removes
#   the marker; so does LOGOUT;
# - kill -9 of a session after STOREs (same boot: the page cache has the
#   writes): the next session keeps the index (same data.mdb) and sees
#   the flags;
# - a marker from another boot (the system went down after such
#   commits): the next SELECT builds the index again (a new data.mdb),
#   with the flags of the file names, the same UIDs and UIDVALIDITY, and
#   a HIGHESTMODSEQ above the one before (RFC 7162 3.1.2: never back).

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
t.ok(shutil.which("strace") is not None, "strace is installed (mk/deps)")
t.ok(os.geteuid() == 0, "running as root (strace attaches to the session)")
inst = ternlib.ImapInstance(t)
port = inst.imap()
server = inst.pop3_server   # its tcpserver
MD = inst.maildir()
IDX = os.path.join(MD, "tern-index")
MARK = os.path.join(IDX, "unsynced")
BOOT = open("/proc/sys/kernel/random/boot_id").read().strip()

for i in range(1, 6):
    inst.put(("Subject: m%d\nFrom: a@example.org\n\nbody %d\n" % (i, i)).encode(), "%d.M%dP1.host" % (1770000000 + i, i))


def login():
    c = ternlib.ImapConn(port, timeout=60)
    c.cmd("LOGIN demo@example.test demo")
    return c


def session_pid(before):
    for _ in range(100):
        now = set(ternlib.proc_descendants(server.pid, "imap-serve")) - before
        if now:
            return int(sorted(now)[0])
        time.sleep(0.05)
    return None


def select(c):
    unt, r = c.cmd("SELECT INBOX")
    hms = [int(m.group(1)) for u in unt for m in [re.search(r"HIGHESTMODSEQ (\d+)", u)] if m]
    uv = [int(m.group(1)) for u in unt for m in [re.search(r"UIDVALIDITY (\d+)", u)] if m]
    return (hms[0] if hms else None), (uv[0] if uv else None)


def flags_of(c):
    unt, r = c.cmd("UID FETCH 1:* (FLAGS)")
    out = {}
    for u in unt:
        m = re.search(r"UID (\d+) FLAGS \(([^)]*)\)", u) or re.search(r"FLAGS \(([^)]*)\) UID (\d+)", u)
        if m:
            a, b = m.groups()
            uid, fl = (a, b) if a.isdigit() else (b, a)
            out[int(uid)] = set(fl.split())
    return out


def sentinel():
    """A file of the test's in tern-index/: gone when the index is built again."""
    with open(os.path.join(IDX, "t5077"), "w") as fh:
        fh.write("x")


def same_index():
    return os.path.exists(os.path.join(IDX, "t5077"))


# ---- a STORE commits without fdatasync; idle time syncs
before = set(ternlib.proc_descendants(server.pid, "imap-serve"))
c = login()
pid = session_pid(before)
t.ok(pid is not None, "the session's imap-serve")
c.cmd("SELECT INBOX")
trace = inst.path("strace.out")
c.cmd("STORE 5 +FLAGS (\\Draft)")   # the first: it writes the marker (and fsyncs it)
c.cmd("STORE 5 -FLAGS (\\Draft)")
st = subprocess.Popen(["strace", "-f", "-tt", "-s", "4096", "-e", "trace=fdatasync,fsync,renameat,renameat2,rename,write,writev,sendto",
                       "-o", trace, "-p", str(pid)], stderr=subprocess.DEVNULL)
time.sleep(1.0)   # attached (strace has no "ready" signal)
unt, r = c.cmd("STORE 1:3 +FLAGS (\\Flagged)")
t.ok(r.split()[1:2] == ["OK"], "STORE 1:3 +FLAGS (\\Flagged)", r)
t.ok(os.path.exists(MARK) and open(MARK).read() == BOOT, "tern-index/unsynced holds this boot's id")
# idle past imap-serve's second: the index is synced, the marker goes (bounded wait)
end = time.time() + 30
while os.path.exists(MARK) and time.time() < end:
    time.sleep(0.2)
time.sleep(0.3)   # strace writes its last lines
t.ok(not os.path.exists(MARK), "idle: the marker is gone")
st.send_signal(signal.SIGINT)
st.wait(10)
lines = open(trace).read().splitlines()
ren = [i for i, l in enumerate(lines) if "rename" in l and ":2," in l]
ok_reply = [i for i, l in enumerate(lines) if re.search(r"write.* OK Store", l)]
t.ok(ren and ok_reply, "the trace has the renames and the tagged OK", lines[:20])
if ren and ok_reply:
    between = [l for l in lines[ren[0]:ok_reply[0]] if "fdatasync" in l or "fsync" in l]
    t.is_(between, [], "no fdatasync or fsync between the STORE's renames and its OK (the marker there already)")
    after = [l for l in lines[ok_reply[0]:] if "fdatasync" in l]
    t.ok(after, "then, idle, one fdatasync of the index", lines[ok_reply[0]:ok_reply[0] + 10])
else:
    t.ok(False, "no fdatasync between the renames and the OK")
    t.ok(False, "then an fdatasync when idle")
hms0, uv0 = select(c)
c.cmd("LOGOUT")
c.close()

# ---- kill -9 after STOREs, same boot: the index is kept
before = set(ternlib.proc_descendants(server.pid, "imap-serve"))
c = login()
pid = session_pid(before)
c.cmd("SELECT INBOX")
c.cmd("STORE 4 +FLAGS (\\Seen)")
t.ok(os.path.exists(MARK), "after another STORE: the marker")
sentinel()
os.kill(pid, signal.SIGKILL)
c.close()
time.sleep(0.3)
c = login()
hms1, uv1 = select(c)
f = flags_of(c)
t.ok(same_index(), "after kill -9 (same boot): the index is kept, not built again")
t.ok("\\Seen" in f.get(4, set()) and all("\\Flagged" in f.get(u, set()) for u in (1, 2, 3)), "and has every flag", f)
t.ok(hms1 is not None and hms0 is not None and hms1 > hms0, "HIGHESTMODSEQ went on: %r > %r" % (hms1, hms0))
c.cmd("LOGOUT")
c.close()
end = time.time() + 30   # the session ends after its BYE: a bounded wait
while os.path.exists(MARK) and time.time() < end:
    time.sleep(0.1)
t.ok(not os.path.exists(MARK), "LOGOUT synced the index: no marker")

# ---- a marker from another boot: the index is built again
before = set(ternlib.proc_descendants(server.pid, "imap-serve"))
c = login()
pid = session_pid(before)
c.cmd("SELECT INBOX")
c.cmd("STORE 5 +FLAGS (\\Answered)")
hms2, uv2 = select(c)
sentinel()
# the system went down here: the marker stays, from a boot that is over
with open(MARK, "w") as fh:
    fh.write("00000000-0000-4000-8000-000000000000")
os.kill(pid, signal.SIGKILL)
c.close()
time.sleep(0.3)
c = login()
hms3, uv3 = select(c)
f = flags_of(c)
t.ok(not same_index(), "a marker from another boot: the index was built again")
t.is_(sorted(f), [1, 2, 3, 4, 5], "the same UIDs (from tern-uidlist)")
t.ok(all("\\Flagged" in f[u] for u in (1, 2, 3)) and "\\Seen" in f[4] and "\\Answered" in f[5], "the flags, from the file names", f)
t.is_(uv3, uv2, "the same UIDVALIDITY")
t.ok(hms3 is not None and hms2 is not None and hms3 > hms2, "HIGHESTMODSEQ above the one before: %r > %r" % (hms3, hms2))
t.ok(not os.path.exists(MARK) or open(MARK).read() == BOOT, "no marker of another boot left")
c.cmd("LOGOUT")
c.close()
t.done()
