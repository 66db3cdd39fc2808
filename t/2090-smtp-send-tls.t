#!/usr/bin/python3
# smtp-send's opportunistic STARTTLS (RFC 3207) against scripted servers
# with python's ssl module, certificates made with openssl: EHLO, STARTTLS,
# the handshake, EHLO again and the whole transaction inside TLS; one log
# line per TLS session saying whether the certificate verified (a chain to
# the test CA in SMTPSEND_CAFILE, for the exchanger's name) and why not
# (self-signed, expired, another name, no trust anchors) while the mail
# goes encrypted all the same; STARTTLS refused, a reply injected before
# the handshake, the protocol versions.
import os
import re
import ssl
import subprocess
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript
import dnsserver

t = ternlib.TAP()
dns = dnsserver.DNSServer({
    "tls.test":     {"MX": [(10, "mx1.tls.test"), (20, "mx2.tls.test")]},
    "mx1.tls.test": {"A": ["127.0.0.2"]},
    "mx2.tls.test": {"A": ["127.0.0.3"]},
})
dns.start(t)
certs = smtpscript.Certs(os.path.join(smtpscript.Client(t).root, "certs"))
cl = smtpscript.Client(t, env={"DNSSERVER": "127.0.0.1:%d" % dns.port, "RES_OPTIONS": "timeout:1 attempts:1",
                               "SMTPSEND_CAFILE": certs.ca})
ADDRS = ("127.0.0.2", "127.0.0.3")
BODY = b"From: a@b.test\nSubject: tls\n\nover TLS\n.dot\n"
OK = ["ok bob@tls.test 250 2.0.0 queued as 42"]


def servers(mx1=None, mx2=None):
    """Scripted servers for mx1 and mx2 (None: nothing listens) on a fresh common port."""
    port = smtpscript.free_port(ADDRS)
    out = []
    for addr, kw in zip(ADDRS, (mx1, mx2)):
        out.append(smtpscript.Server(t, host=addr, port=port, **kw) if kw is not None else None)
    return port, out


def send(port, body=BODY, env=None):
    return cl.send(["-f", "a@b.test", "--", "bob@tls.test"], body=body, port=port, env=env)


def tlsline(err):
    m = re.search(r"^smtp-send: info: tls .*$", err, re.M)
    return m.group(0) if m else None


# --- a certificate that verifies: a chain to the test CA, for the exchanger's name
crt, key = certs.leaf("mx1.tls.test")
port, (mx1, _) = servers({"tls": (crt, key)})
code, out, err = send(port)
s = mx1.session()
t.is_((code, out), (0, OK), "delivered over STARTTLS, exit 0")
t.is_(s.commands(), ["EHLO client.test", "STARTTLS", "EHLO client.test", "MAIL FROM:<a@b.test> SIZE=%d" % (len(BODY) + BODY.count(b"\n")),
                     "RCPT TO:<bob@tls.test>", "DATA", "QUIT"],
      "EHLO, STARTTLS, then EHLO again (RFC 3207 4.2) and the transaction")
t.is_(s.tls_commands(), s.commands()[2:], "everything after STARTTLS went inside TLS")
t.is_(s.after_starttls, b"", "nothing pipelined behind STARTTLS")
t.is_(s.message, BODY.replace(b"\n", b"\r\n"), "the message arrives intact through TLS")
t.is_(s.sni, "mx1.tls.test", "SNI: the exchanger's name")
t.is_(s.tls["version"], "TLSv1.2", "TLS 1.2")
t.like(err, r"(?m)^smtp-send: info: tls host=mx1\.tls\.test ip=127\.0\.0\.2 protocol=TLSv1\.2 cipher=%s verified=yes$"
       % re.escape(s.tls["cipher"]), "log: one tls line, the cipher as the server names it, verified=yes")
t.ok(err.index("status=connected") < err.index("tls host=") < err.index("result rcpt="), "the tls line comes between connect and result")
t.is_(len(re.findall(r"info: tls ", err)), 1, "one tls line per session")

# --- a big message: many TLS records, the 64 KiB output buffer flushed through the engine
big = b"Subject: big\n\n" + b"".join(b"%06d %s\n" % (i, b"x" * 70) for i in range(30000))
code, out, err = send(port, body=big)
t.is_((code, out, mx1.session(1).message), (0, OK, big.replace(b"\n", b"\r\n")), "a 2 MB message through TLS, intact")
mx1.stop()

# --- certificates that do not verify: the mail goes encrypted all the same
for what, mk, reason in [
        ("self-signed", lambda: certs.selfsigned("mx1.tls.test"), "untrusted"),
        ("expired", lambda: certs.leaf("mx1.tls.test", expired=True), "expired"),
        ("for another name", lambda: certs.leaf("www.example.test"), "name-mismatch"),
        ("RSA, for another name", lambda: certs.leaf("other.test", kind="rsa"), "name-mismatch")]:
    crt, key = mk()
    port, (mx1, _) = servers({"tls": (crt, key)})
    code, out, err = send(port)
    s = mx1.session()
    t.ok(code == 0 and out == OK and s.tls is not None and "DATA" in s.tls_commands(),
         "a certificate %s: delivered inside TLS" % what, (code, out, err, s.commands()))
    t.like(tlsline(err), r"tls host=mx1\.tls\.test ip=127\.0\.0\.2 protocol=TLSv1\.2 cipher=\S+ verified=no reason=%s$" % reason,
           "log: verified=no reason=%s" % reason)
    mx1.stop()

