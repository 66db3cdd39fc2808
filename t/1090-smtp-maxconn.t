#!/usr/bin/python3
# 1090: the SMTP service's connection limit (etc/env/SMTP_MAXCONN, written
# into the run script by tern-setup as tcpserver -c): with a limit of 2,
# two clients get their greeting, a third waits without one (tcpserver
# leaves it in the listen queue) and gets it as soon as one of the two
# leaves; the queue socket admits the callers' total and 10 more; a value
# that is not a number from 1 to 1000 stops tern-setup.
import os, shutil, socket, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
stack = ternlib.FullStack(t, envdir={"SMTP_MAXCONN": 2})


def connect():
    s = socket.create_connection(("127.0.0.1", stack.smtp_port), timeout=30)
    s.settimeout(30)
    return s


def greeting(s):
    buf = b""
    while b"\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


run = open(stack.path("service", "smtp", "run")).read()
t.like(run, r"tcpserver [^\n]*-c 2 ", "tern-setup wrote -c 2 into the smtp run script")
t.like(open(stack.path("service", "queue-smtp", "run")).read(), r"s6-ipcserver -c 12 -C 12 ",
       "and sized the queue-smtp socket to the callers' total and 10 more")

a, b = connect(), connect()
t.like(greeting(a), r"^220 ", "the first client is greeted")
t.like(greeting(b), r"^220 ", "the second client is greeted")
c = connect()
# the third connection is accepted by the kernel, not by tcpserver: no
# greeting while two sessions run (a greeting here would mean no limit)
c.settimeout(3)
try:
    early = c.recv(4096)
except socket.timeout:
    early = b""
t.is_(early, b"", "a third client, over SMTP_MAXCONN=2, gets no greeting while both run")
a.sendall(b"QUIT\r\n")
t.like(greeting(a), r"^221 ", "the first client leaves")
a.close()
c.settimeout(30)
t.like(greeting(c), r"^220 ", "then the third is greeted")
for s in (b, c):
    s.sendall(b"QUIT\r\n")
    greeting(s)
    s.close()

# a bad value stops tern-setup with the variable's name
for bad in ("abc", "0", "1001", "-5"):
    root = tempfile.mkdtemp(prefix="maxconn-", dir=ternlib.TRASH)
    os.makedirs(os.path.join(root, "etc", "env"))
    with open(os.path.join(root, "etc", "env", "SMTP_MAXCONN"), "w") as f:
        f.write(bad + "\n")
    env = dict(os.environ, TERN_LIBEXEC=ternlib.BUILD)
    r = subprocess.run([os.path.join(ternlib.REPO, "bin", "tern-setup"), root], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = r.stderr.decode(errors="replace")
    t.ok(r.returncode == 111 and "etc/env/SMTP_MAXCONN: not a number from 1 to 1000" in err,
         "SMTP_MAXCONN=%s: tern-setup exits 111 naming it" % bad, (r.returncode, err[-300:]))
    t.ok(not os.path.exists(os.path.join(root, "service", "smtp", "run")), "and writes no smtp service")
    shutil.rmtree(root, ignore_errors=True)
t.done()
