#!/usr/bin/python3
# deliver into users' Maildirs: headers added, Maildir names, +detail
# folders, unknown users, loops, postmaster, -d, DELIVER_RESTRICTED, and
# the status line on stdout.

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Instance(t)
MSG = "From: a@remote.test\nSubject: hello\n\nbody line\n"


def deliver(args, msg=MSG, env=None, asuser=True):
    r = inst.run(["deliver"] + list(args), input=msg, env=env, asuser=asuser)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def box(sub="new", mailbox="example.test/demo"):
    return inst.maildir_files(mailbox, sub)


def clear(mailbox="example.test/demo"):
    for sub in ("new", "cur", "tmp"):
        for f in inst.maildir_files(mailbox, sub):
            os.unlink(f)


# -- a plain delivery --
rc, out, err = deliver(["-f", "a@remote.test", "--", "demo@example.test"])
t.is_((rc, out), (0, ""), "delivery to a user exits 0 and prints nothing on stdout")
files = box()
t.is_(len(files), 1, "one message in new/ (the Maildir was created on first delivery)")
data = open(files[0], "rb").read() if files else b""
t.is_(data, b"Return-Path: <a@remote.test>\nDelivered-To: demo@example.test\n" + MSG.encode(),
      "Return-Path and Delivered-To are prepended, the message is intact")
