#!/usr/bin/python3
# smtp-send when STARTTLS fails under the default policy (may): the server
# drops the connection after its 220, answers with octets that are not
# TLS, says nothing until the handshake times out, or drops the
# connection on STARTTLS itself. The next exchanger is tried with TLS;
# when every exchanger failed with TLS, those that failed are tried again
# in plain text, in order, so that opportunistic TLS never costs a
# delivery plain text would make.
import os
import re
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
OK = ["ok bob@tls.test 250 2.0.0 queued as 42"]
c1, k1 = certs.leaf("mx1.tls.test")
c2, k2 = certs.leaf("mx2.tls.test")


def servers(mx1=None, mx2=None):
    port = smtpscript.free_port(ADDRS)
    out = []
    for addr, kw in zip(ADDRS, (mx1, mx2)):
        out.append(smtpscript.Server(t, host=addr, port=port, **kw) if kw is not None else None)
    return port, out


def by_session(*actions):
    """An action for a stage: the first for the server's first session, and so on."""
    n = [0]

    def f(arg, s):
        n[0] += 1
        return actions[min(n[0], len(actions)) - 1]
    return f


def send(port, env=None):
    return cl.send(["-f", "a@b.test", "--", "bob@tls.test"], port=port, env=env)


# --- mx1's handshake fails, mx2 takes the mail with TLS
port, (mx1, mx2) = servers({"tls": (c1, k1), "tls_fail": "close"}, {"tls": (c2, k2)})
code, out, err = send(port)
t.is_((code, out), (0, OK), "mx1 drops the connection after its 220 to STARTTLS: mx2 delivers")
t.ok(mx2.session().tls is not None and "DATA" in mx2.session().tls_commands(), "inside TLS")
t.like(err, r"info: tls host=mx1\.tls\.test ip=127\.0\.0\.2 status=failed reason=connection-(closed|reset)", "mx1's failure is logged")
t.like(err, r"info: tls host=mx2\.tls\.test ip=127\.0\.0\.3 protocol=TLSv1\.2 cipher=\S+ verified=yes", "mx2's session too")
t.is_(len(mx1.sessions), 1, "mx1 is not tried again in plain text: mx2 delivered")
t.ok("plain text" not in err, "no plain-text pass")
mx1.stop(); mx2.stop()

# --- both fail: mx1 again, in plain text
port, (mx1, mx2) = servers({"tls": (c1, k1), "tls_fail": "garbage"}, {"tls": (c2, k2), "tls_fail": "close"})
code, out, err = send(port)
t.is_((code, out), (0, OK), "every handshake fails: delivered in plain text")
t.like(err, r"tls host=mx1\.tls\.test ip=127\.0\.0\.2 status=failed reason=\S+", "mx1 answered with octets that are not TLS")
t.like(err, r"tls host=mx2\.tls\.test ip=127\.0\.0\.3 status=failed reason=connection-(closed|reset)", "mx2 dropped the connection")
t.like(err, r"warning: TLS failed with 2 servers: trying again in plain text", "then a warning")
t.is_([len(mx1.sessions), len(mx2.sessions)], [2, 1], "mx1 twice (TLS, then plain text), mx2 once")
s = mx1.session(1)
t.ok("STARTTLS" not in s.commands() and s.message is not None and s.tls is None,
     "mx1's second session: no STARTTLS, the message in plain text", s.commands())
order = [m.group(1) for m in re.finditer(r"connect host=(\S+) ", err)]
t.is_(order, ["mx1.tls.test", "mx2.tls.test", "mx1.tls.test"], "in order: mx1, mx2 with TLS, then mx1 in plain text")
mx1.stop(); mx2.stop()

# --- the first plain-text attempt fails too: the next one
port, (mx1, mx2) = servers({"tls": (c1, k1), "tls_fail": "close", "script": {"mail": "451 4.3.0 try later"}},
                           {"tls": (c2, k2), "tls_fail": "close"})
code, out, err = send(port)
t.is_((code, out), (0, OK), "mx1 refuses MAIL in plain text: mx2 in plain text delivers")
t.is_([len(mx1.sessions), len(mx2.sessions)], [2, 2], "each tried twice")
mx1.stop(); mx2.stop()

# --- everything fails: deferred with the furthest reason
port, (mx1, mx2) = servers({"tls": (c1, k1), "tls_fail": "close", "script": {"mail": "451 4.3.0 try later"}},
                           {"tls": (c2, k2), "tls_fail": "close", "script": {"mail": "451 4.3.0 try later"}})
code, out, err = send(port)
t.is_((code, out), (111, ["defer bob@tls.test 451 4.3.0 try later"]),
      "every server fails in TLS and then refuses in plain text: deferred with the server's reply, exit 111")
mx1.stop(); mx2.stop()
port, (mx1, mx2) = servers({"tls": (c1, k1), "tls_fail": "close", "script": {"greeting": by_session("220 hi", "421 4.3.2 go away")}})
code, out, err = send(port)
t.is_((code, out), (111, ["defer bob@tls.test 421 4.3.2 go away"]),
      "mx2 refuses connections, mx1 fails in TLS then turns the plain-text session away: deferred with its reply")
mx1.stop()
port, (mx1, mx2) = servers({"tls": (c1, k1), "tls_fail": "hang", "script": {"greeting": by_session("220 hi", "close")}})
code, out, err = send(port, env={"SMTPSEND_TIMEOUT": "1"})
t.is_((code, out), (111, ["defer bob@tls.test 4.7.5 mx1.tls.test [127.0.0.2]:%d: TLS handshake failed (timed-out)" % port]),
      "nothing gets further than the handshake: deferred 4.7.5 with its reason")
mx1.stop()

# --- the only exchanger that listens fails in TLS: it alone gets the plain-text attempt
port, (mx1, mx2) = servers(None, {"tls": (c2, k2), "tls_fail": "close"})
code, out, err = send(port)
t.ok(code == 0 and len(mx2.sessions) == 2 and mx2.session(1).message is not None,
     "mx1 refuses connections, mx2 fails in TLS: mx2 in plain text", err)
t.is_(len(re.findall(r"connect host=mx1\.tls\.test", err)), 1, "mx1 (no connection) is not tried again")
mx2.stop()

# --- a handshake that never ends: its deadline (SMTPSEND_TIMEOUT)
port, (mx1, mx2) = servers({"tls": (c1, k1), "tls_fail": "hang"})
code, out, err = send(port, env={"SMTPSEND_TIMEOUT": "2"})
t.ok(code == 0 and len(mx1.sessions) == 2 and mx1.session(1).message is not None,
     "a server silent after its 220: the handshake times out, then plain text", err)
t.like(err, r"tls host=mx1\.tls\.test ip=127\.0\.0\.2 status=failed reason=timed-out", "logged as timed-out")
mx1.stop()

# --- STARTTLS itself kills the connection: counted as a TLS failure
port, (mx1, mx2) = servers({"tls": (c1, k1), "script": {"starttls": "close"}})
code, out, err = send(port)
t.ok(code == 0 and len(mx1.sessions) == 2 and "STARTTLS" not in mx1.session(1).commands(),
     "the connection drops on STARTTLS: tried again in plain text", err)
t.like(err, r"session host=mx1\.tls\.test ip=127\.0\.0\.2 stage=STARTTLS status=connection closed", "logged at the STARTTLS stage")
mx1.stop()

t.done()
