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
        # a test that dies before done() still stops what it started
        import atexit
        atexit.register(self._cleanup)

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


# every Instance's stderr log, so that a connection closed by surprise can
# say what the servers said (see ImapConn._fill)
STDERR_LOGS = []


def stderr_tails(n=2000):
    out = []
    for p in STDERR_LOGS:
        try:
            with open(p, errors="replace") as f:
                out.append(f.read()[-n:])
        except OSError:
            pass
    return " | ".join(x for x in out if x)


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
        STDERR_LOGS.append(os.path.join(self.root, "log", "stderr"))
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

    def fake_queue_add(self, out):
        """A TERN_LIBEXEC whose queue-add (qmail-queue's contract: message
        on fd 0, envelope on fd 1) stores out/msg, out/env and out/environ
        and exits $FAKEQ_EXIT (0); returns the environment that selects it."""
        d = self.path("fakelibexec")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "queue-add"), "w") as f:
            f.write("#!/bin/sh\n# qmail-queue stand-in: message on fd 0, envelope on fd 1\n"
                    "cat >\"$FAKEQ/msg\" && cat <&1 >\"$FAKEQ/env\" && env >\"$FAKEQ/environ\"\n"
                    "exit ${FAKEQ_EXIT:-0}\n")
        os.chmod(os.path.join(d, "queue-add"), 0o755)
        return {"TERN_LIBEXEC": d, "FAKEQ": out}

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


# ---- TLS: test certificates and tlsd (t/6*-tlsd-*.t) ----

