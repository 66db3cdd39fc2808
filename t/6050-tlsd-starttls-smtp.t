#!/usr/bin/python3
# STARTTLS in smtp-recv (RFC 3207) through tlsd -u (UCSPI-TLS): offered
# only under tlsd -u and before TLS; 220, then the session starts over
# TLS knowing nothing of before; refused twice (503), with an argument
# (501), in a transaction (503); what the client pipelined behind
# STARTTLS is never answered (CVE-2011-0411); Received: says ESMTPS with
# the protocol and cipher. Clients: python smtplib, swaks, curl, openssl.
# Also smtp-recv under implicit TLS (tlsd without -u, as on port 465).
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()
if not shutil.which("openssl"):
    t.skip_all("openssl is not installed")
inst = ternlib.Instance(t)
d = inst.path("tls")
os.makedirs(d)
qdir = inst.path("fakeq")
os.makedirs(qdir)
os.chmod(qdir, 0o777)
crt, key = ternlib.openssl_cert(d, "mx.example.test", "ec")
env = {"QUEUE": smtprecv.FAKEQ, "FAKEQ_DIR": qdir, "CERTFILE": crt, "KEYFILE": key}
tlsuser = None
if ternlib.is_root():
    tlsuser = ternlib.ensure_user("terntls")
    env.update({"TLS_UID": str(tlsuser.pw_uid), "TLS_GID": str(tlsuser.pw_gid)})
SMTPRECV = os.path.join(ternlib.BUILD, "smtp-recv")
port = ternlib.tlsd_server(inst, ["-u"], [SMTPRECV], env=env)
tcpd = inst.procs[-1].pid
plain = inst.tcpserver([SMTPRECV], env={"QUEUE": smtprecv.FAKEQ, "FAKEQ_DIR": qdir})


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def queued():
    out = []
    for f in sorted(os.listdir(qdir)):
        if f.endswith(".msg"):
            with open(os.path.join(qdir, f), "rb") as m:
                out.append(m.read())
    return out


def starttls(c):
    """STARTTLS on a smtprecv.Conn; returns the 220 reply, c now over TLS."""
    r = c.cmd("STARTTLS")
    if r.startswith("220"):
        c.s = ctx().wrap_socket(c.s)
    return r


# -- offered only under tlsd -u, and before TLS --
c = smtprecv.Conn(plain)
r = c.cmd("EHLO client.example")
t.ok("STARTTLS" not in r, "without SSLCTLFD (no tlsd -u), EHLO does not offer STARTTLS", r)
t.like(c.cmd("STARTTLS"), r"^502 5\.5\.1", "and STARTTLS gets 502 5.5.1")
c.close()
c = smtprecv.Conn(port)
t.like(c.greeting, r"^220 mx\.example\.test ESMTP", "under tlsd -u: the greeting in plaintext")
r = c.cmd("EHLO client.example")
t.like(r, r"(?m)^250-STARTTLS$", "under tlsd -u, EHLO offers STARTTLS")
t.like(c.cmd("STARTTLS now"), r"^501 5\.5\.4 Syntax: STARTTLS", "STARTTLS with an argument: 501 5.5.4")
c.cmd("MAIL FROM:<a@remote.example>")
t.like(c.cmd("STARTTLS"), r"^503 5\.5\.1", "STARTTLS inside a mail transaction: 503 5.5.1")
c.cmd("RSET")
t.like(starttls(c), r"^220 2\.0\.0 Ready to start TLS$", "STARTTLS: 220 2.0.0 Ready to start TLS")
t.like(c.cmd("MAIL FROM:<a@remote.example>"), r"^503 5\.5\.1", "after the handshake the session starts again: MAIL needs EHLO first")
r = c.cmd("EHLO client.example")
t.ok(r.startswith("250-mx.example.test") and "STARTTLS" not in r, "EHLO over TLS does not offer STARTTLS again", r)
t.like(c.cmd("STARTTLS"), r"^503 5\.5\.1 TLS already active", "a second STARTTLS: 503 5.5.1")
t.like(c.cmd("QUIT"), r"^221", "QUIT over TLS")
c.close()

