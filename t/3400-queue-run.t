#!/usr/bin/python3
# 3400: queue-run's schedule with local deliveries: retries of temporary
# failures, RFC 3464 reports (failure, delay, success) as RFC 3461's NOTIFY,
# RET, ENVID and ORCPT ask, never a bounce for a bounce, outcomes kept
# across a restart, SIGALRM.
import os, re, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
inst = ternlib.Instance(t, users=(("demo@example.test", "demo"), ("alice@example.test", "a"),
                                  ("stuck@example.test", "s")))
# stuck's mailbox cannot be made: a file stands where its directory goes,
# so deliver fails temporarily (until the file is removed)
os.makedirs(inst.path("mail", "example.test"), exist_ok=True)
with open(inst.path("mail", "example.test", "stuck"), "w") as f:
    f.write("in the way\n")
inst.chown_all()


def queue(sender, rcpts, body, mailparams=()):
    """rcpts: [(address, [params])]"""
    env = b"F" + sender.encode() + b"\0" + b"".join(b"P" + p.encode() + b"\0" for p in mailparams)
    for a, ps in rcpts:
        env += b"T" + a.encode() + b"\0" + b"".join(b"P" + p.encode() + b"\0" for p in ps)
    env += b"\0"
    rfd, wfd = os.pipe()
    os.write(wfd, env)
    os.close(wfd)
    r = subprocess.run(inst.asuser + [os.path.join(ternlib.BUILD, "queue-add")], env=inst.env, input=body,
                       stdout=rfd, stderr=subprocess.PIPE)
    os.close(rfd)
    return r.returncode


