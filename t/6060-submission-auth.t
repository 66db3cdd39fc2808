#!/usr/bin/python3
# smtp-recv -s (submission, RFC 6409) behind tlsd -u (port 587) and tlsd
# (port 465): AUTH PLAIN and LOGIN (RFC 4954, RFC 4616) offered only over
# TLS and required before MAIL; 538 before TLS; the initial response and
# the 334 continuation; "*" cancels; bad base64; unknown mechanisms; the
# AUTH line cap; a second AUTH; the authzid rule; failed AUTHs counted and
# the connection closed after SMTP_MAXLOGINS; 454 for a checkpassword in
# trouble; commands pipelined behind STARTTLS never answered over TLS
# (and AUTH never carried over); port 25 offers no AUTH; the exit codes.
import base64
import os
import socket
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib
import smtprecv

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("smtp-recv -s is the login monitor: it starts as root")
inst = ternlib.TlsInstance(t, users=(("demo@example.test", "demo"), ("bob@example.test", "bobpw")))
p587 = inst.submission()
p465 = inst.submission(implicit=True)
SMTPRECV = os.path.join(ternlib.BUILD, "smtp-recv")
PWCHECK = os.path.join(ternlib.BUILD, "pwcheck")


def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()


PLAIN_OK = b64("\0demo@example.test\0demo")


def starttls(c):
    r = c.cmd("STARTTLS")
    if r.startswith("220"):
        c.s = ternlib.tls_ctx().wrap_socket(c.s)
    return r


class TlsConn(smtprecv.Conn):
    """TLS from the first byte (port 465)."""

    def __init__(self, port, timeout=10):
        self.s = ternlib.tls_ctx().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout))
        self.buf = b""
        self.greeting = self.reply()


def tls587(port=None):
    """Connected, STARTTLS done, EHLO sent again."""
    c = smtprecv.Conn(port or p587)
    c.cmd("EHLO client.example")
    starttls(c)
    c.cmd("EHLO client.example")
    return c


def log():
    return inst.read("log/stderr")


# -- before TLS --
c = smtprecv.Conn(p587)
r = c.cmd("EHLO client.example")
t.ok("250-STARTTLS" in r and "AUTH" not in r, "port 587 before TLS: EHLO offers STARTTLS, not AUTH", r)
t.is_(c.cmd("AUTH PLAIN " + PLAIN_OK), "538 5.7.11 Encryption required for requested authentication mechanism",
      "AUTH PLAIN before TLS: 538 5.7.11 (RFC 4954 6)")
t.like(c.cmd("AUTH LOGIN"), r"^538 5\.7\.11 ", "AUTH LOGIN before TLS: 538 5.7.11")
t.is_(c.cmd("MAIL FROM:<demo@example.test>"), "530 5.7.0 Must issue a STARTTLS command first", "MAIL before TLS: 530 5.7.0")
t.like(starttls(c), r"^220 2\.0\.0", "STARTTLS: 220")
t.like(c.cmd("AUTH PLAIN " + PLAIN_OK), r"^503 5\.5\.1 Send EHLO", "over TLS, before the new EHLO: 503 5.5.1")
r = c.cmd("EHLO client.example")
t.ok("250-AUTH PLAIN LOGIN" in r.splitlines() and "STARTTLS" not in r, "over TLS: EHLO offers AUTH PLAIN LOGIN, not STARTTLS", r)
t.is_(c.cmd("MAIL FROM:<demo@example.test>"), "530 5.7.0 Authentication required", "MAIL before AUTH: 530 5.7.0")
t.like(c.cmd("RCPT TO:<demo@example.test>"), r"^503 5\.5\.1", "RCPT before MAIL: 503")

# -- AUTH PLAIN with an initial response --
t.is_(c.cmd("AUTH PLAIN " + PLAIN_OK), "235 2.7.0 Authentication successful", "AUTH PLAIN with an initial response: 235 2.7.0")
t.like(c.cmd("AUTH PLAIN " + PLAIN_OK), r"^503 5\.5\.1 ", "a second AUTH: 503 5.5.1 (RFC 4954 4)")
t.like(c.cmd("MAIL FROM:<demo@example.test>"), r"^250 2\.1\.0", "MAIL after AUTH: 250")
t.like(c.cmd("AUTH LOGIN"), r"^503 5\.5\.1 ", "AUTH inside the transaction: 503 5.5.1")
t.like(c.cmd("EHLO again.example"), r"^250-", "EHLO again")
t.like(c.cmd("MAIL FROM:<demo@example.test>"), r"^250 ", "the login outlives EHLO")
c.cmd("QUIT")
c.close()
t.ok(smtprecv.wait_for(lambda: "smtp-recv: info: auth ip=127.0.0.1 mech=PLAIN user=demo@example.test result=ok" in log()),
     "the session logs the login with the monitor's identity")
