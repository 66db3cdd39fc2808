"""ternlib: TAP output and throw-away tern instances for the tests in t/.

A test file is a python3 script printing TAP:

    #!/usr/bin/python3
    import ternlib
    t = ternlib.TAP()
    inst = ternlib.Instance()          # temp TERN_ROOT, demo@example.test
    port = inst.smtp()                  # smtp-recv under tcpserver on 127.0.0.1
    ...
    t.ok(cond, "what a user would check")
    t.done()

Instances are single-uid (every program as one user: `terntest` when the
tests run as root, else the invoking user) with TERN_DIRECT set, so the
s6-sudo hops are plain execs. Tests of the real multi-uid stack use
bin/tern-up through FullStack.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BUILD = os.environ.get("TERN_BUILD") or os.path.join(REPO, "build")
TRASH = os.path.join(HERE, "trash")
TESTUSER = "terntest"


class TAP:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.cleanups = []
        sys.stdout.reconfigure(line_buffering=True)

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            if diag is not None:
                self.diag(diag)
        return bool(cond)

    def is_(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def like(self, got, regex, name):
        return self.ok(got is not None and re.search(regex, got) is not None,
                       name, "got:  %r\nwant match: %r" % (got, regex))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)

    def skip_all(self, reason):
        print("1..0 # SKIP " + reason)
        self._cleanup()
        sys.exit(0)

    def at_exit(self, fn):
        self.cleanups.append(fn)

    def _cleanup(self):
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except Exception as e:  # cleanup must not hide results
                print("# cleanup: %r" % (e,))

    def done(self):
        self._cleanup()
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


def is_root():
    return os.geteuid() == 0


def ensure_user(name):
    """As root, create a system user if missing (under a lock: prove -j)."""
    import pwd
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    subprocess.run(["flock", "-w", "120", "/run/lock/tern-useradd", "sh", "-c",
                    "getent passwd %s >/dev/null || useradd --system --no-create-home "
                    "--home-dir /nonexistent --shell /usr/sbin/nologin %s" % (name, name)],
                   check=True)
    return pwd.getpwnam(name)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Instance:
    """A single-uid tern instance in a temporary directory."""

    def __init__(self, t=None, domains=("example.test", "localhost"), me="mx.example.test",
                 users=(("demo@example.test", "demo"),), aliases=("postmaster: demo@example.test",),
                 env=None):
        os.makedirs(TRASH, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="tern-", dir=TRASH)
        os.chmod(self.root, 0o755)
        self.procs = []
        self.t = t
        if is_root():
            pw = ensure_user(TESTUSER)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            self.asuser = ["s6-setuidgid", TESTUSER]
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            self.asuser = []
        self.env = dict(os.environ)
        self.env.update({
            "TERN_ROOT": self.root,
            "TERN_LIBEXEC": BUILD,
            "TERN_DIRECT": "1",
            "PATH": BUILD + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
        })
        if env:
            self.env.update(env)
        for d in ("etc", "etc/env", "queue", "queue/tmp", "queue/incoming", "queue/mess",
                  "queue/info", "mail", "sock", "log"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        os.mkfifo(os.path.join(self.root, "queue/trigger"), 0o600)
        self.write("etc/me", me + "\n")
        self.write("etc/domains", "".join(d + "\n" for d in domains))
        self.write("etc/aliases", "".join(a + "\n" for a in aliases))
        for addr, pw in users:
            self.adduser(addr, pw)
        self.newaliases()
        self.chown_all()
        if t is not None:
            t.at_exit(self.stop)

    # -- files --

    def path(self, *rel):
        return os.path.join(self.root, *rel)

    def write(self, rel, text, mode=0o644):
        p = self.path(rel)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)

    def read(self, rel):
        with open(self.path(rel), errors="replace") as f:
            return f.read()

    def chown_all(self):
        """Give the instance to the test uid (etc/ stays root's as in production)."""
        if not is_root():
            return
        for top in ("queue", "mail", "sock", "log"):
            for dirpath, dirnames, filenames in os.walk(self.path(top)):
                os.chown(dirpath, self.uid, self.gid)
                for f in filenames:
                    os.chown(os.path.join(dirpath, f), self.uid, self.gid)

    # -- running programs --

    def run(self, argv, input=None, env=None, asuser=True, timeout=60, check=False):
        """Run a program of the build (or any on PATH) and return CompletedProcess (bytes)."""
        e = dict(self.env)
        if env:
            e.update(env)
        cmd = (self.asuser if asuser else []) + list(argv)
        if isinstance(input, str):
            input = input.encode()
        return subprocess.run(cmd, input=input, env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=check)

    def adduser(self, addr, password):
        r = self.run(["mailuser", "add", addr], input=password + "\n", asuser=False)
        if r.returncode != 0:
            raise RuntimeError("mailuser add %s: %s" % (addr, r.stderr.decode(errors="replace")))

    def newaliases(self):
        r = self.run(["newaliases"], asuser=False)
        if r.returncode != 0:
            raise RuntimeError("newaliases: " + r.stderr.decode(errors="replace"))

    def spawn(self, argv, env=None, asuser=True, stdout=None, stderr=None, stdin=None):
        e = dict(self.env)
        if env:
            e.update(env)
        cmd = (self.asuser if asuser else []) + list(argv)
        p = subprocess.Popen(cmd, env=e, stdin=stdin or subprocess.DEVNULL,
                             stdout=stdout or subprocess.PIPE,
                             stderr=stderr if stderr is not None else open(self.path("log", "stderr"), "ab"),
                             start_new_session=True)
        self.procs.append(p)
        return p

    def tcpserver(self, prog, env=None, tcpopts=("-R", "-H", "-l", "0"), host="127.0.0.1"):
        """Start `tcpserver -1 host 0 prog...` (as root it drops to the test uid
        itself with -u/-g); return the port it printed."""
        opts = list(tcpopts)
        if is_root():
            opts += ["-u", str(self.uid), "-g", str(self.gid)]
        p = self.spawn(["tcpserver", "-1"] + opts + [host, "0"] + list(prog), env=env, asuser=False)
        line = p.stdout.readline().decode().strip()
        if not line.isdigit():
            raise RuntimeError("tcpserver did not start: %r" % line)
        return int(line)

    def smtp(self, env=None, args=()):
        """smtp-recv on a fresh loopback port; returns the port."""
        return self.tcpserver([os.path.join(BUILD, "smtp-recv")] + list(args), env=env)

    def queue_run(self, env=None):
        e = {"QUEUE_RESCAN": "2"}
        if env:
            e.update(env)
        return self.spawn([os.path.join(BUILD, "queue-run")], env=e, stdout=subprocess.DEVNULL)

    def maildir_files(self, mailbox, sub="new"):
        d = self.path("mail", mailbox, sub)
        try:
            return sorted(os.path.join(d, f) for f in os.listdir(d))
        except FileNotFoundError:
            return []

    def wait_mail(self, mailbox, n, timeout=30, sub="new"):
        """Wait until mailbox/sub holds at least n messages; return their contents."""
        end = time.time() + timeout
        while True:
            files = self.maildir_files(mailbox, sub)
            if len(files) >= n or time.time() > end:
                out = []
                for f in files:
                    with open(f, "rb") as fh:
                        out.append(fh.read())
                return out
            time.sleep(0.05)

    def queue_files(self):
        out = []
        for sub in ("incoming", "mess"):
            out += os.listdir(self.path("queue", sub))
        return sorted(out)

    def wait_queue_empty(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if not self.queue_files():
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []
        if not os.environ.get("TERN_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)


class FullStack:
    """The real thing: bin/tern-up in a temporary directory, every service
    under s6-svscan with its own uid (as root) and the s6-sudo hops, on
    free loopback ports. stop() brings it down with SIGTERM."""

    def __init__(self, t=None, env=None, envdir=None):
        os.makedirs(TRASH, exist_ok=True)
        os.chmod(TRASH, 0o755)
        self.root = tempfile.mkdtemp(prefix="full-", dir=TRASH)
        os.chmod(self.root, 0o755)
        self.smtp_port = free_port()
        e = dict(os.environ)
        e.update({"TERN_SMTP_PORT": str(self.smtp_port), "TERN_BUILD": BUILD})
        if env:
            e.update(env)
        if envdir:
            # service tunables (tern-config(5)), before the services start
            os.makedirs(os.path.join(self.root, "etc", "env"), exist_ok=True)
            for k, v in envdir.items():
                with open(os.path.join(self.root, "etc", "env", k), "w") as f:
                    f.write(str(v) + "\n")
        self._out = open(os.path.join(self.root, "tern-up.out"), "wb")
        self.proc = subprocess.Popen([os.path.join(REPO, "bin", "tern-up"), self.root], env=e,
                                     stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.env = dict(os.environ)
        self.env.update({"TERN_ROOT": self.root, "TERN_LIBEXEC": os.path.join(self.root, "libexec")})
        if t is not None:
            t.at_exit(self.stop)
        if not self.wait_port(self.smtp_port):
            raise RuntimeError("tern-up did not start: " + self.output())
        for s in ("queue-smtp", "queue", "deliver"):
            self.wait_path(os.path.join(self.root, "sock", s))

    def output(self):
        try:
            with open(os.path.join(self.root, "tern-up.out"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    @staticmethod
    def wait_port(port, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.1)
        return False

    @staticmethod
    def wait_path(p, timeout=30):
        end = time.time() + timeout
        while time.time() < end and not os.path.exists(p):
            time.sleep(0.1)
        return os.path.exists(p)

    def path(self, *rel):
        return os.path.join(self.root, *rel)

    def run(self, argv, input=None, env=None, timeout=60):
        e = dict(self.env)
        if env:
            e.update(env)
        if argv and "/" not in argv[0]:
            argv = [os.path.join(self.root, "libexec", argv[0])] + list(argv[1:])
        if isinstance(input, str):
            input = input.encode()
        return subprocess.run(argv, input=input, env=e, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    def svc(self, *args):
        return subprocess.run(["s6-svc"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def maildir_files(self, mailbox, sub="new"):
        d = self.path("mail", mailbox, sub)
        try:
            return sorted(os.path.join(d, f) for f in os.listdir(d))
        except (FileNotFoundError, PermissionError):
            return []

    def wait_mail(self, mailbox, n, timeout=30, sub="new"):
        return Instance.wait_mail(self, mailbox, n, timeout, sub)

    def queue_files(self):
        return Instance.queue_files(self)

    def wait_queue_empty(self, timeout=30):
        return Instance.wait_queue_empty(self, timeout)

    def log(self, service):
        try:
            with open(self.path("log", service, "current"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        # s6-supervise runs each service in a session of its own: make sure
        # nothing of this instance survives a failed stop.
        subprocess.run(["pkill", "-KILL", "-f", self.root + "/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._out.close()
        if not os.environ.get("TERN_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)


def smtp_raw(port, data, timeout=10, host="127.0.0.1", read_until_close=True):
    """Send raw bytes after the greeting and return everything the server said."""
    s = socket.create_connection((host, port), timeout=timeout)
    out = b""
    try:
        out += recv_reply(s)
        s.sendall(data)
        if read_until_close:
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        s.close()
    return out


def recv_reply(s):
    """Read one whole SMTP reply (multi-line aware) from a socket."""
    buf = b""
    while True:
        chunk = s.recv(1)
        if not chunk:
            return buf
        buf += chunk
        if buf.endswith(b"\r\n"):
            lines = buf.split(b"\r\n")
            last = lines[-2]
            if len(last) >= 4 and last[3:4] == b" ":
                return buf
            if len(last) == 3:
                return buf


def cdb_read(path):
    """All the records of a cdb file (D. J. Bernstein's format) as a dict
    key -> list of values (bytes), in file order. For checking what
    mailuser, newaliases and tcprules compiled."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    out = {}
    # the records run from 2048 to the first hash table
    end = min(struct.unpack_from("<I", data, 8 * i)[0] for i in range(256))
    pos = 2048
    while pos < end:
        klen, dlen = struct.unpack_from("<II", data, pos)
        pos += 8
        key = data[pos:pos + klen]
        out.setdefault(key, []).append(data[pos + klen:pos + klen + dlen])
        pos += klen + dlen
    return out
