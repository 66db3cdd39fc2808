#!/usr/bin/python3
# imap-serve: the commands that change messages of the selected mailbox.
# - STORE (RFC 3501 6.4.6): FLAGS, +FLAGS, -FLAGS, .SILENT; system flags
#   and keywords; \Recent refused; the Maildir name in cur/ gets the
#   letters DFRST and the folder's keyword letters (tern-keywords); the
#   27th keyword of a folder is NO [LIMIT] (RFC 5530) and PERMANENTFLAGS
#   loses \* (RFC 3501 7.1);
# - CONDSTORE (RFC 7162 3.1): UNCHANGEDSINCE and MODIFIED, UNCHANGEDSINCE
#   0, MODSEQ (and UID, 3.2.4) in the FETCH replies even with .SILENT,
#   FETCH MODSEQ, FETCH CHANGEDSINCE, SEARCH MODSEQ;
# - COPY and UID COPY (RFC 3501 6.4.7, COPYUID of RFC 4315 3): flags,
#   keywords and INTERNALDATE kept, NO [TRYCREATE];
# - MOVE and UID MOVE (RFC 6851): "* OK [COPYUID ...]" then EXPUNGE, the
#   files moved on the disk;
# - EXPUNGE (RFC 3501 6.4.3, 7.4.1), UID EXPUNGE (RFC 4315 2.1), CLOSE
#   (6.4.2: silent), UNSELECT (RFC 3691: no expunge);
# - a mailbox opened by EXAMINE refuses STORE, EXPUNGE and MOVE.

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
    data = data.replace("\n", "\r\n").encode()
    c.n += 1
    tag = "t%d" % c.n
    c.send(("%s APPEND \"%s\" %s{%d}\r\n" % (tag, folder, "(%s) " % flags if flags else "", len(data))).encode())
    ln = c.line().decode(errors="replace")
    if not ln.startswith("+"):
        return ln
    c.send(data + b"\r\n")
    return c.until(tag)[1]


def tagged_ok(tg):
    return re.match(r"^\S+ OK\b", tg) is not None


def tagged_no(tg):
    return re.match(r"^\S+ NO\b", tg) is not None


def fetches(unt):
    """{msn: {'FLAGS': set, 'UID': n, 'MODSEQ': n, 'INTERNALDATE': s}} of untagged FETCH lines."""
    out = {}
    for ln in unt:
        m = re.match(r"^\* (\d+) FETCH \((.*)\)$", ln)
        if not m:
            continue
        d = out.setdefault(int(m.group(1)), {})
        body = m.group(2)
        f = re.search(r"FLAGS \(([^)]*)\)", body)
        if f:
            d["FLAGS"] = set(f.group(1).split())
        u = re.search(r"\bUID (\d+)", body)
        if u:
            d["UID"] = int(u.group(1))
        ms = re.search(r"MODSEQ \((\d+)\)", body)
        if ms:
            d["MODSEQ"] = int(ms.group(1))
        i = re.search(r'INTERNALDATE "([^"]*)"', body)
        if i:
            d["INTERNALDATE"] = i.group(1)
    return out


def flags_of(c, seq="1:*", uid=False):
    unt, tg = c.cmd("%sFETCH %s (UID FLAGS)" % ("UID " if uid else "", seq))
    return dict((k, v.get("FLAGS")) for k, v in fetches(unt).items())


