#!/usr/bin/python3
# smtp-recv: HTTP requests on the SMTP port, root refusal, usage errors.
import os
import socket
import subprocess
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()
st = smtprecv.Setup(t)

# -- an HTTP verb as the first command: closed at once, no reply --
for req in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /submit HTTP/1.0\r\n\r\n", b"CONNECT mx:25 HTTP/1.1\r\n\r\n",
            b"HEAD / HTTP/1.1\r\n", b"PUT /x HTTP/1.1\r\n", b"OPTIONS * HTTP/1.1\r\n", b"DELETE /x HTTP/1.1\r\n",
            b"TRACE / HTTP/1.1\r\n", b"PATCH /x HTTP/1.1\r\n"):
    s = socket.create_connection(("127.0.0.1", st.port), timeout=10)
    ternlib.recv_reply(s)
    s.sendall(req)
    out = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    s.close()
    verb = req.split(b" ")[0].decode()
    t.is_(out, b"", "%s as the first command: no reply, connection closed" % verb)
t.ok(st.wait_log(r"smtp-recv: info: end ip=127\.0\.0\.1 reason=http verb=GET"), "the HTTP request is logged")
c = st.conn()
c.cmd("EHLO client.example")
t.is_(c.cmd("GET / HTTP/1.1"), "500 5.5.1 Unrecognized command", "GET after another command is just unknown")
c.close()

# -- never as root; usage --
prog = os.path.join(ternlib.BUILD, "smtp-recv")
if os.geteuid() == 0:
    r = subprocess.run([prog], input=b"", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=st.inst.env, timeout=10)
    t.is_((r.returncode, r.stdout), (100, b""), "as root: exit 100 before any greeting")
    t.like(r.stderr.decode(), r"smtp-recv: fatal: refusing to run as root", "with a message")
else:
    t.ok(True, "# SKIP not root")
    t.ok(True, "# SKIP not root")
r = st.inst.run([prog, "-x"], input=b"")
t.is_(r.returncode, 100, "an option: usage, exit 100")
r = st.inst.run([prog, "extra"], input=b"")
t.is_(r.returncode, 100, "an argument: usage, exit 100")

# -- not under tcpserver, over pipes: still works (ip=unknown) --
r = st.inst.run([prog], env={"QUEUE": smtprecv.FAKEQ, "FAKEQ_DIR": st.qdir},
                input=b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n")
t.ok(r.returncode == 0 and b"250 2.0.0 Ok: queued\r\n221 " in r.stdout, "on pipes without UCSPI variables", r.stdout + r.stderr)
t.like(st.queued()[-1][0].decode(), r"\AReceived: from x \(\[unknown\]\)", "Received: says [unknown]")
t.is_(r.returncode, 0, "exit 0 after QUIT")
t.done()
