#!/usr/bin/python3
# smtp-recv: PIPELINING (RFC 2920): commands sent in one packet get their
# replies in order, buffered and written together once the input runs dry.
import os
import socket
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()
st = smtprecv.Setup(t)

# -- a whole transaction in one packet, then the message, then QUIT --
s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
ternlib.recv_reply(s)
s.sendall(b"EHLO client.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<demo@example.test>\r\n"
          b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<postmaster@example.test>\r\nDATA\r\n")
time.sleep(0.3)
first = s.recv(65536).decode()
lines = first.split("\r\n")
t.is_(lines[-2], "354 End data with <CR><LF>.<CR><LF>", "all replies up to 354 arrive in one read: written together")
t.is_([l[:3] for l in lines[:-1] if not l.startswith("250-")],
      ["250", "250", "250", "550", "250", "354"], "replies in order: EHLO MAIL RCPT RCPT(550) RCPT DATA")
s.sendall(b"Subject: pipelined\r\n\r\nhi\r\n.\r\nQUIT\r\n")
rest = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    rest += chunk
s.close()
t.is_(rest.decode(), "250 2.0.0 Ok: queued\r\n221 2.0.0 mx.example.test closing connection\r\n",
      "end of data and QUIT pipelined: both answered")
sender, mailp, rcpts = smtprecv.envelope(st.queued()[-1][1])
t.is_([r for r, p in rcpts], ["demo@example.test", "postmaster@example.test"], "pipelined transaction queued for the accepted recipients")

# -- 200 commands in one write --
s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
ternlib.recv_reply(s)
s.sendall(b"HELO client.example\r\n" + b"NOOP\r\n" * 200 + b"QUIT\r\n")
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
s.close()
replies = out.decode().split("\r\n")[:-1]
t.is_(len(replies), 202, "202 replies to 202 pipelined commands")
t.ok(replies[1:201] == ["250 2.0.0 Ok"] * 200 and replies[-1].startswith("221"), "all in order")

# -- several messages on one connection, pipelined with swaks --
r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % st.port, "--pipeline", "--to", "demo@example.test,postmaster@example.test",
                    "--from", "swaks@remote.example", "--helo", "swaks.example", "--data", "Subject: swaks pipelined\n\nbody\n"],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
out = r.stdout.decode(errors="replace")
t.ok(r.returncode == 0 and "250 2.0.0 Ok: queued" in out, "swaks --pipeline delivers", out)
msg, env = st.queued()[-1]
t.ok(b"Subject: swaks pipelined" in msg, "swaks' pipelined message is queued")
t.is_(len(smtprecv.envelope(env)[2]), 2, "with both recipients")
t.done()
