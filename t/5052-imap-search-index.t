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
# - expunged messages never come back from the index.

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
t.done()
