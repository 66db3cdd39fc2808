#!/usr/bin/python3
# mxlookup: where mail goes (RFC 5321 5.1): MX records by preference,
# equal preferences shuffled, A then AAAA addresses of each exchanger,
# the implicit MX, CNAMEs followed, address literals, -a.
import os
import subprocess
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import dnsserver

t = ternlib.TAP()
zone = {
    "example.test":      {"MX": [(20, "mx2.example.test"), (10, "mx1.example.test"), (30, "mx3.example.test")]},
    "mx1.example.test":  {"A": ["127.0.0.2", "127.0.0.12"], "AAAA": ["2001:db8::2"]},
    "mx2.example.test":  {"A": ["127.0.0.3"]},
    "mx3.example.test":  {"AAAA": ["2001:db8::3"]},
    "equal.test":        {"MX": [(10, "a.equal.test"), (10, "b.equal.test"), (5, "c.equal.test")]},
    "a.equal.test":      {"A": ["127.0.1.1"]},
    "b.equal.test":      {"A": ["127.0.1.2"]},
    "c.equal.test":      {"A": ["127.0.1.3"]},
    "nomx.test":         {"A": ["127.0.0.4"], "AAAA": ["2001:db8::4"]},
    "alias.test":        {"CNAME": "alias2.test"},
    "alias2.test":       {"CNAME": "example.test"},
    "far.test":          {"CNAME": "example.test", "chase": False},
    "cnamemx.test":      {"MX": [(10, "mxalias.cnamemx.test")]},
    "mxalias.cnamemx.test": {"CNAME": "real.cnamemx.test"},
    "real.cnamemx.test": {"A": ["127.0.2.1"]},
    "aliasnomx.test":    {"CNAME": "nomx.test"},
    "dup.test":          {"MX": [(10, "d1.dup.test"), (20, "d2.dup.test")]},
    "d1.dup.test":       {"A": ["127.0.3.1"]},
    "d2.dup.test":       {"A": ["127.0.3.1", "127.0.3.2"]},
    "halfdead.test":     {"MX": [(10, "gone.halfdead.test"), (20, "noaddr.halfdead.test"), (30, "ok.halfdead.test")]},
    "noaddr.halfdead.test": {"TXT": ["no address here"]},
    "ok.halfdead.test":  {"A": ["127.0.4.1"]},
    "tempmx.test":       {"MX": [(10, "broken.tempmx.test"), (20, "ok.tempmx.test")]},
    "broken.tempmx.test": "SERVFAIL",
    "ok.tempmx.test":    {"A": ["127.0.5.1"]},
    "host.test":         {"A": ["127.0.6.1"], "MX": [(10, "mx1.example.test")]},
}
dns = dnsserver.DNSServer(zone)
dns.start(t)
env = dict(os.environ, DNSSERVER="127.0.0.1:%d" % dns.port, RES_OPTIONS="timeout:2 attempts:2")


