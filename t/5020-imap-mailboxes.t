#!/usr/bin/python3
# imap-serve: the commands that name mailboxes.
# - SELECT and EXAMINE (RFC 3501 6.3.1, 6.3.2): FLAGS, PERMANENTFLAGS
#   with \*, EXISTS, RECENT, UNSEEN, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ
#   (RFC 7162 3.1.2.1), READ-WRITE / READ-ONLY; \Recent goes to the first
#   session that selects, EXAMINE keeps it; new/ to cur/ on SELECT only;
# - CREATE (trailing separator, parents, CREATE-SPECIAL-USE of RFC 6154,
#   ALREADYEXISTS of RFC 5530, INBOX), DELETE (NONEXISTENT, INBOX, a
#   parent stays \Noselect), RENAME (children move, RENAME INBOX, into
#   itself, ALREADYEXISTS);
# - SUBSCRIBE, UNSUBSCRIBE, LSUB and the subscriptions file;
# - LIST (RFC 3501 6.3.8: * and %, reference, "" for the separator,
#   CHILDREN of RFC 3348, \Noselect parents), LIST-EXTENDED (RFC 5258),
#   LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154);
# - STATUS (RFC 3501 6.3.10, HIGHESTMODSEQ of RFC 7162 3.1.7), NAMESPACE
#   (RFC 2342);
# - modified UTF-7 names (RFC 3501 5.1.3), and names that must not leave
#   the Maildir (refused, or kept inside mail/example.test/demo/).

import imaplib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()
USER, PASS = "demo@example.test", "demo"


# ---- helpers ----

def login():
    c = ternlib.ImapConn(port)
    _, tg = c.cmd("LOGIN %s %s" % (USER, PASS))
    if " OK " not in tg:
        raise RuntimeError("login failed: " + tg)
    return c


def msg(subject, body="body\n"):
    return "From: a@remote.test\nTo: demo@example.test\nSubject: %s\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n\n%s" % (subject, body)


def append(c, folder, data, flags=""):
    """APPEND with a synchronizing literal; returns the tagged line."""
    data = data.replace("\n", "\r\n").encode()
    c.n += 1
    tag = "t%d" % c.n
    c.send(("%s APPEND %s %s{%d}\r\n" % (tag, quote(folder), "(%s) " % flags if flags else "", len(data))).encode())
    ln = c.line().decode(errors="replace")
    if not ln.startswith("+"):
        return ln
    c.send(data + b"\r\n")
    return c.until(tag)[1]


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tagged_ok(tg):
    return re.match(r"^\S+ OK\b", tg) is not None


def tagged_no(tg):
    return re.match(r"^\S+ NO\b", tg) is not None


def astring(s):
    """One string at the start of s (quoted, literal or atom): (value, rest)."""
    if s.startswith('"'):
        out, i = "", 1
        while i < len(s) and s[i] != '"':
            if s[i] == "\\" and i + 1 < len(s):
                i += 1
            out += s[i]
            i += 1
        return out, s[i + 1:].lstrip(" ")
    m = re.match(r"\{(\d+)\+?\}\r\n", s)
    if m:
        n = int(m.group(1))
        start = m.end()
        return s[start:start + n], s[start + n:].lstrip(" ")
    m = re.match(r"[^ ()]*", s)
    return m.group(0), s[m.end():].lstrip(" ")


def parse_list(ln, verb="LIST"):
    """'* LIST (attrs) "sep" name [ext]' -> (set of lowercased attributes, sep, name, ext) or None."""
    m = re.match(r"^\* %s \(([^)]*)\) (NIL|\"(?:[^\"\\]|\\.)*\") (.*)$" % verb, ln, re.S)
    if not m:
        return None
    attrs = set(a.lower() for a in m.group(1).split())
    sep = None if m.group(2) == "NIL" else astring(m.group(2))[0]
    name, ext = astring(m.group(3))
    return attrs, sep, name, ext


def listing(c, args, verb="LIST"):
    """{name: (attrs, ext)} of a LIST/LSUB command, with the tagged line and untagged lines."""
    unt, tg = c.cmd("%s %s" % (verb, args))
    out = {}
    for ln in unt:
        p = parse_list(ln, verb)
        if p:
            out[p[2]] = (p[0], p[3])
    return out, tg, unt


def parse_status(ln):
    m = re.match(r"^\* STATUS (.*)$", ln, re.S)
    if not m:
        return None
    name, rest = astring(m.group(1))
    m = re.match(r"^\((.*)\)$", rest.strip())
    if not m:
        return None
    toks = m.group(1).split()
    return name, dict((toks[i].upper(), int(toks[i + 1])) for i in range(0, len(toks) - 1, 2))


def status(c, name, items="MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ"):
    unt, tg = c.cmd("STATUS %s (%s)" % (quote(name), items))
    for ln in unt:
        p = parse_status(ln)
        if p and p[0] == name:
            return p[1], tg
    return None, tg


def code(unt, name):
    """The value of an untagged OK [NAME value] response code."""
    for ln in unt:
        m = re.match(r"^\* OK \[%s(?: ([^\]]*))?\]" % name, ln)
        if m:
            return m.group(1) if m.group(1) is not None else ""
    return None


def count(unt, what):
    for ln in unt:
        m = re.match(r"^\* (\d+) %s$" % what, ln)
        if m:
            return int(m.group(1))
    return None


def fetch_flags(unt):
    """{msn: set of flags} from untagged FETCH lines."""
    out = {}
    for ln in unt:
        m = re.match(r"^\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", ln)
        if m:
            out[int(m.group(1))] = set(m.group(2).split())
    return out


