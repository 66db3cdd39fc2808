#!/usr/bin/python3
# deliver through aliases: several local users, nesting and duplicates,
# loops, remote targets re-injected through queue-add (a fake one, then
# the real queue), program and file targets (refused unless enabled).

import os
import stat
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
USERS = [(u + "@example.test", u) for u in ("demo", "alice", "bob", "carol", "keeper")]
chain = ["c%d: c%d" % (i, i + 1) for i in range(10)] + ["c10: demo"]
inst = ternlib.Instance(t, users=USERS, aliases=[
    "postmaster: demo@example.test",
    "team: alice, bob@example.test, Carol@EXAMPLE.test",
    "nested: team, alice, demo, team@example.test",
    "keeper: keeper, Far.Away@Remote.TEST",
    "fwd@example.test: someone@remote.test, other@remote2.test",
    "mix: alice, far@remote.test",
    "loop1: loop2",
    "loop2: loop1",
    "broken: alice, nosuchuser",
    "info: demo",
    "prog: \"|cat >/OUT/prog.msg; env >/OUT/prog.env\", alice",
    "prog100: |exit 100",
    "prog3: |exit 3",
    "sigs: |grep SigIgn /proc/$$/status >/OUT/sigign",
    "noread: |true",
    "files: /OUT/mbox, /OUT/Maildir/",
] + chain)
OUT = os.path.join(inst.root, "out")
os.makedirs(OUT)
os.chown(OUT, inst.uid, inst.gid)
# the aliases name /OUT: rewrite them with the real path
inst.write("etc/aliases", inst.read("etc/aliases").replace("/OUT/", OUT + "/"))
inst.newaliases()

MSG = "From: x@remote.test\nSubject: aliases\n\nhello\n"


def deliver(args, msg=MSG, env=None):
    r = inst.run(["deliver"] + list(args), input=msg, env=env)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def count(user):
    return len(inst.maildir_files("example.test/" + user))


def counts():
    return {u: count(u) for _, u in USERS}


def clear():
    for _, u in USERS:
        for f in inst.maildir_files("example.test/" + u):
            os.unlink(f)


# -- local fan-out --
rc, out, err = deliver(["-f", "x@remote.test", "team@example.test"])
t.is_(rc, 0, "an alias to several local users delivers")
t.is_(counts(), {"demo": 0, "alice": 1, "bob": 1, "carol": 1, "keeper": 0}, "one copy to each of them")
data = inst.wait_mail("example.test/alice", 1)[0]
t.ok(data.startswith(b"Return-Path: <x@remote.test>\nDelivered-To: team@example.test\n"),
     "each copy has Return-Path and Delivered-To: the alias address", data[:90])
clear()
rc, out, err = deliver(["-f", "x@remote.test", "nested@example.test"])
t.is_((rc, counts()), (0, {"demo": 1, "alice": 1, "bob": 1, "carol": 1, "keeper": 0}),
      "nested aliases: every user once, duplicates delivered once")
clear()
rc, out, err = deliver(["-f", "x@remote.test", "team+news@example.test"])
t.is_((rc, counts()["alice"]), (0, 1), "an alias also matches with the +detail stripped")
clear()
rc, out, err = deliver(["-f", "x@remote.test", "info@example.test"])
t.is_((rc, counts()["demo"]), (0, 1), "a bare alias and a bare target: the same name in the recipient's domain")
rc, out, err = deliver(["-f", "x@remote.test", "info@localhost"])
t.ok(rc == 100 and out.startswith("5.1.1") and "demo@localhost" in out,
     "in another local domain the bare target is qualified with that domain", out)
