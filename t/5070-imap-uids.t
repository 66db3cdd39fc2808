#!/usr/bin/python3
# UIDs are stable (RFC 3501 2.3.1.1, RFC 9051 2.3.1.1): the same UIDs and
# UIDVALIDITY across sessions and a restart of the server; after the loss
# of the index (rebuilt from the Maildir and tern-uidlist, flags from the
# file names), of the uidlist alone (written again from the index), of
# both (only then a new UIDVALIDITY), after a damaged index and a torn
# last line of the uidlist. Changes made behind the server's back (mutt,
# a shell: new/ to cur/ with ":2,S", a flag added in the name, a file
# removed, a file added, a copied file with the same unique name), during
# a session and between sessions, are seen over IMAP (FETCH FLAGS,
# EXPUNGE, EXISTS) and no UID is ever reused. mailbox-check agrees after
# each step and catches a uidlist broken by hand. UIDNEXT never goes down,
# APPEND and COPY give increasing UIDs, and a folder deleted and created
# again gets a new UIDVALIDITY.

import os
import re
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
MD = inst.maildir()
port = inst.imap()
UIDLIST = os.path.join(MD, "tern-uidlist")
INDEX = os.path.join(MD, "tern-index")

# every UID INBOX ever showed, per UIDVALIDITY: uid -> Message-ID
ever = {}
# (uidvalidity, uidnext) of INBOX in the order they were seen
nexts = []


def msg(tag):
    return ("From: sender@remote.test\nTo: demo@example.test\nSubject: uid test %s\n"
            "Message-ID: <%s@uids.test>\n\nbody of %s\n" % (tag, tag, tag))


SEQ = [0]


def put(tag, sub="new", flags=""):
    """A message file written straight into INBOX (as mutt or a shell would)."""
    SEQ[0] += 1
    name = "17100%05d.M%dP77Q%d.uids" % (SEQ[0], SEQ[0], SEQ[0])
    if sub == "cur":
        name += ":2," + flags
    return inst.put(msg(tag), name, sub=sub)


def find(tag):
    """The path of the file holding tag's message (new/ or cur/), or None."""
    for sub in ("new", "cur"):
        d = os.path.join(MD, sub)
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                if ("<%s@uids.test>" % tag).encode() in fh.read():
                    return os.path.join(d, f)
    return None


def files_of(tag):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(MD, sub)
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                if ("<%s@uids.test>" % tag).encode() in fh.read():
                    out.append(os.path.join(d, f))
    return out


