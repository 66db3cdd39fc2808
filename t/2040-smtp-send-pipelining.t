#!/usr/bin/python3
# smtp-send: PIPELINING (RFC 2920). Offered: MAIL, every RCPT and DATA go in
# one write (the server finds them all waiting when it answers MAIL), the
# message only after the 354. Not offered: one command, one reply.
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript

t = ternlib.TAP()
cl = smtpscript.Client(t)
rcpts = ["r%d@x.test" % i for i in range(5)]

srv = smtpscript.Server(t, ext=["PIPELINING", "8BITMIME"])
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--"] + rcpts)
s = srv.session()
t.is_(code, 0, "with PIPELINING: exit 0")
t.is_(len(out), 5, "five result lines")
t.is_(s.pending_at("MAIL"), len(rcpts) + 1, "with PIPELINING: 5 RCPTs and DATA already received when MAIL is answered")
t.is_(s.pending_at("DATA"), 0, "DATA ends the group: nothing sent before its 354 (RFC 2920 3.1)")
t.is_(s.commands()[:8], ["EHLO client.test", "MAIL FROM:<a@b.test>"] + ["RCPT TO:<%s>" % r for r in rcpts] + ["DATA"],
      "in order: MAIL, the RCPTs, DATA")

srv = smtpscript.Server(t, ext=["8BITMIME"])
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--"] + rcpts)
s = srv.session()
t.is_(code, 0, "without PIPELINING: exit 0")
t.ok(all(e[2] == 0 for e in s.events if e[0] == "S"), "without PIPELINING: no command arrives before the previous reply",
     [e for e in s.events if e[0] == "S"])
t.is_(s.commands()[1:8], ["MAIL FROM:<a@b.test>"] + ["RCPT TO:<%s>" % r for r in rcpts] + ["DATA"], "same commands, one at a time")

# the same batch against a server refusing MAIL: every reply read, none taken for a recipient
srv = smtpscript.Server(t, ext=["PIPELINING"], script={"mail": "553 5.7.1 no", "rcpt": "503 5.5.1 need MAIL",
                                                       "data": "503 5.5.1 need RCPT"})
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % srv.port, "--"] + rcpts)
t.is_(out, ["fail %s 553 5.7.1 no" % r for r in rcpts], "PIPELINING, MAIL refused: the 503s to RCPT and DATA are read and ignored")
t.is_(srv.session().commands()[-1], "QUIT", "then QUIT")
t.done()
