#!/usr/bin/python3
# smtp-recv: the DATA byte machine (RFC 5321 4.1.1.4, 4.5.2, 2.3.8): only
# CRLF.CRLF ends the data, dot-unstuffing, CRLF stored as LF, bare CR and
# LF refused (or kept as line breaks with SMTP_BARELF=keep, a bare CR
# stored as LF, never as a raw CR) and never an end: the SMTP smuggling
# variants must not make a second message.
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()


def send_message(st, data, rcpt="demo@example.test"):
    """One transaction with raw data (after 354) that must end with CRLF.CRLF;
    returns (the reply to the data, what the server said after it to QUIT)."""
    c = st.conn()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<sender@remote.example>")
    c.cmd("RCPT TO:<%s>" % rcpt)
    r = c.cmd("DATA")
    assert r.startswith("354"), r
    c.send(data)
    res = c.reply()
    after = c.cmd("QUIT")
    c.close()
    return res, after


st = smtprecv.Setup(t)

# -- dot-unstuffing and line ends --
res, after = send_message(st, b"Subject: dots\r\n\r\n..leading dot\r\n...\r\n. \r\nx.\r\n.x\r\n\r\n.\r\n")
t.is_(res, "250 2.0.0 Ok: queued", "a message with dot-stuffed lines")
t.is_(smtprecv.body(st.queued()[-1][0]), b"Subject: dots\n\n.leading dot\n..\n \nx.\nx\n\n",
      "dots unstuffed (RFC 5321 4.5.2), CRLF stored as LF")
n = len(st.queued())
res, after = send_message(st, b".\r\n")
t.is_(res, "250 2.0.0 Ok: queued", "an empty message ('.' right after 354)")
t.is_(smtprecv.body(st.queued()[-1][0]), b"", "the empty message holds only the Received: line")
res, after = send_message(st, "Subject: 8bit\r\n\r\ncaf\u00e9 \u2603\r\n\x00nul\r\n.\r\n".encode())
t.is_(res, "250 2.0.0 Ok: queued", "8-bit data and NUL pass")
t.is_(smtprecv.body(st.queued()[-1][0]), "Subject: 8bit\n\ncaf\u00e9 \u2603\n\x00nul\n".encode(), "8-bit data kept as is")
t.is_(after, "221 2.0.0 mx.example.test closing connection", "the session goes on after the data")

# -- data split across many packets, byte by byte around the end --
c = st.conn()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
c.cmd("DATA")
for b in b"Subject: slow\r\n\r\nline\r\n.\r":
    c.send(bytes([b]))
c.send(b"\n")
t.is_(c.reply(), "250 2.0.0 Ok: queued", "an end of data split over packets is found")
t.is_(smtprecv.body(st.queued()[-1][0]), b"Subject: slow\n\nline\n", "and the message is whole")
c.close()

# -- bare LF and bare CR: refused after the end, 554 5.6.0 --
for data, name in ((b"Subject: lf\r\n\r\nbare\nlf\r\n.\r\n", "bare LF"),
                   (b"Subject: cr\r\n\r\nbare\rcr\r\n.\r\n", "bare CR"),
                   (b"Subject: cr\r\n\r\nends with cr\r\r\n.\r\n", "CR CR LF"),
                   (b"Subject: lf\r\n\nblank line made of a bare LF\r\n.\r\n", "bare LF at a line start")):
    n = len(st.queued())
    res, after = send_message(st, data)
    t.is_(res, "554 5.6.0 Bare CR or LF in message (RFC 5321 2.3.8)", name + ": 554 5.6.0 after the end of data")
    t.is_(len(st.queued()), n, name + ": nothing queued")
    t.is_(after, "221 2.0.0 mx.example.test closing connection", name + ": the session is still in sync")

# -- smuggling (the 2023 SMTP smuggling attacks): a fake end followed by
# a second transaction inside the data; only CRLF.CRLF ends --
smuggled = b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n"
fake_ends = [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r", b"\r\n.\r\r\n", b"\r\n\x00.\r\n", b"\r\n.\x00\r\n"]
for keep in (False, True):
    sx = smtprecv.Setup(t, env={"SMTP_BARELF": "keep"} if keep else None)
    mode = "SMTP_BARELF=keep" if keep else "default"
    for fe in fake_ends:
        data = b"Subject: first\r\n\r\nhello" + fe + smuggled + b"\r\n.\r\n"
        n = len(sx.queued())
        res, after = send_message(sx, data)
        q = sx.queued()
        name = "%s: fake end %r" % (mode, fe)
        if keep or fe in (b"\r\n\x00.\r\n", b"\r\n.\x00\r\n"):
            t.is_(res, "250 2.0.0 Ok: queued", name + ": one message")
            t.ok(len(q) == n + 1 and b"evil" in q[-1][0], name + ": the 'second message' is data of the first",
                 q[-1][0] if q else None)
        else:
            t.is_(res, "554 5.6.0 Bare CR or LF in message (RFC 5321 2.3.8)", name + ": refused")
            t.is_(len(q), n, name + ": nothing queued")
        t.is_(after, "221 2.0.0 mx.example.test closing connection", name + ": no smuggled command was run")
    t.ok(not any(b"admin@example.test" in e for m, e in sx.queued()), mode + ": no envelope from the smuggled MAIL")

# -- SMTP_BARELF=keep: a bare LF or CR is kept as a line break, stored as
# LF: no raw CR goes into the queue, for a later hop to take as a line
# end that this one did not see (outbound smuggling) --
sk = smtprecv.Setup(t, env={"SMTP_BARELF": "keep"})
res, after = send_message(sk, b"Subject: keep\r\n\r\nbare\nlf\r\nbare\rcr\r\n\n.\nnot an end\r\nx\r.\ry\r\r\n.\r\n")
t.is_(res, "250 2.0.0 Ok: queued", "SMTP_BARELF=keep: accepted")
m = smtprecv.body(sk.queued()[-1][0])
t.is_(m, b"Subject: keep\n\nbare\nlf\nbare\ncr\n\n.\nnot an end\nx\n.\ny\n\n",
      "keep: bare LF and bare CR stored as line ends, '.' after them is data, not an end")
t.ok(b"\r" not in sk.queued()[-1][0], "keep: no CR at all in what was queued")
c = sk.conn()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<sender@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
chunk = b"Subject: b\r\n\rcr\r"
c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
t.is_(c.reply(), "250 2.0.0 Ok: queued", "keep, BDAT: accepted")
t.is_(smtprecv.body(sk.queued()[-1][0]), b"Subject: b\n\ncr\n", "keep, BDAT: a bare CR, even the last octet, stored as LF")
c.close()

# -- a client that disappears in the middle of DATA: nothing is queued --
c = st.conn()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
c.cmd("DATA")
n, p = len(st.queued()), len(st.partials())
c.send(b"Subject: cut\r\n\r\nhalf a message\r\n.")
c.close()
t.ok(st.wait_log(r"reason=disconnect during=DATA"), "disconnect during DATA is logged")
t.is_(len(st.queued()), n, "disconnect during DATA: nothing queued")
t.ok(smtprecv.wait_for(lambda: len(st.partials()) == p + 1), "the queue program saw the envelope pipe closed without an envelope")
t.done()
