#!/usr/bin/python3
# imap-serve: the search index (tern_fts, DESIGN.md "The mailbox store"):
# SEARCH BODY and TEXT answered from trigram posting lists, checked
# against the messages, with exactly the answers of the scan:
# - the same hits before the index exists (the first search builds it),
#   once it exists, and for messages delivered after it (not indexed yet,
#   then indexed by the next search): substrings in the middle of a word,
#   across two RFC 2047 words, in a base64 and a quoted-printable part,
#   in a latin-1 part, non-ASCII case folding, TEXT in a header but BODY
#   not, an attachment's octets not, NOT BODY, OR, with other keys;
# - no false positive from the index: a message with every trigram of a
#   word but not the word;
# - strings shorter than a trigram (the scan answers), a long string;
# - a folder of 3,000 messages: * OK [INPROGRESS ("tag" n 3000)] lines
#   (RFC 9585) while the first search indexes it, none the second time;
#   the index file grows; the answers are right;
# - kill -9 of the session while it indexes: the next session's search
#   is right, and goes on from what was written;
# - two sessions searching the new folder at once: both right;
# - expunged messages never come back from the index;
# - a candidate is checked against the texts the index keeps, not its
#   file: a file rewritten after indexing (which no Maildir writer does;
#   here it shows where the answer comes from) still answers as it was
#   indexed, for a word and for a 2-letter string; a message whose texts
#   are over the 1 MiB the index keeps is checked against its file;
# - an old folder more than 5,000 messages behind: its first search is a
#   scan (with progress lines) that does not wait for the index, which
#   is built in the session's idle time after it (the next search then
#   has no progress line), or by the next search when it comes at once.

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
server = inst.pop3_server   # its tcpserver
MD = inst.maildir()


def b64(b):
    return base64.encodebytes(b).decode()


MSGS = [
    # 1
    b"Subject: plain\nFrom: a@example.org\n\nThe wombats ate breakfast quietly.\n",
    # 2: B-encoded subject in two words; base64 body
    ("Subject: =?UTF-8?B?U2Nod2Vp?= =?UTF-8?B?emVy?=\nFrom: b@example.org\nMIME-Version: 1.0\n"
     "Content-Transfer-Encoding: base64\n\n" + b64("Grüße aus Köln, STRASSE und Straße\n".encode())).encode(),
    # 3: quoted-printable with a soft break inside a word
    b"Subject: qp\nFrom: c@example.org\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: quoted-printable\n\nthe kangaroo=\nmeter reads =C3=84PFEL\n",
    # 4: latin-1 8bit
    b"Subject: latin\nFrom: d@example.org\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
    b"Content-Transfer-Encoding: 8bit\n\nCaf\xe9 cr\xe8me br\xfbl\xe9e\n",
    # 5: the word in a header only
    b"Subject: only in the header: platypus\nFrom: e@example.org\nX-Note: echidna\n\nnothing to see\n",
    # 6: an attachment's base64 octets (not text), and its text part
    ("Subject: att\nFrom: f@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
     "--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/octet-stream\n"
     "Content-Transfer-Encoding: base64\n\n" + b64(b"binarywombat inside") + "--b--\n").encode(),
    # 7: every trigram of "wombat" (wom omb mba bat) but not the word
    b"Subject: tricky\nFrom: g@example.org\n\nwomxx ombxx mbaxx batxx\n",
    # 8: upper case, in the middle of a word
    b"Subject: caps\nFrom: h@example.org\n\nSUPERWOMBATS and Aepfel\n",
]
for i, m in enumerate(MSGS):
    inst.put(m, "%d.M%dP1.host" % (1780000000 + i, i + 1))

