#!/usr/bin/python3
# smtp-recv -s after AUTH: the sender must be one of the user's addresses
# (its own, its +detail forms, an address whose alias leads to it; the
# null sender; any case), else 553 5.7.1, unless SUBMIT_ANY_SENDER=1;
# authenticated clients relay; MAIL's AUTH= parameter (RFC 4954 5) is
# accepted; the Received: line says ESMTPSA (RFC 3848); Date: and
# Message-ID: are added at the end of the header when missing (RFC 6409
# 8), and only then.
import base64
import os
import re
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib
import smtprecv

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("smtp-recv -s is the login monitor: it starts as root")
inst = ternlib.TlsInstance(t, users=(("demo@example.test", "demo"), ("bob@example.test", "bobpw"), ("carol@other.test", "carolpw")),
                           domains=("example.test", "other.test"),
                           aliases=("postmaster: demo@example.test", "root: postmaster", "info: bob@example.test, demo@example.test",
                                    "sales@other.test: info@example.test", "help@other.test: |/bin/cat, /var/mail/x, bob",
                                    "loop1: loop2", "loop2: loop1", "far: far1", "far1: far2", "far2: far3", "far3: far4",
                                    "far4: far5", "far5: far6", "far6: far7", "far7: far8", "far8: far9", "far9: far10",
                                    "far10: far11", "far11: demo@example.test"))
port = inst.submission()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def login(user="demo@example.test", pw="demo", p=None):
    c = smtprecv.Conn(p or port)
    c.cmd("EHLO client.example")
    c.cmd("STARTTLS")
    c.s = ternlib.tls_ctx().wrap_socket(c.s)
    c.cmd("EHLO client.example")
    r = c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (user, pw)))
    assert r.startswith("235"), r
    return c


def mail(c, sender):
    r = c.cmd("MAIL FROM:<%s>" % sender)
    if r.startswith("250"):
        c.cmd("RSET")
    return r


c = login()
OK, NO = "250 2.1.0 Ok", "553 5.7.1 Sender address not owned by you"
for sender, want, what in (("demo@example.test", OK, "the user's own address"),
                           ("Demo@EXAMPLE.Test", OK, "the same in another case"),
                           ("demo+lists@example.test", OK, "a +detail form"),
                           ("demo+@example.test", OK, "an empty +detail"),
                           ("", OK, "the null sender (notifications)"),
                           ("postmaster@example.test", OK, "an alias of the user (postmaster)"),
                           ("root@example.test", OK, "an alias of that alias (root: postmaster)"),
                           ("info@example.test", OK, "an alias with several targets, one of them the user"),
                           ("info+x@example.test", OK, "an alias's +detail form"),
                           ("sales@other.test", OK, "an alias in another local domain, through another alias"),
                           ("far@example.test", NO, "an alias 12 levels deep: beyond the 10 levels deliver follows too"),
                           ("loop1@example.test", NO, "an alias loop leads nowhere"),
                           ("help@other.test", NO, "an alias to a program, a file and bob: not the user"),
                           ("bob@example.test", NO, "another user's address"),
                           ("bob+demo@example.test", NO, "another user's +detail"),
                           ("demo@other.test", NO, "the user's local part in another local domain"),
                           ("demo@remote.example", NO, "a remote address"),
                           ("demox@example.test", NO, "a longer local part"),
                           ("carol@other.test", NO, "a user of another domain")):
    t.is_(mail(c, sender), want, "%s <%s>: %s" % (what, sender, want[:9]))
c.close()
t.like(inst.read("log/stderr"), r"smtp-recv: info: sender ip=127\.0\.0\.1 user=demo@example\.test from=<bob@example\.test> result=553",
       "a refused sender is logged with the user")
c = login("bob@example.test", "bobpw")
t.is_(mail(c, "info@example.test"), OK, "bob may use the alias info@ too")
t.is_(mail(c, "demo@example.test"), NO, "but not demo's address")
c.close()

# -- SUBMIT_ANY_SENDER=1 --
pany = inst.submission(env={"SUBMIT_ANY_SENDER": "1"})
c = login(p=pany)
t.is_(mail(c, "bob@example.test"), OK, "SUBMIT_ANY_SENDER=1: another user's address is accepted")
t.is_(mail(c, "anyone@remote.example"), OK, "SUBMIT_ANY_SENDER=1: any address")
c.close()
pbad = inst.submission(env={"SUBMIT_ANY_SENDER": "yes"})
c = smtprecv.Conn(pbad)
t.like(c.greeting, r"^421 4\.3\.5", "SUBMIT_ANY_SENDER=yes: 421 4.3.5 configuration error")
c.close()

# -- MAIL's AUTH= parameter (RFC 4954 5): accepted, the session's login is what counts --
c = login()
t.is_(c.cmd("MAIL FROM:<demo@example.test> AUTH=<>"), OK, "MAIL ... AUTH=<>: 250")
c.cmd("RSET")
t.is_(c.cmd("MAIL FROM:<demo@example.test> AUTH=bob+40example.test"), OK, "MAIL ... AUTH=xtext: 250 (and ignored)")
c.cmd("RSET")
t.like(c.cmd("MAIL FROM:<demo@example.test> AUTH=<> AUTH=<>"), r"^501 5\.5\.4", "AUTH= twice: 501 5.5.4")
t.like(c.cmd("MAIL FROM:<demo@example.test> AUTH=a b"), r"^5", "AUTH= with a space: refused")
t.like(c.cmd("MAIL FROM:<bob@example.test> AUTH=bob@example.test"), r"^553 5\.7\.1", "AUTH= does not change whose addresses are allowed")

