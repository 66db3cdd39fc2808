#!/usr/bin/python3
# smtp-recv: every limit, made small through the environment: message
# size (RFC 1870), errors, hops (RFC 5321 6.3), DATA line length, the
# command line cap (4.5.3.1.4), the command and data timeouts (4.5.3.2),
# the time a whole message may take (SMTP_MAXDATATIME), and a malformed
# setting.
import os
import socket
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()


def data_reply(st, data, mailparams=""):
    c = st.conn()
    c.cmd("EHLO client.example")
    r = c.cmd("MAIL FROM:<a@remote.example>" + mailparams)
    if not r.startswith("250"):
        c.close()
        return r
    c.cmd("RCPT TO:<demo@example.test>")
    c.cmd("DATA")
    c.send(data)
    r = c.reply()
    t.is_(c.cmd("NOOP"), "250 2.0.0 Ok", "the session goes on after: " + r)
    c.close()
    return r


# -- SMTP_MAXSIZE --
st = smtprecv.Setup(t, env={"SMTP_MAXSIZE": "1000"})
c = st.conn()
t.ok("250-SIZE 1000" in c.cmd("EHLO client.example"), "EHLO advertises SIZE 1000")
t.is_(c.cmd("MAIL FROM:<a@remote.example> SIZE=1001"), "552 5.3.4 Message size exceeds fixed maximum message size",
      "MAIL SIZE=1001 over SMTP_MAXSIZE=1000: 552 5.3.4 (RFC 1870 6.1)")
t.is_(c.cmd("MAIL FROM:<a@remote.example> SIZE=1000"), "250 2.1.0 Ok", "MAIL SIZE=1000: 250")
c.close()
body = b"x" * 98 + b"\r\n"                       # 100 octets a line, CRLF counted
t.is_(data_reply(st, body * 10 + b".\r\n"), "250 2.0.0 Ok: queued", "a message of exactly 1000 octets")
n = len(st.queued())
t.is_(data_reply(st, body * 10 + b"y\r\n.\r\n"), "552 5.3.4 Message size exceeds fixed maximum message size",
      "a message of 1003 octets: 552 5.3.4 after the end of data")
t.is_(data_reply(st, body * 1000 + b".\r\n"), "552 5.3.4 Message size exceeds fixed maximum message size",
      "a message of 100000 octets is read to its end, then 552")
t.is_(len(st.queued()), n, "oversized messages are not queued")
st0 = smtprecv.Setup(t, env={"SMTP_MAXSIZE": "0"})
c = st0.conn()
t.ok("250-SIZE\r\n" in c.cmd("EHLO c.example").replace("\n", "\r\n") + "\r\n", "SMTP_MAXSIZE=0: SIZE without a limit")
t.is_(c.cmd("MAIL FROM:<a@remote.example> SIZE=999999999999"), "250 2.1.0 Ok", "and any SIZE is accepted")
c.close()

# -- SMTP_MAXERRORS --
st = smtprecv.Setup(t, env={"SMTP_MAXERRORS": "3", "SMTP_MAXRCPT": "1"})
c = st.conn()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
t.is_(c.cmd("RCPT TO:<demo@example.test>"), "452 4.5.3 Too many recipients", "452 for too many recipients...")
t.is_(c.cmd("RCPT TO:<demo@example.test>"), "452 4.5.3 Too many recipients", "...is flow control, not counted as an error")
t.like(c.cmd("FOO"), "^500 ", "error 1")
t.like(c.cmd("RCPT TO:nobody@example.test"), "^501 ", "error 2")
t.like(c.cmd("MAIL FROM:<x@y.example>"), "^503 ", "error 3")
t.is_(c.reply(), "421 4.7.0 mx.example.test Too many errors, closing connection", "then 421 4.7.0")
t.ok(c.closed(), "and the connection is closed")

