#!/usr/bin/python3
# mxlookup: an answer too big for UDP comes back truncated (TC) and glibc's
# resolver asks again over TCP (RFC 1035 4.2.1); every record is used.
import os
import subprocess
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import dnsserver

t = ternlib.TAP()
zone = {"big.test": {"MX": [(i, "mx%02d.with-a-rather-long-exchanger-name.big.test" % i) for i in range(40)]}}
for i in range(40):
    zone["mx%02d.with-a-rather-long-exchanger-name.big.test" % i] = {"A": ["10.0.%d.1" % i]}
zone["many.test"] = {"A": ["10.1.%d.%d" % (i // 200, i % 200 + 1) for i in range(300)]}
dns = dnsserver.DNSServer(zone)
dns.start(t)
env = dict(os.environ, DNSSERVER="127.0.0.1:%d" % dns.port, RES_OPTIONS="timeout:2 attempts:2")


def mxlookup(*args):
    r = subprocess.run([os.path.join(ternlib.BUILD, "mxlookup")] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


code, out, err = mxlookup("big.test")
lines = out.splitlines()
t.is_(code, 0, "40 MX records (about 2 KB): exit 0")
t.is_(len(lines), 40, "all 40 exchangers printed")
t.is_([l.split()[0] for l in lines], [str(i) for i in range(40)], "in preference order")
t.ok(dns.count("big.test", "MX", "udp") == 1 and dns.count("big.test", "MX", "tcp") == 1,
     "asked over UDP, truncated, asked again over TCP", dns.queries[:4])

code, out, err = mxlookup("nomx-many.test")
t.is_(code, 100, "(control: an unknown name is NXDOMAIN)")
code, out, err = mxlookup("-a", "many.test")
t.is_((code, len(out.splitlines())), (0, 256), "300 A records over TCP: the first 256 addresses printed (mxlookup's cap)")
t.ok(dns.count("many.test", "A", "tcp") >= 1, "the A query went over TCP too")
t.done()