def uidlist():
    """(uidvalidity, nextuid, {unique name: uid}) from tern-uidlist (DESIGN.md's format)."""
    with open(UIDLIST, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    h = lines[0].split()
    m = {}
    for ln in lines[1:]:
        if ln:
            u, n = ln.split(b" ", 1)
            m[n.decode()] = int(u)
    return int(h[2]), int(h[3]), m


def uniq(path):
    return os.path.basename(path).split(":", 1)[0]


def parse_fetch(lines):
    """[(seq, uid, message-id, flags)] of the FETCH lines that carry a Message-ID."""
    out = []
    for ln in lines:
        m = re.match(r"\* (\d+) FETCH \(", ln)
        if not m:
            continue
        u = re.search(r"\bUID (\d+)", ln)
        fl = re.search(r"\bFLAGS \(([^)]*)\)", ln)
        mid = re.search(r"Message-ID: <([^@>]+)@uids\.test>", ln, re.I)
        if u and mid:
            out.append((int(m.group(1)), int(u.group(1)), mid.group(1),
                        frozenset(x for x in (fl.group(1).split() if fl else []) if x != "\\Recent")))
    return sorted(out)


def fetch_flags(lines, seq):
    """The flags (without \\Recent) of the last untagged FETCH of message seq, or None."""
    out = None
    for ln in lines:
        m = re.match(r"\* %d FETCH \(.*\bFLAGS \(([^)]*)\)" % seq, ln)
        if m:
            out = set(m.group(1).split()) - {"\\Recent"}
    return out


class Sess:
    def __init__(self, p=None):
        self.c = ternlib.ImapConn(p or port)
        _, tag = self.c.cmd("LOGIN demo@example.test demo")
        if " OK " not in tag:
            raise RuntimeError("login failed: %s\n%s" % (tag, inst.read("log/stderr")[-3000:]))
        self.uv = None

    def cmd(self, c):
        return self.c.cmd(c)

    def select(self, folder="INBOX", verb="SELECT"):
        unt, tag = self.c.cmd('%s "%s"' % (verb, folder))
        info = {"tag": tag, "untagged": unt}
        for ln in unt:
            m = re.match(r"\* (\d+) EXISTS", ln)
            if m:
                info["exists"] = int(m.group(1))
            m = re.search(r"\[UIDVALIDITY (\d+)\]", ln)
            if m:
                info["uidvalidity"] = int(m.group(1))
            m = re.search(r"\[UIDNEXT (\d+)\]", ln)
            if m:
                info["uidnext"] = int(m.group(1))
        if folder == "INBOX" and "uidvalidity" in info and "uidnext" in info:
            nexts.append((info["uidvalidity"], info["uidnext"]))
        self.uv = info.get("uidvalidity")
        return info

    def view(self):
        """[(seq, uid, message-id, flags)] of the whole selected folder."""
        unt, tag = self.c.cmd("UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        v = parse_fetch(unt)
        if self.uv is not None:
            for _, u, mid, _ in v:
                ever.setdefault(self.uv, {}).setdefault(u, set()).add(mid)
        return v

    def status(self, folder="INBOX"):
        unt, tag = self.c.cmd('STATUS "%s" (MESSAGES UIDNEXT UIDVALIDITY)' % folder)
        out = {}
        for ln in unt:
            for k in ("MESSAGES", "UIDNEXT", "UIDVALIDITY"):
                m = re.search(r"\b%s (\d+)" % k, ln)
                if m:
                    out[k.lower()] = int(m.group(1))
        if folder == "INBOX" and "uidvalidity" in out and "uidnext" in out:
            nexts.append((out["uidvalidity"], out["uidnext"]))
        return out

    def noop_until(self, pred, tries=20):
        """NOOP until pred(all untagged lines so far) holds (bounded: a
        few NOOPs, the last ones a little apart); returns the lines."""
        import time
        got = []
        for i in range(tries):
            unt, tag = self.c.cmd("NOOP")
            got += unt
            if pred(got):
                break
            time.sleep(0.1 if i < 10 else 0.3)
        return got

    def logout(self):
        try:
            self.c.cmd("LOGOUT")
        except (EOFError, OSError):
            pass
        self.c.close()


def uidmap(v):
    """{message-id: uid} of a view (message-ids unique in it)."""
    return {mid: u for _, u, mid, _ in v}


def flagmap(v):
    return {mid: fl for _, _, mid, fl in v}


def check(what, args=()):
    rc, out = inst.check(args=args)
    t.ok(rc == 0, "mailbox-check says ok %s" % what, out)
    return rc


def all_unique():
    """One UID one Message-ID in every UIDVALIDITY seen."""
    bad = {(uv, u): m for uv, d in ever.items() for u, m in d.items() if len(m) != 1}
    return bad


# ---------------------------------------------------------------------------
# the first messages: three in new/, two in cur/ with flags
for tag in ("a1", "a2", "a3"):
    put(tag)
put("a4", "cur", "S")
put("a5", "cur", "FS")

s1 = Sess()
i1 = s1.select()
v1 = s1.view()
uids1 = [u for _, u, _, _ in v1]
UV = i1.get("uidvalidity")
t.ok(" OK " in i1["tag"] and i1.get("exists") == 5 and UV, "SELECT INBOX: 5 messages and a UIDVALIDITY", i1)
t.ok(len(v1) == 5 and uids1 == sorted(set(uids1)) and uids1[0] >= 1,
     "UID FETCH: 5 distinct UIDs, increasing with the message numbers (RFC 3501 2.3.1.1)", v1)
t.ok(i1.get("uidnext", 0) > max(uids1 or [0]), "UIDNEXT is above every UID", (i1, uids1))
t.is_(flagmap(v1), {"a1": frozenset(), "a2": frozenset(), "a3": frozenset(),
                    "a4": frozenset(["\\Seen"]), "a5": frozenset(["\\Flagged", "\\Seen"])},
      "the flags are the file names' (a4 :2,S, a5 :2,FS)")
M = uidmap(v1)

# a second session while the first is open, then a third after both
s2 = Sess()
i2 = s2.select()
t.is_((i2.get("uidvalidity"), uidmap(s2.view())), (UV, M), "a second session at the same time: same UIDVALIDITY, same UIDs")
st = s2.status("INBOX")
t.is_((st.get("uidvalidity"), st.get("uidnext"), st.get("messages")), (UV, i1.get("uidnext"), 5),
      "STATUS INBOX: the same UIDVALIDITY, UIDNEXT and count")
s1.logout()
s2.logout()
s3 = Sess()
i3 = s3.select()
t.is_((i3.get("uidvalidity"), uidmap(s3.view())), (UV, M), "a later session: same UIDVALIDITY, same UIDs")
s3.logout()

# -- a restart of the server: stop tcpserver, start it again --
old = inst.pop3_server
os.killpg(old.pid, signal.SIGTERM)
old.wait(timeout=10)
inst.procs.remove(old)
port = inst.imap()
s = Sess()
i = s.select()
t.is_((i.get("uidvalidity"), uidmap(s.view())), (UV, M), "after a restart of the server: same UIDVALIDITY, same UIDs")

# flags set over IMAP go into the file names (DESIGN.md: what mutt reads)
uid = M
unt, tag = s.cmd("UID STORE %d +FLAGS.SILENT (\\Flagged)" % uid["a1"])
unt2, tag2 = s.cmd("UID STORE %d +FLAGS.SILENT (\\Answered $Label1)" % uid["a2"])
unt3, tag3 = s.cmd("UID STORE %d +FLAGS.SILENT (\\Seen \\Draft)" % uid["a3"])
t.ok(all(" OK " in x for x in (tag, tag2, tag3)), "UID STORE of \\Flagged, \\Answered $Label1, \\Seen \\Draft", (tag, tag2, tag3))
want_flags = flagmap(s.view())
t.is_(want_flags, {"a1": frozenset(["\\Flagged"]), "a2": frozenset(["\\Answered", "$Label1"]),
                   "a3": frozenset(["\\Seen", "\\Draft"]), "a4": frozenset(["\\Seen"]),
                   "a5": frozenset(["\\Flagged", "\\Seen"])}, "FETCH FLAGS shows them")
a1 = find("a1")
t.ok(a1 is not None and a1.endswith(":2,F"), "a1's file name ends with :2,F (Maildir flags)", a1)
s.logout()
check("after the flag changes")

# -- the index lost: rebuilt with the same UIDs, UIDVALIDITY, flags --
shutil.rmtree(INDEX)
s = Sess()
i = s.select()
v = s.view()
t.is_((i.get("uidvalidity"), uidmap(v)), (UV, M), "tern-index/ removed: same UIDVALIDITY, same UIDs")
t.is_(flagmap(v), want_flags, "tern-index/ removed: the flags (and the keyword) are read from the file names")
t.ok(i.get("uidnext", 0) >= nexts[0][1], "tern-index/ removed: UIDNEXT did not go down", nexts)
t.ok(os.path.isdir(INDEX), "the index is there again")
check("after the index was rebuilt")

# expunge the message with the highest UID: its UID must not come back
top = max(M, key=M.get)
s.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % M[top])
unt, tag = s.cmd("UID EXPUNGE %d" % M[top])
t.ok(" OK " in tag and any(re.match(r"\* \d+ EXPUNGE", x) for x in unt), "UID EXPUNGE of %s, the highest UID (%d)" % (top, M[top]), (unt, tag))
del M[top]
st = s.status()
t.ok(st.get("uidnext", 0) >= i.get("uidnext", 0), "UIDNEXT did not go down with the expunge", (st, i))
s.logout()

# -- the uidlist lost: written again from the index --
os.unlink(UIDLIST)
s = Sess()
i = s.select()
v = s.view()
t.is_((i.get("uidvalidity"), uidmap(v)), (UV, M), "tern-uidlist removed: same UIDVALIDITY, same UIDs")
t.ok(os.path.exists(UIDLIST), "tern-uidlist is written again")
uv_f, names = (uidlist()[0], uidlist()[2]) if os.path.exists(UIDLIST) else (None, {})
t.is_((uv_f, {mid: names.get(uniq(find(mid))) for mid in M}), (UV, M), "it holds the same UIDVALIDITY and the UID of every message")
t.ok(i.get("uidnext", 0) > max(ever[UV]), "UIDNEXT is still above every UID ever shown", (i, max(ever[UV])))
s.logout()
check("after the uidlist was written again")

# and the index lost after that: the expunged top UID is still not reused
shutil.rmtree(INDEX)
put("b1")
s = Sess()
i = s.select()
v = s.view()
M2 = uidmap(v)
t.is_(i.get("uidvalidity"), UV, "index removed again: same UIDVALIDITY")
t.ok(M2.get("b1", 0) > max(u for x, u in M2.items() if x != "b1") and M2.get("b1", 0) > max(k for k, mids in ever[UV].items() if mids != {"b1"}),
     "a new message gets a UID above every UID ever shown, the expunged one's too (never reused)", (M2, sorted(ever[UV])))
M = M2
s.logout()
check("after the second rebuild")

# -- both lost: only now a new UIDVALIDITY --
shutil.rmtree(INDEX)
os.unlink(UIDLIST)
s = Sess()
i = s.select()
v = s.view()
t.ok(i.get("uidvalidity", 0) > UV, "tern-index/ and tern-uidlist both removed: a new, greater UIDVALIDITY (RFC 3501 2.3.1.1)", (i.get("uidvalidity"), UV))
t.is_(sorted(uidmap(v)), sorted(M), "every message is still there")
UV = i.get("uidvalidity")
M = uidmap(v)
uids = sorted(M.values())
t.ok(len(set(uids)) == len(M), "each has a UID of its own", M)
s.logout()
check("after both were made again")

# -- a damaged index: garbage over data.mdb, rebuilt with the same UIDs --
data = os.path.join(INDEX, "data.mdb")
size = os.path.getsize(data)
with open(data, "r+b") as f:
    f.write(bytes((i * 37 + 11) & 0xff for i in range(size)))
s = Sess()
i = s.select()
v = s.view()
t.ok(" OK " in i["tag"], "SELECT works over a damaged index", i)
t.is_((i.get("uidvalidity"), uidmap(v)), (UV, M), "garbage over tern-index/data.mdb: same UIDVALIDITY, same UIDs")
s.logout()
check("after the damaged index was rebuilt")

# -- a torn last line of the uidlist (a writer killed in mid-line) --
with open(UIDLIST, "ab") as f:
    f.write(b"99 broken")
s = Sess()
i = s.select()
v = s.view()
t.is_((i.get("exists"), i.get("uidvalidity"), uidmap(v)), (len(M), UV, M), "a torn last line: same messages, UIDVALIDITY, UIDs")
check("with the torn line there (never announced, harmless)")
before = max(ever[UV])
put("b2")
got = s.noop_until(lambda ls: any(re.match(r"\* %d EXISTS" % (len(M) + 1), x) for x in ls))
t.ok(any(re.match(r"\* %d EXISTS" % (len(M) + 1), x) for x in got), "a message added after it: * %d EXISTS" % (len(M) + 1), got)
v = s.view()
M = uidmap(v)
t.ok(M.get("b2", 0) > before and len(set(M.values())) == len(M), "it gets a new UID above every UID shown before (%d)" % before, M)
with open(UIDLIST, "rb") as f:
    ul = f.read()
t.ok(ul.endswith(b"\n") and b"broken" not in ul, "the torn line is gone from the uidlist", ul[-200:])
s.logout()
check("after a write over the torn line")

# -- mutt-style changes while sessions are open --
A = Sess()
A.select()
va = A.view()
B = Sess()
B.select()
B.view()
n = len(va)
put("c1")
got = A.noop_until(lambda ls: any(re.match(r"\* %d EXISTS" % (n + 1), x) for x in ls))
t.ok(any(re.match(r"\* %d EXISTS" % (n + 1), x) for x in got), "open session: a file added to new/ is announced (* %d EXISTS)" % (n + 1), got)
va = A.view()
M = uidmap(va)
t.ok(M.get("c1", 0) > max(u for x, u in M.items() if x != "c1"), "it has a new UID, the highest", M)
check("after a file was added to new/ behind the server's back")

c1 = find("c1")
if c1 and "/new/" in c1:
    os.rename(c1, c1.replace("/new/", "/cur/") + ":2,S")
    what = "new/ to cur/ with :2,S"
else:
    # the session may have moved it to cur/ already: a rename adding S
    base = c1.split(":2,")[0] if c1 else ""
    os.rename(c1, base + ":2,S")
    what = "renamed with :2,S"
seq = [q for q, u, mid, _ in va if mid == "c1"][0]
got = A.noop_until(lambda ls: fetch_flags(ls, seq) == {"\\Seen"})
t.ok(fetch_flags(got, seq) == {"\\Seen"}, "open session: c1 %s is announced as * %d FETCH (FLAGS (\\Seen))" % (what, seq), got)
va = A.view()
t.is_((uidmap(va).get("c1"), flagmap(va).get("c1")), (M["c1"], frozenset(["\\Seen"])), "same UID, \\Seen")
check("after the rename to cur/")

c1 = find("c1")
os.rename(c1, c1.split(":2,")[0] + ":2,FS")
got = A.noop_until(lambda ls: fetch_flags(ls, seq) == {"\\Flagged", "\\Seen"})
t.ok(fetch_flags(got, seq) == {"\\Flagged", "\\Seen"}, "open session: a rename adding F is announced (* %d FETCH (FLAGS (\\Flagged \\Seen)))" % seq, got)
va = A.view()
t.is_((uidmap(va).get("c1"), flagmap(va).get("c1")), (M["c1"], frozenset(["\\Flagged", "\\Seen"])), "same UID, \\Flagged \\Seen")
check("after the rename adding F")

gone = "a4"
gseq = [q for q, u, mid, _ in va if mid == gone][0]
os.unlink(find(gone))
got = A.noop_until(lambda ls: any(x == "* %d EXPUNGE" % gseq for x in ls))
t.ok(any(x == "* %d EXPUNGE" % gseq for x in got), "open session: a file removed is announced (* %d EXPUNGE)" % gseq, got)
va = A.view()
t.ok(gone not in uidmap(va) and len(va) == n, "it is gone from the session's view", va)
del M[gone]
check("after a file was removed")

# a tool that copied a file: two files with one unique name
src = find("a2")
dst = os.path.join(MD, "new", uniq(src))
shutil.copy2(src, dst)
if ternlib.is_root():
    os.chown(dst, inst.uid, inst.gid)
got = A.noop_until(lambda ls: any(re.match(r"\* %d EXISTS" % (n + 1), x) for x in ls))
t.ok(any(re.match(r"\* %d EXISTS" % (n + 1), x) for x in got), "open session: a copy with the same unique name is a new message (* %d EXISTS)" % (n + 1), got)
va = A.view()
a5s = sorted(u for _, u, mid, _ in va if mid == "a2")
t.ok(len(a5s) == 2 and a5s[0] == M["a2"] and a5s[1] > max(ever[UV].keys() - {a5s[1]}),
     "the original keeps its UID %d, the copy has a new one above every UID shown" % M["a2"], (a5s, M))
fa5 = files_of("a2")
t.ok(len(fa5) == 2 and len(set(uniq(x) for x in fa5)) == 2, "the two files now have unique names of their own", fa5)
check("after a copied file was found")
vb = B.noop_until(lambda ls: any(re.match(r"\* %d EXISTS" % (n + 1), x) for x in ls))
vb = B.view()
t.is_([x[:3] for x in vb], [x[:3] for x in va], "the other open session sees the same messages and UIDs")
t.is_([x[3] for x in vb], [x[3] for x in va], "and the same flags")
A.logout()
B.logout()

# -- mailbox-check catches a uidlist that is really wrong --
with open(UIDLIST, "rb") as f:
    good = f.read()
rc, out = inst.check(args=["-n"])
t.ok(rc == 0, "mailbox-check -n before: exit 0", out)
lines = good.split(b"\n")
victim = uniq(find("c1")).encode()
for k, ln in enumerate(lines):
    if ln.endswith(b" " + victim):
        u = int(ln.split()[0])
        lines[k] = b"%d %s" % (u + 100000, victim)
with open(UIDLIST, "wb") as f:
    f.write(b"\n".join(lines))
rc, out = inst.check(args=["-n"])
t.ok(rc == 1 and re.search(r"^INBOX: .*UID", out, re.M), "mailbox-check -n with c1's UID changed by hand in tern-uidlist: exit 1, naming INBOX and the UID", (rc, out))
with open(UIDLIST, "wb") as f:
    f.write(good)
rc, out = inst.check(args=["-n"])
t.ok(rc == 0, "mailbox-check -n with the uidlist put back: exit 0", out)

# -- the same changes between sessions --
s = Sess()
s.select()
v = s.view()
s.logout()
old = {(mid, u) for _, u, mid, _ in v}
before = max(ever[UV])
r = inst.run(["deliver", "-f", "sender@remote.test", "demo@example.test"], input=msg("d1"))
t.ok(r.returncode == 0, "deliver delivers d1 into new/", r.stderr.decode(errors="replace"))
d1 = find("d1")
_, _, names = uidlist()
d1uid = names.get(uniq(d1)) if d1 else None
t.ok(d1 is not None and "/new/" in d1 and d1uid and d1uid > before, "deliver recorded a new UID for it in tern-uidlist", (d1, d1uid, before))
# a client sees it (EXAMINE leaves it in new/), then mutt reads it
s = Sess()
s.select(verb="EXAMINE")
seen_d1 = uidmap(s.view()).get("d1")
s.logout()
t.is_((seen_d1, find("d1")), (d1uid, d1), "EXAMINE shows d1 with that UID, its file still in new/")
os.rename(d1, d1.replace("/new/", "/cur/") + ":2,S")
c1 = find("c1")
os.rename(c1, c1.split(":2,")[0] + ":2,FRS")
os.unlink(find("a3"))
put("d2")
src = find("a1")
dst = os.path.join(MD, "cur", uniq(src) + ":2,FT")
shutil.copy2(src, dst)
if ternlib.is_root():
    os.chown(dst, inst.uid, inst.gid)
s = Sess()
i = s.select()
v = s.view()
now = {(mid, u) for _, u, mid, _ in v}
fl = {}
for _, u, mid, f in v:
    fl.setdefault(mid, []).append((u, f))
t.is_(i.get("uidvalidity"), UV, "between sessions: same UIDVALIDITY")
t.is_(i.get("exists"), len(v), "EXISTS counts the messages")
t.is_(uidmap(v).get("d1"), d1uid, "d1 (seen by a session, then moved from new/ to cur/ with :2,S) keeps its UID (RFC 3501 2.3.1.1)")
t.is_(flagmap(v).get("d1"), frozenset(["\\Seen"]), "and \\Seen")
t.is_(fl.get("c1"), [(M["c1"], frozenset(["\\Flagged", "\\Answered", "\\Seen"]))], "c1 renamed to :2,FRS: same UID, \\Answered \\Flagged \\Seen")
t.ok("a3" not in uidmap(v), "a3 (its file removed) is gone", v)
t.ok(fl.get("d2") and fl["d2"][0][0] > before, "d2 (added to new/) has a new UID", fl.get("d2"))
a1s = sorted(fl.get("a1", []))
t.ok(len(a1s) == 2 and a1s[0][0] == M["a1"] and a1s[1][0] > before and a1s[1][1] == frozenset(["\\Flagged", "\\Deleted"]),
     "a1 copied with :2,FT: the original keeps UID %d, the copy has a new UID and \\Deleted \\Flagged" % M["a1"], a1s)
unchanged = {(mid, u) for (mid, u) in old if mid not in ("c1", "a3", "a1")}
t.ok(unchanged <= now, "every other message keeps its UID", sorted(unchanged - now))
t.ok(len(set(u for _, u, _, _ in v)) == len(v), "no two messages share a UID", v)
s.logout()
check("after the changes between sessions")

# -- UIDNEXT never went down --
down = []
for k in range(1, len(nexts)):
    if nexts[k][0] == nexts[k - 1][0] and nexts[k][1] < nexts[k - 1][1]:
        down.append((nexts[k - 1], nexts[k]))
t.ok(len(nexts) >= 10 and not down, "UIDNEXT of INBOX never went down (%d observations)" % len(nexts), down or nexts)
t.is_(all_unique(), {}, "one UID one Message-ID, in every session of this test")

# -- APPEND and COPY give increasing UIDs (RFC 4315 UIDPLUS) --
s = Sess()
st0 = s.status("Archive")
got = []
for k in range(3):
    m = msg("e%d" % k).replace("\n", "\r\n").encode()
    s.c.send(b"ap%d APPEND Archive {%d+}\r\n" % (k, len(m)) + m + b"\r\n")
    unt, tag = s.c.until("ap%d" % k)
    mm = re.search(r"\[APPENDUID (\d+) (\d+)\]", tag)
    got.append((int(mm.group(1)), int(mm.group(2))) if mm else tag)
t.ok(all(isinstance(x, tuple) and x[0] == st0.get("uidvalidity") for x in got),
     "APPEND into Archive: APPENDUID with Archive's UIDVALIDITY", (got, st0))
aus = [x[1] for x in got if isinstance(x, tuple)]
t.ok(len(aus) == 3 and aus == sorted(set(aus)) and aus[0] >= st0.get("uidnext", 1), "the APPENDed UIDs increase from Archive's UIDNEXT", (aus, st0))
s.select()
v = s.view()
M = uidmap(v)
unt, tag = s.cmd("UID COPY %d,%d Archive" % (M["a2"], M["d1"]))
mm = re.search(r"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", tag)


def uidset(x):
    out = []
    for p in x.split(","):
        a, _, b = p.partition(":")
        out += list(range(int(a), int(b or a) + 1))
    return out


cu = uidset(mm.group(3)) if mm else []
t.ok(mm and len(cu) == 2 and min(cu) > max(aus or [0]), "UID COPY into Archive: COPYUID with new UIDs above the APPENDed ones", tag)
s.select("Archive")
va = s.view()
s.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)")
s.cmd("EXPUNGE")
st1 = s.status("Archive")
t.ok(st1.get("messages") == 0 and st1.get("uidnext", 0) > max(cu or [0]), "Archive emptied: UIDNEXT stays above its old UIDs", st1)
m = msg("e9").replace("\n", "\r\n").encode()
s.c.send(b"ap9 APPEND Archive {%d+}\r\n" % len(m) + m + b"\r\n")
unt, tag = s.c.until("ap9")
mm = re.search(r"\[APPENDUID (\d+) (\d+)\]", tag)
t.ok(mm and int(mm.group(2)) > max(cu or [0]), "the next APPEND still gets a greater UID (never reused)", tag)
s.cmd("UNSELECT")

