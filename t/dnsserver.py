"""dnsserver: a small DNS server for the tests (python3-dnslib), UDP and TCP
on 127.0.0.1, one free port for both, answering from a zone given as a dict.

    import dnsserver
    dns = dnsserver.DNSServer({
        "example.test":     {"MX": [(10, "mx1.example.test"), (20, "mx2.example.test")]},
        "mx1.example.test": {"A": ["127.0.0.2"], "AAAA": ["::1"]},
        "alias.test":       {"CNAME": "example.test"},
        "nomx.test":        {"A": ["127.0.0.4"]},
        "null.test":        {"MX": [(0, ".")]},
        "broken.test":      "SERVFAIL",   # this rcode for every query of the name
        "refused.test":     "REFUSED",
        "slow.test":        "DROP",       # never answers
    })
    dns.start(t)                          # t: a ternlib.TAP, stops the server at exit
    env = {"DNSSERVER": "127.0.0.1:%d" % dns.port}
    ...
    dns.queries                           # [(proto, name, type), ...] as received

A name absent from the zone is NXDOMAIN; a name present without the type
asked is NODATA (NOERROR, empty answer). CNAMEs are followed inside the
zone and their targets' records added to the answer, as a recursive
resolver does, unless the server was started with chase=False or the
entry says "chase": False (then the answer holds the CNAME alone and the
client must ask again). A UDP answer bigger than 512 octets (or the
EDNS0 payload size the query offers) goes out truncated (TC set, no
records), so that the client retries over TCP.

As a program: `dnsserver.py [--listen ADDR:PORT] ZONE.json` prints the
port and serves until killed (zone: the same dict as JSON, MX values as
[pref, name] lists; default 127.0.0.1 and a free port).
"""

import json
import os
import socket
import struct
import sys
import threading

from dnslib import DNSRecord, DNSHeader, RR, QTYPE, RCODE, A, AAAA, MX, CNAME, TXT


def _norm(name):
    name = str(name).lower()
    return name[:-1] if name.endswith(".") and name != "." else name