crt, key = certs.leaf("mx1.tls.test", kind="rsa")
port, (mx1, _) = servers({"tls": (crt, key)})
code, out, err = send(port)
t.ok(code == 0 and re.search(r"tls host=mx1\.tls\.test .* cipher=ECDHE-RSA-\S+ verified=yes$", tlsline(err) or ""),
     "an RSA certificate that verifies: ECDHE-RSA, verified=yes", err)
code, out, err = send(port, env={"SMTPSEND_CAFILE": "/nonexistent/ca.pem"})
t.ok(code == 0 and mx1.session(1).tls is not None, "trust anchors that cannot be read: still delivered inside TLS", err)
t.like(err, r"warning: unable to read trust anchors from /nonexistent/ca\.pem", "with a warning")
t.like(tlsline(err), r"verified=no reason=no-trust-anchors$", "and verified=no reason=no-trust-anchors")
der = os.path.join(certs.dir, "ca.der")
subprocess.run(["openssl", "x509", "-in", certs.ca, "-outform", "DER", "-out", der], check=True)
code, out, err = send(port, env={"SMTPSEND_CAFILE": der})
t.like(tlsline(err), r"verified=yes$", "the CA as a DER file: verified=yes")
code, out, err = send(port, env={"SMTPSEND_CAFILE": crt})
t.like(tlsline(err), r"verified=yes$", "the server's own certificate as the anchor (pinned, BearSSL's direct trust): verified=yes")
mx1.stop()

# --- the system bundle by default: a test CA is not in it
crt, key = certs.leaf("mx1.tls.test")
port, (mx1, _) = servers({"tls": (crt, key)})
code, out, err = send(port, env={"SMTPSEND_CAFILE": ""})
if os.path.exists("/etc/ssl/certs/ca-certificates.crt"):
    t.ok(code == 0 and re.search(r"verified=no reason=untrusted$", tlsline(err) or "") and "warning" not in err,
         "without SMTPSEND_CAFILE: the system's CA bundle, which knows no test CA", err)
else:
    t.ok(True, "# SKIP no /etc/ssl/certs/ca-certificates.crt")
mx1.stop()

# --- no STARTTLS offered: plain text, no tls line
port, (mx1, _) = servers({})
code, out, err = send(port)
t.ok(code == 0 and "STARTTLS" not in mx1.session().commands() and "info: tls" not in err,
     "STARTTLS not offered: sent in plain text, no tls line", err)
mx1.stop()

# --- STARTTLS refused: the session goes on in plain text (RFC 3207 4)
crt, key = certs.leaf("mx1.tls.test")
port, (mx1, _) = servers({"tls": (crt, key), "script": {"starttls": "454 4.7.0 TLS not available now"}})
code, out, err = send(port)
s = mx1.session()
t.is_((code, out), (0, OK), "454 to STARTTLS: delivered")
t.is_(s.commands()[:3], ["EHLO client.test", "STARTTLS", "MAIL FROM:<a@b.test> SIZE=%d" % (len(BODY) + BODY.count(b"\n"))],
      "on the same connection, in plain text, without a second EHLO")
t.ok(s.tls is None and len(mx1.sessions) == 1, "one session, no TLS")
t.like(err, r"info: tls host=mx1\.tls\.test ip=127\.0\.0\.2 status=refused reply=454", "logged")
mx1.stop()

# --- a reply injected ahead of the handshake is discarded (RFC 3207 6)
port, (mx1, _) = servers({"tls": (crt, key), "script": {"starttls": "220 2.0.0 go ahead\n250 injected in clear"}})
code, out, err = send(port)
s = mx1.session()
t.ok(code == 0 and out == OK and s.tls is not None and s.tls_commands()[0] == "EHLO client.test",
     "a line sent in clear behind the 220: the handshake goes on, EHLO is answered inside TLS", (code, out, err))
t.like(err, r"warning: host=mx1\.tls\.test sent \d+ octets after its 220 to STARTTLS: discarded", "the octets are discarded with a warning")
mx1.stop()

# --- protocol versions: TLS 1.0 and 1.1 only where the alternative is plain text
try:
    port, (mx1, _) = servers({"tls": (crt, key), "tls_versions": (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)})
    probe = True
except (ssl.SSLError, ValueError):
    probe = False
if probe:
    code, out, err = send(port)
    s = mx1.session()
    if s.tls is None and s.tls_error and "version" in s.tls_error.lower():
        t.ok(True, "# SKIP this OpenSSL refuses TLS 1.1 as a server: %s" % s.tls_error)
    else:
        t.ok(code == 0 and s.tls is not None and s.tls["version"] == "TLSv1.1" and re.search(r"protocol=TLSv1\.1 ", tlsline(err) or ""),
             "a TLS 1.1 server under the default policy (may): encrypted with TLS 1.1", (code, err, s.tls, s.tls_error))
    mx1.stop()
else:
    t.ok(True, "# SKIP python's ssl cannot limit the versions here")
t.done()
