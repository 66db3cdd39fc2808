#!/usr/bin/python3
# End to end through the demo stack (bin/tern-up): a message sent over
# SMTP is delivered, then retrieved and deleted over the pop3 service
# (tcpserver as root, pop3-login, pwcheck, pop3-serve as ternmail).

import os
import poplib
import pwd
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
stack = ternlib.Pop3Stack(t)
t.ok(os.path.exists(stack.path("service", "pop3", "run")), "tern-setup made the pop3 service")
run = open(stack.path("service", "pop3", "run")).read()
t.ok("pop3-login" in run and "pwcheck" in run and "pop3-serve" in run and " %d" % stack.pop3_port in run,
     "tcpserver ... pop3-login pwcheck pop3-serve")

s = smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=30)
s.sendmail("someone@remote.test", ["demo@example.test"], b"From: someone@remote.test\r\nSubject: over pop3\r\n\r\nhello through the stack\r\n.dot\r\n")
s.quit()
got = stack.wait_mail("example.test/demo", 1)
t.is_(len(got), 1, "delivered into the Maildir")

p = poplib.POP3("127.0.0.1", stack.pop3_port, timeout=30)
t.like(p.user("demo@example.test").decode(), r"^\+OK", "USER")
t.like(p.pass_("demo").decode(), r"^\+OK Logged in, 1 messages", "PASS: logged in through pwcheck")
if ternlib.is_root():
    serve = [int(x) for x in os.listdir("/proc") if x.isdigit() and ternlib.proc_comm(int(x)) == "pop3-serve"]
    mine = []
    for pid in serve:
        try:
            if os.readlink("/proc/%d/cwd" % pid).startswith(stack.root):
                mine.append(pid)
        except OSError:
            pass
    t.ok(len(mine) == 1 and ternlib.proc_uids(mine[0]) == [pwd.getpwnam("ternmail").pw_uid] * 4,
         "pop3-serve runs as ternmail, the owner of the mailboxes")
else:
    t.ok(True, "# SKIP the uid check needs root")
n, size = p.stat()
lines = p.retr(1)[1]
t.ok(b"Subject: over pop3" in lines and lines[-2:] == [b"hello through the stack", b".dot"], "RETR: the message as delivered", lines)
t.is_(sum(len(l) + 2 for l in lines), size, "its size as STAT said")
p.dele(1)
p.quit()
t.is_(stack.maildir_files("example.test/demo", "new") + stack.maildir_files("example.test/demo", "cur"), [], "deleted at QUIT")
t.ok(any(m in stack.log("pop3") for m in ("pwcheck: info: ok user=demo@example.test", "result=ok")), "the pop3 log has the login")

p = poplib.POP3("127.0.0.1", stack.pop3_port, timeout=30)
p.user("demo@example.test")
try:
    p.pass_("wrong")
    t.ok(False, "a wrong password is refused")
except poplib.error_proto as e:
    t.like(str(e), r"-ERR \[AUTH\]", "a wrong password is refused with [AUTH]")
p.quit()

t.done()