# -- SMTP_MAXHOPS --
st = smtprecv.Setup(t, env={"SMTP_MAXHOPS": "3"})
rcv = b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
t.is_(data_reply(st, rcv * 2 + b"RECEIVED: from c by d; Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n" + rcv * 5 + b".\r\n"),
      "250 2.0.0 Ok: queued", "3 Received: fields (any case), more in the body: accepted")
t.is_(data_reply(st, rcv * 2 + b"X-Received: x\r\nreceived:  from x\r\n" + rcv + b"\r\nbody\r\n.\r\n"),
      "554 5.4.6 Too many Received: headers, mail loop", "4 Received: fields: 554 5.4.6")

# -- SMTP_MAXLINE --
st = smtprecv.Setup(t, env={"SMTP_MAXLINE": "100"})
t.is_(data_reply(st, b"a" * 100 + b"\r\n.\r\n"), "250 2.0.0 Ok: queued", "a line of SMTP_MAXLINE=100 octets")
t.is_(data_reply(st, b"a" * 101 + b"\r\n.\r\n"), "554 5.6.0 Line too long", "a line of 101 octets: 554 5.6.0")
t.is_(data_reply(st, b"b" * 200000 + b"\r\n.\r\n"), "554 5.6.0 Line too long", "a 200000-octet line is read to the end")
c = st.conn()
c.cmd("EHLO c.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
c.send(b"BDAT 103 LAST\r\n" + b"c" * 101 + b"\r\n")
t.is_(c.reply(), "554 5.6.0 Line too long", "SMTP_MAXLINE applies to BDAT")
c.close()

# -- the command line cap: 2048 octets with CRLF --
st = smtprecv.Setup(t)
c = st.conn()
t.is_(c.cmd("NOOP " + "x" * 2041), "250 2.0.0 Ok", "a command line of 2048 octets")
t.is_(c.cmd("NOOP " + "x" * 2042), "500 5.5.2 Line too long", "2049 octets: 500 5.5.2")
t.is_(c.cmd("NOOP " + "x" * 100000), "500 5.5.2 Line too long", "100005 octets: one 500 5.5.2, the rest discarded")
t.is_(c.cmd("NOOP"), "250 2.0.0 Ok", "in sync after the long lines")
c.cmd("EHLO c.example")
long_local = "l" * 1000
t.is_(c.cmd("MAIL FROM:<%s@remote.example> SIZE=10 BODY=8BITMIME RET=HDRS ENVID=%s" % (long_local, "e" * 100)),
      "250 2.1.0 Ok", "a long MAIL line with every parameter fits")
c.close()

# -- timeouts --
st = smtprecv.Setup(t, env={"SMTP_TIMEOUT": "1", "SMTP_DATATIMEOUT": "2"})
c = st.conn()
t0 = time.time()
r = c.rest(timeout=10)
t.is_(r, "421 4.4.2 mx.example.test Timeout, closing connection\r\n", "an idle client gets 421 4.4.2 and is closed")
t.ok(time.time() - t0 >= 0.9, "after SMTP_TIMEOUT=1 second, not before")
# one octet every 0.4 s, never a whole line: timeouts per read would never
# fire; the deadline of the command does, long before the 25th octet
c = st.conn()
sent = 0
try:
    for i in range(25):
        c.send(b"N")
        sent += 1
        time.sleep(0.4)
except OSError:
    pass
r = c.rest(timeout=10)
t.ok(r.startswith("421 4.4.2") and sent < 25, "a command trickling in is cut at its deadline, not per read (%d octets sent)" % sent, r)
c = st.conn()
c.cmd("EHLO c.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
t.like(c.cmd("DATA"), "^354", "DATA")
t0 = time.time()
c.send(b"Subject: slow\r\n")
time.sleep(1.5)
c.send(b"still within SMTP_DATATIMEOUT=2 of the last read\r\n")
r = c.rest(timeout=10)
t.ok(r.startswith("421 4.4.2") and time.time() - t0 >= 3, "SMTP_DATATIMEOUT: 421 4.4.2, counted from the last data read", r)
t.ok(smtprecv.wait_for(lambda: len(st.partials()) == 1), "the timed-out message's queue got no envelope")
t.is_(st.queued(), [], "nothing queued")
t.ok(st.wait_log(r"reason=timeout"), "timeouts are logged")

# -- SMTP_MAXDATATIME: a message that comes in a few octets at a time,
# each within SMTP_DATATIMEOUT, is cut when the whole takes too long --
def trickle(c, piece, expect=None):
    """Sends piece every 0.3 s until the server says something other
    than expect (BDAT's 250s) or closes; returns (what it said, seconds)."""
    t0 = time.time()
    c.s.settimeout(0.3)
    out = b""
    while time.time() - t0 < 120:
        try:
            c.send(piece)
        except OSError:
            break
        try:
            d = c.s.recv(4096)
            if not d:
                break
            out += d
            if expect is None or any(l and not l.startswith(expect) for l in out.split(b"\r\n")):
                break
        except socket.timeout:
            pass
    c.s.settimeout(10)
    try:
        while True:
            d = c.s.recv(4096)
            if not d:
                break
            out += d
    except OSError:
        pass
    return out.decode(errors="replace"), time.time() - t0


st = smtprecv.Setup(t, env={"SMTP_MAXDATATIME": "2", "SMTP_DATATIMEOUT": "10", "SMTP_TIMEOUT": "10"})
c = st.conn()
c.cmd("EHLO c.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
t.like(c.cmd("DATA"), "^354", "DATA")
r, took = trickle(c, b"x")
t.is_(r, "421 4.4.2 mx.example.test Message took too long, closing connection\r\n",
      "DATA an octet every 0.3 s, each read in time: 421 4.4.2 at SMTP_MAXDATATIME=2")
t.ok(took >= 1.9, "not before SMTP_MAXDATATIME (%.1f s)" % took)
c = st.conn()
c.cmd("EHLO c.example")
c.cmd("MAIL FROM:<a@remote.example>")
c.cmd("RCPT TO:<demo@example.test>")
r, took = trickle(c, b"BDAT 1\r\nx", expect=b"250 2.0.0 1 octets received")
t.ok(r.endswith("421 4.4.2 mx.example.test Message took too long, closing connection\r\n") and took >= 1.9,
     "BDAT chunks of one octet every 0.3 s: 421 4.4.2 at SMTP_MAXDATATIME=2 (%.1f s)" % took, r[-200:])
t.ok(smtprecv.wait_for(lambda: len(st.partials()) == 2), "neither message's queue got an envelope")
t.is_(st.queued(), [], "nothing queued")
t.ok(st.wait_log(r"reason=message-time"), "logged: reason=message-time")

# -- a malformed setting: 421 4.3.5 before anything else, exit 100 --
for var, val in (("SMTP_MAXSIZE", "12k"), ("SMTP_MAXRCPT", "0"), ("SMTP_TIMEOUT", "-1"), ("SMTP_BARELF", "maybe"),
                 ("SMTP_MAXERRORS", "1e3"), ("SMTP_MAXHOPS", "x"), ("SMTP_MAXLINE", "99999999999"), ("SMTP_DATATIMEOUT", " 5"),
                 ("SMTP_MAXDATATIME", "0")):
    st = smtprecv.Setup(t, env={var: val})
    s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    out = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    s.close()
    t.is_(out, b"421 4.3.5 configuration error\r\n", "%s=%s: 421 4.3.5" % (var, val))
    t.ok(st.wait_log("fatal: invalid configuration: " + var), "%s=%s: logged" % (var, val))
r = ternlib.Instance(t).run([os.path.join(ternlib.BUILD, "smtp-recv")], env={"SMTP_MAXSIZE": "x"}, input=b"")
t.is_(r.returncode, 100, "a malformed setting exits 100")
t.done()
