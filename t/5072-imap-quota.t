#!/usr/bin/python3
# imap-serve: QUOTA (RFC 9208) with STORAGE and MESSAGE, limits from
# etc/quota (tern-config(5)), one quota root "" over every folder:
# - no limit for the user: GETQUOTAROOT names no root, GETQUOTA "" is NO;
# - RFC 9208's examples: GETQUOTA "", GETQUOTAROOT INBOX (STORAGE 10 512);
#   SETQUOTA refused (NO [NOPERM], 4.1.3 lets a server refuse), bad
#   syntax BAD; the usage is the sum of RFC822.SIZE over every folder,
#   KiB rounded up, outside changes (a file put into new/) included;
# - APPEND (MULTIAPPEND: all or none), COPY over the limit: NO [OVERQUOTA]
#   and nothing stored; MOVE between folders allowed at the limit;
# - MESSAGE: the count; a "*" line for every user; a line that does not
#   parse refuses APPEND with NO [UNAVAILABLE];
# - deliver over the limit: exit 111 "4.2.2 mailbox full" (or 100 5.2.2
#   with DELIVER_OVERQUOTA=bounce), nothing in new/ or tmp/; through
#   queue-run the message stays queued and is delivered once there is room.

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t, users=(("demo@example.test", "demo"), ("other@example.test", "o")))
port = inst.imap()
MD = inst.maildir()
inst.maildir("example.test/demo/.Other")


def login():
    c = ternlib.ImapConn(port)
    unt, r = c.cmd("LOGIN demo@example.test demo")
    return c, r


def append(c, msg, box="INBOX"):
    c.send(b"a APPEND " + box.encode() + b" {%d+}\r\n" % len(msg) + msg + b"\r\n")
    return c.until("a")


def status(c, box="INBOX"):
    unt, r = c.cmd("STATUS %s (MESSAGES)" % box)
    m = re.search(r"MESSAGES (\d+)", " ".join(unt))
    return int(m.group(1)) if m else None


def msg_of(n, tag=b"x"):
    """a message of exactly n octets as IMAP counts them (CRLF)"""
    head = b"Subject: " + tag + b"\r\n\r\n"
    body = n - len(head) - 2
    return head + b"y" * body + b"\r\n"


def quota(c, root='""'):
    unt, r = c.cmd("GETQUOTA " + root)
    return [u for u in unt if u.startswith("* QUOTA ")], r


# --- no limit
c, r = login()
caps = r.split("[CAPABILITY ", 1)[1].split("]")[0].split() if "[CAPABILITY " in r else []
t.ok("QUOTA" in caps and "QUOTA=RES-STORAGE" in caps and "QUOTA=RES-MESSAGE" in caps,
     "QUOTA, QUOTA=RES-STORAGE and QUOTA=RES-MESSAGE in the capabilities", r)
unt, r = c.cmd("GETQUOTAROOT INBOX")
# (the mailbox a quoted string, as LIST and STATUS write it: the astring
# INBOX of RFC 9208's examples)
t.is_((unt, r.split()[1]), (['* QUOTAROOT "INBOX"'], "OK"), "no limit: GETQUOTAROOT INBOX names no root")
q, r = quota(c)
t.like(r, r"^t\d+ NO \[NONEXISTENT\]", "no limit: GETQUOTA \"\" is NO [NONEXISTENT]")
unt, r = append(c, msg_of(20000))
t.like(r, r"^a OK ", "no limit: APPEND of 20000 octets")
c.cmd("LOGOUT")

# --- RFC 9208 4.1.1, 4.1.2: STORAGE 10 512
os.unlink(os.path.join(MD, "cur", os.listdir(os.path.join(MD, "cur"))[0]))
inst.write("etc/quota", "# the limits\nother@example.test 1\ndemo@example.test 512\n")
c, r = login()
unt, r = append(c, msg_of(10240))
t.like(r, r"^a OK ", "APPEND of 10240 octets (10 KiB)")
q, r = quota(c)
t.is_((q, r.split()[1]), (['* QUOTA "" (STORAGE 10 512)'], "OK"), 'GETQUOTA "": * QUOTA "" (STORAGE 10 512) (RFC 9208 4.1.1)')
unt, r = c.cmd("GETQUOTAROOT INBOX")
t.is_((unt, r.split()[1]), (['* QUOTAROOT "INBOX" ""', '* QUOTA "" (STORAGE 10 512)'], "OK"),
      "GETQUOTAROOT INBOX: the root \"\", then its QUOTA (RFC 9208 4.1.2)")
