#!/usr/bin/python3
# smtp-send's AUTH credentials (-a) and TLS: AUTH goes inside TLS when the
# smarthost offers STARTTLS; in plain text only to a loopback address (the
# credentials never leave the host) or where etc/tls-policy says "none"
# for the smarthost; otherwise the smarthost is not used (4.7.4). The
# smarthost that is not on loopback is this host's own non-loopback
# address, when it has one.
import os
import re
import socket
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript

t = ternlib.TAP()
certs = smtpscript.Certs(os.path.join(smtpscript.Client(t).root, "certs"))
cl = smtpscript.Client(t, env={"SMTPSEND_CAFILE": certs.ca})
authfile = os.path.join(cl.root, "auth")
with open(authfile, "w") as f:
    f.write("relayuser s3cret\n")
OK = ["ok bob@x.test 250 2.0.0 queued as 42"]
crt, key = certs.selfsigned("relay.test")


def send(host, port, policy=None):
    cl.write("etc/tls-policy", policy)
    return cl.send(["-f", "a@b.test", "-H", "%s:%d" % (host, port), "-a", authfile, "--", "bob@x.test"])


def auth_index(s):
    return [i for i, c in enumerate(s.commands()) if c.startswith("AUTH")]


# --- STARTTLS offered: AUTH inside TLS
srv = smtpscript.Server(t, ext=["PIPELINING", "AUTH PLAIN LOGIN"], tls=(crt, key))
code, out, err = send("127.0.0.1", srv.port)
s = srv.session()
t.is_((code, out, s.auth), (0, OK, ("PLAIN", "relayuser", "s3cret")), "STARTTLS and AUTH offered: authenticated, delivered")
t.ok(any(c.startswith("AUTH PLAIN ") for c in s.tls_commands()) and s.commands()[:3] == ["EHLO client.test", "STARTTLS", "EHLO client.test"],
     "AUTH after STARTTLS and the second EHLO, inside TLS", s.commands())
t.ok("s3cret" not in err, "no password in the log")

# --- loopback without TLS: AUTH in plain text, the credentials stay on this host
srv = smtpscript.Server(t, ext=["AUTH PLAIN"])
code, out, err = send("127.0.0.1", srv.port)
t.is_((code, out, srv.session().auth), (0, OK, ("PLAIN", "relayuser", "s3cret")), "a loopback smarthost without STARTTLS: AUTH in plain text")


def local_address():
    """This host's address toward the outside, when it is not loopback."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        a = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    if a.startswith("127.") or a == "0.0.0.0":
        return None
    try:
        x = socket.socket()
        x.bind((a, 0))
        x.close()
    except OSError:
        return None
    return a


addr = local_address()
if addr is None:
    for _ in range(7):
        t.ok(True, "# SKIP no non-loopback address to listen on")
    t.done()

srv = smtpscript.Server(t, host=addr, ext=["AUTH PLAIN LOGIN"])
code, out, err = send(addr, srv.port)
t.is_((code, out), (111, ["defer bob@x.test 4.7.4 %s [%s]:%d: no TLS, and AUTH credentials are not sent in clear" % (addr, addr, srv.port)]),
      "a smarthost on the network without STARTTLS: not used, deferred 4.7.4, exit 111")
t.ok(srv.session().auth is None and not [c for c in srv.session().commands() if c.startswith(("AUTH", "MAIL"))],
     "neither AUTH nor MAIL was sent", srv.session().commands())
t.like(err, r"warning: host=%s ip=%s: no TLS: the credentials are not sent in clear" % (re.escape(addr), re.escape(addr)), "with a warning")

code, out, err = send(addr, srv.port, policy="%s none\n" % addr)
t.is_((code, out, srv.session(1).auth), (0, OK, ("PLAIN", "relayuser", "s3cret")),
      "the same smarthost with \"none\" in etc/tls-policy: AUTH in plain text, the admin's choice")
srv.stop()

srv = smtpscript.Server(t, host=addr, ext=["AUTH PLAIN"], tls=(crt, key))
code, out, err = send(addr, srv.port)
t.ok(code == 0 and srv.session().auth == ("PLAIN", "relayuser", "s3cret") and any(c.startswith("AUTH") for c in srv.session().tls_commands()),
     "on the network with STARTTLS: AUTH inside TLS", err)
srv.stop()

srv = smtpscript.Server(t, host=addr, ext=["AUTH PLAIN"], tls=(crt, key), tls_fail="close")
code, out, err = send(addr, srv.port)
t.ok(code == 111 and len(srv.sessions) == 2 and all(s.auth is None for s in srv.sessions),
     "the handshake fails: the plain-text attempt does not send the credentials either", (out, err))
srv.stop()

srv = smtpscript.Server(t, host=addr, ext=["PIPELINING"])
code, out, err = send(addr, srv.port)
t.ok(code == 0 and out == OK and "offers no AUTH" in err,
     "no AUTH offered at all: sent without authentication, as before (no credentials cross)", err)
srv.stop()
cl.write("etc/tls-policy", None)
t.done()
