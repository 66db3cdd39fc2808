#!/usr/bin/python3
# Real clients against POP3 with STLS (pop3-login under tlsd -u) and
# POP3S (under tlsd): python poplib stls() and POP3_SSL, curl --ssl-reqd
# pop3:// and pop3s://, fetchmail over POP3S and over STLS (the
# certificate checked against the test certificate: sslcertck with
# sslcertfile and sslcommonname), openssl s_client and gnutls-cli in both
# modes. Plain-text logins are off, as in an installed system. A peer
# that is not installed skips its tests.
import os
import poplib
import shutil
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("pop3-login is the login monitor: it starts as root")
inst = ternlib.TlsInstance(t)
pstls = inst.pop3tls()
p995 = inst.pop3tls(implicit=True)
work = inst.path("work")
os.makedirs(work)


def skip(n, why):
    for _ in range(n):
        t.ok(True, "# SKIP " + why)


def fill(n, tag):
    for i in range(n):
        inst.put("Subject: %s %d\n\nbody of %s %d\n.leading dot\n" % (tag, i, tag, i))


def left():
    return len(inst.maildir_files("example.test/demo", "new")) + len(inst.maildir_files("example.test/demo", "cur"))


def run(argv, input=None, env=None, timeout=60, shell=False):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(argv, input=input, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, shell=shell)
    return p.returncode, p.stdout.decode(errors="replace")


# -- poplib --
fill(2, "poplib")
p = poplib.POP3("127.0.0.1", pstls, timeout=10)
t.ok("STLS" in p.capa() and "USER" not in p.capa(), "poplib: STLS offered, USER not before TLS")
try:
    p.user("demo@example.test")
    t.ok(False, "poplib: USER refused before TLS")
except poplib.error_proto as e:
    t.like(str(e), r"-ERR \[AUTH\]", "poplib: USER refused before TLS with [AUTH]")
p.stls(context=ternlib.tls_ctx(inst.crt))
t.ok("USER" in p.capa(), "poplib stls(), the certificate verified: USER offered")
p.user("demo@example.test")
t.like(p.pass_("demo").decode(), r"^\+OK Logged in, 2 messages", "poplib: logged in over STLS")
t.ok(b"body of poplib 0" in b"\n".join(p.retr(1)[1]), "poplib: RETR over TLS")
p.quit()
p = poplib.POP3_SSL("127.0.0.1", p995, timeout=10, context=ternlib.tls_ctx(inst.crt))
p.user("demo@example.test")
t.like(p.pass_("demo").decode(), r"^\+OK Logged in", "poplib POP3_SSL on 995: logged in")
for i in range(p.stat()[0]):
    p.dele(i + 1)
p.quit()
t.is_(left(), 0, "poplib deleted what it read")

# -- curl --
if shutil.which("curl"):
    fill(2, "curl")
    for url, opts, what in (("pop3://mx.example.test:%d" % pstls, ["--ssl-reqd"], "curl --ssl-reqd pop3:// (STLS)"),
                            ("pop3s://mx.example.test:%d" % p995, [], "curl pop3s://")):
        port = url.rsplit(":", 1)[1]
        rc, out = run(["curl", "-sS", "--cacert", inst.crt, "--resolve", "mx.example.test:%s:127.0.0.1" % port] + opts +
                      ["-u", "demo@example.test:demo", url + "/"])
        t.ok(rc == 0 and len(out.strip().splitlines()) == 2, "%s, the certificate verified: LIST shows 2 messages" % what, out)
        rc, out = run(["curl", "-sS", "--cacert", inst.crt, "--resolve", "mx.example.test:%s:127.0.0.1" % port] + opts +
                      ["-u", "demo@example.test:demo", url + "/1"])
        t.ok(rc == 0 and "body of curl 0" in out, "%s: RETR 1" % what, out)
    rc, out = run(["curl", "-sS", "-u", "demo@example.test:demo", "pop3://127.0.0.1:%d/" % pstls])
    t.ok(rc != 0, "curl pop3:// without TLS: the login is refused (exit %d)" % rc, out)
    inst.maildir()
    for f in inst.maildir_files("example.test/demo", "new") + inst.maildir_files("example.test/demo", "cur"):
        os.unlink(f)
else:
    skip(5, "curl not installed")

# -- fetchmail --
if shutil.which("fetchmail"):
    for mode, port, ssl in (("POP3S", p995, "ssl "), ("STLS", pstls, "sslproto tls1.2+ ")):
        fill(5, "fetchmail")
        out = os.path.join(work, "fetchmail-%s.out" % mode)
        rcfile = os.path.join(work, "fetchmailrc")
        with open(rcfile, "w") as f:
            f.write('set no syslog\n'
                    'poll 127.0.0.1 service %d protocol pop3 uidl auth password\n'
                    '  user "demo@example.test" there with password "demo"\n'
                    '  %ssslcertck sslcertfile "%s" sslcommonname "mx.example.test" no keep fetchall\n'
                    '  mda "/bin/sh -c \'cat >> %s; echo ==END== >> %s\'"\n' % (port, ssl, inst.crt, out, out))
        os.chmod(rcfile, 0o600)
        rc, log = run(["fetchmail", "-f", rcfile, "--nodetach", "-v"], env={"HOME": work, "FETCHMAILHOME": work})
        got = open(out).read().split("==END==\n")[:-1] if os.path.exists(out) else []
        t.ok(rc == 0 and len(got) == 5 and all("\n.leading dot\n" in g for g in got),
             "fetchmail over %s, the certificate checked: 5 messages, whole" % mode, log[-2500:])
        t.is_(left(), 0, "fetchmail over %s deleted them" % mode)
else:
    skip(4, "fetchmail not installed")

# -- openssl s_client, gnutls-cli --
fill(1, "cli")
script = "(sleep 1; printf 'USER demo@example.test\\r\\n'; sleep 0.3; printf 'PASS demo\\r\\n'; sleep 1; printf 'STAT\\r\\n'; sleep 0.3; printf 'QUIT\\r\\n'; sleep 0.5)"
for mode, cmd in (("-starttls pop3", "openssl s_client -connect 127.0.0.1:%d -starttls pop3 -quiet -verify_quiet -CAfile %s" % (pstls, inst.crt)),
                  ("on 995", "openssl s_client -connect 127.0.0.1:%d -quiet -verify_quiet -CAfile %s" % (p995, inst.crt))):
    rc, out = run(script + " | " + cmd, shell=True)
    t.ok("+OK Logged in, 1 messages" in out and "+OK 1 " in out and "+OK Bye" in out, "openssl s_client %s: login, STAT, QUIT" % mode, out[-1500:])
if shutil.which("gnutls-cli"):
    for mode, opts, port in (("--starttls-proto=pop3", ["--starttls-proto=pop3"], pstls), ("on 995", [], p995)):
        cmd = " ".join(["gnutls-cli", "--x509cafile", inst.crt, "--verify-hostname", "mx.example.test", "--crlf", "--logfile", "/dev/null",
                        "--port", str(port)] + opts + ["127.0.0.1"])
        rc, out = run(script.replace("\\r\\n", "\\n") + " | " + cmd, shell=True)
        t.ok("+OK Logged in, 1 messages" in out and "+OK 1 " in out and "+OK Bye" in out,
             "gnutls-cli %s, the certificate verified: login, STAT, QUIT" % mode, out[-1500:])
else:
    skip(2, "gnutls-cli not installed")

t.done()
