#!/usr/bin/python3
# mailuser: add, passwd, del, list, rebuild; hashes, modes, atomic
# replacement, the lock, and every refusal.

import os
import pty
import select
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import crypt
    except ImportError:
        crypt = None

t = ternlib.TAP()
inst = ternlib.Instance(t)


def mu(*args, input=None):
    r = inst.run(["mailuser"] + list(args), input=input, asuser=False)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def cdb(name):
    return ternlib.cdb_read(inst.path("etc", name + ".cdb"))


def mode(rel):
    return os.stat(inst.path(rel)).st_mode & 0o7777


def verifies(pw, h):
    if crypt is None:
        return True
    return crypt.crypt(pw, h) == h


# -- the instance's demo user (made by `mailuser add`) --
u = cdb("users")
p = cdb("passwd")
t.is_(u.get(b"demo@example.test"), [b"example.test/demo"], "users.cdb maps demo@example.test to its mailbox")
h = p.get(b"demo@example.test", [b""])[0].decode()
t.like(h, r"^\$y\$", "the hash is yescrypt ($y$)")
t.ok(verifies("demo", h), "the hash verifies the password with crypt(3)")
t.ok(not verifies("Demo", h), "and refuses another password")
t.ok("demo" not in inst.read("etc/passwd").replace("demo@", ""), "the password itself is stored nowhere")
t.is_(oct(mode("etc/passwd")), oct(0o600), "etc/passwd is mode 0600")
t.is_(oct(mode("etc/passwd.cdb")), oct(0o600), "etc/passwd.cdb is mode 0600")
t.is_(oct(mode("etc/users")), oct(0o644), "etc/users is mode 0644")
t.is_(oct(mode("etc/users.cdb")), oct(0o644), "etc/users.cdb is mode 0644")

# -- add --
ino = os.stat(inst.path("etc/users.cdb")).st_ino
rc, out, err = mu("add", "Alice@Example.TEST", input="wonder land\n")
t.is_(rc, 0, "add a second user")
u = cdb("users")
t.is_(u.get(b"alice@example.test"), [b"example.test/alice"], "its key and default mailbox are lowercase DOMAIN/LOCAL")
t.ok(verifies("wonder land", cdb("passwd")[b"alice@example.test"][0].decode()),
     "a password read from a non-terminal stdin is the whole first line")
t.ok(os.stat(inst.path("etc/users.cdb")).st_ino != ino, "users.cdb is replaced by a new file (rename), not rewritten in place")
t.ok(not [f for f in os.listdir(inst.path("etc")) if f.endswith(".tmp")], "no temporary file is left in etc/")
# the mailbox, with the special-use folders of RFC 6154 (issue 11), made
# as the owner of mail/, never as root
box = inst.path("mail/example.test/alice")
made = [n for n in ("cur", "new", "tmp", ".Drafts", ".Sent", ".Trash", ".Junk", ".Archive") if os.path.isdir(os.path.join(box, n))]
t.is_(made, ["cur", "new", "tmp", ".Drafts", ".Sent", ".Trash", ".Junk", ".Archive"],
      "add makes the Maildir and its special-use folders")
owner = os.stat(inst.path("mail")).st_uid
t.ok(all(os.stat(os.path.join(dp, n)).st_uid == owner
         for dp, dn, fn in os.walk(box) for n in dn + fn),
     "every file of the new mailbox belongs to the owner of mail/")
subs = open(os.path.join(box, "subscriptions")).read().split() if os.path.exists(os.path.join(box, "subscriptions")) else []
t.is_(sorted(subs), ["Archive", "Drafts", "Junk", "Sent", "Trash"], "and they are subscribed")
rc, out, err = mu("list")
t.is_(out, "demo@example.test example.test/demo\nalice@example.test example.test/alice\n", "list prints ADDRESS MAILBOX lines")
rc, out, err = mu("list", "alice@example.test")
t.is_((rc, out), (0, "alice@example.test example.test/alice\n"), "list ADDRESS prints that user")
rc, out, err = mu("list", "nobody@example.test")
t.is_(rc, 100, "list of an unknown user exits 100")

