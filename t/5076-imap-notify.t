#!/usr/bin/python3
# imap-serve: NOTIFY (RFC 5465).
# - the capability; bad syntax and the rules of 5 and 6.1 are BAD;
#   unsupported events a NO [BADEVENT (the supported ones)] (3.1);
# - MailboxMetadataChange and ServerMetadataChange: another session's
#   SETMETADATA as * METADATA mailbox entry (5.6, 5.7), its own not;
# - the examples of 3.1 (with errata 1804 and 2318's syntax): NOTIFY SET
#   STATUS answers a STATUS for each folder of the subtree, then new
#   mail in the selected INBOX comes as EXISTS and a FETCH of the asked
#   attributes, new mail in Lists.Lemonade as a STATUS, to a session
#   that sends nothing and reads; NOTIFY SET without STATUS after an
#   explicit STATUS; MessageNew, MessageExpunge and FlagChange each
#   alone are taken, as Dovecot takes them (5 wants them together), the
#   STATUS items following the events;
# - the same in IDLE (4);
# - another session's flag change and expunge on the selected folder,
#   unsolicited (5.1, 5.3); SELECTED-DELAYED holds the expunge until a
#   command that allows it, not FETCH (6.1.2);
# - a burst of 1,000 messages into a folder is one STATUS;
# - CREATE, RENAME, DELETE, SUBSCRIBE, UNSUBSCRIBE by another session as
#   LIST responses (\NonExistent, OLDNAME, \Subscribed; 5.4, 5.5); the
#   session's own CREATE is not told back (5);
# - a MAILBOXES name created later is watched; with CONDSTORE the STATUS
#   has HIGHESTMODSEQ, with FlagChange UNSEEN;
# - a literal in the fetch attributes; nothing while the client is
#   half-way through a command line;
# - NOTIFY NONE stops them;
# - the cap: more than 100 folders (or names) is NO [NOTIFICATIONOVERFLOW]
#   and the earlier NOTIFY stays; a folder created past 100 watched is
#   * OK [NOTIFICATIONOVERFLOW] and the end of notifications (5.8).
# Every wait is bounded (20 s); only that a response came is asserted,
# never how fast; "nothing comes" is looked at for 2 s.

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
USER, PASS = "demo@example.test", "demo"
WAIT = 20
QUIET = 2.0


def login():
    c = ternlib.ImapConn(port)
    _, tg = c.cmd("LOGIN %s %s" % (USER, PASS))
    if " OK " not in tg:
        raise RuntimeError("login failed: " + tg)
    return c


def tagged_ok(tg):
    return re.match(r"^\S+ OK\b", tg) is not None


def msg(subject, body="body\n"):
    return "From: a@remote.test\nTo: demo@example.test\nSubject: %s\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n\n%s" % (subject, body)


seq = [0]


def drop(folder, subject, n=1):
    """Files written into folder's new/ the Maildir way (all into tmp/,
    then renamed), by another program."""
    d = MD if folder == "INBOX" else os.path.join(MD, "." + folder)
    names = []
    for _ in range(n):
        seq[0] += 1
        name = "%d.M%dP%dQ%d.other" % (int(time.time()), seq[0], os.getpid(), seq[0])
        tmp = os.path.join(d, "tmp", name)
        with open(tmp, "w") as f:
            f.write(msg(subject))
        os.chown(tmp, inst.uid, inst.gid)
        names.append(name)
    for name in names:
        os.rename(os.path.join(d, "tmp", name), os.path.join(d, "new", name))


def deliver(subject):
    r = inst.run(["deliver", "-f", "a@remote.test", "--", USER], input=msg(subject))
    return r.returncode, r.stderr.decode(errors="replace")


def wait_for(c, pred, timeout=WAIT):
    """Lines read (the session sending nothing) until one satisfies pred:
    (lines, matched)."""
    end = time.time() + timeout
    got = []
    try:
        while time.time() < end:
            c.s.settimeout(max(0.1, end - time.time()))
            try:
                ln = c.line().decode(errors="replace")
            except socket.timeout:
                break
            got.append(ln)
            if pred(ln):
                return got, True
        return got, False
    finally:
        c.s.settimeout(15)