def files(folder="INBOX", sub="new"):
    d = os.path.join(inst.mailbox_path(folder), sub)
    try:
        return sorted(f for f in os.listdir(d) if not f.startswith("."))
    except FileNotFoundError:
        return []


def msgfiles(folder):
    return files(folder, "new") + files(folder, "cur")


def put(data, name, sub="new", folder="INBOX", mtime=None):
    p = inst.put(data, name, sub=sub, mailbox=os.path.relpath(inst.mailbox_path(folder), inst.path("mail")))
    if mtime:
        os.utime(p, (mtime, mtime))
    return p


def subscriptions():
    try:
        with open(os.path.join(MD, "subscriptions")) as f:
            return [l for l in f.read().split("\n") if l]
    except FileNotFoundError:
        return []


def tree(top, skip):
    """Every path under top (relative), except those under skip."""
    out = set()
    for dp, dns, fns in os.walk(top):
        rel = os.path.relpath(dp, top)
        if rel == skip or rel.startswith(skip + os.sep):
            dns[:] = []
            continue
        for n in dns + fns:
            out.add(os.path.normpath(os.path.join(rel, n)))
    return out


# ======== SELECT and EXAMINE ========
# INBOX: one message already read in cur/, three new ones in new/
put(msg("one"), "1700000001.M1P1Q1.host:2,S", sub="cur", mtime=1700000001)
for i in (2, 3, 4):
    put(msg("m%d" % i), "17000000%02d.M1P1Q1.host" % i, mtime=1700000000 + i)