def uidset(s):
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out += list(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


def uidlist(folder="INBOX"):
    """{uid: unique name} from the folder's tern-uidlist."""
    out = {}
    with open(os.path.join(inst.mailbox_path(folder), "tern-uidlist")) as f:
        lines = f.read().split("\n")
    for ln in lines[1:]:
        p = ln.split(" ", 1)
        if len(p) == 2 and p[0].isdigit():
            out[int(p[0])] = p[1]
    return out


def file_of(folder, uid):
    """(sub, file name) of a UID's message on the disk, or None."""
    uniq = uidlist(folder).get(uid)
    if uniq is None:
        return None
    for sub in ("cur", "new"):
        d = os.path.join(inst.mailbox_path(folder), sub)
        for n in os.listdir(d):
            if n == uniq or n.startswith(uniq + ":"):
                return sub, n
    return None


def info(folder, uid):
    """The letters after ":2," of a UID's file, or None."""
    f = file_of(folder, uid)
    if f is None:
        return None
    return f[1].split(":2,", 1)[1] if ":2," in f[1] else ""


def keyword_letters(folder="INBOX"):
    """{keyword: letter} from the folder's tern-keywords ("N name" a line)."""
    out = {}
    try:
        with open(os.path.join(inst.mailbox_path(folder), "tern-keywords")) as f:
            for ln in f.read().split("\n"):
                p = ln.split(" ", 1)
                if len(p) == 2 and p[0].isdigit():
                    out[p[1]] = chr(ord("a") + int(p[0]))
    except FileNotFoundError:
        pass
    return out


def code(unt, name):
    for ln in unt:
        m = re.match(r"^\* OK \[%s(?: ([^\]]*))?\]" % name, ln)
        if m:
            return m.group(1) or ""
    return None


def put(data, name, mtime, folder="INBOX"):
    p = inst.put(data, name, mailbox=os.path.relpath(inst.mailbox_path(folder), inst.path("mail")))
    os.utime(p, (mtime, mtime))
    return p


def status(c, folder, items):
    unt, tg = c.cmd("STATUS \"%s\" (%s)" % (folder, items))
    for ln in unt:
        m = re.match(r"^\* STATUS \S+ \((.*)\)$", ln)
        if m:
            tk = m.group(1).split()
            return dict((tk[i], int(tk[i + 1])) for i in range(0, len(tk), 2))
    return None


SYS = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"}

# six messages in INBOX, with distinct arrival times (INTERNALDATE)
for i in range(1, 7):
    put(msg("m%d" % i, "message %d\n" % i), "17000000%02d.M1P1Q1.host" % i, 1700000000 + i * 3600)

s = login()
unt, tg = s.cmd("SELECT INBOX")
t.ok(tagged_ok(tg) and "* 6 EXISTS" in unt, "SELECT INBOX: 6 messages", unt)
unt, tg = s.cmd("FETCH 1:* (UID)")
UID = dict((k, v["UID"]) for k, v in fetches(unt).items())
t.is_(sorted(UID), [1, 2, 3, 4, 5, 6], "the UIDs of the six messages")

# ======== STORE ========
unt, tg = s.cmd("STORE 1 FLAGS (\\Seen)")
f = fetches(unt)
t.ok(tagged_ok(tg) and f.get(1, {}).get("FLAGS") == {"\\Seen", "\\Recent"},
     "STORE 1 FLAGS (\\Seen): * 1 FETCH (FLAGS (\\Seen \\Recent)) (RFC 3501 6.4.6)", unt)
t.is_(info("INBOX", UID[1]), "S", "message 1's file in cur/ ends with :2,S")
t.is_(file_of("INBOX", UID[1])[0], "cur", "... and is in cur/")
unt, tg = s.cmd("STORE 1 +FLAGS (\\Flagged \\Answered)")
t.is_(fetches(unt).get(1, {}).get("FLAGS"), {"\\Seen", "\\Flagged", "\\Answered", "\\Recent"}, "+FLAGS (\\Flagged \\Answered): added to \\Seen")
t.is_(info("INBOX", UID[1]), "FRS", "the file: :2,FRS (Maildir letters in ASCII order)")
unt, tg = s.cmd("STORE 1 -FLAGS (\\Seen)")
t.is_(fetches(unt).get(1, {}).get("FLAGS"), {"\\Flagged", "\\Answered", "\\Recent"}, "-FLAGS (\\Seen): only \\Seen removed")
t.is_(info("INBOX", UID[1]), "FR", "the file: :2,FR")
unt, tg = s.cmd("STORE 1 FLAGS.SILENT (\\Draft \\Deleted)")
t.ok(tagged_ok(tg) and not fetches(unt), "FLAGS.SILENT: OK and no FETCH response", unt)
t.is_(info("INBOX", UID[1]), "DT", "the file: :2,DT (FLAGS replaces)")
t.is_(flags_of(s, "1").get(1), {"\\Draft", "\\Deleted", "\\Recent"}, "FETCH FLAGS: \\Deleted \\Draft")
unt, tg = s.cmd("STORE 1 -FLAGS.SILENT (\\Draft \\Deleted)")
t.ok(tagged_ok(tg) and not fetches(unt) and info("INBOX", UID[1]) == "", "-FLAGS.SILENT: no FETCH, the file has :2, and no letter", unt)
unt, tg = s.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
t.ok(tagged_ok(tg) and not fetches(unt) and info("INBOX", UID[1]) == "S", "+FLAGS.SILENT (\\Seen): no FETCH, :2,S", unt)
unt, tg = s.cmd("STORE 5:6 +FLAGS (\\Draft)")
t.ok(sorted(fetches(unt)) == [5, 6] and all("\\Draft" in v.get("FLAGS", ()) for v in fetches(unt).values()),
     "STORE 5:6 +FLAGS (\\Draft): a FETCH for each message (RFC 3501 6.4.6)", unt)
unt, tg = s.cmd("STORE 5:6 -FLAGS.SILENT (\\Draft)")
t.ok(tagged_ok(tg) and info("INBOX", UID[5]) == "" and info("INBOX", UID[6]) == "", "-FLAGS.SILENT on the range: both files back to :2,")

unt, tg = s.cmd("STORE 2 +FLAGS (\\Seen $Label1 Work)")
f = fetches(unt).get(2, {})
t.ok(tagged_ok(tg) and f.get("FLAGS", set()) >= {"$Label1", "Work", "\\Seen"}, "STORE 2 +FLAGS (\\Seen $Label1 Work): keywords set", unt)
fl = [ln for ln in unt if ln.startswith("* FLAGS ")]
t.ok(fl and "$Label1" in fl[0] and "Work" in fl[0], "the client is told of the new keywords: * FLAGS (... $Label1 Work)", unt)
kl = keyword_letters()
t.ok("$Label1" in kl and "Work" in kl and kl["$Label1"] != kl["Work"], "tern-keywords records both keywords, each with a letter", kl)
letters = info("INBOX", UID[2])
t.is_(letters, "S" + "".join(sorted([kl.get("$Label1", "?"), kl.get("Work", "?")])),
      "the file: :2,S then the keywords' letters")
unt, tg = s.cmd("STORE 2 -FLAGS (Work)")
t.ok(fetches(unt).get(2, {}).get("FLAGS", set()) & {"$Label1", "Work"} == {"$Label1"} and info("INBOX", UID[2]) == "S" + kl.get("$Label1", "?"),
     "-FLAGS (Work): the keyword and its letter go", unt)
s.cmd("STORE 2 +FLAGS (Work)")

before = info("INBOX", UID[3])
unt, tg = s.cmd("STORE 3 +FLAGS (\\Recent)")
t.ok(not tagged_ok(tg), "STORE +FLAGS (\\Recent): refused, the client cannot set \\Recent (RFC 3501 2.3.2)", tg)
unt, tg = s.cmd("STORE 3 FLAGS (\\Seen \\Recent)")
t.ok(not tagged_ok(tg), "STORE FLAGS (\\Seen \\Recent): refused", tg)
t.ok(info("INBOX", UID[3]) == before and "\\Seen" not in (flags_of(s, "3").get(3) or {"\\Seen"}),
     "message 3 is unchanged (file and flags)")
unt, tg = s.cmd("STORE 3 +FLAGS (\\Bogus)")
t.like(tg, r"^\S+ BAD", "an unknown system flag \\Bogus: BAD")
unt, tg = s.cmd("STORE 99 +FLAGS (\\Seen)")
t.ok(not tagged_ok(tg), "STORE on a message number past the last one: not OK", tg)

unt, tg = s.cmd("UID STORE %d +FLAGS (\\Answered)" % UID[4])
f = fetches(unt).get(4, {})
t.ok(tagged_ok(tg) and f.get("UID") == UID[4] and "\\Answered" in f.get("FLAGS", set()),
     "UID STORE: * 4 FETCH (UID %d FLAGS (...)), with the UID (RFC 3501 6.4.8)" % UID[4], unt)
t.is_(info("INBOX", UID[4]), "R", "the file: :2,R")

# -- the 27th keyword of a folder --
s.cmd("CREATE Kw")
append(s, "Kw", msg("k"))
unt, tg = s.cmd("SELECT Kw")
t.ok("\\*" in (code(unt, "PERMANENTFLAGS") or ""), "SELECT Kw: PERMANENTFLAGS has \\* (no keyword yet)")
unt, tg = s.cmd("STORE 1 +FLAGS (%s)" % " ".join("k%02d" % i for i in range(1, 26)))
t.ok(tagged_ok(tg) and "\\*" in (code(unt, "PERMANENTFLAGS") or "\\*"), "25 keywords set on one message: OK, \\* still there", unt)
unt, tg = s.cmd("STORE 1 +FLAGS (k26)")
pf = code(unt, "PERMANENTFLAGS")
t.ok(tagged_ok(tg) and pf is not None and "\\*" not in pf and "k26" in pf,
     "the 26th keyword: OK, and * OK [PERMANENTFLAGS (...)] without \\* (no room for more: RFC 3501 7.1)", unt)
t.is_(info("Kw", 1), "abcdefghijklmnopqrstuvwxyz", "the file carries the 26 letters a to z")
t.is_(len(keyword_letters("Kw")), 26, "tern-keywords has 26 keywords")
unt, tg = s.cmd("STORE 1 +FLAGS (k27)")
t.like(tg, r"^\S+ NO \[LIMIT\]", "the 27th keyword: NO [LIMIT] (RFC 5530)")
t.ok("k27" not in (flags_of(s, "1").get(1) or set()) and len(keyword_letters("Kw")) == 26, "... nothing changed")
unt, tg = s.cmd("STORE 1 -FLAGS (k01)")
unt2, tg2 = s.cmd("STORE 1 +FLAGS (K01 \\Seen)")
t.ok(tagged_ok(tg) and tagged_ok(tg2) and info("Kw", 1) == "Sabcdefghijklmnopqrstuvwxyz",
     "a keyword the folder has (any case) can still be removed and set again", [tg, tg2])
unt, tg = s.cmd("EXAMINE Kw")
unt, tg = s.cmd("SELECT Kw")
pf = code(unt, "PERMANENTFLAGS") or ""
fl = [ln for ln in unt if ln.startswith("* FLAGS ")]
t.ok("\\*" not in pf and all("k%02d" % i in pf for i in range(1, 27)), "SELECT again: PERMANENTFLAGS lists the 26 keywords, no \\*", pf)
t.ok(fl and all("k%02d" % i in fl[0] for i in range(1, 27)), "* FLAGS lists them too", fl)

# ======== CONDSTORE (RFC 7162) ========
c = login()
unt, tg = c.cmd("SELECT INBOX (CONDSTORE)")
h0 = int(code(unt, "HIGHESTMODSEQ") or 0)
t.ok(tagged_ok(tg) and h0 > 0, "SELECT INBOX (CONDSTORE): [HIGHESTMODSEQ n] (3.1.2.1, 3.1.8)", unt)
unt, tg = c.cmd("FETCH 1:* (MODSEQ)")
MS = dict((k, v.get("MODSEQ")) for k, v in fetches(unt).items())
t.ok(sorted(MS) == [1, 2, 3, 4, 5, 6] and all(MS.values()) and max(MS.values()) == h0,
     "FETCH 1:* (MODSEQ): a MODSEQ for each, the highest is HIGHESTMODSEQ (3.1.4.2)", unt)
t.ok(MS[4] > MS[3] and MS[2] > MS[3], "the messages changed by STORE have higher MODSEQs than one never changed")

unt, tg = c.cmd("STORE 5 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % MS[5])
f = fetches(unt).get(5, {})
t.ok(tagged_ok(tg) and "MODIFIED" not in tg, "STORE 5 (UNCHANGEDSINCE its MODSEQ) +FLAGS (\\Flagged): OK (3.1.3)", tg)
t.ok("\\Flagged" in f.get("FLAGS", set()) and f.get("MODSEQ", 0) > MS[5], "... * 5 FETCH with FLAGS and a new, higher MODSEQ", unt)
t.is_(f.get("UID"), UID[5], "... and the UID: CONDSTORE is on and the server does QRESYNC (RFC 7162 3.2.4)")
t.is_(info("INBOX", UID[5]), "F", "the file: :2,F")
ms5 = f.get("MODSEQ", MS[5] + 1)
unt, tg = c.cmd("STORE 5 (UNCHANGEDSINCE %d) -FLAGS (\\Flagged)" % MS[5])
t.like(tg, r"^\S+ OK \[MODIFIED 5\]", "again with the old MODSEQ: OK [MODIFIED 5] (3.1.3)")
t.ok(info("INBOX", UID[5]) == "F" and "\\Flagged" in (flags_of(c, "5").get(5) or set()), "... and \\Flagged stays")
unt, tg = c.cmd("STORE 5 (UNCHANGEDSINCE 0) +FLAGS ($MDNSent)")
t.like(tg, r"^\S+ OK \[MODIFIED 5\]", "UNCHANGEDSINCE 0: always fails, OK [MODIFIED 5] (3.1.3, example 8)")
t.ok("$MDNSent" not in (flags_of(c, "5").get(5) or {"$MDNSent"}), "... $MDNSent is not set")

unt, tg = c.cmd("FETCH 4,6 (MODSEQ)")
m46 = fetches(unt)
u = max(m46.get(4, {}).get("MODSEQ", 0), m46.get(6, {}).get("MODSEQ", 0))
t.ok(0 < u < ms5, "(messages 4 and 6 last changed before message 5)")
unt, tg = c.cmd("STORE 4:6 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Draft)" % u)
f = fetches(unt)
t.like(tg, r"^\S+ OK \[MODIFIED 5\]", "STORE 4:6 (UNCHANGEDSINCE u) where 5 changed after u: OK [MODIFIED 5]")
t.ok(sorted(k for k in f if "MODSEQ" in f[k] and k != 5) == [4, 6] and all(f[k]["MODSEQ"] > u for k in (4, 6) if k in f),
     ".SILENT, yet * 4 FETCH and * 6 FETCH with their new MODSEQ (3.1.3: MUST even with .SILENT)", unt)
t.ok(all(f.get(k, {}).get("UID") == UID[k] for k in (4, 6)), "... each with its UID (3.2.4)", unt)
t.ok(info("INBOX", UID[4]) == "DR" and info("INBOX", UID[6]) == "D" and info("INBOX", UID[5]) == "F",
     "4 and 6 got \\Draft (:2,DR and :2,D), 5 did not (:2,F)")
unt, tg = c.cmd("UID STORE %d (UNCHANGEDSINCE 1) +FLAGS.SILENT (\\Seen)" % UID[5])
t.like(tg, r"^\S+ OK \[MODIFIED %d\]" % UID[5], "UID STORE (UNCHANGEDSINCE 1) on a changed message: OK [MODIFIED uid] with the UID")

unt, tg = c.cmd("STORE 3 +FLAGS (\\Seen)")
f = fetches(unt).get(3, {})
t.ok(f.get("MODSEQ") and f.get("UID") == UID[3], "a plain STORE once CONDSTORE is on: FETCH with UID and MODSEQ (3.2.4)", unt)
m3 = f.get("MODSEQ", 0)

unt, tg = c.cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % u)
f = fetches(unt)
t.is_(sorted(f), [3, 4, 5, 6], "FETCH 1:* (FLAGS) (CHANGEDSINCE u): only the messages changed after u (3.1.4.1)")
t.ok(all("MODSEQ" in v and v["MODSEQ"] > u for v in f.values()), "... each with its MODSEQ, all above u", unt)
unt, tg = c.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % (m3 - 1))
t.is_(sorted(v.get("UID") for v in fetches(unt).values()), [UID[3]], "UID FETCH (CHANGEDSINCE m3-1): only message 3")
unt, tg = c.cmd("SEARCH MODSEQ %d" % u)
sl = [ln for ln in unt if ln.startswith("* SEARCH")]
m = re.match(r"^\* SEARCH ([\d ]+) \(MODSEQ (\d+)\)$", sl[0]) if sl else None
t.ok(m is not None and sorted(int(x) for x in m.group(1).split()) == [3, 4, 5, 6],
     "SEARCH MODSEQ u: 3 4 5 6 (MODSEQ at least u: 3.1.5), with (MODSEQ n) (3.1.6)", sl)
