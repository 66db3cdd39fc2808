#!/usr/bin/python3
# Dovecot's imaptest against imap-login + pwcheck + imap-serve:
# - every compliance script of its tests/ directory, one at a time: each
#   whose capabilities tern advertises must pass; one that runs nothing
#   is skipped only when it asks for a capability tern does not advertise
#   (the list is printed), else it fails;
# - a stress run (10 clients, 20 seconds: LOGIN, SELECT, FETCH, STORE,
#   EXPUNGE, APPEND... from every client at once on one mailbox, each
#   client checking the others' changes) with no error line, and the
#   index consistent with the Maildir afterwards (mailbox-check).
# imaptest is built from ../shared/tools/imaptest (a minute or two, once).
import os
import random
import re
import shutil
import subprocess
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
builder = os.path.join(os.path.dirname(ternlib.REPO), "shared", "tools", "imaptest", "build")
if not os.path.exists(builder):
    t.skip_all("no %s (imaptest's source is kept outside the repository)" % builder)
dest = os.path.join(ternlib.BUILD, "imaptest")
r = subprocess.run([builder, dest], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
if not t.ok(r.returncode == 0, "imaptest builds", r.stdout.decode(errors="replace")[-3000:]):
    t.done()
IMAPTEST = os.path.join(dest, "bin", "imaptest")
TESTS = os.path.join(dest, "tests")

inst = ternlib.ImapInstance(t)
port = inst.imap()
inst.maildir()

c = ternlib.ImapConn(port)
c.cmd("LOGIN demo@example.test demo")
unt, _ = c.cmd("CAPABILITY")
c.cmd("LOGOUT")
c.close()
caps = set(x.upper() for x in unt[0].split()[2:]) | {"IMAP4REV1"}
caps |= set(x.upper() for x in c.greeting.decode().split("[CAPABILITY ", 1)[1].split("]")[0].split())


def imaptest(*args, timeout=300):
    r = subprocess.run([IMAPTEST, "host=127.0.0.1", "port=%d" % port, "user=demo@example.test", "pass=demo"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace")


# -- compliance --
skipped = []
only = os.environ.get("TERN_IMAPTEST_ONLY")   # a regular expression, when working on some scripts
for name in sorted(os.listdir(TESTS)):
    path = os.path.join(TESTS, name)
    if name.endswith(".mbox") or not os.path.isfile(path) or (only and not re.search(only, name)):
        continue
    with open(path, errors="replace") as f:
        head = f.read(4096)
    m = re.search(r"^capabilities:(.*)$", head, re.M)
    need = set(m.group(1).upper().split()) if m else set()
    rc, out = imaptest("test=" + path)
    res = re.search(r"(\d+) test groups: (\d+) failed", out)
    ran = sum(int(a) for a in re.findall(r"(?:base protocol|extensions): \d+/(\d+) individual commands", out))
    if res and int(res.group(2)) == 0 and ran == 0 and need - caps:
        skipped.append("%s (needs %s)" % (name, " ".join(sorted(need - caps))))
        continue
    t.ok(rc == 0 and res is not None and int(res.group(2)) == 0 and ran > 0,
         "imaptest %s: %d commands, none failed" % (name, ran), out[-6000:])
t.diag("skipped, for capabilities tern does not advertise: " + ", ".join(skipped))

if only:
    t.done()
    sys.exit(0)

# -- stress: 10 clients for 20 seconds on one mailbox --
mbox = inst.path("stress.mbox")
rng = random.Random(7)
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
with open(mbox, "w") as f:
    for i in range(300):
        body = "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(rng.randint(3, 60)))
        f.write("From sender@example.test Mon Dec  7 10:00:00 2026\n"
                "From: Sender %d <sender%d@example.test>\nTo: demo@example.test\n"
                "Subject: stress %d %s\nDate: Mon, 7 Dec 2026 10:%02d:00 +0000\nMessage-ID: <stress.%d@example.test>\n\n%s\n\n"
                % (i, i % 7, i, rng.choice(words), i % 60, i, body))
rc, out = imaptest("clients=10", "secs=20", "mbox=" + mbox, timeout=120)
bad = [l for l in out.splitlines() if re.match(r"(Error|Panic|Fatal|Warning):", l)]
t.ok(rc == 0 and not bad, "imaptest stress, 10 clients, 20 s: no error line", "\n".join(bad[:40]) or out[-3000:])
tot = out.split("Totals:")[-1].splitlines() if "Totals:" in out else []
if len(tot) >= 5:
    names, counts = tot[1].split(), [int(x) for x in tot[4].split()]
    got = dict(zip(names, counts))
    t.diag("stress totals: " + " ".join("%s %d" % kv for kv in got.items()))
    t.ok(all(got.get(k, 0) > 0 for k in ("Logi", "Sele", "Fetc", "Fet2", "Stor", "Dele", "Expu", "Appe")),
         "every kind of command ran during the stress", got)
else:
    t.ok(False, "the stress run printed its totals", out[-3000:])
rc, out = inst.check()
t.ok(rc == 0, "mailbox-check: the index agrees with the Maildir after the stress", out)
t.done()
