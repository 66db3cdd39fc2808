#!/usr/bin/python3
# smtp-send against Postfix: its test server smtp-sink (dumping what it
# received, refusing or dropping commands on request), and a private
# Postfix instance (postfix -c DIR, smtpd on a loopback port, virtual(8)
# delivery into a Maildir). Each part skips when its peer is missing.
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript

t = ternlib.TAP()
if not shutil.which("smtp-sink") and not os.path.exists("/usr/sbin/smtp-sink"):
    t.skip_all("Postfix's smtp-sink is not installed")
SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
cl = smtpscript.Client(t)
work = tempfile.mkdtemp(prefix="postfix-", dir=ternlib.TRASH)
os.chmod(work, 0o755)
procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    if not os.environ.get("TERN_KEEP"):
        shutil.rmtree(work, ignore_errors=True)


t.at_exit(cleanup)


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def sink(*opts):
    """smtp-sink on a free port, dumping each transaction into a directory of its own."""
    d = tempfile.mkdtemp(dir=work)
    os.chmod(d, 0o777)
    port = smtpscript.free_port()
    argv = [SINK] + (["-u", "nobody"] if os.geteuid() == 0 else []) + ["-d", d + "/msg."] + list(opts) + ["127.0.0.1:%d" % port, "10"]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    if not wait_port(port):
        raise RuntimeError("smtp-sink did not start")
    return port, d


