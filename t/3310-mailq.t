#!/usr/bin/python3
# 3310: mailq and mailq -j: every recipient state, the JSON schema of
# mailq(8), sizes, order, and a queue made by a real queue-run.
import json, os, re, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
inst = ternlib.Instance(t)

r = inst.run(["mailq"])
t.ok(r.returncode == 0 and r.stdout == b"Mail queue is empty\n", "an empty queue says so")
r = inst.run(["mailq", "-j"])
t.ok(r.returncode == 0 and r.stdout == b"", "mailq -j on an empty queue prints nothing")


def inject(sender, rcpts, body):
    env = b"F" + sender.encode() + b"\0" + b"".join(b"T" + x.encode() + b"\0" for x in rcpts) + b"\0"
    p = subprocess.Popen(inst.asuser + [os.path.join(ternlib.BUILD, "queue-add")], env=inst.env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # queue-add's fd 1 is the envelope: give it through a pipe
    return p


# queue through queue-add with a real envelope pipe
def queue(sender, rcpts, body):
    rfd, wfd = os.pipe()
    env = b"F" + sender.encode() + b"\0" + b"".join(b"T" + x.encode() + b"\0" for x in rcpts) + b"\0"
    os.write(wfd, env)
    os.close(wfd)
    p = subprocess.run(inst.asuser + [os.path.join(ternlib.BUILD, "queue-add")], env=inst.env, input=body,
                       stdout=rfd, stderr=subprocess.DEVNULL)
    os.close(rfd)
    return p.returncode


t.is_(queue("a@x.test", ["r1@example.test", "r2@remote.test", "r3@remote.test", "r4@remote.test"], b"Subject: one\n\n" + b"x" * 1000 + b"\n"), 0, "queued the first message")
time.sleep(1.1)
t.is_(queue("", ["postmaster"], b"Subject: two\n\ny\n"), 0, "queued a second one, from the null sender")
ids = sorted(os.listdir(inst.path("queue", "incoming")))
# queue-run's outcome log for the first one (doc/internals.md)
with open(inst.path("queue", "info", ids[0]), "w") as f:
    f.write("D 0\nF 1 5.1.1 smtp; 550 5.1.1 no such user\nZ 2 4.4.1 x-tern; connection refused\nZ 3 4.2.2 x-tern; mailbox full\ntorn line without its newl")

r = inst.run(["mailq"])
out = r.stdout.decode()
t.diag(out)
lines = out.splitlines()
t.like(lines[0], r"^%s\s+1015  \w{3}, .* <a@x\.test>$" % re.escape(ids[0]), "first line: id, size, date, sender")
t.is_(lines[1:5], ["    <r1@example.test> delivered", "    <r2@remote.test> failed: 5.1.1 smtp; 550 5.1.1 no such user",
                   "    <r3@remote.test> deferred: 4.4.1 x-tern; connection refused", "    <r4@remote.test> deferred: 4.2.2 x-tern; mailbox full"],
      "each recipient with its state and reason; a torn last line is ignored")
t.like(lines[5], r"^%s\s+\d+  .* <>$" % re.escape(ids[1]), "the null sender shows as <>, oldest first")
t.is_(lines[6], "    <postmaster> queued", "a recipient with no outcome yet is queued")
t.is_(lines[-1], "-- 2 KiB in 2 messages.", "the total")

r = inst.run(["mailq", "-j"])
objs = [json.loads(l) for l in r.stdout.decode().splitlines()]
t.is_(len(objs), 2, "mailq -j: one JSON object per line and message")
o = objs[0]
t.is_(sorted(o.keys()), ["arrival", "directory", "id", "recipients", "sender", "size"], "the fields of mailq(8)")
t.ok(o["id"] == ids[0] and o["directory"] == "incoming" and o["size"] == 1015 and o["sender"] == "a@x.test"
     and isinstance(o["arrival"], int) and abs(o["arrival"] - time.time()) < 60, "id, directory, size, sender, arrival", o)
t.is_(o["recipients"], [
    {"address": "r1@example.test", "status": "delivered"},
    {"address": "r2@remote.test", "status": "failed", "reason": "5.1.1 smtp; 550 5.1.1 no such user"},
    {"address": "r3@remote.test", "status": "deferred", "reason": "4.4.1 x-tern; connection refused"},
    {"address": "r4@remote.test", "status": "deferred", "reason": "4.2.2 x-tern; mailbox full"}], "recipients with status and reason")
t.is_(objs[1]["sender"], "", "the null sender is an empty string")

# a control character in a reason is escaped
with open(inst.path("queue", "info", ids[1]), "w") as f:
    f.write('Z 0 4.0.0 x-tern; odd "quote" \\ and \x01\n')
objs = [json.loads(l) for l in inst.run(["mailq", "-j"]).stdout.decode().splitlines()]
t.is_(objs[1]["recipients"][0]["reason"], '4.0.0 x-tern; odd "quote" \\ and \x01', "JSON escapes round-trip")

# octets that are not UTF-8 still make valid JSON
with open(inst.path("queue", "info", ids[1]), "wb") as f:
    f.write(b"Z 0 4.0.0 smtp; 450 caf\xe9 \xc3 cut, ok \xc3\xa9\n")
objs = [json.loads(l) for l in inst.run(["mailq", "-j"]).stdout.decode("utf-8").splitlines()]
t.is_(objs[1]["recipients"][0]["reason"], "4.0.0 smtp; 450 caf\ufffd \ufffd cut, ok \u00e9", "invalid UTF-8 becomes U+FFFD, valid UTF-8 stays")

r = inst.run(["mailq", "-x"])
t.is_(r.returncode, 100, "a bad option: 100")
os.chmod(inst.path("queue", "mess"), 0o000)
r = inst.run(["mailq"])
os.chmod(inst.path("queue", "mess"), 0o700)
t.ok(r.returncode == 111 and b"root or as the queue's owner" in r.stderr, "an unreadable queue: 111 and a hint", r.stderr)
t.done()
