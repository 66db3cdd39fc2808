#!/usr/bin/python3
# 9030: submission and POP3 over TLS on the demo stack (bin/tern-up):
# tern-setup made the submission (STARTTLS), smtps and pop3s services and
# queue-submit, whose socket admits ternsub only; the POP3 port offers
# STLS and, as the demo's etc/pop3 says, plain-text logins on loopback.
# Mail sent with msmtp through submission and with swaks through smtps
# is delivered with "ESMTPSA" and a Date: and Message-ID: added; the
# session ran as ternsub (not ternlogin, the POP3 pre-auth children's
# uid) and its queue hop crossed queue-submit; it is
# read back with fetchmail over POP3S and curl over STLS.
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
# connection limits of the TLS services (tern-config(5), etc/env/)
stack = ternlib.TlsStack(t, envdir={"SUBMIT_MAXCONN": 5, "POP3_MAXCONN": 7})
root = ternlib.is_root()
for svc, want in (("submission", "tcpserver [^\n]*-c 5 "), ("smtps", "tcpserver [^\n]*-c 5 "),
                  ("queue-submit", "s6-ipcserver -c 20 -C 20 "), ("pop3", "tcpserver [^\n]*-c 7 "),
                  ("pop3s", "tcpserver [^\n]*-c 7 ")):
    t.like(open(stack.path("service", svc, "run")).read(), want,
           "%s: the limit of etc/env/ (SUBMIT_MAXCONN=5, POP3_MAXCONN=7) in its run script" % svc)
crt = stack.cafile()
work = stack.path("work")
os.makedirs(work)
r = stack.run(["mailuser", "add", "bob@example.test"], input="bobpw\n")
t.is_(r.returncode, 0, "mailuser add bob@example.test")


def skip(n, why):
    for _ in range(n):
        t.ok(True, "# SKIP " + why)


