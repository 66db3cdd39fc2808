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
    subprocess.run(["flock", "/run/tern-useradd.lock", "sh", "-c",
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

    def tcpserver(self, prog, env=None, tcpopts=("-R", "-H"), host="127.0.0.1"):
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