unt, r = c.cmd("GETQUOTAROOT Other")
t.is_(unt[:1], ['* QUOTAROOT "Other" ""'], "every folder is under the root \"\"")
unt, r = c.cmd("GETQUOTAROOT Nosuch")
t.like(r, r"^t\d+ NO \[NONEXISTENT\]", "GETQUOTAROOT of a folder that does not exist: NO [NONEXISTENT]")
q, r = quota(c, '"#user/demo"')
t.like(r, r"^t\d+ NO \[NONEXISTENT\]", "GETQUOTA of another root: NO [NONEXISTENT]")
unt, r = c.cmd('SETQUOTA "" (STORAGE 1024)')
t.like(r, r"^t\d+ NO \[NOPERM\]", "SETQUOTA \"\" (STORAGE 1024): NO [NOPERM], the limits are the administrator's (4.1.3)")
q, r = quota(c)
t.is_(q, ['* QUOTA "" (STORAGE 10 512)'], "and the limit is unchanged")
for bad in ('SETQUOTA ""', 'SETQUOTA "" (STORAGE)', 'SETQUOTA "" (STORAGE x)', 'SETQUOTA "" STORAGE 5', "GETQUOTA", 'GETQUOTA "" x', "GETQUOTAROOT"):
    unt, r = c.cmd(bad)
    t.ok(r.split()[1] == "BAD", "%s: BAD" % bad, r)
unt, r = c.cmd('SETQUOTA "" ()')
t.like(r, r"^t\d+ NO \[NOPERM\]", "SETQUOTA with an empty list parses, and is refused")

# usage: every folder, KiB rounded up, outside changes
unt, r = append(c, msg_of(1), "Other")
q, r = quota(c)
t.is_(q, ['* QUOTA "" (STORAGE 11 512)'], "a message of 1 octet in Other: 11 KiB (rounded up, every folder)")
inst.put(b"Subject: by hand\n\n" + b"z" * 2040 + b"\n", "1790000000.M1P1.host,S=2059,W=2061")
q, r = quota(c)
t.is_(q, ['* QUOTA "" (STORAGE 13 512)'], "a file put into new/ by another program counts at once")
c.cmd("LOGOUT")

# --- OVERQUOTA: APPEND, MULTIAPPEND, COPY; MOVE allowed
inst.write("etc/quota", "demo@example.test 20\n")
c, r = login()
n0 = status(c)
unt, r = append(c, msg_of(8 * 1024))
t.like(r, r"^a NO \[OVERQUOTA\]", "APPEND that would go over 20 KiB: NO [OVERQUOTA] (RFC 9208 4.3)")
t.is_(status(c), n0, "and the message is not stored")
t.is_(len(os.listdir(os.path.join(MD, "tmp"))), 0, "nor left in tmp/")
unt, r = append(c, msg_of(6 * 1024))
t.like(r, r"^a OK ", "APPEND within the limit: OK")
m1, m2 = msg_of(300), msg_of(2000)
c.send(b"a APPEND INBOX {%d+}\r\n" % len(m1) + m1 + b" {%d+}\r\n" % len(m2) + m2 + b"\r\n")
unt, r = c.until("a")
t.like(r, r"^a NO \[OVERQUOTA\]", "MULTIAPPEND whose second message goes over: NO [OVERQUOTA]")
t.is_(status(c), n0 + 1, "and neither message is stored (all or none)")
c.cmd("SELECT INBOX")
unt, r = c.cmd("COPY 1 Other")
t.like(r, r"^t\d+ NO \[OVERQUOTA\]", "COPY that would go over: NO [OVERQUOTA]")
t.is_(status(c, "Other"), 1, "nothing copied")
unt, r = c.cmd("COPY 1 INBOX")
t.like(r, r"^t\d+ NO \[OVERQUOTA\]", "COPY into the same folder counts too")
q, r = quota(c)
t.is_(q, ['* QUOTA "" (STORAGE 19 20)'], "at 19 of 20 KiB")
# REPLACE counts what the new message adds beyond the old one's size
unt, r = c.cmd("FETCH * (RFC822.SIZE)")
old = int(re.search(r"RFC822.SIZE (\d+)", unt[0]).group(1))
big = msg_of(old + 2048)
c.send(b"r1 REPLACE * INBOX {%d+}\r\n" % len(big) + big + b"\r\n")
unt, r = c.until("r1")
t.like(r, r"^r1 NO \[OVERQUOTA\]", "REPLACE by a message 2 KiB larger at 19 of 20 KiB: NO [OVERQUOTA] (RFC 8508 with 9208 4.3)")
t.ok(not any("EXPUNGE" in u for u in unt) and status(c) == n0 + 1, "and the old message stays", unt)
same = msg_of(old, b"z")
c.send(b"r2 REPLACE * INBOX {%d+}\r\n" % len(same) + same + b"\r\n")
unt, r = c.until("r2")
t.like(r, r"^r2 OK ", "REPLACE by a message of the same size at the limit: OK (the usage does not grow)")
q, r = quota(c)
t.is_(q, ['* QUOTA "" (STORAGE 19 20)'], "still 19 KiB after it")
unt, r = c.cmd("MOVE 1 Other")
t.like(r, r"^t\d+ OK ", "MOVE between the user's folders at the limit: OK (the usage does not change)")
q, r = quota(c)
t.is_(q, ['* QUOTA "" (STORAGE 19 20)'], "still 19 KiB after the MOVE")
c.cmd("SELECT Other")
unt, r = c.cmd("STORE 1:* +FLAGS (\\Deleted)")
c.cmd("EXPUNGE")
q, r = quota(c)
t.is_(q, ['* QUOTA "" (STORAGE 9 20)'], "EXPUNGE gives the room back")
unt, r = c.cmd("COPY 1 INBOX")
c.cmd("LOGOUT")

