#!/usr/bin/python3
# smtp-send: a CR that no LF follows never goes out bare (RFC 5321 2.3.8):
# it becomes a CRLF line end on the wire, so a receiver that takes a bare
# CR for a line end sees the same lines as one that does not, and a
# "<CR>.<CR>" in the message cannot end the data anywhere (outbound SMTP
# smuggling). The line after it is dot-stuffed like any other; SIZE=
# counts the added LFs. The same through the 8BITMIME downgrade.
import os
import re
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript

t = ternlib.TAP()
cl = smtpscript.Client(t)


def bare_cr(wire):
    """Where a CR is not followed by LF, or an LF not preceded by CR."""
    return [i for i in range(len(wire)) if (wire[i:i + 1] == b"\r" and wire[i + 1:i + 2] != b"\n")
            or (wire[i:i + 1] == b"\n" and (i == 0 or wire[i - 1:i] != b"\r"))]


def send(body, ext=None, pipe=False):
    srv = smtpscript.Server(t, ext=ext)
    code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--", "bob@x.test"], body=body, pipe=pipe)
    return srv.session(), code, out, err


smuggle = b"MAIL FROM:<admin@x.test>\r\nRCPT TO:<victim@x.test>\r\nDATA\r\n"
body = b"Subject: cr\n\nline one\r.\r" + smuggle + b"two\rthree\r\r\n.\rlast\r"
for pipe in (False, True):
    s, code, out, err = send(body, pipe=pipe)
    how = "on a pipe" if pipe else "in a file"
    t.is_((code, out), (0, ["ok bob@x.test 250 2.0.0 queued as 42"]), "a message with bare CRs (%s): sent" % how)
    t.is_(bare_cr(s.data), [], "no bare CR or LF on the wire (%s)" % how, )
    t.is_(s.data, b"Subject: cr\r\n\r\nline one\r\n..\r\n" + smuggle + b"two\r\nthree\r\n\r\n..\r\nlast\r\n",
          "each lone CR became a line end; the '.' lines after them are dot-stuffed (%s)" % how)
    t.is_(s.commands()[1:], ["MAIL FROM:<a@b.test> SIZE=%d" % len(s.message), "RCPT TO:<bob@x.test>", "DATA", "QUIT"],
          "one transaction, SIZE= the octets sent (%s)" % how)

# a CR at the end of a 64 KB read, its LF at the start of the next: one CRLF
body = b"Subject: split\n\n" + b"x" * (65536 - 17) + b"\r\nnext\n"
s, code, out, err = send(body)
t.is_(s.message, body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), "a CRLF across two reads is one line end")

# -- the 8BITMIME downgrade: encoded parts carry no CR, the others get CRLF --
mime = (b"Subject: a\rb\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n"
        b"--BB\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        b"caf\xc3\xa9\r.\rx\n"
        b"--BB\nContent-Type: text/plain\n\nplain\r.\rpart\n--BB--\n")
s, code, out, err = send(mime, ext=["PIPELINING", "SIZE"])
t.is_(code, 0, "8-bit message with bare CRs to a server without 8BITMIME: sent")
t.is_(bare_cr(s.data), [], "no bare CR or LF on the wire after the downgrade")
t.ok(b"Subject: a\r\nb\r\n" in s.data and b"caf=C3=A9=0D.=0Dx\r\n" in s.data and b"plain\r\n..\r\npart\r\n" in s.data,
     "header: a line end; the converted part: =0D; the part left as it is: a line end, dot-stuffed", s.data)
m = re.search(r"SIZE=(\d+)", s.commands()[1])
t.is_(int(m.group(1)) if m else None, len(s.message), "SIZE= is what was sent after the downgrade")
t.done()