unt2, _ = c.cmd("FETCH 1:* (MODSEQ)")
t.ok(m is not None and int(m.group(2)) == max(v["MODSEQ"] for v in fetches(unt2).values()),
     "... n is the highest MODSEQ of those found", [sl, unt2])
unt, tg = c.cmd("SEARCH MODSEQ %d" % (max(v["MODSEQ"] for v in fetches(unt2).values()) + 1))
t.ok(tagged_ok(tg) and any(re.match(r"^\* SEARCH\s*$", ln) for ln in unt), "SEARCH MODSEQ above them all: an empty * SEARCH", unt)
e = login()
unt, tg = e.cmd("EXAMINE INBOX")
t.ok(int(code(unt, "HIGHESTMODSEQ") or 0) > h0, "another session's EXAMINE: HIGHESTMODSEQ above the one before those STOREs")
e.cmd("LOGOUT")
c.cmd("LOGOUT")

# ======== COPY and UID COPY ========
s.cmd("CREATE Dest")
s.cmd("SELECT INBOX")
unt, tg = s.cmd("FETCH 2:3 (UID FLAGS INTERNALDATE)")
src = fetches(unt)
unt, tg = s.cmd("COPY 2:3 Dest")
m = re.match(r"^\S+ OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", tg)
t.ok(m is not None, "COPY 2:3 Dest: OK [COPYUID uidvalidity src dst] (RFC 4315 3)", tg)
dst_uv = status(s, "Dest", "UIDVALIDITY MESSAGES") or {}
if m:
    t.is_(int(m.group(1)), dst_uv.get("UIDVALIDITY"), "COPYUID: Dest's UIDVALIDITY")
    t.is_(uidset(m.group(2)), [UID[2], UID[3]], "COPYUID: the source UIDs")
    t.is_(uidset(m.group(3)), [1, 2], "COPYUID: the new UIDs 1 and 2 in Dest")
