#!/usr/bin/python3
# smtp-recv: CHUNKING (RFC 3030): BDAT n [LAST] reads exactly n octets,
# converts CRLF to LF with the same checks as DATA, answers every chunk,
# reads a chunk it refuses, and queues nothing when the client leaves.
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()
st = smtprecv.Setup(t, env={"SMTP_MAXERRORS": "0"})


def start(c, rcpt="demo@example.test"):
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<sender@remote.example>")
    return c.cmd("RCPT TO:<%s>" % rcpt)


# -- one chunk with LAST --
c = st.conn()
start(c)
m = b"Subject: bdat\r\n\r\nbody\r\n.\r\n..not stuffed\r\n"
c.send(b"BDAT %d LAST\r\n" % len(m) + m)
t.is_(c.reply(), "250 2.0.0 Ok: queued", "BDAT n LAST: queued")
t.is_(smtprecv.body(st.queued()[-1][0]), b"Subject: bdat\n\nbody\n.\n..not stuffed\n",
      "BDAT: CRLF stored as LF, no dot-unstuffing, '.' lines are data")

# -- several chunks, split anywhere (even inside a CRLF), then BDAT 0 LAST --
start(c)
chunks = [b"Subject: chunks\r", b"\n\r\nfirst ", b"line\r\nsecond line\r\n", b"binary \x00\xff\r\n"]
for ch in chunks:
    c.send(b"BDAT %d\r\n" % len(ch) + ch)
    t.is_(c.reply(), "250 2.0.0 %d octets received" % len(ch), "chunk of %d octets: 250 2.0.0 n octets received" % len(ch))
c.send(b"BDAT 0 LAST\r\n")
t.is_(c.reply(), "250 2.0.0 Ok: queued", "BDAT 0 LAST ends the message")
t.is_(smtprecv.body(st.queued()[-1][0]), b"Subject: chunks\n\nfirst line\nsecond line\nbinary \x00\xff\n",
      "chunks joined; a CRLF split across chunks is one line end")

# -- pipelined chunks in one packet --
start(c)
c.send(b"BDAT 6\r\nabcd\r\nBDAT 5\r\ndef\r\nBDAT 0 LAST\r\nNOOP\r\n")
t.is_([c.reply() for i in range(4)], ["250 2.0.0 6 octets received", "250 2.0.0 5 octets received",
                                      "250 2.0.0 Ok: queued", "250 2.0.0 Ok"],
      "pipelined BDATs and a command after them")
t.is_(smtprecv.body(st.queued()[-1][0]), b"abcd\ndef\n", "pipelined chunks make one message")

# -- a last line without its line end gets one --
start(c)
c.send(b"BDAT 9 LAST\r\nno\r\nend x")
t.is_(c.reply(), "250 2.0.0 Ok: queued", "message whose last line has no CRLF")
t.is_(smtprecv.body(st.queued()[-1][0]), b"no\nend x\n", "stored with a final LF")

# -- DATA after BDAT in one transaction: 503 (RFC 3030 2) --
start(c)
c.send(b"BDAT 4\r\nab\r\n")
t.is_(c.reply(), "250 2.0.0 4 octets received", "a first chunk")
t.like(c.cmd("DATA"), r"^503 5\.5\.1 ", "DATA after BDAT: 503 5.5.1")
c.send(b"BDAT 0 LAST\r\n")
t.is_(c.reply(), "250 2.0.0 Ok: queued", "the BDAT transaction goes on after the refused DATA")

# -- bare LF in a chunk: 554 5.6.0 for that chunk, the transaction is over --
start(c)
c.send(b"BDAT 3\r\nab\nBDAT 0 LAST\r\n")
t.is_(c.reply(), "554 5.6.0 Bare CR or LF in message (RFC 5321 2.3.8)", "bare LF in a chunk: 554 5.6.0")
t.like(c.reply(), r"^503 5\.5\.1 ", "the LAST chunk pipelined after it: 503")

