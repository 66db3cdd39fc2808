#!/usr/bin/python3
# smtp-send's TLS policy, $TERN_ROOT/etc/tls-policy: "DOMAIN LEVEL" lines,
# "*" for the default, may when nothing matches. none: never STARTTLS;
# encrypt: TLS required with any certificate, TLS 1.2, no plain-text
# fallback (4.7.4 when STARTTLS is not offered, 4.7.5 when the handshake
# fails); verify: a certificate that verifies for the exchanger's name
# (else the next exchanger, else 4.7.5). Smarthosts (-H) go by the
# smarthost's name. A line that does not parse defers everything (4.3.5).
import os
import re
import ssl
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript
import dnsserver

t = ternlib.TAP()
dns = dnsserver.DNSServer({
    "tls.test":       {"MX": [(10, "mx1.tls.test"), (20, "mx2.tls.test")]},
    "mx1.tls.test":   {"A": ["127.0.0.2"]},
    "mx2.tls.test":   {"A": ["127.0.0.3"]},
    "relay.tls.test": {"A": ["127.0.0.2"]},
})
dns.start(t)
certs = smtpscript.Certs(os.path.join(smtpscript.Client(t).root, "certs"))
cl = smtpscript.Client(t, env={"DNSSERVER": "127.0.0.1:%d" % dns.port, "RES_OPTIONS": "timeout:1 attempts:1",
                               "SMTPSEND_CAFILE": certs.ca})
ADDRS = ("127.0.0.2", "127.0.0.3")
OK = ["ok bob@tls.test 250 2.0.0 queued as 42"]
good1 = certs.leaf("mx1.tls.test")
good2 = certs.leaf("mx2.tls.test")
selfsigned = certs.selfsigned("mx1.tls.test")
expired = certs.leaf("mx1.tls.test", expired=True)
othername = certs.leaf("www.tls.test")


def servers(mx1=None, mx2=None):
    port = smtpscript.free_port(ADDRS)
    out = []
    for addr, kw in zip(ADDRS, (mx1, mx2)):
        out.append(smtpscript.Server(t, host=addr, port=port, **kw) if kw is not None else None)
    return port, out


def stop(*srvs):
    for s in srvs:
        if s is not None:
            s.stop()


def send(port, policy, rcpt="bob@tls.test", args=(), env=None):
    cl.write("etc/tls-policy", policy)
    return cl.send(["-f", "a@b.test"] + list(args) + ["--", rcpt], port=port, env=env)


def tlsline(err, host="mx1"):
    m = re.search(r"^smtp-send: info: tls host=%s\S* .*$" % host, err, re.M)
    return m.group(0) if m else ""


# --- none
port, (mx1, _) = servers({"tls": good1})
code, out, err = send(port, "tls.test none\n")
t.ok(code == 0 and out == OK and "STARTTLS" not in mx1.session().commands() and "info: tls" not in err,
     "none: STARTTLS offered, not used", mx1.session().commands())
code, out, err = send(port, "# comment\n\n*  none\n")
t.ok(code == 0 and "STARTTLS" not in mx1.session(1).commands(), "\"* none\": the default for every domain")
code, out, err = send(port, "* none\nTLS.Test. may\n")
t.ok(code == 0 and mx1.session(2).tls is not None, "a domain's own line beats \"*\" (case and a final dot do not matter)")
code, out, err = send(port, "other.test none\n")
t.ok(code == 0 and mx1.session(3).tls is not None, "no line for the domain and no \"*\": may")
code, out, err = send(port, None)
t.ok(code == 0 and mx1.session(4).tls is not None, "no etc/tls-policy: may")
stop(mx1)

# --- encrypt
port, (mx1, mx2) = servers({}, {})
code, out, err = send(port, "tls.test encrypt\n")
t.is_((code, out), (111, ["defer bob@tls.test 4.7.4 mx1.tls.test [127.0.0.2]:%d: STARTTLS not offered, and the TLS policy requires it (encrypt)" % port]),
      "encrypt, no STARTTLS anywhere: deferred 4.7.4, exit 111")
t.ok(not any(c.startswith("MAIL") for s in mx1.sessions + mx2.sessions for c in s.commands()), "no MAIL was sent in plain text")
t.like(err, r"info: tls host=mx1\.tls\.test ip=127\.0\.0\.2 status=not-offered policy=encrypt", "logged")
t.is_([len(mx1.sessions), len(mx2.sessions)], [1, 1], "both exchangers tried")
stop(mx1, mx2)

port, (mx1, mx2) = servers({}, {"tls": good2})
code, out, err = send(port, "tls.test encrypt\n")
t.ok(code == 0 and out == OK and mx2.session().tls is not None and "MAIL" not in " ".join(mx1.session().commands()),
     "encrypt: mx1 offers no STARTTLS, mx2 delivers inside TLS")
stop(mx1, mx2)

for what, cert, reason in [("self-signed", selfsigned, "untrusted"), ("expired", expired, "expired")]:
    port, (mx1, _) = servers({"tls": cert})
    code, out, err = send(port, "tls.test encrypt\n")
    t.ok(code == 0 and mx1.session().tls is not None and "DATA" in mx1.session().tls_commands(),
         "encrypt: a %s certificate will do" % what, err)
    t.like(tlsline(err), r"verified=no reason=%s$" % reason, "logged verified=no reason=%s" % reason)
    stop(mx1)

