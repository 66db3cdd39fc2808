#!/usr/bin/python3
# Crash safety of the mailbox store under load: 200 deliveries (deliver
# with TERN_DIRECT, one after the other from a thread), two IMAP sessions
# storing flags and expunging in a loop, a POP3 session deleting, while a
# dozen kill -9 land at random moments on imap-serve, deliver and
# pop3-serve. Afterwards: no message lost (every one delivered and not
# deliberately removed is there once: each has its own Message-ID), no UID
# reused or changed (RFC 3501 2.3.1.1: over the whole run one Message-ID
# had one UID, one UID one Message-ID, under one UIDVALIDITY),
# mailbox-check exits 0, and a fresh session sees exactly the files of the
# Maildir, with the flags their names carry.

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

N = 200
KILLS = 12
t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
MD = inst.maildir()
iport = inst.imap()
imap_server = inst.pop3_server
pport = inst.pop3()
pop3_server = inst.pop3_server
seed = int(time.time())
t.diag("random seed %d" % seed)
rng = random.Random(seed)

lock = threading.Lock()
stop = threading.Event()
uid_mids = {}       # (uidvalidity, uid) -> {message-id}
mid_uids = {}       # (uidvalidity, message-id) -> {uid}
uvs = set()
delivered = {}      # message-id -> deliver's exit code
current = {"deliver": None}
problems = []       # NO/BAD/timeouts the sessions met
stats = {"imap_sessions": 0, "imap_loops": 0, "imap_expunged": 0, "pop3_sessions": 0, "pop3_deleted": 0, "pop3_locked": 0}


def mid_of(i):
    return "crash-%03d" % i


def victim(mid):
    """Only these are deleted by the sessions (a quarter of them)."""
    return int(mid.split("-")[1]) % 4 == 0


def message(i):
    return ("From: load@remote.test\nTo: demo@example.test\nSubject: crash %d\n"
            "Message-ID: <%s@crash.test>\n\n%s\n" % (i, mid_of(i), ("line %d\n" % i) * (1 + i % 30)))


def record(uv, uid, mid):
    with lock:
        uid_mids.setdefault((uv, uid), set()).add(mid)
        mid_uids.setdefault((uv, mid), set()).add(uid)


FETCH = "UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"


def parse_fetch(lines):
    out = []
    for ln in lines:
        if not re.match(r"\* \d+ FETCH \(", ln):
            continue
        u = re.search(r"\bUID (\d+)", ln)
        fl = re.search(r"\bFLAGS \(([^)]*)\)", ln)
        m = re.search(r"Message-ID: <(crash-\d+)@crash\.test>", ln, re.I)
        if u and m:
            out.append((int(u.group(1)), m.group(1), set(fl.group(1).split()) - {"\\Recent"} if fl else set()))
    return out


