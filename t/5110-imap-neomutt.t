#!/usr/bin/python3
# neomutt, a real IMAP client driven through a terminal (tmux): it logs in
# (imap://demo%40example.test@127.0.0.1:PORT/, no TLS: IMAP_PLAINTEXT),
# shows INBOX's messages in its index, opens one (the body text shows),
# saves it to =Archive (a COPY, then \Deleted) and quits (the EXPUNGE);
# over IMAP the message is then in Archive and no longer in INBOX, the
# others untouched. Each screen captured is kept under
# t/trash/5110-imap-neomutt/; on a failure the last one is printed.
# Skips when neomutt or tmux is missing.

import imaplib
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
if not shutil.which("neomutt") or not shutil.which("tmux"):
    t.skip_all("neomutt or tmux is not installed")
if not ternlib.is_root():
    t.skip_all("imap-login is the login monitor: it starts as root")
inst = ternlib.ImapInstance(t)
MD = inst.maildir()
port = inst.imap()
PANES = os.path.join(ternlib.TRASH, "5110-imap-neomutt")
shutil.rmtree(PANES, ignore_errors=True)
os.makedirs(PANES)
work = inst.path("work")
os.makedirs(work)
SOCK = os.path.join(work, "tmux.sock")
SESSION = "neomutt5110"

SUBJECTS = {"alpha": "kilimanjaro", "bravo": "popocatepetl", "charlie": "aconcagua"}
for i, (name, word) in enumerate(sorted(SUBJECTS.items())):
    inst.put("From: Sender %s <%s@remote.test>\nTo: demo@example.test\nSubject: neomutt test %s\n"
             "Message-ID: <%s@neomutt.test>\nDate: Mon, 7 Dec 2026 10:0%d:00 +0000\n\n"
             "The body text of %s: %s.\n" % (name, name, name, name, i, name, word))

rc = os.path.join(work, "muttrc")
with open(rc, "w") as f:
    f.write('set folder = "imap://demo%%40example.test@127.0.0.1:%d/"\n' % port)
    f.write('set spoolfile = "+INBOX"\n'
            'set imap_pass = "demo"\n'
            'set ssl_starttls = no\n'
            'set ssl_force_tls = no\n'
            'set header_cache = ""\n'
            'set message_cachedir = ""\n'
            'set sidebar_visible = no\n'
            'set record = ""\n'
            'set postponed = ""\n'
            'set confirmappend = no\n'
            'set confirmcreate = no\n'
            'set delete = yes\n'
            'set quit = yes\n'
            'set move = no\n'
            'set mark_old = no\n'
            'set wait_key = no\n'
            'set pager_stop = yes\n'
            'set timeout = 2\n'
            'set mail_check = 2\n'
            'set imap_check_subscribed = no\n'
            'set imap_passive = yes\n'
            'set help = yes\n')

