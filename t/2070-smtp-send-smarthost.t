#!/usr/bin/python3
# smtp-send -H: smarthosts in order (host, host:port, [v6addr]:port, a name
# resolved through mxlookup -a), recipients of any domain, AUTH PLAIN or
# LOGIN (RFC 4954; PLAIN preferred) with the credentials of -a FILE.
import os
import socket
import sys
import threading
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtpscript
import dnsserver

t = ternlib.TAP()
dns = dnsserver.DNSServer({"relay.test": {"A": ["127.0.0.1"]}, "gone.test": "SERVFAIL"})
dns.start(t)
cl = smtpscript.Client(t, env={"DNSSERVER": "127.0.0.1:%d" % dns.port, "RES_OPTIONS": "timeout:1 attempts:1"})
authfile = os.path.join(cl.root, "auth")
with open(authfile, "w") as f:
    f.write("relayuser s3cret pass phrase\nsecond line ignored\n")
RCPTS = ["bob@x.test", "carol@y.test"]
OK = ["ok %s 250 2.0.0 queued as 42" % r for r in RCPTS]


def send(hosts, auth=True, rcpts=RCPTS):
    args = ["-f", "a@b.test"]
    for h in hosts:
        args += ["-H", h]
    if auth:
        args += ["-a", authfile]
    return cl.send(args + ["--"] + rcpts)


srv = smtpscript.Server(t, ext=["PIPELINING", "AUTH LOGIN PLAIN"])
code, out, err = send(["127.0.0.1:%d" % srv.port])
t.is_((code, out), (0, OK), "smarthost: recipients of two domains in one transaction")
t.is_(srv.session().auth, ("PLAIN", "relayuser", "s3cret pass phrase"),
      "AUTH PLAIN preferred, user and password from the -a file (the password is the rest of the line)")
t.ok(srv.session().commands()[1].startswith("AUTH PLAIN "), "PLAIN with the initial response (RFC 4954 4)")
t.ok("s3cret" not in err, "no password in the log")
t.like(err, r"smtp-send: info: auth host=127\.0\.0\.1 mechanism=PLAIN status=235", "logged")

srv = smtpscript.Server(t, ext=["AUTH LOGIN"])
code, out, err = send(["127.0.0.1:%d" % srv.port])
t.is_((code, srv.session().auth), (0, ("LOGIN", "relayuser", "s3cret pass phrase")), "only LOGIN offered: AUTH LOGIN")
srv = smtpscript.Server(t, ext=["AUTH=LOGIN"])
code, out, err = send(["127.0.0.1:%d" % srv.port])
t.is_(srv.session().auth, ("LOGIN", "relayuser", "s3cret pass phrase"), "the old AUTH=LOGIN form is understood")

srv = smtpscript.Server(t, ext=["PIPELINING"])
code, out, err = send(["127.0.0.1:%d" % srv.port])
t.is_((code, out, srv.session().auth), (0, OK, None), "AUTH not offered: sent without it")
t.like(err, r"offers no AUTH PLAIN or LOGIN", "with a warning")

srv = smtpscript.Server(t, ext=["AUTH PLAIN"])
code, out, err = send(["127.0.0.1:%d" % srv.port], auth=False)
t.ok(code == 0 and srv.session().auth is None and not any(c.startswith("AUTH") for c in srv.session().commands()),
     "no -a: no AUTH even when offered")

bad = smtpscript.Server(t, ext=["AUTH PLAIN"], script={"auth": "535 5.7.8 authentication failed"})
code, out, err = send(["127.0.0.1:%d" % bad.port])
t.is_((code, out), (111, ["defer %s 535 5.7.8 authentication failed" % r for r in RCPTS]),
      "AUTH refused, no other smarthost: deferred with the reply, exit 111")
bad = smtpscript.Server(t, ext=["AUTH PLAIN"], script={"auth": "535 5.7.8 authentication failed"})
good = smtpscript.Server(t, ext=["AUTH PLAIN"])
code, out, err = send(["127.0.0.1:%d" % bad.port, "127.0.0.1:%d" % good.port])
t.is_((code, out), (0, OK), "AUTH refused: the next smarthost")

# -- AUTH cancelled with "*" (RFC 4954 4): the reply to the cancel decides;
# a connection lost instead of that reply is a lost connection, never a
# reply read from what came before --