port, (mx1, mx2) = servers({"tls": good1, "tls_fail": "close"}, {"tls": good2, "tls_fail": "garbage"})
code, out, err = send(port, "tls.test encrypt\n")
t.ok(code == 111 and out[0].startswith("defer bob@tls.test 4.7.5 mx1.tls.test [127.0.0.2]:%d: TLS handshake failed (" % port),
     "encrypt: every handshake fails: deferred 4.7.5, exit 111", out)
t.is_([len(mx1.sessions), len(mx2.sessions)], [1, 1], "no plain-text pass")
t.ok("plain text" not in err, "and no warning about one")
stop(mx1, mx2)

port, (mx1, _) = servers({"tls": good1, "script": {"starttls": "454 4.7.0 TLS not available now"}})
code, out, err = send(port, "tls.test encrypt\n")
t.is_((code, out), (111, ["defer bob@tls.test 454 4.7.0 TLS not available now"]), "encrypt: STARTTLS refused: deferred with the reply")
t.ok(not any(c.startswith("MAIL") for c in mx1.session().commands()), "nothing sent in plain text")
stop(mx1)

try:
    port, (mx1, _) = servers({"tls": good1, "tls_versions": (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1)})
    code, out, err = send(port, "tls.test encrypt\n")
    t.ok(code == 111 and mx1.session().tls is None and "unsupported-version" in out[0] + err,
         "encrypt: a server that speaks TLS 1.1 at most is refused (TLS 1.2 required)", (out, err))
    stop(mx1)
except (ssl.SSLError, ValueError):
    t.ok(True, "# SKIP python's ssl cannot limit the versions here")

# --- verify
port, (mx1, _) = servers({"tls": good1})
code, out, err = send(port, "tls.test verify\n")
t.ok(code == 0 and mx1.session().tls is not None and tlsline(err).endswith("verified=yes"),
     "verify: a chain to the anchors, for the exchanger's name: delivered", err)
stop(mx1)

for what, cert, reason in [("self-signed", selfsigned, "untrusted"), ("expired", expired, "expired"),
                           ("for another name", othername, "name-mismatch")]:
    port, (mx1, mx2) = servers({"tls": cert}, {"tls": good2})
    code, out, err = send(port, "tls.test verify\n")
    t.ok(code == 0 and out == OK and mx2.session().tls is not None and mx1.session().message is None,
         "verify: mx1's certificate is %s: not used, mx2 delivers" % what, (out, err))
    t.like(err, r"info: tls host=mx1\.tls\.test ip=127\.0\.0\.2 status=failed reason=%s" % reason, "logged with reason=%s" % reason)
    t.ok(mx1.session().tls_error is not None, "mx1 saw the handshake broken off", mx1.session().tls_error)
    stop(mx1, mx2)

port, (mx1, mx2) = servers({"tls": expired}, {"tls": selfsigned})
code, out, err = send(port, "tls.test verify\n")
t.is_((code, out), (111, ["defer bob@tls.test 4.7.5 mx1.tls.test [127.0.0.2]:%d: the certificate does not verify (expired), and the TLS policy requires verification" % port]),
      "verify: nothing verifies: deferred 4.7.5 (the first failure), exit 111")
t.is_([len(mx1.sessions), len(mx2.sessions)], [1, 1], "no plain-text pass")
stop(mx1, mx2)

port, (mx1, _) = servers({})
code, out, err = send(port, "tls.test verify\n")
t.ok(code == 111 and "4.7.4" in out[0] and "(verify)" in out[0], "verify: no STARTTLS: 4.7.4", out)
stop(mx1)

# --- smarthosts: the policy of the smarthost's name
port, (mx1, _) = servers({"tls": certs.leaf("relay.tls.test")})
code, out, err = send(port, "tls.test none\nrelay.tls.test verify\n", rcpt="bob@tls.test", args=["-H", "relay.tls.test:%d" % port])
t.ok(code == 0 and mx1.session().tls is not None and re.search(r"tls host=relay\.tls\.test .* verified=yes$", err, re.M),
     "-H relay.tls.test: its own line (verify) applies, not the recipients' domain's", err)
t.is_(mx1.session().sni, "relay.tls.test", "SNI: the smarthost's name")
code, out, err = send(port, "* none\n", args=["-H", "relay.tls.test:%d" % port])
t.ok(code == 0 and "STARTTLS" not in mx1.session(1).commands(), "-H: \"*\" applies to smarthosts too")
code, out, err = send(port, None, args=["-H", "127.0.0.2:%d" % port])
t.ok(code == 0 and mx1.session(2).tls is not None and mx1.session(2).sni is None
     and re.search(r"tls host=127\.0\.0\.2 .* verified=no reason=no-host-name$", err, re.M),
     "-H an address: TLS without SNI (RFC 6066 3), verified=no reason=no-host-name", err)
code, out, err = send(port, "127.0.0.2 verify\n", args=["-H", "127.0.0.2:%d" % port])
t.ok(code == 111 and "the certificate does not verify (no-host-name)" in out[0] and mx1.session(3).message is None,
     "-H an address under verify: nothing to verify against, deferred", out)
stop(mx1)

# --- a policy that does not parse
port, (mx1, _) = servers({"tls": good1})
for bad in ["tls.test verfy\n", "tls.test\n", "tls.test may encrypt\n"]:
    code, out, err = send(port, bad)
    t.ok(code == 111 and out[0].startswith("defer bob@tls.test 4.3.5 etc/tls-policy: invalid line"),
         "etc/tls-policy %r: deferred 4.3.5, exit 111" % bad.strip(), out)
t.is_(len(mx1.sessions), 0, "and no connection was made")
stop(mx1)
cl.write("etc/tls-policy", None)
t.done()