name = os.path.basename(files[0]) if files else ""
m = re.match(r"^(\d+)\.M(\d+)P(\d+)Q1\.([^/:]+),S=(\d+),W=(\d+)$", name)
t.ok(m, "the name is SECONDS.MusecPpidQn.HOST,S=SIZE,W=VSIZE", name)
t.ok(m and int(m.group(5)) == len(data), "S= is the file's size")
t.ok(m and int(m.group(6)) == len(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")),
     "W= is its size with CRLF line ends (RFC822.SIZE, what IMAP and POP3 send)")
t.is_(oct(os.stat(files[0]).st_mode & 0o777) if files else None, oct(0o600), "the message file is mode 0600")
t.ok(all(os.path.isdir(inst.path("mail/example.test/demo", d)) for d in ("cur", "new", "tmp")), "cur, new and tmp exist")
t.is_(box("tmp"), [], "nothing is left in tmp/")
t.like(err, r"deliver: info: delivered to=demo@example.test mailbox=example.test/demo folder=INBOX file=",
       "one log line on stderr, key=value")
t.ok("hello" not in err and "body" not in err, "the log has no message content")

clear()
rc, out, err = deliver(["-f", "", "Demo@EXAMPLE.Test"])
data = open(box()[0], "rb").read() if box() else b""
t.ok(rc == 0 and data.startswith(b"Return-Path: <>\nDelivered-To: Demo@example.test\n"),
     "the null sender gives Return-Path: <>; the domain is lowercased; the local part is matched in any case", data[:80])

clear()
rc, out, err = deliver(["-f", "a@remote.test", "demo@example.test"], msg="no newline at the end")
data = open(box()[0], "rb").read() if box() else b""
t.ok(rc == 0 and data.endswith(b"Delivered-To: demo@example.test\nno newline at the end"),
     "a message without a final newline is stored as is")

# -- unknown user, and the status line --
clear()
rc, out, err = deliver(["-f", "a@remote.test", "nobody@example.test"])
t.is_(rc, 100, "an unknown user exits 100")
t.is_(out, "5.1.1 no such user\n", "stdout's first line is the enhanced status code and the reason")
t.is_(box(), [], "nothing is delivered")
rc, out, err = deliver(["-f", "a@remote.test", "demo@elsewhere.test"])
t.ok(rc == 100 and out.startswith("5.1.1 "), "an address in another domain is unknown here (100, 5.1.1)")

# -- +detail --
os.makedirs(inst.path("mail/example.test/demo/.Lists/new"))
os.makedirs(inst.path("mail/example.test/demo/.Lists/cur"))
os.makedirs(inst.path("mail/example.test/demo/.Lists/tmp"))
inst.chown_all()
rc, out, err = deliver(["-f", "a@remote.test", "demo+lists@example.test"])
got = inst.maildir_files("example.test/demo/.Lists")
t.ok(rc == 0 and len(got) == 1 and box() == [], "user+detail goes into the existing folder .detail, matched in any case")
data = open(got[0], "rb").read() if got else b""
t.ok(b"Delivered-To: demo+lists@example.test\n" in data, "with Delivered-To: naming the full address")
t.like(err, "folder=.Lists", "the log names the folder")
rc, out, err = deliver(["-f", "a@remote.test", "demo+nosuch@example.test"])
t.ok(rc == 0 and len(box()) == 1, "user+detail without such a folder goes to INBOX")
rc, out, err = deliver(["-f", "a@remote.test", "demo+..@example.test"])
t.ok(rc == 0 and len(box()) == 2, "a detail of '..' goes to INBOX, never outside the mailbox")
rc, out, err = deliver(["-f", "a@remote.test", "demo+@example.test"])
t.ok(rc == 0 and len(box()) == 3, "an empty detail goes to INBOX")
rc, out, err = deliver(["-f", "a@remote.test", "nobody+x@example.test"])
t.ok(rc == 100 and out.startswith("5.1.1"), "an unknown user with a detail is still unknown")

# -- mail loops --
clear()
for hdr, why in (("Delivered-To: demo@example.test\n", "same address"),
                 ("DELIVERED-TO:   Demo@Example.TEST  \n", "another case and spacing"),
                 ("X-Other: 1\nDelivered-To: someone@else.test\nDelivered-To: demo@example.test\n", "a later Delivered-To line")):
    rc, out, err = deliver(["-f", "a@remote.test", "demo@example.test"], msg=hdr + MSG)
    t.is_((rc, out), (100, "5.4.6 mail loop: already delivered to demo@example.test\n"), "a Delivered-To: naming the recipient is a loop (100, 5.4.6): %s" % why)
t.is_(box(), [], "a looping message is not delivered")
rc, out, err = deliver(["-f", "a@remote.test", "demo@example.test"],
                       msg="Subject: x\nDelivered-To: other@example.test\n\nDelivered-To: demo@example.test\n")
t.is_(rc, 0, "Delivered-To: in the body, or naming another address, is no loop")
rc, out, err = deliver(["-f", "a@remote.test", "demo@example.test"],
                       msg="".join("Delivered-To: hop%d@example.test\n" % i for i in range(101)) + "\nx\n")
t.ok(rc == 100 and out.startswith("5.4.6"), "more than 100 Delivered-To: lines are a loop")

# -- postmaster --
clear()
for addr in ("postmaster", "PostMaster", "postmaster@example.test", "POSTMASTER@Localhost"):
    rc, out, err = deliver(["-f", "a@remote.test", addr])
    t.is_(rc, 0, "%s resolves through the postmaster alias" % addr)
t.is_(len(box()), 4, "and every one reaches demo's mailbox")
inst.write("etc/aliases", "")
inst.newaliases()
rc, out, err = deliver(["-f", "a@remote.test", "postmaster@example.test"])
t.ok(rc == 111 and out.startswith("4.3.5 ") and "postmaster" in out,
     "without a postmaster alias: 111, never a bounce, with a clear reason", out)
inst.write("etc/aliases", "postmaster: demo@example.test\n")
inst.newaliases()

# -- input: a seekable file read from its offset, a pipe spooled --
clear()
with tempfile.NamedTemporaryFile(dir=inst.root, delete=False) as f:
    f.write(b"JUNK BEFORE THE OFFSET\n" + MSG.encode())
    qf = f.name
os.chmod(qf, 0o644)
r = inst.run(["sh", "-c", 'exec 0<"$0"; dd bs=23 count=1 of=/dev/null 2>/dev/null; exec deliver -f a@remote.test demo@example.test', qf])
data = open(box()[0], "rb").read() if box() else b""
t.ok(r.returncode == 0 and data.endswith(MSG.encode()) and b"JUNK" not in data,
     "a regular file on fd 0 is read from its current offset (the queue file's body)", data)

# -- -d --
md = os.path.join(inst.root, "direct")
os.makedirs(md)
inst.chown_all()
os.chown(md, inst.uid, inst.gid)
rc, out, err = deliver(["-f", "a@remote.test", "-d", md + "/Maildir"])
got = [f for f in os.listdir(md + "/Maildir/new")] if os.path.isdir(md + "/Maildir/new") else []
t.ok(rc == 0 and len(got) == 1, "-d delivers into a Maildir, creating it")
data = open(os.path.join(md, "Maildir/new", got[0]), "rb").read() if got else b""
t.ok(data.startswith(b"Return-Path: <a@remote.test>\nFrom:"), "without an address, no Delivered-To: is added")
rc, out, err = deliver(["-f", "a@remote.test", "-d", md + "/Maildir", "user@example.org"])
t.ok(rc == 0 and len(os.listdir(md + "/Maildir/new")) == 2, "-d with an address")
rc, out, err = deliver(["-d", md + "/no/such/parent/Maildir"])
t.ok(rc == 111 and out.startswith("4."), "-d into a missing parent directory: 111")

# -- DELIVER_RESTRICTED --
for args in (["-d", md + "/Maildir"], ["-m", md + "/mbox"], ["-d", md + "/Maildir", "demo@example.test"]):
    rc, out, err = deliver(args, env={"DELIVER_RESTRICTED": "1"})
    t.is_((rc, out[:6]), (100, "5.7.1 "), "DELIVER_RESTRICTED refuses %s (100, 5.7.1)" % args[0])
t.is_(len(os.listdir(md + "/Maildir/new")), 2, "nothing was delivered")
rc, out, err = deliver(["demo@example.test"], env={"DELIVER_RESTRICTED": "1"})
t.is_(rc, 0, "DELIVER_RESTRICTED still delivers to users")

# -- refusals --
for args, why in ((["-x", "demo@example.test"], "an unknown option"),
                  ([], "no address"),
                  (["a@example.test", "b@example.test"], "two addresses"),
                  (["-d", md, "-m", md + "/x"], "-d with -m")):
    rc, out, err = deliver(args)
    t.ok(rc == 100 and re.match(r"^5\.\d+\.\d+ ", out), "usage error: %s (100 and a status line)" % why)
rc, out, err = deliver(["-f", "a@b\nX-Injected: 1", "demo@example.test"])
t.ok(rc == 100 and out.startswith("5.1.7"), "a sender with a newline is refused (no header injection)")
rc, out, err = deliver(["demo@example.test\nX: 1"])
t.ok(rc == 100 and out.startswith("5.1.3"), "a recipient with a newline is refused")
if ternlib.is_root():
    rc, out, err = deliver(["demo@example.test"], asuser=False)
    t.ok(rc == 100 and out.startswith("5.3.5"), "deliver refuses to run as root (100)")

os.rename(inst.path("etc/users.cdb"), inst.path("etc/users.cdb.off"))
rc, out, err = deliver(["demo@example.test"])
t.ok(rc == 111 and out.startswith("4."), "no users.cdb: a temporary failure, never a bounce")
os.rename(inst.path("etc/users.cdb.off"), inst.path("etc/users.cdb"))

# -- a user whose mailbox is elsewhere under mail/ --
inst.write("etc/users", inst.read("etc/users") + "other@example.test shared/other\n")
inst.run(["mailuser", "rebuild"], asuser=False)
rc, out, err = deliver(["-f", "", "other@example.test"])
t.ok(rc == 0 and len(inst.maildir_files("shared/other")) == 1, "the mailbox is the one users.cdb names, created with its parents")

t.done()
