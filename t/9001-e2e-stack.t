#!/usr/bin/python3
# 9001: the whole stack as `make run` starts it (bin/tern-up under
# s6-svscan): SMTP in, the queue over its s6-sudo hops, local delivery,
# sendmail, mailq, who owns what, and a clean stop.
import os, pwd, re, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
stack = ternlib.FullStack(t)
port = stack.smtp_port
root = os.geteuid() == 0

# --- SMTP in, delivered to the Maildir
r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--to", "demo@example.test",
                    "--from", "alice@sender.test", "--h-Subject", "e2e one", "--body", "hello from swaks"],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
out = r.stdout.decode(errors="replace")
t.like(out, r"<-  250 2\.0\.0", "swaks: the message is accepted with 250 2.0.0")
msgs = stack.wait_mail("example.test/demo", 1)
t.is_(len(msgs), 1, "it is in demo's Maildir new/")
m = msgs[0].decode(errors="replace") if msgs else ""
t.like(m, r"^Return-Path: <alice@sender\.test>\n", "Return-Path first, with the envelope sender")
t.like(m, r"\nDelivered-To: demo@example\.test\n", "Delivered-To names the recipient")
t.like(m, r"\nReceived: from [^\n]*\[127\.0\.0\.1\]\)\n\tby ", "a Received: line with the client's address")
t.like(m, r"\n\nhello from swaks\n", "the body, with LF line ends")

# --- several recipients, an alias, postmaster, refusals
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.test")
s.mail("bob@sender.test")
t.is_(s.rcpt("demo@example.test")[0], 250, "RCPT to a user: 250")
t.is_(s.rcpt("Postmaster@Example.TEST")[0], 250, "RCPT to postmaster, any case: 250")
code, text = s.rcpt("nobody@example.test")
t.ok(code == 550 and b"5.1.1" in text, "RCPT to an unknown user: 550 5.1.1", (code, text))
code, data = s.data(b"Subject: two\r\n\r\nto demo and postmaster\r\n")
t.is_(code, 250, "DATA accepted")
s.quit()
msgs = stack.wait_mail("example.test/demo", 3)
t.is_(len(msgs), 3, "demo got it twice: directly and as postmaster's alias")
t.ok(any(re.search(rb"\nDelivered-To: postmaster@example\.test\n", x, re.I) for x in msgs),
     "the postmaster copy says so in Delivered-To")

# --- sendmail -t from a script, Date: and Message-ID: added
script = os.path.join(stack.root, "cronjob.sh")
with open(script, "w") as f:
    f.write("#!/bin/sh\nprintf 'To: demo@example.test\\nSubject: from cron\\n\\nbackup done\\n' | "
            "TERN_ROOT=%s TERN_LIBEXEC=%s/libexec %s/libexec/sendmail -t\n" % (stack.root, stack.root, stack.root))
os.chmod(script, 0o755)
r = subprocess.run([script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
t.is_(r.returncode, 0, "sendmail -t from a script exits 0")
msgs = stack.wait_mail("example.test/demo", 4)
cron = [x.decode(errors="replace") for x in msgs if b"Subject: from cron" in x]
t.ok(len(cron) == 1, "the script's message arrived")
c = cron[0] if cron else ""
t.like(c, r"\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n", "sendmail added a Date:")
t.like(c, r"\nMessage-ID: <[^@>\s]+@[^>\s]+>\n", "sendmail added a Message-ID:")

# --- queue-run down: mail is still accepted, mailq shows it, delivered once it is back
stack.svc("-wd", "-T", "20000", "-d", stack.path("service", "queue-run"))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail("carol@sender.test", ["demo@example.test"], b"Subject: while down\r\n\r\nqueued\r\n")
s.quit()
time.sleep(0.5)
q = stack.run(["mailq"])
qo = q.stdout.decode(errors="replace")
t.ok(q.returncode == 0 and "<carol@sender.test>" in qo and "<demo@example.test> queued" in qo,
     "mailq lists the waiting message and its recipient", qo + q.stderr.decode(errors="replace"))
qj = stack.run(["mailq", "-j"])
import json
try:
    objs = [json.loads(line) for line in qj.stdout.decode().splitlines() if line.strip()]
except ValueError as e:
    objs = []
t.ok(len(objs) == 1 and objs[0]["sender"] == "carol@sender.test"
     and objs[0]["recipients"] == [{"address": "demo@example.test", "status": "queued"}]
     and objs[0]["size"] > 0 and objs[0]["arrival"] > 0, "mailq -j: one JSON object per message", qj.stdout)
if root:
    qf = stack.queue_files()
    owner = pwd.getpwuid(os.stat(stack.path("queue", "incoming", qf[0])).st_uid).pw_name if qf else None
    t.is_(owner, "ternq", "the queue file belongs to ternq")
stack.svc("-u", stack.path("service", "queue-run"))
msgs = stack.wait_mail("example.test/demo", 5)
t.ok(any(b"Subject: while down" in x for x in msgs), "delivered once queue-run is back")
t.ok(stack.wait_queue_empty(), "the queue is empty again")
t.like(stack.run(["mailq"]).stdout.decode(), r"Mail queue is empty", "mailq says so")

# --- least privilege
if root:
    files = stack.maildir_files("example.test/demo")
    owners = set(pwd.getpwuid(os.stat(f).st_uid).pw_name for f in files)
    t.is_(owners, {"ternmail"}, "mailbox files belong to ternmail")
    ps = subprocess.run(["ps", "-eo", "user:20,args"], stdout=subprocess.PIPE).stdout.decode()
    mine = [l for l in ps.splitlines() if stack.root in l]
    def user_of(pattern):
        return set(l.split()[0] for l in mine if re.search(pattern, l))
    t.is_(user_of(r"libexec/queue-run$"), {"ternq"}, "queue-run runs as ternq")
    # in front of tlsd (a certificate in etc/tls/), tcpserver stays root
    # for tlsd, whose engine reads the key, then drops to terntls
    tlsd = bool(user_of(r"tcpserver .*tlsd -u"))
    t.is_(user_of(r"tcpserver .*smtp-recv"), {"root"} if tlsd else {"ternd"},
          "the SMTP listener runs as %s" % ("root, for tlsd" if tlsd else "ternd"))
    t.is_(user_of(r"s6-log"), {"ternlog"}, "loggers run as ternlog")
    # a connection in progress: smtp-recv itself
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    ps = subprocess.run(["ps", "-eo", "user:20,args"], stdout=subprocess.PIPE).stdout.decode()
    t.ok(any(l.split()[0] == "ternd" and l.rstrip().endswith("libexec/smtp-recv") for l in ps.splitlines()),
         "smtp-recv runs as ternd, never root")
    s.quit()
else:
    t.diag("not root: the privilege checks need the tern users")

# --- logs
t.like(stack.log("smtp"), r"smtp-recv: info: .*result=250", "the smtp log has the transaction")
t.like(stack.log("queue-run"), r"queue-run: info: delivered id=\S+ rcpt=<demo@example.test>", "queue-run logs each delivery")

# --- a clean stop
stack.stop()
time.sleep(0.5)
ps = subprocess.run(["ps", "-eo", "args"], stdout=subprocess.PIPE).stdout.decode()
t.ok(not any(stack.root in l for l in ps.splitlines()), "SIGTERM to tern-up stops every process")
t.done()