CASES = [
    ("BODY wombat", {1, 8}, "a substring, any case, not in an attachment, not from scattered trigrams (7)"),
    ("BODY ombat", {1, 8}, "in the middle of a word"),
    ("TEXT wombat", {1, 8}, "TEXT: the same (no header has it)"),
    ("BODY platypus", set(), "BODY: not in a header"),
    ("TEXT platypus", {5}, "TEXT: in the Subject"),
    ("TEXT echidna", {5}, "TEXT: in another field"),
    ("TEXT schweizer", {2}, "TEXT: across two encoded words"),
    ("BODY \"grüße\"", {2}, "BODY in a base64 part, non-ASCII"),
    ("BODY \"GRÜSSE\"", {2}, "BODY with case folding of ß (GRÜSSE finds Grüße)"),
    ("BODY strasse", {2}, "STRASSE and Straße"),
    ("BODY kangaroometer", {3}, "across a quoted-printable soft line break"),
    ("BODY \"äpfel\"", {3}, "non-ASCII lower case finds upper case (ÄPFEL)"),
    ("BODY \"crème\"", {4}, "in a latin-1 part"),
    ("BODY binarywombat", set(), "not in an attachment's octets"),
    ("NOT BODY wombat", {2, 3, 4, 5, 6, 7}, "NOT BODY"),
    ("OR BODY wombat BODY kangaroo", {1, 3, 8}, "OR of two BODY keys"),
    ("BODY wombat FROM h@", {8}, "with another key"),
    ("BODY wo", {1, 7, 8}, "two letters: shorter than a trigram"),
    ("BODY \"the wombats ate breakfast quietly\"", {1}, "a long string"),
    ("BODY zzzzzz", set(), "a string no message has"),
]


def run_cases(c, when):
    for q, want, what in CASES:
        unt, r = c.cmd("SEARCH CHARSET UTF-8 " + q)
        got = [u for u in unt if u.startswith("* SEARCH")]
        hits = set(int(x) for x in got[0].split()[2:]) if got else None
        t.is_(hits, want, "%s: %s" % (when, what)) or t.diag(repr((q, unt, r)))


def login():
    c = ternlib.ImapConn(port, timeout=120)
    c.cmd("LOGIN demo@example.test demo")
    return c


def index_bytes(md):
    p = os.path.join(md, "tern-index", "data.mdb")
    return os.path.getsize(p) if os.path.exists(p) else 0


c = login()
c.cmd("SELECT INBOX")
run_cases(c, "first search (builds the index)")
run_cases(c, "from the index")
c.cmd("LOGOUT")
c.close()
c = login()
c.cmd("SELECT INBOX")
run_cases(c, "another session, from the index")
# new mail after the index: searched, then indexed
inst.put(b"Subject: late\nFrom: i@example.org\n\nA late wombat arrives.\n", "1781000000.M9P1.host")
unt, r = c.cmd("NOOP")
unt, r = c.cmd("SEARCH BODY wombat")
t.ok("* SEARCH 1 8 9" in unt, "a message delivered after the index is found (9)", unt)
unt, r = c.cmd("SEARCH BODY wombat")
t.ok("* SEARCH 1 8 9" in unt, "and again, now from the index", unt)
c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
c.cmd("EXPUNGE")
unt, r = c.cmd("SEARCH BODY wombat")
t.ok("* SEARCH 7 8" in unt, "after EXPUNGE of 1: 8 and 9 are now 7 and 8, nothing of the expunged one", unt)
unt, r = c.cmd("UID SEARCH BODY wombat")
t.ok("* SEARCH 8 9" in unt, "UID SEARCH: UIDs 8 and 9", unt)
c.cmd("LOGOUT")
c.close()

# ---- a bigger folder: progress, kill -9, two sessions at once
N = 3000
box = "example.test/demo/.Big"
BIG = inst.maildir(box)
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
want_q = set()
for i in range(1, N + 1):
    body = " ".join(words[(i * 7 + k) % len(words)] for k in range(40))
    if i % 97 == 0:
        body += " quokka%d" % (i % 3)
        want_q.add(i)
    inst.put(("Subject: big %d\nFrom: x@example.org\n\n%s\n" % (i, body)).encode(), "%d.M%dP2.host" % (1790000000 + i, i), mailbox=box)
