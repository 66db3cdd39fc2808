#!/usr/bin/python3
# tlsd without -u (implicit TLS, as on 465, 993, 995): the handshake is
# done before the application starts, with SSL_PROTOCOL, SSL_CIPHER and
# SSL_TLS_SNI_SERVERNAME set; the application reads and writes plaintext
# on its fds 0 and 1. RSA and EC keys in every form openssl writes, a
# chain with an intermediate, SNI with two names, a wildcard and the
# default pair; checked with python's ssl, openssl s_client, gnutls-cli.
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
if not shutil.which("openssl"):
    t.skip_all("openssl is not installed")
inst = ternlib.Instance(t)
d = inst.path("tls")
os.makedirs(d)
os.chmod(d, 0o755)
tlsuser = ternlib.ensure_user("terntls") if ternlib.is_root() else None

# the application: what tlsd gave it, then an echo
app = inst.path("tlsapp")
inst.write("tlsapp", """#!/bin/sh
echo "uid=$(id -u)"
for v in SSL_PROTOCOL SSL_CIPHER SSL_TLS_SNI_SERVERNAME CERTFILE KEYFILE TLS_UID TLS_GID SSLCTLFD; do
  eval "x=\\${$v-unset}"; echo "$v=$x"
done
echo "pairvars=$(env | grep -c -e '^CERTFILE:' -e '^KEYFILE:')"
echo "pid=$$"
echo END
exec cat
""", 0o755)


def tlsenv(crt, key, extra=None):
    e = {"CERTFILE": crt, "KEYFILE": key}
    if tlsuser:
        e.update({"TLS_UID": str(tlsuser.pw_uid), "TLS_GID": str(tlsuser.pw_gid)})
    if extra:
        e.update(extra)
    return e


def server(crt, key, opts=(), extra=None):
    return ternlib.tlsd_server(inst, opts, [app], env=tlsenv(crt, key, extra), asuser=False)


def context(cafile=None, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def session(port, sni=None, ctx=None):
    """One connection: the application's variables, the echo, the TLS facts."""
    ctx = ctx or context()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    c = ctx.wrap_socket(s, server_hostname=sni)
    buf = b""
    while b"END\n" not in buf:
        chunk = c.recv(4096)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"END\n")
    vars_ = dict(line.split("=", 1) for line in head.decode().splitlines() if "=" in line)
    c.sendall(b"ping 1 2 3\n")
    echo = rest
    while b"\n" not in echo:
        chunk = c.recv(4096)
        if not chunk:
            break
        echo += chunk
    out = {"vars": vars_, "echo": echo, "version": c.version(), "cipher": c.cipher()[0],
           "cert": c.getpeercert(binary_form=True)}
    c.close()
    return out


def der(crt):
    with open(crt) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


# -- an EC (P-256) key --
ec_crt, ec_key = ternlib.openssl_cert(d, "ec.example.test", "ec")
port = server(ec_crt, ec_key)
r = session(port)
t.is_(r["version"], "TLSv1.2", "EC key: TLS 1.2")
t.is_(r["cipher"], "ECDHE-ECDSA-AES128-GCM-SHA256", "EC key: ECDHE-ECDSA with AES-128-GCM first")
t.is_(r["vars"].get("SSL_PROTOCOL"), "TLSv1.2", "the application gets SSL_PROTOCOL")
t.is_(r["vars"].get("SSL_CIPHER"), r["cipher"], "and SSL_CIPHER, the suite the client saw")
t.is_(r["vars"].get("SSL_TLS_SNI_SERVERNAME"), "unset", "no SNI sent: SSL_TLS_SNI_SERVERNAME unset")
t.is_(r["echo"], b"ping 1 2 3\n", "plaintext both ways through the application's fds 0 and 1")
t.is_(r["cert"], der(ec_crt), "the certificate of CERTFILE")
t.ok(all(r["vars"].get(v) == "unset" for v in ("CERTFILE", "KEYFILE", "TLS_UID", "TLS_GID", "SSLCTLFD")),
     "CERTFILE, KEYFILE, TLS_UID, TLS_GID are not passed to the application", r["vars"])
for ciph in ("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"):
    r = session(port, ctx=context(ciphers=ciph))
    t.ok(r["cipher"] == ciph and r["vars"].get("SSL_CIPHER") == ciph, "EC key: %s when the client wants it" % ciph, r)