# -- refusals --
before = open(inst.path("etc/users.cdb"), "rb").read()
for args, inp, why in (
        (["add", "alice@example.test"], "x\n", "an existing address"),
        (["add", "ALICE@example.test"], "x\n", "an existing address in another case"),
        (["add", "bob@elsewhere.test"], "x\n", "a domain not in etc/domains"),
        (["add", "bob smith@example.test"], "x\n", "an address with a space"),
        (["add", "bob:x@example.test"], "x\n", "an address with a colon"),
        (["add", "bob\x01@example.test"], "x\n", "an address with a control character"),
        (["add", "bob"], "x\n", "an address without a domain"),
        (["add", "a/b@example.test"], "x\n", "an address with a slash"),
        (["add", "bob@example.test"], "", "an empty stdin"),
        (["add", "bob@example.test"], "\nsecond\n", "an empty password line"),
        (["add"], "x\n", "add without an address"),
        (["frobnicate", "bob@example.test"], "x\n", "an unknown command"),
        ([], None, "no command"),
        (["passwd", "nobody@example.test"], "x\n", "passwd of an unknown user"),
        (["del", "nobody@example.test"], None, "del of an unknown user"),
        (["rebuild", "extra"], None, "rebuild with an argument")):
    rc, out, err = mu(*args, input=inp)
    t.is_(rc, 100, "refuses %s (exit 100)" % why)
t.ok(open(inst.path("etc/users.cdb"), "rb").read() == before, "refusals leave users.cdb as it was")
rc, out, err = mu("add", "bob@elsewhere.test", input="x\n")
t.like(err, "etc/domains", "the domain refusal says where domains are listed")
t.ok(b"bob@example.test" not in cdb("users"), "no user was added by the refusals")

# -- passwd --
old = cdb("passwd")[b"alice@example.test"][0].decode()
rc, out, err = mu("passwd", "alice@example.test", input="new secret\n")
t.is_(rc, 0, "passwd changes an existing user's password")
new = cdb("passwd")[b"alice@example.test"][0].decode()
t.ok(new != old and verifies("new secret", new) and not verifies("wonder land", new), "the new hash verifies the new password only")
t.is_(inst.read("etc/passwd").count("alice@example.test:"), 1, "etc/passwd keeps one line for the user")

