#!/usr/bin/python3
# 9100: mail between hosts, the way it crosses the Internet. Three network
# namespaces on a bridge: blue (a whole tern stack, blue.test), red (another
# one, red.test and red2.test) and a hub running the DNS server that answers
# MX, A and AAAA. alice@blue.test writes to red through blue's smtp-recv;
# blue's queue-run looks the MX up and smtp-send carries the message.
import os, re, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib, netns

t = ternlib.TAP()
why = netns.usable()
if why:
    t.skip_all(why)
if not os.path.exists(os.path.join(ternlib.BUILD, "smtp-send")):
    t.skip_all("smtp-send is not built")

net = netns.Net(t, ["blue", "red"])
dead = "10.%d.0.9" % net.net          # on the hub's bridge: nothing listens on port 25
net.nsrun(net.hub, ["ip", "addr", "add", dead + "/24", "dev", "br0"])
net.dns({
    "blue.test": {"MX": [[10, "mx.blue.test"]]},
    "mx.blue.test": {"A": [net.ip("blue")]},
    "red.test": {"MX": [[10, "mx.red.test"]]},
    "mx.red.test": {"A": [net.ip("red")]},
    "red2.test": {"MX": [[10, "dead.red.test"], [20, "mx.red.test"]]},
    "dead.red.test": {"A": [dead]},
    "slow.test": {"MX": [[10, "dead.red.test"]]},
    "nullmx.test": {"MX": [[0, "."]]},
})
blue = net.stack("blue", envdir={"QUEUE_RETRY": 2, "QUEUE_RESCAN": 2, "QUEUE_WARN": 5, "QUEUE_LIFETIME": 14,
                                 "SMTPSEND_TIMEOUT": 10, "SMTPSEND_CONNECT_TIMEOUT": 3},
                 users=[("alice@blue.test", "pw")], aliases="alice@blue.test")
red = net.stack("red", domains=["red.test", "red2.test"], envdir={"QUEUE_RETRY": 2, "QUEUE_RESCAN": 2},
                users=[("bob@red.test", "pw"), ("carol@red2.test", "pw")], aliases="bob@red.test")


def send(rcpt, subject, notify=None, sender="alice@blue.test"):
    """From inside blue, through blue's smtp-recv (loopback: a relay client)."""
    opts = "['NOTIFY=%s']" % notify if notify else "[]"
    code = ("import smtplib\n"
            "s = smtplib.SMTP('127.0.0.1', 25, timeout=30)\n"
            "s.ehlo('client.blue.test')\n"
            "s.mail(%r)\n"
            "c, m = s.rcpt(%r, %s)\n"
            "assert c == 250, (c, m)\n"
            "c, m = s.data(b'From: alice@blue.test\\r\\nTo: %s\\r\\nSubject: %s\\r\\n\\r\\nhello red\\r\\n')\n"
            "assert c == 250, (c, m)\n"
            "s.quit()\n") % (sender, rcpt, opts, rcpt, subject)
    r = net.run("blue", ["/usr/bin/python3", "-c", code])
    return r.returncode == 0, r.stderr.decode(errors="replace")


def subject(s):
    return lambda m: ("\nSubject: %s\n" % s).encode() in m


def reports(kind, about):
    """alice's reports with Action: kind mentioning about."""
    return lambda m: b"Content-Type: multipart/report" in m and ("Action: %s" % kind).encode() in m \
        and about.encode() in m


# --- the classic case
ok, err = send("bob@red.test", "one")
t.ok(ok, "blue's smtp-recv accepts alice's message for bob@red.test", err)
got = red.wait_mail("bob", 1, pred=subject("one"))
t.is_(len(got), 1, "it is in bob's Maildir on red")
m = got[0].decode(errors="replace") if got else ""
t.like(m, r"Received: from mx\.blue\.test \(\[%s\]\)" % re.escape(net.ip("blue")),
       "red's Received line names blue's address")
t.like(blue.log("queue-run"), r"delivered id=\S+ rcpt=<bob@red\.test> remote=250", "blue's log has the remote 250")

