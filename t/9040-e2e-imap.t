#!/usr/bin/python3
# 9040: IMAP end to end on the demo stack (bin/tern-up; as root every
# service under its own uid). Mail sent over SMTP to demo@example.test is
# read over IMAP with STARTTLS (RFC 9051 6.2.1) and over IMAPS (RFC 8314),
# the certificate checked against the stack's own; deliver puts the new
# message into the folder's uidlist and index itself (DESIGN.md, "The
# mailbox store"), so that SELECT finds it with UIDNEXT advanced; an IDLE
# session (RFC 2177) hears of a delivery; the processes of a session and
# their uids; curl lists INBOX and fetches a message; the special-use
# folders (RFC 6154) are there for the demo user.

import imaplib
import os
import pwd
import re
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
st = ternlib.ImapStack(t)
root = ternlib.is_root()
ca = st.cafile()
ctx = ternlib.tls_ctx(ca)          # the stack's self-signed certificate as the only trust anchor
BOX = "example.test/demo"
maildir = st.path("mail", BOX)
with open(st.path("etc", "me")) as f:
    me = f.readline().strip()


def send(subject, body):
    s = smtplib.SMTP("127.0.0.1", st.smtp_port, timeout=30)
    s.sendmail("someone@remote.test", ["demo@example.test"],
               ("From: someone@remote.test\r\nTo: demo@example.test\r\nSubject: %s\r\n\r\n%s\r\n" % (subject, body)).encode())
    s.quit()


def code(m, name):
    """A response code's value from imaplib's untagged responses (UIDNEXT...)."""
    typ, data = m.response(name)
    return int(data[0]) if data and data[0] else None


def imaps_conn():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", st.imaps_port), timeout=30))
    return ternlib.ImapConn(None, sock=s)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def prog(pid):
    a = cmdline(pid)
    return os.path.basename(a[0].decode(errors="replace")) if a and a[0] else None


