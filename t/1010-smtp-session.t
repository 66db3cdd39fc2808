#!/usr/bin/python3
# smtp-recv: a whole conversation, the greeting, EHLO's extensions, the
# simple commands, sequence and syntax errors (RFC 5321 4.1, 4.3.2).
import os
import re
import smtplib
import subprocess
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()
st = smtprecv.Setup(t, env={"SMTP_MAXERRORS": "0"})  # 0: no limit (t/1060 tests the limit)

# -- a whole conversation with python's smtplib --
s = smtplib.SMTP("127.0.0.1", st.port, timeout=10)
code, msg = s.ehlo("client.example")
t.is_(code, 250, "EHLO: 250")
t.ok(all(x in s.esmtp_features for x in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8", "chunking", "dsn")),
     "EHLO lists PIPELINING SIZE 8BITMIME ENHANCEDSTATUSCODES SMTPUTF8 CHUNKING DSN", s.esmtp_features)
t.is_(s.esmtp_features.get("size"), "52428800", "SIZE advertises the default SMTP_MAXSIZE (RFC 1870 4)")
t.ok("starttls" not in s.esmtp_features and "auth" not in s.esmtp_features,
     "no STARTTLS (no SSLCTLFD) nor AUTH (not submission) advertised")
t.is_(s.mail("sender@remote.example"), (250, b"2.1.0 Ok"), "MAIL: 250 2.1.0")
t.is_(s.rcpt("demo@example.test"), (250, b"2.1.5 Ok"), "RCPT: 250 2.1.5")
code, msg = s.data(b"Subject: test\r\nFrom: sender@remote.example\r\n\r\nHello.\r\n")
t.is_((code, msg), (250, b"2.0.0 Ok: queued"), "DATA: 250 2.0.0 after the queue exited 0")
t.is_(s.quit()[0], 221, "QUIT: 221")

q = st.queued()
t.is_(len(q), 1, "one message queued")
msg, env = q[0]
t.is_(smtprecv.envelope(env), ("sender@remote.example", [], [("demo@example.test", [])]),
      "envelope: F sender, T recipient, final NUL")
t.is_(smtprecv.body(msg), b"Subject: test\nFrom: sender@remote.example\n\nHello.\n",
      "message stored with LF line ends after the Received: line")
# RFC 5321 4.4 time stamp line
t.like(msg.decode(), r"\AReceived: from client\.example \(\[127\.0\.0\.1\]\)\n\tby mx\.example\.test \(tern\) with ESMTP\n"
       r"\tfor <demo@example\.test>;\n\t\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n",
       "Received: from HELO ([ip]) by ME (tern) with ESMTP for <rcpt>; date")
t.like(st.log(), r"smtp-recv: info: message ip=127\.0\.0\.1 from=<sender@remote\.example> rcpts=1 size=\d+ result=250",
       "one log line per message, key=value")
t.ok("Hello." not in st.log(), "the log never holds message content")

# -- greeting and simple commands on a raw connection --
c = st.conn()
t.is_(c.greeting, "220 mx.example.test ESMTP tern", "greeting: 220 ME ESMTP tern")
t.is_(c.cmd("MAIL FROM:<a@b.example>"), "503 5.5.1 Send EHLO or HELO first", "MAIL before HELO: 503 5.5.1")
t.is_(c.cmd("NOOP"), "250 2.0.0 Ok", "NOOP before HELO: 250")
t.is_(c.cmd("HELO"), "501 5.5.4 Syntax: HELO hostname", "HELO without a name: 501 5.5.4")
t.is_(c.cmd("HELO client.example"), "250 mx.example.test", "HELO: 250 ME")
t.is_(c.cmd("VRFY demo"), "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery", "VRFY: 252 2.5.2")
t.like(c.cmd("HELP"), r"^214 2\.0\.0 ", "HELP: 214")
t.is_(c.cmd("FOO bar"), "500 5.5.1 Unrecognized command", "unknown command: 500 5.5.1")
t.is_(c.cmd("EXPN list"), "502 5.5.1 Command not implemented", "EXPN: 502 5.5.1")
t.is_(c.cmd("RCPT TO:<demo@example.test>"), "503 5.5.1 Need MAIL before RCPT", "RCPT before MAIL: 503 5.5.1")
t.is_(c.cmd("DATA"), "503 5.5.1 Need MAIL and RCPT before DATA, and no DATA after BDAT", "DATA before MAIL: 503 5.5.1")
t.is_(c.cmd("MAIL FROM:<>"), "250 2.1.0 Ok", "MAIL FROM:<> (null sender)")
t.is_(c.cmd("MAIL FROM:<a@b.example>"), "503 5.5.1 Nested MAIL command", "nested MAIL: 503 5.5.1")
t.is_(c.cmd("DATA"), "554 5.5.1 No valid recipients", "DATA without recipients: 554 5.5.1 (RFC 5321 3.3)")
t.is_(c.cmd("RSET"), "250 2.0.0 Ok", "RSET: 250")
t.is_(c.cmd("RCPT TO:<demo@example.test>"), "503 5.5.1 Need MAIL before RCPT", "RSET ended the transaction")
# syntax errors
t.is_(c.cmd("MAIL FROM:sender@remote.example"), "501 5.1.7 Bad sender address syntax", "sender without <>: 501 5.1.7")
t.is_(c.cmd("MAIL FROM:<a..b@remote.example>"), "501 5.1.7 Bad sender address syntax", "bad sender: 501 5.1.7")
t.is_(c.cmd("MAIL TO:<a@b.example>"), "501 5.5.4 Syntax: MAIL FROM:<address>", "MAIL TO: 501 5.5.4")
t.is_(c.cmd("MAIL FROM:<a@b.example> FOO=1"), "555 5.5.4 Unsupported parameter", "unknown MAIL parameter: 555 5.5.4")
t.is_(c.cmd("MAIL FROM:<a@b.example> BODY=9BIT"), "501 5.5.4 Invalid parameter", "bad BODY value: 501 5.5.4")
t.is_(c.cmd("MAIL FROM: <a@b.example> BODY=8BITMIME"), "250 2.1.0 Ok", "MAIL with a space after the colon and BODY=8BITMIME")
t.is_(c.cmd("RCPT TO:demo@example.test"), "501 5.1.3 Bad recipient address syntax", "recipient without <>: 501 5.1.3")
t.is_(c.cmd("RCPT TO:<demo@example.test> FOO"), "555 5.5.4 Unsupported parameter", "unknown RCPT parameter: 555 5.5.4")
t.is_(c.cmd("RCPT TO:<demo@example.test> NOTIFY=SOMETIMES"), "501 5.5.4 Invalid parameter", "bad NOTIFY: 501 5.5.4")
t.is_(c.cmd("RSET now"), "501 5.5.4 Syntax: RSET", "RSET with an argument: 501")
t.is_(c.cmd("EHLO again.example").split("\n")[0], "250-mx.example.test", "EHLO again resets (RFC 5321 4.1.4)")
t.is_(c.cmd("RCPT TO:<demo@example.test>"), "503 5.5.1 Need MAIL before RCPT", "no transaction after EHLO")
t.is_(c.cmd("quit"), "221 2.0.0 mx.example.test closing connection", "quit in lowercase: 221")
t.ok(c.closed(), "the server closes after QUIT")

# -- HELO (not EHLO) gives "with SMTP" --
c = st.conn()
c.cmd("HELO old.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
c.cmd("RCPT TO:<postmaster@example.test>")
c.cmd("DATA")
t.is_(c.cmd("x\r\n."), "250 2.0.0 Ok: queued", "message after HELO")
c.cmd("QUIT")
msg = st.queued()[-1][0].decode()
t.like(msg, r"\AReceived: from old\.example \(\[127\.0\.0\.1\]\)\n\tby mx\.example\.test \(tern\) with SMTP;\n\t\w{3}, ",
       "Received: with SMTP after HELO, no 'for' with two recipients")

# -- TCPREMOTEHOST in Received, and a HELO name with odd characters --
st2 = smtprecv.Setup(t, wrap=("env", "TCPREMOTEHOST=client.remote.example"))
c = st2.conn()
c.cmd("EHLO we\x01ird\xc3\xa9name")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
c.cmd("DATA")
c.cmd("x\r\n.")
c.close()
msg = st2.queued()[-1][0]
t.like(msg.decode("utf-8", "replace"), r"\AReceived: from we\?ird\?+name \(client\.remote\.example \[127\.0\.0\.1\]\)\n",
       "Received: has TCPREMOTEHOST; control and 8-bit octets of the HELO name are replaced")

# -- swaks, the usual client --
r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % st.port, "--to", "demo@example.test",
                    "--from", "swaks@remote.example", "--helo", "swaks.example", "--body", "from swaks"],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
t.ok(r.returncode == 0 and b"250 2.0.0 Ok: queued" in r.stdout, "swaks delivers a message", r.stdout.decode(errors="replace"))
t.ok(b"from swaks" in st.queued()[-1][0], "swaks' message is queued")

t.done()