def dumps(d, n=1, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        files = sorted(glob.glob(d + "/msg.*"))
        if len(files) >= n:
            time.sleep(0.2)
            return [open(f, "rb").read() for f in files]
        time.sleep(0.05)
    return []


def send(port, rcpts, body=b"Subject: sink\n\nhello\n", opts=()):
    return cl.send(["-f", "a@b.test"] + list(opts) + ["-H", "127.0.0.1:%d" % port, "--"] + list(rcpts), body=body)


# -- smtp-sink --
port, d = sink()
body = b"Subject: to the sink\n\n.leading dot\nd\xc3\xa9j\xc3\xa0\n"
code, out, err = send(port, ["bob@x.test\tNOTIFY=SUCCESS,FAILURE", "carol@y.test"], body=body,
                      opts=["-o", "RET=FULL", "-o", "BODY=8BITMIME"])
t.is_(code, 0, "smtp-sink: exit 0")
t.ok(len(out) == 2 and all(l.startswith("ok ") and " 250 2.0.0 Ok" in l for l in out), "smtp-sink: ok lines with its 250", out)
dump = dumps(d)
t.ok(len(dump) == 1, "smtp-sink dumped one transaction")
dump = dump[0] if dump else b""
t.ok(b"X-Mail-Args: <a@b.test> BODY=8BITMIME RET=FULL\n" in dump,
     "smtp-sink saw MAIL with BODY=8BITMIME and RET (it offers 8BITMIME and DSN, not SIZE)", dump[:400])
t.ok(b"X-Rcpt-Args: <bob@x.test> NOTIFY=SUCCESS,FAILURE\n" in dump and b"X-Rcpt-Args: <carol@y.test>\n" in dump,
     "smtp-sink saw both RCPTs, NOTIFY on the first")
t.ok(b"\n.leading dot\nd\xc3\xa9j\xc3\xa0\n" in dump.replace(b"\r\n", b"\n"), "smtp-sink got the message, dot unstuffed, 8-bit intact")

port, d = sink("-8", "-N")
code, out, err = send(port, ["bob@x.test\tNOTIFY=SUCCESS"], body=body, opts=["-o", "RET=FULL"])
dump = dumps(d)
dump = dump[0].replace(b"\r\n", b"\n") if dump else b""
t.ok(code == 0 and b"Content-Transfer-Encoding: quoted-printable\n" in dump and b"d=C3=A9j=C3=A0" in dump,
     "smtp-sink -8 (no 8BITMIME): the body arrives quoted-printable", dump)
t.ok(b"X-Mail-Args: <a@b.test>\n" in dump and b"RET=" not in dump and b"BODY=" not in dump and b"NOTIFY" not in dump,
     "smtp-sink -N (no DSN): no RET, no NOTIFY; no BODY without 8BITMIME")

port, d = sink("-f", "RCPT")
code, out, err = send(port, ["bob@x.test"])
t.ok(code == 0 and len(out) == 1 and out[0].startswith("fail bob@x.test 5"), "smtp-sink -f RCPT: fail with its 5xx", out)
port, d = sink("-r", "MAIL")
code, out, err = send(port, ["bob@x.test"])
t.ok(code == 111 and len(out) == 1 and out[0].startswith("defer bob@x.test 4"), "smtp-sink -r MAIL: deferred, exit 111", out)
port, d = sink("-q", "DATA")
code, out, err = send(port, ["bob@x.test"])
t.ok(len(out) == 1 and out[0].startswith("defer bob@x.test 4.4.2 ") and "connection closed during DATA" in out[0],
     "smtp-sink -q DATA (drops the connection): deferred, 4.4.2", out)

# -- a private Postfix instance --
postfix = shutil.which("postfix") or ("/usr/sbin/postfix" if os.path.exists("/usr/sbin/postfix") else None)
if os.geteuid() != 0 or not postfix or not os.path.isdir("/usr/lib/postfix/sbin"):
    t.diag("skipping the private Postfix instance: needs root and the postfix package")
    t.done()
try:
    pw = pwd.getpwnam("postfix")
except KeyError:
    t.diag("skipping the private Postfix instance: no postfix user")
    t.done()

pf = os.path.join(work, "pf")
for sub in ("conf", "queue", "data", "mail"):
    os.makedirs(os.path.join(pf, sub))
os.chmod(pf, 0o755)
os.chown(os.path.join(pf, "data"), pw.pw_uid, pw.pw_gid)
os.chmod(os.path.join(pf, "data"), 0o700)
nobody = pwd.getpwnam("nobody")
os.chown(os.path.join(pf, "mail"), nobody.pw_uid, nobody.pw_gid)
pport = smtpscript.free_port()
with open(os.path.join(pf, "conf", "main.cf"), "w") as f:
    f.write("""compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = pf.example.test
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = example.test
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = texthash:{d}/conf/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
default_transport = error:outbound mail is disabled in this test
relay_transport = error:outbound mail is disabled in this test
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
message_size_limit = 100000
""".format(d=pf, uid=nobody.pw_uid, gid=nobody.pw_gid))
with open(os.path.join(pf, "conf", "vmailbox"), "w") as f:
    f.write("bob@example.test example.test/bob/\ncarol@example.test example.test/carol/\n")
with open(os.path.join(pf, "conf", "master.cf"), "w") as f:
    f.write("127.0.0.1:%d inet n - n - - smtpd\n" % pport)
    for line in ("pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
                 "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
                 "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify", "flush unix n - n 1000? 0 flush",
                 "proxymap unix - - n - - proxymap", "smtp unix - - n - - smtp", "relay unix - - n - - smtp",
                 "showq unix n - n - - showq", "error unix - - n - - error", "retry unix - - n - - error",
                 "discard unix - - n - - discard", "virtual unix - n n - - virtual", "anvil unix - - n - 1 anvil",
                 "scache unix - - n - 1 scache", "postlog unix-dgram n - n - 1 postlogd"):
        f.write(line + "\n")
conf = os.path.join(pf, "conf")
r = subprocess.run([postfix, "-c", conf, "start"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
if r.returncode != 0 or not wait_port(pport):
    t.diag("skipping the private Postfix instance: it did not start: " + r.stdout.decode(errors="replace"))
    t.done()
t.at_exit(lambda: subprocess.run([postfix, "-c", conf, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

body = b"From: a@b.test\nSubject: to postfix\n\n.dot line\nd\xc3\xa9j\xc3\xa0 vu\n"
code, out, err = cl.send(["-f", "a@b.test", "-o", "BODY=8BITMIME", "-H", "127.0.0.1:%d" % pport, "--",
                          "bob@example.test\tNOTIFY=FAILURE ORCPT=rfc822;bob@example.test", "nobody@example.test", "carol@example.test"],
                         body=body)
t.is_(code, 0, "Postfix: exit 0")
t.ok(len(out) == 3 and out[0].startswith("ok bob@example.test 250 2.0.0 Ok: queued as ")
     and out[1].startswith("fail nobody@example.test 550 5.1.1 <nobody@example.test>: Recipient address rejected")
     and out[2].startswith("ok carol@example.test 250 2.0.0 Ok: queued as "),
     "Postfix: ok, fail (unknown user, 550 5.1.1), ok", out)
got = []
end = time.time() + 15
while time.time() < end and len(got) < 2:
    got = glob.glob(os.path.join(pf, "mail", "example.test", "*", "new", "*"))
    time.sleep(0.1)
t.is_(len(got), 2, "Postfix delivered into two Maildirs")
m = open(got[0], "rb").read() if got else b""
t.ok(m.endswith(b"\n\n.dot line\nd\xc3\xa9j\xc3\xa0 vu\n") and b"Subject: to postfix" in m,
     "the message arrived intact (dot unstuffed, 8-bit kept)", m)

code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % pport, "--", "bob@example.test"],
                         body=b"Subject: big\n\n" + b"z" * 200000 + b"\n")
t.ok(code == 0 and out and out[0].startswith("fail bob@example.test 5.3.4 message size 200018 exceeds the limit of 100000 octets"),
     "Postfix's SIZE 100000: refused before sending, 5.3.4", out)
t.done()