want_q = sorted(want_q)


def big_search(c, tag="b1"):
    c.send("%s SEARCH BODY quokka\r\n" % tag)
    unt, r = c.until(tag)
    got = [u for u in unt if u.startswith("* SEARCH")]
    return (sorted(int(x) for x in got[0].split()[2:]) if got else None), unt, r


# kill -9 while it indexes: after the first progress line
c = login()
c.cmd("SELECT Big")
# this instance's sessions only: other tests may run at the same time
pids = ternlib.proc_descendants(server.pid, "imap-serve")
c.send("k1 SEARCH BODY quokka\r\n")
first = c.line().decode()
t.like(first, r'^\* OK \[INPROGRESS \("k1" 0 %d\)\] ' % N, "the first search of a new folder of %d: * OK [INPROGRESS (\"k1\" 0 %d)]" % (N, N))
for p in pids:
    try:
        os.kill(int(p), signal.SIGKILL)
    except ProcessLookupError:
        pass
c.close()
time.sleep(0.3)
size_killed = index_bytes(BIG)
c = login()
c.cmd("SELECT Big")
got, unt, r = big_search(c)
t.is_(got, want_q, "after kill -9 mid-index: the next session's search is right")
prog = [u for u in unt if "INPROGRESS" in u]
t.ok(all(re.match(r'^\* OK \[INPROGRESS \("b1" \d+ \d+\)\] ', u) for u in prog), "its progress lines are well-formed", prog)
got, unt, r = big_search(c, "b2")
t.is_(got, want_q, "the second search: the same, from the index")
t.ok(not [u for u in unt if "INPROGRESS" in u], "and no progress line", unt[:3])
t.ok(index_bytes(BIG) > 0, "the index has its file (%d octets)" % index_bytes(BIG))
c.cmd("LOGOUT")
c.close()

# two sessions at once on a new folder
box2 = "example.test/demo/.Big2"
inst.maildir(box2)
for i in range(1, N + 1):
    body = " ".join(words[(i * 5 + k) % len(words)] for k in range(40)) + (" quokka" if i % 97 == 0 else "")
    inst.put(("Subject: big2 %d\n\n%s\n" % (i, body)).encode(), "%d.M%dP3.host" % (1795000000 + i, i), mailbox=box2)
BIG2 = os.path.join(MD, ".Big2")
c = login()
c.cmd("SELECT Big2")
c.cmd("LOGOUT")
c.close()
size_before = index_bytes(BIG2)
results = {}


def worker(k):
    cc = login()
    cc.cmd("SELECT Big2")
    results[k] = big_search(cc, "w%d" % k)[0]
    cc.cmd("LOGOUT")
    cc.close()


ths = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
for th in ths:
    th.start()
for th in ths:
    th.join(120)
want2 = [i for i in range(1, N + 1) if i % 97 == 0]
t.ok(results.get(0) == want2 and results.get(1) == want2, "two sessions indexing one folder at once: both right", results)
c = login()
c.cmd("SELECT Big2")
got, unt, r = big_search(c)
t.is_(got, want2, "and a third, from the index")
t.ok(index_bytes(BIG2) > size_before, "the search index went into the folder's index: %d octets, %d before" % (index_bytes(BIG2), size_before))
c.cmd("LOGOUT")
c.close()

# ---- the stored texts answer, not the files
box3 = "example.test/demo/.Kept"
inst.maildir(box3)
inst.put(b"Subject: kept\nFrom: k@example.org\n\nnumbat and a Zq pair\n", "1799000001.M1P4.host", mailbox=box3)
filler = ("lorem ipsum dolor sit amet " * 45000).encode()   # 1.2 MiB of text
inst.put(b"Subject: huge\nFrom: k@example.org\n\n" + filler + b"numbat at the end\n", "1799000002.M2P4.host", mailbox=box3)
c = login()
c.cmd("SELECT Kept")
unt, r = c.cmd("SEARCH BODY numbat")
t.ok("* SEARCH 1 2" in unt, "Kept: both found when the first search indexes the folder", unt)
KEPT = os.path.join(MD, ".Kept")


