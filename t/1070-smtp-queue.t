#!/usr/bin/python3
# smtp-recv and $QUEUE: 250 only after the queue program exited 0,
# qmail-queue's exit codes mapped to replies, the envelope's P records
# (RFC 3461 DSN, RFC 6531 SMTPUTF8, RFC 6152 8BITMIME), no zombie left,
# and end to end with the real queue-add/queue-store.
import os
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()


def one(st, data=b"Subject: q\r\n\r\nx\r\n.\r\n", mail="MAIL FROM:<a@remote.example>", rcpts=("RCPT TO:<demo@example.test>",), keep=False):
    c = st.conn()
    c.cmd("EHLO client.example")
    r = c.cmd(mail)
    assert r.startswith("250"), r
    for rc in rcpts:
        r = c.cmd(rc)
        assert r.startswith("250"), r
    c.cmd("DATA")
    c.send(data)
    r = c.reply()
    if keep:
        return r, c
    c.cmd("QUIT")
    c.close()
    return r


# -- qmail-queue exit codes (qmail-queue(8)) --
for code, want in (("0", "250 2.0.0 Ok: queued"),
                   ("11", "554 5.1.3 Address too long"),
                   ("31", "554 5.3.0 Message refused by the queue (exit 31)"),
                   ("12", "554 5.3.0 Message refused by the queue (exit 12)"),
                   ("40", "554 5.3.0 Message refused by the queue (exit 40)"),
                   ("53", "452 4.3.1 Insufficient system storage"),
                   ("41", "451 4.3.0 Temporary queue failure (exit 41)"),
                   ("74", "451 4.3.0 Temporary queue failure (exit 74)"),
                   ("81", "451 4.3.0 Temporary queue failure (exit 81)"),
                   ("kill", "451 4.3.0 Temporary queue failure (crashed)")):
    st = smtprecv.Setup(t, env={"FAKEQ_EXIT": code})
    t.is_(one(st), want, "queue exits %s: %s" % (code, want))
st = smtprecv.Setup(t, env={"QUEUE": "/nonexistent/queue-add"})
t.is_(one(st), "451 4.3.0 Temporary queue failure", "QUEUE cannot be run: 451 4.3.0")
t.like(st.log(), r"smtp-recv: warning: unable to start /nonexistent/queue-add", "and it is logged")
st = smtprecv.Setup(t, env={"FAKEQ_SLEEP": "5", "SMTP_DATATIMEOUT": "1"})
t0 = time.time()
t.is_(one(st), "451 4.3.0 Temporary queue failure (timeout)", "a queue program that hangs is killed after SMTP_DATATIMEOUT")
t.ok(time.time() - t0 >= 0.9, "after SMTP_DATATIMEOUT, not before")

# -- the envelope's P records --
st = smtprecv.Setup(t)
r = one(st, mail="MAIL FROM:<Sender@Remote.Example> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B314 SIZE=40",
        rcpts=("RCPT TO:<demo@example.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;demo@example.test",
               "RCPT TO:<postmaster> NOTIFY=never",
               "RCPT TO:<demo+x@example.test>"))
t.is_(r, "250 2.0.0 Ok: queued", "a message with DSN parameters")
msg, env = st.queued()[-1]
t.is_(env, b"FSender@remote.example\0PBODY=8BITMIME\0PSMTPUTF8\0PRET=HDRS\0PENVID=QQ+2B314\0"
           b"Tdemo@example.test\0PNOTIFY=FAILURE,DELAY\0PORCPT=rfc822;demo@example.test\0"
           b"Tpostmaster\0PNOTIFY=NEVER\0Tdemo+x@example.test\0\0",
      "envelope: F, MAIL P records, T and RCPT P records, final NUL (doc/internals.md)")
t.like(msg.decode(), r"\AReceived: from client\.example \(\[127\.0\.0\.1\]\)\n\tby mx\.example\.test \(tern\) with UTF8SMTP;\n",
       "Received: with UTF8SMTP for an SMTPUTF8 transaction (RFC 6531 3.7.3)")
r = one(st, mail="MAIL FROM:<>")
t.is_(smtprecv.envelope(st.queued()[-1][1])[0], "", "null sender: an empty F record")

# -- SMTPUTF8 (RFC 6531) --
c = st.conn()
c.cmd("EHLO client.example")
t.is_(c.cmd("MAIL FROM:<j\u00f6rg@b\u00fccher.example>"), "553 5.6.7 Non-ASCII address needs SMTPUTF8",
      "UTF-8 sender without SMTPUTF8: 553 5.6.7 (RFC 6531 3.5)")
t.is_(c.cmd("MAIL FROM:<j\u00f6rg@b\u00fccher.example> SMTPUTF8"), "250 2.1.0 Ok", "with SMTPUTF8: 250")
t.is_(c.cmd("RCPT TO:<\u00fcser@remote.example>"), "550 5.7.1 Relaying denied", "UTF-8 recipient parsed (then refused as remote)")
c.cmd("RSET")
c.cmd("MAIL FROM:<a@remote.example>")
t.is_(c.cmd("RCPT TO:<d\u00e9mo@example.test>"), "553 5.6.7 Non-ASCII address needs SMTPUTF8",
      "UTF-8 recipient in a transaction without SMTPUTF8: 553 5.6.7")