t.like(log(), r"smtp-recv: info: login ip=127\.0\.0\.1 user=demo@example\.test result=ok exit=0", "the monitor logs the verdict")
t.ok("demo\n" not in log() and "=demo " not in log(), "no password in the log")

# -- AUTH PLAIN after "334 " --
c = tls587()
t.is_(c.cmd("AUTH PLAIN"), "334 ", "AUTH PLAIN alone: an empty 334 challenge")
t.is_(c.cmd(PLAIN_OK), "235 2.7.0 Authentication successful", "the response on a line of its own: 235")
c.close()
c = tls587()
c.cmd("AUTH PLAIN")
t.is_(c.cmd("*"), "501 5.7.0 Authentication cancelled", "\"*\" cancels: 501 5.7.0")
c.cmd("AUTH PLAIN")
t.is_(c.cmd("not base64!"), "501 5.5.2 Cannot decode response", "bad base64 after 334: 501 5.5.2")
t.is_(c.cmd("AUTH PLAIN abc"), "501 5.5.2 Cannot decode response", "bad base64 as the initial response: 501 5.5.2")
t.is_(c.cmd("AUTH PLAIN " + b64("demo@example.test demo")), "501 5.5.2 Malformed PLAIN response", "not three NUL-separated parts: 501 5.5.2")
t.is_(c.cmd("AUTH PLAIN ="), "501 5.5.2 Malformed PLAIN response", "\"=\" (an empty initial response) is no PLAIN message either")
t.is_(c.cmd("AUTH CRAM-MD5"), "504 5.5.4 Unrecognized authentication type", "an unknown mechanism: 504 5.5.4")
t.like(c.cmd("AUTH"), r"^501 5\.5\.4 ", "AUTH without a mechanism: 501 5.5.4")
t.is_(c.cmd("AUTH plain " + PLAIN_OK), "235 2.7.0 Authentication successful", "the mechanism name in any case; none of the above counted as a failed login")
c.close()

