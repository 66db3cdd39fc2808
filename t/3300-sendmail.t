#!/usr/bin/python3
# 3300: sendmail, the command line local programs use: options, -t,
# the headers it adds, the envelope it queues, and its exit codes.
import os, re, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
inst = ternlib.Instance(t)


def queued():
    """The queue files, as (records, body) pairs, then emptied."""
    out = []
    d = inst.path("queue", "incoming")
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            data = fh.read()
        off = int(data[13:23])
        recs = data[24:off].split(b"\0")
        recs = recs[:recs.index(b"")]
        out.append((recs, data[off:]))
        os.unlink(os.path.join(d, f))
    return out


def sm(args, msg, env=None):
    return inst.run(["sendmail"] + args, input=msg, env=env)


# --- plain use: recipients on the command line, headers added
r = sm(["demo@example.test"], "Subject: plain\n\nhello\n")
t.is_(r.returncode, 0, "sendmail RCPT exits 0")
q = queued()
t.is_(len(q), 1, "one message queued")
recs, body = q[0] if q else ([], b"")
t.ok(any(x.startswith(b"F") and x.endswith(b"@mx.example.test") for x in recs),
     "default sender: user@me", recs)
t.ok(b"Tdemo@example.test" in recs, "the recipient in a T record")
b = body.decode(errors="replace")
t.like(b, r"^Received: \(from \S+ uid \d+\)\n\tby mx\.example\.test \(tern sendmail\);\n\t\w{3}, ", "a Received: line first")
t.like(b, r"\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n", "Date: added")
t.like(b, r"\nMessage-ID: <[^@\s>]+@mx\.example\.test>\n", "Message-ID: added")
t.like(b, r"\nFrom: \S+@mx\.example\.test\n", "From: added")
t.like(b, r"\nSubject: plain\n\nhello\n$", "the message follows, with its blank line and body")

# --- headers already there are kept, not doubled
sm(["demo@example.test"], "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\nFrom: me@x.test\n\nbody\n")
b = queued()[0][1].decode()
t.is_((b.count("\nDate:"), b.count("\nMessage-ID:"), b.count("\nFrom:")), (1, 1, 1), "existing Date, Message-ID, From kept, not added")

# --- -f, -F, CRLF input, the "." line without -i and with -i
sm(["-f", "<bounce@list.test>", "-F", 'Cron "Daemon"', "demo@example.test"], "Subject: f\r\n\r\nline\r\n.\r\nafter\r\n")
recs, body = queued()[0]
t.ok(b"Fbounce@list.test" in recs, "-f sets the envelope sender, angle brackets removed")
b = body.decode()
t.like(b, r'\nFrom: "Cron \\"Daemon\\"" <bounce@list\.test>\n', "-F gives a quoted display name")
t.ok("\r" not in b, "CRLF input queued with LF line ends")
t.ok(b.endswith("\nline\n") and "after" not in b, "a line holding a dot ends the message without -i")
sm(["-i", "demo@example.test"], "Subject: i\n\n.\nafter\n")
t.ok(queued()[0][1].endswith(b"\n.\nafter\n"), "-i: the dot line is data")
sm(["-oi", "demo@example.test"], "Subject: i\n\n.\nafter\n")
t.ok(queued()[0][1].endswith(b"\n.\nafter\n"), "-oi is -i")
sm(["-f", "", "demo@example.test"], "Subject: null\n\nx\n")
t.ok(b"F" in queued()[0][0], "-f '' gives the null sender")

# --- -t: To, Cc, Bcc with folding; Bcc removed; command line added
msg = ("To: Alice <alice@example.test>, \"Doe, J\" <j@example.test>\n"
       "Cc: team: c1@x.test, c2@x.test;\n"
       "Bcc: secret@example.test,\n  hidden@x.test\n"
       "Subject: dash t\n\nbody\n")
r = sm(["-t", "extra@example.test"], msg)
t.is_(r.returncode, 0, "sendmail -t exits 0")
recs, body = queued()[0]
rc = [x[1:].decode() for x in recs if x.startswith(b"T")]
t.is_(sorted(rc), sorted(["extra@example.test", "alice@example.test", "j@example.test", "c1@x.test",
                          "c2@x.test", "secret@example.test", "hidden@x.test"]),
      "-t: every address of To, Cc and Bcc (with its continuation), plus the arguments")