# -- privileges: smtp-recv is the test user, the engine TLS_UID, from the start --
if tlsuser:
    c = smtprecv.Conn(port)
    kids = ternlib.proc_children(tcpd)
    eng = ternlib.proc_children(kids[0]) if len(kids) == 1 else []
    pw = ternlib.ensure_user(ternlib.TESTUSER)
    t.ok(len(eng) == 1 and ternlib.proc_uids(kids[0])[0] == pw.pw_uid and ternlib.proc_uids(eng[0])[:2] == [tlsuser.pw_uid] * 2,
         "before STARTTLS: smtp-recv runs as %s, its TLS engine child as terntls" % ternlib.TESTUSER, (kids, eng))
    c.close()
else:
    t.ok(True, "# SKIP not root")

# -- python smtplib: a message over STARTTLS, and its Received: line --
n0 = len(queued())
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("client.example")
t.ok(s.has_extn("starttls"), "smtplib sees STARTTLS")
code, _ = s.starttls(context=ctx())
t.is_(code, 220, "smtplib starttls(): 220")
s.ehlo("client.example")
t.ok(not s.has_extn("starttls"), "smtplib: not offered any more after TLS")
t.is_(s.sendmail("a@remote.example", ["demo@example.test"], b"Subject: over TLS\r\n\r\nsecret\r\n"), {}, "smtplib: message accepted over TLS")
cipher = s.sock.cipher()[0]
s.quit()
msgs = queued()
t.is_(len(msgs), n0 + 1, "one message queued")
t.like(msgs[-1].decode(), r"^Received: from client\.example \(\[127\.0\.0\.1\]\)\n\tby mx\.example\.test \(tern\) with ESMTPS \(TLSv1\.2 %s\)\n\tfor <demo@example\.test>;" % re.escape(cipher),
       "Received: ... with ESMTPS (TLSv1.2 cipher), the cipher smtplib negotiated")
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("client.example")
s.starttls(context=ctx())
s.ehlo("client.example")
t.is_(s.sendmail("a@remote.example", ["demo@example.test"], "Subject: utf8\r\n\r\nx\r\n".encode(), mail_options=["SMTPUTF8"]), {},
      "SMTPUTF8 over TLS")
s.quit()
t.like(queued()[-1].decode(), r"with UTF8SMTPS \(TLSv1\.2 ", "Received: ... with UTF8SMTPS")

# -- CVE-2011-0411: commands pipelined behind STARTTLS are never answered over TLS --
c = smtprecv.Conn(port)
c.cmd("EHLO client.example")
injected = b"RSET\r\nMAIL FROM:<injected@remote.example>\r\n"
c.send(b"STARTTLS\r\n" + injected)
r = c.reply()
t.like(r, r"^220 2\.0\.0", "STARTTLS with commands behind it in the same packet: 220")
t.is_(c.buf, b"", "no plaintext reply to them after the 220")
c.s = ctx().wrap_socket(c.s)
c.s.settimeout(1.5)
try:
    early = c.s.recv(4096)
except socket.timeout:
    early = b""
t.is_(early, b"", "over TLS, nothing comes before the client speaks: RSET and MAIL were not answered")
c.s.settimeout(10)
t.like(c.cmd("EHLO client.example"), r"^250-mx\.example\.test", "the first reply over TLS is to EHLO")
t.like(c.cmd("MAIL FROM:<a@remote.example>"), r"^250 2\.1\.0", "and MAIL starts a transaction: the injected MAIL left none")
c.cmd("QUIT")
c.close()
t.ok(smtprecv.wait_for(lambda: "dropped=%d" % len(injected) in inst.read("log/stderr")),
     "smtp-recv logs the %d octets it dropped" % len(injected))

# ... and plaintext sent after the 220, before the handshake, reaches the
# engine, which takes it for a broken ClientHello: the connection ends
c = smtprecv.Conn(port)
c.cmd("EHLO client.example")
t.like(c.cmd("STARTTLS"), r"^220", "STARTTLS: 220")
c.send(b"RSET\r\nMAIL FROM:<injected@remote.example>\r\n")
rest = c.rest(timeout=10)
t.ok("250" not in rest, "plaintext commands after the 220 are never answered", rest)
t.ok(c.closed(1), "the connection is closed")
c.close()
log = inst.read("log/stderr")
t.ok(smtprecv.wait_for(lambda: re.search(r"smtp-recv: warning: starttls ip=127\.0\.0\.1 result=failed reason=handshake", inst.read("log/stderr"))),
     "smtp-recv logs the failed STARTTLS", log)