# -- an RSA (2048) key --
rsa_crt, rsa_key = ternlib.openssl_cert(d, "rsa.example.test", "rsa")
port = server(rsa_crt, rsa_key)
r = session(port)
t.is_(r["cipher"], "ECDHE-RSA-AES128-GCM-SHA256", "RSA key: ECDHE-RSA with AES-128-GCM")
t.is_(r["echo"], b"ping 1 2 3\n", "RSA key: the echo")
for ciph in ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"):
    r = session(port, ctx=context(ciphers=ciph))
    t.ok(r["cipher"] == ciph and r["vars"].get("SSL_CIPHER") == ciph, "RSA key: %s when the client wants it" % ciph, r)

# -- key and certificate forms: PKCS#8 above; traditional, EC PARAMETERS first, DER --
trad = os.path.join(d, "rsa-trad.key")
subprocess.run(["openssl", "pkey", "-in", rsa_key, "-traditional", "-out", trad], check=True)
with open(trad) as f:
    t.like(f.readline(), "BEGIN RSA PRIVATE KEY", "openssl wrote a traditional RSA key")
t.is_(session(server(rsa_crt, trad))["echo"], b"ping 1 2 3\n", "a traditional RSA key (RSA PRIVATE KEY)")
ectrad = os.path.join(d, "ec-trad.key")
p = subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey"], stdout=subprocess.PIPE, check=True)
with open(ectrad, "wb") as f:
    f.write(p.stdout)
t.like(p.stdout.decode(), r"(?s)BEGIN EC PARAMETERS.*BEGIN EC PRIVATE KEY", "openssl ecparam wrote EC PARAMETERS, then EC PRIVATE KEY")
ectrad_crt = os.path.join(d, "ec-trad.crt")
subprocess.run(["openssl", "req", "-x509", "-new", "-key", ectrad, "-subj", "/CN=trad", "-days", "2", "-out", ectrad_crt],
               check=True, stdout=subprocess.DEVNULL)
t.is_(session(server(ectrad_crt, ectrad))["echo"], b"ping 1 2 3\n", "a traditional EC key after an EC PARAMETERS block")
dcrt, dkey = os.path.join(d, "ec.der.crt"), os.path.join(d, "ec.der.key")
subprocess.run(["openssl", "x509", "-in", ec_crt, "-outform", "DER", "-out", dcrt], check=True)
subprocess.run(["openssl", "pkey", "-in", ec_key, "-outform", "DER", "-out", dkey], check=True)
r = session(server(dcrt, dkey))
t.ok(r["echo"] == b"ping 1 2 3\n" and r["cert"] == der(ec_crt), "DER certificate and key files")
nopub = os.path.join(d, "ec-nopub.key")
subprocess.run(["openssl", "ec", "-in", ec_key, "-no_public", "-out", nopub], check=True, stderr=subprocess.DEVNULL)
os.chmod(nopub, 0o600)
t.is_(session(server(ec_crt, nopub))["cert"], der(ec_crt), "an EC key without its public point (openssl ec -no_public)")
both = os.path.join(d, "both.pem")
with open(both, "w") as f:
    f.write(open(ec_key).read() + open(ec_crt).read())
t.is_(session(server(both, both))["cert"], der(ec_crt), "key and certificate in one file")

# -- a chain: root CA, intermediate, leaf --
ternlib.openssl_cert(d, "Tern Test Root", "rsa", ca=True)
ternlib.openssl_cert(d, "Tern Test Intermediate", "ec", issuer="Tern Test Root", ca=True)
leaf_crt, leaf_key = ternlib.openssl_cert(d, "mail.chain.test", "ec", issuer="Tern Test Intermediate")
chain = os.path.join(d, "chain.pem")
with open(chain, "w") as f:
    f.write(open(leaf_crt).read() + open(os.path.join(d, "Tern Test Intermediate.crt")).read())
root = os.path.join(d, "Tern Test Root.crt")
port = server(chain, leaf_key)
r = session(port, sni="mail.chain.test", ctx=context(cafile=root))
t.is_(r["echo"], b"ping 1 2 3\n", "python verifies the chain up to the root (the intermediate is sent)")
port_leaf = server(leaf_crt, leaf_key)
try:
    session(port_leaf, sni="mail.chain.test", ctx=context(cafile=root))
    t.ok(False, "without the intermediate in CERTFILE the chain does not verify")
except ssl.SSLError as e:
    t.like(str(e), "CERTIFICATE_VERIFY_FAILED", "without the intermediate in CERTFILE the chain does not verify")
