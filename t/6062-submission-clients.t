#!/usr/bin/python3
# Real clients against smtp-recv -s behind tlsd -u (587, STARTTLS) and
# tlsd (465, TLS from the first byte): python smtplib, swaks --tls and
# --tlsc with AUTH PLAIN and LOGIN, curl --ssl-reqd smtp:// and smtps://
# with --user, msmtp (certificate checked against the test certificate),
# openssl s_client and gnutls-cli in both modes. A peer that is not
# installed skips its tests.
import base64
import os
import shutil
import smtplib
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("smtp-recv -s is the login monitor: it starts as root")
inst = ternlib.TlsInstance(t, users=(("demo@example.test", "demo"), ("bob@example.test", "bobpw")))
p587 = inst.submission()
p465 = inst.submission(implicit=True)
PLAIN = base64.b64encode(b"\0demo@example.test\0demo").decode()


def skip(n, why):
    for _ in range(n):
        t.ok(True, "# SKIP " + why)


def got_one(what, pattern):
    """The last queued message: from demo, with the pattern in it."""
    q = inst.queued()
    t.ok(q and q[-1][1].startswith(b"Fdemo@example.test\0") and pattern.encode() in q[-1][0] and b"with ESMTPSA (TLSv1.2 " in q[-1][0],
         "%s: queued from demo@example.test, Received with ESMTPSA" % what, q[-1][0][:400] if q else "nothing queued")


def run(argv, input=None, timeout=60, shell=False):
    p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, shell=shell)
    return p.returncode, p.stdout.decode(errors="replace")


# -- python smtplib --
s = smtplib.SMTP("127.0.0.1", p587, timeout=10)
s.ehlo("client.example")
t.ok(s.has_extn("starttls") and not s.has_extn("auth"), "smtplib, port 587: STARTTLS offered, AUTH not yet")
s.starttls(context=ternlib.tls_ctx(inst.crt))
s.ehlo("client.example")
t.is_(s.esmtp_features.get("auth", "").split(), ["PLAIN", "LOGIN"], "after starttls(): AUTH PLAIN LOGIN")
t.is_(s.login("demo@example.test", "demo"), (235, b"2.7.0 Authentication successful"), "smtplib login(): 235")
t.is_(s.sendmail("demo@example.test", ["bob@example.test"], b"Subject: smtplib\r\n\r\nvia smtplib\r\n"), {}, "smtplib sendmail()")
s.quit()
got_one("smtplib", "via smtplib")
s = smtplib.SMTP_SSL("127.0.0.1", p465, timeout=10, context=ternlib.tls_ctx(inst.crt))
s.ehlo("client.example")
s.login("demo@example.test", "demo")
t.is_(s.sendmail("demo@example.test", ["bob@example.test"], b"Subject: 465\r\n\r\nvia smtplib 465\r\n"), {}, "smtplib SMTP_SSL on port 465: login and send")
s.quit()
got_one("smtplib 465", "via smtplib 465")
s = smtplib.SMTP("127.0.0.1", p587, timeout=10)
s.starttls(context=ternlib.tls_ctx())
try:
    s.login("demo@example.test", "nope")
    t.ok(False, "smtplib login with a wrong password fails")
except smtplib.SMTPAuthenticationError as e:
    t.is_(e.smtp_code, 535, "smtplib: a wrong password is SMTPAuthenticationError 535")
s.close()

# -- swaks --
if shutil.which("swaks"):
    for mode, port, auth in (("--tls", p587, "PLAIN"), ("--tls", p587, "LOGIN"), ("--tlsc", p465, "PLAIN"), ("--tlsc", p465, "LOGIN")):
        rc, out = run(["swaks", "--server", "127.0.0.1:%d" % port, mode, "--auth", auth, "--auth-user", "demo@example.test",
                       "--auth-password", "demo", "--from", "demo@example.test", "--to", "bob@example.test",
                       "--helo", "swaks.example", "--h-Subject", "swaks %s %s" % (mode, auth), "--body", "via swaks %s %s" % (mode, auth)])
        t.ok(rc == 0 and "235 2.7.0" in out and "250 2.0.0 Ok: queued" in out, "swaks %s --auth %s: authenticated and queued" % (mode, auth), out[-1500:])
        got_one("swaks %s %s" % (mode, auth), "via swaks %s %s" % (mode, auth))
    rc, out = run(["swaks", "--server", "127.0.0.1:%d" % p587, "--tls", "--auth", "PLAIN", "--auth-user", "demo@example.test",
                   "--auth-password", "demo", "--from", "bob@example.test", "--to", "bob@example.test"])
    t.ok(rc != 0 and "553 5.7.1 Sender address not owned by you" in out, "swaks with another user's address as sender: 553 5.7.1", out[-800:])
    rc, out = run(["swaks", "--server", "127.0.0.1:%d" % p587, "--auth", "PLAIN", "--auth-user", "demo@example.test",
                   "--auth-password", "demo", "--from", "demo@example.test", "--to", "bob@example.test"])
    t.ok(rc != 0 and "235" not in out, "swaks --auth without --tls: no AUTH (not offered in the clear)", out[-800:])