def quiet(c, secs=QUIET):
    """Whatever comes in secs."""
    got, _ = wait_for(c, lambda ln: False, secs)
    return got


def status_of(lines, folder):
    for ln in lines:
        m = re.match(r'^\* STATUS "?%s"? \((.*)\)$' % re.escape(folder), ln)
        if m:
            v = m.group(1).split()
            return dict(zip(v[0::2], (int(x) for x in v[1::2])))
    return None


def idle_start(c):
    c.n += 1
    tag = "t%d" % c.n
    c.send(tag + " IDLE\r\n")
    while True:
        ln = c.line().decode(errors="replace")
        if ln.startswith("+") or ln.startswith(tag + " "):
            return tag, ln


def idle_done(c, tag):
    c.send("DONE\r\n")
    return c.until(tag)


for f in ("Lists", "Lists.Lemonade", "Lists.Im2000", "misc"):
    inst.maildir("example.test/demo/." + f)
for i in range(3):
    drop("Lists.Lemonade", "lemonade %d" % i)
for i in range(2):
    drop("INBOX", "inbox %d" % i)

a = login()
b = login()

# ======== capability, syntax, refusals ========

unt, tg = a.cmd("CAPABILITY")
t.ok(any(re.search(r"\bNOTIFY\b", u) for u in unt), "NOTIFY in CAPABILITY", unt)

for bad, why in (("NOTIFY", "no argument"), ("NOTIFY SET", "SET without groups"), ("NOTIFY FOO", "neither SET nor NONE"),
                 ("NOTIFY SET (personal (MessageNew MessageExpunge)", "a group not closed"),
                 ("NOTIFY SET (everything (MessageNew MessageExpunge))", "an unknown filter"),
                 ("NOTIFY SET (subtree (MessageNew MessageExpunge))", "SUBTREE without a mailbox"),
                 ("NOTIFY SET (personal MessageNew MessageExpunge)", "events not in parentheses (errata 1804)"),
                 ("NOTIFY SET (selected (MailboxName))", "a mailbox event with SELECTED (6.1)"),
                 ("NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))", "SELECTED and SELECTED-DELAYED (6.1)"),
                 ("NOTIFY SET (selected (MessageNew (uid nosuchatt) MessageExpunge))", "a bad fetch-att"),
                 ("NOTIFY NONE extra", "NONE with more")):
    unt, tg = a.cmd(bad)
    t.ok(re.match(r"^\S+ BAD\b", tg), "%s: BAD (%s)" % (bad, why), tg)
# 5 wants MessageNew and MessageExpunge together, and both with
# FlagChange; Dovecot takes each alone (imaptest's notify script), and so
# does tern: NOTIFY SET STATUS then says what each event tells
for ev, items in (("MessageNew", {"UIDVALIDITY", "MESSAGES", "UIDNEXT"}), ("MessageExpunge", {"UIDVALIDITY", "MESSAGES"}),
                  ("FlagChange", {"UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ"})):
    unt, tg = a.cmd("NOTIFY SET STATUS (mailboxes INBOX (%s))" % ev)
    st = [u for u in unt if u.startswith("* STATUS ")]
    got = set(re.findall(r"([A-Z]+) \d+", st[0])) if st else set()
    t.ok(re.match(r"^\S+ OK\b", tg) and got == items, "NOTIFY SET STATUS (mailboxes INBOX (%s)) alone: OK, STATUS (%s)" % (ev, " ".join(sorted(items))), (unt, tg))
a.cmd("NOTIFY NONE")

unt, tg = a.cmd("NOTIFY SET " + " ".join(["(personal (MailboxName))"] * 33))
t.ok(re.match(r"^\S+ BAD\b", tg), "33 event groups: BAD (the limit is 32)", tg)
unt, tg = a.cmd("NOTIFY SET " + " ".join(["(personal (MailboxName))"] * 32))
t.ok(tagged_ok(tg), "32 event groups: OK", tg)
a.cmd("NOTIFY NONE")
big = b"X" * 1025
a.send(b"t80 NOTIFY SET (selected (MessageNew (BODY.PEEK[HEADER.FIELDS ({1025+}\r\n" + big + b")]) MessageExpunge))\r\n")
unt, tg = a.until("t80")
t.ok(re.match(r"^\S+ BAD\b", tg), "a 1,025-octet literal among the fetch attributes: BAD (1 KiB)", tg)