t.is_(dst_uv.get("MESSAGES"), 2, "Dest has two messages")
v = login()
unt, tg = v.cmd("EXAMINE Dest")
dst = dict((x["UID"], x) for x in fetches(v.cmd("FETCH 1:* (UID FLAGS INTERNALDATE)")[0]).values())
t.ok(dst.get(1, {}).get("FLAGS", set()) - {"\\Recent"} == src[2]["FLAGS"] - {"\\Recent"}
     and dst.get(2, {}).get("FLAGS", set()) - {"\\Recent"} == src[3]["FLAGS"] - {"\\Recent"},
     "the copies have the originals' flags and keywords (RFC 3501 6.4.7)", [src, dst])
t.ok(dst.get(1, {}).get("INTERNALDATE") == src[2]["INTERNALDATE"] and dst.get(2, {}).get("INTERNALDATE") == src[3]["INTERNALDATE"],
     "... and their INTERNALDATE", [src, dst])
kd = keyword_letters("Dest")
t.ok("$Label1" in kd and "Work" in kd and set(info("Dest", 1) or "") >= {kd.get("$Label1"), kd.get("Work"), "S"},
     "Dest's own tern-keywords has $Label1 and Work, its file carries their letters", (kd, info("Dest", 1)))
unt, tg = s.cmd("NOOP")
t.ok(not any("EXPUNGE" in ln for ln in unt) and len(uidlist("INBOX")) == 6 and file_of("INBOX", UID[2]),
     "the originals stay in INBOX")
