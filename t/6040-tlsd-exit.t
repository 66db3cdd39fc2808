#!/usr/bin/python3
# tlsd's exit codes (s6-tlsd-io's: 96 configuration, 97 engine setup, 98
# TLS error or timeout; 100 usage), each provoked on a real connection,
# the handshake timeout (-K), the idle timeout (-T), and -u when the
# engine cannot start: the application runs without STARTTLS.
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
sys.path.insert(0, os.path.dirname(__file__))
import ternlib

warnings.simplefilter("ignore", DeprecationWarning)
t = ternlib.TAP()
inst = ternlib.Instance(t)
d = inst.path("tls")
os.makedirs(d)
TLSD = os.path.join(ternlib.BUILD, "tlsd")
ids = {}
if ternlib.is_root():
    u = ternlib.ensure_user("terntls")
    ids = {"TLS_UID": str(u.pw_uid), "TLS_GID": str(u.pw_gid)}
ec_crt, ec_key = ternlib.openssl_cert(d, "exit.test", "ec")
rsa_crt, rsa_key = ternlib.openssl_cert(d, "other.test", "rsa")
other_ec_crt, other_ec_key = ternlib.openssl_cert(d, "other-ec.test", "ec")
marker = inst.path("app-ran")
inst.write("app", "#!/bin/sh\ntouch '%s'\nexec cat\n" % marker, 0o755)