# -- the terminal: prompted twice, echo off --
def tty_add(addr, first, second):
    master, slave = pty.openpty()
    e = dict(inst.env)
    pr = subprocess.Popen([os.path.join(ternlib.BUILD, "mailuser"), "add", addr], stdin=slave,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    os.close(slave)
    echoed = b""
    prompts = b""
    for answer in (first, second):
        end = time.time() + 10
        while not prompts.rstrip().endswith(b":") and time.time() < end:
            r, _, _ = select.select([pr.stderr], [], [], 0.2)
            if r:
                prompts += os.read(pr.stderr.fileno(), 1024)
        time.sleep(0.1)
        os.write(master, answer.encode() + b"\n")
        prompts = prompts.replace(b":", b";")
        time.sleep(0.2)
        while True:
            r, _, _ = select.select([master], [], [], 0.1)
            if not r:
                break
            try:
                echoed += os.read(master, 1024)
            except OSError:
                break
        if pr.poll() is not None:
            break
    try:
        rest = pr.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        pr.kill()
        rest = pr.communicate()[1]
    os.close(master)
    return pr.returncode, echoed, prompts + rest


rc, echoed, prompts = tty_add("carol@example.test", "tty pass", "tty pass")
t.is_(rc, 0, "add at a terminal with the password typed twice")
t.ok(b"tty pass" not in echoed, "the password is not echoed", echoed)
t.ok(b"Password" in prompts and b"Retype" in prompts, "it prompts twice", prompts)
t.ok(verifies("tty pass", cdb("passwd").get(b"carol@example.test", [b""])[0].decode()), "the typed password is the one hashed")
rc, echoed, prompts = tty_add("dave@example.test", "one", "two")
t.is_(rc, 100, "differing passwords at a terminal are refused (100)")
t.ok(b"dave@example.test" not in cdb("users"), "and no user is added")

# -- del --
os.makedirs(inst.path("mail/example.test/alice/new"), exist_ok=True)
open(inst.path("mail/example.test/alice/new/1.mail"), "w").write("Subject: kept\n\nx\n")
rc, out, err = mu("del", "alice@example.test")
t.is_(rc, 0, "del removes a user")
t.ok(b"alice@example.test" not in cdb("users") and b"alice@example.test" not in cdb("passwd"),
     "from users.cdb and passwd.cdb")
t.ok("alice@" not in inst.read("etc/users") and "alice@" not in inst.read("etc/passwd"), "and from both text files")
t.ok(os.path.exists(inst.path("mail/example.test/alice/new/1.mail")), "its mail is kept")
t.like(err, "kept", "and stderr says so")

# -- rebuild after hand edits --
with open(inst.path("etc/users"), "a") as f:
    f.write("# a comment\n\n  Erin@Example.test   shared/erin  \nfrank@example.test\n")
rc, out, err = mu("rebuild")
t.is_(rc, 0, "rebuild after a hand edit")
u = cdb("users")
t.is_((u.get(b"erin@example.test"), u.get(b"frank@example.test")), ([b"shared/erin"], [b"example.test/frank"]),
      "hand-written lines are compiled (explicit mailbox, default mailbox, case folded)")
t.ok("# a comment" in inst.read("etc/users"), "mailuser never rewrote the admin's text file on rebuild")
rc, out, err = mu("add", "gina@example.test", input="g\n")
t.ok(rc == 0 and "# a comment" in inst.read("etc/users"), "add keeps the admin's comments")

before_u = open(inst.path("etc/users.cdb"), "rb").read()
before_p = open(inst.path("etc/passwd.cdb"), "rb").read()
good = inst.read("etc/users")
for bad, where, why in (("not-an-address example.test/x\n", r"etc/users:\d+: malformed address", "a malformed address"),
                        ("h@example.test ../../etc\n", r"etc/users:\d+: malformed mailbox", "a mailbox escaping mail/"),
                        ("h@example.test /abs/path\n", r"etc/users:\d+: malformed mailbox", "an absolute mailbox"),
                        ("h@example.test a b\n", r"etc/users:\d+: malformed mailbox", "a line with three fields"),
                        ("DEMO@example.test x/y\n", r"etc/users:\d+: duplicate address, first at line 1", "a duplicate address")):
    inst.write("etc/users", good + bad)
    rc, out, err = mu("rebuild")
    t.is_(rc, 100, "rebuild refuses %s (100)" % why)
    n = len(good.splitlines()) + 1
    t.like(err, where.replace(r"\d+", str(n)), "with the file and line number")
inst.write("etc/users", good)
with open(inst.path("etc/passwd"), "a") as f:
    f.write("broken line without colon\n")
os.chmod(inst.path("etc/passwd"), 0o600)
rc, out, err = mu("rebuild")
t.ok(rc == 100 and "etc/passwd:" in err, "rebuild refuses a malformed etc/passwd line with file:line", err)
t.ok(open(inst.path("etc/users.cdb"), "rb").read() == before_u and open(inst.path("etc/passwd.cdb"), "rb").read() == before_p,
     "a refused rebuild replaces nothing")
rc, out, err = mu("add", "hank@example.test", input="h\n")
t.is_(rc, 100, "add refuses to touch files with errors")
lines = [l for l in inst.read("etc/passwd").splitlines() if not l.startswith("broken")]
inst.write("etc/passwd", "\n".join(lines) + "\n", mode=0o600)

# -- the lock: concurrent adds all land --
procs = []
for i in range(8):
    e = dict(inst.env)
    procs.append(subprocess.Popen([os.path.join(ternlib.BUILD, "mailuser"), "add", "par%d@example.test" % i],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e))
for pr in procs:
    pr.communicate(b"pw\n")
t.ok(all(pr.returncode == 0 for pr in procs), "eight concurrent adds succeed")
u = cdb("users")
t.ok(all(("par%d@example.test" % i).encode() in u for i in range(8)), "and none is lost (etc/users.lock serialises them)")
t.ok(all(("par%d@example.test" % i).encode() in cdb("passwd") for i in range(8)), "passwd.cdb has a hash for each of them")

t.done()