def wait_for(fn, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        r = fn()
        if r:
            return r
        time.sleep(0.05)
    return fn()


def uidlist():
    try:
        with open(os.path.join(maildir, "tern-uidlist")) as f:
            return f.read().splitlines()
    except OSError:
        return []


# ---------------------------------------------------------------- the services
for svc in ("imap", "imaps"):
    p = st.path("service", svc, "run")
    run = open(p).read() if os.path.exists(p) else ""
    t.ok("imap-login" in run and "pwcheck" in run and "imap-serve" in run and "tlsd" in run,
         "tern-setup made the %s service: tcpserver, tlsd, imap-login pwcheck imap-serve" % svc)

# tern-setup's "mailuser add demo@example.test" made the Maildir with its
# special-use folders (DESIGN.md: at the first login, and by mailuser add)
made = [n for n in ("cur", "new", "tmp", ".Drafts", ".Sent", ".Trash", ".Junk", ".Archive") if os.path.isdir(os.path.join(maildir, n))]
t.is_(made, ["cur", "new", "tmp", ".Drafts", ".Sent", ".Trash", ".Junk", ".Archive"],
      "before any mail or login: mailuser add made the demo's Maildir and its special-use folders") or \
    t.diag("\n".join(l for l in st.output().splitlines() if l.startswith("mailuser")))

# ---------------------------------------------------------------- SMTP in, IMAP with STARTTLS out
send("over imap", "hello through the stack")
got = st.wait_mail(BOX, 1)
t.is_(len(got), 1, "an SMTP message to demo@example.test is delivered into the Maildir")

m = imaplib.IMAP4("127.0.0.1", st.imap_port, timeout=30)
t.ok("STARTTLS" in m.capabilities, "the imap port offers STARTTLS", m.capabilities)
try:
    m.starttls(ssl_context=ctx)
    verified = True
except Exception as e:
    verified = False
    t.diag("starttls: %r" % e)
t.ok(verified, "STARTTLS: the certificate verifies against etc/tls/cert.pem")
cert = m.sock.getpeercert() if verified else {}
t.ok(("DNS", me) in cert.get("subjectAltName", ()), "for etc/me's name (%s)" % me, cert)
t.ok("AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities, "over TLS: AUTH=PLAIN, STARTTLS no more", m.capabilities)
typ, data = m.login("demo@example.test", "demo")
t.is_(typ, "OK", "LOGIN over STARTTLS (pwcheck, then imap-serve)")
typ, data = m.select("INBOX")
t.is_((typ, data), ("OK", [b"1"]), "SELECT INBOX: 1 message")
uidnext1 = code(m, "UIDNEXT")
t.ok(uidnext1 is not None and uidnext1 >= 2, "UIDNEXT %s" % uidnext1)
typ, data = m.fetch("1", "(UID BODY.PEEK[])")
body = data[0][1] if typ == "OK" and data and isinstance(data[0], tuple) else b""
t.ok(b"Subject: over imap\r\n" in body and body.endswith(b"\r\n\r\nhello through the stack\r\n"),
     "FETCH 1 BODY[]: the message as sent, CRLF line ends", body[-200:])
t.like(body.decode(errors="replace"), r"\r\nReceived: from [^\r]*\r\n\tby %s \(tern\) with ESMTP" % re.escape(me), "with the Received: line the stack added")
m.logout()

# ---------------------------------------------------------------- IMAPS
m = imaplib.IMAP4_SSL("127.0.0.1", st.imaps_port, ssl_context=ctx, timeout=30)
t.ok("AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities, "IMAPS (TLS from the first byte): AUTH=PLAIN, no STARTTLS")
typ, data = m.login("demo@example.test", "demo")
t.is_(typ, "OK", "LOGIN over IMAPS")
typ, data = m.select("INBOX")
t.is_((typ, data), ("OK", [b"1"]), "the same message there")
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
t.ok(typ == "OK" and b"Subject: over imap" in data[0][1], "FETCH over IMAPS")
t.is_(code(m, "UIDNEXT"), uidnext1, "UIDNEXT unchanged while nothing came")
m.logout()

# ---------------------------------------------------------------- deliver updates the uidlist and the index
before = set(uidlist()[1:])
send("second", "two")
st.wait_mail(BOX, 1, sub="new")
new = st.maildir_files(BOX, "new")
t.is_(len(new), 1, "a second message delivered into new/ (the first was seen, it is in cur/)")
uniq = os.path.basename(new[0]).split(":")[0] if new else "?"
# deliver links the file into new/ first, then adds it to the uidlist
# and the index: wait for the delivery to end (the queue to be empty),
# not for the file
st.wait_queue_empty()
lines = uidlist()
added = [l for l in lines[1:] if l not in before]
t.is_(added, ["%d %s" % (uidnext1, uniq)], "deliver appended 'UID name' to tern-uidlist with UID %d, before any session saw it" % uidnext1)
t.like(lines[0] if lines else "", r"^tern-uidlist 1 \d+ \d+$", "the uidlist keeps its header (append-only)")
r = st.run(["mailbox-check", "-n", maildir])
out = r.stdout.decode(errors="replace")
t.ok(r.returncode == 0 and re.search(r"^INBOX: ok$", out, re.M), "mailbox-check -n (the index as it is): INBOX ok, deliver added the message's entry", out + r.stderr.decode(errors="replace"))
buildlines = st.log("imap").count("building the index") + st.log("imaps").count("building the index")
m = imaplib.IMAP4_SSL("127.0.0.1", st.imaps_port, ssl_context=ctx, timeout=30)
m.login("demo@example.test", "demo")
typ, data = m.select("INBOX")
t.is_((typ, data), ("OK", [b"2"]), "SELECT: 2 messages")
t.is_(code(m, "UIDNEXT"), uidnext1 + 1, "UIDNEXT advanced by one")
typ, data = m.fetch("2", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
t.ok(typ == "OK" and re.search(rb"UID %d\b" % uidnext1, data[0][0]) and b"Subject: second" in data[0][1],
     "message 2 is the new one, with UID %d" % uidnext1, data)
m.logout()
time.sleep(0.3)
t.is_(st.log("imap").count("building the index") + st.log("imaps").count("building the index"), buildlines,
      "the session did not rebuild the index for it")

# ---------------------------------------------------------------- IDLE hears of a delivery
c = imaps_conn()
c.cmd("LOGIN demo@example.test demo")
unt, tag = c.cmd("SELECT INBOX")
t.ok("* 2 EXISTS" in unt and " OK " in tag, "IMAPS session: SELECT INBOX, 2 EXISTS")
c.send("i1 IDLE\r\n")
t.like(c.line().decode(), r"^\+ ", "IDLE: '+'")
send("third", "three")
c.s.settimeout(2)
end = time.time() + 20
heard = []
while time.time() < end and "* 3 EXISTS" not in heard:
    try:
        heard.append(c.line().decode(errors="replace"))
    except socket.timeout:
        pass
    except (EOFError, OSError):
        break
t.ok("* 3 EXISTS" in heard, "an SMTP delivery during IDLE: * 3 EXISTS comes (within 20 s)", heard)
c.s.settimeout(30)
c.send("DONE\r\n")
unt, tag = c.until("i1")
t.like(tag, r"^i1 OK", "DONE: i1 OK")

# ---------------------------------------------------------------- who runs what
if not root:
    t.ok(True, "# SKIP the uid checks need root")
else:
    ids = {n: pwd.getpwnam(n).pw_uid for n in ("ternmail", "ternlogin", "terntls")}

    def monitors():
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            a = cmdline(int(d))
            if a and a[0] == st.path("libexec", "imap-login").encode() and ternlib.proc_uids(int(d)) == [0, 0, 0, 0]:
                out.append(int(d))
        return out

    # the IDLE session above is still logged in; and one more, not yet logged in
    pre = imaps_conn()
    mons = wait_for(lambda: (lambda x: x if len(x) == 2 else None)(monitors()))
    t.is_(len(mons or []), 2, "two IMAPS connections: two monitors (imap-login as root)")
    kids = {mon: {prog(k): k for k in ternlib.proc_children(mon)} for mon in mons or []}
    logged = [mon for mon in kids if "imap-serve" in kids[mon]]
    notyet = [mon for mon in kids if "imap-serve" not in kids[mon]]
    t.ok(len(logged) == 1 and len(notyet) == 1, "one with imap-serve, one without", kids)
    if logged and notyet:
        a, b = kids[logged[0]], kids[notyet[0]]
        t.is_(ternlib.proc_uids(a["imap-serve"]), [ids["ternmail"]] * 4, "imap-serve runs as ternmail, the owner of the mailboxes")
        t.ok("imap-login" not in a, "the pre-auth child is gone after the login", a)
        t.is_(ternlib.proc_uids(a.get("tlsd", 0)) if a.get("tlsd") else None, [ids["terntls"]] * 4, "the session's TLS engine (tlsd) is terntls")
        t.is_(ternlib.proc_uids(b["imap-login"]) if b.get("imap-login") else None, [ids["ternlogin"]] * 4,
              "before the login: the pre-auth child is ternlogin")
        t.is_(ternlib.proc_uids(b["tlsd"]) if b.get("tlsd") else None, [ids["terntls"]] * 4, "and its TLS engine terntls")
        cwd = os.readlink("/proc/%d/cwd" % a["imap-serve"]) if a.get("imap-serve") else ""
        t.ok(cwd == maildir or cwd.startswith(st.root), "imap-serve works in the stack's mail/ (%s)" % cwd)
    pre.cmd("LOGOUT")
    pre.close()
c.cmd("LOGOUT")
c.close()

# ---------------------------------------------------------------- curl
resolve = ["--resolve", "%s:%d:127.0.0.1" % (me, st.imaps_port), "--resolve", "%s:%d:127.0.0.1" % (me, st.imap_port)]


def curl(url, *extra):
    r = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", ca] + resolve + ["-u", "demo@example.test:demo"] + list(extra) + [url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


rc, out, err = curl("imaps://%s:%d/" % (me, st.imaps_port))
t.ok(rc == 0 and re.search(r'^\* LIST \([^)]*\) "\." "?INBOX"?\r?$', out, re.M), "curl imaps:// (certificate and name checked): LIST shows INBOX", out + err)
rc, out, err = curl("imaps://%s:%d/INBOX;MAILINDEX=1" % (me, st.imaps_port))
t.ok(rc == 0 and "Subject: over imap" in out and "hello through the stack" in out, "curl fetches message 1 of INBOX", out[-300:] + err)
rc, out, err = curl("imap://%s:%d/INBOX;MAILINDEX=2" % (me, st.imap_port), "--ssl-reqd")
t.ok(rc == 0 and "Subject: second" in out, "curl imap:// --ssl-reqd (STARTTLS) fetches message 2", out[-300:] + err)

# ---------------------------------------------------------------- the special-use folders (RFC 6154)
m = imaplib.IMAP4_SSL("127.0.0.1", st.imaps_port, ssl_context=ctx, timeout=30)
m.login("demo@example.test", "demo")
typ, data = m.list('""', '"*" RETURN (SPECIAL-USE)')
lst = [x.decode(errors="replace") for x in data if x]
uses = {}
for l in lst:
    mm = re.match(r'^\(([^)]*)\) "\." "?([^"]*)"?$', l)
    if mm:
        for flag in mm.group(1).split():
            if flag in ("\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\Archive"):
                uses[flag] = mm.group(2)
t.is_(uses, {"\\Drafts": "Drafts", "\\Sent": "Sent", "\\Trash": "Trash", "\\Junk": "Junk", "\\Archive": "Archive"},
      "LIST RETURN (SPECIAL-USE): Drafts, Sent, Trash, Junk, Archive with their uses", ) or t.diag(lst)
t.ok(all(os.path.isdir(os.path.join(maildir, "." + n, "cur")) for n in ("Drafts", "Sent", "Trash", "Junk", "Archive")),
     "each a Maildir++ folder (.Name) on disk")
typ, data = m.status("Sent", "(MESSAGES UIDNEXT)")
t.ok(typ == "OK" and re.search(rb"MESSAGES 0", data[0]), "STATUS Sent: empty", data)
m.logout()
if root:
    st_ = os.stat(os.path.join(maildir, ".Sent"))
    t.is_(st_.st_uid, pwd.getpwnam("ternmail").pw_uid, "the folders are ternmail's, not root's")

# ---------------------------------------------------------------- the check above can fail
# a message put into new/ behind the store's back is not in the index: mailbox-check -n says so
p = os.path.join(maildir, "new", "1700000000.M1P1Q1.behindtheback")
with open(p, "w") as f:
    f.write("Subject: sneaky\n\nx\n")
if root:
    os.chown(p, pwd.getpwnam("ternmail").pw_uid, pwd.getpwnam("ternmail").pw_gid)
r = st.run(["mailbox-check", "-n", maildir])
t.ok(r.returncode != 0, "control: mailbox-check -n tells when a message is missing from the index", r.stdout.decode(errors="replace"))

t.done()
