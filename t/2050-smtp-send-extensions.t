#!/usr/bin/python3
# smtp-send and the server's extensions: SIZE (RFC 1870), 8BITMIME (RFC 6152,
# with the quoted-printable downgrade of RFC 6152 3 when it is not offered),
# DSN (RFC 3461), SMTPUTF8 (RFC 6531): parameters sent only when offered.
import email
import email.policy
import os
import re
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript

t = ternlib.TAP()
cl = smtpscript.Client(t)


def send(srv, rcpts=("bob@x.test",), body=b"Subject: t\n\nhello\n", opts=(), sender="a@b.test"):
    return cl.send(["-f", sender] + list(opts) + ["-H", "127.0.0.1:%d" % srv.port, "--"] + list(rcpts), body=body)


def mail_cmd(srv):
    return [c for c in srv.session().commands() if c.startswith("MAIL")][0]


# -- SIZE --
body = b"Subject: size\n\n" + b"x" * 499 + b"\n"   # 518 octets with CRLF
srv = smtpscript.Server(t, ext=["SIZE 100"])
code, out, err = send(srv, rcpts=("bob@x.test", "carol@x.test"), body=body)
t.is_((code, out), (0, ["fail %s 5.3.4 message size 518 exceeds the limit of 100 octets of 127.0.0.1 [127.0.0.1]:%d" % (r, srv.port)
                        for r in ("bob@x.test", "carol@x.test")]),
      "SIZE 100, a 518-octet message: every recipient fails 5.3.4")
t.is_(srv.session().commands(), ["EHLO client.test", "QUIT"], "without sending anything")
srv = smtpscript.Server(t, ext=["SIZE 518"])
code, out, err = send(srv, body=body)
t.is_((code, mail_cmd(srv)), (0, "MAIL FROM:<a@b.test> SIZE=518"), "SIZE 518, a 518-octet message: sent, SIZE=518")
srv = smtpscript.Server(t, ext=["SIZE"])
code, out, err = send(srv, body=body)
t.is_(mail_cmd(srv), "MAIL FROM:<a@b.test> SIZE=518", "SIZE without a limit: SIZE= given")
srv = smtpscript.Server(t, ext=[])
code, out, err = send(srv, body=body)
t.is_(mail_cmd(srv), "MAIL FROM:<a@b.test>", "no SIZE extension: no SIZE parameter")

# -- 8BITMIME offered --
mime8 = ("MIME-Version: 1.0\n"
         "Subject: =?utf-8?q?caf=C3=A9?=\n"
         "Content-Type: multipart/mixed; boundary=\"XX\"\n"
         "\n"
         "--XX\n"
         "Content-Type: text/plain; charset=utf-8\n"
         "Content-Transfer-Encoding: 8bit\n"
         "\n"
         "Caf\u00e9 cr\u00e8me, na\u00efve = ok \n"
         ".a line with a leading dot and \u00fcml\u00e4uts\n"
         + "long \u00e9" * 40 + "\n"
         "--XX\n"
         "Content-Type: application/octet-stream\n"
         "Content-Transfer-Encoding: base64\n"
         "\n"
         "AAECAwQF\n"
         "--XX\n"
         "Content-Type: message/rfc822\n"
         "\n"
         "Subject: inner\n"
         "Content-Type: text/plain; charset=iso-8859-1\n"
         "\n").encode() + b"inner \xe9t\xe9\n" + b"--XX--\n"
srv = smtpscript.Server(t, ext=["8BITMIME", "SIZE"])
code, out, err = send(srv, body=mime8, opts=["-o", "BODY=8BITMIME"])
t.is_(mail_cmd(srv), "MAIL FROM:<a@b.test> SIZE=%d BODY=8BITMIME" % (len(mime8) + mime8.count(b"\n")),
      "8BITMIME offered, an 8-bit message: BODY=8BITMIME")
t.is_(smtpscript.unstuff(srv.session().data), mime8.replace(b"\n", b"\r\n"), "sent as it is")
srv = smtpscript.Server(t, ext=["8BITMIME"])
code, out, err = send(srv, opts=["-o", "BODY=8BITMIME"])
t.is_(mail_cmd(srv), "MAIL FROM:<a@b.test>", "a 7-bit message: no BODY parameter (-o BODY= is not copied blindly)")