t.like(inst.read("log/stderr"), r"tlsd: warning: handshake failed ip=127\.0\.0\.1 reason=", "tlsd logs why")

# -- swaks --tls --
if shutil.which("swaks"):
    n0 = len(queued())
    p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--tls", "--from", "a@remote.example",
                        "--to", "demo@example.test", "--helo", "swaks.example", "--h-Subject", "swaks tls"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode(errors="replace")
    t.ok(p.returncode == 0 and "TLS started" in out, "swaks --tls: STARTTLS and the message go through", out[-1500:])
    t.ok(len(queued()) == n0 + 1 and b"with ESMTPS (TLSv1.2 " in queued()[-1], "swaks's message: Received with ESMTPS")
else:
    t.ok(True, "# SKIP swaks not installed")
    t.ok(True, "# SKIP swaks not installed")

# -- curl --ssl-reqd smtp:// --
if shutil.which("curl"):
    n0 = len(queued())
    inst.write("curlmsg", "From: a@remote.example\r\nTo: demo@example.test\r\nSubject: curl\r\n\r\nvia curl\r\n")
    p = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "smtp://127.0.0.1:%d" % port, "--mail-from", "a@remote.example",
                        "--mail-rcpt", "demo@example.test", "-T", inst.path("curlmsg")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    t.is_(p.returncode, 0, "curl --ssl-reqd smtp://: exit 0 (%s)" % p.stdout.decode(errors="replace").strip())
    t.ok(len(queued()) == n0 + 1 and b"with ESMTPS (TLSv1.2 " in queued()[-1] and b"via curl" in queued()[-1],
         "curl's message: queued, Received with ESMTPS")
    p = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "smtp://127.0.0.1:%d" % plain, "--mail-from", "a@remote.example",
                        "--mail-rcpt", "demo@example.test", "-T", inst.path("curlmsg")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    t.ok(p.returncode != 0, "curl --ssl-reqd against smtp-recv without tlsd: refused by curl (no STARTTLS)", p.stdout)
else:
    t.ok(True, "# SKIP curl not installed")

# -- openssl s_client -starttls smtp --
p = subprocess.run("(sleep 1; echo QUIT) | openssl s_client -connect 127.0.0.1:%d -starttls smtp -brief -nocommands -ign_eof -crlf" % port,
                   shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
out = p.stdout.decode(errors="replace")
t.like(out, r"Protocol version: TLSv1\.2", "openssl s_client -starttls smtp: TLSv1.2")
t.like(out, r"221 2\.0\.0", "and QUIT over TLS")

# -- a broken SSLCTLFD is a configuration error --
bad = inst.tcpserver([SMTPRECV], env={"SSLCTLFD": "99", "SSLREADFD": "98", "SSLWRITEFD": "97"})
c = smtprecv.Conn(bad)
t.like(c.greeting, r"^421 4\.3\.5", "SSLCTLFD naming no open fd: 421 4.3.5, exit")
c.close()

# -- implicit TLS (tlsd without -u, as on port 465) --
port465 = ternlib.tlsd_server(inst, [], [SMTPRECV], env=env)
s = smtplib.SMTP_SSL("127.0.0.1", port465, timeout=10, context=ctx())
s.ehlo("client.example")
t.ok(not s.has_extn("starttls"), "implicit TLS: STARTTLS not offered")
t.is_(s.docmd("STARTTLS")[0], 503, "implicit TLS: STARTTLS gets 503")
t.is_(s.sendmail("a@remote.example", ["demo@example.test"], b"Subject: 465\r\n\r\nx\r\n"), {}, "implicit TLS: message accepted")
s.quit()
t.like(queued()[-1].decode(), r"with ESMTPS \(TLSv1\.2 ECDHE-ECDSA-AES128-GCM-SHA256\)", "implicit TLS: Received with ESMTPS (from SSL_PROTOCOL, SSL_CIPHER)")
t.done()