t.ok(b"Bcc" not in body and b"hidden" not in body, "Bcc: and its continuation removed from the message")
t.like(body.decode(), r"\nTo: Alice <alice@example\.test>, ", "To: kept as written")

# --- a folded Bcc: as the first field, and a last line without its LF
r = sm(["-t"], "Bcc: a@x.test,\n  b@y.test\nTo: c@z.test\nSubject: hi\n\nbody\n")
recs, body = queued()[0]
t.is_(sorted(x[1:].decode() for x in recs if x.startswith(b"T")), ["a@x.test", "b@y.test", "c@z.test"],
      "-t: a folded Bcc: first, then To:: every recipient")
t.ok(b"b@y.test" not in body and b"\nTo: c@z.test\nSubject: hi\n\nbody\n" in body, "the Bcc: continuation is gone, the rest kept", body)
sm(["demo@example.test"], "hello")
t.ok(queued()[0][1].endswith(b"\n\nhello\n"), "a message of one line without LF keeps it, as its body")
sm(["demo@example.test"], "Subject: s\nlast line")
t.ok(queued()[0][1].endswith(b"\nSubject: s\n\nlast line\n"), "a last body line without LF is kept")
r = sm(["-R", "full x", "demo@example.test"], "Subject: x\n\nx\n")
t.is_(r.returncode, 64, "-R must be full or hdrs: 64")
r = sm(["-N", "success,bogus", "demo@example.test"], "Subject: x\n\nx\n")
t.is_(r.returncode, 64, "-N must be RFC 3461's keywords: 64")
t.is_(queued(), [], "nothing queued by those")

# --- DSN options and 8-bit bodies become P records
sm(["-N", "success,delay", "-R", "hdrs", "-V", "id 1+x", "demo@example.test"], "Subject: dsn\n\ncaf\xc3\xa9\n".encode("latin-1").decode("latin-1"))
recs = queued()[0][0]
t.ok(b"PNOTIFY=success,delay" in recs and b"PRET=hdrs" in recs, "-N and -R give NOTIFY and RET", recs)
t.ok(b"PENVID=id+201+2Bx" in recs, "-V gives ENVID as xtext", recs)
t.ok(b"PBODY=8BITMIME" in recs, "an 8-bit body gives BODY=8BITMIME")

# --- options other programs pass are accepted
r = sm(["-odi", "-oem", "-B", "8BITMIME", "-v", "-oQ/var/x", "demo@example.test"], "Subject: opts\n\nx\n")
t.is_(r.returncode, 0, "-odi -oem -B -v -oQ accepted and ignored")
queued()

# --- exit codes
r = sm([], "Subject: none\n\nx\n")
t.is_(r.returncode, 64, "no recipient: 64 (EX_USAGE)")
r = sm(["-t"], "Subject: none\n\nx\n")
t.is_(r.returncode, 64, "-t without recipients: 64")
r = sm(["-q"], "")
t.is_(r.returncode, 64, "-q refused: 64")
r = sm(["bad\x01addr@example.test"], "Subject: x\n\nx\n")
t.is_(r.returncode, 65, "a control character in an address: 65 (EX_DATAERR)")
r = sm(["demo@example.test"], "Subject: x\n\nx\n", env={"TERN_LIBEXEC": "/nonexistent"})
t.is_(r.returncode, 75, "queue-add missing: 75 (EX_TEMPFAIL), nothing queued")
os.chmod(inst.path("queue", "tmp"), 0o500)
r = sm(["demo@example.test"], "Subject: x\n\nx\n")
t.is_(r.returncode, 75, "the queue refuses (cannot write): 75")
os.chmod(inst.path("queue", "tmp"), 0o700)
t.is_(queued(), [], "nothing was queued by the failures")
r = sm(["-bp"], "")
t.ok(r.returncode == 0 and b"Mail queue is empty" in r.stdout, "-bp runs mailq")
t.done()
