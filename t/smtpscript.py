"""smtpscript: a scripted SMTP server for testing SMTP clients (smtp-send),
on a loopback address and port, recording what it received.

    import smtpscript
    srv = smtpscript.Server(t, ext=["PIPELINING", "8BITMIME", "SIZE 1000000"],
                            script={"rcpt": {"bad@x.test": "550 5.1.1 no such user"},
                                    "final": ("sleep", 3, "250 ok")})
    srv.port                      # where it listens (host: srv.host)
    ...
    s = srv.session()             # the first (or srv.sessions[i])
    s.commands()                  # ["EHLO client.test", "MAIL FROM:<a@b>", ...]
    s.message                     # the message, dot-unstuffed (bytes, CRLF)
    s.data                        # DATA as received on the wire, before the final "."
    s.pending_at("MAIL")          # command lines already received when MAIL was answered

script maps a stage to an action: greeting, ehlo, helo, auth, mail, rcpt,
data (the reply to DATA), final (after the "."), rset, noop, quit,
starttls; and "body": "close" drops the connection right after the 354. An
action is a reply string ("250 ok"; lines separated by "\\n" make a
multi-line reply, each line complete with its code), "close" (drop the
connection without a reply), "hang" (never answer, read until the client
leaves), ("sleep", SECONDS, ACTION), a list (one action per use of the
stage, the last one repeated), a callable (arg, session) -> action, or for
rcpt a dict address -> action with "*" as the default.

STARTTLS (RFC 3207), with python's ssl module:

    certs = smtpscript.Certs(dirpath)          # a test CA, made with openssl
    crt, key = certs.leaf("mx.test")           # signed by it; expired=True, sans=[...]
    crt, key = certs.selfsigned("mx.test")
    srv = smtpscript.Server(t, tls=(crt, key))  # offers STARTTLS until TLS is on
    s.tls                         # {"version": "TLSv1.2", "cipher": ...} once the handshake is done
    s.sni                         # the name the client sent (SNI), or None
    s.tls_commands()              # the commands received inside TLS
    s.after_starttls              # octets the client sent behind STARTTLS (discarded)

tls_fail makes the handshake fail after the 220: "close" (drop the
connection), "garbage" (answer with octets that are not TLS), "hang" (say
nothing until the client leaves); tls_versions=(min, max) (ssl.TLSVersion)
limits the protocol versions. Without tls, STARTTLS gets the "starttls"
action, by default "500 5.5.1 unknown command" as any unknown command.
"""

import base64
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ternlib  # noqa: E402


DEFAULT_EXT = ["PIPELINING", "8BITMIME", "SIZE 10240000", "ENHANCEDSTATUSCODES"]


class Session:
    def __init__(self):
        self.events = []       # ("C", line) | ("S", reply, pending_lines) | ("D", data)
        self.data = None       # raw DATA bytes before the terminating ".\r\n"
        self.message = None    # unstuffed message
        self.auth = None       # (mechanism, user, password)
        self.closed_by = None  # "client" | "server"
        self.counts = {}
        self.done = threading.Event()
        self.tls = None        # {"version", "cipher"} once TLS is on
        self.tls_error = None  # why the handshake failed, on the server's side
        self.sni = None
        self.after_starttls = None

    def commands(self):
        return [e[1] for e in self.events if e[0] == "C"]

    def tls_commands(self):
        """The commands received after the TLS handshake."""
        out, on = [], False
        for e in self.events:
            if e[0] == "T":
                on = True
            elif e[0] == "C" and on:
                out.append(e[1])
        return out

    def replies(self):
        return [e[1] for e in self.events if e[0] == "S"]

    def pending_at(self, verb):
        """Command lines already received (not yet answered) when the
        reply to the first command starting with verb went out."""
        last_cmd = None
        for e in self.events:
            if e[0] == "C":
                last_cmd = e[1]
            elif e[0] == "S" and last_cmd is not None and last_cmd.upper().startswith(verb.upper()):
                return e[2]
        return None