SUPPORTED = {"MessageNew", "MessageExpunge", "FlagChange", "MailboxName", "SubscriptionChange",
             "MailboxMetadataChange", "ServerMetadataChange"}
for ev in ("AnnotationChange", "SomethingElse"):
    evs = "MessageNew MessageExpunge " + ev if ev == "AnnotationChange" else ev
    unt, tg = a.cmd("NOTIFY SET (personal (%s))" % evs)
    m = re.match(r"^\S+ NO \[BADEVENT \(([^)]*)\)\]", tg)
    t.ok(m and set(m.group(1).split()) == SUPPORTED,
         "%s: NO [BADEVENT (the seven supported)] (3.1: NO, not BAD)" % ev, tg)
unt, tg = a.cmd("NOTIFY SET (selected (ServerMetadataChange))")
t.ok(re.match(r"^\S+ BAD\b", tg), "ServerMetadataChange with SELECTED: BAD (6.1)", tg)

# ======== RFC 5465 3.1's example, with the errata's syntax ========

unt, tg = a.cmd("SELECT INBOX")
t.ok(tagged_ok(tg), "A: SELECT INBOX", tg)
unt, tg = a.cmd("notify set status (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) "
                "(subtree Lists (MessageNew MessageExpunge))")
sts = {f: status_of(unt, f) for f in ("Lists", "Lists.Lemonade", "Lists.Im2000")}
t.ok(tagged_ok(tg) and all(sts[f] and set(sts[f]) == {"MESSAGES", "UIDNEXT", "UIDVALIDITY"} for f in sts)
     and sts["Lists.Lemonade"]["MESSAGES"] == 3 and sts["Lists.Im2000"]["MESSAGES"] == 0,
     "notify set status: a STATUS (MESSAGES UIDNEXT UIDVALIDITY) for Lists, Lists.Lemonade, Lists.Im2000, then OK", unt + [tg])
t.ok(status_of(unt, "misc") is None and status_of(unt, "INBOX") is None, "no STATUS for a folder not asked for, nor the selected one", unt)
lem = sts["Lists.Lemonade"]

# new mail in the selected INBOX: EXISTS, then the FETCH asked for (5.2)
rc, err = deliver("Notify me")
got, hit = wait_for(a, lambda ln: ln.startswith("* 3 FETCH"))
fl = [ln for ln in got if ln.startswith("* 3 FETCH")]
t.ok(rc == 0 and "* 3 EXISTS" in got and hit and got.index("* 3 EXISTS") < got.index(fl[0]),
     "a delivery to the selected INBOX: * 3 EXISTS, then * 3 FETCH, the session sending nothing", [rc, err] + got)
t.ok(fl and re.search(r"UID \d+", fl[0]) and "BODY[HEADER.FIELDS (FROM TO SUBJECT)]" in fl[0].upper()
     and "Subject: Notify me" in fl[0] and "Date:" not in fl[0],
     "the FETCH has the UID and BODY[HEADER.FIELDS (from to subject)] as asked", fl)
unt, tg = a.cmd("FETCH 3 (FLAGS)")
t.ok(tagged_ok(tg) and not any("\\Seen" in u for u in unt), "BODY.PEEK: the new message is not \\Seen", unt)

# new mail in another folder: STATUS (5.2)
drop("Lists.Lemonade", "lemonade new")
got, hit = wait_for(a, lambda ln: status_of([ln], "Lists.Lemonade") is not None)
st = status_of(got, "Lists.Lemonade")
t.ok(hit and st["MESSAGES"] == 4 and st["UIDNEXT"] == lem["UIDNEXT"] + 1 and st["UIDVALIDITY"] == lem["UIDVALIDITY"],
     "a message into Lists.Lemonade: * STATUS Lists.Lemonade (MESSAGES 4 UIDNEXT +1 UIDVALIDITY same)", got)
drop("misc", "not watched")
got = quiet(a)
t.is_(got, [], "a message into misc, not watched: nothing")

