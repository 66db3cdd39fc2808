#!/usr/bin/python3
# smtp-send: 4xx and 5xx replies at each stage. Before MAIL is accepted a
# refusal sends smtp-send to the next target (and, if none is left, every
# recipient is deferred, exit 111); from MAIL on, the replies decide:
# 2xx ok, 4xx defer, 5xx fail, and they are final for this run.
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript

t = ternlib.TAP()
cl = smtpscript.Client(t)
RCPTS = ["bob@x.test", "carol@x.test"]


def send(servers, rcpts=RCPTS, ext=None):
    args = ["-f", "a@b.test"]
    for srv in servers:
        args += ["-H", "127.0.0.1:%d" % srv.port]
    return cl.send(args + ["--"] + rcpts)


def good():
    return smtpscript.Server(t)


# -- the greeting --
for reply in ("421 4.3.2 busy, try later", "554 5.3.2 no SMTP service here"):
    bad = smtpscript.Server(t, script={"greeting": reply})
    code, out, err = send([bad])
    c = reply.split(" ", 1)
    t.is_((code, out), (111, ["defer %s %s" % (r, reply) for r in RCPTS]),
          "greeting %s, no other target: every recipient deferred with the reply, exit 111" % c[0])
    t.is_(bad.session().commands(), ["QUIT"], "greeting %s: QUIT, nothing else" % c[0])
    bad = smtpscript.Server(t, script={"greeting": reply})
    ok = good()
    code, out, err = send([bad, ok])
    t.is_((code, out), (0, ["ok %s 250 2.0.0 queued as 42" % r for r in RCPTS]),
          "greeting %s: the next target takes the message" % c[0])

# -- EHLO and HELO --
srv = smtpscript.Server(t, script={"ehlo": "502 5.5.1 what is EHLO?"})
code, out, err = send([srv])
s = srv.session()
t.is_(code, 0, "EHLO refused with 5xx: HELO, then the transaction")
t.is_(s.commands()[:3], ["EHLO client.test", "HELO client.test", "MAIL FROM:<a@b.test>"],
      "HELO after EHLO's 502 (RFC 5321 3.2); no extension used after HELO (no SIZE)")
t.ok(s.pending_at("MAIL") == 0 and s.pending_at("RCPT") == 0, "no pipelining after HELO")

srv = smtpscript.Server(t, script={"ehlo": "502 5.5.1 no", "helo": "550 5.7.1 go away"})
code, out, err = send([srv])
t.is_((code, out), (111, ["defer %s 550 5.7.1 go away" % r for r in RCPTS]), "HELO refused too: deferred, exit 111")

srv = smtpscript.Server(t, script={"ehlo": "421 4.3.2 shutting down"})
code, out, err = send([srv, good()])
t.is_((code, out), (0, ["ok %s 250 2.0.0 queued as 42" % r for r in RCPTS]), "EHLO 421: the next target")
t.ok("HELO" not in " ".join(srv.session().commands()), "EHLO 421: no HELO")

# -- MAIL --
bad = smtpscript.Server(t, script={"mail": "451 4.3.0 try again"})
code, out, err = send([bad])
t.is_((code, out), (111, ["defer %s 451 4.3.0 try again" % r for r in RCPTS]), "MAIL 451, no other target: deferred, exit 111")
bad = smtpscript.Server(t, script={"mail": "451 4.3.0 try again"})
ok = good()
code, out, err = send([bad, ok])
t.is_((code, out), (0, ["ok %s 250 2.0.0 queued as 42" % r for r in RCPTS]), "MAIL 451: the next target")

bad = smtpscript.Server(t, script={"mail": "553 5.7.1 sender refused"})
ok = good()
code, out, err = send([bad, ok])
t.is_((code, out), (0, ["fail %s 553 5.7.1 sender refused" % r for r in RCPTS]),
      "MAIL 553: every recipient fails with the reply, exit 0")
t.ok(ok.session(timeout=1) is None, "MAIL 5xx: no other target tried")