def wait_for(pred, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def alice_reports(action):
    return [m.decode(errors="replace") for m in inst.wait_mail("example.test/alice", 0, timeout=0)
            if b"multipart/report" in m and ("Action: %s" % action).encode() in m]


qr = inst.queue_run(env={"QUEUE_RETRY": "1", "QUEUE_WARN": "3", "QUEUE_LIFETIME": "8", "QUEUE_RESCAN": "1"})

# --- a plain delivery, woken through the FIFO
t.is_(queue("alice@example.test", [("demo@example.test", [])], b"Subject: one\n\nhi\n"), 0, "queued")
got = inst.wait_mail("example.test/demo", 1, timeout=10)
t.is_(len(got), 1, "delivered to demo")
t.ok(wait_for(lambda: not inst.queue_files()), "and removed from the queue")

# --- an unknown recipient: a failure report to the sender, with the original headers
queue("alice@example.test", [("nobody@example.test", ["ORCPT=rfc822;Nobody+40example.test"])],
      b"Subject: to nobody\nX-Secret-Body-Marker: no\n\nsecret body\n", mailparams=["ENVID=env+2B1"])
reps = wait_for(lambda: alice_reports("failed"))
t.is_(len(reps), 1, "alice gets one failure report")
r = reps[0] if reps else ""
t.like(r, r"\nFrom: Mail Delivery System <MAILER-DAEMON@mx\.example\.test>\n", "from MAILER-DAEMON")
t.like(r, r"^Return-Path: <>\n", "with the null envelope sender")
t.like(r, r"\nContent-Type: multipart/report; report-type=delivery-status;", "RFC 3464 multipart/report")
t.like(r, r"\nReporting-MTA: dns; mx\.example\.test\n", "Reporting-MTA")
t.like(r, r"\nOriginal-Envelope-Id: env\+1\n", "ENVID, decoded from xtext")
t.like(r, r"\nOriginal-Recipient: rfc822;Nobody@example\.test\n", "ORCPT, decoded")
t.like(r, r"\nFinal-Recipient: rfc822; nobody@example\.test\nAction: failed\nStatus: 5\.1\.1\n", "Final-Recipient, Action, Status")
t.like(r, r"\nContent-Type: text/rfc822-headers\n\n[^\n]*\n?(.|\n)*Subject: to nobody\n", "the original headers")
t.ok("secret body" not in r, "but not the body (no RET=FULL)")

# --- RET=FULL returns the whole message; NOTIFY=NEVER returns nothing
queue("alice@example.test", [("nobody@example.test", [])], b"Subject: full\n\nthe whole body\n", mailparams=["RET=FULL"])
reps = wait_for(lambda: [x for x in alice_reports("failed") if "Subject: full" in x])
t.ok(reps and "Content-Type: message/rfc822" in reps[0] and "the whole body" in reps[0], "RET=FULL: message/rfc822 with the body")
queue("alice@example.test", [("nobody@example.test", ["NOTIFY=NEVER"])], b"Subject: never\n\nx\n")
time.sleep(2)
t.is_([x for x in alice_reports("failed") if "Subject: never" in x], [], "NOTIFY=NEVER: no report")

# --- NOTIFY=SUCCESS for a local delivery
queue("alice@example.test", [("demo@example.test", ["NOTIFY=SUCCESS"])], b"Subject: tell me\n\nx\n")
reps = wait_for(lambda: [x for x in alice_reports("delivered") if "Subject: tell me" in x])
t.ok(reps and "Status: 2.0.0" in reps[0], "NOTIFY=SUCCESS: a delivered report")

# --- a failure report that cannot be delivered goes to the postmaster; its failure is dropped
queue("ghost@example.test", [("nobody@example.test", [])], b"Subject: double\n\nx\n")
reps = wait_for(lambda: [m.decode(errors="replace") for m in inst.wait_mail("example.test/demo", 0, timeout=0)
                         if b"Final-Recipient: rfc822; ghost@example.test" in m and b"multipart/report" in m])
t.is_(len(reps), 1, "the report to a nonexistent sender reaches postmaster (demo) as a double bounce")
queue("", [("nobody@example.test", [])], b"Subject: bounce of bounce\n\nx\n")
time.sleep(2)
t.ok(wait_for(lambda: not inst.queue_files(), timeout=10), "a failed message from the null sender does not loop")
t.like(open(inst.path("log", "stderr")).read(), r"double bounce dropped|report id=\S+ type=failure to=<postmaster>",
       "the double bounce is logged")

# --- a temporary failure: retried, a delay report, then expiry with 4.4.7
queue("alice@example.test", [("stuck@example.test", []), ("demo@example.test", [])], b"Subject: stuck\n\nx\n")
reps = wait_for(lambda: [x for x in alice_reports("delayed") if "Subject: stuck" in x], timeout=20)
t.is_(len(reps), 1, "a delay report after QUEUE_WARN")
t.like(reps[0] if reps else "", r"Final-Recipient: rfc822; stuck@example\.test\nAction: delayed\nStatus: 4\.", "for the stuck recipient only")
t.ok("demo@example.test" not in (reps[0] if reps else "x"), "not for the one delivered")
log = open(inst.path("log", "stderr")).read()
t.ok(len(re.findall(r"deferred id=\S+ rcpt=<stuck@example\.test>", log)) >= 2, "retried (QUEUE_RETRY)")
reps = wait_for(lambda: [x for x in alice_reports("failed") if "Subject: stuck" in x], timeout=20)
t.ok(reps and "Status: 4.4.7" in reps[0], "expired after QUEUE_LIFETIME: a failure report with 4.4.7")
demo_stuck = [m for m in inst.wait_mail("example.test/demo", 0, timeout=0) if b"Subject: stuck" in m]
t.is_(len(demo_stuck), 1, "the other recipient got it exactly once")

# --- outcomes survive a restart: no second delivery for a recipient already done
os.killpg(qr.pid, signal.SIGTERM)
qr.wait()
queue("alice@example.test", [("demo@example.test", []), ("stuck@example.test", [])], b"Subject: restart\n\nx\n")
qr = inst.queue_run(env={"QUEUE_RETRY": "1", "QUEUE_WARN": "0", "QUEUE_LIFETIME": "600", "QUEUE_RESCAN": "1"})
wait_for(lambda: [m for m in inst.wait_mail("example.test/demo", 0, timeout=0) if b"Subject: restart" in m])


def demo_recorded():
    # queue/info/ID holds "D 0" once demo's delivery is recorded (fdatasync'd);
    # a kill -9 before that may deliver it again, as the durability test allows
    d = inst.path("queue", "info")
    for f in os.listdir(d):
        try:
            if re.search(r"^D 0$", open(os.path.join(d, f)).read(), re.M):
                return True
        except FileNotFoundError:
            pass
    return False


t.ok(wait_for(demo_recorded), "demo's delivery is recorded in queue/info/ (D 0)")
os.killpg(qr.pid, signal.SIGKILL)
qr.wait()
qr = inst.queue_run(env={"QUEUE_RETRY": "1", "QUEUE_WARN": "0", "QUEUE_LIFETIME": "600", "QUEUE_RESCAN": "1"})
os.unlink(inst.path("mail", "example.test", "stuck"))   # stuck can now be delivered
got = wait_for(lambda: [m for m in inst.wait_mail("example.test/stuck", 0, timeout=0) if b"Subject: restart" in m], timeout=20)
t.is_(len(got), 1, "after kill -9 and restart, the deferred recipient is delivered")
t.is_(len([m for m in inst.wait_mail("example.test/demo", 0, timeout=0) if b"Subject: restart" in m]), 1,
      "and the one already delivered is not delivered again")

# --- SIGALRM: retry now
os.killpg(qr.pid, signal.SIGTERM)
qr.wait()
qr = inst.queue_run(env={"QUEUE_RETRY": "3600", "QUEUE_WARN": "0", "QUEUE_LIFETIME": "600", "QUEUE_RESCAN": "1"})
import shutil
shutil.rmtree(inst.path("mail", "example.test", "stuck"))
with open(inst.path("mail", "example.test", "stuck"), "w") as f:
    f.write("in the way\n")
inst.chown_all()
def ndeferred():
    return len(re.findall(r"deferred id=\S+ rcpt=<stuck@example\.test>", open(inst.path("log", "stderr")).read()))
before = ndeferred()
queue("alice@example.test", [("stuck@example.test", [])], b"Subject: alarm\n\nx\n")
t.ok(wait_for(lambda: ndeferred() > before), "the first attempt is deferred")
os.unlink(inst.path("mail", "example.test", "stuck"))
subprocess.run(["pkill", "-ALRM", "-f", os.path.join(ternlib.BUILD, "queue-run")])
got = wait_for(lambda: [m for m in inst.wait_mail("example.test/stuck", 0, timeout=0) if b"Subject: alarm" in m], timeout=10)
t.is_(len(got), 1, "SIGALRM retries at once, not after the hour of QUEUE_RETRY")
t.done()