# the second example: an explicit STATUS, then NOTIFY SET without STATUS
unt, tg = a.cmd("STATUS misc (UIDVALIDITY UIDNEXT MESSAGES)")
t.ok(tagged_ok(tg) and status_of(unt, "misc")["MESSAGES"] == 1, "STATUS misc", unt)
unt, tg = a.cmd("notify set (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) "
                "(subtree Lists (MessageNew MessageExpunge)) (mailboxes misc (MessageNew MessageExpunge))")
t.ok(tagged_ok(tg) and not any(u.startswith("* STATUS") for u in unt), "notify set without STATUS: OK, no STATUS", unt + [tg])
drop("misc", "watched now")
got, hit = wait_for(a, lambda ln: status_of([ln], "misc") is not None)
t.ok(hit and status_of(got, "misc")["MESSAGES"] == 2, "a message into misc: * STATUS misc (MESSAGES 2 ...)", got)

# ======== the same in IDLE (4) ========

tag, cont = idle_start(a)
t.ok(cont.startswith("+"), "IDLE: +", cont)
drop("Lists.Im2000", "im2000 in idle")
got, hit = wait_for(a, lambda ln: status_of([ln], "Lists.Im2000") is not None)
t.ok(hit and status_of(got, "Lists.Im2000")["MESSAGES"] == 1, "in IDLE: * STATUS Lists.Im2000 (MESSAGES 1 ...)", got)
drop("INBOX", "inbox in idle")
got, hit = wait_for(a, lambda ln: ln.startswith("* 4 FETCH"))
t.ok(hit and "* 4 EXISTS" in got and "inbox in idle" in got[-1], "in IDLE: * 4 EXISTS and its FETCH", got)
unt, tg = idle_done(a, tag)
t.ok(tagged_ok(tg), "DONE: OK", tg)

# a literal among the fetch attributes (LITERAL+), kept for later use
a.send(b"t90 NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS ({7+}\r\nSUBJECT)]) MessageExpunge))\r\n")
unt, tg = a.until("t90")
t.ok(tagged_ok(tg), "NOTIFY SET with a literal in MessageNew's fetch attributes: OK", tg)
drop("INBOX", "with a literal")
got, hit = wait_for(a, lambda ln: ln.startswith("* 5 FETCH"))
t.ok(hit and "BODY[HEADER.FIELDS (SUBJECT)]" in got[-1].upper() and "Subject: with a literal" in got[-1] and "From:" not in got[-1],
     "its FETCH: BODY[HEADER.FIELDS (SUBJECT)] as the literal said", got)

# never in the middle of a command: half a line sent, an event, the rest
a.send("t91 NOO")
drop("INBOX", "mid-command")
got = quiet(a)
t.is_(got, [], "half a command line sent: nothing while the client is sending it")
a.send("P\r\n")
unt, tg = a.until("t91")
got = unt + [tg]
if not any(ln.startswith("* 6 FETCH") for ln in unt):
    more, _ = wait_for(a, lambda ln: ln.startswith("* 6 FETCH"))
    got += more
t.ok(tagged_ok(tg) and "* 6 EXISTS" in unt and any(ln.startswith("* 6 FETCH") and "mid-command" in ln for ln in got),
     "the rest: NOOP's * 6 EXISTS, and the new message's FETCH (in its responses or right after)", got)

# ======== another session's changes to the selected folder ========

unt, tg = a.cmd("NOTIFY SET (selected (MessageNew MessageExpunge FlagChange))")
t.ok(tagged_ok(tg), "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange))", tg)
b.cmd("SELECT INBOX")
unt, tg = b.cmd("STORE 2 +FLAGS (\\Flagged)")
got, hit = wait_for(a, lambda ln: re.match(r"^\* 2 FETCH \(.*FLAGS \([^)]*\\Flagged", ln) is not None)
t.ok(hit, "B's STORE: * 2 FETCH (FLAGS (\\Flagged)) to A, unsolicited (5.1)", got)
b.cmd("STORE 1 +FLAGS (\\Deleted)")
b.cmd("EXPUNGE")
got, hit = wait_for(a, lambda ln: ln == "* 1 EXPUNGE")
t.ok(hit, "B's EXPUNGE: * 1 EXPUNGE to A, unsolicited (5.3)", got)