p = subprocess.run("(echo ping; sleep 1) | openssl s_client -connect 127.0.0.1:%d -servername mail.chain.test "
                   "-CAfile '%s' -verify_return_error -brief" % (port, root),
                   shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
out = p.stdout.decode(errors="replace")
t.like(out, r"Protocol version: TLSv1\.2", "openssl s_client: TLSv1.2")
t.like(out, r"Ciphersuite: ECDHE-ECDSA-AES128-GCM-SHA256", "openssl s_client: the suite")
t.like(out, r"Verification: OK", "openssl s_client verifies the chain")
t.like(out, r"SSL_TLS_SNI_SERVERNAME=mail\.chain\.test", "openssl s_client: the server name reaches the application")
t.like(out, r"(?m)^ping$", "openssl s_client: the echo")
if shutil.which("gnutls-cli"):
    p = subprocess.run("(echo ping; sleep 1) | gnutls-cli --x509cafile '%s' --port %d 127.0.0.1 --sni-hostname mail.chain.test "
                       "--verify-hostname mail.chain.test" % (root, port),
                       shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode(errors="replace")
    t.like(out, r"Status: The certificate is trusted", "gnutls-cli verifies the chain")
    t.like(out, r"\(TLS1\.2(-X\.509)?\)-\(ECDHE-[A-Z0-9]+\)-\(ECDSA-SHA256\)-\(AES-128-GCM\)", "gnutls-cli: TLS 1.2, ECDHE, AES-128-GCM")
    t.like(out, r"(?m)^ping$", "gnutls-cli: the echo")
    p = subprocess.run("(echo ping; sleep 1) | gnutls-cli --insecure --port %d 127.0.0.1 "
                       "--priority NORMAL:-CIPHER-ALL:+CHACHA20-POLY1305" % server(rsa_crt, rsa_key),
                       shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode(errors="replace")
    t.like(out, r"\(TLS1\.2(-X\.509)?\)-\(ECDHE-[A-Z0-9]+\)-\(RSA-[A-Z0-9-]+\)-\(CHACHA20-POLY1305\)", "gnutls-cli: RSA key, ChaCha20-Poly1305")
    t.like(out, r"SSL_CIPHER=ECDHE-RSA-CHACHA20-POLY1305", "gnutls-cli: the application saw the same suite")
else:
    t.diag("gnutls-cli (gnutls-bin) is not installed: its checks are skipped")
    t.ok(True, "# SKIP gnutls-cli not installed")

# -- SNI: two names, a wildcard, the default pair --
a_crt, a_key = ternlib.openssl_cert(d, "a.sni.test", "ec")
b_crt, b_key = ternlib.openssl_cert(d, "b.sni.test", "rsa")
w_crt, w_key = ternlib.openssl_cert(d, "wild.sni.test", "ec", sans=["*.w.sni.test"])
pairs = {"CERTFILE:a.sni.test": a_crt, "KEYFILE:a.sni.test": a_key,
         "CERTFILE:b.sni.test": b_crt, "KEYFILE:b.sni.test": b_key,
         "CERTFILE:*.w.sni.test": w_crt, "KEYFILE:*.w.sni.test": w_key}
port = server(ec_crt, ec_key, opts=["-k", "1"], extra=pairs)
r = session(port, sni="a.sni.test")
t.ok(r["cert"] == der(a_crt) and r["vars"].get("SSL_TLS_SNI_SERVERNAME") == "a.sni.test",
     "SNI a.sni.test: its pair (EC), and SSL_TLS_SNI_SERVERNAME", r["vars"])
r = session(port, sni="B.SNI.Test")
t.ok(r["cert"] == der(b_crt) and r["cipher"].startswith("ECDHE-RSA-") and r["vars"].get("SSL_TLS_SNI_SERVERNAME") == "b.sni.test",
     "SNI B.SNI.Test: the pair of b.sni.test (RSA), case-insensitive, lowercased", r["vars"])
t.is_(session(port, sni="x.w.sni.test")["cert"], der(w_crt), "SNI x.w.sni.test: the pair of *.w.sni.test")
t.is_(session(port, sni="y.x.w.sni.test")["cert"], der(ec_crt), "a wildcard covers one label only: default pair")
r = session(port, sni="other.test")
t.ok(r["cert"] == der(ec_crt) and r["vars"].get("SSL_TLS_SNI_SERVERNAME") == "other.test",
     "an unknown name: the default pair, the name still passed on", r["vars"])
r = session(port)
t.ok(r["cert"] == der(ec_crt) and r["vars"].get("SSL_TLS_SNI_SERVERNAME") == "unset", "no SNI: the default pair")
t.is_(r["vars"].get("pairvars"), "0", "the CERTFILE:name and KEYFILE:name variables are not passed on")
port = server(ec_crt, ec_key, extra=pairs)
t.is_(session(port, sni="a.sni.test")["cert"], der(ec_crt), "without -k, only CERTFILE and KEYFILE are read")
port = server("/nonexistent", "/nonexistent", opts=["-k", "2"], extra=pairs)
t.is_(session(port, sni="b.sni.test")["cert"], der(b_crt), "-k 2: the named pairs only (CERTFILE, KEYFILE ignored)")
try:
    session(port, sni="other.test")
    t.ok(False, "-k 2 and an unknown name: no certificate, handshake refused")
except (ssl.SSLError, ConnectionError, OSError) as e:
    t.ok(True, "-k 2 and an unknown name: no certificate, handshake refused (%s)" % e.__class__.__name__)

# -- the end: the application exits, the client gets close_notify (-S,
#    the default), or a bare TCP half-close with -s --
inst.write("byeapp", "#!/bin/sh\necho bye\n", 0o755)


def ending(opts):
    port = ternlib.tlsd_server(inst, opts, [inst.path("byeapp")], env=tlsenv(ec_crt, ec_key), asuser=False)
    strict = context()
    strict.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF   # python sets it: a cut must show
    c = strict.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), suppress_ragged_eofs=False)
    got = b""
    try:
        while True:
            chunk = c.recv(100)
            if not chunk:
                return got, "close_notify"
            got += chunk
    except ssl.SSLError as e:
        return got, "eof" if "EOF" in str(e) else str(e)
    finally:
        c.close()


t.is_(ending([]), (b"bye\n", "close_notify"), "the application exits: its output, then close_notify")
t.is_(ending(["-S"]), (b"bye\n", "close_notify"), "-S: the same")
t.is_(ending(["-s"]), (b"bye\n", "eof"), "-s: its output, then EOF without close_notify")

# -- the log: one line per handshake, never a key --
log = inst.read("log/stderr")
t.like(log, r"tlsd: info: handshake ip=127\.0\.0\.1 protocol=TLSv1\.2 cipher=ECDHE-ECDSA-AES128-GCM-SHA256 sni=a\.sni\.test cert=a\.sni\.test",
       "a handshake is logged: ip, protocol, cipher, server name, pair")
keys = [open(k).read() for k in (ec_key, rsa_key, a_key, b_key)]
t.ok(not any(line in log for k in keys for line in k.splitlines()[1:-1]), "no key material in the log")
# -- an idle engine gives its record buffer back, and goes on as before --
# (between records tlsd's engine holds nothing in its 33 KiB buffer; after
# a second without traffic its pages go back to the kernel)
def engine_anon(app_pid):
    """Anonymous KiB of the engine (tlsd, the application's child): its bss and heap."""
    for pid in os.listdir("/proc"):
        try:
            st = open("/proc/%s/stat" % pid).read()
        except OSError:
            continue
        fields = st.rsplit(")", 1)[1].split()
        if st.split("(", 1)[1].rsplit(")", 1)[0] == "tlsd" and int(fields[1]) == app_pid:
            return sum(int(l.split()[1]) for l in open("/proc/%s/smaps" % pid) if l.startswith("Anonymous:"))
    return None


port = server(ec_crt, ec_key)
s = socket.create_connection(("127.0.0.1", port), timeout=10)
c = context().wrap_socket(s)
buf = b""
while b"END\n" not in buf:
    buf += c.recv(4096)
app_pid = int(dict(l.split("=", 1) for l in buf.decode().splitlines() if "=" in l)["pid"])


def echo(data):
    c.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = c.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


big = b"".join(b"%05d %s\n" % (i, b"x" * 90) for i in range(600))   # 58 KiB: several full records each way
t.is_(echo(big), big, "58 KiB through the engine and back")
busy = engine_anon(app_pid)
time.sleep(1.8)
quiet = engine_anon(app_pid)
t.ok(busy is not None and quiet is not None and quiet + 16 <= busy,
     "idle for a second, the engine gives back its buffer's pages (anonymous KiB %s then %s)" % (busy, quiet))
t.is_(echo(big), big, "and the same 58 KiB go through it after that, unchanged")
t.is_(echo(b"small\n"), b"small\n", "and a small record")
c.close()

t.done()