# -- a folder deleted and created again gets a new UIDVALIDITY --
uvs = []
for k in range(3):
    _, tag = s.cmd("CREATE Again")
    st = s.status("Again")
    uvs.append(st.get("uidvalidity"))
    m = msg("f%d" % k).replace("\n", "\r\n").encode()
    s.c.send(b"af%d APPEND Again {%d+}\r\n" % (k, len(m)) + m + b"\r\n")
    s.c.until("af%d" % k)
    _, tag2 = s.cmd("DELETE Again")
    if " OK " not in tag + tag2:
        pass
t.ok(all(uvs) and len(set(uvs)) == 3, "Again created, deleted and created again three times: three UIDVALIDITYs (RFC 3501 2.3.1.1)", uvs)
s.logout()
check("at the end")

# -- a writer killed between the uidlist and the index (DESIGN.md: the
# uidlist line is written and fdatasynced first): the folder's next
# writers must not give that UID again (simulated in a folder of its own:
# a file in new/ and its line in tern-uidlist, the index never told) --
s = Sess()
s.cmd("CREATE Crashsim")
CS = inst.mailbox_path("Crashsim")


def append(folder, tag):
    m = msg(tag).replace("\n", "\r\n").encode()
    s.c.send(b"ap APPEND %s {%d+}\r\n" % (folder.encode(), len(m)) + m + b"\r\n")
    unt, tag = s.c.until("ap")
    mm = re.search(r"\[APPENDUID (\d+) (\d+)\]", tag)
    return int(mm.group(2)) if mm else tag