# SELECTED-DELAYED (6.1.2)
unt, tg = a.cmd("NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))")
t.ok(tagged_ok(tg), "NOTIFY SET (selected-delayed ...)", tg)
b.cmd("STORE 1 +FLAGS (\\Deleted)")
b.cmd("EXPUNGE")
got = quiet(a, 3)
t.ok(not any("EXPUNGE" in ln for ln in got), "SELECTED-DELAYED: B's EXPUNGE is held (nothing for 3 s but FETCH FLAGS)", got)
unt, tg = a.cmd("FETCH 2 (FLAGS)")
t.ok(tagged_ok(tg) and not any("EXPUNGE" in u for u in unt), "SELECTED-DELAYED: not in FETCH's responses either (RFC 3501 7.4.1)", unt)
unt, tg = a.cmd("NOOP")
t.ok(tagged_ok(tg) and "* 1 EXPUNGE" in unt, "SELECTED-DELAYED: NOOP tells it: * 1 EXPUNGE", unt)

# the selected folder changes: SELECTED follows it, and the folder left
# is watched from what the client knew of it
unt, tg = a.cmd("NOTIFY SET (selected (MessageNew MessageExpunge)) (mailboxes (INBOX misc) (MessageNew MessageExpunge))")
t.ok(tagged_ok(tg), "NOTIFY SET (selected ...) (mailboxes (INBOX misc) ...), INBOX selected", tg)
unt, tg = a.cmd("STATUS INBOX (MESSAGES)")
inbox_n = status_of(unt, "INBOX")["MESSAGES"]
drop("INBOX", "selected one")
got, hit = wait_for(a, lambda ln: re.match(r"^\* \d+ EXISTS$", ln) is not None)
t.ok(hit and status_of(got, "INBOX") is None, "a message into the selected INBOX: EXISTS, no STATUS INBOX", got)
unt, tg = a.cmd("SELECT misc")
nmisc = [int(m.group(1)) for m in (re.match(r"^\* (\d+) EXISTS$", u) for u in unt) if m][0]
drop("misc", "now selected")
got, hit = wait_for(a, lambda ln: ln == "* %d EXISTS" % (nmisc + 1))
t.ok(hit and status_of(got, "misc") is None, "SELECT misc, a message into it: * %d EXISTS, no STATUS misc" % (nmisc + 1), got)
drop("INBOX", "left one")
got, hit = wait_for(a, lambda ln: status_of([ln], "INBOX") is not None)
t.ok(hit and status_of(got, "INBOX")["MESSAGES"] == inbox_n + 2, "a message into INBOX, no longer selected: * STATUS INBOX (MESSAGES %d ...)" % (inbox_n + 2), got)
unt, tg = a.cmd("SELECT INBOX")
t.ok(tagged_ok(tg), "SELECT INBOX again", tg)

# ======== a burst is one STATUS ========

unt, tg = a.cmd("NOTIFY SET STATUS (mailboxes misc (MessageNew MessageExpunge))")
m0 = status_of(unt, "misc")["MESSAGES"]
drop("misc", "burst", 1000)
got, hit = wait_for(a, lambda ln: status_of([ln], "misc") is not None)
got += quiet(a)
sl = [ln for ln in got if ln.startswith("* STATUS")]
t.ok(hit and len(sl) == 1 and status_of(sl, "misc")["MESSAGES"] == m0 + 1000, "1,000 messages into misc at once: one * STATUS misc (MESSAGES %d ...)" % (m0 + 1000), sl)
t.ok(not any(re.match(r"^\* \d+ (EXISTS|FETCH|EXPUNGE)", ln) for ln in got), "(selected not asked for: nothing about INBOX)", got)

# ======== folder names and subscriptions (5.4, 5.5) ========

