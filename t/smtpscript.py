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
data (the reply to DATA), final (after the "."), rset, noop, quit; and
"body": "close" drops the connection right after the 354. An
action is a reply string ("250 ok"; lines separated by "\\n" make a
multi-line reply, each line complete with its code), "close" (drop the
connection without a reply), "hang" (never answer, read until the client
leaves), ("sleep", SECONDS, ACTION), a list (one action per use of the
stage, the last one repeated), a callable (arg, session) -> action, or for
rcpt a dict address -> action with "*" as the default.
"""

import base64
import os
import select
import shutil
import socket
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

    def commands(self):
        return [e[1] for e in self.events if e[0] == "C"]

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
                 drain=0.05):
        self.script = dict(script or {})
        self.ext = DEFAULT_EXT if ext is None else ext
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
            a = self._default(stage)
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

    def _default(self, stage):
        if stage == "ehlo":
            lines = [self.name] + list(self.ext)
            return "\n".join(("250-" if i < len(lines) - 1 else "250 ") + l for i, l in enumerate(lines))
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
            else:
                self._do(conn, s, "500 5.5.1 unknown command")

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
