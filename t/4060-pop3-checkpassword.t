#!/usr/bin/python3
# Any checkpassword program works in place of pwcheck: t/fake-checkpassword
# (a dozen lines of python) in the chain. pop3-serve finds the Maildir
# through $MAILDIR, else its argument, else ./Maildir. pop3-serve on its
# own (no login monitor) and its exit codes.

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Pop3Instance(t)
FAKE = os.path.join(ternlib.HERE, "fake-checkpassword")
SERVE = os.path.join(ternlib.BUILD, "pop3-serve")
home = inst.path("home", "alice")
for d in ("Maildir", "Other", "Third"):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(home, d, sub))
for d, subj in (("Maildir", "in ./Maildir"), ("Other", "in Other"), ("Third", "in $MAILDIR")):
    with open(os.path.join(home, d, "new", "1700000000.M1P1Q1.host"), "w") as f:
        f.write("Subject: %s\n\nx\n" % subj)
if ternlib.is_root():
    for dp, dn, fn in os.walk(inst.path("home")):
        for x in dn + fn:
            os.chown(os.path.join(dp, x), inst.uid, inst.gid)
        os.chown(dp, inst.uid, inst.gid)
FENV = {"FAKE_USER": "alice", "FAKE_PASS": "wonderland", "FAKE_HOME": home,
        "FAKE_UID": str(inst.uid), "FAKE_GID": str(inst.gid)}


def subject(port, user="alice", pw="wonderland"):
    c = ternlib.Pop3Conn(port)
    c.cmd("USER " + user)
    r = c.cmd("PASS " + pw)
    if not r.startswith("+OK"):
        c.close()
        return r
    c.send("TOP 1 0\r\n")
    c.line()
    hdr = c.multi().decode()
    c.cmd("QUIT")
    c.close()
    return hdr.split("\r\n")[0]


port = inst.pop3(chain=[FAKE, SERVE, "Other"], env=FENV)
t.is_(subject(port), "Subject: in Other", "fake-checkpassword + pop3-serve Other: the argument, relative to the home it entered")
t.is_(subject(port, pw="wrong"), "-ERR [AUTH] Authentication failed", "its exit 1 is -ERR [AUTH]")
t.is_(subject(port, user="bob"), "-ERR [AUTH] Authentication failed", "an unknown user too")
port = inst.pop3(chain=[FAKE, SERVE], env=FENV)
t.is_(subject(port), "Subject: in ./Maildir", "without an argument: ./Maildir")
port = inst.pop3(chain=[FAKE, SERVE, "Other"], env=dict(FENV, MAILDIR=os.path.join(home, "Third")))
t.is_(subject(port), "Subject: in $MAILDIR", "$MAILDIR comes first")
port = inst.pop3(chain=[FAKE, SERVE, "Nonexistent"], env=FENV)
t.is_(subject(port), "-ERR [SYS/TEMP] Temporary failure, try again later", "a Maildir that is not there: [SYS/TEMP]")
port = inst.pop3(chain=[FAKE, SERVE], env=dict(FENV, FAKE_UID="0", FAKE_GID="0"))
t.is_(subject(port), "-ERR [SYS/TEMP] Temporary failure, try again later",
      "a checkpassword program that leaves it root: pop3-serve refuses to run, [SYS/TEMP]")
t.like(inst.read("log/stderr"), r"pop3-serve: fatal: refusing to run as root", "and says why in the log")

# -- pop3-serve alone (behind another front end): exit codes --
def serve(args, stdin=b"QUIT\r\n", env=None, asuser=True):
    e = {"MAILDIR": ""}
    if env:
        e.update(env)
    r = inst.run([SERVE] + list(args), input=stdin, env=e, asuser=asuser)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


rc, out, err = serve([os.path.join(home, "Other")], stdin=b"STAT\r\nQUIT\r\n")
t.is_((rc, out), (0, "+OK Logged in, 1 messages\r\n+OK 1 24\r\n+OK Bye\r\n"), "alone on pipes: +OK, the session, QUIT exits 0")
rc, out, err = serve([os.path.join(home, "Other")], stdin=b"STAT\r\n")
t.is_(rc, 0, "the client going away exits 0")
rc, out, err = serve(["a", "b"])
t.ok(rc == 100 and "usage" in err, "two arguments: usage, 100")
rc, out, err = serve([os.path.join(home, "Other")], env={"POP3_TIMEOUT": "0"})
t.is_(rc, 100, "POP3_TIMEOUT=0: 100")
rc, out, err = serve([os.path.join(home, "Other")], env={"LOGINFD": "x"})
t.is_(rc, 100, "a malformed LOGINFD: 100")
if ternlib.is_root():
    rc, out, err = serve([os.path.join(home, "Other")], asuser=False)
    t.ok(rc == 100 and out == "" and "root" in err, "as root: refused, 100, the mailbox untouched")
else:
    t.ok(True, "# SKIP root only")
rc, out, err = serve([os.path.join(home, "Nonexistent")])
t.is_((rc, out), (111, "-ERR [SYS/TEMP] Cannot open the mailbox\r\n"), "no Maildir: 111, and without a login monitor it says -ERR itself")
other = os.path.join(home, "Other")
os.chmod(os.path.join(other, "new"), 0o500)
rc, out, err = serve([other], stdin=b"DELE 1\r\nQUIT\r\n")
os.chmod(os.path.join(other, "new"), 0o700)
t.is_((rc, out.split("\r\n")[2]), (111, "-ERR [SYS/TEMP] Some deleted messages could not be removed"),
      "QUIT that cannot remove a message: -ERR [SYS/TEMP] and 111")
t.ok(os.path.exists(os.path.join(other, "new", "1700000000.M1P1Q1.host")), "the message is still there")

t.done()
