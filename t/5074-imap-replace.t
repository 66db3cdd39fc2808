#!/usr/bin/python3
# imap-serve: REPLACE and UID REPLACE (RFC 8508):
# - the RFC's examples: REPLACE 4 Drafts in Drafts (APPENDUID in an
#   untagged OK, EXISTS, then EXPUNGE); UID REPLACE with QRESYNC on
#   (VANISHED, HIGHESTMODSEQ);
# - replacing into another folder (no EXISTS, the EXPUNGE), flags and
#   date of the new message, "*", another session seeing both changes;
# - pipelined behind a non-synchronizing literal;
# - errors leave the old message where it was and add nothing: a folder
#   that does not exist (NO [TRYCREATE]), a message over APPENDLIMIT (NO
#   [TOOBIG], synchronizing literal refused before its "+", LITERAL+
#   read and dropped), a UID that is not there (NO [NONEXISTENT]), a
#   message number that is not (BAD), EXAMINE (NO [READ-ONLY]), a bad
#   flag (BAD), a message expunged by another session (NO
#   [EXPUNGEISSUED]), no folder selected (BAD).

import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
inst.maildir("example.test/demo/.Drafts")
inst.maildir("example.test/demo/.Sent")
for i in range(1, 5):
    inst.put(("Subject: draft %d\nFrom: fritz@example.org\n\nversion %d\n" % (i, i)).encode(),
             "%d.M%dP1.host:2,D" % (1780000000 + i, i), sub="cur", mailbox="example.test/demo/.Drafts")
for i in range(1, 4):
    inst.put(("Subject: inbox %d\n\nhello\n" % i).encode(), "%d.M%dP2.host" % (1780000100 + i, i))

# RFC 8508 3.4's message
RFCMSG = (b"Date: Thu, 1 Jan 2015 00:05:00 -0500 (EST)\r\n"
          b"From: Fritz Schmidt <fritz.ze@example.org>\r\n"
          b"Subject: happy new year !!\r\n"
          b"To: miss.mitzy@example.org\r\n"
          b"Message-Id: <B27397-0100000@example.org>\r\n"
          b"MIME-Version: 1.0\r\n"
          b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
          b"\r\n"
          b"Just saying hello and wishing you a happy new year.\r\n"
          b"By the way, your hat is on a hedge.\r\n")


def msg(subject, body="text"):
    return ("Subject: %s\r\nFrom: fritz@example.org\r\n\r\n%s\r\n" % (subject, body)).encode()


def replace(c, head, data, tag, sync=True):
    """head: "REPLACE 4 Drafts (\\Seen)"; (untagged, tagged, sent the literal)."""
    if not sync:
        c.send(tag.encode() + b" " + head.encode() + b" {%d+}\r\n" % len(data) + data + b"\r\n")
        unt, r = c.until(tag)
        return unt, r, True
    c.send(tag.encode() + b" " + head.encode() + b" {%d}\r\n" % len(data))
    ln = c.line().decode(errors="replace")
    if not ln.startswith("+"):
        return [], ln, False
    c.send(data + b"\r\n")
    unt, r = c.until(tag)
    return unt, r, True


def norecent(unt):
    """The untagged lines but RECENT (IMAP4rev1 sends it with EXISTS; RFC 8508 is of rev2's time)."""
    return [u for u in unt if not re.match(r"\* \d+ RECENT$", u)]


def status(c, folder):
    unt, r = c.cmd("STATUS %s (MESSAGES UIDNEXT UIDVALIDITY)" % folder)
    m = re.search(r"MESSAGES (\d+) UIDNEXT (\d+) UIDVALIDITY (\d+)", " ".join(unt))
    return tuple(int(x) for x in m.groups()) if m else None


def uids(c):
    unt, r = c.cmd("UID SEARCH ALL")
    ln = [u for u in unt if u.startswith("* SEARCH")]
    return [int(x) for x in ln[0].split()[2:]] if ln else None


