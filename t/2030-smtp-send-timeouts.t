#!/usr/bin/python3
# smtp-send: replies slower than SMTPSEND_TIMEOUT and connections that drop
# at each stage (RFC 5321 4.5.3.2). Before the end of data nothing was
# delivered, so the recipients not yet answered go to the next target; a
# timeout after the final dot defers them there (the message may have
# arrived), no other target is tried. Also connection refused and
# SMTPSEND_CONNECT_TIMEOUT.
import os
import re
import socket
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript

t = ternlib.TAP()
cl = smtpscript.Client(t, env={"SMTPSEND_TIMEOUT": "1"})
RCPTS = ["bob@x.test", "carol@x.test"]
OK = ["ok %s 250 2.0.0 queued as 42" % r for r in RCPTS]


def send(servers, rcpts=RCPTS):
    args = ["-f", "a@b.test"]
    for srv in servers:
        args += ["-H", "127.0.0.1:%d" % srv.port]
    start = time.time()
    code, out, err = cl.send(args + ["--"] + rcpts)
    return code, out, err, time.time() - start


def slow(stage, reply, ext=None):
    return smtpscript.Server(t, ext=ext, script={stage: ("sleep", 3, reply)})


# -- slow replies --
srv = slow("greeting", "220 late")
code, out, err, took = send([srv])
t.is_(code, 111, "greeting slower than SMTPSEND_TIMEOUT=1: exit 111")
t.ok(len(out) == 2 and all(re.match(r"defer \S+ 4\.4\.2 127\.0\.0\.1 \[127\.0\.0\.1\]:%d: timed out during greeting$" % srv.port, l)
                           for l in out), "deferred: 4.4.2 HOST [IP]:PORT: timed out during greeting", out)
t.ok(took >= 0.9, "it did wait SMTPSEND_TIMEOUT=1 (%.1f s)" % took)

for stage, reply in (("greeting", "220 late"), ("ehlo", "250 late"), ("mail", "250 late"), ("data", "354 late")):
    srv = slow(stage, reply)
    code, out, err, took = send([srv, smtpscript.Server(t)])
    t.is_((code, out), (0, OK), "%s slower than the timeout: the next target takes the message" % stage)

for pipelining in (True, False):
    srv = smtpscript.Server(t, ext=["PIPELINING"] if pipelining else [],
                            script={"rcpt": {"carol@x.test": ("sleep", 3, "250 late"), "*": "250 ok"}})
    nxt = smtpscript.Server(t)
    code, out, err, took = send([srv, nxt], rcpts=["bob@x.test", "carol@x.test", "dave@x.test"])
    t.is_((code, out), (0, ["ok %s 250 2.0.0 queued as 42" % r for r in ("bob@x.test", "carol@x.test", "dave@x.test")]),
          "a RCPT reply times out (%s PIPELINING): the next target gets every recipient not yet final" % ("with" if pipelining else "without"))
    t.is_([c for c in nxt.session().commands() if c.startswith("RCPT")],
          ["RCPT TO:<bob@x.test>", "RCPT TO:<carol@x.test>", "RCPT TO:<dave@x.test>"],
          "accepted but undelivered recipients are sent again")

srv = smtpscript.Server(t, script={"rcpt": {"bob@x.test": "550 5.1.1 no", "carol@x.test": ("sleep", 3, "250 late"),
                                            "*": "250 ok"}})
nxt = smtpscript.Server(t)
code, out, err, took = send([srv, nxt])
t.is_(out, ["fail bob@x.test 550 5.1.1 no", "ok carol@x.test 250 2.0.0 queued as 42"],
      "a recipient refused before the timeout stays refused; the other goes to the next target")
t.is_([c for c in nxt.session().commands() if c.startswith("RCPT")], ["RCPT TO:<carol@x.test>"],
      "the next target sees only the recipient still pending")

srv = slow("final", "250 late")
nxt = smtpscript.Server(t)
code, out, err, took = send([srv, nxt])
t.is_(code, 0, "the final reply times out: exit 0 (a transaction took place)")
t.ok(len(out) == 2 and all(re.match(r"defer \S+ 4\.4\.2 127\.0\.0\.1 \[127\.0\.0\.1\]:%d: timed out after the end of data \(the message may have been delivered\)$" % srv.port, l)
                           for l in out), "deferred: 4.4.2 ... after the end of data", out)
t.ok(nxt.session(timeout=1) is None, "no other target after the final dot")

# -- disconnects --
for stage in ("greeting", "ehlo", "mail", "rcpt", "data"):
    srv = smtpscript.Server(t, script={stage: "close"})
    code, out, err, took = send([srv])
    what = {"greeting": "greeting", "ehlo": "EHLO", "mail": "MAIL", "rcpt": "RCPT", "data": "DATA"}[stage]
    t.ok(code == 111 if stage in ("greeting", "ehlo", "mail") else code == 0, "server closes at %s: exit code" % what, (code, out))
    t.ok(len(out) == 2 and all(re.match(r"defer \S+ 4\.4\.2 127\.0\.0\.1 \[127\.0\.0\.1\]:\d+: connection closed during %s$" % what, l) for l in out),
         "server closes at %s: deferred, 4.4.2 connection closed during %s" % (what, what), out)
    srv = smtpscript.Server(t, script={stage: "close"})
    code, out, err, took = send([srv, smtpscript.Server(t)])
    t.is_((code, out), (0, OK), "server closes at %s: the next target takes the message" % what)