def rewrite(prefix, data):
    for sub in ("cur", "new"):
        for f in os.listdir(os.path.join(KEPT, sub)):
            if f.startswith(prefix):
                with open(os.path.join(KEPT, sub, f), "r+b") as fh:
                    fh.write(data)
                    fh.truncate()
                return True
    return False


t.ok(rewrite("1799000001.", b"Subject: kept\nFrom: k@example.org\n\nwallaby and a xx pair\n")
     and rewrite("1799000002.", b"Subject: huge\nFrom: k@example.org\n\n" + filler + b"wallaby at the end\n"),
     "both files rewritten in place")
unt, r = c.cmd("SEARCH BODY numbat")
t.ok("* SEARCH 1" in unt, "SEARCH BODY numbat: 1 from the texts the index keeps, 2 (over 1 MiB of text) from its file", unt)
unt, r = c.cmd("SEARCH BODY zq")
t.ok("* SEARCH 1" in unt, "SEARCH BODY zq (2 letters): from the kept texts too", unt)
unt, r = c.cmd("SEARCH TEXT k@example")
t.ok("* SEARCH 1 2" in unt, "SEARCH TEXT: the kept headers", unt)
c.cmd("LOGOUT")
c.close()

# ---- over 5,000 messages behind: scan first, index after
N4 = 6000
want4 = [i for i in range(1, N4 + 1) if i % 97 == 0]
for name, tagp in ((".Old", "1801"), (".Old2", "1802")):
    inst.maildir("example.test/demo/" + name)
    for i in range(1, N4 + 1):
        body = " ".join(words[(i * 3 + k) % len(words)] for k in range(12)) + (" quokka" if i % 97 == 0 else "")
        inst.put(("Subject: old %d\n\n%s\n" % (i, body)).encode(), "%s%06d.M%dP5.host" % (tagp, i, i), mailbox="example.test/demo/" + name)
c = login()
c.cmd("SELECT Old")
got, unt, r = big_search(c, "o1")
t.is_(got, want4, "Old (%d messages, no index): the first search is right" % N4)
prog = [u for u in unt if "INPROGRESS" in u]
t.ok(prog and all(re.match(r'^\* OK \[INPROGRESS \("o1" \d+ %d\)\] ' % N4, u) for u in prog), "and says how far its scan is", prog[:3])
# idle: the index grows and then stops (bounded wait)
OLD = os.path.join(MD, ".Old")
last, still, end = -1, 0, time.time() + 90
while time.time() < end and still < 6:
    time.sleep(0.5)
    sz = index_bytes(OLD)
    still = still + 1 if sz == last else 0
    last = sz
got, unt, r = big_search(c, "o2")
t.is_(got, want4, "after idle time: the second search is right")
t.ok(not [u for u in unt if "INPROGRESS" in u], "and has no progress line: the index was built while the session was idle", unt[:3])
c.cmd("LOGOUT")
c.close()
c = login()
c.cmd("SELECT Old2")
c.send("p1 SEARCH BODY quokka\r\np2 SEARCH BODY quokka\r\n")
unt1, r1 = c.until("p1")
unt2, r2 = c.until("p2")
hits = lambda unt: sorted(int(x) for u in unt if u.startswith("* SEARCH") for x in u.split()[2:])
t.ok(hits(unt1) == want4 and hits(unt2) == want4, "Old2: a first search and a second sent at once are both right")
t.ok([u for u in unt2 if "INPROGRESS" in u and '"p2"' in u], "the second, with no idle time between, built the index with its progress lines", unt2[:3])
c.cmd("LOGOUT")
c.close()
t.done()