def subject(c, seq):
    unt, r = c.cmd("FETCH %s (BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % seq)
    m = re.search(r"Subject: ([^\r\n]*)", " ".join(unt))
    return m.group(1) if m else None


c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
t.ok("REPLACE" in r.split(), "REPLACE in the capabilities", r)
unt, r, sent = replace(c, "REPLACE 1 Drafts", msg("x"), "n1", sync=False)
t.ok(r.startswith("n1 BAD"), "REPLACE with no folder selected: BAD", r)

# -- RFC 8508 3.4, the first example: REPLACE 4 Drafts with Drafts selected --
c.cmd("SELECT Drafts")
uv = status(c, "Drafts")[2]
unt, r, sent = replace(c, "REPLACE 4 Drafts (\\Seen \\Draft)", RFCMSG, "A003")
t.ok(sent and r == "A003 OK Replace completed", "REPLACE 4 Drafts: OK", (unt, r))
t.is_(norecent(unt), ["* OK [APPENDUID %d 5] Replacement Message ready" % uv, "* 5 EXISTS", "* 4 EXPUNGE"],
      "APPENDUID in an untagged OK, EXISTS, then EXPUNGE, as the RFC's example")
t.is_(uids(c), [1, 2, 3, 5], "the view: UID 4 gone, UID 5 in its place")
unt, r = c.cmd("FETCH 4 (UID FLAGS INTERNALDATE RFC822.SIZE)")
t.ok(re.match(r"\* 4 FETCH \(UID 5 FLAGS \(\\Seen \\Draft( \\Recent)?\) INTERNALDATE \"[^\"]+\" RFC822.SIZE %d\)$" % len(RFCMSG), unt[0]) is not None,
     "the new message: its flags, its size", unt)
t.is_(subject(c, 4), "happy new year !!", "and its text")
files = os.listdir(os.path.join(MD, ".Drafts", "cur"))
t.ok(len(files) == 4 and not [f for f in files if f.startswith("1780000004.")], "on the disk: the old file gone, the new one there", files)

# -- the date-time argument, and "*" --
unt, r, sent = replace(c, 'REPLACE * Drafts (\\Draft) "01-Jan-2015 00:05:00 -0500"', msg("star"), "s1")
t.ok(r.startswith("s1 OK") and "* 4 EXPUNGE" in unt and "* 5 EXISTS" in unt, "REPLACE *: the last message", (unt, r))
unt, r = c.cmd("FETCH 4 (UID INTERNALDATE)")
t.ok(re.match(r'\* 4 FETCH \(UID 6 INTERNALDATE " 1-Jan-2015 05:05:00 \+0000"\)$', unt[0]) is not None, "the date given is the INTERNALDATE", unt)

# -- another session on Drafts sees the new message and the expunge --
o = ternlib.ImapConn(port)
o.cmd("LOGIN demo@example.test demo")
o.cmd("SELECT Drafts")
unt, r, sent = replace(c, "UID REPLACE 1 Drafts", msg("second version"), "u1")
t.ok(r.startswith("u1 OK") and norecent(unt)[1:] == ["* 5 EXISTS", "* 1 EXPUNGE"], "UID REPLACE 1 Drafts: EXISTS, then EXPUNGE of message 1", (unt, r))
unt, r = o.cmd("NOOP")
t.ok("* 1 EXPUNGE" in unt and "* 4 EXISTS" in unt, "the other session: the expunge and the new message", unt)
unt, r = o.cmd("FETCH 4 (UID)")
t.is_(unt, ["* 4 FETCH (UID 7)"], "and its view agrees")
o.cmd("LOGOUT")
o.close()

# -- into another folder: no EXISTS, the EXPUNGE (RFC 8508 3.3) --
before = status(c, "Sent")
unt, r, sent = replace(c, "REPLACE 1 Sent (\\Seen)", msg("sent at last"), "o1")
t.ok(r == "o1 OK Replace completed", "REPLACE 1 Sent from Drafts: OK", (unt, r))
t.is_(unt, ["* OK [APPENDUID %d %d] Replacement Message ready" % (before[2], before[1]), "* 1 EXPUNGE"],
      "APPENDUID of Sent, the EXPUNGE, no EXISTS")
after = status(c, "Sent")
t.ok(after[0] == before[0] + 1, "Sent has one more message", (before, after))
t.is_(uids(c), [3, 6, 7], "Drafts: message 1 (UID 2) gone")
c.cmd("EXAMINE Sent")
unt, r = c.cmd("UID FETCH %d (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])" % before[1])
t.ok(len(unt) == 1 and "\\Seen" in unt[0] and "sent at last" in unt[0], "in Sent: the message, \\Seen", unt)

# -- EXAMINE: NO [READ-ONLY], nothing added --
unt, r, sent = replace(c, "REPLACE 1 Drafts", msg("ro"), "r1")
t.ok(r.startswith("r1 NO [READ-ONLY]"), "REPLACE in an EXAMINEd folder: NO [READ-ONLY]", r)
t.is_(status(c, "Sent")[0], after[0], "the folder keeps its message")
t.is_(status(c, "Drafts")[0], 3, "nothing added to Drafts")

# -- QRESYNC on: VANISHED and HIGHESTMODSEQ (RFC 8508 3.4, the second example) --
q = ternlib.ImapConn(port)
q.cmd("LOGIN demo@example.test demo")
q.cmd("ENABLE QRESYNC")
q.cmd("SELECT Drafts")
unt, r, sent = replace(q, "UID REPLACE 6 Drafts (\\Seen \\Draft)", RFCMSG, "B002")
t.ok(re.match(r"B002 OK \[HIGHESTMODSEQ \d+\] Replace completed$", r) is not None, "UID REPLACE with QRESYNC: OK [HIGHESTMODSEQ]", r)
t.is_(norecent(unt), ["* OK [APPENDUID %d 8] Replacement Message ready" % uv, "* 4 EXISTS", "* VANISHED 6"],
      "APPENDUID, EXISTS, then VANISHED, no EXPUNGE")
q.cmd("LOGOUT")
q.close()

# -- pipelined: a command right behind the literal, in the same packet --
c.cmd("SELECT Drafts")
c.send(b"p1 REPLACE 1 Drafts {%d+}\r\n" % len(msg("piped")) + msg("piped") + b"\r\np2 UID FETCH 1:* (UID)\r\n")
u1, r1 = c.until("p1")
u2, r2 = c.until("p2")
t.ok(r1.startswith("p1 OK") and "* 1 EXPUNGE" in u1, "REPLACE with LITERAL+: OK", (u1, r1))
t.ok(r2.startswith("p2 OK") and [re.sub(r".*UID (\d+).*", r"\1", u) for u in u2] == ["7", "8", "9"],
     "the next command, pipelined: the new view", (u2, r2))
t.is_(subject(c, 3), "piped", "the piped message stored")

# -- errors leave the old message where it was --
def intact(what, want=(7, 8, 9)):
    t.is_((uids(c), status(c, "Drafts")[0], os.listdir(os.path.join(MD, "tmp"))), (list(want), len(want), []), what + ": Drafts untouched, nothing left in tmp/")


unt, r, sent = replace(c, "REPLACE 1 NoSuchFolder", msg("lost"), "e1")
t.ok(r.startswith("e1 NO [TRYCREATE]"), "REPLACE into a folder that does not exist: NO [TRYCREATE]", r)
intact("TRYCREATE")
unt, r = c.cmd('LIST "" NoSuchFolder')
t.ok(not [u for u in unt if u.startswith("* LIST")], "and that folder was not created", unt)
unt, r, sent = replace(c, "UID REPLACE 4 Drafts", msg("ghost"), "e2")
t.ok(r.startswith("e2 NO [NONEXISTENT]"), "UID REPLACE of a UID not in the folder: NO [NONEXISTENT]", r)
intact("NONEXISTENT")
unt, r, sent = replace(c, "REPLACE 9 Drafts", msg("ghost"), "e3")
t.ok(r.startswith("e3 BAD"), "REPLACE 9 of 3 messages: BAD", r)
intact("a message number too big")
unt, r, sent = replace(c, "REPLACE 1 Drafts (\\Bogus)", msg("bogus"), "e4")
t.ok(r.startswith("e4 BAD"), "REPLACE with an unknown system flag: BAD", r)
intact("a bad flag")
unt, r, sent = replace(c, "REPLACE 1 Drafts", b"", "e5", sync=False)
t.ok(r.startswith("e5 NO"), "REPLACE with an empty message: NO", r)
intact("an empty message")
unt, r, sent = replace(c, "REPLACE 1 Drafts (\\Seen) junk", msg("junk"), "e6", sync=False)
t.ok(r.startswith("e6 BAD"), "REPLACE with junk before the literal: BAD", r)
intact("junk")
c.send(b"e7 REPLACE 1 Drafts {%d+}\r\n" % len(msg("tail")) + msg("tail") + b" more\r\n")
unt, r = c.until("e7")
t.ok(r.startswith("e7 BAD"), "REPLACE with junk after the literal: BAD", r)
intact("junk after the literal")

# expunged by another session meanwhile: NO [EXPUNGEISSUED], nothing appended
o = ternlib.ImapConn(port)
o.cmd("LOGIN demo@example.test demo")
o.cmd("SELECT Drafts")
o.cmd("UID STORE 7 +FLAGS.SILENT (\\Deleted)")
o.cmd("UID EXPUNGE 7")
n0 = status(o, "Sent")[0]
unt, r, sent = replace(c, "UID REPLACE 7 Sent", msg("too late"), "e8")
t.ok(r.startswith("e8 NO [EXPUNGEISSUED]") and "* 1 EXPUNGE" in unt, "REPLACE of a message another session expunged: the EXPUNGE, NO [EXPUNGEISSUED]", (unt, r))
t.is_(status(o, "Sent")[0], n0, "and nothing was appended")
o.cmd("LOGOUT")
o.close()

# the folder's name as a literal: only the literal after it is the message
m = msg("named by a literal")
c.send(b"m1 UID REPLACE 9 {6+}\r\nDrafts {%d+}\r\n" % len(m) + m + b"\r\n")
unt, r = c.until("m1")
t.ok(r.startswith("m1 OK") and "* 2 EXPUNGE" in unt, "UID REPLACE with the folder's name a literal: OK", (unt, r))
t.is_((uids(c), subject(c, 2)), ([8, 10], "named by a literal"), "and the message stored is the second literal")

# -- over APPENDLIMIT (RFC 7889): NO [TOOBIG], the old message untouched --
port2 = inst.imap(env={"IMAP_APPENDLIMIT": "1000"})
b = ternlib.ImapConn(port2)
b.cmd("LOGIN demo@example.test demo")
b.cmd("SELECT Drafts")
big = msg("big", "y" * 2000)
unt, r, sent = replace(b, "REPLACE 1 Drafts", big, "l1")
t.ok(not sent and r.startswith("l1 NO [TOOBIG]"), "REPLACE over APPENDLIMIT, synchronizing: NO [TOOBIG] before the literal", (r, sent))
unt, r, sent = replace(b, "UID REPLACE 8 Drafts", big, "l2", sync=False)
t.ok(r.startswith("l2 NO [TOOBIG]"), "REPLACE over APPENDLIMIT, LITERAL+: read and dropped, NO [TOOBIG]", r)
unt, r = b.cmd("NOOP")
t.ok(r.startswith(("t", "l")) and " OK" in r, "the session goes on", r)
b.cmd("LOGOUT")
b.close()
intact("over APPENDLIMIT", (8, 10))

c.cmd("LOGOUT")
c.close()
t.done()
