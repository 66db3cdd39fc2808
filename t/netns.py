"""netns: test hosts in network namespaces, for tests of mail between hosts.

    import netns
    net = netns.Net(t, ["blue", "red"])      # a hub namespace with a bridge,
                                              # one namespace per host on it
    net.ip("blue")                            # "10.X.0.2": each host's address
    net.add_addr("red", 9)                    # another address on red: 10.X.0.9
    net.dns(zone)                             # dnsserver.py on the hub, 10.X.0.1:53,
                                              # every host's resolv.conf points to it
    blue = net.stack("blue", envdir={...})    # bin/tern-up inside blue, SMTP on port 25
    net.run("blue", ["swaks", ...])           # any command inside a host

Everything is private to the test: addresses in 10.X.0.0/24 with X from
the test's pid, namespaces and /etc/netns/NAME named after it, all removed
at exit. Needs root and iproute2.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ternlib  # noqa: E402


def usable():
    """None if namespaces can be made here, else the reason."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not shutil.which("ip"):
        return "iproute2 is not installed"
    name = "ternprobe%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        return "ip netns add failed: " + r.stdout.decode(errors="replace").strip()
    subprocess.run(["ip", "netns", "del", name])
    return None


def sh(*argv, check=True):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stdout.decode(errors="replace")))
    return r