a = login()
unt, tg = a.cmd("EXAMINE INBOX")
t.like(tg, r"^\S+ OK \[READ-ONLY\]", "EXAMINE INBOX: tagged OK [READ-ONLY] (RFC 3501 6.3.2)")
fl = [ln for ln in unt if ln.startswith("* FLAGS ")]
t.ok(fl and set(re.match(r"^\* FLAGS \((.*)\)$", fl[0]).group(1).split()) >= {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"},
     "EXAMINE: * FLAGS lists the five system flags", fl)
t.is_(count(unt, "EXISTS"), 4, "EXAMINE: * 4 EXISTS (new/ and cur/)")
nrecent = count(unt, "RECENT")
# RFC 3501 2.3.2: \Recent is for the first session notified of a message;
# no session was, not even of the one a Maildir reader put in cur/
# (Dovecot 2.3 counts it too)
t.is_(nrecent, 4, "EXAMINE: * 4 RECENT, the message found in cur/ included (no session was notified of any: RFC 3501 2.3.2)")
t.is_(code(unt, "UNSEEN"), "2", "EXAMINE: [UNSEEN 2], the number of the first message without \\Seen")
uv = code(unt, "UIDVALIDITY")
t.ok(uv is not None and uv.isdigit() and int(uv) > 0, "EXAMINE: [UIDVALIDITY n], n > 0", unt)
t.is_(code(unt, "UIDNEXT"), "5", "EXAMINE: [UIDNEXT 5] after UIDs 1 to 4")
hms = code(unt, "HIGHESTMODSEQ")
t.ok(hms is not None and hms.isdigit() and int(hms) > 0, "EXAMINE: [HIGHESTMODSEQ n] (RFC 7162 3.1.2.1)", unt)
pf = code(unt, "PERMANENTFLAGS")
t.ok(pf is not None and "\\*" not in pf, "EXAMINE: PERMANENTFLAGS allows no new keywords in a read-only mailbox", pf)
t.is_(len(files("INBOX", "new")), 3, "EXAMINE leaves the three messages in new/ (no change to the mailbox)")

b = login()
unt, tg = b.cmd("EXAMINE INBOX")
t.ok(count(unt, "RECENT") == nrecent and nrecent >= 3,
     "a second session's EXAMINE sees the same RECENT count (at least the 3 of new/): EXAMINE does not take \\Recent", unt)

unt, tg = a.cmd("SELECT INBOX")
t.like(tg, r"^\S+ OK \[READ-WRITE\]", "SELECT INBOX after EXAMINE: tagged OK [READ-WRITE] (RFC 3501 6.3.1)")
pf = code(unt, "PERMANENTFLAGS")
t.ok(pf is not None and set(pf.strip("()").split()) >= {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\*"},
     "SELECT: PERMANENTFLAGS has the system flags and \\* (new keywords allowed, RFC 3501 7.1)", pf)
t.ok((count(unt, "EXISTS"), count(unt, "RECENT")) == (4, nrecent) and nrecent >= 3,
     "SELECT: * 4 EXISTS and the same RECENT count: this session is the first to select", unt)
t.is_(code(unt, "UIDVALIDITY"), uv, "SELECT: the same UIDVALIDITY as EXAMINE")
t.is_(code(unt, "UNSEEN"), "2", "SELECT: [UNSEEN 2]")
t.is_(files("INBOX", "new"), [], "SELECT moved the messages out of new/")
t.is_(len(files("INBOX", "cur")), 4, "... into cur/ (Maildir readers no longer see them as new)")
unt, tg = a.cmd("FETCH 1:* (FLAGS)")
ff = fetch_flags(unt)
t.ok(len(ff) == 4 and all("\\Recent" in ff[i] for i in (2, 3, 4)), "FETCH FLAGS in the selecting session: \\Recent on the three from new/", unt)
t.ok("\\Seen" in ff.get(1, set()) and not any("\\Seen" in ff.get(i, set()) for i in (2, 3, 4)),
     "FETCH FLAGS: \\Seen from the name in cur/ (:2,S) on message 1 only", unt)

unt, tg = b.cmd("EXAMINE INBOX")
t.is_(count(unt, "RECENT"), 0, "EXAMINE in another session after that SELECT: * 0 RECENT")
c = login()
unt, tg = c.cmd("SELECT INBOX")
t.is_((count(unt, "EXISTS"), count(unt, "RECENT")), (4, 0), "a second SELECT: * 4 EXISTS, * 0 RECENT (\\Recent went to the first)")
unt, tg = c.cmd("FETCH 1:* (FLAGS)")
t.ok(unt and not any("\\Recent" in f for f in fetch_flags(unt).values()), "FETCH FLAGS in that session: no \\Recent", unt)

# a new message: the first session to select after it gets \Recent for it
put(msg("m5"), "1700000005.M1P1Q1.host", mtime=1700000005)
d = login()
unt, tg = d.cmd("SELECT INBOX")
t.is_((count(unt, "EXISTS"), count(unt, "RECENT")), (5, 1), "a new message in new/, a new SELECT: * 5 EXISTS, * 1 RECENT")
t.is_(code(unt, "UIDNEXT"), "6", "[UIDNEXT 6]")
unt, tg = a.cmd("NOOP")
t.is_(count(unt, "EXISTS"), 5, "the first session learns of it at NOOP: * 5 EXISTS")
unt, tg = a.cmd("FETCH 5 (FLAGS)")
t.ok(5 in fetch_flags(unt) and "\\Recent" not in fetch_flags(unt)[5], "... without \\Recent (another session had it first)", unt)

unt, tg = a.cmd("SELECT Nonesuch")
t.ok(tagged_no(tg), "SELECT of a mailbox that does not exist: NO", tg)
unt, tg = a.cmd("FETCH 1 (FLAGS)")
t.like(tg, r"^\S+ BAD", "after a failed SELECT no mailbox is selected (RFC 3501 6.3.1): FETCH is BAD")

# STATUS of the selected mailbox (RFC 3501 6.3.10 allows it)
d.cmd("STORE 2 +FLAGS (\\Seen)")
st, tg = status(d, "INBOX")
t.ok(tagged_ok(tg) and st is not None, "STATUS of the selected mailbox with every item: OK", tg)
st = st or {}
t.is_((st.get("MESSAGES"), st.get("UIDNEXT"), st.get("UNSEEN")), (5, 6, 3), "STATUS INBOX: MESSAGES 5, UIDNEXT 6, UNSEEN 3")
t.is_(str(st.get("UIDVALIDITY")), uv, "STATUS INBOX: the UIDVALIDITY of SELECT")
t.ok(st.get("HIGHESTMODSEQ", 0) > int(hms), "STATUS INBOX: HIGHESTMODSEQ grew after a STORE (RFC 7162 3.1.7)", st)
t.ok("RECENT" in st, "STATUS INBOX: a RECENT count", st)
for x in (a, b, c, d):
    x.cmd("LOGOUT")
    x.close()

# ======== CREATE ========
m = login()
unt, tg = m.cmd('CREATE "Projects."')
t.ok(tagged_ok(tg), "CREATE with a trailing separator: OK (RFC 3501 6.3.3)", tg)
lst, tg, _ = listing(m, '"" "Projects*"')
t.is_(sorted(lst), ["Projects"], "LIST shows it as \"Projects\", without the separator")
t.ok(os.path.isdir(os.path.join(MD, ".Projects", "cur")), "on the disk: .Projects/ with cur/")
t.ok(tagged_ok(append(m, "Projects", msg("p1"), "\\Seen")) and tagged_ok(append(m, "Projects", msg("p2"))),
     "two messages appended to Projects (one \\Seen)")

unt, tg = m.cmd('CREATE "Work.2024.Q1"')
t.ok(tagged_ok(tg), "CREATE Work.2024.Q1: OK", tg)
lst, tg, _ = listing(m, '"" "Work*"')
t.is_(sorted(lst), ["Work", "Work.2024", "Work.2024.Q1"], "LIST Work*: the superior names are there (RFC 3501 6.3.3)")
t.ok("\\haschildren" in lst.get("Work", (set(),))[0] and "\\hasnochildren" in lst.get("Work.2024.Q1", (set(),))[0],
     "Work \\HasChildren, Work.2024.Q1 \\HasNoChildren (RFC 3348)", lst)

unt, tg = m.cmd('CREATE "Old" (USE (\\Archive))')
t.ok(tagged_ok(tg), "CREATE Old (USE (\\Archive)): OK (RFC 6154 3, CREATE-SPECIAL-USE)", tg)
lst, tg, _ = listing(m, '"" "Old" RETURN (SPECIAL-USE)')
t.ok("\\archive" in lst.get("Old", (set(),))[0], "LIST RETURN (SPECIAL-USE): Old has \\Archive", lst)
unt, tg = m.cmd('CREATE "Bogus" (USE (\\Nonsense))')
t.like(tg, r"^\S+ NO \[USEATTR\]", "CREATE with an unknown special use: NO [USEATTR] (RFC 6154 3)")
t.ok(not os.path.exists(os.path.join(MD, ".Bogus")), "... and nothing is created")

unt, tg = m.cmd('CREATE "Projects"')
t.like(tg, r"^\S+ NO \[ALREADYEXISTS\]", "CREATE of an existing name: NO [ALREADYEXISTS] (RFC 5530)")
unt, tg = m.cmd("CREATE INBOX")
t.ok(tagged_no(tg), "CREATE INBOX: NO (RFC 3501 6.3.3)", tg)
unt, tg = m.cmd("CREATE inbox")
t.ok(tagged_no(tg), "CREATE inbox (any case is INBOX, RFC 3501 5.1): NO", tg)

im = imaplib.IMAP4("127.0.0.1", port)
im.login(USER, PASS)
typ, data = im.create("Client")
t.is_(typ, "OK", "imaplib: create('Client')")
typ, data = im.list('""', "Client")
t.ok(typ == "OK" and any(b'"Client"' in d or d.endswith(b" Client") for d in data), "imaplib: list finds it", data)
typ, data = im.select("Client")
t.is_((typ, data), ("OK", [b"0"]), "imaplib: select('Client') -> 0 messages")
im.logout()

unt, tg = m.cmd('CREATE "inbox.Sub"')
lst, tg2, _ = listing(m, '"" "INBOX*"')
t.ok(tagged_ok(tg) and "INBOX.Sub" in lst and "\\haschildren" in lst.get("INBOX", (set(),))[0],
     "CREATE inbox.Sub: listed as INBOX.Sub (INBOX in any case), INBOX \\HasChildren", [tg, lst])
m.cmd('DELETE "INBOX.Sub"')

# ======== DELETE ========
unt, tg = m.cmd("DELETE Nonesuch")
t.like(tg, r"^\S+ NO \[NONEXISTENT\]", "DELETE of a name that does not exist: NO [NONEXISTENT] (RFC 5530)")
unt, tg = m.cmd("DELETE INBOX")
t.ok(tagged_no(tg), "DELETE INBOX: NO (RFC 3501 6.3.4)", tg)
st, _ = status(m, "INBOX", "MESSAGES")
t.is_(st, {"MESSAGES": 5}, "INBOX still has its five messages")

t.ok(tagged_ok(append(m, "Work", msg("w1"))), "a message appended to Work (which has children)")
unt, tg = m.cmd("DELETE Work")
t.ok(tagged_ok(tg), "DELETE Work, which has children: OK (RFC 3501 6.3.4)", tg)
lst, tg, _ = listing(m, '"" "Work*"')
t.is_(sorted(lst), ["Work", "Work.2024", "Work.2024.Q1"], "LIST Work*: the children stay")
t.ok({"\\noselect", "\\haschildren"} <= lst.get("Work", (set(),))[0], "Work is now \\Noselect \\HasChildren", lst)
unt, tg = m.cmd("SELECT Work")
t.ok(tagged_no(tg), "SELECT Work: NO", tg)
t.is_(msgfiles("Work"), [], "Work's message is gone from the disk")
unt, tg = m.cmd("DELETE Work")
t.ok(tagged_no(tg), "DELETE of a \\Noselect name with children: NO (RFC 3501 6.3.4)", tg)
t.ok(os.path.isdir(os.path.join(MD, ".Work.2024.Q1", "cur")), "Work.2024.Q1 is untouched on the disk")
st1, _ = status(m, "Client", "UIDVALIDITY UIDNEXT")
append(m, "Client", msg("c1"))
unt, tg = m.cmd("DELETE Client")
t.ok(tagged_ok(tg), "DELETE Client (a leaf, one message): OK", tg)
lst, tg, _ = listing(m, '"" "Client"')
t.ok(tagged_ok(tg) and lst == {}, "LIST no longer shows it", lst)
t.ok(not os.path.exists(os.path.join(MD, ".Client")), "its directory is gone")
m.cmd("CREATE Client")
st2, _ = status(m, "Client", "UIDVALIDITY UIDNEXT MESSAGES")
t.ok(st1 and st2 and st2["MESSAGES"] == 0 and (st2["UIDVALIDITY"] != st1["UIDVALIDITY"] or st2["UIDNEXT"] > 1),
     "CREATE Client again: empty, and a new UIDVALIDITY (or UIDs that go on): its UIDs cannot be taken for the old ones (RFC 3501 2.3.1.1)", [st1, st2])
m.cmd("DELETE Client")

# ======== RENAME ========
m.cmd("CREATE Proj")
m.cmd('CREATE "Proj.a.b"')
t.ok(tagged_ok(append(m, "Proj.a", msg("pa"))), "Proj, Proj.a, Proj.a.b created, a message in Proj.a")
unt, tg = m.cmd("RENAME Proj Plan")
t.ok(tagged_ok(tg), "RENAME Proj Plan: OK", tg)
lst, tg, _ = listing(m, '"" "P*"')
t.is_(sorted(lst), ["Plan", "Plan.a", "Plan.a.b", "Projects"], "LIST P*: the children moved with it (RFC 3501 6.3.5), no Proj left")
st, _ = status(m, "Plan.a", "MESSAGES")
t.is_(st, {"MESSAGES": 1}, "Plan.a has Proj.a's message")
t.ok(os.path.isdir(os.path.join(MD, ".Plan.a.b")) and not os.path.exists(os.path.join(MD, ".Proj.a")) and not os.path.exists(os.path.join(MD, ".Proj.a.b")),
     "on the disk: .Plan.a.b, no .Proj.a nor .Proj.a.b")
unt, tg = m.cmd('RENAME Plan "Plan.inner"')
t.ok(tagged_no(tg), "RENAME Plan Plan.inner (into itself): NO", tg)
unt, tg = m.cmd("RENAME Plan Archive")
t.like(tg, r"^\S+ NO \[ALREADYEXISTS\]", "RENAME onto an existing name: NO [ALREADYEXISTS]")
unt, tg = m.cmd("RENAME Nonesuch Other")
t.ok(tagged_no(tg), "RENAME of a name that does not exist: NO", tg)
t.ok(not os.path.exists(os.path.join(MD, ".Other")), "... and nothing is created")

unt, tg = m.cmd("RENAME INBOX OldInbox")
t.ok(tagged_ok(tg), "RENAME INBOX OldInbox: OK", tg)
st, _ = status(m, "OldInbox", "MESSAGES UNSEEN")
t.is_(st, {"MESSAGES": 5, "UNSEEN": 3}, "OldInbox has INBOX's five messages, their flags kept (RFC 3501 6.3.5)")
st, tg = status(m, "INBOX", "MESSAGES")
t.is_(st, {"MESSAGES": 0}, "INBOX stays, empty")
t.is_(msgfiles("INBOX"), [], "no message file is left in INBOX's new/ and cur/")
t.is_(len(msgfiles("OldInbox")), 5, "five in .OldInbox")
lst, tg, _ = listing(m, '"" "INBOX"')
t.ok("INBOX" in lst, "LIST still shows INBOX", lst)
unt, tg = m.cmd("SELECT INBOX")
t.is_(count(unt, "EXISTS"), 0, "SELECT INBOX: * 0 EXISTS")
m.cmd("UNSELECT")

# ======== SUBSCRIBE, UNSUBSCRIBE, LSUB ========
unt, tg = m.cmd("SUBSCRIBE Projects")
t.ok(tagged_ok(tg), "SUBSCRIBE Projects: OK", tg)
t.ok("Projects" in subscriptions(), "the subscriptions file has a line \"Projects\"", subscriptions())
lst, tg, _ = listing(m, '"" "*"', "LSUB")
t.ok("Projects" in lst and "Drafts" in lst, "LSUB \"\" *: Projects, and Drafts (subscribed at the first login)", lst)
unt, tg = m.cmd("UNSUBSCRIBE Projects")
t.ok(tagged_ok(tg), "UNSUBSCRIBE Projects: OK", tg)
t.ok("Projects" not in subscriptions(), "... removes its line", subscriptions())
lst, tg, _ = listing(m, '"" "*"', "LSUB")
t.ok(tagged_ok(tg) and "Projects" not in lst, "LSUB no longer shows it", lst)

m.cmd('CREATE "Fam.Kid"')
m.cmd('SUBSCRIBE "Fam.Kid"')
lst, tg, _ = listing(m, '"" "%"', "LSUB")
t.ok("\\noselect" in lst.get("Fam", (set(),))[0],
     "LSUB \"\" %: Fam (not subscribed, a subscribed child) as \\Noselect (RFC 3501 6.3.9)", lst)
lst, tg, _ = listing(m, '"" "Fam*"', "LSUB")
t.is_(sorted(lst), ["Fam.Kid"], "LSUB \"\" Fam*: only the subscribed name")

m.cmd("CREATE Gone")
m.cmd("SUBSCRIBE Gone")
unt, tg = m.cmd("DELETE Gone")
t.ok(tagged_ok(tg), "Gone created, subscribed, deleted", tg)
lst, tg, _ = listing(m, '"" "Gone"', "LSUB")
t.ok("Gone" in lst, "LSUB still shows Gone: a subscription is not removed with its mailbox (RFC 3501 6.3.6)", lst)
t.ok("Gone" in subscriptions(), "... and the subscriptions file keeps it")

# ======== LIST ========
os.makedirs(os.path.join(MD, ".Ext.Only", "cur"))
os.makedirs(os.path.join(MD, ".Ext.Only", "new"))
os.makedirs(os.path.join(MD, ".Ext.Only", "tmp"))
inst.chown_all()
lst, tg, unt = listing(m, '"" "*"')
want = {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash", "Projects", "Work", "Work.2024", "Work.2024.Q1",
        "Old", "Plan", "Plan.a", "Plan.a.b", "OldInbox", "Fam", "Fam.Kid", "Ext", "Ext.Only"}
t.is_(set(lst), want, "LIST \"\" *: every folder and every implied parent, nothing else (Gone is only subscribed)")
t.ok(all(parse_list(ln)[1] == "." for ln in unt if ln.startswith("* LIST")), "the separator is \".\" on every line")
t.ok({"\\noselect", "\\haschildren"} <= lst.get("Ext", (set(),))[0],
     "Ext (.Ext.Only made by another Maildir++ program, no .Ext): \\Noselect \\HasChildren", lst.get("Ext"))
t.ok("\\hasnochildren" in lst.get("Ext.Only", (set(),))[0] and "\\noselect" not in lst.get("Ext.Only", (set(),))[0],
     "Ext.Only: selectable, \\HasNoChildren", lst.get("Ext.Only"))
t.ok("\\haschildren" in lst.get("Plan", (set(),))[0] and "\\hasnochildren" in lst.get("Projects", (set(),))[0],
     "Plan \\HasChildren, Projects \\HasNoChildren")
lst, tg, _ = listing(m, '"" "%"')
t.is_(set(lst), {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash", "Projects", "Work", "Old", "Plan", "OldInbox", "Fam", "Ext"},
      "LIST \"\" %: the top level only (% does not match the separator)")
lst, tg, _ = listing(m, '"" "Work.%"')
t.is_(sorted(lst), ["Work.2024"], "LIST \"\" Work.%: one level down")
lst, tg, _ = listing(m, '"Work." "%"')
t.is_(sorted(lst), ["Work.2024"], "LIST \"Work.\" %: the reference and the pattern together (RFC 3501 6.3.8)")
lst, tg, _ = listing(m, '"Plan" ".*"')
t.is_(sorted(lst), ["Plan.a", "Plan.a.b"], "LIST Plan .*: the reference and a pattern starting with the separator")
lst, tg, _ = listing(m, '"" "*.Q1"')
t.is_(sorted(lst), ["Work.2024.Q1"], "LIST \"\" *.Q1: * matches across levels")
unt, tg = m.cmd('LIST "" ""')
p = [parse_list(ln) for ln in unt if ln.startswith("* LIST")]
t.ok(tagged_ok(tg) and len(p) == 1 and p[0][1] == "." and p[0][2] == "" and "\\noselect" in p[0][0],
     "LIST \"\" \"\": one line, (\\Noselect) \".\" \"\" (the separator, RFC 3501 6.3.8)", unt)
lst, tg, _ = listing(m, '"" "inbox"')
t.is_(sorted(lst), ["INBOX"], "LIST \"\" inbox: INBOX in any case (RFC 3501 5.1)")
lst, tg, _ = listing(m, '"" "Nothing*"')
t.ok(tagged_ok(tg) and lst == {}, "LIST of a pattern nothing matches: OK and no line")

# ======== LIST-EXTENDED (RFC 5258) ========
lst, tg, _ = listing(m, '(SUBSCRIBED) "" "*"')
t.is_(set(lst), {"Archive", "Drafts", "Junk", "Sent", "Trash", "Fam.Kid", "Gone"}, "LIST (SUBSCRIBED) \"\" *: exactly the subscribed names (3.1)")
t.ok(all("\\subscribed" in v[0] for v in lst.values()), "... each \\Subscribed", lst)
t.ok("\\nonexistent" in lst.get("Gone", (set(),))[0], "Gone: \\NonExistent (subscribed, no mailbox: 3.4)", lst.get("Gone"))
t.ok("\\nonexistent" not in lst.get("Fam.Kid", (set(),))[0], "Fam.Kid: not \\NonExistent", lst.get("Fam.Kid"))
lst, tg, _ = listing(m, '(SUBSCRIBED) "" "%"')
t.ok("Fam" not in lst, "LIST (SUBSCRIBED) \"\" %: not Fam (not subscribed; example 8 of RFC 5258)", lst)
lst, tg, _ = listing(m, '(SUBSCRIBED RECURSIVEMATCH) "" "%"')
fam = lst.get("Fam", (set(), ""))
t.ok(re.search(r'\("CHILDINFO" \("SUBSCRIBED"\)\)', fam[1] or "") is not None and "\\subscribed" not in fam[0],
     "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" %: Fam with (\"CHILDINFO\" (\"SUBSCRIBED\")), not \\Subscribed (3.5)", lst.get("Fam"))
t.ok("Drafts" in lst and "Fam.Kid" not in lst, "... the subscribed top-level names, not Fam.Kid (% stops at the separator)", lst)
unt, tg = m.cmd('LIST (RECURSIVEMATCH) "" "*"')
t.like(tg, r"^\S+ BAD", "LIST (RECURSIVEMATCH) alone: BAD (RFC 5258 3.1)")
unt, tg = m.cmd('LIST (REMOTE RECURSIVEMATCH) "" "*"')
t.like(tg, r"^\S+ BAD", "LIST (REMOTE RECURSIVEMATCH): BAD (RFC 5258 3.1)")
lst, tg, _ = listing(m, '(REMOTE) "" "*"')
t.is_(set(lst), want, "LIST (REMOTE) \"\" *: the same names as LIST, not the subscribed-only Gone (RFC 5258 3.1, example 6)")
lst, tg, _ = listing(m, '"" "Fam*" RETURN (CHILDREN)')
t.ok("\\haschildren" in lst.get("Fam", (set(),))[0] and "\\hasnochildren" in lst.get("Fam.Kid", (set(),))[0],
     "RETURN (CHILDREN): Fam \\HasChildren, Fam.Kid \\HasNoChildren (RFC 5258 4)", lst)
lst, tg, _ = listing(m, '"" "*" RETURN (SUBSCRIBED)')
t.ok(set(lst) == want and "\\subscribed" in lst["Fam.Kid"][0] and "\\subscribed" in lst["Drafts"][0]
     and "\\subscribed" not in lst["Fam"][0] and "\\subscribed" not in lst["Projects"][0],
     "RETURN (SUBSCRIBED): the mailboxes, not the subscribed-only Gone (RFC 5258 example 6); \\Subscribed on Fam.Kid and Drafts, not on Fam or Projects", lst)
lst, tg, _ = listing(m, '"" ("Projects" "Fam*")')
t.is_(sorted(lst), ["Fam", "Fam.Kid", "Projects"], "LIST \"\" (Projects Fam*): several patterns (RFC 5258 3)")
lst, tg, _ = listing(m, '"Plan." ("a" "a.%")')
t.is_(sorted(lst), ["Plan.a", "Plan.a.b"], "LIST \"Plan.\" (a a.%): the reference applies to each pattern")

# ======== LIST-STATUS (RFC 5819) ========
unt, tg = m.cmd('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))')
t.ok(tagged_ok(tg), "LIST \"\" * RETURN (STATUS (MESSAGES UNSEEN)): OK", tg)
sts = dict(p for p in (parse_status(ln) for ln in unt) if p)
t.is_(sts.get("Projects"), {"MESSAGES": 2, "UNSEEN": 1}, "STATUS Projects (MESSAGES 2 UNSEEN 1) among the replies")
t.is_(sts.get("OldInbox"), {"MESSAGES": 5, "UNSEEN": 3}, "STATUS OldInbox (MESSAGES 5 UNSEEN 3)")
t.is_(sts.get("INBOX"), {"MESSAGES": 0, "UNSEEN": 0}, "STATUS INBOX (MESSAGES 0 UNSEEN 0)")
t.ok("Ext" not in sts and "Work" not in sts, "no STATUS for the \\Noselect names Ext and Work", sorted(sts))
order = [("L", parse_list(ln)[2]) if ln.startswith("* LIST") else ("S", parse_status(ln)[0]) for ln in unt
         if ln.startswith("* LIST") or ln.startswith("* STATUS")]
t.ok(all(("L", n) in order and order.index(("L", n)) < order.index(("S", n)) for n in sts),
     "each STATUS comes after its mailbox's LIST line", order)

# ======== SPECIAL-USE (RFC 6154) ========
lst, tg, _ = listing(m, '"" "*" RETURN (SPECIAL-USE)')
t.ok("\\drafts" in lst["Drafts"][0] and "\\sent" in lst["Sent"][0] and "\\trash" in lst["Trash"][0]
     and "\\junk" in lst["Junk"][0] and "\\archive" in lst["Archive"][0],
     "RETURN (SPECIAL-USE): \\Drafts \\Sent \\Trash \\Junk \\Archive on the folders made at the first login", lst)
t.ok(not (lst["Projects"][0] & {"\\drafts", "\\sent", "\\trash", "\\junk", "\\archive", "\\all", "\\flagged"}),
     "Projects has no special use")
lst, tg, _ = listing(m, '(SPECIAL-USE) "" "*"')
t.is_(set(lst), {"Archive", "Drafts", "Junk", "Sent", "Trash", "Old"}, "LIST (SPECIAL-USE) \"\" *: only the special-use mailboxes")
t.ok("\\archive" in lst.get("Old", (set(),))[0], "... with their attributes (the selection implies the return option)", lst.get("Old"))

# ======== STATUS ========
st, tg = status(m, "Projects")
t.ok(tagged_ok(tg) and st is not None, "STATUS Projects with every item: OK", tg)
st = st or {}
t.is_((st.get("MESSAGES"), st.get("RECENT"), st.get("UIDNEXT"), st.get("UNSEEN")), (2, 2, 3, 1),
      "STATUS Projects: MESSAGES 2, RECENT 2 (appended, never selected: RFC 3501 6.3.11), UIDNEXT 3, UNSEEN 1")
h1 = st.get("HIGHESTMODSEQ", 0)
t.ok(st.get("UIDVALIDITY", 0) > 0 and h1 > 0, "... UIDVALIDITY and HIGHESTMODSEQ", st)
unt, tg = m.cmd("EXAMINE Projects")
t.is_(code(unt, "UIDVALIDITY"), str(st.get("UIDVALIDITY")), "EXAMINE Projects: the UIDVALIDITY of STATUS")
m.cmd("UNSELECT")
append(m, "Projects", msg("p3"))
st2, tg = status(m, "Projects", "MESSAGES UIDNEXT HIGHESTMODSEQ")
t.ok(st2 and st2["MESSAGES"] == 3 and st2["UIDNEXT"] == 4 and st2["HIGHESTMODSEQ"] > h1,
     "after an APPEND: MESSAGES 3, UIDNEXT 4, HIGHESTMODSEQ grew", st2)
unt, tg = m.cmd("STATUS Nonesuch (MESSAGES)")
t.ok(tagged_no(tg), "STATUS of a mailbox that does not exist: NO", tg)
unt, tg = m.cmd("STATUS Projects (BOGUS)")
t.like(tg, r"^\S+ BAD", "STATUS with an unknown item: BAD")
im = imaplib.IMAP4("127.0.0.1", port)
im.login(USER, PASS)
typ, data = im.status("Projects", "(MESSAGES UNSEEN)")
t.ok(typ == "OK" and re.search(rb"MESSAGES 3 UNSEEN 2", data[0] or b""), "imaplib: status('Projects') -> MESSAGES 3 UNSEEN 2", data)

# ======== NAMESPACE (RFC 2342) ========
unt, tg = m.cmd("NAMESPACE")
t.ok(tagged_ok(tg) and any(re.match(r'^\* NAMESPACE \(\("[^"]*" "\."\)\) NIL NIL$', ln) for ln in unt),
     "NAMESPACE: one personal namespace with \".\" as its separator, no others", unt)
typ, data = im.namespace()
t.is_(typ, "OK", "imaplib: namespace()")

# ======== modified UTF-7 (RFC 3501 5.1.3) ========
unt, tg = m.cmd('CREATE "R&-D"')
t.ok(tagged_ok(tg), "CREATE \"R&-D\" (R&D): OK", tg)
t.ok(os.path.isdir(os.path.join(MD, ".R&-D", "cur")), "on the disk as .R&-D (mUTF-7, as Dovecot and Courier keep it)")
typ, data = im.create('"Gr&APw-n"')
t.is_(typ, "OK", "imaplib: create Gr&APw-n (Grün)")
t.ok(os.path.isdir(os.path.join(MD, ".Gr&APw-n")), "on the disk as .Gr&APw-n")
unt, tg = m.cmd('CREATE "&ZeVnLIqe-.&U,BTFw-"')
t.ok(tagged_ok(tg), "CREATE &ZeVnLIqe-.&U,BTFw- (two levels, CJK): OK", tg)
lst, tg, _ = listing(m, '"" "*&*"')
t.is_(set(lst), {"R&-D", "Gr&APw-n", "&ZeVnLIqe-", "&ZeVnLIqe-.&U,BTFw-"}, "LIST \"\" *&*: the names as created, in mUTF-7")
lst, tg, _ = listing(m, '"&ZeVnLIqe-." "%"')
t.is_(sorted(lst), ["&ZeVnLIqe-.&U,BTFw-"], "LIST with an mUTF-7 reference")
typ, data = im.select('"Gr&APw-n"')
t.is_(typ, "OK", "imaplib: select Gr&APw-n")
t.ok(tagged_ok(append(m, "R&-D", msg("rd"))), "APPEND to R&-D")
unt, tg = m.cmd('SELECT "R&-D"')
t.ok(tagged_ok(tg) and count(unt, "EXISTS") == 1, "SELECT \"R&-D\": OK, * 1 EXISTS", unt + [tg])
m.cmd("UNSELECT")
im.logout()
for bad, why in (("Gr&APw", "a base64 run without its closing -"), ("&AGE-", "printable ASCII encoded (a)"),
                 ("a&b", "& not followed by - or base64 then -"), ("&Jjo!-", "! inside a base64 run"),
                 ("&2D0-", "a lone high surrogate"), ("&-&-x&AOQ", "a run without its end")):
    unt, tg = m.cmd("CREATE " + quote(bad))
    t.ok(tagged_no(tg), "CREATE %s (%s): NO" % (bad, why), tg)
u8 = "Grün".encode()
m.n += 1
tag = "t%d" % m.n
m.send(b"%s CREATE {%d+}\r\n%s\r\n" % (tag.encode(), len(u8), u8))
unt, tg = m.until(tag)
t.ok(tagged_no(tg), "CREATE of 8-bit UTF-8 in a literal (no UTF8=ACCEPT): NO", tg)
t.ok(not any(n.startswith(".Gr") and n not in (".Gr&APw-n",) for n in os.listdir(MD)), "none of these made a directory",
     sorted(os.listdir(MD)))

# ======== names that must stay inside the Maildir ========
marker = "tern5020x%d" % os.getpid()
demo_rel = os.path.relpath(MD, inst.root)
outside_before = tree(inst.root, demo_rel)
inside_before = set(os.listdir(MD))
evil = ["..", "a..b", "/etc", "/etc/" + marker, "a/b", "~root", ".hidden", "." + marker, marker + ".",
        "x" * 300, "Projects/../../../" + marker, "../" + marker, "../../" + marker, "./" + marker,
        "ctl\x01" + marker, "tab\t" + marker, "*", "%", "Pro*", marker + "%"]
for name in evil:
    unt, tg = m.cmd("CREATE " + quote(name))
    ok = tagged_ok(tg)
    if ok:
        lst, _, _ = listing(m, '"" *')
    # (a trailing separator only declares a level: RFC 3501 6.3.3)
    t.ok(tagged_no(tg) or (ok and (name in lst or (name.endswith(".") and name[:-1] in lst))),
         "CREATE %r: NO, or a mailbox the client can then list" % name[:40], tg)
for name in ("Projects/../../../" + marker, "../" + marker, ".." + marker):
    unt, tg = m.cmd("RENAME Projects " + quote(name))
    if tagged_ok(tg):
        m.cmd("RENAME %s Projects" % quote(name))
    t.ok(not tagged_ok(tg) or os.path.isdir(os.path.join(MD, "." + name)),
         "RENAME Projects %r: NO, or a folder inside the Maildir" % name, tg)
for cmd in ("SELECT ../..", "SELECT \"../../../etc\"", "EXAMINE \"/etc\"", "STATUS \"..\" (MESSAGES)",
            "STATUS \"../demo\" (MESSAGES)", "DELETE \"..\"", "DELETE \".\"", "DELETE \"../demo\"",
            "DELETE \"/\"", "DELETE \"../../example.test\"", "RENAME \"..\" Elsewhere", "RENAME \"../demo\" Elsewhere"):
    unt, tg = m.cmd(cmd)
    t.ok(not tagged_ok(tg), "%s: not OK" % cmd, tg)
# a subscription is only a name (RFC 3501 6.3.6): whatever the answer,
# nothing may be written elsewhere (checked below)
m.cmd("SUBSCRIBE \"../" + marker + "\"")
m.cmd("SUBSCRIBE \"/etc/" + marker + "\"")
tg = append(m, "../" + marker, msg("evil"))
t.ok(not tagged_ok(tg), "APPEND to ../%s: not OK" % marker, tg)
tg = append(m, "Projects/../../../" + marker, msg("evil"))
t.ok(not tagged_ok(tg), "APPEND to Projects/../../../%s: not OK" % marker, tg)
t.is_(tree(inst.root, demo_rel) - outside_before, set(), "nothing new anywhere in the instance outside mail/example.test/demo/")
t.is_(outside_before - tree(inst.root, demo_rel), set(), "nothing removed outside mail/example.test/demo/ either")
escaped = [p for p in (os.path.join(ternlib.TRASH, marker), "/" + marker, "/etc/" + marker, "/tmp/" + marker,
                       os.path.join(os.path.dirname(inst.root), marker), os.path.join(MD, "..", marker),
                       os.path.join(MD, "..", "." + marker)) if os.path.lexists(p)]
t.is_(escaped, [], "no %s next to the instance, in /, /etc or /tmp" % marker)
new_inside = set(os.listdir(MD)) - inside_before
t.ok(all(n.startswith(".") and os.path.isdir(os.path.join(MD, n)) and not os.path.islink(os.path.join(MD, n))
         and n not in (".", "..") for n in new_inside),
     "whatever was accepted is a .Name folder directory of the Maildir", sorted(new_inside))
st, tg = status(m, "OldInbox", "MESSAGES")
t.ok(st == {"MESSAGES": 5} and os.path.isdir(os.path.join(MD, "cur")) and os.path.exists(os.path.join(MD, "tern-uidlist")),
     "the Maildir itself is intact (INBOX's directories, OldInbox's messages)", st)

m.cmd("LOGOUT")
m.close()
rc, out = inst.check()
t.is_(rc, 0, "mailbox-check: the index agrees with the Maildir")
if rc:
    t.diag(out)
t.done()