class DNSServer:
    def __init__(self, zone, chase=True, ttl=60):
        self.zone = {_norm(k): v for k, v in zone.items()}
        self.chase = chase
        self.ttl = ttl
        self.queries = []
        self.port = None
        self._stop = False
        self._threads = []
        self._lock = threading.Lock()

    # -- answers --

    def _records(self, name, qtype):
        """The RRs of name of type qtype (a list), or a string rcode/DROP."""
        e = self.zone.get(name)
        if e is None:
            return "NXDOMAIN"
        if isinstance(e, str):
            return e
        out = []
        if qtype == "MX":
            for pref, exch in e.get("MX", []):
                out.append(RR(name, QTYPE.MX, rdata=MX(exch, pref), ttl=self.ttl))
        elif qtype == "A":
            for a in e.get("A", []):
                out.append(RR(name, QTYPE.A, rdata=A(a), ttl=self.ttl))
        elif qtype == "AAAA":
            for a in e.get("AAAA", []):
                out.append(RR(name, QTYPE.AAAA, rdata=AAAA(a), ttl=self.ttl))
        elif qtype == "TXT":
            for s in e.get("TXT", []):
                out.append(RR(name, QTYPE.TXT, rdata=TXT(s), ttl=self.ttl))
        return out

    def answer(self, data):
        """The reply (bytes) to a query packet, or None to stay silent."""
        q = DNSRecord.parse(data)
        qname = _norm(q.q.qname)
        qtype = QTYPE.get(q.q.qtype)
        r = q.reply()
        r.header.aa = 1
        name = qname
        seen = set()
        while True:
            e = self.zone.get(name)
            if isinstance(e, dict) and "CNAME" in e and qtype != "CNAME":
                r.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(e["CNAME"]), ttl=self.ttl))
                target = _norm(e["CNAME"])
                if not self.chase or e.get("chase") is False or target in seen:
                    return r.pack()
                seen.add(name)
                name = target
                continue
            recs = self._records(name, qtype)
            if recs == "DROP":
                return None
            if isinstance(recs, str):
                r.header.rcode = getattr(RCODE, recs)
                return r.pack()
            for rr in recs:
                r.add_answer(rr)
            return r.pack()

    # -- transport --

    def _udp_max(self, data):
        try:
            q = DNSRecord.parse(data)
        except Exception:
            return 512
        for rr in q.ar:
            if rr.rtype == QTYPE.OPT:
                return max(512, rr.rclass)
        return 512

    def _udp_loop(self):
        while not self._stop:
            try:
                data, addr = self.udp.recvfrom(65535)
            except OSError:
                return
            try:
                q = DNSRecord.parse(data)
                with self._lock:
                    self.queries.append(("udp", _norm(q.q.qname), QTYPE.get(q.q.qtype)))
                out = self.answer(data)
            except Exception:
                continue
            if out is None:
                continue
            if len(out) > self._udp_max(data):
                # header and question only (a resolver matches the question)
                full = DNSRecord.parse(out)
                t = DNSRecord(DNSHeader(id=full.header.id, bitmap=full.header.bitmap, tc=1), q=full.q)
                out = t.pack()
            try:
                self.udp.sendto(out, addr)
            except OSError:
                pass

    def _tcp_conn(self, c):
        c.settimeout(10)
        try:
            while True:
                hdr = self._recvn(c, 2)
                if not hdr:
                    return
                n = struct.unpack("!H", hdr)[0]
                data = self._recvn(c, n)
                if not data:
                    return
                q = DNSRecord.parse(data)
                with self._lock:
                    self.queries.append(("tcp", _norm(q.q.qname), QTYPE.get(q.q.qtype)))
                out = self.answer(data)
                if out is None:
                    continue
                c.sendall(struct.pack("!H", len(out)) + out)
        except Exception:
            return
        finally:
            c.close()

    @staticmethod
    def _recvn(c, n):
        buf = b""
        while len(buf) < n:
            chunk = c.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def _tcp_loop(self):
        while not self._stop:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                return
            th = threading.Thread(target=self._tcp_conn, args=(c,), daemon=True)
            th.start()

    def start(self, t=None, host="127.0.0.1", port=0):
        """Listens on host, port (0: a free one, the same for UDP and TCP)."""
        want = port
        for _ in range(1 if want else 50):
            # a fresh UDP port each try: the TCP side of the last one was taken
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind((host, want))
            port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind((host, port))
            except OSError:
                self.udp.close()
                self.tcp.close()
                continue
            self.tcp.listen(16)
            self.port = port
            break
        else:
            raise RuntimeError("dnsserver: no free port for UDP and TCP")
        for fn in (self._udp_loop, self._tcp_loop):
            th = threading.Thread(target=fn, daemon=True)
            th.start()
            self._threads.append(th)
        if t is not None:
            t.at_exit(self.stop)
        return self.port

    def stop(self):
        self._stop = True
        for s in (self.udp, self.tcp):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def count(self, name=None, qtype=None, proto=None):
        """How many queries matched (any field left None matches)."""
        with self._lock:
            return sum(1 for p, n, q in self.queries
                       if (name is None or n == _norm(name)) and (qtype is None or q == qtype)
                       and (proto is None or p == proto))


def main():
    args = sys.argv[1:]
    host, port = "127.0.0.1", 0
    if len(args) == 3 and args[0] == "--listen":
        host, _, p = args[1].rpartition(":")
        port = int(p)
        args = args[2:]
    if len(args) != 1:
        sys.exit("usage: dnsserver.py [--listen addr:port] ZONE.json")
    with open(args[0]) as f:
        zone = json.load(f)
    for e in zone.values():
        if isinstance(e, dict) and "MX" in e:
            e["MX"] = [tuple(x) for x in e["MX"]]
    s = DNSServer(zone)
    s.start(host=host, port=port)
    print(s.port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