env = dict(os.environ)
env.update({"HOME": work, "TERM": "xterm", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
env.pop("TMUX", None)


def tmux(*args, check=False):
    return subprocess.run(["tmux", "-S", SOCK] + list(args), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=20, check=check)


def alive():
    return tmux("has-session", "-t", SESSION).returncode == 0


def stop():
    if os.path.exists(SOCK):
        tmux("kill-server")


t.at_exit(stop)
NCAP = [0]
last = [""]


def capture():
    r = tmux("capture-pane", "-p", "-t", SESSION)
    if r.returncode != 0:
        return None
    NCAP[0] += 1
    text = r.stdout.decode(errors="replace")
    with open(os.path.join(PANES, "pane-%03d.txt" % NCAP[0]), "w") as f:
        f.write(text)
    last[0] = text
    return text


def wait_screen(pred, timeout=30):
    """Capture the pane until pred(text) holds (bounded); the text, or None."""
    end = time.time() + timeout
    while time.time() < end:
        s = capture()
        if s is not None and pred(s):
            return s
        if not alive():
            return None
        time.sleep(0.3)
    return None


def check(cond, name):
    if not t.ok(cond, name):
        t.diag("the last screen (of %d kept in %s):\n%s" % (NCAP[0], PANES, last[0]))
    return cond


r = tmux("-f", "/dev/null", "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40",
         "neomutt -n -F %s" % rc)
t.ok(r.returncode == 0, "tmux starts neomutt in a detached session (120x40)", r.stdout.decode(errors="replace"))

scr = wait_screen(lambda s: all("neomutt test " + n in s for n in SUBJECTS))
check(scr is not None, "neomutt's index shows the three messages' subjects (logged in over IMAP)")

# to bravo: search the index for its subject, then open it
tmux("send-keys", "-t", SESSION, "/")
wait_screen(lambda s: "earch for" in s, timeout=10)
tmux("send-keys", "-t", SESSION, "-l", "bravo")
tmux("send-keys", "-t", SESSION, "Enter")
time.sleep(0.5)
tmux("send-keys", "-t", SESSION, "Enter")
scr = wait_screen(lambda s: "popocatepetl" in s, timeout=20)
check(scr is not None and "neomutt test bravo" in scr, "Enter opens bravo: its body text shows")

# save it to =Archive
tmux("send-keys", "-t", SESSION, "s")
scr = wait_screen(lambda s: re.search(r"(?i)save to mailbox", s) is not None, timeout=10)
check(scr is not None, "s asks where to save it")
tmux("send-keys", "-t", SESSION, "C-u")
tmux("send-keys", "-t", SESSION, "-l", "=Archive")
tmux("send-keys", "-t", SESSION, "Enter")
time.sleep(1)
# yes to a confirmation, if this neomutt asks one
scr = capture() or ""
if re.search(r"\(\[?yes\]?/\[?no\]?\)|\? \(\[", scr):
    tmux("send-keys", "-t", SESSION, "y")
    time.sleep(0.5)


def archive_has(mid):
    c = imaplib.IMAP4("127.0.0.1", port, timeout=15)
    c.login("demo@example.test", "demo")
    c.select("Archive", readonly=True)
    typ, data = c.search(None, "HEADER", "Message-ID", mid)
    c.logout()
    return typ == "OK" and bool(data[0].split())


end = time.time() + 15
while time.time() < end and not archive_has("bravo@neomutt.test"):
    time.sleep(0.3)
capture()
check(archive_has("bravo@neomutt.test"), "after the save, bravo is in Archive (over IMAP)")

# back to the index and quit: the \Deleted original is expunged
tmux("send-keys", "-t", SESSION, "q")
time.sleep(0.5)
capture()
tmux("send-keys", "-t", SESSION, "q")
end = time.time() + 20
while time.time() < end and alive():
    capture()
    time.sleep(0.3)
    if alive() and re.search(r"(?i)purge|expunge|\(\[yes\]/no\)|\(yes/\[no\]\)", last[0] or ""):
        tmux("send-keys", "-t", SESSION, "y")
check(not alive(), "q quits neomutt")

c = imaplib.IMAP4("127.0.0.1", port, timeout=15)
c.login("demo@example.test", "demo")
c.select("INBOX", readonly=True)
typ, data = c.search(None, "ALL")
typ, hdrs = c.fetch(",".join(x.decode() for x in data[0].split()) or "1", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])") if data[0] else ("OK", [])
inbox = sorted(re.search(rb"<(\w+)@neomutt\.test>", h[1]).group(1).decode() for h in hdrs if isinstance(h, tuple))
c.select("Archive", readonly=True)
typ, data = c.search(None, "ALL")
typ, hdrs = c.fetch(",".join(x.decode() for x in data[0].split()), "(FLAGS BODY.PEEK[])") if data[0] else ("OK", [])
archive = [h for h in hdrs if isinstance(h, tuple)]
c.logout()
t.is_(inbox, ["alpha", "charlie"], "over IMAP: INBOX no longer has bravo, alpha and charlie are still there")
t.ok(len(archive) == 1 and b"<bravo@neomutt.test>" in archive[0][1] and b"popocatepetl" in archive[0][1] and b"\\Deleted" not in archive[0][0],
     "over IMAP: Archive has bravo, whole, not \\Deleted", archive)
rc, out = inst.check()
t.ok(rc == 0, "mailbox-check says ok", out)
t.done()