def cancel_server(after_cancel):
    """Answers AUTH with a 334 that asks for more, then after_cancel(conn)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    t.at_exit(ls.close)

    def serve():
        c, _ = ls.accept()
        f = c.makefile("rb")
        c.sendall(b"220 cancel.test ESMTP\r\n")
        for line in f:
            u = line.upper()
            if u.startswith(b"EHLO"):
                c.sendall(b"250-cancel.test\r\n250 AUTH PLAIN\r\n")
            elif u.startswith(b"AUTH"):
                c.sendall(b"334 \r\n")
            elif line.strip() == b"*":
                after_cancel(c)
                break
            elif u.startswith(b"QUIT"):
                c.sendall(b"221 bye\r\n")
                break
            else:
                c.sendall(b"500 what\r\n")
        c.close()
    threading.Thread(target=serve, daemon=True).start()
    return ls.getsockname()[1]


def cut_reply(c):
    c.sendall(b"535-" + b"A" * 600 + b"\r\n535-more\r\n")   # never finished
    c.shutdown(socket.SHUT_WR)


p = cancel_server(cut_reply)
code, out, err = send(["127.0.0.1:%d" % p])
t.is_((code, out), (111, ["defer %s 4.4.2 127.0.0.1 [127.0.0.1]:%d: connection closed during AUTH" % (r, p) for r in RCPTS]),
      "AUTH cancelled, the connection lost in the middle of the reply: deferred 4.4.2, connection lost")
t.ok("AAAA" not in err, "nothing of the unfinished reply is taken for a reason")
p = cancel_server(lambda c: c.sendall(b"501 5.7.0 authentication cancelled\r\n"))
code, out, err = send(["127.0.0.1:%d" % p])
t.is_((code, out), (111, ["defer %s 501 5.7.0 authentication cancelled" % r for r in RCPTS]),
      "AUTH cancelled, answered 501: deferred with that reply")

# -- the forms of -H --
p = smtpscript.free_port()
good = smtpscript.Server(t)
code, out, err = send(["127.0.0.1:%d" % p, "relay.test:%d" % good.port], auth=False)
t.is_((code, out), (0, OK), "the first smarthost refuses connections: the second, a name resolved through DNS (mxlookup -a)")
t.like(err, r"connect host=relay\.test ip=127\.0\.0\.1 port=%d status=connected" % good.port, "reached by name")
code, out, err = send(["127.0.0.1:%d" % good.port], auth=False, rcpts=["bob@x.test"])
t.is_(code, 0, "host:port")
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1", "--", "bob@x.test"], env={"SMTPSEND_PORT": str(good.port)})
t.is_((code, out), (0, ["ok bob@x.test 250 2.0.0 queued as 42"]), "host without a port: SMTPSEND_PORT")
try:
    v6 = smtpscript.Server(t, host="::1")
except OSError:
    v6 = None
if v6:
    code, out, err = send(["[::1]:%d" % v6.port], auth=False)
    t.is_((code, out), (0, OK), "[v6addr]:port")
    v6b = smtpscript.Server(t, host="::1")
    code, out, err = send(["[IPv6:::1]:%d" % v6b.port], auth=False)
    t.is_((code, out), (0, OK), "[IPv6:v6addr]:port")
else:
    t.ok(True, "# SKIP no IPv6 loopback")
    t.ok(True, "# SKIP no IPv6 loopback")

code, out, err = send(["nx.test:25", "gone.test:25"], auth=False)
t.is_((code, out), (111, ["defer %s 4.4.3 cannot resolve the smarthost nx.test: 5.1.2 nx.test: no such domain (NXDOMAIN)" % r for r in RCPTS]),
      "smarthost names that do not resolve: deferred 4.4.3, exit 111")

code, out, err = send(["127.0.0.1:%d" % good.port], auth=False, rcpts=[])
t.is_(code, 100, "no recipient: exit 100")

# -- the -a file --
code, out, err = cl.send(["-f", "a@b.test", "-H", "127.0.0.1:%d" % good.port, "-a", "/nonexistent/auth", "--", "bob@x.test"])
t.ok(code == 111 and out[0].startswith("defer bob@x.test 4.3.0 read the -a file: "), "an unreadable -a file: deferred, exit 111", out)
with open(authfile, "w") as f:
    f.write("onlyuser\n")
code, out, err = send(["127.0.0.1:%d" % good.port], rcpts=["bob@x.test"])
t.is_((code, out), (111, ['defer bob@x.test 4.3.5 the -a file has no "user password" first line']), "a -a file without a password: deferred")
t.done()