clear()
rc, out, err = deliver(["-f", "x@remote.test", "c1@example.test"])
t.is_((rc, counts()["demo"]), (0, 1), "aliases nested 10 deep deliver")
rc, out, err = deliver(["-f", "x@remote.test", "c0@example.test"])
t.ok(rc == 100 and out.startswith("5.4.6"), "11 levels are refused (100, 5.4.6)", out)
rc, out, err = deliver(["-f", "x@remote.test", "loop1@example.test"])
t.ok(rc == 100 and out.startswith("5.4.6 alias loop"), "an alias loop is refused (100, 5.4.6)", out)
clear()
rc, out, err = deliver(["-f", "x@remote.test", "broken@example.test"])
t.ok(rc == 100 and out.startswith("5.1.1") and "nosuchuser@example.test" in out,
     "an alias with an unknown local target fails permanently, naming it", out)
t.is_(counts()["alice"], 0, "and delivers nothing, not even to its good targets")

# -- remote targets: a fake queue-add first --
FQ = inst.fake_queue_add(OUT)


def fakeq():
    try:
        return open(os.path.join(OUT, "msg"), "rb").read(), open(os.path.join(OUT, "env"), "rb").read()
    except FileNotFoundError:
        return None, None
    finally:
        for f in ("msg", "env", "environ"):
            try:
                os.unlink(os.path.join(OUT, f))
            except FileNotFoundError:
                pass


rc, out, err = deliver(["-f", "orig@sender.test", "fwd@example.test"], env=FQ)
msg, env = fakeq()
t.is_(rc, 0, "an alias to remote addresses delivers through queue-add")
t.is_(env, b"Forig@sender.test\0Tsomeone@remote.test\0Tother@remote2.test\0\0",
      "one queue-add run: the sender kept, every remote target a T record, the final NUL")
t.is_(msg, b"Delivered-To: fwd@example.test\n" + MSG.encode(), "the message gets Delivered-To: in front, and no Return-Path")
t.like(err, "forwarded to=fwd@example.test rcpts=2", "the log says it was forwarded")
rc, out, err = deliver(["-f", "", "fwd@example.test"], env=FQ)
msg, env = fakeq()
t.ok(rc == 0 and env and env.startswith(b"F\0T"), "the null sender stays null")
clear()
rc, out, err = deliver(["-f", "orig@sender.test", "keeper@example.test"], env=FQ)
msg, env = fakeq()
t.ok(rc == 0 and counts()["keeper"] == 1 and env == b"Forig@sender.test\0TFar.Away@remote.test\0\0",
     "an alias naming itself keeps a local copy and forwards (remote local part's case kept)", env)
rc, out, err = deliver(["-f", "orig@sender.test", "mix@example.test"], env=FQ)
msg, env = fakeq()
t.ok(rc == 0 and counts()["alice"] == 1 and env == b"Forig@sender.test\0Tfar@remote.test\0\0", "local and remote targets mixed")
rc, out, err = deliver(["-f", "orig@sender.test", "fwd@example.test"], env=dict(FQ, FAKEQ_EXIT="31"))
t.ok(rc == 100 and out.startswith("5.") and "31" in out, "queue-add's permanent codes (11-40) are permanent (100)", out)
rc, out, err = deliver(["-f", "orig@sender.test", "fwd@example.test"], env=dict(FQ, FAKEQ_EXIT="71"))
t.ok(rc == 111 and out.startswith("4."), "its other codes are temporary (111)", out)
fakeq()
rc, out, err = deliver(["-f", "orig@sender.test", "fwd@example.test"],
                       msg="Delivered-To: fwd@example.test\n" + MSG, env=FQ)
msg, env = fakeq()
t.ok(rc == 100 and out.startswith("5.4.6") and env is None, "a message that already went through the alias is a loop, not forwarded again")

# -- remote targets: the real queue --
if os.path.exists(os.path.join(ternlib.BUILD, "queue-add")) and os.path.exists(os.path.join(ternlib.BUILD, "queue-store")):
    rc, out, err = deliver(["-f", "orig@sender.test", "fwd@example.test"])
    t.is_(rc, 0, "with the real queue-add (TERN_DIRECT: queue-store)")
    files = os.listdir(inst.path("queue/incoming"))
    t.is_(len(files), 1, "a message file appears in queue/incoming/")
    data = open(inst.path("queue/incoming", files[0]), "rb").read() if files else b""
    t.ok(b"\0Forig@sender.test\0" in data and b"\0Tsomeone@remote.test\0" in data and b"\0Tother@remote2.test\0" in data,
         "its envelope keeps the sender and names both remote targets")
    t.ok(data.endswith(b"Delivered-To: fwd@example.test\n" + MSG.encode()), "its body has Delivered-To: in front")
