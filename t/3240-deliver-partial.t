#!/usr/bin/python3
# deliver through an alias with several local targets, one of which
# fails: once another target was delivered, the recipient does not fail
# (queue-run would deliver the others again on each retry); the failed
# target goes back to queue-add as a recipient of its own, sender kept,
# Delivered-To of the alias in front. Before anything was delivered, a
# failure fails the recipient as always.

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
USERS = [(u + "@example.test", u) for u in ("demo", "alice", "bob", "carol", "keep")]
inst = ternlib.Instance(t, users=USERS, aliases=[
    "postmaster: demo@example.test",
    "split: alice, bob, carol",
    "first: bob, alice",
    "far: alice, bob, x@remote.test",
    "keep: alice, keep",
    "progs: |true, |exit 3, alice",
])
OUT = os.path.join(inst.root, "out")
os.makedirs(OUT)
os.chown(OUT, inst.uid, inst.gid)
FQ = inst.fake_queue_add(OUT)
MSG = "From: x@remote.test\nSubject: partial\n\nhello\n"


def deliver(args, msg=MSG, env=None):
    r = inst.run(["deliver"] + list(args), input=msg, env=env)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def fakeq():
    try:
        return open(os.path.join(OUT, "msg"), "rb").read(), open(os.path.join(OUT, "env"), "rb").read()
    except FileNotFoundError:
        return None, None
    finally:
        for f in ("msg", "env"):
            try:
                os.unlink(os.path.join(OUT, f))
            except FileNotFoundError:
                pass


def count(user):
    if not os.path.isdir(box(user)):
        return 0
    return len(inst.maildir_files("example.test/" + user))


def counts():
    return {u: count(u) for _, u in USERS}


def clear():
    for _, u in USERS:
        for f in inst.maildir_files("example.test/" + u) if os.path.isdir(box(u)) else []:
            os.unlink(f)


def box(user):
    return inst.path("mail", "example.test", user)


def breakbox(user):
    """Makes user's mailbox undeliverable (temporarily): a file where the
    Maildir should be."""
    os.rename(box(user), box(user) + ".real")
    with open(box(user), "w") as f:
        f.write("not a Maildir\n")


def mendbox(user):
    os.unlink(box(user))
    os.rename(box(user) + ".real", box(user))


for _, u in USERS:   # every Maildir made, so that only the broken one fails
    deliver([u + "@example.test"])
clear()

# -- one target fails after others were delivered --
breakbox("bob")
rc, out, err = deliver(["-f", "orig@sender.test", "split@example.test"], env=FQ)
msg, env = fakeq()
t.is_(rc, 0, "a target fails after another was delivered: the recipient does not fail (exit 0)")
t.is_(counts(), {"demo": 0, "alice": 1, "bob": 0, "carol": 1, "keep": 0}, "the other targets are delivered, each once")
t.is_(env, b"Forig@sender.test\0Tbob@example.test\0\0", "the failed one goes to queue-add alone, the sender kept")
t.is_(msg, b"Delivered-To: split@example.test\n" + MSG.encode(), "with Delivered-To: of the alias in front")
t.like(err, r"deliver: warning: to=split@example\.test target=bob@example\.test status=4\.\d\.\d .* action=requeue",
       "its failure is logged")
t.like(err, r"deliver: info: requeued to=split@example\.test rcpts=1", "and its re-injection")
t.is_(out, "", "nothing on stdout: it is not a failure")
mendbox("bob")
rc, out, err = deliver(["-f", "orig@sender.test", "bob@example.test"], msg=(msg or b"").decode())
got = inst.wait_mail("example.test/bob", 1)
t.ok(rc == 0 and len(got) == 1 and got[0].startswith(
     b"Return-Path: <orig@sender.test>\nDelivered-To: bob@example.test\nDelivered-To: split@example.test\n"),
     "the re-injected copy, delivered to bob, reaches bob once (no loop)", got)
clear()

# -- with remote targets: one queue-add run for both --
breakbox("bob")
rc, out, err = deliver(["-f", "orig@sender.test", "far@example.test"], env=FQ)
msg, env = fakeq()
t.ok(rc == 0 and counts()["alice"] == 1 and env == b"Forig@sender.test\0Tx@remote.test\0Tbob@example.test\0\0",
     "remote targets and the failed local one: one queue-add run", (rc, env))
t.like(err, r"forwarded to=far@example\.test rcpts=1", "the remote one logged as forwarded")

# -- queue-add fails too: the recipient fails (a duplicate cannot be helped) --
clear()
rc, out, err = deliver(["-f", "orig@sender.test", "split@example.test"], env=dict(FQ, FAKEQ_EXIT="71"))
fakeq()
t.ok(rc == 111 and out.startswith("4.") and counts()["alice"] == 1,
     "queue-add failing after a delivery: 111 (the retry repeats what was delivered)", (rc, out))

# -- nothing delivered yet: as always --
clear()
rc, out, err = deliver(["-f", "orig@sender.test", "first@example.test"], env=FQ)
msg, env = fakeq()
t.ok(rc == 111 and out.startswith("4.") and env is None, "the first target fails: the recipient fails (111), nothing queued", (rc, out))
t.is_(counts()["alice"], 0, "and the later target is not delivered")
mendbox("bob")

# -- targets without an address of their own are tried first --
breakbox("keep")
rc, out, err = deliver(["-f", "orig@sender.test", "keep@example.test"], env=FQ)
msg, env = fakeq()
t.ok(rc == 111 and counts()["alice"] == 0 and env is None,
     "an alias naming itself (keep: alice, keep): its own mailbox first, whose failure fails the recipient", (rc, out))
mendbox("keep")
breakbox("alice")
rc, out, err = deliver(["-f", "orig@sender.test", "keep@example.test"], env=FQ)
msg, env = fakeq()
t.ok(rc == 0 and counts()["keep"] == 1 and env == b"Forig@sender.test\0Talice@example.test\0\0",
     "alice failing after it is re-injected", (rc, env))
mendbox("alice")
clear()
rc, out, err = deliver(["-f", "orig@sender.test", "progs@example.test"], env=dict(FQ, DELIVER_PROGRAMS="1"))
msg, env = fakeq()
t.ok(rc == 111 and out.startswith("4.3.0 the delivery program failed (exit 3)") and counts()["alice"] == 0 and env is None,
     "a program failing after another ran cannot be re-injected: the recipient fails, before any mailbox", (rc, out))

# -- the real queue-add --
if os.path.exists(os.path.join(ternlib.BUILD, "queue-add")) and os.path.exists(os.path.join(ternlib.BUILD, "queue-store")):
    breakbox("bob")
    rc, out, err = deliver(["-f", "orig@sender.test", "split@example.test"])
    files = os.listdir(inst.path("queue/incoming"))
    data = open(inst.path("queue/incoming", files[0]), "rb").read() if len(files) == 1 else b""
    t.ok(rc == 0 and b"\0Forig@sender.test\0" in data and b"\0Tbob@example.test\0" in data
         and data.endswith(b"Delivered-To: split@example.test\n" + MSG.encode()),
         "with the real queue-add: bob's copy is queued", (rc, out, files))
    mendbox("bob")
else:
    t.ok(True, "real queue-add # SKIP build/queue-add or queue-store missing")

t.done()