def mxlookup(*args):
    r = subprocess.run([os.path.join(ternlib.BUILD, "mxlookup")] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


code, out, err = mxlookup("example.test")
t.is_((code, out), (0, "10 mx1.example.test 127.0.0.2\n"
                       "10 mx1.example.test 127.0.0.12\n"
                       "10 mx1.example.test 2001:db8::2\n"
                       "20 mx2.example.test 127.0.0.3\n"
                       "30 mx3.example.test 2001:db8::3\n"),
      "MX by preference, each exchanger's A then AAAA addresses, in DNS order")
t.is_(err, "", "nothing on stderr")

code, out2, _ = mxlookup("Example.TEST.")
t.is_(out2, out, "case and a trailing dot do not matter")

orders = set()
for i in range(40):
    code, out, err = mxlookup("equal.test")
    lines = out.splitlines()
    if code != 0 or len(lines) != 3 or lines[0] != "5 c.equal.test 127.0.1.3":
        t.ok(False, "equal preferences: preference 5 first", out + err)
        break
    orders.add(tuple(lines[1:]))
t.is_(sorted(orders), [("10 a.equal.test 127.0.1.1", "10 b.equal.test 127.0.1.2"),
                       ("10 b.equal.test 127.0.1.2", "10 a.equal.test 127.0.1.1")],
      "equal preferences shuffled: both orders seen in 40 runs, the best preference always first")

code, out, err = mxlookup("nomx.test")
t.is_((code, out), (0, "0 nomx.test 127.0.0.4\n0 nomx.test 2001:db8::4\n"),
      "no MX: the implicit MX, the domain's own A and AAAA with preference 0")

code, out, err = mxlookup("host.test")
t.ok(code == 0 and "127.0.6.1" not in out and "mx1.example.test" in out,
     "MX present: the domain's own address is not used (RFC 5321 5.1)", out)

code, out, err = mxlookup("alias.test")
t.ok(code == 0 and out.startswith("10 mx1.example.test 127.0.0.2\n") and out.count("\n") == 5,
     "CNAME chain on the domain (alias -> alias2 -> example), followed by the server", out + err)

n = dns.count("example.test", "MX")
code, out, err = mxlookup("far.test")
t.ok(code == 0 and out.startswith("10 mx1.example.test 127.0.0.2\n"),
     "CNAME the server did not follow: mxlookup asks for its target", out + err)
t.is_(dns.count("example.test", "MX") - n, 1, "one more MX query, for the CNAME's target")

code, out, err = mxlookup("cnamemx.test")
t.is_((code, out), (0, "10 mxalias.cnamemx.test 127.0.2.1\n"),
      "CNAME on an exchanger's name: followed, the exchanger printed by its MX name")

code, out, err = mxlookup("aliasnomx.test")
t.is_((code, out), (0, "0 aliasnomx.test 127.0.0.4\n0 aliasnomx.test 2001:db8::4\n"),
      "CNAME to a domain without MX: the implicit MX of the target")

code, out, err = mxlookup("dup.test")
t.is_(out, "10 d1.dup.test 127.0.3.1\n20 d2.dup.test 127.0.3.2\n",
      "an address is printed once, at its best preference")

code, out, err = mxlookup("halfdead.test")
t.is_((code, out), (0, "30 ok.halfdead.test 127.0.4.1\n"),
      "exchangers without an address (NXDOMAIN, no A/AAAA) are skipped")
t.like(err, r"mxlookup: warning: gone\.halfdead\.test: no such host: mail exchanger skipped",
       "a warning for each skipped exchanger")

code, out, err = mxlookup("tempmx.test")
t.is_((code, out), (0, "20 ok.tempmx.test 127.0.5.1\n"),
      "an exchanger whose lookup fails temporarily is skipped when another has an address")
t.like(err, r"broken\.tempmx\.test: temporary DNS failure", "and its failure is logged")

code, out, err = mxlookup("[192.0.2.1]")
t.is_((code, out), (0, "0 [192.0.2.1] 192.0.2.1\n"), "IPv4 address literal")
code, out, err = mxlookup("[IPv6:2001:DB8:0:0::1]")
t.is_((code, out), (0, "0 [IPv6:2001:DB8:0:0::1] 2001:db8::1\n"), "IPv6 address literal (RFC 5321 4.1.3)")
t.is_(dns.count(name="[192.0.2.1]"), 0, "no DNS query for a literal")

code, out, err = mxlookup("-a", "mx1.example.test")
t.is_((code, out), (0, "0 mx1.example.test 127.0.0.2\n0 mx1.example.test 127.0.0.12\n0 mx1.example.test 2001:db8::2\n"),
      "-a: a host's addresses, no MX lookup")
code, out, err = mxlookup("-a", "host.test")
t.is_(out, "0 host.test 127.0.6.1\n", "-a ignores MX records")
code, out, err = mxlookup("-a", "mxalias.cnamemx.test")
t.is_(out, "0 mxalias.cnamemx.test 127.0.2.1\n", "-a follows CNAMEs")
t.done()