unt, tg = s.cmd("UID COPY %d Dest" % UID[4])
t.like(tg, r"^\S+ OK \[COPYUID %d %d 3\]" % (dst_uv.get("UIDVALIDITY", 0), UID[4]), "UID COPY: OK [COPYUID uv %d 3]" % UID[4])
unt, tg = s.cmd("UID COPY 9999 Dest")
t.ok(tagged_ok(tg) and "COPYUID" not in tg and status(s, "Dest", "MESSAGES") == {"MESSAGES": 3},
     "UID COPY of a UID that does not exist: OK, no COPYUID, nothing copied (RFC 3501 6.4.8, RFC 4315 3)", tg)
unt, tg = s.cmd("COPY 6 INBOX")
m = re.match(r"^\S+ OK \[COPYUID \d+ %d (\d+)\]" % UID[6], tg)
t.ok(m and int(m.group(1)) == max(UID.values()) + 1, "COPY 6 INBOX (into itself): OK [COPYUID uv %d %d]" % (UID[6], max(UID.values()) + 1), tg)
t.ok("* 7 EXISTS" in unt, "... and * 7 EXISTS for the copy", unt)
s.cmd("STORE 7 +FLAGS.SILENT (\\Deleted)")
s.cmd("EXPUNGE")
unt, tg = s.cmd("COPY 1 Nonesuch")
t.like(tg, r"^\S+ NO \[TRYCREATE\]", "COPY to a mailbox that does not exist: NO [TRYCREATE] (RFC 3501 6.4.7)")
t.ok(not os.path.exists(os.path.join(MD, ".Nonesuch")), "... which is not created")
t.is_(len(os.listdir(os.path.join(inst.mailbox_path("Dest"), "cur"))) + len(os.listdir(os.path.join(inst.mailbox_path("Dest"), "new"))), 3,
      "Dest holds 3 message files on the disk")
