#!/usr/bin/python3
# 9020: STARTTLS on the demo stack (bin/tern-up): tern-setup made a
# self-signed certificate for etc/me's name in etc/tls/ (key 0600), the
# SMTP service runs smtp-recv behind tlsd -u, the engine as terntls;
# a message sent over STARTTLS is delivered with "with ESMTPS" in its
# Received: line; plaintext SMTP still works; a replaced certificate is
# served by the next connection, without a restart.
import os
import re
import smtplib
import ssl
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
stack = ternlib.FullStack(t)
port = stack.smtp_port
root = os.geteuid() == 0
certfile, keyfile = stack.path("etc", "tls", "cert.pem"), stack.path("etc", "tls", "key.pem")


def ctx(cafile=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        # the certificate as its own trust anchor; the name is checked apart
        # (smtplib would check 127.0.0.1)
        c.load_verify_locations(cafile)
        c.check_hostname = False
    else:
        c.check_hostname = False
        c.verify_mode = ssl.CERT_NONE
    return c


with open(stack.path("etc", "me")) as f:
    me = f.readline().strip()
t.ok(os.path.exists(certfile) and os.path.exists(keyfile), "tern-setup made etc/tls/cert.pem and key.pem")
t.is_(oct(os.stat(keyfile).st_mode & 0o777), "0o600", "the key is mode 0600")
if root:
    t.is_(os.stat(keyfile).st_uid, 0, "and root's")
p = subprocess.run(["openssl", "x509", "-in", certfile, "-noout", "-subject", "-ext", "subjectAltName"],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
t.like(p.stdout.decode(), r"(?s)CN ?= ?%s.*DNS:%s" % (re.escape(me), re.escape(me)) if me else "x", "the certificate is for etc/me's name (%s)" % me)
t.like(stack.output(), r"STARTTLS +on", "tern-up says STARTTLS is on")

# --- a message over STARTTLS, verified against the self-signed certificate
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.test")
t.ok(s.has_extn("starttls"), "the SMTP port offers STARTTLS")
engine_uid = None
if root:
    # while this session is open: the TLS engine of the stack's tlsd
    import pwd
    tls_uid = pwd.getpwnam("terntls").pw_uid
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % pid)
        except OSError:
            continue
        if exe == stack.path("libexec", "tlsd"):
            engine_uid = ternlib.proc_uids(int(pid))[0]
    t.is_(engine_uid, tls_uid, "the connection's TLS engine (tlsd) runs as terntls")
code, _ = s.starttls(context=ctx(certfile))
t.is_(code, 220, "STARTTLS: 220, the certificate verifies")
t.ok(("DNS", me) in s.sock.getpeercert().get("subjectAltName", ()), "for %s" % me, s.sock.getpeercert())
s.ehlo("client.test")
t.ok(not s.has_extn("starttls"), "not offered again over TLS")
cipher = s.sock.cipher()[0]
s.sendmail("alice@sender.test", ["demo@example.test"], b"Subject: e2e tls\r\n\r\nover STARTTLS\r\n")
s.quit()
msgs = stack.wait_mail("example.test/demo", 1)
m = msgs[0].decode(errors="replace") if msgs else ""
t.like(m, r"\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\n\tby [^\n]+ \(tern\) with ESMTPS \(TLSv1\.2 %s\)\n" % re.escape(cipher),
       "delivered, with ESMTPS (TLSv1.2 %s) in the Received: line" % cipher)
t.like(m, r"\n\nover STARTTLS\n", "and its body")

# --- plaintext SMTP still works on the same port
p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--to", "demo@example.test", "--from", "bob@sender.test",
                    "--h-Subject", "e2e plain"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
t.like(p.stdout.decode(errors="replace"), r"<-  250 2\.0\.0", "a plaintext session still delivers")
msgs = stack.wait_mail("example.test/demo", 2)
t.ok(any(b"Subject: e2e plain" in x and b"with ESMTP\n" in x for x in msgs), "with ESMTP (no S) in its Received: line")

# --- swaks --tls
p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--tls", "--to", "demo@example.test",
                    "--from", "carol@sender.test", "--h-Subject", "e2e swaks tls"],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
out = p.stdout.decode(errors="replace")
t.ok(p.returncode == 0 and "TLS started" in out, "swaks --tls through the stack", out[-800:])

# --- a new certificate: the next connection has it, no restart
new_crt, new_key = ternlib.openssl_cert(stack.root, me or "renewed.test", "rsa")
os.chmod(new_key, 0o600)
os.rename(new_key, keyfile + ".new")
os.rename(new_crt, certfile + ".new")
os.rename(certfile + ".new", certfile)
os.rename(keyfile + ".new", keyfile)
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.test")
s.starttls(context=ctx())
with open(certfile) as f:
    t.is_(s.sock.getpeercert(binary_form=True), ssl.PEM_cert_to_DER_cert(f.read()),
          "a renewed certificate is served by the next connection, without a restart")
t.like(s.sock.cipher()[0], r"^ECDHE-RSA-", "(an RSA one now)")
s.quit()
log = stack.log("smtp")
t.like(log, r"tlsd: info: handshake ip=127\.0\.0\.1 protocol=TLSv1\.2 cipher=", "tlsd logs its handshakes in log/smtp")
t.like(log, r"smtp-recv: info: starttls ip=127\.0\.0\.1 protocol=TLSv1\.2", "smtp-recv logs STARTTLS")
t.done()
