#!/usr/bin/python3
# mxlookup's failures: permanent ones exit 100 (null MX, RFC 7505; NXDOMAIN;
# no usable exchanger; bad arguments), temporary ones 111 (SERVFAIL,
# REFUSED, no answer, a bad $DNSSERVER); the fatal line starts with an
# RFC 3463 code.
import os
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import dnsserver

t = ternlib.TAP()
zone = {
    "null.test":       {"MX": [(0, ".")]},
    "nullplus.test":   {"MX": [(0, "."), (10, "mx.nullplus.test")]},
    "mx.nullplus.test": {"A": ["127.0.0.9"]},
    "broken.test":     "SERVFAIL",
    "refused.test":    "REFUSED",
    "slow.test":       "DROP",
    "noaddr.test":     {"MX": [(10, "nx.noaddr.test"), (20, "txt.noaddr.test")]},
    "txt.noaddr.test": {"TXT": ["x"]},
    "tempaddr.test":   {"MX": [(10, "broken.test"), (20, "nx.tempaddr.test")]},
    "slowaddr.test":   {"MX": [(10, "slow.test")]},
    "bare.test":       {"TXT": ["nothing else"]},
    "cnameloop.test":  {"CNAME": "loop2.test"},
    "loop2.test":      {"CNAME": "cnameloop.test"},
}
dns = dnsserver.DNSServer(zone)
dns.start(t)
# a server that never answers must not hold the tests up: glibc's resolver
# takes RES_OPTIONS from the environment (resolv.conf(5)), 1 s, one try
env = dict(os.environ, DNSSERVER="127.0.0.1:%d" % dns.port, RES_OPTIONS="timeout:1 attempts:1")


def mxlookup(*args, e=None):
    r = subprocess.run([os.path.join(ternlib.BUILD, "mxlookup")] + list(args), env=e or env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


code, out, err = mxlookup("null.test")
t.is_((code, out), (100, ""), "null MX (RFC 7505): exit 100, nothing on stdout")
t.is_(err, "mxlookup: fatal: 5.1.10 null.test: domain accepts no mail (null MX, RFC 7505)\n",
      "null MX: the reason with 5.1.10 (RFC 7505 3.2)")

code, out, err = mxlookup("nullplus.test")
t.is_((code, out), (0, "10 mx.nullplus.test 127.0.0.9\n"), "a \".\" MX beside others is only skipped")

code, out, err = mxlookup("nx.test")
t.is_((code, out, err), (100, "", "mxlookup: fatal: 5.1.2 nx.test: no such domain (NXDOMAIN)\n"),
      "NXDOMAIN: exit 100, 5.1.2")

code, out, err = mxlookup("broken.test")
t.is_((code, out), (111, ""), "SERVFAIL: exit 111")
t.like(err, r"^mxlookup: fatal: 4\.4\.3 broken\.test: temporary DNS failure", "SERVFAIL: 4.4.3")

code, out, err = mxlookup("refused.test")
t.is_(code, 111, "REFUSED: exit 111")

before = dns.count("slow.test", "MX")
code, out, err = mxlookup("slow.test")
t.is_((code, out), (111, ""), "no answer (timeout): exit 111")
t.is_(dns.count("slow.test", "MX") - before, 1, "the resolver follows RES_OPTIONS (attempts:1: one query, not glibc's default two)")

code, out, err = mxlookup("noaddr.test")
t.is_((code, out), (100, ""), "no exchanger has an address (NXDOMAIN, NODATA): exit 100")
t.like(err, r"fatal: 5\.4\.4 noaddr\.test: no mail exchanger has an address", "with 5.4.4")

code, out, err = mxlookup("tempaddr.test")
t.is_(code, 111, "no exchanger has an address, one lookup failed temporarily: exit 111")
t.like(err, r"fatal: 4\.4\.3 ", "with 4.4.3")

code, out, err = mxlookup("slowaddr.test")
t.is_(code, 111, "an exchanger's address lookup times out: exit 111")

code, out, err = mxlookup("bare.test")
t.is_(code, 100, "no MX and no address: exit 100")
t.like(err, r"5\.4\.4 bare\.test: no MX and no address record", "with 5.4.4")

code, out, err = mxlookup("cnameloop.test")
t.is_(code, 111, "a CNAME loop: exit 111 (given up after 8 hops)")

code, out, err = mxlookup("-a", "nx.test")
t.is_(code, 100, "-a, NXDOMAIN: exit 100")
code, out, err = mxlookup("-a", "broken.test")
t.is_(code, 111, "-a, SERVFAIL: exit 111")

for bad in ("bad domain", "a..b", ".lead", "x" * 254, "[300.1.1.1]", "[IPv6:zz::1]", "[0.0.0.0]", "caf\u00e9.test"):
    code, out, err = mxlookup(bad)
    t.ok(code == 100 and out == "" and "5.1.2" in err, "invalid domain %r: exit 100, 5.1.2" % bad[:20], err)

code, out, err = mxlookup()
t.is_(code, 100, "no argument: usage, exit 100")
t.like(err, r"^mxlookup: usage: ", "usage line")
code, out, err = mxlookup("a.test", "b.test")
t.is_(code, 100, "two arguments: exit 100")
code, out, err = mxlookup("-x", "a.test")
t.is_(code, 100, "unknown option: exit 100")

code, out, err = mxlookup("example.test", e=dict(env, DNSSERVER="not-an-ip"))
t.is_(code, 111, "invalid $DNSSERVER: exit 111 (a configuration error is temporary)")
t.like(err, r"4\.3\.5 invalid \$DNSSERVER", "with 4.3.5")
code, out, err = mxlookup("null.test", e=dict(env, DNSSERVER="127.0.0.1:%d" % dns.port))
t.is_(code, 100, "$DNSSERVER addr:port is used")
t.done()
