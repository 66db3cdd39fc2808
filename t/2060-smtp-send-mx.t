#!/usr/bin/python3
# smtp-send without -H: mxlookup's exchangers in order (a test DNS server
# through DNSSERVER, exchangers on 127.0.0.2 and 127.0.0.3 and ::1, all on
# SMTPSEND_PORT), the next one when the first is dead; null MX and
# NXDOMAIN (exit 100), DNS trouble (111), the implicit MX, address
# literals, and an MX list naming this host (RFC 5321 5.1).
import os
import re
import socket
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript
import dnsserver

t = ternlib.TAP()
zone = {
    "x.test":     {"MX": [(10, "mx1.x.test"), (20, "mx2.x.test")]},
    "mx1.x.test": {"A": ["127.0.0.2"]},
    "mx2.x.test": {"A": ["127.0.0.3"]},
    "nomx.test":  {"A": ["127.0.0.3"]},
    "null.test":  {"MX": [(0, ".")]},
    "broken.test": "SERVFAIL",
    "loop.test":  {"MX": [(10, "client.test"), (20, "mx2.x.test")]},
    "loop2.test": {"MX": [(5, "mx1.x.test"), (10, "Client.Test"), (20, "mx2.x.test")]},
    "v6.test":    {"MX": [(10, "mx6.v6.test"), (20, "mx2.x.test")]},
    "client.test": {"A": ["127.0.0.9"]},
    "noaddr.test": {"MX": [(10, "nx.noaddr.test")]},
    "mx6.v6.test": {"AAAA": ["::1"]},
}
dns = dnsserver.DNSServer(zone)
dns.start(t)
port = smtpscript.free_port(("127.0.0.2", "127.0.0.3", "127.0.0.1"))
cl = smtpscript.Client(t, env={"DNSSERVER": "127.0.0.1:%d" % dns.port, "RES_OPTIONS": "timeout:1 attempts:1",
                               "SMTPSEND_PORT": str(port)})


def send(rcpts, body=b"Subject: mx\n\nhello\n"):
    return cl.send(["-f", "a@b.test", "--"] + list(rcpts), body=body, offset=4096)


# -- the first exchanger is dead, the second takes the mail --
mx2 = smtpscript.Server(t, host="127.0.0.3", port=port)
code, out, err = send(["bob@x.test", "carol@X.TEST"])
t.is_((code, out), (0, ["ok bob@x.test 250 2.0.0 queued as 42", "ok carol@X.TEST 250 2.0.0 queued as 42"]),
      "first MX refuses connections: the second delivers, exit 0")
t.like(err, r"connect host=mx1\.x\.test ip=127\.0\.0\.2 port=%d status=refused" % port, "the first MX was tried first")
t.like(err, r"connect host=mx2\.x\.test ip=127\.0\.0\.3 port=%d status=connected" % port, "then the second")
t.is_(mx2.session().message, b"Subject: mx\r\n\r\nhello\r\n", "the second MX got the message")

# -- both alive: the best one only --
mx1 = smtpscript.Server(t, host="127.0.0.2", port=port)
code, out, err = send(["bob@x.test"])
t.ok(code == 0 and mx1.session() is not None and len(mx2.sessions) == 1, "both alive: only the best MX is used")

# -- the best MX drops the connection during the message data: the next one gets it whole --
mx1.stop()
mx1 = smtpscript.Server(t, host="127.0.0.2", port=port, script={"body": "close"})
n2 = len(mx2.sessions)
big = b"Subject: big\n\n" + (b"y" * 70 + b"\n") * 60000
code, out, err = send(["bob@x.test"], body=big)
t.is_(out, ["ok bob@x.test 250 2.0.0 queued as 42"], "the best MX drops the data: the second MX delivers")
t.is_(mx2.session(n2).message, big.replace(b"\n", b"\r\n"), "reading the message again from its start (offset 4096)")
mx1.stop()

