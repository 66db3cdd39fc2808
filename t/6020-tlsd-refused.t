#!/usr/bin/python3
# What tlsd refuses: TLS 1.0 and 1.1 (and SSL 3), key exchange without
# forward secrecy (static RSA), suites without AEAD (CBC with HMAC),
# whatever the client. Refused handshakes are logged with their reason.
import os
import shutil
import socket
import ssl
import subprocess
import sys
import warnings
sys.path.insert(0, os.path.dirname(__file__))
import ternlib

warnings.simplefilter("ignore", DeprecationWarning)
t = ternlib.TAP()
if not shutil.which("openssl"):
    t.skip_all("openssl is not installed")
inst = ternlib.Instance(t)
d = inst.path("tls")
os.makedirs(d)
tlsuser = ternlib.ensure_user("terntls") if ternlib.is_root() else None


def server(crt, key):
    e = {"CERTFILE": crt, "KEYFILE": key}
    if tlsuser:
        e.update({"TLS_UID": str(tlsuser.pw_uid), "TLS_GID": str(tlsuser.pw_gid)})
    return ternlib.tlsd_server(inst, (), ["cat"], env=e, asuser=False)


def python_client(port, ciphers=None, version=None):
    """None when the handshake succeeds, else the error text."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # OpenSSL 3 will not even offer old versions or weak suites at its
    # default security level: level 0 lets the client ask for them
    ctx.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        c = ctx.wrap_socket(s)
        c.close()
        return None
    except (ssl.SSLError, OSError) as e:
        return str(e)
    finally:
        s.close()


rsa = ternlib.openssl_cert(d, "rsa.test", "rsa")
ec = ternlib.openssl_cert(d, "ec.test", "ec")
ports = {"RSA": server(*rsa), "EC": server(*ec)}

for kind, port in sorted(ports.items()):
    t.is_(python_client(port), None, "%s key: a TLS 1.2 client with default settings gets in" % kind)
    for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        err = python_client(port, version=v)
        t.like(err, "WRONG_VERSION_NUMBER|PROTOCOL_VERSION", "%s key: python client limited to %s refused" % (kind, v.name))

# suites: static RSA key exchange (no forward secrecy), CBC (no AEAD),
# CCM (AEAD, but not offered), DHE (BearSSL has none)
refused = {
    "RSA": ["AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA256", "AES128-SHA",
            "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES128-SHA",
            "DHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-SHA"],
    "EC": ["ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA",
           "ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-AES256-CCM8"],
}
for kind, suites in sorted(refused.items()):
    for s in suites:
        err = python_client(ports[kind], ciphers=s, version=ssl.TLSVersion.TLSv1_2)
        t.like(err, "HANDSHAKE_FAILURE", "%s key: a client offering only %s is refused" % (kind, s))

# openssl s_client
for flag in ("-tls1", "-tls1_1"):
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % ports["RSA"], flag,
                        "-cipher", "DEFAULT@SECLEVEL=0"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode(errors="replace")
    t.ok(p.returncode != 0 and "wrong version number" in out and "no peer certificate" in out,
         "openssl s_client %s refused" % flag, out[-400:])
p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % ports["RSA"], "-tls1_2",
                    "-cipher", "AES128-GCM-SHA256:AES256-SHA256"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
out = p.stdout.decode(errors="replace")
t.ok(p.returncode != 0 and "handshake failure" in out, "openssl s_client with static-RSA suites only: handshake failure", out[-400:])

# gnutls-cli
if shutil.which("gnutls-cli"):
    for prio, what in (("NORMAL:-VERS-ALL:+VERS-TLS1.1", "TLS 1.1"),
                       ("NORMAL:-VERS-ALL:+VERS-TLS1.0", "TLS 1.0"),
                       ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:+AES-256-CBC", "CBC suites"),
                       ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA", "static RSA key exchange"),
                       ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+DHE-RSA", "DHE key exchange")):
        p = subprocess.run(["gnutls-cli", "--insecure", "--port", str(ports["RSA"]), "--priority", prio, "127.0.0.1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode(errors="replace")
        t.ok(p.returncode != 0 and "Handshake was completed" not in out, "gnutls-cli with %s only: refused" % what, out[-400:])
else:
    t.ok(True, "# SKIP gnutls-cli (gnutls-bin) not installed")

log = inst.read("log/stderr")
t.like(log, r"tlsd: warning: handshake failed ip=127\.0\.0\.1 reason=sent-alert alert=protocol-version",
       "a refused version is logged")
t.like(log, r"tlsd: warning: handshake failed ip=127\.0\.0\.1 reason=sent-alert alert=handshake-failure",
       "a refused suite is logged")
t.done()