v.cmd("LOGOUT")

# ======== MOVE and UID MOVE (RFC 6851) ========
s.cmd("CREATE Moved")
with open(os.path.join(inst.mailbox_path("INBOX"), *file_of("INBOX", UID[3])), "rb") as fh:
    body3 = fh.read()
uniq3 = uidlist("INBOX")[UID[3]]
unt, tg = s.cmd("MOVE 3 Moved")
i_ok = [i for i, ln in enumerate(unt) if re.match(r"^\* OK \[COPYUID \d+ %d 1\]" % UID[3], ln)]
i_ex = [i for i, ln in enumerate(unt) if ln == "* 3 EXPUNGE"]
t.ok(tagged_ok(tg) and i_ok and i_ex, "MOVE 3 Moved: * OK [COPYUID uv %d 1] and * 3 EXPUNGE, then OK (RFC 6851 3.3)" % UID[3], unt + [tg])
t.ok(i_ok and i_ex and i_ok[0] < i_ex[0], "... the COPYUID comes before the EXPUNGE", unt)
t.ok(not any(n.startswith(uniq3) for sub in ("cur", "new") for n in os.listdir(os.path.join(MD, sub))),
     "the message's file is gone from INBOX's cur/ and new/")
fm = file_of("Moved", 1)
t.ok(fm is not None, "Moved's UID 1 has a file", fm)
if fm:
    with open(os.path.join(inst.mailbox_path("Moved"), *fm), "rb") as fh:
        t.is_(fh.read(), body3, "... with the message's content")
    t.ok("S" in info("Moved", 1), "... and its \\Seen (:2,S...)", fm)
