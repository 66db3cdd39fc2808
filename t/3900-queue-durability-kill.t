#!/usr/bin/python3
# 3900: nothing accepted is lost. 20 SMTP clients send 1,000 messages to
# the whole stack while queue-run and the deliver processes are killed with
# SIGKILL again and again. Afterwards every message that got a 250 is in
# the Maildir; duplicates are at most (kills x local delivery concurrency).
import os, re, signal, smtplib, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

N_CLIENTS = 20
PER_CLIENT = 50
LOCAL = 10            # QUEUE_LOCAL: deliveries in flight at once
t = ternlib.TAP()
stack = ternlib.FullStack(t, envdir={"QUEUE_LOCAL": LOCAL, "QUEUE_RETRY": 1, "QUEUE_RESCAN": 2})

accepted = set()
refused = []
lock = threading.Lock()

def client(k):
    try:
        s = smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=60)
        for i in range(PER_CLIENT):
            mid = "dur-%02d-%03d" % (k, i)
            try:
                s.sendmail("load@sender.test", ["demo@example.test"],
                           ("Subject: %s\r\nMessage-ID: <%s@sender.test>\r\n\r\n%s\r\n" % (mid, mid, "x" * 2000)).encode())
                with lock:
                    accepted.add(mid)
            except smtplib.SMTPException as e:
                with lock:
                    refused.append((mid, str(e)))
                s = smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=60)
        s.quit()
    except Exception as e:
        with lock:
            refused.append(("client %d" % k, repr(e)))

def pids_of(path):
    """Processes whose argv[0] is exactly path."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if argv0 == path:
            out.append(int(p))
    return out

kills = {"queue-run": 0, "deliver": 0}
done = threading.Event()

def killer():
    qr = stack.path("libexec", "queue-run")
    dl = stack.path("libexec", "deliver")
    rounds = 0
    while not done.is_set() and rounds < 12:
        rounds += 1
        # deliver processes live a few milliseconds each: look for one
        # all through the round instead of once at its end
        end = time.time() + 0.4
        hit = 0
        while not hit and time.time() < end:
            time.sleep(0.4 if rounds % 2 else 0.005)
            for pid in pids_of(qr) if rounds % 2 else pids_of(dl):
                try:
                    os.kill(pid, signal.SIGKILL)
                    hit = 1
                except ProcessLookupError:
                    pass
        if hit:
            kills["queue-run" if rounds % 2 else "deliver"] += 1

threads = [threading.Thread(target=client, args=(k,)) for k in range(N_CLIENTS)]
kt = threading.Thread(target=killer)
kt.start()
start = time.time()
for th in threads:
    th.start()
for th in threads:
    th.join(timeout=600)
sent_time = time.time() - start
# keep killing while the queue drains, if the sending was quick
while kt.is_alive() and time.time() - start < 6:
    time.sleep(0.2)
done.set()
kt.join()

t.ok(not refused, "every message got a 250 (no client error)", refused[:5])
t.ok(kills["queue-run"] >= 2 and kills["deliver"] >= 1,
     "queue-run and deliver were killed during the run", kills)

# wait for the queue to drain (queue-run restarts under s6 after a kill)
deadline = time.time() + 300
seen = {}
while time.time() < deadline:
    files = stack.maildir_files("example.test/demo")
    if len(files) >= len(accepted) and not stack.queue_files():
        break
    time.sleep(0.5)
seen = {}
for f in stack.maildir_files("example.test/demo"):
    with open(f, "rb") as fh:
        m = re.search(rb"\nSubject: (dur-\d\d-\d\d\d)\n", fh.read())
    if m:
        k = m.group(1).decode()
        seen[k] = seen.get(k, 0) + 1
missing = sorted(accepted - set(seen))
dups = sum(n - 1 for n in seen.values())
nkills = kills["queue-run"] + kills["deliver"]
t.diag("accepted %d in %.1fs, delivered %d distinct, %d duplicates, missing %d, kills: queue-run %d deliver %d"
       % (len(accepted), sent_time, len(seen), dups, len(missing), kills["queue-run"], kills["deliver"]))
t.is_(len(accepted), N_CLIENTS * PER_CLIENT, "all 1,000 messages were accepted")
t.is_(missing, [], "every accepted message is in the Maildir")
t.ok(dups <= nkills * LOCAL, "duplicates (%d) at most kills x local concurrency (%d x %d)" % (dups, nkills, LOCAL))
t.ok(not stack.queue_files(), "the queue is empty afterwards")
t.done()