unt, tg = a.cmd("NOTIFY SET (personal (MailboxName SubscriptionChange))")
t.ok(tagged_ok(tg), "NOTIFY SET (personal (MailboxName SubscriptionChange))", tg)
b.cmd("CREATE Foo")
got, hit = wait_for(a, lambda ln: ln.startswith("* LIST"))
t.is_(got[-1:], ['* LIST (\\HasNoChildren) "." "Foo"'], "B's CREATE Foo: * LIST (\\HasNoChildren) \".\" \"Foo\"")
b.cmd("RENAME Foo Bar")
got, hit = wait_for(a, lambda ln: ln.startswith("* LIST"))
t.is_(got[-1:], ['* LIST (\\HasNoChildren) "." "Bar" ("OLDNAME" ("Foo"))'], "B's RENAME Foo Bar: LIST Bar with OLDNAME Foo")
b.cmd("SUBSCRIBE Bar")
got, hit = wait_for(a, lambda ln: ln.startswith("* LIST"))
t.is_(got[-1:], ['* LIST (\\HasNoChildren \\Subscribed) "." "Bar"'], "B's SUBSCRIBE Bar: LIST Bar with \\Subscribed")
b.cmd("UNSUBSCRIBE Bar")
got, hit = wait_for(a, lambda ln: ln.startswith("* LIST"))
t.is_(got[-1:], ['* LIST (\\HasNoChildren) "." "Bar"'], "B's UNSUBSCRIBE Bar: LIST Bar without \\Subscribed")
b.cmd("DELETE Bar")
got, hit = wait_for(a, lambda ln: ln.startswith("* LIST"))
t.is_(got[-1:], ['* LIST (\\NonExistent) "." "Bar"'], "B's DELETE Bar: LIST (\\NonExistent) Bar")
unt, tg = a.cmd("CREATE Mine")
got = quiet(a)
t.ok(tagged_ok(tg) and not any(u.startswith("* LIST") for u in unt + got), "A's own CREATE: no LIST told back", unt + got)

# a name that is no folder yet, then created by another session
unt, tg = a.cmd("NOTIFY SET (mailboxes Later (MessageNew MessageExpunge))")
t.ok(tagged_ok(tg), "NOTIFY SET (mailboxes Later ...), Later not a folder yet: OK", tg)
b.cmd("CREATE Later")
drop("Later", "into later")
got, hit = wait_for(a, lambda ln: status_of([ln], "Later") is not None)
t.ok(hit and status_of(got, "Later")["MESSAGES"] == 1 and not any(ln.startswith("* LIST") for ln in got),
     "B's CREATE Later, then a message into it: * STATUS Later (MESSAGES 1 ...), no LIST (MailboxName not asked)", got)