class Server:
    def __init__(self, t=None, script=None, ext=None, host="127.0.0.1", port=0, name="mx.script.test",
                 drain=0.05, tls=None, tls_fail=None, tls_versions=None):
        self.script = dict(script or {})
        self.ext = DEFAULT_EXT if ext is None else ext
        self.tls = tls
        self.tls_fail = tls_fail
        self.tls_versions = tls_versions
        self.name = name
        self.host = host
        self.drain = drain
        self.sessions = []
        self._lock = threading.Lock()
        self._stop = False
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        th = threading.Thread(target=self._accept, daemon=True)
        th.start()
        if t is not None:
            t.at_exit(self.stop)

    def stop(self):
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (Linux)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def session(self, i=0, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            with self._lock:
                if len(self.sessions) > i:
                    s = self.sessions[i]
                    break
            time.sleep(0.02)
        else:
            return None
        s.done.wait(max(0.1, end - time.time()))
        return s

    # -- the protocol --

    def _accept(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = Session()
            with self._lock:
                self.sessions.append(s)
            threading.Thread(target=self._serve, args=(c, s), daemon=True).start()

    def _action(self, stage, s, arg=""):
        n = s.counts.get(stage, 0)
        s.counts[stage] = n + 1
        a = self.script.get(stage)
        if a is None:
            a = self._default(stage, s)
        if isinstance(a, list):
            a = a[min(n, len(a) - 1)]
        if stage == "rcpt" and isinstance(a, dict):
            addr = arg
            if addr.upper().startswith("TO:"):
                addr = addr[3:]
            addr = addr.split(">")[0].lstrip(" <")
            a = a.get(addr, a.get("*", "250 2.1.5 ok"))
        if callable(a):
            a = a(arg, s)
        return a

    def _default(self, stage, s=None):
        if stage == "ehlo":
            ext = list(self.ext)
            if self.tls is not None and not (s and s.tls) and "STARTTLS" not in ext:
                ext.append("STARTTLS")
            lines = [self.name] + ext
            return "\n".join(("250-" if i < len(lines) - 1 else "250 ") + l for i, l in enumerate(lines))
        if stage == "starttls":
            return "220 2.0.0 ready to start TLS" if self.tls is not None else "500 5.5.1 unknown command"
        return {
            "greeting": "220 %s ESMTP smtpscript" % self.name,
            "helo": "250 %s" % self.name,
            "auth": "235 2.7.0 authenticated",
            "mail": "250 2.1.0 ok",
            "rcpt": "250 2.1.5 ok",
            "data": "354 go ahead",
            "final": "250 2.0.0 queued as 42",
            "rset": "250 2.0.0 ok",
            "noop": "250 2.0.0 ok",
            "quit": "221 2.0.0 bye",
        }.get(stage, "502 5.5.1 not implemented")

    class _Closed(Exception):
        pass

    def _serve(self, c, s):
        c.settimeout(60)
        self.buf = b""
        conn = {"c": c, "buf": b""}
        try:
            self._converse(conn, s)
        except (self._Closed, OSError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass
            s.done.set()

    def _fill(self, conn, s):
        data = conn["c"].recv(65536)
        if not data:
            s.closed_by = s.closed_by or "client"
            raise self._Closed()
        conn["buf"] += data

    def _line(self, conn, s):
        while b"\n" not in conn["buf"]:
            self._fill(conn, s)
        line, conn["buf"] = conn["buf"].split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "surrogateescape")

    def _pending(self, conn, drain):
        """Lines already buffered; with drain, wait that long for more first."""
        if drain:
            end = time.time() + drain
            while True:
                left = end - time.time()
                if left <= 0:
                    break
                if isinstance(conn["c"], ssl.SSLSocket) and conn["c"].pending():
                    conn["buf"] += conn["c"].recv(65536)
                    continue
                r, _, _ = select.select([conn["c"]], [], [], left)
                if not r:
                    break
                data = conn["c"].recv(65536)
                if not data:
                    break
                conn["buf"] += data
        return conn["buf"].count(b"\n")

    def _do(self, conn, s, action, drain=0):
        """Performs an action; returns False when the connection is over."""
        while isinstance(action, tuple) and action[0] == "sleep":
            time.sleep(action[1])
            action = action[2]
        if action == "close":
            s.closed_by = "server"
            raise self._Closed()
        if action == "hang":
            try:
                while True:
                    self._fill(conn, s)
            except socket.timeout:
                raise self._Closed()
        pending = self._pending(conn, drain)
        lines = action.split("\n")
        out = b"".join(l.encode("utf-8", "surrogateescape") + b"\r\n" for l in lines)
        s.events.append(("S", action, pending))
        conn["c"].sendall(out)
        return True

    def _converse(self, conn, s):
        self._do(conn, s, self._action("greeting", s))
        while True:
            line = self._line(conn, s)
            s.events.append(("C", line))
            verb, _, arg = line.partition(" ")
            v = verb.upper()
            if v == "EHLO":
                self._do(conn, s, self._action("ehlo", s, arg))
            elif v == "HELO":
                self._do(conn, s, self._action("helo", s, arg))
            elif v == "AUTH":
                self._auth(conn, s, arg)
            elif v == "MAIL":
                self._do(conn, s, self._action("mail", s, arg), self.drain)
            elif v == "RCPT":
                self._do(conn, s, self._action("rcpt", s, arg), self.drain)
            elif v == "DATA":
                a = self._action("data", s, arg)
                self._do(conn, s, a, self.drain)
                if isinstance(a, str) and a.startswith("354"):
                    if self.script.get("body") == "close":
                        s.closed_by = "server"
                        raise self._Closed()
                    self._data(conn, s)
            elif v == "RSET":
                self._do(conn, s, self._action("rset", s, arg))
            elif v == "NOOP":
                self._do(conn, s, self._action("noop", s, arg))
            elif v == "QUIT":
                self._do(conn, s, self._action("quit", s, arg))
                s.closed_by = "quit"
                return
            elif v == "STARTTLS":
                a = self._action("starttls", s, arg)
                self._do(conn, s, a)
                if self.tls is not None and isinstance(a, str) and a.startswith("220") and not s.tls:
                    self._starttls(conn, s)
            else:
                self._do(conn, s, "500 5.5.1 unknown command")

    def _context(self, s):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if self.tls_versions:
            # old protocol versions need OpenSSL's security level 0
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version, ctx.maximum_version = self.tls_versions
        ctx.load_cert_chain(self.tls[0], self.tls[1])

        def sni(sslobj, name, context):
            s.sni = name
        ctx.sni_callback = sni
        return ctx

    def _starttls(self, conn, s):
        """After the 220: what the client pipelined is discarded (RFC 3207
        4.2), then the handshake, or the failure asked for."""
        s.after_starttls = conn["buf"]
        conn["buf"] = b""
        if self.tls_fail == "close":
            s.closed_by = "server"
            raise self._Closed()
        if self.tls_fail == "garbage":
            conn["c"].sendall(b"220 this is not TLS at all\r\n" * 4)
            self._do(conn, s, "hang")
        if self.tls_fail == "hang":
            self._do(conn, s, "hang")
        try:
            c = self._context(s).wrap_socket(conn["c"], server_side=True)
        except (ssl.SSLError, OSError) as e:
            s.tls_error = str(e)
            s.closed_by = "handshake"
            raise self._Closed()
        conn["c"] = c
        s.tls = {"version": c.version(), "cipher": c.cipher()[0]}
        s.events.append(("T", c.version()))

    def _auth(self, conn, s, arg):
        mech, _, ir = arg.partition(" ")
        mech = mech.upper()
        try:
            if mech == "PLAIN":
                if not ir:
                    self._do(conn, s, "334 ")
                    ir = self._line(conn, s)
                    s.events.append(("C", ir))
                parts = base64.b64decode(ir).split(b"\0")
                s.auth = ("PLAIN", parts[1].decode(), parts[2].decode())
            elif mech == "LOGIN":
                self._do(conn, s, "334 VXNlcm5hbWU6")
                u = self._line(conn, s)
                s.events.append(("C", u))
                self._do(conn, s, "334 UGFzc3dvcmQ6")
                p = self._line(conn, s)
                s.events.append(("C", p))
                s.auth = ("LOGIN", base64.b64decode(u).decode(), base64.b64decode(p).decode())
            else:
                self._do(conn, s, "504 5.5.4 unknown mechanism")
                return
        except (ValueError, IndexError):
            self._do(conn, s, "501 5.5.2 bad base64")
            return
        self._do(conn, s, self._action("auth", s, arg))

    def _data(self, conn, s):
        buf = conn["buf"]
        while True:
            if buf.startswith(b".\r\n"):
                raw, rest = b"", buf[3:]
                break
            i = buf.find(b"\r\n.\r\n")
            if i >= 0:
                raw, rest = buf[:i + 2], buf[i + 5:]
                break
            data = conn["c"].recv(65536)
            if not data:
                s.closed_by = "client"
                s.data = buf
                raise self._Closed()
            buf += data
        conn["buf"] = rest
        s.data = raw
        s.message = unstuff(raw)
        s.events.append(("D", len(raw)))
        self._do(conn, s, self._action("final", s))


def unstuff(raw):
    out = []
    for line in raw.split(b"\r\n"):
        out.append(line[1:] if line.startswith(b".") else line)
    return b"\r\n".join(out)


def free_port(hosts=("127.0.0.1",)):
    """A TCP port free on every one of the loopback addresses."""
    for _ in range(100):
        s = socket.socket()
        s.bind((hosts[0], 0))
        p = s.getsockname()[1]
        s.close()
        ok = True
        for h in hosts[1:]:
            x = socket.socket()
            try:
                x.bind((h, p))
            except OSError:
                ok = False
            finally:
                x.close()
        if ok:
            return p
    raise RuntimeError("no common free port")


class Client:
    """Runs smtp-send from the build with a throw-away TERN_ROOT (etc/me)."""

    def __init__(self, t=None, me="client.test", env=None):
        """env is added to smtp-send's environment: SMTPSEND_CAFILE for
        test certificates; write("etc/tls-policy", ...) for a policy."""
        os.makedirs(ternlib.TRASH, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="send-", dir=ternlib.TRASH)
        os.makedirs(os.path.join(self.root, "etc"))
        with open(os.path.join(self.root, "etc", "me"), "w") as f:
            f.write(me + "\n")
        self.env = dict(os.environ)
        self.env.update({"TERN_ROOT": self.root, "TERN_LIBEXEC": ternlib.BUILD, "SMTPSEND_TIMEOUT": "10"})
        if env:
            self.env.update(env)
        if t is not None:
            t.at_exit(self.cleanup)

    def write(self, rel, text):
        """A file under TERN_ROOT (etc/tls-policy); None removes it."""
        path = os.path.join(self.root, rel)
        if text is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        with open(path, "w") as f:
            f.write(text)

    def cleanup(self):
        if not os.environ.get("TERN_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def msgfile(self, body, offset=0):
        """The message in a file, positioned at offset (junk before it, as a queue file has its header)."""
        if isinstance(body, str):
            body = body.encode()
        f = tempfile.TemporaryFile(dir=self.root)
        f.write(b"J" * offset + body)
        f.seek(offset)
        return f

    def send(self, args, body=b"Subject: test\n\nhello\n", env=None, port=None, offset=0, pipe=False,
             timeout=60):
        """Returns (exit code, stdout lines, stderr text)."""
        e = dict(self.env)
        if port is not None:
            e["SMTPSEND_PORT"] = str(port)
        if env:
            e.update(env)
        argv = [os.path.join(ternlib.BUILD, "smtp-send")] + list(args)
        if pipe:
            if isinstance(body, str):
                body = body.encode()
            r = subprocess.run(argv, input=body, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout)
        else:
            with self.msgfile(body, offset) as f:
                r = subprocess.run(argv, stdin=f, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=timeout)
        return r.returncode, r.stdout.decode("utf-8", "replace").splitlines(), r.stderr.decode("utf-8", "replace")


class Certs:
    """Test certificates made with openssl in a directory: a test CA
    (ca.crt, the trust anchor to give smtp-send), certificates it signs,
    valid or expired, and self-signed ones. EC P-256 keys, or RSA 2048
    with kind="rsa"."""

    def __init__(self, dirpath, ca_name="Tern Test CA"):
        self.dir = dirpath
        os.makedirs(dirpath, exist_ok=True)
        self.n = 0
        self.ca_key = self._key("ca")
        self.ca = os.path.join(dirpath, "ca.crt")
        self._run(["openssl", "req", "-x509", "-new", "-key", self.ca_key, "-days", "30", "-sha256",
                   "-subj", "/CN=" + ca_name, "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.ca])
        with open(os.path.join(dirpath, "index.txt"), "w"):
            pass
        with open(os.path.join(dirpath, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(dirpath, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
                    "serial = %s/serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n"
                    "unique_subject = no\n[p]\ncommonName = supplied\n" % (dirpath, dirpath, dirpath))

    def _run(self, argv):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(argv), r.stdout.decode(errors="replace")))

    def _key(self, base, kind="ec"):
        key = os.path.join(self.dir, base + ".key")
        if kind == "rsa":
            gen = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        else:
            gen = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        self._run(gen + ["-out", key])
        return key

    def _base(self, name):
        self.n += 1
        return "%s-%d" % (name.replace("*", "star"), self.n)

    @staticmethod
    def _date(t):
        return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))

    def leaf(self, name, sans=None, expired=False, kind="ec"):
        """A certificate for name (CN; subjectAltName: sans or name) signed
        by the CA; expired: valid only in January 2020. Returns (crt, key)."""
        base = self._base(name)
        key = self._key(base, kind)
        csr = os.path.join(self.dir, base + ".csr")
        crt = os.path.join(self.dir, base + ".crt")
        self._run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=" + name,
                   "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in (sans or [name])), "-out", csr])
        if expired:
            start, end = "20200101000000Z", "20200201000000Z"
        else:
            start, end = self._date(time.time() - 86400), self._date(time.time() + 30 * 86400)
        self._run(["openssl", "ca", "-batch", "-notext", "-config", os.path.join(self.dir, "ca.cnf"),
                   "-cert", self.ca, "-keyfile", self.ca_key, "-in", csr, "-out", crt,
                   "-startdate", start, "-enddate", end])
        return crt, key

    def selfsigned(self, name, kind="ec"):
        base = self._base(name)
        key = self._key(base, kind)
        crt = os.path.join(self.dir, base + ".crt")
        self._run(["openssl", "req", "-x509", "-new", "-key", key, "-days", "30", "-sha256", "-subj", "/CN=" + name,
                   "-addext", "subjectAltName=DNS:" + name, "-out", crt])
        return crt, key
