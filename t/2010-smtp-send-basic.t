#!/usr/bin/python3
# smtp-send: a whole transaction against a scripted server: the commands
# on the wire, CRLF and dot-stuffing (RFC 5321 4.5.2), the result lines
# and their exit code, multi-line replies, where the message is read from.
import os
import re
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript

t = ternlib.TAP()
cl = smtpscript.Client(t, me="client.example.test")

# -- the normal transaction --
srv = smtpscript.Server(t)
body = (b"From: a@b.test\nTo: bob@x.test\nSubject: hello\n\n"
        b"line one\n.leading dot\n..two dots\n.\nlast line\n")
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--", "bob@x.test", "carol@x.test"],
                         body=body, offset=4096)
t.is_(code, 0, "exit 0")
t.is_(out, ["ok bob@x.test 250 2.0.0 queued as 42", "ok carol@x.test 250 2.0.0 queued as 42"],
      "one line per recipient, in order: ok RCPT CODE TEXT")
s = srv.session()
t.is_(s.commands(), ["EHLO client.example.test", "MAIL FROM:<a@b.test> SIZE=%d" % (len(body) + body.count(b"\n")),
                     "RCPT TO:<bob@x.test>", "RCPT TO:<carol@x.test>", "DATA", "QUIT"],
      "EHLO with etc/me, MAIL with SIZE (octets with CRLF, RFC 1870), RCPTs, DATA, QUIT")
t.is_(s.data, b"From: a@b.test\r\nTo: bob@x.test\r\nSubject: hello\r\n\r\n"
              b"line one\r\n..leading dot\r\n...two dots\r\n..\r\nlast line\r\n",
      "on the wire: CRLF line ends, leading dots doubled")
t.is_(s.message, body.replace(b"\n", b"\r\n"), "the server gets the message back intact")
t.ok(re.search(r"smtp-send: info: connect host=127\.0\.0\.1 ip=127\.0\.0\.1 port=%d status=connected" % srv.port, err),
     "log: one line for the connection", err)
t.ok(re.search(r"smtp-send: info: result rcpt=<bob@x\.test> status=ok host=127\.0\.0\.1 reply=250 2\.0\.0 queued as 42", err),
     "log: one line per result", err)
t.ok("line one" not in err and "hello" not in err, "the log holds no message content")

# -- the null sender, a last line without LF, CRLF already in the file --
srv = smtpscript.Server(t)
code, out, err = cl.send(["-f", "", "-H", "127.0.0.1:%d" % srv.port, "--", "bob@x.test"],
                         body=b"Subject: x\r\n\r\nno final newline")
s = srv.session()
t.is_(code, 0, "null sender: exit 0")
t.is_(s.commands()[1], "MAIL FROM:<> SIZE=32", "null sender: MAIL FROM:<>")
t.is_(s.data, b"Subject: x\r\n\r\nno final newline\r\n", "CRLF in the file is not doubled; a CRLF ends a last line without LF")

srv = smtpscript.Server(t)
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--", "bob@x.test"], body=b"")
s = srv.session()
t.is_((code, s.data), (0, b""), "an empty message: just the final dot")

# -- fd 0 is not seekable: spooled once --
srv = smtpscript.Server(t)
big = b"Subject: pipe\n\n" + b"".join(b"line %d of a message read from a pipe\n" % i for i in range(20000))
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--", "bob@x.test"], body=big, pipe=True)
s = srv.session()
t.is_(code, 0, "message on a pipe: exit 0")
t.is_(s.message, big.replace(b"\n", b"\r\n"), "message on a pipe (%d octets): sent whole" % len(big))

# -- multi-line replies: joined with " / ", control characters removed --
srv = smtpscript.Server(t, script={
    "rcpt": {"bob@x.test": "550-5.1.1 first line\n550-5.1.1 second\tline\x01\n550 5.1.1 last line",
             "*": "250 ok"},
    "final": "250-2.0.0 accepted\n250-\n250 2.0.0 queued"})
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--", "bob@x.test", "carol@x.test"])
t.is_(out, ["fail bob@x.test 550 5.1.1 first line / 5.1.1 secondline / 5.1.1 last line",
            "ok carol@x.test 250 2.0.0 accepted / 2.0.0 queued"],
      "multi-line replies joined by ' / ', control characters dropped, empty lines skipped")
t.is_(code, 0, "one failed, one delivered: exit 0")

# a reply line longer than the cap, and a long multi-line reply: the text is capped
srv = smtpscript.Server(t, script={"final": "250 " + "x" * 3000,
                                   "mail": "\n".join("250-%d" % i for i in range(500)) + "\n250 end"})
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--", "bob@x.test"])
t.ok(code == 0 and out[0].startswith("ok bob@x.test 250 xxxx") and len(out[0]) < 450,
     "a 3000-octet reply line: read, its text capped", out)

# -- exit 100 for usage errors --
for args, what in ((["--", "bob@x.test"], "no -f"),
                   (["-f", "a@b.test"], "no recipient"),
                   (["-f", "a@b.test", "--", "bob@x.test", "carol@y.test"], "two domains without -H"),
                   (["-f", "a@b.test", "--", "bob"], "a recipient without a domain, without -H"),
                   (["-f", "a@b.test", "--", "bo\nb@x.test"], "a control character in a recipient"),
                   (["-f", "a<b@c", "--", "bob@x.test"], "a bracket in the sender"),
                   (["-f", "a@b.test", "-a", "/dev/null", "--", "bob@x.test"], "-a without -H"),
                   (["-f", "a@b.test", "-o", "BAD PARAM", "--", "bob@x.test"], "a space in a -o parameter"),
                   (["-x", "-f", "a@b.test", "--", "bob@x.test"], "an unknown option")):
    code, out, err = cl.send(args)
    t.ok(code == 100 and out == [] and "smtp-send: " in err, "usage error (%s): exit 100, no result line" % what, (code, out, err))
t.done()