class Net:
    def __init__(self, t, hosts):
        self.t = t
        self.tag = "tn%d" % (os.getpid() % 100000)
        self.net = 16 + os.getpid() % 200          # 10.X.0.0/24
        self.hub = self.tag + "-hub"
        self.hosts = {}
        self.procs = []
        self.stacks = []
        t.at_exit(self.stop)
        sh("ip", "netns", "add", self.hub)
        self.nsrun(self.hub, ["ip", "link", "set", "lo", "up"])
        self.nsrun(self.hub, ["ip", "link", "add", "br0", "type", "bridge"])
        self.nsrun(self.hub, ["ip", "addr", "add", "10.%d.0.1/24" % self.net, "dev", "br0"])
        self.nsrun(self.hub, ["ip", "link", "set", "br0", "up"])
        for i, h in enumerate(hosts):
            self._host(h, i + 2)

    def ns(self, host):
        return self.tag + "-" + host

    def nsrun(self, ns, argv, check=True):
        return sh("ip", "netns", "exec", ns, *argv, check=check)

    def _host(self, host, n):
        ns = self.ns(host)
        a, b = "%sa%d" % (self.tag, n), "%sb%d" % (self.tag, n)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        sh("ip", "link", "set", a, "netns", ns)
        sh("ip", "link", "set", b, "netns", self.hub)
        self.nsrun(self.hub, ["ip", "link", "set", b, "master", "br0"])
        self.nsrun(self.hub, ["ip", "link", "set", b, "up"])
        self.nsrun(ns, ["ip", "link", "set", "lo", "up"])
        self.nsrun(ns, ["ip", "link", "set", a, "name", "eth0"])
        self.nsrun(ns, ["ip", "addr", "add", "10.%d.0.%d/24" % (self.net, n), "dev", "eth0"])
        self.nsrun(ns, ["ip", "link", "set", "eth0", "up"])
        os.makedirs("/etc/netns/" + ns, exist_ok=True)
        with open("/etc/netns/%s/resolv.conf" % ns, "w") as f:
            f.write("nameserver 10.%d.0.1\noptions timeout:1 attempts:2\n" % self.net)
        # a hosts file of its own, so that no name of the machine leaks in
        with open("/etc/netns/%s/hosts" % ns, "w") as f:
            f.write("127.0.0.1 localhost\n")
        self.hosts[host] = n

    def ip(self, host, n=None):
        return "10.%d.0.%d" % (self.net, n if n is not None else self.hosts[host])

    def add_addr(self, host, n):
        self.nsrun(self.ns(host), ["ip", "addr", "add", "10.%d.0.%d/24" % (self.net, n), "dev", "eth0"])
        return self.ip(host, n)

    def run(self, host, argv, input=None, env=None, timeout=120):
        e = dict(os.environ)
        if env:
            e.update(env)
        if isinstance(input, str):
            input = input.encode()
        return subprocess.run(["ip", "netns", "exec", self.ns(host)] + list(argv), input=input, env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)

    def popen(self, host, argv, env=None, **kw):
        e = dict(os.environ)
        if env:
            e.update(env)
        ns = self.ns(host) if host != "hub" else self.hub
        p = subprocess.Popen(["ip", "netns", "exec", ns] + list(argv), env=e, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def dns(self, zone):
        """The zone's server on the hub, 10.X.0.1 port 53, UDP and TCP."""
        import json
        zf = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=ternlib.TRASH)
        json.dump(zone, zf)
        zf.close()
        self._zonefile = zf.name
        p = self.popen("hub", ["/usr/bin/python3", os.path.join(HERE, "dnsserver.py"),
                               "--listen", "10.%d.0.1:53" % self.net, zf.name],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = p.stdout.readline().decode().strip()
        if not line.isdigit():
            raise RuntimeError("dnsserver did not start: %r" % line)
        return p

    def stack(self, host, envdir=None, domains=None, users=(), aliases=None):
        s = NetStack(self, host, envdir=envdir, domains=domains, users=users, aliases=aliases)
        self.stacks.append(s)
        return s

    def stop(self):
        for s in self.stacks:
            s.stop()
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        for ns in [self.ns(h) for h in self.hosts] + [self.hub]:
            r = subprocess.run(["ip", "netns", "pids", ns], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            for pid in r.stdout.decode().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
            shutil.rmtree("/etc/netns/" + ns, ignore_errors=True)
        if getattr(self, "_zonefile", None):
            try:
                os.unlink(self._zonefile)
            except OSError:
                pass


class NetStack:
    """bin/tern-up inside a host's namespace, listening on every address,
    SMTP on port 25; the host's mail name is HOST.test."""

    def __init__(self, net, host, envdir=None, domains=None, users=(), aliases=None):
        self.net = net
        self.host = host
        os.makedirs(ternlib.TRASH, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="net-%s-" % host, dir=ternlib.TRASH)
        os.chmod(self.root, 0o755)
        os.makedirs(os.path.join(self.root, "etc", "env"))
        domain = host + ".test"
        self.domain = domain
        with open(os.path.join(self.root, "etc", "me"), "w") as f:
            f.write("mx.%s\n" % domain)
        with open(os.path.join(self.root, "etc", "domains"), "w") as f:
            f.write("".join(d + "\n" for d in (domains or [domain])))
        with open(os.path.join(self.root, "etc", "aliases"), "w") as f:
            f.write("postmaster: %s\n" % (aliases or "postmaster-box@" + domain))
        for k, v in (envdir or {}).items():
            with open(os.path.join(self.root, "etc", "env", k), "w") as f:
                f.write(str(v) + "\n")
        self.env = dict(os.environ, TERN_ROOT=self.root, TERN_LIBEXEC=os.path.join(self.root, "libexec"))
        out = open(os.path.join(self.root, "tern-up.out"), "wb")
        self.proc = net.popen(host, [os.path.join(ternlib.REPO, "bin", "tern-up"), self.root],
                              env={"TERN_SMTP_PORT": "25", "TERN_LISTEN": "0.0.0.0", "TERN_BUILD": ternlib.BUILD},
                              stdout=out, stderr=subprocess.STDOUT)
        end = time.time() + 60
        while time.time() < end:
            r = net.run(host, ["/usr/bin/python3", "-c",
                               "import socket; socket.create_connection(('127.0.0.1', 25), timeout=1).close()"], timeout=10)
            if r.returncode == 0 and os.path.exists(os.path.join(self.root, "sock", "deliver")):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("tern did not start in %s: %s" % (host, open(os.path.join(self.root, "tern-up.out")).read()))
        for addr, pw in users:
            self.tool(["mailuser", "add", addr], input=pw + "\n")
        if users:
            self.tool(["mailuser", "list"])

    def tool(self, argv, input=None, env=None):
        a = [os.path.join(self.root, "libexec", argv[0])] + list(argv[1:])
        e = dict(self.env)
        if env:
            e.update(env)
        return self.net.run(self.host, a, input=input, env=e)

    def svc(self, *args):
        return subprocess.run(["s6-svc"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def path(self, *rel):
        return os.path.join(self.root, *rel)

    def mail(self, user, sub="new"):
        d = self.path("mail", self.domain, user, sub)
        out = []
        try:
            for f in sorted(os.listdir(d)):
                with open(os.path.join(d, f), "rb") as fh:
                    out.append(fh.read())
        except FileNotFoundError:
            pass
        return out

    def wait_mail(self, user, n, timeout=60, pred=None):
        end = time.time() + timeout
        while True:
            msgs = self.mail(user)
            if pred:
                msgs = [m for m in msgs if pred(m)]
            if len(msgs) >= n or time.time() > end:
                return msgs
            time.sleep(0.2)

    def log(self, service):
        try:
            with open(self.path("log", service, "current"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def mailq(self):
        import json
        r = self.tool(["mailq", "-j"])
        return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        subprocess.run(["pkill", "-KILL", "-f", self.root + "/"], stderr=subprocess.DEVNULL)
        if not os.environ.get("TERN_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)