# -- RCPT, per recipient --
for pipelining in (True, False):
    ext = ["PIPELINING"] if pipelining else []
    bad = smtpscript.Server(t, ext=ext, script={"rcpt": {"carol@x.test": "450 4.2.1 mailbox busy",
                                                         "dave@x.test": "550 5.1.1 no such user",
                                                         "*": "250 2.1.5 ok"}})
    ok = good()
    code, out, err = send([bad, ok], rcpts=["bob@x.test", "carol@x.test", "dave@x.test", "erin@x.test"])
    w = "with" if pipelining else "without"
    t.is_((code, out), (0, ["ok bob@x.test 250 2.0.0 queued as 42",
                            "defer carol@x.test 450 4.2.1 mailbox busy",
                            "fail dave@x.test 550 5.1.1 no such user",
                            "ok erin@x.test 250 2.0.0 queued as 42"]),
          "RCPT replies per recipient (%s PIPELINING): ok, defer, fail, ok" % w)
    t.ok(ok.session(timeout=1) is None, "the recipients answered are final: the next target is not tried (%s PIPELINING)" % w)

srv = smtpscript.Server(t, ext=[], script={"rcpt": "550 5.1.1 no"})
code, out, err = send([srv])
t.is_((code, out), (0, ["fail %s 550 5.1.1 no" % r for r in RCPTS]), "every RCPT refused: fail lines, exit 0")
t.is_(srv.session().commands()[-1], "QUIT", "without PIPELINING: no DATA when no recipient was accepted")

srv = smtpscript.Server(t, ext=["PIPELINING"], script={"rcpt": "550 5.1.1 no", "data": "554 5.5.1 no valid recipients"})
code, out, err = send([srv])
t.is_((code, out), (0, ["fail %s 550 5.1.1 no" % r for r in RCPTS]), "every RCPT refused with PIPELINING: DATA's 554 ignored")

srv = smtpscript.Server(t, ext=["PIPELINING"], script={"rcpt": "550 5.1.1 no"})
code, out, err = send([srv])
s = srv.session()
t.is_((code, out), (0, ["fail %s 550 5.1.1 no" % r for r in RCPTS]), "PIPELINING, every RCPT refused, yet DATA 354")
t.is_(s.data, b"", "the empty message was ended with a lone dot (RFC 2920 3.1)")

# RFC 5321 4.5.3.1.10: 552 to RCPT (too many recipients, or a full mailbox
# in some servers' words) is taken as 452: deferred, never failed
for pipelining in (True, False):
    srv = smtpscript.Server(t, ext=["PIPELINING"] if pipelining else [],
                            script={"rcpt": {"carol@x.test": "552 5.5.3 too many recipients", "*": "250 2.1.5 ok"}})
    code, out, err = send([srv])
    t.is_((code, out), (0, ["ok bob@x.test 250 2.0.0 queued as 42", "defer carol@x.test 552 5.5.3 too many recipients"]),
          "RCPT 552 (%s PIPELINING): deferred as a 452 would be, the others delivered" % ("with" if pipelining else "without"))
srv = smtpscript.Server(t, script={"rcpt": "552 5.2.2 mailbox full"})
code, out, err = send([srv])
t.is_((code, out), (0, ["defer %s 552 5.2.2 mailbox full" % r for r in RCPTS]), "every RCPT 552: every recipient deferred")

# -- DATA --
srv = smtpscript.Server(t, script={"data": "451 4.3.0 local problem"})
code, out, err = send([srv, good()])
t.is_((code, out), (0, ["defer %s 451 4.3.0 local problem" % r for r in RCPTS]),
      "DATA 451: deferred with the reply, no next target, exit 0 (a transaction took place)")
srv = smtpscript.Server(t, script={"data": "554 5.6.0 no thanks"})
code, out, err = send([srv])
t.is_((code, out), (0, ["fail %s 554 5.6.0 no thanks" % r for r in RCPTS]), "DATA 554: fail")

# -- the end of data --
srv = smtpscript.Server(t, script={"final": "452 4.3.1 insufficient storage"})
code, out, err = send([srv, good()])
t.is_((code, out), (0, ["defer %s 452 4.3.1 insufficient storage" % r for r in RCPTS]), "final 452: defer")
srv = smtpscript.Server(t, script={"final": "552 5.3.4 message too big"})
code, out, err = send([srv])
t.is_((code, out), (0, ["fail %s 552 5.3.4 message too big" % r for r in RCPTS]), "final 552: fail")
t.done()