def openssl_cert(dirpath, name, kind="ec", issuer=None, ca=False, days=30, sans=None):
    """DIR/NAME.key (PKCS#8 PEM, mode 0600) and DIR/NAME.crt made with
    openssl: kind "ec" (P-256), "ec384", "rsa" (2048) or "rsaNNNN";
    self-signed, or signed by issuer (the name of an earlier call with
    ca=True, in the same directory). The certificate is for NAME (CN and
    subjectAltName, or the names in sans). Returns (crt, key)."""
    key = os.path.join(dirpath, name + ".key")
    crt = os.path.join(dirpath, name + ".crt")
    if kind.startswith("rsa"):
        gen = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%s" % (kind[3:] or "2048")]
    else:
        gen = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
               "ec_paramgen_curve:%s" % ("P-384" if kind == "ec384" else "P-256")]
    subprocess.run(gen + ["-out", key], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    ext = ["-addext", "basicConstraints=critical,CA:TRUE" if ca else "basicConstraints=CA:FALSE"]
    if ca:
        ext += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    else:
        ext += ["-addext", "subjectAltName=" + ",".join("DNS:" + n for n in (sans or [name]))]
    subj = ["-subj", "/CN=" + name]
    if issuer is None:
        subprocess.run(["openssl", "req", "-x509", "-new", "-key", key, "-days", str(days), "-sha256"] + subj + ext
                       + ["-out", crt], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        csr = os.path.join(dirpath, name + ".csr")
        subprocess.run(["openssl", "req", "-new", "-key", key] + subj + ext + ["-out", csr],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(dirpath, issuer + ".crt"),
                        "-CAkey", os.path.join(dirpath, issuer + ".key"), "-CAcreateserial", "-days", str(days),
                        "-sha256", "-copy_extensions", "copyall", "-out", crt],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


def tlsd_server(inst, opts=(), prog=(), env=None, asuser=True, stderr=None):
    """tcpserver -> tlsd OPTS -> [s6-setuidgid TESTUSER] PROG... on a fresh
    loopback port; tcpserver keeps the test's uid (root: tlsd reads the
    keys as root and its engine drops to TLS_UID). Returns the port; the
    tcpserver process is inst.procs[-1]."""
    drop = ["s6-setuidgid", TESTUSER] if asuser and is_root() else []
    argv = ["tcpserver", "-1", "-R", "-H", "-l", "0", "127.0.0.1", "0",
            os.path.join(BUILD, "tlsd")] + list(opts) + drop + list(prog)
    p = inst.spawn(argv, env=env, asuser=False, stderr=stderr)
    line = p.stdout.readline().decode().strip()
    if not line.isdigit():
        raise RuntimeError("tcpserver did not start: %r" % line)
    return int(line)


def write_big(path, mib, subject=b"big"):
    """Writes a message of about mib MiB (lines of 1,023 z's) to path."""
    with open(path, "wb") as f:
        f.write(b"Subject: " + subject + b"\n\n")
        chunk = (b"z" * 1023 + b"\n") * 1024
        for i in range(mib):
            f.write(chunk)


# ---- POP3: pop3-login (the login monitor), pwcheck, pop3-serve ----

LOGINUSER = "ternlogin"
# The submission sessions (smtp-recv -s) run as ternsub, not ternlogin: a
# POP3 pre-auth child must not share a uid with sessions that queue mail.
SUBUSER = "ternsub"


class Pop3Instance(Instance):
    """An Instance that also serves POP3. pop3-login must start as root
    (its monitor forks the pre-auth child as ternlogin and runs pwcheck as
    root), so its tcpserver keeps the uid it starts with; pwcheck then
    becomes the owner of mail/ (the test uid)."""

    def tcpserver_asis(self, prog, env=None, tcpopts=("-R", "-H", "-l", "0"), host="127.0.0.1"):
        """`tcpserver -1 host 0 prog...` without -u/-g; returns the port."""
        p = self.spawn(["tcpserver", "-1"] + list(tcpopts) + [host, "0"] + list(prog), env=env, asuser=False)
        line = p.stdout.readline().decode().strip()
        if not line.isdigit():
            raise RuntimeError("tcpserver did not start: %r" % line)
        self.pop3_server = p
        return int(line)

    def login_env(self):
        """TERN_LOGIN_UID/GID as tern-setup writes them into the run script."""
        if not is_root():
            return {}
        pw = ensure_user(LOGINUSER)
        return {"TERN_LOGIN_UID": str(pw.pw_uid), "TERN_LOGIN_GID": str(pw.pw_gid)}

    def submit_env(self):
        """TERN_LOGIN_UID/GID for smtp-recv -s, as tern-setup writes them."""
        if not is_root():
            return {}
        pw = ensure_user(SUBUSER)
        return {"TERN_LOGIN_UID": str(pw.pw_uid), "TERN_LOGIN_GID": str(pw.pw_gid)}

    def pop3(self, env=None, chain=None, tcpopts=("-R", "-H", "-l", "0")):
        """pop3-login CHAIN... on a fresh loopback port (default chain:
        pwcheck pop3-serve, with the per-address delay off unless env sets
        PWCHECK_DELAY); returns the port."""
        e = {"PWCHECK_DELAY": "0"}
        e.update(self.login_env())
        if env:
            e.update(env)
        if chain is None:
            chain = [os.path.join(BUILD, "pwcheck"), os.path.join(BUILD, "pop3-serve")]
        return self.tcpserver_asis([os.path.join(BUILD, "pop3-login")] + list(chain), env=e, tcpopts=tcpopts)

    def maildir(self, mailbox="example.test/demo"):
        """Creates the Maildir (owned by the test uid) and returns its path."""
        d = self.path("mail", mailbox)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        self.chown_all()
        return d

    def put(self, data, name=None, sub="new", mailbox="example.test/demo"):
        """Writes a message file straight into the Maildir; returns its path."""
        d = self.path("mail", mailbox)
        if not os.path.isdir(os.path.join(d, sub)):
            self.maildir(mailbox)
        if name is None:
            Pop3Instance._seq = getattr(Pop3Instance, "_seq", 0) + 1
            name = "%d.M%dP%dQ%d.test" % (1700000000 + Pop3Instance._seq, Pop3Instance._seq, os.getpid(), Pop3Instance._seq)
        p = os.path.join(d, sub, name)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        if is_root():
            os.chown(p, self.uid, self.gid)
        return p


def pop3_talk(port, data, host="127.0.0.1", timeout=10, greeting=True):
    """Sends raw bytes (after the greeting) and returns everything the
    server said until it closed the connection."""
    s = socket.create_connection((host, port), timeout=timeout)
    out = b""
    try:
        if greeting:
            while not out.endswith(b"\r\n"):
                c = s.recv(1)
                if not c:
                    break
                out += c
        s.sendall(data)
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


class Pop3Stack(FullStack):
    """FullStack with the POP3 service on a free loopback port (pop3_port)."""

    def __init__(self, t=None, env=None, envdir=None):
        self.pop3_port = free_port()
        e = {"TERN_POP3_PORT": str(self.pop3_port)}
        if env:
            e.update(env)
        FullStack.__init__(self, t, env=e, envdir=envdir)
        if not self.wait_port(self.pop3_port):
            raise RuntimeError("the pop3 service did not start: " + self.output() + self.log("pop3"))


class Pop3Conn:
    """A raw POP3 connection: send bytes, read lines and multi-line bodies."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed; servers' stderr: " + stderr_tails())
        self.buf += d

    def line(self):
        """One line without its CRLF (bytes); EOFError at the end."""
        while b"\r\n" not in self.buf:
            self._fill()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def cmd(self, c):
        self.send(c + "\r\n" if isinstance(c, str) else c + b"\r\n")
        return self.line().decode(errors="replace")

    def multi(self):
        """The body of a multi-line reply, un-stuffed, as raw bytes with CRLFs."""
        while b"\r\n.\r\n" not in b"\r\n" + self.buf:
            self._fill()
        if self.buf.startswith(b".\r\n"):
            self.buf = self.buf[3:]
            return b""
        i = self.buf.index(b"\r\n.\r\n")
        body, self.buf = self.buf[:i + 2], self.buf[i + 5:]
        lines = body.split(b"\r\n")
        return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)

    def rest(self):
        """Everything until the server closes; b"[still open]" is appended
        when the socket's timeout came first, so that a check that the
        server closed the connection cannot pass on a timeout."""
        out = self.buf
        self.buf = b""
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            out += b"[still open]"
        except OSError:
            pass
        return out

    def close(self):
        self.s.close()


def proc_descendants(pid, comm=None):
    """Every pid below pid (named comm, when given): never another test's."""
    out, todo = [], [pid]
    while todo:
        for ch in proc_children(todo.pop()):
            todo.append(ch)
            if comm is None or proc_comm(ch) == comm:
                out.append(ch)
    return sorted(out)


def proc_children(pid):
    """The pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return sorted(out)


def proc_uids(pid):
    """Real, effective, saved and filesystem uids of a process."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


# FullStack passes the environment on to bin/tern-up, whose pop3 service
# would otherwise listen on the demo's fixed port 8110 (and collide with
# other stacks, or with `make run`): each test process gets a free port.
os.environ.setdefault("TERN_POP3_PORT", str(free_port()))


# ---- submission (smtp-recv -s), STLS and POP3S: t/6060-*.t to t/6079-*.t, t/9030 ----

# Since issue 5 pop3-login refuses logins before TLS unless POP3_PLAINTEXT
# is 1. The POP3 tests that log in in plain text on loopback (t/40*.t)
# do what the demo allows there: Pop3Instance.pop3 turns it on unless the
# caller's env says otherwise.
_pop3_cleartext = Pop3Instance.pop3


def _pop3_plaintext_on(self, env=None, chain=None, tcpopts=("-R", "-H", "-l", "0")):
    e = {"POP3_PLAINTEXT": "1"}
    if env:
        e.update(env)
    return _pop3_cleartext(self, env=e, chain=chain, tcpopts=tcpopts)


Pop3Instance.pop3 = _pop3_plaintext_on

# As for TERN_POP3_PORT above: the demo's fixed TLS ports (8587, 8465,
# 8995) would collide between stacks; each test process gets free ones.
for _var in ("TERN_SUBMISSION_PORT", "TERN_SMTPS_PORT", "TERN_POP3S_PORT"):
    os.environ.setdefault(_var, str(free_port()))


def tls_ctx(cafile=None):
    """A client context: any certificate, or only cafile's (name unchecked)."""
    import ssl
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    if cafile:
        c.load_verify_locations(cafile)
    else:
        c.verify_mode = ssl.CERT_NONE
    return c


class TlsInstance(Pop3Instance):
    """A Pop3Instance with a certificate for mx.example.test (self.crt,
    self.key) and the TLS front ends as the services have them: tcpserver
    as root, tlsd (-u for STARTTLS/STLS; its engine as terntls when root),
    then smtp-recv -s (the login monitor, its session child as ternsub)
    or pop3-login. pwcheck's delay is off unless env sets PWCHECK_DELAY.
    Messages go to t/fake-queue (self.queued()) unless env sets QUEUE."""

    def __init__(self, t=None, **kw):
        Pop3Instance.__init__(self, t, **kw)
        d = self.path("tls")
        os.makedirs(d)
        self.crt, self.key = openssl_cert(d, "mx.example.test", "ec")
        self.qdir = self.path("fakeq")
        os.makedirs(self.qdir)
        os.chmod(self.qdir, 0o777)
        self.maildir()

    def tls_env(self):
        e = {"CERTFILE": self.crt, "KEYFILE": self.key, "PWCHECK_DELAY": "0"}
        if is_root():
            pw = ensure_user("terntls")
            e.update({"TLS_UID": str(pw.pw_uid), "TLS_GID": str(pw.pw_gid)})
        e.update(self.login_env())
        return e

    def front(self, prog, implicit=False, env=None, tlsopts=(), tls=True):
        """tcpserver [tlsd [-u] TLSOPTS] PROG... as root; returns the port."""
        e = self.tls_env()
        if env:
            e.update(env)
        front = [os.path.join(BUILD, "tlsd")] + ([] if implicit else ["-u"]) + list(tlsopts) if tls else []
        return self.tcpserver_asis(front + list(prog), env=e)

    def submission(self, implicit=False, env=None, chain=None, tlsopts=(), tls=True):
        """smtp-recv -s CHAIN (default: pwcheck) behind tlsd -u (587) or
        tlsd (465, implicit); returns the port."""
        e = {"QUEUE": os.path.join(HERE, "fake-queue"), "FAKEQ_DIR": self.qdir}
        e.update(self.submit_env())
        if env:
            e.update(env)
        chain = chain or [os.path.join(BUILD, "pwcheck")]
        return self.front([os.path.join(BUILD, "smtp-recv"), "-s"] + list(chain), implicit, e, tlsopts, tls)

    def pop3tls(self, implicit=False, env=None, chain=None, tlsopts=(), tls=True):
        """pop3-login CHAIN (default: pwcheck pop3-serve) behind tlsd -u
        (STLS) or tlsd (995); plain-text logins off unless env says."""
        chain = chain or [os.path.join(BUILD, "pwcheck"), os.path.join(BUILD, "pop3-serve")]
        return self.front([os.path.join(BUILD, "pop3-login")] + list(chain), implicit, env, tlsopts, tls)

    def queued(self):
        """[(message, envelope)] stored by the fake queue, oldest first."""
        out = []
        for f in sorted(os.listdir(self.qdir)):
            if f.endswith(".msg"):
                base = os.path.join(self.qdir, f[:-4])
                with open(base + ".msg", "rb") as m, open(base + ".env", "rb") as e:
                    out.append((m.read(), e.read()))
        return out


class TlsStack(Pop3Stack):
    """Pop3Stack with the TLS services of a stack that has a certificate:
    submission (STARTTLS), smtps and pop3s, each on a free loopback port."""

    def __init__(self, t=None, env=None, envdir=None):
        self.submission_port, self.smtps_port, self.pop3s_port = free_port(), free_port(), free_port()
        e = {"TERN_SUBMISSION_PORT": str(self.submission_port), "TERN_SMTPS_PORT": str(self.smtps_port),
             "TERN_POP3S_PORT": str(self.pop3s_port)}
        if env:
            e.update(env)
        Pop3Stack.__init__(self, t, env=e, envdir=envdir)
        for p, s in ((self.submission_port, "submission"), (self.smtps_port, "smtps"), (self.pop3s_port, "pop3s")):
            if not self.wait_port(p):
                raise RuntimeError("the %s service did not start: %s%s" % (s, self.output(), self.log(s)))
        self.wait_path(self.path("sock", "queue-submit"))

    def cafile(self):
        return self.path("etc", "tls", "cert.pem")


def read_until_close(s, timeout=30):
    """(data, closed): what a socket gives until the peer closes it;
    closed is False when the timeout came first (the peer kept it open)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, True
            out += d
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True



# -- IMAP (issue 11) --

for _var in ("TERN_IMAP_PORT", "TERN_IMAPS_PORT"):
    os.environ.setdefault(_var, str(free_port()))


class ImapInstance(TlsInstance):
    """A TlsInstance that serves IMAP: imap-login (its monitor as root,
    the pre-auth child as ternlogin), pwcheck, imap-serve as the owner of
    mail/ (the test uid). Plain-text logins on unless plaintext=False."""

    def imap(self, env=None, chain=None, tls=False, implicit=False, plaintext=True, tlsopts=()):
        e = {"PWCHECK_DELAY": "0"}
        if plaintext:
            e["IMAP_PLAINTEXT"] = "1"
        e.update(self.login_env())
        if env:
            e.update(env)
        chain = chain or [os.path.join(BUILD, "pwcheck"), os.path.join(BUILD, "imap-serve")]
        prog = [os.path.join(BUILD, "imap-login")] + list(chain)
        if tls:
            return self.front(prog, implicit, e, tlsopts)
        return self.tcpserver_asis(prog, env=e)

    def mailbox_path(self, folder="INBOX", mailbox="example.test/demo"):
        d = self.path("mail", mailbox)
        return d if folder == "INBOX" else os.path.join(d, "." + folder)

    def check(self, mailbox="example.test/demo", args=()):
        """mailbox-check on the Maildir: (exit code, output)."""
        r = self.run([os.path.join(BUILD, "mailbox-check")] + list(args) + [self.path("mail", mailbox)], asuser=True)
        return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


class ImapConn:
    """A raw IMAP connection: tagged commands, their untagged lines and
    the tagged reply; literals read whole."""

    def __init__(self, port, host="127.0.0.1", timeout=15, sock=None):
        self.s = sock or socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed; servers' stderr: " + stderr_tails())
        self.buf += d

    def line(self):
        """One response line, literals included, without the final CRLF (bytes)."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            ln, self.buf = self.buf.split(b"\r\n", 1)
            out += ln
            m = re.search(rb"\{(\d+)\}$", ln)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill()
            out += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]

    def cmd(self, c, tag=None):
        """Sends TAG c, returns (untagged lines, tagged line) as str."""
        if tag is None:
            self.n += 1
            tag = "t%d" % self.n
        self.send(tag + " " + c + "\r\n" if isinstance(c, str) else tag.encode() + b" " + c + b"\r\n")
        return self.until(tag)

    def until(self, tag):
        unt = []
        while True:
            ln = self.line().decode(errors="replace")
            if ln.startswith(tag + " "):
                return unt, ln
            unt.append(ln)

    def rest(self):
        out = self.buf
        self.buf = b""
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            out += b"[still open]"
        except OSError:
            pass
        return out

    def close(self):
        self.s.close()


class ImapStack(TlsStack):
    """TlsStack with the IMAP services (imap with STARTTLS, imaps) on free
    loopback ports."""

    def __init__(self, t=None, env=None, envdir=None):
        self.imap_port, self.imaps_port = free_port(), free_port()
        e = {"TERN_IMAP_PORT": str(self.imap_port), "TERN_IMAPS_PORT": str(self.imaps_port)}
        if env:
            e.update(env)
        TlsStack.__init__(self, t, env=e, envdir=envdir)
        for p, s in ((self.imap_port, "imap"), (self.imaps_port, "imaps")):
            if not self.wait_port(p):
                raise RuntimeError("the %s service did not start: %s%s" % (s, self.output(), self.log(s)))