unt, tg = s.cmd("FETCH 1:* (UID)")
left = sorted(x["UID"] for x in fetches(unt).values())
t.is_(left, [UID[k] for k in (1, 2, 4, 5, 6)], "INBOX: five messages left, UID %d gone" % UID[3])
unt, tg = s.cmd("UID MOVE %d Moved" % UID[5])
t.ok(tagged_ok(tg) and any(re.match(r"^\* OK \[COPYUID \d+ %d 2\]" % UID[5], ln) for ln in unt) and "* 4 EXPUNGE" in unt,
     "UID MOVE %d Moved: * OK [COPYUID uv %d 2], * 4 EXPUNGE (its message number now)" % (UID[5], UID[5]), unt + [tg])
t.ok(file_of("Moved", 2) is not None and "F" in (info("Moved", 2) or ""), "Moved's UID 2 has a file with \\Flagged (:2,F...)")
t.ok(UID[5] not in uidlist("INBOX") or file_of("INBOX", UID[5]) is None, "the source file of UID %d is gone" % UID[5])
unt, tg = s.cmd("MOVE 1 Nonesuch")
t.like(tg, r"^\S+ NO \[TRYCREATE\]", "MOVE to a mailbox that does not exist: NO [TRYCREATE]")
t.ok(not any("EXPUNGE" in ln for ln in unt) and file_of("INBOX", UID[1]) is not None, "... nothing is expunged", unt)
st = status(s, "Moved", "MESSAGES UIDNEXT")
t.is_(st, {"MESSAGES": 2, "UIDNEXT": 3}, "STATUS Moved: MESSAGES 2, UIDNEXT 3")

# ======== EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT ========
s.cmd("CREATE Ex")
for i in range(1, 6):
    append(s, "Ex", msg("e%d" % i))