# -- relaying: authenticated clients may --
t.like(c.cmd("MAIL FROM:<demo@example.test>"), r"^250", "MAIL")
t.is_(c.cmd("RCPT TO:<friend@remote.example>"), "250 2.1.5 Ok", "RCPT to a remote domain after AUTH: 250 (relaying)")
t.is_(c.cmd("RCPT TO:<nobody@example.test>"), "550 5.1.1 No such user here", "an unknown local user is still refused at RCPT")
t.is_(c.cmd("RCPT TO:<bob@example.test>"), "250 2.1.5 Ok", "a local user")
t.like(c.cmd("DATA"), r"^354", "DATA")
t.like(c.cmd("Subject: relayed\r\n\r\nhello\r\n."), r"^250 2\.0\.0", "queued")
c.close()
msg, env = inst.queued()[-1]
t.is_(env, b"Fdemo@example.test\0Tfriend@remote.example\0Tbob@example.test\0\0", "the envelope: the user's sender, both recipients")
m = re.match(rb"Received: from client\.example \(\[127\.0\.0\.1\]\)\n\tby mx\.example\.test \(tern\) with ESMTPSA \(TLSv1\.2 [A-Z0-9-]+\);\n\t[^\n]+\n", msg)
t.ok(m, "Received: ... with ESMTPSA (TLSv1.2 cipher) (RFC 3848)", msg[:300])
hdr, _, body = msg.partition(b"\n\n")
t.ok(re.search(rb"\nSubject: relayed\nDate: [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\nMessage-ID: <[^@\s>]+@mx\.example\.test>$", hdr),
     "Date: and Message-ID: added at the end of the header (RFC 6409 8)", hdr)
t.is_(body, b"hello\n", "the body untouched")


def send(data, bdat=False):
    c = login()
    c.cmd("MAIL FROM:<demo@example.test>")
    c.cmd("RCPT TO:<bob@example.test>")
    if bdat:
        c.send(b"BDAT %d LAST\r\n" % len(data) + data)
        r = c.reply()
    else:
        c.cmd("DATA")
        r = c.cmd(data.decode() + ".")
    c.close()
    assert r.startswith("250"), r
    m = inst.queued()[-1][0]
    return m[m.index(b"\n", m.index(b";\n\t") + 3) + 1:]   # after the Received: line


t.is_(send(b"Subject: s\r\nDATE: Mon, 1 Jan 2024 00:00:00 +0000\r\nmessage-id: <x@y>\r\n\r\nbody\r\n"),
      b"Subject: s\nDATE: Mon, 1 Jan 2024 00:00:00 +0000\nmessage-id: <x@y>\n\nbody\n", "a message with both (in any case): unchanged")
got = send(b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: folded\r\n  continued\r\n\r\nbody\r\n")
t.like(got.decode(), r"^Date: Mon, 1 Jan 2024 00:00:00 \+0000\nSubject: folded\n  continued\nMessage-ID: <[^>]+@mx\.example\.test>\n\nbody\n$",
       "only Message-ID: missing: added after the folded field, before the empty line")
got = send(b"Message-ID: <a@b>\r\nX-Long-Header-Name-Without-Colon body line\r\nmore\r\n")
t.like(got.decode(), r"^Message-ID: <a@b>\nDate: [^\n]+\n\nX-Long-Header-Name-Without-Colon body line\nmore\n$",
       "a header ended by a line that is no field: Date: goes there, with the empty line the body lacked")
got = send(b"just a body, no header\r\n")
t.like(got.decode(), r"^Date: [^\n]+\nMessage-ID: <[^>]+>\n\njust a body, no header\n$", "a message without a header: both, then an empty line")
got = send(b"Subject : obsolete\r\nFrom: demo@example.test\r\n")
t.like(got.decode(), r"^Subject : obsolete\nFrom: demo@example\.test\nDate: [^\n]+\nMessage-ID: <[^>]+>\n$",
       "a header without a body (blanks before a colon still make a field): the fields at its end")
got = send(b"Subject: chunked\r\n\r\nbody\r\n", bdat=True)
t.like(got.decode(), r"^Subject: chunked\nDate: [^\n]+\nMessage-ID: <[^>]+>\n\nbody\n$", "BDAT too")
got = send(b"Subject: dots\r\n\r\n..Date: not a header\r\n")
t.like(got.decode(), r"^Subject: dots\nDate: [^\n]+\nMessage-ID: <[^>]+>\n\n\.Date: not a header\n$", "a Date: in the body does not count")

# -- port 25 adds nothing --
env25 = inst.tls_env()
env25.update({"QUEUE": smtprecv.FAKEQ, "FAKEQ_DIR": inst.qdir})
p25 = ternlib.tlsd_server(inst, ["-u"], [os.path.join(ternlib.BUILD, "smtp-recv")], env=env25)
c = smtprecv.Conn(p25)
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
c.cmd("DATA")
c.cmd("Subject: relay in\r\n\r\nx\r\n.")
c.close()
m = inst.queued()[-1][0]
t.ok(b"Date:" not in m and b"Message-ID:" not in m and b"with ESMTP\n" in m, "port 25 (no -s) adds no Date: or Message-ID:, and says ESMTP", m)

t.done()
