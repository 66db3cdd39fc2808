#!/usr/bin/python3
# smtp-recv: recipient checks at RCPT time (RFC 5321 4.1.1.3, 4.5.1,
# 4.5.3.1.10): local users and aliases, +detail, postmaster, unknown
# users, relaying, the recipient limit, several recipients in one message.
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib
import smtprecv

t = ternlib.TAP()
st = smtprecv.Setup(t, env={"SMTP_MAXERRORS": "0"},
                    domains=("example.test", "Other.Example", "localhost"),
                    users=(("demo@example.test", "pw"), ("Mixed.Case@other.example", "pw")),
                    aliases=("postmaster: demo@example.test", "info: demo@example.test",
                             "sales@other.example: demo@example.test"))

c = st.conn()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<sender@remote.example>")
ok = "250 2.1.5 Ok"
nouser = "550 5.1.1 No such user here"
for rcpt, want, name in (
        ("<demo@example.test>", ok, "a user of users.cdb"),
        ("<DEMO@Example.TEST>", ok, "local part and domain in any case"),
        ("<demo+folder@example.test>", ok, "user+detail: the user's address"),
        ("<demo+a+b@example.test>", ok, "+detail with another '+' in it"),
        ("<mixed.case@OTHER.example>", ok, "a user of a second local domain"),
        ("<info@example.test>", ok, "a bare alias (aliases.cdb key 'local')"),
        ("<info+x@other.example>", ok, "bare alias with +detail, in any local domain"),
        ("<sales@other.example>", ok, "an alias local@domain"),
        ("<postmaster@example.test>", ok, "postmaster@local-domain"),
        ("<POSTMASTER@other.example>", ok, "Postmaster in capitals (RFC 5321 4.5.1)"),
        ("<postmaster>", ok, "bare <postmaster> (RFC 5321 4.1.1.3)"),
        ("<PostMaster>", ok, "bare <PostMaster>"),
        ("<@relay.example:demo@example.test>", ok, "a source route is ignored (RFC 5321 4.1.1.3)"),
        ("<\"demo\"@example.test>", ok, "a quoted local part that needs no quotes"),
        ("<nobody@example.test>", nouser, "unknown user: 550 5.1.1"),
        ("<nobody+demo@example.test>", nouser, "unknown user with a +detail"),
        ("<sales@example.test>", nouser, "an alias of another domain does not match"),
        ("<+demo@example.test>", nouser, "empty user before '+'"),
        ("<demo@remote.example>", "550 5.7.1 Relaying denied", "remote domain without RELAYCLIENT: 550 5.7.1"),
        ("<postmaster@remote.example>", "550 5.7.1 Relaying denied", "remote postmaster is relaying too"),
        ("<demo@[127.0.0.1]>", "550 5.7.1 Relaying denied", "an address literal is not local"),
        ("<>", "501 5.1.3 Bad recipient address syntax", "<> is no recipient: 501 5.1.3"),
):
    t.is_(c.cmd("RCPT TO:" + rcpt), want, "RCPT TO:%s: %s" % (rcpt, name))
t.like(st.log(), r"smtp-recv: info: rcpt ip=127\.0\.0\.1 to=<nobody@example\.test> result=550", "refused recipients are logged")
c.cmd("RSET")

# -- the recipient limit: SMTP_MAXRCPT=5 --
stl = smtprecv.Setup(t, env={"SMTP_MAXRCPT": "5"})
c = stl.conn()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<sender@remote.example>")
got = [c.cmd("RCPT TO:<demo+%d@example.test>" % i) for i in range(7)]
t.is_(got[:5], [ok] * 5, "five recipients accepted")
t.is_(got[5:], ["452 4.5.3 Too many recipients"] * 2, "the sixth and seventh: 452 4.5.3 (RFC 5321 4.5.3.1.10)")
c.cmd("DATA")
t.is_(c.cmd("Subject: five\r\n\r\nx\r\n."), "250 2.0.0 Ok: queued", "the message goes to the five")
msg, env = stl.queued()[-1]
sender, mailp, rcpts = smtprecv.envelope(env)
t.is_([r for r, p in rcpts], ["demo+%d@example.test" % i for i in range(5)], "envelope: the five recipients, in order, +detail kept")
t.ok(b"\tfor <" not in msg, "no 'for' in Received: with several recipients")
c.cmd("QUIT")
c = st.conn()
c.cmd("EHLO client.example")

# -- multiple recipients, local and postmaster, and the domain lowercased --
c.cmd("MAIL FROM:<Sender@REMOTE.example>")
c.cmd("RCPT TO:<Demo@EXAMPLE.test>")
c.cmd("RCPT TO:<postmaster>")
c.cmd("RCPT TO:<nobody@example.test>")
c.cmd("RCPT TO:<info@other.example>")
c.cmd("DATA")
t.is_(c.cmd("x\r\n."), "250 2.0.0 Ok: queued", "a message to three recipients (one refused)")
sender, mailp, rcpts = smtprecv.envelope(st.queued()[-1][1])
t.is_(sender, "Sender@remote.example", "sender: domain lowercased, local part kept")
t.is_([r for r, p in rcpts], ["Demo@example.test", "postmaster", "info@other.example"],
      "recipients: refused one left out, bare postmaster without a domain")
c.cmd("QUIT")

# -- RELAYCLIENT set (even empty): this client may relay --
st2 = smtprecv.Setup(t, env={"RELAYCLIENT": ""})
c = st2.conn()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<demo@example.test>")
t.is_(c.cmd("RCPT TO:<someone@remote.example>"), ok, "RELAYCLIENT: a remote recipient is accepted")
t.is_(c.cmd("RCPT TO:<x@[192.0.2.1]>"), ok, "RELAYCLIENT: an address literal is accepted")
t.is_(c.cmd("RCPT TO:<nobody@example.test>"), nouser, "RELAYCLIENT: unknown local users are still refused")
c.cmd("DATA")
t.is_(c.cmd("x\r\n."), "250 2.0.0 Ok: queued", "relayed message queued")
t.is_([r for r, p in smtprecv.envelope(st2.queued()[-1][1])[2]], ["someone@remote.example", "x@[192.0.2.1]"],
      "envelope holds the remote recipients")
c.cmd("QUIT")

# -- no etc/users.cdb and no etc/aliases.cdb: no entries, postmaster still --
st3 = smtprecv.Setup(t, users=(), aliases=())
for f in ("etc/users.cdb", "etc/aliases.cdb"):
    try:
        os.unlink(st3.inst.path(f))
    except FileNotFoundError:
        pass
c = st3.conn()
c.cmd("EHLO client.example")
c.cmd("MAIL FROM:<a@remote.example>")
t.is_(c.cmd("RCPT TO:<demo@example.test>"), nouser, "without users.cdb: 550 5.1.1")
t.is_(c.cmd("RCPT TO:<postmaster@example.test>"), ok, "without the cdbs postmaster is still accepted")
c.cmd("QUIT")

t.done()
