#!/usr/bin/python3
# smtp-send's STARTTLS against a real MTA built on OpenSSL: a private
# Postfix instance (postfix -c DIR, smtpd on a loopback port with
# smtpd_tls_security_level=may, virtual(8) delivery into a Maildir) with a
# certificate from the test CA for "pf.example.test" (reached by that name
# through the test DNS server) or self-signed. The message arrives, Postfix's
# Received: line says which protocol and cipher it used, and smtp-send's
# log names the same. Skips without root or the postfix package.
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript
import dnsserver

t = ternlib.TAP()
postfix = shutil.which("postfix") or ("/usr/sbin/postfix" if os.path.exists("/usr/sbin/postfix") else None)
if os.geteuid() != 0 or not postfix or not os.path.isdir("/usr/lib/postfix/sbin"):
    t.skip_all("needs root and the postfix package")
try:
    pw = pwd.getpwnam("postfix")
except KeyError:
    t.skip_all("no postfix user")

dns = dnsserver.DNSServer({"pf.example.test": {"A": ["127.0.0.1"]}})
dns.start(t)
work = tempfile.mkdtemp(prefix="postfix-tls-", dir=ternlib.TRASH)
os.chmod(work, 0o755)
certs = smtpscript.Certs(os.path.join(work, "certs"))
cl = smtpscript.Client(t, env={"SMTPSEND_CAFILE": certs.ca, "DNSSERVER": "127.0.0.1:%d" % dns.port,
                               "RES_OPTIONS": "timeout:1 attempts:1"})
pf = os.path.join(work, "pf")
conf = os.path.join(pf, "conf")


