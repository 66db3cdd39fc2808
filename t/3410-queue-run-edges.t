#!/usr/bin/python3
# 3410: queue-run and queue-store at their edges: an empty message, a
# domain too long to exist, failures reported while others still wait,
# a delivery agent that refuses its arguments or hangs, control
# characters in an envelope.
import json, os, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
inst = ternlib.Instance(t, users=(("demo@example.test", "demo"), ("alice@example.test", "a"),
                                  ("stuck@example.test", "s")))
os.makedirs(inst.path("mail", "example.test"), exist_ok=True)
with open(inst.path("mail", "example.test", "stuck"), "w") as f:
    f.write("in the way\n")          # deliver to stuck fails temporarily
# a libexec of our own: the real programs, and a smtp-send whose behaviour
# the test chooses
lx = inst.path("libexec")
os.makedirs(lx)
for p in os.listdir(ternlib.BUILD):
    if os.path.isfile(os.path.join(ternlib.BUILD, p)) and p != "smtp-send":
        os.symlink(os.path.join(ternlib.BUILD, p), os.path.join(lx, p))
with open(os.path.join(lx, "smtp-send"), "w") as f:
    f.write('#!/bin/sh\ncase "$(cat %s/fakesend)" in\n'
            '  exit100) echo "smtp-send: usage: bad argument" >&2; exit 100 ;;\n'
            '  hang) exec sleep 600 ;;\nesac\nexit 111\n' % inst.root)
os.chmod(os.path.join(lx, "smtp-send"), 0o755)
inst.chown_all()
inst.env["TERN_LIBEXEC"] = lx


def fakesend(mode):
    with open(inst.path("fakesend"), "w") as f:
        f.write(mode + "\n")


def queue(sender, rcpts, body, raw_env=None):
    env = raw_env if raw_env is not None else \
        b"F" + sender.encode() + b"\0" + b"".join(b"T" + a.encode() + b"\0" for a in rcpts) + b"\0"
    rfd, wfd = os.pipe()
    os.write(wfd, env)
    os.close(wfd)
    r = subprocess.run(inst.asuser + [os.path.join(lx, "queue-add")], env=inst.env, input=body,
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


def reports(action, about):
    return [m.decode(errors="replace") for m in inst.wait_mail("example.test/alice", 0, timeout=0)
            if b"multipart/report" in m and ("Action: %s" % action).encode() in m and about.encode() in m]


def log():
    return open(inst.path("log", "stderr"), errors="replace").read()


fakesend("exit111")
qr = inst.queue_run(env={"QUEUE_RETRY": "600", "QUEUE_WARN": "0", "QUEUE_LIFETIME": "3600",
                         "QUEUE_RESCAN": "1", "QUEUE_JOBTIMEOUT": "2"})

# --- an empty message is queued and delivered
t.is_(queue("alice@example.test", ["demo@example.test"], b""), 0, "queue-add takes an empty message")
got = inst.wait_mail("example.test/demo", 1, timeout=20)
t.ok(len(got) == 1 and got[0].startswith(b"Return-Path: <alice@example.test>\nDelivered-To: demo@example.test\n"),
     "and deliver gets it (nothing but the lines it adds)", got)

# --- a domain longer than DNS allows: a failure report, no smtp-send run
long_rcpt = "x@" + "a" * 300 + ".test"
queue("alice@example.test", [long_rcpt], b"Subject: long\n\nx\n")
r = wait_for(lambda: reports("failed", "a" * 300))
t.ok(r and "Status: 5.1.2" in r[0], "a 300-octet domain fails at once with 5.1.2")
t.ok("smtp-send" not in log(), "without running smtp-send for it")

# --- failures are reported while other recipients still wait
queue("alice@example.test", ["nobody@example.test", "stuck@example.test"], b"Subject: mixed\n\nx\n")
r = wait_for(lambda: reports("failed", "nobody@example.test"))
t.is_(len(r), 1, "the unknown recipient is reported at once")
t.ok(r and "stuck@example.test" not in r[0].split("Content-Type: text/rfc822-headers")[0],
     "the report names only the failed recipient")
q = [json.loads(l) for l in inst.run(["mailq", "-j"]).stdout.decode().splitlines()]
t.ok(any(x["recipients"][1]["status"] == "deferred" for x in q if len(x["recipients"]) == 2),
     "while the other recipient is still queued, deferred", q)

# --- smtp-send exits 100 without a line: the recipients fail for good
fakesend("exit100")
queue("alice@example.test", ["bob@remote.test"], b"Subject: refused\n\nx\n")
r = wait_for(lambda: reports("failed", "bob@remote.test"))
t.ok(r and "Status: 5.3.0" in r[0], "smtp-send refusing its arguments: a failure, not days of retries")

# --- a delivery agent that hangs is stopped after QUEUE_JOBTIMEOUT
fakesend("hang")
queue("alice@example.test", ["carol@remote.test"], b"Subject: hang\n\nx\n")
t.ok(wait_for(lambda: re.search(r"delivery agent timed out", log()), timeout=30), "a hung smtp-send is stopped")
t.ok(wait_for(lambda: re.search(r"deferred id=\S+ rcpt=<carol@remote\.test>", log()), timeout=10),
     "and its recipient deferred")
t.ok(wait_for(lambda: not subprocess.run(["pgrep", "-u", str(inst.uid), "-f", "^sleep 600$"],
                                         stdout=subprocess.PIPE).stdout.strip(), 10), "the hung process is gone")

# --- queue-store refuses control characters (31: permanent, as qmail-queue's table says)
rc = queue("", [], b"x\n", raw_env=b"Fa@x.test\0Tdemo@example.test\r\nX-Injected: yes\0\0")
t.is_(rc, 31, "CR LF inside an address: 31")
rc = queue("", [], b"x\n", raw_env=b"Fa@x.test\0Tdemo@example.test\0PNOTIFY=SUCCESS\x01\0\0")
t.is_(rc, 31, "a control character in a parameter: 31")
t.is_(os.listdir(inst.path("queue", "tmp")), [], "nothing left in queue/tmp")
t.done()