# -- BDAT out of sequence: the chunk is read, then 503 or 554 --
n = len(st.queued())
c.send(b"BDAT 12\r\nRSET\r\nQUIT\r\n")
t.like(c.reply(), r"^503 5\.5\.1 ", "BDAT without MAIL: 503, and its 12 octets are not commands")
t.is_(c.cmd("NOOP"), "250 2.0.0 Ok", "the session is in sync after the refused chunk")
c.cmd("MAIL FROM:<a@remote.example>")
c.send(b"BDAT 5 LAST\r\nQUIT\n")
t.is_(c.reply(), "554 5.5.1 No valid recipients", "BDAT without recipients: 554 5.5.1")
t.is_(c.cmd("RSET"), "250 2.0.0 Ok", "in sync after it")
t.is_(c.cmd("BDAT x"), "501 5.5.4 Syntax: BDAT size [LAST]", "BDAT with a bad size: 501 5.5.4")
r = c.rest()
t.ok(r.startswith("421 4.5.0 ") and "[still open]" not in r,
     "then 421 4.5.0 and the connection closed: where its chunk ends is unknown", r)
t.is_(len(st.queued()), n, "nothing queued by refused chunks")

# -- errors still consume the chunk: a message over SMTP_MAXSIZE --
ss = smtprecv.Setup(t, env={"SMTP_MAXSIZE": "100"})
c = ss.conn()
start(c)
c.send(b"BDAT 60\r\n" + b"x" * 58 + b"\r\n")
t.is_(c.reply(), "250 2.0.0 60 octets received", "a first chunk within the limit")
c.send(b"BDAT 60\r\n" + b"y" * 58 + b"\r\n" + b"BDAT 10 LAST\r\n" + b"z" * 8 + b"\r\n")
t.is_(c.reply(), "552 5.3.4 Message size exceeds fixed maximum message size", "the chunk crossing SMTP_MAXSIZE: 552 5.3.4 at once")
t.like(c.reply(), r"^503 5\.5\.1 ", "a chunk pipelined after the error: 503, and read")
t.is_(c.cmd("NOOP"), "250 2.0.0 Ok", "in sync")
t.is_(ss.queued(), [], "nothing queued")
c.cmd("QUIT")

# -- a chunk announced bigger than SMTP_MAXSIZE is not read: 552, then 421 --
for where, first in (("as the first chunk", b""), ("after a chunk", b"BDAT 10\r\n" + b"a" * 8 + b"\r\n")):
    c = ss.conn()
    start(c)
    if first:
        c.send(first)
        c.reply()
    c.send(b"BDAT 1000\r\n" + b"x" * 20)
    t.is_(c.reply(), "552 5.3.4 Message size exceeds fixed maximum message size",
          "BDAT 1000 over SMTP_MAXSIZE=100 %s: 552 5.3.4 before its octets" % where)
    r = c.rest()
    t.ok(r.startswith("421 4.5.0 ") and "[still open]" not in r,
         "then 421 4.5.0 and the connection closed, the chunk unread", r)
t.is_(ss.queued(), [], "nothing queued")

# -- a client that disappears in the middle of a BDAT transaction --
for what, data in (("inside a chunk", b"BDAT 100\r\nSubject: cut\r\n\r\nonly part"),
                   ("between chunks", b"BDAT 20\r\nSubject: cut\r\n\r\nabc\r\n")):
    n, p = len(st.queued()), len(st.partials())
    c = st.conn()
    start(c)
    c.send(data)
    if what == "between chunks":
        c.reply()
    c.close()
    t.ok(smtprecv.wait_for(lambda: len(st.partials()) == p + 1), "disconnect %s: the queue program got no envelope" % what)
    t.is_(len(st.queued()), n, "disconnect %s: nothing queued" % what)
t.ok(st.wait_log(r"reason=disconnect during=BDAT"), "disconnect during BDAT is logged")
t.done()