# CONDSTORE: HIGHESTMODSEQ; FlagChange: UNSEEN (5.1, 5.2)
unt, tg = a.cmd("ENABLE CONDSTORE")
unt, tg = a.cmd("NOTIFY SET STATUS (mailboxes Later (MessageNew MessageExpunge FlagChange))")
st0 = status_of(unt, "Later")
t.ok(tagged_ok(tg) and st0 and set(st0) == {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ"} and st0["UNSEEN"] == 1,
     "with CONDSTORE and FlagChange: STATUS Later (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)", unt)
b.cmd("SELECT Later")
b.cmd("STORE 1 +FLAGS (\\Seen)")
got, hit = wait_for(a, lambda ln: status_of([ln], "Later") is not None)
st = status_of(got, "Later")
t.ok(hit and st["UNSEEN"] == 0 and st["HIGHESTMODSEQ"] > st0["HIGHESTMODSEQ"] and st["MESSAGES"] == 1,
     "B's STORE \\Seen in Later: * STATUS Later (... UNSEEN 0 HIGHESTMODSEQ higher)", got)
unt, tg = a.cmd("NOTIFY SET (mailboxes Later (MessageNew MessageExpunge))")
b.cmd("STORE 1 -FLAGS (\\Seen)")
got = quiet(a)
t.is_(got, [], "without FlagChange, a flag change in Later: nothing")
b.cmd("SELECT INBOX")

# ======== METADATA (5.6, 5.7) ========

unt, tg = a.cmd("NOTIFY SET (mailboxes INBOX (MailboxMetadataChange ServerMetadataChange))")
t.ok(tagged_ok(tg), "NOTIFY SET (mailboxes INBOX (MailboxMetadataChange ServerMetadataChange))", tg)
unt, tg = b.cmd('SETMETADATA INBOX (/private/comment "hello")')
got, hit = wait_for(a, lambda ln: ln.startswith("* METADATA"))
t.ok(tagged_ok(tg) and hit and re.match(r'^\* METADATA "INBOX" "?/private/comment"?$', got[-1]),
     "B's SETMETADATA on INBOX: * METADATA \"INBOX\" /private/comment, without the value", got)
unt, tg = b.cmd('SETMETADATA "" (/private/vendor/tern/x "v")')
got, hit = wait_for(a, lambda ln: ln.startswith("* METADATA"))
t.ok(hit and re.match(r'^\* METADATA "" "?/private/vendor/tern/x"?$', got[-1]), "B's server entry: * METADATA \"\" /private/vendor/tern/x", got)
unt, tg = b.cmd('SETMETADATA misc (/private/comment "elsewhere")')
got = quiet(a)
t.is_(got, [], "B's entry on misc, not watched: nothing")
unt, tg = b.cmd("SETMETADATA INBOX (/private/comment NIL)")
got, hit = wait_for(a, lambda ln: ln.startswith("* METADATA"))
t.ok(hit and re.match(r'^\* METADATA "INBOX" "?/private/comment"?$', got[-1]), "B's removal of it: * METADATA \"INBOX\" /private/comment", got)
unt, tg = a.cmd('SETMETADATA INBOX (/private/comment "mine")')
got = quiet(a)
t.ok(tagged_ok(tg) and not any(u.startswith("* METADATA") for u in unt + got), "A's own SETMETADATA: not told back", unt + got)

# ======== NOTIFY NONE ========

unt, tg = a.cmd("NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))")
drop("misc", "before none")
got, hit = wait_for(a, lambda ln: status_of([ln], "misc") is not None)
t.ok(hit, "NOTIFY SET (personal ...): misc's STATUS", got)
unt, tg = a.cmd("NOTIFY NONE")
t.ok(tagged_ok(tg), "NOTIFY NONE: OK", tg)
drop("misc", "after none")
drop("INBOX", "after none")
b.cmd("CREATE AfterNone")
got = quiet(a)
t.is_(got, [], "after NOTIFY NONE: nothing (a message into misc and INBOX, a CREATE)")
unt, tg = a.cmd("NOOP")
t.ok(any(re.match(r"^\* \d+ EXISTS$", u) for u in unt), "(NOOP still tells of INBOX's new message, as without NOTIFY)", unt)

# ======== the cap (100 folders) ========

names = " ".join("n%d" % i for i in range(101))
unt, tg = a.cmd("NOTIFY SET (mailboxes (%s) (MessageNew MessageExpunge))" % names)
t.ok(re.match(r"^\S+ NO \[NOTIFICATIONOVERFLOW\]", tg), "101 mailbox names: NO [NOTIFICATIONOVERFLOW]", tg)
for i in range(1, 101):
    inst.maildir("example.test/demo/.cap.%d" % i)
unt, tg = a.cmd("NOTIFY SET (subtree cap (MessageNew MessageExpunge))")
t.ok(tagged_ok(tg), "100 folders under cap: NOTIFY SET (subtree cap ...) OK", tg)
unt, tg = a.cmd("NOTIFY SET (personal (MessageNew MessageExpunge))")
t.ok(re.match(r"^\S+ NO \[NOTIFICATIONOVERFLOW\]", tg), "every folder (more than 100): NO [NOTIFICATIONOVERFLOW]", tg)
drop("cap.7", "still watched")
got, hit = wait_for(a, lambda ln: status_of([ln], "cap.7") is not None)
t.ok(hit, "the refused NOTIFY left the earlier one: * STATUS cap.7", got)
b.cmd("CREATE cap.101")
got, hit = wait_for(a, lambda ln: "NOTIFICATIONOVERFLOW" in ln)
t.ok(hit and re.match(r"^\* OK \[NOTIFICATIONOVERFLOW\]", got[-1]), "a 101st folder under cap: * OK [NOTIFICATIONOVERFLOW] (5.8)", got)
drop("cap.8", "not watched now")
got = quiet(a)
t.is_(got, [], "then nothing, as after NOTIFY NONE")
unt, tg = a.cmd("NOOP")
t.ok(tagged_ok(tg), "the session goes on", tg)

a.cmd("LOGOUT")
b.cmd("LOGOUT")
t.done()