# -- 8BITMIME not offered: the downgrade --
srv = smtpscript.Server(t, ext=["SIZE"])
code, out, err = send(srv, body=mime8, opts=["-o", "BODY=8BITMIME"])
s = srv.session()
t.is_(code, 0, "no 8BITMIME: exit 0")
t.ok("BODY=" not in mail_cmd(srv), "no BODY parameter", mail_cmd(srv))
t.ok(all(b < 128 for b in s.data), "every octet on the wire is 7-bit")
t.ok(all(len(l) <= 998 for l in s.data.split(b"\r\n")), "no line over 998 octets")
m = re.search(r"SIZE=(\d+)", mail_cmd(srv))
t.is_(int(m.group(1)), len(s.message), "SIZE= is the size after the downgrade")
orig = email.message_from_bytes(mime8, policy=email.policy.compat32)
got = email.message_from_bytes(s.message.replace(b"\r\n", b"\n"), policy=email.policy.compat32)
op, gp = list(orig.walk()), list(got.walk())
t.is_([p.get_content_type() for p in gp], [p.get_content_type() for p in op], "the same MIME structure")
t.is_([p.get_payload(decode=True) for p in gp if not p.is_multipart() and p.get_content_type() != "message/rfc822"],
      [p.get_payload(decode=True) for p in op if not p.is_multipart() and p.get_content_type() != "message/rfc822"],
      "every leaf part decodes to the original octets")
t.is_([p.get("Content-Transfer-Encoding") for p in gp],
      [None, "quoted-printable", "base64", None, "quoted-printable"],
      "Content-Transfer-Encoding: quoted-printable on the converted parts only, base64 untouched")
t.ok(b"\r\n..a line with a leading dot" in s.data, "dot-stuffing applies after the conversion")

srv = smtpscript.Server(t, ext=[])
plain8 = b"Subject: no MIME\n\nd\xe9j\xe0 vu\n"
code, out, err = send(srv, body=plain8)
got = email.message_from_bytes(srv.session().message.replace(b"\r\n", b"\n"), policy=email.policy.compat32)
t.ok(got["MIME-Version"] == "1.0" and got["Content-Transfer-Encoding"] == "quoted-printable"
     and got.get_payload(decode=True) == b"d\xe9j\xe0 vu\n" and "unknown-8bit" in got["Content-Type"],
     "an 8-bit message without MIME headers: MIME-Version, unknown-8bit (RFC 1428), quoted-printable", srv.session().message)

# -- DSN --
rc = ["bob@x.test\tNOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40x.test", "carol@x.test\tNOTIFY=NEVER X-UNKNOWN=1", "dave@x.test"]
dsnopts = ["-o", "RET=HDRS", "-o", "ENVID=QQ314159", "-o", "X-FOO=bar"]
srv = smtpscript.Server(t, ext=["DSN"])
code, out, err = send(srv, rcpts=rc, opts=dsnopts)
cmds = srv.session().commands()
t.is_(cmds[1:5], ["MAIL FROM:<a@b.test> RET=HDRS ENVID=QQ314159",
                  "RCPT TO:<bob@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40x.test",
                  "RCPT TO:<carol@x.test> NOTIFY=NEVER", "RCPT TO:<dave@x.test>"],
      "DSN offered: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT, nothing else")
t.is_(out, ["ok %s 250 2.0.0 queued as 42" % r for r in ("bob@x.test", "carol@x.test", "dave@x.test")],
      "the result lines name the recipients without their parameters")
t.like(err, r"ignoring the unknown MAIL parameter X-FOO=bar", "an unknown -o parameter: a warning")
srv = smtpscript.Server(t, ext=[])
code, out, err = send(srv, rcpts=rc, opts=dsnopts)
cmds = srv.session().commands()
t.is_(cmds[1:5], ["MAIL FROM:<a@b.test>", "RCPT TO:<bob@x.test>", "RCPT TO:<carol@x.test>", "RCPT TO:<dave@x.test>"],
      "DSN not offered: no DSN parameter")

# -- SMTPUTF8 --
srv = smtpscript.Server(t, ext=["SMTPUTF8", "8BITMIME"])
code, out, err = send(srv, rcpts=("jos\u00e9@x.test",), body="Subject: \u00e9\n\nbody\n".encode(), opts=["-o", "SMTPUTF8"])
t.is_(mail_cmd(srv), "MAIL FROM:<a@b.test> BODY=8BITMIME SMTPUTF8", "SMTPUTF8 offered and needed: SMTPUTF8 (and BODY=8BITMIME)")
t.is_(srv.session().commands()[2], "RCPT TO:<jos\u00e9@x.test>", "the UTF-8 address as it is")
t.is_(out, ["ok jos\u00e9@x.test 250 2.0.0 queued as 42"], "delivered")