def run(argv, input=None, env=None, timeout=60):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(argv, input=input, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


# -- what tern-setup made --
for s in ("submission", "smtps", "pop3s", "queue-submit"):
    t.ok(os.path.exists(stack.path("service", s, "run")), "tern-setup made the %s service" % s)
sub = open(stack.path("service", "submission", "run")).read()
t.ok(re.search(r"tlsd -u \S+/smtp-recv -s \S+/pwcheck", sub) and " %d" % stack.submission_port in sub and "sock/queue-submit" in sub,
     "submission: tcpserver ... tlsd -u smtp-recv -s pwcheck, queueing on sock/queue-submit")
smtps = open(stack.path("service", "smtps", "run")).read()
t.ok(re.search(r"/tlsd \S+/smtp-recv -s \S+/pwcheck", smtps) and " %d" % stack.smtps_port in smtps, "smtps: tlsd (implicit) smtp-recv -s pwcheck")
pop3s = open(stack.path("service", "pop3s", "run")).read()
t.ok(re.search(r"/tlsd \S+/pop3-login \S+/pwcheck \S+/pop3-serve", pop3s) and "etc/pop3.cdb" in pop3s, "pop3s: tlsd pop3-login pwcheck pop3-serve, etc/pop3.cdb")
pop3 = open(stack.path("service", "pop3", "run")).read()
t.ok('tls="@' not in pop3 and "tlsd -u" in pop3 and "etc/pop3.cdb" in pop3, "pop3: behind tlsd -u for STLS, etc/pop3.cdb")
if root:
    login, ternsub = pwd.getpwnam("ternlogin"), pwd.getpwnam("ternsub")
    t.ok(ternsub.pw_uid != login.pw_uid and ternsub.pw_gid != login.pw_gid, "tern-setup made ternsub, a uid and group of their own")
    for name, text in (("submission", sub), ("smtps", smtps)):
        t.ok("TERN_LOGIN_UID=%d TERN_LOGIN_GID=%d" % (ternsub.pw_uid, ternsub.pw_gid) in text
             and "TLS_UID=%d" % pwd.getpwnam("terntls").pw_uid in text,
             "the %s run script names ternsub's and terntls's ids" % name)
    t.ok("TERN_LOGIN_UID=%d " % login.pw_uid in pop3 and "TERN_LOGIN_UID=%d " % login.pw_uid in pop3s,
         "the pop3 and pop3s run scripts keep ternlogin's")
    t.is_(os.listdir(stack.path("etc", "access", "queue-submit", "uid")), [str(ternsub.pw_uid)], "sock/queue-submit admits ternsub only")
else:
    skip(5, "not root")
t.like(open(stack.path("etc", "pop3")).read(), r'(?m)^127\.:allow,POP3_PLAINTEXT="1"$', "the demo's etc/pop3: plain-text logins for loopback")
out = stack.output()
t.ok(all(("127.0.0.1:%d" % p) in out for p in (stack.submission_port, stack.smtps_port, stack.pop3s_port)),
     "tern-up prints the submission, smtps and pop3s ports", out)

# -- msmtp through submission (587, STARTTLS), demo to demo --
if shutil.which("msmtp"):
    rc_path = os.path.join(work, "msmtprc")
    # msmtp would add Date: and Message-ID: itself: off, to see submission add them
    with open(rc_path, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\ntls on\ntls_starttls on\ntls_trust_file %s\n"
                "tls_host_override %s\nauth on\nuser demo@example.test\npassword demo\nfrom demo@example.test\n"
                "set_from_header off\nset_date_header off\nset_msgid_header off\n"
                % (stack.submission_port, crt, open(stack.path("etc", "me")).readline().strip()))
    os.chmod(rc_path, 0o600)
    rc, o = run(["msmtp", "-C", rc_path, "demo@example.test"], input=b"To: demo@example.test\nSubject: via msmtp\n\nsubmitted\n")
    t.is_(rc, 0, "msmtp through submission, the certificate verified: exit 0 %s" % o.strip())
    got = stack.wait_mail("example.test/demo", 1)
    m = got[0].decode(errors="replace") if got else ""
    t.ok("with ESMTPSA (TLSv1.2 " in m and "\nSubject: via msmtp\n" in m, "delivered, Received: ... with ESMTPSA", m)
    t.ok(re.search(r"\nDate: [^\n]+\nMessage-ID: <[^>\n]+>\n\nsubmitted\n$", m), "with Date: and Message-ID: added by submission", m)
else:
    skip(3, "msmtp not installed")

# -- swaks through smtps (465), demo to bob --
if shutil.which("swaks"):
    rc, o = run(["swaks", "--server", "127.0.0.1:%d" % stack.smtps_port, "--tlsc", "--auth", "LOGIN", "--auth-user", "demo@example.test",
                 "--auth-password", "demo", "--from", "demo+swaks@example.test", "--to", "bob@example.test", "--h-Subject", "via smtps"])
    t.ok(rc == 0 and "235 2.7.0" in o, "swaks --tlsc --auth LOGIN through smtps: accepted", o[-1500:])
    got = stack.wait_mail("example.test/bob", 1)
    t.ok(got and b"Subject: via smtps" in got[0] and b"Return-Path: <demo+swaks@example.test>" in got[0], "delivered to bob, the sender a +detail of demo's")
    rc, o = run(["swaks", "--server", "127.0.0.1:%d" % stack.submission_port, "--tls", "--auth", "PLAIN", "--auth-user", "demo@example.test",
                 "--auth-password", "demo", "--from", "bob@example.test", "--to", "bob@example.test"])
    t.ok(rc != 0 and "553 5.7.1" in o, "demo sending as bob: 553 5.7.1", o[-800:])
    rc, o = run(["swaks", "--server", "127.0.0.1:%d" % stack.submission_port, "--auth", "PLAIN", "--auth-user", "demo@example.test",
                 "--auth-password", "demo", "--from", "demo@example.test", "--to", "bob@example.test"])
    t.ok(rc != 0 and "235" not in o, "no AUTH on submission before TLS", o[-800:])
else:
    skip(4, "swaks not installed")

# -- who ran the submission session, and the queue hop it took --
if root:
    import socket
    s = smtplib.SMTP("127.0.0.1", stack.submission_port, timeout=30)
    s.starttls(context=ternlib.tls_ctx())
    s.ehlo("client.test")
    procs = []
    for pid in (int(x) for x in os.listdir("/proc") if x.isdigit()):
        try:
            if ternlib.proc_comm(pid) == "smtp-recv" and stack.root in open("/proc/%d/cmdline" % pid).read():
                procs.append((ternlib.proc_uids(pid)[0], pid))
        except OSError:
            pass
    uids = sorted(u for u, _ in procs)
    t.is_(uids, [0, pwd.getpwnam("ternsub").pw_uid], "this session: the monitor as root, the SMTP session as ternsub")
    s.quit()
    t.like(stack.log("queue-submit"), r"s6-ipcserver-access: info: allow pid \d+ uid %d" % pwd.getpwnam("ternsub").pw_uid,
           "the messages crossed sock/queue-submit from ternsub")
else:
    skip(2, "not root")
t.like(stack.log("submission"), r"smtp-recv: info: auth ip=127\.0\.0\.1 mech=PLAIN user=demo@example\.test result=ok", "log/submission has the login")

# -- reading: fetchmail over POP3S, curl over STLS, plain-text on loopback (the demo's rules) --
if shutil.which("fetchmail"):
    outf = os.path.join(work, "fetched")
    rcfile = os.path.join(work, "fetchmailrc")
    with open(rcfile, "w") as f:
        f.write('set no syslog\npoll 127.0.0.1 service %d protocol pop3 uidl auth password\n'
                '  user "bob@example.test" there with password "bobpw"\n'
                '  ssl sslcertck sslcertfile "%s" sslcommonname "%s" no keep fetchall\n'
                '  mda "/bin/sh -c \'cat >> %s\'"\n' % (stack.pop3s_port, crt, open(stack.path("etc", "me")).readline().strip(), outf))
    os.chmod(rcfile, 0o600)
    rc, o = run(["fetchmail", "-f", rcfile, "--nodetach"], env={"HOME": work, "FETCHMAILHOME": work})
    t.ok(rc == 0 and os.path.exists(outf) and "Subject: via smtps" in open(outf).read(), "fetchmail over POP3S, the certificate checked: bob's message", o[-1500:])
else:
    skip(1, "fetchmail not installed")
if shutil.which("curl"):
    rc, o = run(["curl", "-sS", "-k", "--ssl-reqd", "-u", "demo@example.test:demo", "pop3://127.0.0.1:%d/1" % stack.pop3_port])
    t.ok(rc == 0 and "Subject: via msmtp" in o, "curl --ssl-reqd pop3:// (STLS on the POP3 port): demo's message", o[-800:])
else:
    skip(1, "curl not installed")
import poplib
p = poplib.POP3("127.0.0.1", stack.pop3_port, timeout=30)
caps = p.capa()
t.ok("STLS" in caps and "USER" in caps, "the POP3 port: STLS, and USER on loopback (etc/pop3)", caps)
p.user("demo@example.test")
t.like(p.pass_("demo").decode(), r"^\+OK Logged in", "a plain-text login from loopback works in the demo")
p.quit()

t.done()
