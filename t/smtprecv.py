"""smtprecv: helpers for the smtp-recv tests (t/1*-smtp-*.t): an instance
whose $QUEUE is t/fake-queue, a raw SMTP connection, and readers for what
the fake queue stored."""

import atexit
import os
import socket
import time

import ternlib

HERE = os.path.dirname(os.path.abspath(__file__))
FAKEQ = os.path.join(HERE, "fake-queue")


class Setup:
    """An Instance plus smtp-recv on a loopback port with QUEUE=fake-queue
    (real=True: the default QUEUE, build/queue-add)."""

    def __init__(self, t, env=None, real=False, wrap=(), **kw):
        self.inst = ternlib.Instance(t, **kw)
        # also when a test dies on an exception: no tcpserver left behind
        atexit.register(self.inst.stop)
        self.qdir = self.inst.path("fakeq")
        os.makedirs(self.qdir)
        os.chmod(self.qdir, 0o777)
        e = {} if real else {"QUEUE": FAKEQ, "FAKEQ_DIR": self.qdir}
        if env:
            e.update(env)
        # wrap: a prefix such as ("env", "TCPREMOTEHOST=x"), for what
        # tcpserver itself would set
        self.port = self.inst.tcpserver(list(wrap) + [os.path.join(ternlib.BUILD, "smtp-recv")], env=e)

    def conn(self, **kw):
        return Conn(self.port, **kw)

    def queued(self):
        """[(message bytes, envelope bytes)] of complete envelopes, oldest first."""
        out = []
        for f in sorted(os.listdir(self.qdir)):
            if f.endswith(".msg"):
                base = os.path.join(self.qdir, f[:-4])
                with open(base + ".msg", "rb") as m, open(base + ".env", "rb") as e:
                    out.append((m.read(), e.read()))
        return out

    def partials(self):
        return [f for f in os.listdir(self.qdir) if f.endswith(".partial")]

    def log(self):
        try:
            return self.inst.read("log/stderr")
        except FileNotFoundError:
            return ""

    def wait_log(self, regex, timeout=10):
        import re
        end = time.time() + timeout
        while time.time() < end:
            if re.search(regex, self.log()):
                return True
            time.sleep(0.05)
        return False


class Conn:
    """A raw SMTP connection; reply() reads one whole (multi-line) reply."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self._line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def rest(self, timeout=5):
        """Everything until the server closes; "[still open]" is appended
        if the timeout comes first."""
        self.s.settimeout(timeout)
        out = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            # the server kept the connection open: checks that it closed fail
            out += b"[still open]"
        except ConnectionResetError:
            pass
        return out.decode("utf-8", "replace")

    def closed(self, timeout=5):
        """True when the server closed the connection (EOF) within timeout."""
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()


def envelope(env):
    """Parses an envelope: (sender, [mail P], [(rcpt, [rcpt P])])."""
    recs = env.split(b"\0")
    assert recs[-1] == b"" and recs[-2] == b"", "envelope must end with an empty record"
    recs = [r.decode("utf-8") for r in recs[:-2]]
    sender = recs[0][1:]
    mailp, rcpts = [], []
    for r in recs[1:]:
        if r[0] == "T":
            rcpts.append((r[1:], []))
        elif rcpts:
            rcpts[-1][1].append(r[1:])
        else:
            mailp.append(r[1:])
    return sender, mailp, rcpts


def body(msg):
    """The message without the Received: line smtp-recv prepended."""
    lines = msg.split(b"\n")
    assert lines[0].startswith(b"Received: from "), lines[0]
    i = 1
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\n".join(lines[i:])


def transaction(c, rcpts=("demo@example.test",), sender="sender@remote.example", mailparams=""):
    """EHLO, MAIL, RCPTs; returns the replies."""
    out = [c.cmd("EHLO client.example")]
    out.append(c.cmd("MAIL FROM:<%s>%s" % (sender, mailparams)))
    for r in rcpts:
        out.append(c.cmd("RCPT TO:<%s>" % r))
    return out


def wait_for(cond, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()