else:
    skip(10, "swaks not installed")

# -- curl --ssl-reqd --
if shutil.which("curl"):
    inst.write("curlmsg", "From: demo@example.test\r\nTo: bob@example.test\r\nSubject: curl\r\n\r\nvia curl\r\n")
    for url, opts, what in (("smtp://127.0.0.1:%d" % p587, ["--ssl-reqd"], "curl --ssl-reqd smtp:// (STARTTLS), AUTH PLAIN"),
                            ("smtp://127.0.0.1:%d" % p587, ["--ssl-reqd", "--login-options", "AUTH=LOGIN"], "curl --ssl-reqd smtp:// with AUTH=LOGIN"),
                            ("smtps://127.0.0.1:%d" % p465, [], "curl smtps:// (port 465)")):
        rc, out = run(["curl", "-sS", "--cacert", inst.crt, "--resolve", "mx.example.test:%s:127.0.0.1" % url.rsplit(":", 1)[1],
                       url.replace("127.0.0.1", "mx.example.test"), "--user", "demo@example.test:demo"] + opts +
                      ["--mail-from", "demo@example.test", "--mail-rcpt", "bob@example.test", "-T", inst.path("curlmsg")])
        t.is_(rc, 0, "%s, the certificate verified: exit 0 %s" % (what, out.strip()))
        got_one(what, "via curl")
    rc, out = run(["curl", "-sS", "--ssl-reqd", "-k", "smtp://127.0.0.1:%d" % p587, "--mail-from", "demo@example.test",
                   "--mail-rcpt", "bob@example.test", "-T", inst.path("curlmsg")])
    t.ok(rc != 0 and "530" in out, "curl without --user: MAIL refused with 530", out)
else:
    skip(7, "curl not installed")

# -- msmtp --
if shutil.which("msmtp"):
    rc_path = inst.path("msmtprc")
    inst.write("msmtprc", """defaults
auth on
user demo@example.test
password demo
from demo@example.test
tls on
tls_trust_file %s
tls_host_override mx.example.test
logfile %s

account starttls
host 127.0.0.1
port %d
tls_starttls on

account implicit
host 127.0.0.1
port %d
tls_starttls off

account clear
host 127.0.0.1
port %d
tls off
""" % (inst.crt, inst.path("msmtp.log"), p587, p465, p587), mode=0o600)
    for acct in ("starttls", "implicit"):
        rc, out = run(["msmtp", "-C", rc_path, "-a", acct, "bob@example.test"],
                      input=("Subject: msmtp %s\n\nvia msmtp %s\n" % (acct, acct)).encode())
        t.is_(rc, 0, "msmtp (account %s, port %d, the certificate checked): exit 0 %s" % (acct, p587 if acct == "starttls" else p465, out.strip()))
        got_one("msmtp " + acct, "via msmtp " + acct)
    rc, out = run(["msmtp", "-C", rc_path, "-a", "clear", "bob@example.test"], input=b"Subject: clear\n\nx\n")
    t.ok(rc != 0 and "does not support authentication" in out, "msmtp with tls off: refused, the server offers no AUTH in the clear", out)
else:
    skip(5, "msmtp not installed")

# -- openssl s_client --
script = "(sleep 1; printf 'EHLO s-client.example\\r\\n'; sleep 0.5; printf 'AUTH PLAIN %s\\r\\n'; sleep 1.5; printf 'QUIT\\r\\n'; sleep 0.5)" % PLAIN
for mode, cmd in (("-starttls smtp", "openssl s_client -connect 127.0.0.1:%d -starttls smtp -quiet -verify_quiet -CAfile %s" % (p587, inst.crt)),
                  ("implicit", "openssl s_client -connect 127.0.0.1:%d -quiet -verify_quiet -CAfile %s" % (p465, inst.crt))):
    rc, out = run(script + " | " + cmd, shell=True)
    t.ok("250-AUTH PLAIN LOGIN" in out and "235 2.7.0 Authentication successful" in out and "221 2.0.0" in out,
         "openssl s_client %s: EHLO offers AUTH, AUTH PLAIN 235, QUIT" % mode, out[-1500:])

# -- gnutls-cli --
if shutil.which("gnutls-cli"):
    for mode, opts, port in (("--starttls-proto=smtp", ["--starttls-proto=smtp"], p587), ("implicit", [], p465)):
        cmd = " ".join(["gnutls-cli", "--x509cafile", inst.crt, "--verify-hostname", "mx.example.test", "--crlf", "--logfile", "/dev/null",
                        "--port", str(port)] + opts + ["127.0.0.1"])
        rc, out = run(script.replace("\\r\\n", "\\n") + " | " + cmd, shell=True)
        t.ok("250-AUTH PLAIN LOGIN" in out and "235 2.7.0 Authentication successful" in out and "221 2.0.0" in out,
             "gnutls-cli %s: the certificate verified, AUTH PLAIN 235, QUIT" % mode, out[-1500:])
else:
    skip(2, "gnutls-cli not installed")

t.done()