# --- red down: the message waits, and goes when red is back
red.svc("-wd", "-T", "20000", "-d", red.path("service", "smtp"))
ok, err = send("bob@red.test", "two")
t.ok(ok, "accepted while red is down", err)
deferred = False
end = time.time() + 30
while time.time() < end and not deferred:
    for q in blue.mailq():
        if any(r["status"] == "deferred" for r in q["recipients"]):
            deferred = True
    time.sleep(0.3)
t.ok(deferred, "blue's mailq shows it deferred")
red.svc("-u", red.path("service", "smtp"))
got = red.wait_mail("bob", 1, pred=subject("two"))
t.is_(len(got), 1, "delivered once red is back")

# --- red refuses the recipient: alice gets a bounce naming the reason
ok, err = send("nobody@red.test", "three")
t.ok(ok, "accepted by blue", err)
b = blue.wait_mail("alice", 1, pred=reports("failed", "nobody@red.test"))
t.is_(len(b), 1, "alice gets a failure report")
bm = b[0].decode(errors="replace") if b else ""
t.like(bm, r"Diagnostic-Code: smtp; 550 5\.1\.1", "it carries red's 550 5.1.1")
t.like(bm, r"Status: 5\.1\.1", "and the status 5.1.1")
t.like(bm, r"\nSubject: three\n", "and the original headers")
t.like(bm, r"^Return-Path: <>\n", "from the null sender")

# --- two MX records, the first dead: the second gets it
ok, err = send("carol@red2.test", "four")
t.ok(ok, "accepted for red2.test", err)
d = red.path("mail", "red2.test", "carol", "new")
end = time.time() + 60
while time.time() < end and not (os.path.isdir(d) and os.listdir(d)):
    time.sleep(0.2)
t.ok(os.path.isdir(d) and len(os.listdir(d)) == 1, "the second MX (red) received it for carol@red2.test")

# --- null MX and a nonexistent domain bounce at once
start = time.time()
send("x@nullmx.test", "five")
send("y@nxd.test", "six")
b1 = blue.wait_mail("alice", 1, pred=reports("failed", "x@nullmx.test"), timeout=30)
b2 = blue.wait_mail("alice", 1, pred=reports("failed", "y@nxd.test"), timeout=30)
t.ok(len(b1) == 1 and len(b2) == 1, "null MX and NXDOMAIN: failure reports")
t.ok(not re.search(r"deferred id=\S+ rcpt=<(x@nullmx|y@nxd)\.test>", blue.log("queue-run")),
     "at once: never deferred, no retry schedule")
t.like(b1[0].decode(errors="replace") if b1 else "", r"Status: 5\.", "a permanent status for the null MX")

# --- nobody answers: a delay warning, then a bounce
send("z@slow.test", "seven")
w = blue.wait_mail("alice", 1, pred=reports("delayed", "z@slow.test"), timeout=40)
t.is_(len(w), 1, "a delay warning after QUEUE_WARN")
f = blue.wait_mail("alice", 1, pred=reports("failed", "z@slow.test"), timeout=60)
t.is_(len(f), 1, "then a failure report after QUEUE_LIFETIME")
t.like(f[0].decode(errors="replace") if f else "", r"Status: 4\.4\.7", "expired: 4.4.7")

# --- DSN: NOTIFY=SUCCESS,DELAY honoured; NOTIFY=NEVER silences the bounce
ok, err = send("bob@red.test", "eight", notify="SUCCESS,DELAY")
t.ok(ok, "NOTIFY=SUCCESS,DELAY accepted", err)
s = blue.wait_mail("alice", 1, pred=reports("delivered", "bob@red.test"), timeout=60)
t.is_(len(s), 1, "red reports the delivery to alice (NOTIFY passed on through DSN)")
ok, err = send("nobody@red.test", "nine", notify="NEVER")
time.sleep(8)
t.is_([m for m in blue.mail("alice") if b"\nSubject: nine\n" in m], [],
      "NOTIFY=NEVER: no report for a refused recipient")
t.done()