c.close()
stu = smtprecv.Setup(t, users=(("demo@example.test", "pw"), ("d\u00e9mo@example.test", "pw")))
r = one(stu, mail="MAIL FROM:<j\u00f6rg@b\u00fccher.example> SMTPUTF8", rcpts=("RCPT TO:<d\u00e9mo@example.test>",),
        data="Subject: \u00fcmlaut\r\n\r\n\u00e9\r\n.\r\n".encode())
t.is_(r, "250 2.0.0 Ok: queued", "an SMTPUTF8 message to a UTF-8 local user")
t.is_(smtprecv.envelope(stu.queued()[-1][1]), ("j\u00f6rg@b\u00fccher.example", ["SMTPUTF8"], [("d\u00e9mo@example.test", [])]),
      "UTF-8 addresses in the envelope")

# -- no zombie, no stray pipe: $QUEUE is reaped before the reply --
r, c = one(st, keep=True)
tcpserver = st.inst.procs[-1].pid
with open("/proc/%d/task/%d/children" % (tcpserver, tcpserver)) as f:
    out = f.read().split()
kids = []
for pid in out:
    try:
        with open("/proc/%s/task/%s/children" % (pid, pid)) as f:
            kids += f.read().split()
    except OSError:
        pass
t.ok(len(out) == 1 and kids == [], "after the reply smtp-recv has no child left", (out, kids))
fds = os.listdir("/proc/%s/fd" % out[0]) if out else []
t.ok(len(fds) <= 6, "and no pipe left open", fds)
c.close()

# -- end to end with the real queue (default QUEUE: $TERN_LIBEXEC/queue-add) --
if not (os.path.exists(os.path.join(ternlib.BUILD, "queue-add")) and os.path.exists(os.path.join(ternlib.BUILD, "queue-store"))):
    t.ok(False, "build/queue-add and build/queue-store are needed for the end-to-end tests")
else:
    sr = smtprecv.Setup(t, real=True)
    r = one(sr, mail="MAIL FROM:<a@remote.example> BODY=8BITMIME", rcpts=("RCPT TO:<demo@example.test> NOTIFY=SUCCESS",),
            data=b"Subject: real queue\r\n\r\nhello queue\r\n..dot\r\n.\r\n")
    t.is_(r, "250 2.0.0 Ok: queued", "real queue: 250 once queue-store made it durable")
    inc = os.listdir(sr.inst.path("queue", "incoming"))
    t.is_(len(inc), 1, "one file in queue/incoming")
    if inc:
        with open(sr.inst.path("queue", "incoming", inc[0]), "rb") as f:
            data = f.read()
        t.ok(data.startswith(b"tern-queue-1 "), "queue file magic (doc/internals.md)")
        off = int(data[13:23])
        hdr = data[24:off]
        t.ok(b"\0Fa@remote.example\0PBODY=8BITMIME\0Tdemo@example.test\0PNOTIFY=SUCCESS\0\0" in hdr,
             "queue file envelope: F, P, T, P records from smtp-recv", hdr)
        t.ok(data[off:].startswith(b"Received: from client.example") and data[off:].endswith(b"\n\nhello queue\n.dot\n"),
             "queue file body: Received: line then the message with LF ends", data[off:])
    # disconnect in the middle: nothing in incoming/ or tmp/
    c = sr.conn()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<a@remote.example>")
    c.cmd("RCPT TO:<demo@example.test>")
    c.cmd("DATA")
    c.send(b"Subject: cut\r\n\r\n" + b"x" * 100000)
    c.close()
    t.ok(sr.wait_log(r"reason=disconnect during=DATA"), "real queue: client gone during DATA")
    time.sleep(0.5)
    t.is_(len(os.listdir(sr.inst.path("queue", "incoming"))), 1, "real queue: the cut message is not queued")
    t.ok(smtprecv.wait_for(lambda: os.listdir(sr.inst.path("queue", "tmp")) == []), "real queue: no temp file left")
    c = sr.conn()
    c.cmd("EHLO client.example")
    c.cmd("MAIL FROM:<a@remote.example>")
    c.cmd("RCPT TO:<demo@example.test>")
    c.send(b"BDAT 10\r\n12345\r\n789BDAT 100\r\npartial")
    c.reply()
    c.close()
    t.ok(sr.wait_log(r"reason=disconnect during=BDAT"), "real queue: client gone during BDAT")
    time.sleep(0.5)
    t.is_(len(os.listdir(sr.inst.path("queue", "incoming"))), 1, "real queue: the cut BDAT message is not queued")
    t.ok(smtprecv.wait_for(lambda: os.listdir(sr.inst.path("queue", "tmp")) == []), "real queue: no temp file left after BDAT")
t.done()