u1 = append("Crashsim", "k1")
st = s.status("Crashsim")
lost = st.get("uidnext")
p = inst.put(msg("k2"), "1710099999.M1P1Q1.crashsim", mailbox="example.test/demo/.Crashsim")
with open(os.path.join(CS, "tern-uidlist"), "ab") as f:
    f.write(b"%d 1710099999.M1P1Q1.crashsim\n" % lost)
s.logout()
r = inst.run(["deliver", "-f", "sender@remote.test", "demo+crashsim@example.test"], input=msg("k3"))
t.ok(r.returncode == 0, "deliver delivers k3 into Crashsim", r.stderr.decode(errors="replace"))
s = Sess()
u4 = append("Crashsim", "k4")
t.ok(isinstance(u4, int) and u4 > lost, "APPEND after a uidlist line the index never got (UID %d): a UID above it" % lost, (u1, lost, u4))
s.select("Crashsim")
v = s.view()
cm = {mid: u for _, u, mid, _ in v}
t.is_(sorted(cm), ["k1", "k2", "k3", "k4"], "the folder holds the four messages")
t.ok(len(set(cm.values())) == 4 and cm.get("k1") == u1 and cm.get("k2", 0) >= lost and all(cm.get(x, 0) > lost for x in ("k3", "k4")),
     "each has a UID of its own; k3 (deliver) and k4 (APPEND) above the lost line's %d" % lost, cm)
with open(os.path.join(CS, "tern-uidlist"), "rb") as f:
    ul = [ln.split(b" ", 1) for ln in f.read().split(b"\n")[1:] if ln]
nums = [int(x[0]) for x in ul]
t.ok(nums == sorted(set(nums)), "the uidlist's UIDs still increase, none given twice", ul)
s.logout()
shutil.rmtree(os.path.join(CS, "tern-index"))
s = Sess()
s.select("Crashsim")
t.is_({mid: u for _, u, mid, _ in s.view()}, cm, "Crashsim's index removed: every message keeps its UID")
s.logout()
r = inst.run([os.path.join(ternlib.BUILD, "mailbox-check"), MD, "Crashsim"])
t.ok(r.returncode == 0, "mailbox-check says ok for Crashsim", (r.stdout + r.stderr).decode(errors="replace"))
t.done()