else:
    t.ok(True, "real queue-add # SKIP build/queue-add or queue-store missing")

# -- programs --
clear()
rc, out, err = deliver(["-f", "x@remote.test", "prog@example.test"])
t.ok(rc == 100 and out.startswith("5.7.1") and "programs" in out, "a |command target is refused unless DELIVER_PROGRAMS is set (100, 5.7.1)", out)
t.is_(counts()["alice"], 0, "and nothing is delivered to the alias' other targets")
rc, out, err = deliver(["-f", "x@remote.test", "prog@example.test"], env={"DELIVER_PROGRAMS": "1"})
t.is_(rc, 0, "with DELIVER_PROGRAMS the command runs")
pm = open(os.path.join(OUT, "prog.msg"), "rb").read() if os.path.exists(os.path.join(OUT, "prog.msg")) else b""
pe = open(os.path.join(OUT, "prog.env"), "rb").read() if os.path.exists(os.path.join(OUT, "prog.env")) else b""
t.is_(pm, b"Return-Path: <x@remote.test>\nDelivered-To: prog@example.test\n" + MSG.encode(), "the message on its stdin")
t.ok(b"\nSENDER=x@remote.test\n" in pe and b"\nRECIPIENT=prog@example.test\n" in pe, "SENDER and RECIPIENT in its environment")
t.is_(counts()["alice"], 1, "and the other targets are delivered too")
rc, out, err = deliver(["-f", "x@remote.test", "prog100@example.test"], env={"DELIVER_PROGRAMS": "1"})
t.ok(rc == 100 and out.startswith("5."), "a command exiting 100 is a permanent failure")
rc, out, err = deliver(["-f", "x@remote.test", "prog3@example.test"], env={"DELIVER_PROGRAMS": "1"})
t.ok(rc == 111 and out.startswith("4."), "a command exiting with another code is a temporary failure")
rc, out, err = deliver(["-f", "x@remote.test", "noread@example.test"], msg=MSG + "z" * 2000000 + "\n",
                       env={"DELIVER_PROGRAMS": "1"})
t.is_(rc, 0, "a command that does not read its input succeeds by its exit code")
rc, out, err = deliver(["-f", "x@remote.test", "sigs@example.test"], env={"DELIVER_PROGRAMS": "1"})
try:
    mask = int(open(os.path.join(OUT, "sigign")).read().split()[1], 16)
except (OSError, IndexError, ValueError):
    mask = None
t.ok(rc == 0 and mask is not None and not mask & ((1 << 12) | (1 << 24)),
     "commands start with SIGPIPE and SIGXFSZ not ignored", mask)

# -- files --
rc, out, err = deliver(["-f", "x@remote.test", "files@example.test"])
t.ok(rc == 100 and out.startswith("5.7.1") and "files" in out, "/path targets are refused unless DELIVER_FILES is set (100, 5.7.1)", out)
t.ok(not os.path.exists(os.path.join(OUT, "mbox")), "nothing is written")
rc, out, err = deliver(["-f", "x@remote.test", "files@example.test"], env={"DELIVER_FILES": "1"})
t.is_(rc, 0, "with DELIVER_FILES they are delivered")
mb = open(os.path.join(OUT, "mbox"), "rb").read() if os.path.exists(os.path.join(OUT, "mbox")) else b""
t.ok(mb.startswith(b"From x@remote.test ") and mb.endswith(b"\nhello\n\n"), "/path is an mbox", mb)
t.is_(len(os.listdir(os.path.join(OUT, "Maildir/new"))) if os.path.isdir(os.path.join(OUT, "Maildir/new")) else 0, 1,
      "/path/ (trailing slash) is a Maildir, created if missing")

t.done()