def deliverer():
    for i in range(N):
        if stop.is_set():
            break
        p = subprocess.Popen(inst.asuser + ["deliver", "-f", "load@remote.test", "demo@example.test"],
                             env=inst.env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with lock:
            current["deliver"] = p
        try:
            _, err = p.communicate(message(i).encode(), timeout=60)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            p.kill()
            _, err = p.communicate()
        with lock:
            current["deliver"] = None
            delivered[mid_of(i)] = p.returncode
            if p.returncode not in (0, -signal.SIGKILL):
                problems.append("deliver %s: exit %s: %s" % (mid_of(i), p.returncode, err.decode(errors="replace")))
        time.sleep(0.01)


def imap_worker(k):
    r = random.Random(seed + k)
    end = time.time() + 120
    while not stop.is_set() and time.time() < end:
        c = None
        try:
            c = ternlib.ImapConn(iport, timeout=20)
            unt, tag = c.cmd("LOGIN demo@example.test demo")
            if " OK " not in tag:
                with lock:
                    problems.append("imap %d LOGIN: %s" % (k, tag))
                time.sleep(0.1)
                continue
            unt, tag = c.cmd("SELECT INBOX")
            m = re.search(r"\[UIDVALIDITY (\d+)\]", " ".join(unt))
            if " OK " not in tag or not m:
                with lock:
                    problems.append("imap %d SELECT: %s %s" % (k, unt, tag))
                continue
            uv = int(m.group(1))
            with lock:
                uvs.add(uv)
                stats["imap_sessions"] += 1
            for loop in range(10000):
                if stop.is_set():
                    break
                unt, tag = c.cmd(FETCH)
                if " OK " not in tag:
                    with lock:
                        problems.append("imap %d FETCH: %s" % (k, tag))
                view = parse_fetch(unt)
                for uid, mid, _ in view:
                    record(uv, uid, mid)
                if view:
                    some = r.sample(view, min(8, len(view)))
                    flag = r.choice(["\\Flagged", "\\Seen", "\\Answered", "$Crash"])
                    op = r.choice(["+FLAGS.SILENT", "-FLAGS.SILENT", "+FLAGS"])
                    unt, tag = c.cmd("UID STORE %s %s (%s)" % (",".join(str(x[0]) for x in some), op, flag))
                    if " OK " not in tag:
                        with lock:
                            problems.append("imap %d STORE: %s" % (k, tag))
                    vic = [x for x in view if victim(x[1])]
                    if vic and r.random() < 0.5:
                        go = r.sample(vic, min(3, len(vic)))
                        us = ",".join(str(x[0]) for x in go)
                        unt, tag = c.cmd("UID STORE %s +FLAGS.SILENT (\\Deleted)" % us)
                        unt2, tag2 = c.cmd("UID EXPUNGE %s" % us)
                        if " OK " not in tag or " OK " not in tag2:
                            with lock:
                                problems.append("imap %d EXPUNGE: %s %s" % (k, tag, tag2))
                        with lock:
                            stats["imap_expunged"] += sum(1 for x in unt2 if x.endswith(" EXPUNGE"))
                unt, tag = c.cmd("NOOP")
                with lock:
                    stats["imap_loops"] += 1
        except socket.timeout:
            with lock:
                problems.append("imap %d: a command took more than 20 s" % k)
        except (EOFError, OSError):
            pass   # its imap-serve was killed: log in again
        finally:
            if c:
                c.close()
        time.sleep(0.02)


def pop3_worker():
    mids = {}   # UIDL -> message-id
    end = time.time() + 120
    while not stop.is_set() and time.time() < end:
        c = None
        try:
            c = ternlib.Pop3Conn(pport, timeout=20)
            c.cmd("USER demo@example.test")
            r = c.cmd("PASS demo")
            if not r.startswith("+OK"):
                with lock:
                    stats["pop3_locked"] += 1
                time.sleep(0.1)
                continue
            with lock:
                stats["pop3_sessions"] += 1
            if not c.cmd("UIDL").startswith("+OK"):
                continue
            lst = [ln.split() for ln in c.multi().decode(errors="replace").split("\r\n") if ln]
            dele = []
            for n, u in lst:
                if u not in mids:
                    if not c.cmd("TOP %s 0" % n).startswith("+OK"):
                        continue
                    m = re.search(rb"Message-ID: <(crash-\d+)@crash\.test>", c.multi(), re.I)
                    mids[u] = m.group(1).decode() if m else None
                if mids[u] and victim(mids[u]) and len(dele) < 4:
                    dele.append(n)
            for n in dele:
                c.cmd("DELE %s" % n)
            if c.cmd("QUIT").startswith("+OK"):
                with lock:
                    stats["pop3_deleted"] += len(dele)
        except socket.timeout:
            with lock:
                problems.append("pop3: a command took more than 20 s")
        except (EOFError, OSError):
            pass
        finally:
            if c:
                c.close()
        time.sleep(0.05)


def serve_pids(server, name):
    out = []
    for mon in ternlib.proc_children(server.pid):
        for ch in ternlib.proc_children(mon):
            if ternlib.proc_comm(ch) == name:
                out.append(ch)
    return out


kills = {"imap-serve": 0, "deliver": 0, "pop3-serve": 0}


def killer():
    plan = ["imap-serve", "deliver", "pop3-serve"] * (KILLS // 3)
    rng.shuffle(plan)
    for what in plan:
        if stop.is_set():
            break
        time.sleep(rng.uniform(0.05, 0.25))
        end = time.time() + 2
        while time.time() < end:
            if what == "deliver":
                with lock:
                    p = current["deliver"]
                pids = [p.pid] if p is not None and p.poll() is None else []
            else:
                pids = serve_pids(imap_server if what == "imap-serve" else pop3_server, what)
            if pids:
                try:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    kills[what] += 1
                    break
                except ProcessLookupError:
                    pass
            time.sleep(0.002)


threads = [threading.Thread(target=imap_worker, args=(k,)) for k in range(2)] + [threading.Thread(target=pop3_worker)]
dt = threading.Thread(target=deliverer)
kt = threading.Thread(target=killer)
t0 = time.time()
for th in threads:
    th.start()
dt.start()
kt.start()
dt.join(timeout=180)
kt.join(timeout=60)
time.sleep(0.5)
stop.set()
for th in threads + [dt, kt]:
    th.join(timeout=60)
t.diag("%.1f s; kills: %r; %r" % (time.time() - t0, kills, stats))
ok_del = [m for m, rc in delivered.items() if rc == 0]
killed_del = [m for m, rc in delivered.items() if rc == -signal.SIGKILL]
t.diag("%d deliveries exited 0, %d were killed" % (len(ok_del), len(killed_del)))

t.ok(sum(kills.values()) >= KILLS - 2 and all(kills.values()), "about a dozen kill -9, of each of imap-serve, deliver and pop3-serve", kills)
t.ok(len(delivered) == N and len(ok_del) + len(killed_del) == N, "200 deliveries ran: each exited 0 or was killed", problems[:5])
t.ok(stats["imap_loops"] >= 20 and stats["imap_sessions"] >= 3 and stats["pop3_sessions"] >= 3 and stats["imap_expunged"] + stats["pop3_deleted"] > 0,
     "the IMAP and POP3 sessions ran (and logged in again after the kills), storing and deleting", stats)
t.is_(problems, [], "no session got a NO, a BAD or a timeout")

# -- what is on the disk --
files = {}
fileflags = {}
LETTER = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
for sub in ("new", "cur"):
    d = os.path.join(MD, sub)
    for f in os.listdir(d):
        with open(os.path.join(d, f), "rb") as fh:
            m = re.search(rb"Message-ID: <(crash-\d+)@crash\.test>", fh.read())
        mid = m.group(1).decode() if m else "?" + f
        files.setdefault(mid, []).append(os.path.join(sub, f))
        fl = f.split(":2,", 1)[1] if ":2," in f else ""
        fileflags[mid] = set(LETTER[x] for x in fl if x in LETTER)
lost = sorted(m for m in ok_del if not victim(m) and m not in files)
twice = {m: v for m, v in files.items() if len(v) > 1}
stray = sorted(m for m in files if m not in delivered)
t.is_(lost, [], "no message lost: every delivered message not deliberately deleted is in the Maildir")
t.is_(twice, {}, "no message twice")
t.is_(stray, [], "nothing else in the Maildir")

# -- a fresh session --
c = ternlib.ImapConn(iport, timeout=30)
c.cmd("LOGIN demo@example.test demo")
unt, tag = c.cmd("SELECT INBOX")
m = re.search(r"\[UIDVALIDITY (\d+)\]", " ".join(unt))
ex = re.search(r"\* (\d+) EXISTS", " ".join(unt))
uv = int(m.group(1)) if m else None
uvs.add(uv)
unt, tag = c.cmd(FETCH)
final = parse_fetch(unt)
c.cmd("LOGOUT")
c.close()
for uid, mid, _ in final:
    record(uv, uid, mid)
t.is_(len(uvs), 1, "one UIDVALIDITY all along (the uidlist was never lost)")
t.is_(sorted(mid for _, mid, _ in final), sorted(files), "a fresh session sees exactly the messages of the Maildir")
t.is_(int(ex.group(1)) if ex else None, sum(len(v) for v in files.values()), "its EXISTS is the number of files")
badflags = {mid: (fl, fileflags.get(mid)) for _, mid, fl in final if fl - {"$Crash"} != fileflags.get(mid)}
t.is_(badflags, {}, "and the flags of each are its file name's")
reused = {k: v for k, v in uid_mids.items() if len(v) > 1}
changed = {k: v for k, v in mid_uids.items() if len(v) > 1}
t.is_(reused, {}, "no UID reused: every UID the sessions ever saw named one Message-ID")
t.is_(changed, {}, "no UID changed: every Message-ID had one UID all along")
rc, out = inst.check()
t.ok(rc == 0, "mailbox-check exits 0", out)

# the index is a cache (DESIGN.md): rebuilt from the Maildir and the
# uidlist after all this, it gives every message the same UID
shutil.rmtree(os.path.join(MD, "tern-index"))
c = ternlib.ImapConn(iport, timeout=30)
c.cmd("LOGIN demo@example.test demo")
unt, tag = c.cmd("SELECT INBOX")
m = re.search(r"\[UIDVALIDITY (\d+)\]", " ".join(unt))
unt, tag = c.cmd(FETCH)
again = parse_fetch(unt)
c.cmd("LOGOUT")
c.close()
t.is_(int(m.group(1)) if m else None, uv, "the index removed: the same UIDVALIDITY")
t.is_(sorted((mid, uid) for uid, mid, _ in again), sorted((mid, uid) for uid, mid, _ in final),
      "the index removed: every message has the same UID")
rc, out = inst.check()
t.ok(rc == 0, "mailbox-check exits 0 after the rebuild", out)
t.done()