# -- AUTH LOGIN --
c = tls587()
t.is_(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6", "AUTH LOGIN: 334 Username:")
t.is_(c.cmd(b64("demo@example.test")), "334 UGFzc3dvcmQ6", "then 334 Password:")
t.is_(c.cmd(b64("demo")), "235 2.7.0 Authentication successful", "then 235")
c.close()
c = tls587()
t.is_(c.cmd("AUTH LOGIN " + b64("demo@example.test")), "334 UGFzc3dvcmQ6", "AUTH LOGIN with the user as initial response: straight to Password:")
t.is_(c.cmd("*"), "501 5.7.0 Authentication cancelled", "\"*\" at the password cancels")
c.cmd("AUTH LOGIN " + b64("demo@example.test"))
t.is_(c.cmd(b64("demo")), "235 2.7.0 Authentication successful", "and a new AUTH LOGIN works")
c.close()

# -- the authorization identity (RFC 4616 2) --
c = tls587()
t.is_(c.cmd("AUTH PLAIN " + b64("bob@example.test\0demo@example.test\0demo")), "535 5.7.8 Authorization identity other than the user refused",
      "an authzid other than the user: 535 5.7.8, the chain not even run")
t.is_(c.cmd("AUTH PLAIN " + b64("DEMO@example.test\0demo@example.test\0demo")), "235 2.7.0 Authentication successful",
      "the authzid of the user itself (in any case): 235")
c.close()
t.like(log(), r"auth ip=127\.0\.0\.1 mech=PLAIN result=refused reason=authzid", "the refusal is logged")

# -- the AUTH line cap: 12,288 octets with CRLF (RFC 4954 4) --
c = tls587()
pad = 12288 - len("AUTH PLAIN \r\n")
t.is_(c.cmd("AUTH PLAIN " + "A" * pad), "501 5.5.2 Cannot decode response", "an AUTH line of 12,288 octets is read (and found no base64)")
t.is_(c.cmd("AUTH PLAIN " + "A" * (pad // 4 * 4)), "501 5.5.2 Malformed PLAIN response", "one of 12,284 octets is decoded")
t.is_(c.cmd("AUTH PLAIN " + "A" * (pad + 1)), "500 5.5.2 Line too long", "12,289 octets: 500 5.5.2")
c.cmd("AUTH PLAIN")
t.is_(c.cmd("A" * 12300), "500 5.5.6 Authentication exchange line is too long", "a response after 334 over the cap: 500 5.5.6")
t.is_(c.cmd("NOOP " + "x" * 2042), "500 5.5.2 Line too long", "other commands keep the 2048-octet cap")
t.like(c.cmd("NOOP"), r"^250 ", "and the session goes on")
c.close()

# -- failed logins: 535, counted, and the connection closed after SMTP_MAXLOGINS (3) --
c = tls587()
r = [c.cmd("AUTH PLAIN " + b64("\0demo@example.test\0wrong")), c.cmd("AUTH PLAIN " + b64("\0nobody@example.test\0demo"))]
t.is_(r, ["535 5.7.8 Authentication credentials invalid"] * 2, "a wrong password, an unknown user: the same 535 5.7.8")
c.cmd("AUTH LOGIN")
c.cmd(b64("demo@example.test"))
r = [c.cmd(b64("wrong")), c.reply()]
t.is_(r, ["535 5.7.8 Authentication credentials invalid", "421 4.7.0 mx.example.test Too many failed authentications, closing connection"],
      "the third failure: 535, then 421 4.7.0")
t.ok(c.closed(), "and the connection is closed")
c.close()
t.ok(smtprecv.wait_for(lambda: "reason=auth-failures" in log()), "logged: end reason=auth-failures")
p1 = inst.submission(env={"SMTP_MAXLOGINS": "1"})
c = tls587(p1)
t.like(c.cmd("AUTH PLAIN " + b64("\0demo@example.test\0x")) + "\n" + c.reply(), r"^535 5\.7\.8 .*\n421 4\.7\.0 ", "SMTP_MAXLOGINS=1: closed after the first failure")
c.close()

# -- a checkpassword program in trouble: 454 4.7.0, the session goes on --
pt = inst.submission(chain=["/bin/sh", "-c", "exit 111"])
c = tls587(pt)
t.is_(c.cmd("AUTH PLAIN " + PLAIN_OK), "454 4.7.0 Temporary authentication failure", "a chain exiting 111: 454 4.7.0 (RFC 4954 6)")
pt2 = inst.submission(chain=["/bin/sh", "-c", "kill -9 $$"])
c2 = tls587(pt2)
t.is_(c2.cmd("AUTH PLAIN " + PLAIN_OK), "454 4.7.0 Temporary authentication failure", "a chain killed by a signal: 454 4.7.0")
c2.close()
for _ in range(3):
    c.cmd("AUTH PLAIN " + PLAIN_OK)
t.like(c.cmd("NOOP"), r"^250 ", "temporary failures are not counted as failed logins")
c.close()
pt = inst.submission(chain=["/bin/sh", "-c", 'test "$1" = extra && test "$2" = true', "sh", "extra"])
c = tls587(pt)
t.is_(c.cmd("AUTH PLAIN " + PLAIN_OK), "235 2.7.0 Authentication successful",
      "the monitor runs CHECKPASSWORD ARGS... true: exit 0 accepts")
c.close()

# -- implicit TLS (port 465) --
c = TlsConn(p465)
t.like(c.greeting, r"^220 mx\.example\.test ESMTP", "port 465: the greeting over TLS")
r = c.cmd("EHLO client.example")
t.ok("250-AUTH PLAIN LOGIN" in r.splitlines() and "STARTTLS" not in r, "port 465: AUTH offered at once, no STARTTLS", r)
t.like(c.cmd("STARTTLS"), r"^503 5\.5\.1", "STARTTLS under implicit TLS: 503")
t.is_(c.cmd("MAIL FROM:<demo@example.test>"), "530 5.7.0 Authentication required", "port 465: MAIL before AUTH: 530")
t.is_(c.cmd("AUTH PLAIN " + PLAIN_OK), "235 2.7.0 Authentication successful", "port 465: AUTH PLAIN: 235")
t.like(c.cmd("MAIL FROM:<demo@example.test>"), r"^250 ", "then MAIL")
c.close()

# -- CVE-2011-0411: what is pipelined behind STARTTLS is never answered over TLS --
OKLINE = "login ip=127.0.0.1 user=demo@example.test result=ok"
before = log().count(OKLINE)
c = smtprecv.Conn(p587)
c.cmd("EHLO client.example")
c.send(("STARTTLS\r\nEHLO evil.example\r\nAUTH PLAIN %s\r\nMAIL FROM:<demo@example.test>\r\n" % PLAIN_OK).encode())
t.like(c.reply(), r"^220 2\.0\.0", "STARTTLS with EHLO, AUTH and MAIL behind it in the same packet: 220")
t.is_(c.buf, b"", "nothing else in plaintext")
c.s = ternlib.tls_ctx().wrap_socket(c.s)
c.s.settimeout(1.5)
try:
    early = c.s.recv(4096)
except socket.timeout:
    early = b""
t.is_(early, b"", "over TLS nothing comes before the client speaks")
c.s.settimeout(10)
t.like(c.cmd("EHLO client.example"), r"^250-mx\.example\.test", "the first reply over TLS is to EHLO")
t.is_(c.cmd("MAIL FROM:<demo@example.test>"), "530 5.7.0 Authentication required", "the pipelined AUTH counted for nothing")
c.close()
t.is_(log().count(OKLINE), before, "and never reached the monitor")

# -- port 25 (no -s) offers no AUTH, before or after TLS --
env25 = inst.tls_env()
env25.update({"QUEUE": smtprecv.FAKEQ, "FAKEQ_DIR": inst.qdir})
p25 = ternlib.tlsd_server(inst, ["-u"], [SMTPRECV], env=env25)
c = smtprecv.Conn(p25)
t.ok("AUTH" not in c.cmd("EHLO client.example"), "port 25 before TLS: no AUTH")
starttls(c)
t.ok("AUTH" not in c.cmd("EHLO client.example"), "port 25 over TLS: no AUTH")
t.is_(c.cmd("AUTH PLAIN " + PLAIN_OK), "502 5.5.1 Command not implemented", "port 25: AUTH gets 502 5.5.1")
t.is_(c.cmd("MAIL FROM:<a@remote.example> AUTH=<>"), "555 5.5.4 Unsupported parameter", "port 25: MAIL ... AUTH= is not recognized (555)")
c.close()

# -- exit codes --
e = dict(inst.env, **inst.login_env())


def run(argv, env=e, input=b"QUIT\r\n"):
    return subprocess.run(argv, env=env, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)


r = run([SMTPRECV, "-s"])
t.ok(r.returncode == 100 and b"usage" in r.stderr, "-s without a checkpassword program: usage, 100")
r = run([SMTPRECV, "-x", PWCHECK])
t.ok(r.returncode == 100 and b"usage" in r.stderr, "an unknown option: usage, 100")
r = run([SMTPRECV, PWCHECK])
t.ok(r.returncode == 100 and b"usage" in r.stderr, "arguments without -s: usage, 100")
e2 = dict(e)
del e2["TERN_LOGIN_UID"]
r = run([SMTPRECV, "-s", PWCHECK], env=e2)
t.ok(r.returncode == 100 and b"TERN_LOGIN_UID" in r.stderr, "-s as root without TERN_LOGIN_UID: 100")
r = run([SMTPRECV, "-s", PWCHECK], env=dict(e, TERN_LOGIN_UID="0"))
t.ok(r.returncode == 100 and b"root" in r.stderr, "TERN_LOGIN_UID=0: refused, 100")
r = run([SMTPRECV])
t.ok(r.returncode == 100 and b"root" in r.stderr, "without -s, as root: refused, 100")
r = run([SMTPRECV, "-s", PWCHECK], env=dict(e, SMTP_MAXLOGINS="three"))
t.ok(r.returncode == 100 and r.stdout.startswith(b"421 4.3.5"), "an invalid SMTP_MAXLOGINS: 421 4.3.5, 100")
r = run([SMTPRECV, "-s", PWCHECK])
t.ok(r.returncode == 0 and r.stdout.endswith(b"221 2.0.0 mx.example.test closing connection\r\n"),
     "a session that ends with QUIT: 0 (the monitor exits with its child; here on pipes)", r)
rfd, wfd = os.pipe()
r = subprocess.run([SMTPRECV, "-s", PWCHECK], env=dict(e, SMTP_TIMEOUT="1"), stdin=rfd,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
os.close(rfd)
os.close(wfd)
t.ok(r.returncode == 111 and b"421 4.4.2" in r.stdout, "a timeout: 421 4.4.2, 111", r)
r = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", SMTPRECV, "-s", PWCHECK], env=e,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
t.is_(r.returncode, 111, "no network on fd 0: 111")

t.done()