# -- the implicit MX, an address literal, IPv6 --
code, out, err = send(["bob@nomx.test"])
t.is_((code, out), (0, ["ok bob@nomx.test 250 2.0.0 queued as 42"]), "no MX record: the domain's own address (implicit MX)")
code, out, err = send(["bob@[127.0.0.3]"])
t.is_((code, out), (0, ["ok bob@[127.0.0.3] 250 2.0.0 queued as 42"]), "an address literal domain: straight to it")
t.is_(mx2.sessions[-1].commands()[2], "RCPT TO:<bob@[127.0.0.3]>", "the recipient as it was")
try:
    mx6 = smtpscript.Server(t, host="::1", port=port)
except OSError:
    mx6 = None
if mx6:
    code, out, err = send(["bob@v6.test"])
    t.is_((code, out), (0, ["ok bob@v6.test 250 2.0.0 queued as 42"]), "an IPv6 exchanger (::1)")
    t.like(err, r"connect host=mx6\.v6\.test ip=::1 port=%d status=connected" % port, "reached over IPv6")
else:
    t.ok(True, "# SKIP no IPv6 loopback")
    t.ok(True, "# SKIP no IPv6 loopback")

# -- every exchanger dead --
mx2.stop()
code, out, err = send(["bob@x.test", "carol@x.test"])
t.is_((code, out), (111, ["defer bob@x.test 4.4.1 mx1.x.test [127.0.0.2]:%d: connection refused" % port,
                          "defer carol@x.test 4.4.1 mx1.x.test [127.0.0.2]:%d: connection refused" % port]),
      "no exchanger reachable: every recipient deferred (the best MX's reason), exit 111")
t.like(err, r"mx2\.x\.test ip=127\.0\.0\.3 port=%d status=refused" % port, "both were tried")

# -- the domain takes no mail --
code, out, err = send(["bob@null.test", "carol@null.test"])
t.is_((code, out), (100, ["fail bob@null.test 5.1.10 null.test: domain accepts no mail (null MX, RFC 7505)",
                          "fail carol@null.test 5.1.10 null.test: domain accepts no mail (null MX, RFC 7505)"]),
      "null MX: every recipient fails 5.1.10, exit 100")
code, out, err = send(["bob@nx.test"])
t.is_((code, out), (100, ["fail bob@nx.test 5.1.2 nx.test: no such domain (NXDOMAIN)"]), "NXDOMAIN: 5.1.2, exit 100")
t.like(err, r"mxlookup: fatal: 5\.1\.2 nx\.test", "mxlookup's message is in the log")

code, out, err = send(["bob@noaddr.test"])
t.is_((code, out), (100, ["fail bob@noaddr.test 5.4.4 noaddr.test: no mail exchanger has an address"]),
      "no exchanger with an address: 5.4.4, exit 100")

# -- DNS trouble --
code, out, err = send(["bob@broken.test"])
t.is_((code, out), (111, ["defer bob@broken.test 4.4.3 broken.test: temporary DNS failure looking up MX"]),
      "SERVFAIL: deferred 4.4.3, exit 111")
code, out, err = cl.send(["-f", "a@b.test", "--", "bob@x.test"], env={"DNSSERVER": "bad"})
t.is_((code, out), (111, ["defer bob@x.test 4.3.5 invalid $DNSSERVER: bad"]), "mxlookup's own trouble: deferred, exit 111")

# -- this host among the exchangers (RFC 5321 5.1) --
mx2 = smtpscript.Server(t, host="127.0.0.3", port=port)
code, out, err = send(["bob@loop.test"])
t.is_((code, out), (100, ["fail bob@loop.test 5.4.6 mail for loop.test loops back to myself (client.test is its best mail exchanger)"]),
      "etc/me is the best MX: 5.4.6, exit 100, the less preferred ones not tried")
t.is_(len(mx2.sessions), 0, "mx2 was not contacted")
code, out, err = send(["bob@loop2.test"])
t.ok(code == 111 and len(mx2.sessions) == 0 and "127.0.0.2" in out[0],
     "etc/me at preference 10: only the better exchanger (5) is tried, not the one at 20", out)
t.done()