def context(**kw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if kw.get("old"):
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
    return ctx


def direct(opts, env, client, timeout=20, prefix=(), prog=None):
    """tlsd OPTS app, its fds 0 and 1 one end of a TCP connection, client(sock)
    on the other. Returns (exit code, stderr, seconds, whether the app ran)."""
    if os.path.exists(marker):
        os.unlink(marker)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    cs = socket.create_connection(ls.getsockname(), timeout=10)
    ss, _ = ls.accept()
    ls.close()
    e = dict(inst.env)
    e.update(ids)
    e.update(env)
    t0 = time.time()
    prog = prog or [inst.path("app")]
    p = subprocess.Popen(list(prefix) + [TLSD] + list(opts) + ([prog] if isinstance(prog, str) else list(prog)), stdin=ss, stdout=ss,
                         stderr=subprocess.PIPE, env=e)
    ss.close()
    th = threading.Thread(target=lambda: client(cs), daemon=True)
    th.start()
    try:
        err = p.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        err = p.communicate()[1]
    took = time.time() - t0
    th.join(5)
    cs.close()
    return p.returncode, err.decode(errors="replace"), took, os.path.exists(marker)


def handshake(s):
    try:
        c = context().wrap_socket(s)
        c.sendall(b"x\n")
        c.recv(10)
        c.close()
    except (ssl.SSLError, OSError):
        pass


def idle(s):
    try:
        s.recv(10)
    except OSError:
        pass


def send(data):
    def f(s):
        try:
            s.sendall(data)
            s.recv(100)
        except OSError:
            pass
    return f


def send_and_leave(data):
    def f(s):
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(100):
                pass
        except OSError:
            pass
    return f


def old_client(s):
    try:
        context(old=True).wrap_socket(s)
    except (ssl.SSLError, OSError):
        pass


ok = {"CERTFILE": ec_crt, "KEYFILE": ec_key}

# -- 100: usage --
p = subprocess.run([TLSD], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
t.ok(p.returncode == 100 and b"usage" in p.stderr, "no program: exit 100 with the usage", p.stderr)
p = subprocess.run([TLSD, "-K", "soon", "cat"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
t.is_(p.returncode, 100, "a malformed number: exit 100")

# -- 0: a normal session --
r = direct([], ok, handshake)
t.ok(r[3], "a good session runs the application", r)

# -- 96: the certificate and key files --
bad = inst.path("tls", "garbage.pem")
inst.write("tls/garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
enc = os.path.join(d, "enc.key")
subprocess.run(["openssl", "pkey", "-in", ec_key, "-aes256", "-passout", "pass:x", "-out", enc], check=True)
for env, what, msg in (({"CERTFILE": "/nonexistent/cert.pem", "KEYFILE": ec_key}, "a missing certificate file", "unable to read certificate file"),
                       ({"CERTFILE": ec_crt, "KEYFILE": "/nonexistent/key.pem"}, "a missing key file", "unable to read key file"),
                       ({"KEYFILE": ec_key}, "CERTFILE unset", "CERTFILE is not set"),
                       ({"CERTFILE": bad, "KEYFILE": ec_key}, "broken PEM", "unable to read certificate file"),
                       ({"CERTFILE": ec_key, "KEYFILE": ec_key}, "no certificate in CERTFILE", "no certificate in"),
                       ({"CERTFILE": ec_crt, "KEYFILE": ec_crt}, "no key in KEYFILE", "no private key in"),
                       ({"CERTFILE": ec_crt, "KEYFILE": enc}, "an encrypted key", "is encrypted")):
    r = direct([], env, idle)
    t.ok(r[0] == 96 and msg in r[1] and not r[3], "%s: exit 96, the application never runs" % what, r)
r = direct(["-k", "1"], dict(ok, **{"KEYFILE:a.test": ec_key}), idle)
t.ok(r[0] == 96 and "KEYFILE:a.test is set but not CERTFILE:a.test" in r[1], "-k 1: KEYFILE:name without CERTFILE:name: exit 96", r)

# -- 97: keys the engine cannot use --
r = direct([], {"CERTFILE": ec_crt, "KEYFILE": other_ec_key}, idle)
t.ok(r[0] == 97 and "does not match the certificate" in r[1] and not r[3], "an EC key that is not the certificate's: exit 97", r)
nopub = os.path.join(d, "other-nopub.key")
subprocess.run(["openssl", "ec", "-in", other_ec_key, "-no_public", "-out", nopub], check=True, stderr=subprocess.DEVNULL)
r = direct([], {"CERTFILE": ec_crt, "KEYFILE": nopub}, idle)
t.ok(r[0] == 97 and "does not match the certificate" in r[1], "the same, the key without its public point: exit 97", r)
r = direct([], {"CERTFILE": ec_crt, "KEYFILE": rsa_key}, idle)
t.ok(r[0] == 97 and "does not match the certificate" in r[1], "an RSA key with an EC certificate: exit 97", r)
r = direct([], {"CERTFILE": rsa_crt, "KEYFILE": other_ec_key}, idle)
t.ok(r[0] == 97, "an EC key with an RSA certificate: exit 97", r)
k1 = os.path.join(d, "k1.key")
k1crt = os.path.join(d, "k1.crt")
p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-nodes",
                    "-subj", "/CN=k1", "-days", "2", "-keyout", k1, "-out", k1crt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if p.returncode == 0:
    r = direct([], {"CERTFILE": k1crt, "KEYFILE": k1}, idle)
    t.ok(r[0] in (96, 97) and not r[3], "a secp256k1 key (no ECDSA curve of TLS): refused (%d)" % r[0], r)
else:
    t.ok(True, "# SKIP openssl makes no secp256k1 key")

# -- 98: TLS errors and timeouts on the connection --
r = direct([], ok, old_client)
t.ok(r[0] == 98 and "reason=sent-alert alert=protocol-version" in r[1] and not r[3], "a TLS 1.0 client: exit 98, logged", r)
r = direct([], ok, send(b"EHLO client.example\r\n"))
t.ok(r[0] == 98 and "handshake failed" in r[1] and not r[3], "plaintext instead of a ClientHello: exit 98", r)
r = direct([], ok, send_and_leave(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"))
t.ok(r[0] == 98 and "reason=eof" in r[1], "a client that leaves in the middle of its ClientHello: exit 98", r)
r = direct(["-K", "700"], ok, idle)
t.ok(r[0] == 98 and "reason=timeout" in r[1] and r[2] >= 0.6 and not r[3],
     "a client that connects and sends nothing is dropped after -K 700 ms: exit 98 (%.1f s)" % r[2], r)
r = direct(["-K", "700"], ok, send(b"\x16\x03\x01\x02\x00\x01\x00"))
t.ok(r[0] == 98 and "reason=timeout" in r[1] and r[2] >= 0.6, "one that stops in the middle of its ClientHello too", r)

# -- 0: the engine's normal end, seen by the application (its parent) --
result = inst.path("engine-status")
inst.write("reaper", """#!/usr/bin/python3
import os, sys
if "SSLCTLFD" in os.environ:
    os.close(int(os.environ["SSLCTLFD"]))     # -u: ends without STARTTLS
else:
    os.close(0)
    os.close(1)                               # implicit: end of the session
pid, st = os.wait()
with open(sys.argv[1], "w") as f:
    f.write(str(os.waitstatus_to_exitcode(st)))
""", 0o755)
for opts, client, what in (([], handshake, "implicit TLS: the application closes its fds, the engine exits 0"),
                           (["-u"], idle, "-u: the application ends without STARTTLS, the engine exits 0")):
    if os.path.exists(result):
        os.unlink(result)
    r = direct(opts, ok, client, prog=[inst.path("reaper"), result])
    t.ok(os.path.exists(result) and open(result).read() == "0", what, (r, os.path.exists(result) and open(result).read()))

# -- 111: a system call fails (here setgid, tlsd not being root); 126, 127: prog cannot be run --
if ternlib.is_root():
    import pwd
    pw = pwd.getpwnam(ternlib.TESTUSER)
    ukey = os.path.join(d, "user.key")
    shutil.copy(ec_key, ukey)
    os.chown(ukey, pw.pw_uid, pw.pw_gid)
    r = direct([], {"CERTFILE": ec_crt, "KEYFILE": ukey}, idle, prefix=("s6-setuidgid", ternlib.TESTUSER))
    t.ok(r[0] == 111 and "unable to setgid to TLS_GID" in r[1], "not root, with TLS_UID and TLS_GID of another user: exit 111", r)
else:
    t.ok(True, "# SKIP not root")
r = direct([], ok, handshake, prog="/nonexistent/prog")
t.ok(r[0] == 127 and "unable to exec /nonexistent/prog" in r[1], "a program that does not exist: exit 127 (after the handshake)", r)
r = direct(["-u"], ok, idle, prog=inst.path("tls"))
t.is_(r[0], 126, "a program that cannot be executed: exit 126")

# -- the idle timeout (-T): after the handshake, no traffic either way --
port = ternlib.tlsd_server(inst, ["-T", "800", "-v", "2"], ["cat"], env=dict(ok, **ids), asuser=False)
strict = context()
strict.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF   # python sets it: a cut must show
c = strict.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), suppress_ragged_eofs=False)
c.sendall(b"still here\n")
got = c.recv(100)
t0 = time.time()
try:
    rest = c.recv(100)
except (ssl.SSLError, OSError) as e:
    rest = repr(e)
took = time.time() - t0
t.ok(got == b"still here\n" and rest in (b"", "") and took >= 0.7,
     "-T 800: an idle session is closed (close_notify) after 0.8 s (%.1f s)" % took, (got, rest))
c.close()
t.is_(inst.read("log/stderr").count("tlsd: warning: idle timeout ip=127.0.0.1"), 1, "and it is logged")

# -- -u: an engine that cannot start leaves the application without STARTTLS --
inst.write("uapp", "#!/bin/sh\necho \"ctl=${SSLCTLFD-unset} read=${SSLREADFD-unset}\"\n", 0o755)
port = ternlib.tlsd_server(inst, ["-u"], [inst.path("uapp")], env=dict({"CERTFILE": "/nonexistent", "KEYFILE": ec_key}, **ids), asuser=False)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
line = s.recv(100).decode()
s.close()
t.is_(line, "ctl=unset read=unset\n", "-u, the engine dies (96): the application runs without SSLCTLFD (no STARTTLS to offer)")
log = inst.read("log/stderr")
t.like(log, r"tlsd: warning: TLS engine failed ip=127\.0\.0\.1 exit=96 action=no-starttls", "and tlsd logs the engine's exit code")
t.done()
