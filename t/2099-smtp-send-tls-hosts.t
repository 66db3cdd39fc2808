#!/usr/bin/python3
# smtp-send's STARTTLS between two tern stacks on test hosts (network
# namespaces, t/netns.py): red's SMTP service runs smtp-recv behind tlsd -u
# with the self-signed certificate tern-setup made for mx.red.test; blue's
# queue-run hands alice's mail to smtp-send, which finds red through DNS.
# The message arrives with ESMTPS in red's Received: line and blue's log
# says verified=no (self-signed); with red's certificate as blue's trust
# anchor and "verify" in blue's etc/tls-policy it says verified=yes; an
# exchanger name the certificate does not carry is refused under verify
# (the message waits, 4.7.5) and delivered once the policy says encrypt.
import os
import re
import shutil
import sys
import tempfile
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib
import netns
import smtpscript

t = ternlib.TAP()
why = netns.usable()
if why:
    t.skip_all(why)
for prog in ("smtp-send", "tlsd"):
    if not os.path.exists(os.path.join(ternlib.BUILD, prog)):
        t.skip_all("%s is not built" % prog)
if not shutil.which("openssl"):
    t.skip_all("no openssl: tern-setup makes no certificate")

# blue's trust anchors: a file the test fills (ternr must read it)
os.makedirs(ternlib.TRASH, exist_ok=True)
adir = tempfile.mkdtemp(prefix="anchors-", dir=ternlib.TRASH)
os.chmod(adir, 0o755)
t.at_exit(lambda: shutil.rmtree(adir, ignore_errors=True))
certs = smtpscript.Certs(os.path.join(adir, "ca"))
anchors = os.path.join(adir, "anchors.pem")
shutil.copy(certs.ca, anchors)
os.chmod(anchors, 0o644)

net = netns.Net(t, ["blue", "red"])
net.dns({
    "blue.test": {"MX": [[10, "mx.blue.test"]]},
    "mx.blue.test": {"A": [net.ip("blue")]},
    "red.test": {"MX": [[10, "mx.red.test"]]},
    "mx.red.test": {"A": [net.ip("red")]},
    "red2.test": {"MX": [[10, "alias.red.test"]]},
    "alias.red.test": {"A": [net.ip("red")]},
})
blue = net.stack("blue", envdir={"QUEUE_RETRY": 2, "QUEUE_RESCAN": 2, "SMTPSEND_TIMEOUT": 10,
                                 "SMTPSEND_CONNECT_TIMEOUT": 3, "SMTPSEND_CAFILE": anchors},
                 users=[("alice@blue.test", "pw")], aliases="alice@blue.test")
red = net.stack("red", domains=["red.test", "red2.test"],
                users=[("bob@red.test", "pw"), ("carol@red2.test", "pw")], aliases="bob@red.test")
redcert = red.path("etc", "tls", "cert.pem")
t.ok(os.path.exists(redcert), "red has a certificate (tern-setup, self-signed for mx.red.test)")


def send(rcpt, subject):
    """From inside blue, through blue's smtp-recv (loopback: a relay client)."""
    code = ("import smtplib\n"
            "s = smtplib.SMTP('127.0.0.1', 25, timeout=30)\n"
            "s.sendmail('alice@blue.test', [%r], b'From: alice@blue.test\\r\\nTo: %s\\r\\nSubject: %s\\r\\n\\r\\nhello red\\r\\n')\n"
            "s.quit()\n") % (rcpt, rcpt, subject)
    r = net.run("blue", ["/usr/bin/python3", "-c", code])
    return r.returncode == 0, r.stderr.decode(errors="replace")


def subject(s):
    return lambda m: ("\nSubject: %s\n" % s).encode() in m


def bluelog():
    return blue.log("queue-run") + blue.log("smtp-send")


def tlslines():
    return re.findall(r"smtp-send: info: tls host=\S+ .*", bluelog())


def wait_log(pattern, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        m = re.search(pattern, bluelog())
        if m:
            return m
        time.sleep(0.2)
    return None


# --- opportunistic: self-signed, encrypted anyway
ok, err = send("bob@red.test", "one")
t.ok(ok, "blue accepts alice's message for bob@red.test", err)
got = red.wait_mail("bob", 1, pred=subject("one"))
t.is_(len(got), 1, "it arrives in bob's Maildir on red")
m = got[0].decode(errors="replace") if got else ""
rx = re.search(r"Received: from mx\.blue\.test \(\[%s\]\)\n\tby mx\.red\.test \(tern\) with ESMTPS \(TLSv1\.2 (\S+)\)"
               % re.escape(net.ip("blue")), m)
t.ok(rx, "red's Received: line says ESMTPS (TLSv1.2 ...): it came over STARTTLS", m[:600])
line = wait_log(r"smtp-send: info: tls host=mx\.red\.test ip=%s protocol=TLSv1\.2 cipher=(\S+) verified=(\S+)( reason=(\S+))?"
                % re.escape(net.ip("red")))
t.ok(line, "blue's log has smtp-send's tls line for mx.red.test", bluelog()[-3000:])
t.ok(line and line.group(2) == "no" and line.group(4) == "untrusted", "verified=no reason=untrusted (self-signed)",
     line.group(0) if line else None)
t.ok(line and rx and line.group(1) == rx.group(1), "both sides name the same cipher (%s)" % (rx.group(1) if rx else None))

# --- red's own certificate as blue's anchor, and "verify" for red.test
shutil.copy(redcert, anchors)
os.chmod(anchors, 0o644)
with open(blue.path("etc", "tls-policy"), "w") as f:
    f.write("red.test verify\nred2.test verify\n")
n0 = len(tlslines())
ok, err = send("bob@red.test", "two")
got = red.wait_mail("bob", 1, pred=subject("two"))
t.is_(len(got), 1, "under verify, with red's certificate as the anchor: delivered")
m = wait_log(r"tls host=mx\.red\.test ip=\S+ protocol=TLSv1\.2 cipher=\S+ verified=yes")
t.ok(m and len(tlslines()) > n0, "blue's log: verified=yes", tlslines())

# --- a name the certificate does not carry: refused under verify, then encrypt
ok, err = send("carol@red2.test", "three")
t.ok(ok, "accepted by blue for carol@red2.test (MX alias.red.test)", err)
m = wait_log(r"tls host=alias\.red\.test ip=\S+ status=failed reason=name-mismatch")
t.ok(m, "under verify, alias.red.test's certificate (for mx.red.test) is refused: name-mismatch", tlslines())
deferred = wait_log(r"deferred id=\S+ rcpt=<carol@red2\.test> reason=4\.7\.5 .*")
t.ok(deferred, "the message waits in blue's queue, deferred 4.7.5 (queue-run's log)", bluelog()[-3000:])
t.is_(red.mail("carol"), [], "nothing reached red for carol")
with open(blue.path("etc", "tls-policy"), "w") as f:
    f.write("red.test verify\nred2.test encrypt\n")
d = red.path("mail", "red2.test", "carol", "new")
end = time.time() + 60
while time.time() < end and not (os.path.isdir(d) and os.listdir(d)):
    time.sleep(0.2)
t.ok(os.path.isdir(d) and len(os.listdir(d)) == 1, "with encrypt for red2.test, the next attempt delivers it")
t.ok(wait_log(r"tls host=alias\.red\.test ip=\S+ protocol=TLSv1\.2 cipher=\S+ verified=no reason=name-mismatch"),
     "encrypted, logged verified=no reason=name-mismatch")
t.done()