unt, tg = s.cmd("SELECT Ex")
t.ok("* 5 EXISTS" in unt, "Ex: five messages (UIDs 1 to 5)")
unt, tg = s.cmd("EXPUNGE")
t.ok(tagged_ok(tg) and not any("EXPUNGE" in ln for ln in unt), "EXPUNGE with nothing \\Deleted: OK, no EXPUNGE response", unt)
s.cmd("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
unt, tg = s.cmd("EXPUNGE")
t.is_([ln for ln in unt if ln.endswith(" EXPUNGE")], ["* 2 EXPUNGE", "* 3 EXPUNGE"],
      "EXPUNGE of 2 and 4: * 2 EXPUNGE, * 3 EXPUNGE (each renumbers the later ones: RFC 3501 7.4.1)")
t.ok(tagged_ok(tg), "... OK", tg)
t.is_(len(os.listdir(os.path.join(inst.mailbox_path("Ex"), "cur")) + os.listdir(os.path.join(inst.mailbox_path("Ex"), "new"))), 3,
      "three message files left in Ex")
t.ok(file_of("Ex", 2) is None and file_of("Ex", 4) is None, "UIDs 2 and 4 have no file any more")
unt, tg = s.cmd("FETCH 1:* (UID)")
t.is_(sorted(x["UID"] for x in fetches(unt).values()), [1, 3, 5], "UIDs 1, 3 and 5 are left")
s.cmd("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
unt, tg = s.cmd("UID EXPUNGE 3")
t.is_([ln for ln in unt if ln.endswith(" EXPUNGE")], ["* 2 EXPUNGE"], "UID EXPUNGE 3 with 1, 3, 5 \\Deleted: only * 2 EXPUNGE (RFC 4315 2.1)")
f = dict((x["UID"], x["FLAGS"]) for x in fetches(s.cmd("FETCH 1:* (UID FLAGS)")[0]).values())
t.ok(sorted(f) == [1, 5] and all("\\Deleted" in v for v in f.values()), "UIDs 1 and 5 stay, still \\Deleted", f)
t.ok(file_of("Ex", 1) and file_of("Ex", 5) and file_of("Ex", 3) is None, "on the disk: 1 and 5 there, 3 gone")
unt, tg = s.cmd("UID EXPUNGE 1:4")
t.is_([ln for ln in unt if ln.endswith(" EXPUNGE")], ["* 1 EXPUNGE"], "UID EXPUNGE 1:4: only UID 1 (5 is outside the set)")
unt, tg = s.cmd("CLOSE")
t.ok(tagged_ok(tg) and not any("EXPUNGE" in ln for ln in unt), "CLOSE: OK, without EXPUNGE responses (RFC 3501 6.4.2)", unt)
t.is_(status(s, "Ex", "MESSAGES"), {"MESSAGES": 0}, "... and UID 5 (\\Deleted) was expunged: Ex is empty")
t.ok(file_of("Ex", 5) is None, "its file is gone")
unt, tg = s.cmd("FETCH 1 (FLAGS)")
t.like(tg, r"^\S+ BAD", "after CLOSE no mailbox is selected: FETCH is BAD")

append(s, "Ex", msg("e6"))
append(s, "Ex", msg("e7"))
s.cmd("SELECT Ex")
s.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
unt, tg = s.cmd("UNSELECT")
t.ok(tagged_ok(tg) and not any("EXPUNGE" in ln for ln in unt), "UNSELECT: OK, no EXPUNGE (RFC 3691)", unt)
t.is_(status(s, "Ex", "MESSAGES"), {"MESSAGES": 2}, "... the \\Deleted message is still there")
t.ok(file_of("Ex", 6) is not None, "... and its file")

# ======== a mailbox opened with EXAMINE ========
unt, tg = s.cmd("EXAMINE Ex")
t.like(tg, r"^\S+ OK \[READ-ONLY\]", "EXAMINE Ex: READ-ONLY")
before = info("Ex", 7)
unt, tg = s.cmd("STORE 2 +FLAGS (\\Seen)")
t.ok(tagged_no(tg), "STORE in a read-only mailbox: NO", tg)
t.ok(info("Ex", 7) == before and not fetches(unt), "... the file is unchanged, no FETCH response", unt)
unt, tg = s.cmd("STORE 2 +FLAGS.SILENT (NewKeyword)")
t.ok(tagged_no(tg) and "NewKeyword" not in keyword_letters("Ex"), "STORE of a new keyword: NO, no keyword recorded", tg)
unt, tg = s.cmd("EXPUNGE")
t.ok(tagged_no(tg), "EXPUNGE in a read-only mailbox: NO", tg)
unt, tg = s.cmd("UID EXPUNGE 1:*")
t.ok(tagged_no(tg), "UID EXPUNGE in a read-only mailbox: NO", tg)
unt, tg = s.cmd("MOVE 1 Dest")
t.ok(tagged_no(tg) and not any("EXPUNGE" in ln for ln in unt), "MOVE out of a read-only mailbox: NO, nothing expunged", unt + [tg])
unt, tg = s.cmd("COPY 1 Dest")
t.ok(tagged_ok(tg), "COPY out of a read-only mailbox: OK (it changes only the destination)", tg)
unt, tg = s.cmd("CLOSE")
t.ok(tagged_ok(tg), "CLOSE of a read-only mailbox: OK", tg)
t.ok(status(s, "Ex", "MESSAGES") == {"MESSAGES": 2} and file_of("Ex", 6) is not None,
     "... and nothing was expunged (RFC 3501 6.4.2), the \\Deleted message is still there")

# ======== what a client does, with imaplib ========
im = imaplib.IMAP4("127.0.0.1", port)
im.login(USER, PASS)
im.select("Dest")
typ, data = im.store("1", "+FLAGS", "(\\Flagged)")
t.ok(typ == "OK" and b"\\Flagged" in (data[0] or b""), "imaplib: store('1', '+FLAGS', '(\\\\Flagged)')", data)
typ, data = im.copy("1", "Moved")
t.is_(typ, "OK", "imaplib: copy('1', 'Moved')")
typ, data = im.uid("MOVE", "2", "Moved")
t.ok(typ == "OK" and im.response("EXPUNGE")[1] == [b"2"], "imaplib: uid('MOVE', '2', 'Moved'), message 2 expunged", data)
im.store("1", "+FLAGS", "(\\Deleted)")
typ, data = im.expunge()
# Dest: UIDs 1, 3, 4 left; 4 is the copy of Ex's \Deleted message
t.ok(typ == "OK" and data == [b"1", b"2"], "imaplib: expunge() reports 1 and 2 (UID 1, and the copy that kept \\Deleted)", data)
typ, data = im.uid("SEARCH", None, "ALL")
t.is_(data, [b"3"], "imaplib: UID 3 is left in Dest")
im.close()
im.logout()

s.cmd("LOGOUT")
rc, out = inst.check()
t.is_(rc, 0, "mailbox-check: the index agrees with the Maildir")
if rc:
    t.diag(out)
t.done()