# --- MESSAGE
inst.write("etc/quota", "*  -  4\n")
c, r = login()
q, r = quota(c)
t.ok(len(q) == 1 and re.match(r'^\* QUOTA "" \(MESSAGE (\d+) 4\)$', q[0]), 'a "*" line with a MESSAGE limit only: * QUOTA "" (MESSAGE n 4)', q)
used = int(re.search(r"MESSAGE (\d+)", q[0]).group(1)) if q else 0
ok = True
for i in range(4 - used):
    unt, r = append(c, msg_of(100))
    ok = ok and r.startswith("a OK")
t.ok(ok, "APPEND up to the message count")
unt, r = append(c, msg_of(100))
t.like(r, r"^a NO \[OVERQUOTA\]", "one more message: NO [OVERQUOTA]")
q, r = quota(c)
t.is_(q, ['* QUOTA "" (MESSAGE 4 4)'], "MESSAGE 4 4")
c.cmd("LOGOUT")

# --- a line that does not parse
inst.write("etc/quota", "demo@example.test lots\n")
c, r = login()
unt, r = append(c, msg_of(100))
t.like(r, r"^a NO \[UNAVAILABLE\]", "etc/quota that does not parse: APPEND NO [UNAVAILABLE]")
q, r = quota(c)
t.like(r, r"^t\d+ NO \[UNAVAILABLE\]", "and GETQUOTA NO [UNAVAILABLE]")
c.cmd("LOGOUT")

# --- deliver
def deliver(env=None):
    r = inst.run(["deliver", "-f", "a@remote.test", "demo@example.test"], input=b"Subject: d\n\n" + b"q" * 4000 + b"\n", env=env)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def newfiles():
    return len(os.listdir(os.path.join(MD, "new")))


rc, out, err = deliver()
t.is_((rc, out.split(" ")[0]), (111, "4.3.5"), "deliver with an etc/quota that does not parse: 111 4.3.5")
inst.write("etc/quota", "demo@example.test 20\n")   # 9 KiB used
n = newfiles()
rc, out, err = deliver()
t.is_((rc, out), (0, ""), "deliver within the quota: 0")
rc, out, err = deliver()
t.is_((rc, out), (0, ""), "and again (17 KiB)")
rc, out, err = deliver()
t.is_((rc, out), (111, "4.2.2 mailbox full: over quota\n"), "over the quota: 111, 4.2.2 mailbox full")
t.is_(newfiles(), n + 2, "nothing more in new/")
t.is_(os.listdir(os.path.join(MD, "tmp")), [], "nothing left in tmp/")
rc, out, err = deliver(env={"DELIVER_OVERQUOTA": "bounce"})
t.is_((rc, out), (100, "5.2.2 mailbox full: over quota\n"), "DELIVER_OVERQUOTA=bounce: 100, 5.2.2")
rc, out, err = deliver(env={"DELIVER_OVERQUOTA": "maybe"})
t.is_((rc, out.split(" ")[0]), (111, "4.3.5"), "DELIVER_OVERQUOTA of another value: 111 4.3.5")
r = inst.run(["deliver", "-f", "a@remote.test", "demo+Other@example.test"], input=b"Subject: d\n\n" + b"q" * 4000 + b"\n")
t.is_(r.returncode, 111, "+detail into a folder: the same user's quota")
r = inst.run(["deliver", "-f", "a@remote.test", "other@example.test"], input=b"Subject: d\n\nhi\n")
t.is_(r.returncode, 0, "another user without a line: no limit")

# through queue-run: deferred, kept, delivered once there is room
def queue(body):
    env = b"Fa@remote.test\0Tdemo@example.test\0\0"
    rfd, wfd = os.pipe()
    os.write(wfd, env)
    os.close(wfd)
    r = subprocess.run(inst.asuser + [os.path.join(ternlib.BUILD, "queue-add")], env=inst.env, input=body,
                       stdout=rfd, stderr=subprocess.PIPE)
    os.close(rfd)
    return r.returncode


qr = inst.queue_run(env={"QUEUE_RETRY": "1", "QUEUE_RESCAN": "1"})
t.is_(queue(b"Subject: queued\n\n" + b"w" * 4000 + b"\n"), 0, "a message queued for demo, over the quota")
time.sleep(3)
t.ok(inst.queue_files() != [], "after attempts, it is still in the queue (deferred, not bounced)", inst.queue_files())
t.is_(newfiles(), n + 2, "and not delivered")
r = inst.run(["mailq"])
t.like(r.stdout.decode(errors="replace"), r"4\.2\.2 .*mailbox full: over quota", "mailq shows why: 4.2.2 mailbox full")
inst.write("etc/quota", "demo@example.test 100\n")
t.ok(inst.wait_queue_empty(timeout=20), "room made: the next attempt delivers it")
t.is_(newfiles(), n + 3, "into new/")
t.done()