for what, rcpts, body, opts in (("a UTF-8 recipient", ("jos\u00e9@x.test", "bob@x.test"), b"Subject: x\n\nbody\n", []),
                                ("-o SMTPUTF8 and a UTF-8 header", ("ana@x.test", "bob@x.test"), "Subject: \u00e9\n\nbody\n".encode(), ["-o", "SMTPUTF8"])):
    srv = smtpscript.Server(t, ext=["8BITMIME"])
    code, out, err = send(srv, rcpts=rcpts, body=body, opts=opts)
    t.is_((code, out), (0, ["fail %s 5.6.7 127.0.0.1 [127.0.0.1]:%d does not support SMTPUTF8, which this message needs (RFC 6531 3.2)" % (r, srv.port) for r in rcpts]),
          "SMTPUTF8 needed (%s), not offered: every recipient fails 5.6.7" % what)
    t.is_(srv.session().commands(), ["EHLO client.test", "QUIT"], "nothing sent (%s)" % what)

srv = smtpscript.Server(t, ext=["8BITMIME"])
code, out, err = send(srv, opts=["-o", "SMTPUTF8"])
t.is_((code, mail_cmd(srv)), (0, "MAIL FROM:<a@b.test>"), "-o SMTPUTF8 on an all-ASCII message, not offered: sent without it")
srv = smtpscript.Server(t, ext=["SMTPUTF8"])
code, out, err = send(srv, opts=["-o", "SMTPUTF8"])
t.is_(mail_cmd(srv), "MAIL FROM:<a@b.test> SMTPUTF8", "-o SMTPUTF8, offered: passed on")

# -- a server that will never take the message (no SMTPUTF8 when it is
# needed, a SIZE too small, 552 to MAIL) is one target: the next is tried;
# the recipients fail only when every target said no --
def send_many(servers, rcpts, body):
    args = ["-f", "a@b.test"]
    for h in servers:
        args += ["-H", h if isinstance(h, str) else "127.0.0.1:%d" % h.port]
    return cl.send(args + ["--"] + list(rcpts), body=body)


utf8 = ("jos\u00e9@x.test", "bob@x.test")
big = b"Subject: size\n\n" + b"x" * 499 + b"\n"   # 518 octets with CRLF
for what, no_ext, yes_ext, rcpts, body, code5 in (
        ("no SMTPUTF8", ["8BITMIME"], ["8BITMIME", "SMTPUTF8"], utf8, b"Subject: x\n\nbody\n", "5.6.7"),
        ("SIZE 100", ["SIZE 100"], ["SIZE 1000"], ("bob@x.test", "carol@x.test"), big, "5.3.4")):
    no = smtpscript.Server(t, ext=no_ext)
    yes = smtpscript.Server(t, ext=yes_ext)
    code, out, err = send_many([no, yes], rcpts, body)
    t.is_((code, out), (0, ["ok %s 250 2.0.0 queued as 42" % r for r in rcpts]),
          "%s on the first target: the second takes the message" % what)
    t.is_(no.session().commands(), ["EHLO client.test", "QUIT"], "%s: nothing sent to the first" % what)
    no1, no2 = smtpscript.Server(t, ext=no_ext), smtpscript.Server(t, ext=no_ext)
    code, out, err = send_many([no1, no2], rcpts, body)
    t.ok(code == 0 and len(out) == len(rcpts) and all(l.startswith("fail %s %s " % (r, code5)) and "[127.0.0.1]:%d" % no1.port in l
                                                       for r, l in zip(rcpts, out)),
         "%s on every target: every recipient fails %s, with the first one's reason" % (what, code5), out)
    t.ok(no2.session() is not None, "%s: the second target was asked too" % what)
    no = smtpscript.Server(t, ext=no_ext)
    code, out, err = send_many([no, "127.0.0.1:%d" % smtpscript.free_port()], rcpts, body)
    t.ok(code == 111 and len(out) == len(rcpts) and all(l.startswith("defer %s 4%s " % (r, code5[1:])) and "[127.0.0.1]:%d" % no.port in l
                                                         for r, l in zip(rcpts, out)),
         "%s on one target, the other unreachable: deferred (4%s, exit 111), never failed" % (what, code5[1:]), (code, out))

no = smtpscript.Server(t, script={"mail": "552 5.3.4 message too big for this system"})
yes = smtpscript.Server(t)
code, out, err = send_many([no, yes], ("bob@x.test",), b"Subject: x\n\nbody\n")
t.is_((code, out), (0, ["ok bob@x.test 250 2.0.0 queued as 42"]), "552 to MAIL (RFC 1870 6.1, too big here): the next target")
no1, no2 = (smtpscript.Server(t, script={"mail": "552 5.3.4 message too big for this system"}) for _ in range(2))
code, out, err = send_many([no1, no2], ("bob@x.test",), b"Subject: x\n\nbody\n")
t.is_((code, out), (0, ["fail bob@x.test 552 5.3.4 message too big for this system"]), "552 to MAIL on every target: fail")
t.done()