def cleanup():
    subprocess.run([postfix, "-c", conf, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


for sub in ("conf", "queue", "data", "mail"):
    os.makedirs(os.path.join(pf, sub))
os.chmod(pf, 0o755)
os.chown(os.path.join(pf, "data"), pw.pw_uid, pw.pw_gid)
os.chmod(os.path.join(pf, "data"), 0o700)
nobody = pwd.getpwnam("nobody")
os.chown(os.path.join(pf, "mail"), nobody.pw_uid, nobody.pw_gid)
pport = smtpscript.free_port()
crt, key = certs.leaf("pf.example.test")
shutil.copy(crt, os.path.join(conf, "cert.pem"))
shutil.copy(key, os.path.join(conf, "key.pem"))
os.chmod(os.path.join(conf, "key.pem"), 0o600)


def main_cf(tlsopts):
    with open(os.path.join(conf, "main.cf"), "w") as f:
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
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
""".format(d=pf, uid=nobody.pw_uid, gid=nobody.pw_gid) + tlsopts)


main_cf("smtpd_tls_security_level = may\nsmtpd_tls_chain_files = {c}/key.pem, {c}/cert.pem\n".format(c=conf))
with open(os.path.join(conf, "vmailbox"), "w") as f:
    f.write("bob@example.test example.test/bob/\n")
with open(os.path.join(conf, "master.cf"), "w") as f:
    f.write("127.0.0.1:%d inet n - n - - smtpd\n" % pport)
    for line in ("pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup", "qmgr unix n - n 300 1 qmgr",
                 "tlsmgr unix - - n 1000? 1 tlsmgr",
                 "rewrite unix - - n - - trivial-rewrite", "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
                 "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify", "flush unix n - n 1000? 0 flush",
                 "proxymap unix - - n - - proxymap", "smtp unix - - n - - smtp", "relay unix - - n - - smtp",
                 "showq unix n - n - - showq", "error unix - - n - - error", "retry unix - - n - - error",
                 "discard unix - - n - - discard", "virtual unix - n n - - virtual", "anvil unix - - n - 1 anvil",
                 "scache unix - - n - 1 scache", "postlog unix-dgram n - n - 1 postlogd"):
        f.write(line + "\n")
r = subprocess.run([postfix, "-c", conf, "start"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
if r.returncode != 0 or not wait_port(pport):
    t.skip_all("Postfix did not start: " + r.stdout.decode(errors="replace"))


def mails():
    return sorted(glob.glob(os.path.join(pf, "mail", "example.test", "bob", "new", "*")))


def wait_mail(n, timeout=15):
    end = time.time() + timeout
    while time.time() < end and len(mails()) < n:
        time.sleep(0.1)
    got = mails()
    return open(got[n - 1], "rb").read().decode(errors="replace") if len(got) >= n else ""


def send(subject, host="pf.example.test"):
    return cl.send(["-f", "a@b.test", "-H", "%s:%d" % (host, pport), "--", "bob@example.test"],
                   body="From: a@b.test\nSubject: %s\n\nhello postfix\n" % subject)


def same_cipher(m, err):
    rx = re.search(r"\(using (TLSv1\.2) with cipher (\S+) ", m)
    lx = re.search(r"info: tls host=\S+ ip=127\.0\.0\.1 protocol=(TLSv1\.2) cipher=(\S+) ", err)
    return rx and lx and rx.groups() == lx.groups()


code, out, err = send("verified")
m = wait_mail(1)
t.ok(code == 0 and out[0].startswith("ok bob@example.test 250 2.0.0 Ok: queued as "), "Postfix over STARTTLS: ok, exit 0", (out, err))
t.like(err, r"info: tls host=pf\.example\.test ip=127\.0\.0\.1 protocol=TLSv1\.2 cipher=ECDHE-\S+ verified=yes",
       "smtp-send's log: TLS 1.2, ECDHE, the certificate verified for pf.example.test")
t.like(m, r"Received: from client\.test \(localhost \[127\.0\.0\.1\]\)\n\t\(using TLSv1\.2 with cipher ",
       "Postfix's Received: line says it came over TLS 1.2")
t.ok(same_cipher(m, err), "both sides name the same protocol and cipher", m[:500])
t.like(m, r"\n\nhello postfix\n$", "the message arrived intact")

code, out, err = send("by address", host="127.0.0.1")
m = wait_mail(2)
t.ok(code == 0 and re.search(r"tls host=127\.0\.0\.1 .* verified=no reason=no-host-name", err) and same_cipher(m, err),
     "-H 127.0.0.1: encrypted, verified=no reason=no-host-name", err)

# RSA and a self-signed certificate: Postfix reloads its configuration
crt, key = certs.selfsigned("pf.example.test", kind="rsa")
shutil.copy(crt, os.path.join(conf, "cert.pem"))
shutil.copy(key, os.path.join(conf, "key.pem"))
subprocess.run([postfix, "-c", conf, "reload"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
code, out, err = send("self-signed rsa")
m = wait_mail(3)
t.ok(code == 0 and re.search(r"tls host=pf\.example\.test .* cipher=ECDHE-RSA-\S+ verified=no reason=untrusted", err)
     and same_cipher(m, err), "a self-signed RSA certificate: ECDHE-RSA, verified=no reason=untrusted, delivered", (err, m[:400]))
cl.write("etc/tls-policy", "pf.example.test verify\n")
code, out, err = send("refused")
t.ok(code == 111 and "4.7.5" in out[0] and "untrusted" in out[0] and len(mails()) == 3,
     "under verify: refused, deferred 4.7.5, nothing delivered", out)
pat = r"lost connection after STARTTLS from localhost\[127\.0\.0\.1\]"
end = time.time() + 10
while True:
    # postlogd writes on its own time
    log = open(os.path.join(pf, "postfix.log"), errors="replace").read() if os.path.exists(os.path.join(pf, "postfix.log")) else ""
    if re.search(pat, log) or time.time() > end:
        break
    time.sleep(0.1)
t.like(log, pat, "Postfix logs the handshake smtp-send ended")
cl.write("etc/tls-policy", None)
t.done()
