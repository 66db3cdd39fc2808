#!/usr/bin/python3
# Every limit, before and after the login: the line caps (12,288 octets
# before, 1,024 after), POP3_MAXERRORS bad commands, the idle timeout
# (POP3_TIMEOUT, 600 s by default, short here), which never deletes.

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Pop3Instance(t)
f1 = inst.put("Subject: one\n\nx\n")
port = inst.pop3(env={"POP3_MAXERRORS": "5"})


def login(c):
    c.cmd("USER demo@example.test")
    return c.cmd("PASS demo")


# -- line length --
c = ternlib.Pop3Conn(port)
t.is_(c.cmd("USER " + "x" * 12300), "-ERR Line too long", "a line over 12,288 octets before the login: -ERR")
t.is_(c.cmd("CAPA"), "+OK Capability list follows", "and the session goes on")
c.multi()
t.is_(c.cmd("NOOP " + "x" * 12270), "-ERR Not logged in", "a line just under the cap is read as a command")
t.like(login(c), r"^\+OK Logged in", "logged in")
t.is_(c.cmd("NOOP " + "x" * 1100), "-ERR Line too long", "a line over 1,024 octets after the login: -ERR")
t.is_(c.cmd("STAT"), "+OK 1 19", "and the session goes on")
t.is_(c.cmd("LIST " + "0" * 1000 + "1"), "+OK 1 19", "a long line under the cap is fine")
c.cmd("QUIT")
c.close()

# -- bad commands --
c = ternlib.Pop3Conn(port)
c.send("BAD1\r\nBAD2\r\nBAD3\r\nBAD4\r\nBAD5\r\nNOOP\r\n")
out = c.rest().decode()
c.close()
t.is_(out, "-ERR Unknown command\r\n" * 5 + "-ERR Too many errors, closing connection\r\n",
      "POP3_MAXERRORS (5) bad commands before the login: the connection is closed")
c = ternlib.Pop3Conn(port)
login(c)
c.send("DELE 1\r\nXX\r\nRETR\r\nYY\r\nTOP 1\r\nZZ\r\nSTAT\r\n")
out = c.rest().decode()
c.close()
t.is_(out, "+OK Message deleted\r\n-ERR Unknown command\r\n-ERR Syntax: a message number\r\n-ERR Unknown command\r\n"
           "-ERR Syntax: TOP message lines\r\n-ERR Unknown command\r\n-ERR Too many errors, closing connection\r\n",
      "and after it: closed at the fifth, without entering UPDATE")
t.ok(os.path.exists(f1), "the message marked deleted is still there")
t.like(inst.read("log/stderr"), r"pop3-serve: info: end .* reason=errors", "logged")

# -- idle timeouts --
port = inst.pop3(env={"POP3_TIMEOUT": "2"})
c = ternlib.Pop3Conn(port, timeout=10)
t0 = time.monotonic()
out = c.rest()
dt = time.monotonic() - t0
c.close()
t.is_(out, b"-ERR Idle timeout, closing connection\r\n", "an idle client before the login is told and dropped ...")
t.ok(dt >= 1.8, "... after POP3_TIMEOUT (2 s here), not before (%.1f s)" % dt)
c = ternlib.Pop3Conn(port, timeout=10)
c.send("USER demo@exa")
time.sleep(1.2)
c.send("mple.te")
time.sleep(1.2)
c.send("st\r\n")
out = c.rest()
c.close()
t.is_(out, b"-ERR Idle timeout, closing connection\r\n", "a line trickled in too slowly counts as idle: the deadline is per line")
c = ternlib.Pop3Conn(port, timeout=10)
login(c)
t.is_(c.cmd("DELE 1"), "+OK Message deleted", "after the login, DELE ...")
t0 = time.monotonic()
out = c.rest()
dt = time.monotonic() - t0
c.close()
t.is_(out, b"-ERR Idle timeout, closing connection\r\n", "... then idle: told and dropped ...")
t.ok(dt >= 1.8, "... after POP3_TIMEOUT, not before (%.1f s)" % dt)
t.ok(os.path.exists(f1), "an autologout never deletes (RFC 1939 3)")
t.like(inst.read("log/stderr"), r"pop3-serve: info: end .* reason=timeout", "logged")

# -- the defaults are the RFC's --
port = inst.pop3()
c = ternlib.Pop3Conn(port, timeout=3)
try:
    c.line()
    t.ok(False, "without POP3_TIMEOUT the session is not dropped within 3 s")
except OSError:
    t.ok(True, "without POP3_TIMEOUT the session is not dropped within 3 s (the default is 600 s)")
c.close()

t.done()