srv = smtpscript.Server(t, script={"body": "close"})
nxt = smtpscript.Server(t)
big = b"Subject: big\n\n" + (b"x" * 70 + b"\n") * 60000
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "-H", "127.0.0.1:%d" % nxt.port, "--"] + RCPTS, body=big)
t.is_((code, out), (0, OK), "server closes during the message data (4 MB): the next target takes it")
t.is_(nxt.session().message, big.replace(b"\n", b"\r\n"), "and gets it whole (the message was read again from its start)")
t.like(err, r"stage=message data status=", "the lost connection is logged")

srv = smtpscript.Server(t, script={"final": "close"})
code, out, err, took = send([srv, smtpscript.Server(t)])
t.ok(code == 0 and len(out) == 2 and all(re.match(r"defer \S+ 4\.4\.2 .*connection closed after the end of data", l) for l in out),
     "server closes after the final dot: deferred, no other target", out)

srv = smtpscript.Server(t, script={"greeting": "this is not SMTP"})
code, out, err, took = send([srv])
t.ok(code == 111 and all(re.match(r"defer \S+ 4\.5\.0 .*bad reply during greeting", l) for l in out),
     "a reply that is not SMTP: 4.5.0 bad reply", out)

# -- connecting --
p = smtpscript.free_port()
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % p, "--", "bob@x.test"])
t.is_((code, out), (111, ["defer bob@x.test 4.4.1 127.0.0.1 [127.0.0.1]:%d: connection refused" % p]),
      "connection refused: 4.4.1, exit 111")
t.like(err, r"smtp-send: info: connect host=127\.0\.0\.1 ip=127\.0\.0\.1 port=%d status=refused" % p, "logged")

# a listening socket whose queue is full: the SYN goes unanswered
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(0)
filler = socket.create_connection(lsock.getsockname(), timeout=2)
start = time.time()
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % lsock.getsockname()[1], "--", "bob@x.test"],
                         env={"SMTPSEND_CONNECT_TIMEOUT": "1", "SMTPSEND_TIMEOUT": "300"})
took = time.time() - start
t.is_((code, out), (111, ["defer bob@x.test 4.4.1 127.0.0.1 [127.0.0.1]:%d: connection timed out" % lsock.getsockname()[1]]),
      "no answer to the SYN: connection timed out, 4.4.1")
t.ok(took >= 0.9, "after waiting SMTPSEND_CONNECT_TIMEOUT=1 (%.1f s)" % took)
filler.close()
lsock.close()

code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % p, "--", "bob@x.test"], env={"SMTPSEND_TIMEOUT": "soon"})
t.is_((code, out), (111, ["defer bob@x.test 4.3.5 invalid $SMTPSEND_TIMEOUT"]), "a malformed SMTPSEND_TIMEOUT: deferred, exit 111")

# -- SMTPSEND_MAXTIME bounds the whole run: a server that answers every
# command in time, but slowly, cannot keep it forever --
steps = {"greeting": "220 slow.test ESMTP", "ehlo": "250 slow.test", "mail": "250 ok", "rcpt": "250 ok",
         "final": "250 2.0.0 queued, slowly"}
slowpoke = smtpscript.Server(t, ext=[], script={st: ("sleep", 2, r) for st, r in steps.items()})   # "data" must stay a plain 354
nxt = smtpscript.Server(t)
start = time.time()
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % slowpoke.port, "-H", "127.0.0.1:%d" % nxt.port, "--", "bob@x.test"],
                         env={"SMTPSEND_TIMEOUT": "30", "SMTPSEND_MAXTIME": "3"})
took = time.time() - start
t.ok(code == 111 and len(out) == 1 and re.match(r"defer bob@x\.test 4\.4\.2 127\.0\.0\.1 \[127\.0\.0\.1\]:%d: out of time \(SMTPSEND_MAXTIME\) during (EHLO|greeting)$"
                                               % slowpoke.port, out[0]),
     "replies 2 s apart, SMTPSEND_MAXTIME=3: deferred 4.4.2, out of time (during EHLO)", (code, out))
t.ok(took >= 2.9, "after SMTPSEND_MAXTIME (%.1f s)" % took)
t.ok(nxt.session(timeout=1) is None, "out of time: no other target is tried")
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % p, "--", "bob@x.test"], env={"SMTPSEND_MAXTIME": "0"})
t.is_((code, out), (111, ["defer bob@x.test 4.3.5 invalid $SMTPSEND_MAXTIME"]), "SMTPSEND_MAXTIME=0: deferred, exit 111")
t.done()
