#!/usr/bin/python3
# Real POP3 clients download and delete mail: curl (pop3://, AUTH PLAIN
# after "+ "), fetchmail (USER/PASS, UIDL) and getmail6 (SimplePOP3Retriever
# with delete). A missing client skips its part, it never passes.

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Pop3Instance(t)
port = inst.pop3()
MD = inst.maildir()
work = os.path.join(inst.root, "clients")
os.makedirs(work)
os.chmod(work, 0o777)


def fill(n, tag):
    msgs = []
    for i in range(n):
        m = "From: sender@remote.test\nTo: demo@example.test\nSubject: %s %d\nMessage-ID: <%s.%d@remote.test>\n\nbody of %s %d\n.leading dot\n" % (tag, i, tag, i, tag, i)
        inst.put(m, "17%08d.M%dP1Q1.%s" % (i, i, tag))
        msgs.append(m)
    return msgs


def left():
    return len(os.listdir(os.path.join(MD, "new"))) + len(os.listdir(os.path.join(MD, "cur")))


def run(argv, env=None, asuser=False, timeout=120):
    e = dict(os.environ)
    if env:
        e.update(env)
    cmd = (inst.asuser if asuser else []) + argv
    r = subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace")


URL = "pop3://127.0.0.1:%d" % port
USER = "demo@example.test:demo"

# -- curl --
if not shutil.which("curl"):
    t.ok(True, "# SKIP curl is not installed")
else:
    msgs = fill(3, "curl")
    rc, out = run(["curl", "-sS", URL + "/", "-u", USER])
    t.is_((rc, out.split("\r\n")[:3]), (0, ["1 %d" % (len(msgs[0]) + 7), "2 %d" % (len(msgs[1]) + 7), "3 %d" % (len(msgs[2]) + 7)]),
          "curl pop3:// lists the messages with their sizes")
    rc, out = run(["curl", "-sS", URL + "/2", "-u", USER])
    t.is_((rc, out), (0, msgs[1].replace("\n", "\r\n")), "curl pop3://.../2 retrieves message 2, dot-stuffing undone")
    rc, out = run(["curl", "-sS", URL + "/2", "-u", USER, "-X", "DELE", "-I"])
    t.is_((rc, left()), (0, 2), "curl -X DELE deletes it")
    for i in (1, 1):
        rc, out = run(["curl", "-sS", URL + "/1", "-u", USER, "-X", "DELE", "-I"])
    t.is_(left(), 0, "and the others, one session each")
    rc, out = run(["curl", "-sS", URL + "/1", "-u", "demo@example.test:wrong"])
    t.ok(rc != 0 and left() == 0, "curl with a wrong password fails", out)

# -- fetchmail --
if not shutil.which("fetchmail"):
    t.ok(True, "# SKIP fetchmail is not installed")
else:
    msgs = fill(20, "fetchmail")
    out = os.path.join(work, "fetchmail.out")
    rcfile = os.path.join(work, "fetchmailrc")
    with open(rcfile, "w") as f:
        f.write('set no syslog\n'
                'poll 127.0.0.1 service %d protocol pop3 uidl auth password\n'
                '  user "demo@example.test" there with password "demo"\n'
                '  sslproto "" no keep fetchall\n'
                '  mda "/bin/sh -c \'cat >> %s; echo ==END== >> %s\'"\n' % (port, out, out))
    os.chmod(rcfile, 0o600)
    rc, log = run(["fetchmail", "-f", rcfile, "--nodetach", "-v"], env={"HOME": work, "FETCHMAILHOME": work})
    t.ok(rc == 0 and "20 messages" in log, "fetchmail downloads 20 messages", log[-2000:])
    got = open(out).read().split("==END==\n")[:-1] if os.path.exists(out) else []
    t.is_(len(got), 20, "the MDA got 20 messages")
    t.ok(all(any(("Subject: fetchmail %d\n" % i) in g and ("\n.leading dot\n" in g) for g in got) for i in range(20)),
         "each one whole, with its leading-dot line intact")
    t.is_(left(), 0, "and fetchmail deleted them on the server")
    rc, log = run(["fetchmail", "-f", rcfile, "--nodetach"], env={"HOME": work, "FETCHMAILHOME": work})
    t.ok(rc == 1, "a second run finds no mail (fetchmail exit 1)", log[-1500:] + inst.read("log/stderr")[-1500:])

# -- getmail6 --
if not shutil.which("getmail"):
    t.ok(True, "# SKIP getmail6 is not installed")
else:
    msgs = fill(15, "getmail")
    dest = os.path.join(work, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(dest, sub))
    gdir = os.path.join(work, "getmail")
    os.makedirs(gdir)
    with open(os.path.join(gdir, "getmailrc"), "w") as f:
        f.write("[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = %d\n"
                "username = demo@example.test\npassword = demo\n\n"
                "[destination]\ntype = Maildir\npath = %s/\n\n"
                "[options]\ndelete = true\nread_all = true\nverbose = 1\n" % (port, dest))
    if ternlib.is_root():
        for dp, dn, fn in os.walk(work):
            for x in dn + fn:
                os.chown(os.path.join(dp, x), inst.uid, inst.gid)
    rc, log = run(["getmail", "--getmaildir", gdir, "--rcfile", "getmailrc"], asuser=True)
    t.ok(rc == 0 and "15 messages" in log, "getmail6 retrieves 15 messages", log[-2000:])
    got = [open(os.path.join(dest, "new", f)).read() for f in os.listdir(os.path.join(dest, "new"))]
    t.is_(len(got), 15, "into its own Maildir")
    t.ok(all(any(("Subject: getmail %d\n" % i) in g and g.endswith("body of getmail %d\n.leading dot\n" % i) for g in got) for i in range(15)),
         "each one whole")
    t.is_(left(), 0, "and deleted on the server")

t.done()
