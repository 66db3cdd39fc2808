#!/usr/bin/python3
# UIDL (RFC 1939 7) as DESIGN.md defines it: the Maildir unique name (the
# file name before ':'), or a fixed hash of it when that is not 1 to 70
# characters from 0x21 to 0x7E; stable across sessions, flag changes and
# the move from new/ to cur/; never reused for another message.

import hashlib
import os
import poplib
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Pop3Instance(t)
port = inst.pop3()
MD = inst.maildir()

names = [
    ("1700000001.M1P1Q1.mx.example.test,S=20", "new", "1700000001.M1P1Q1.mx.example.test,S=20"),
    ("1700000002.M1P1Q1.mx.example.test,S=20:2,S", "cur", "1700000002.M1P1Q1.mx.example.test,S=20"),
    ("1700000003.odd name with spaces:2,RS", "cur", None),
    ("1700000004.caf\u00e9.example", "new", None),
    ("1700000005." + "x" * 59, "new", "1700000005." + "x" * 59),      # 70 characters
    ("1700000006." + "y" * 60, "new", None),                            # 71 characters
    ("1700000007.tab\there", "new", None),
    ("1700000008.a:b:c", "cur", "1700000008.a"),
]
for n, sub, _ in names:
    inst.put("Subject: %s\n\nx\n" % n.encode("unicode_escape").decode(), n, sub=sub)


def uidls():
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user("demo@example.test")
    p.pass_("demo")
    r = [l.decode().split(" ", 1) for l in p.uidl()[1]]
    p.quit()
    return [u for _, u in r]


u1 = uidls()
t.is_(len(u1), len(names), "one UIDL per message")
for (n, sub, want), got in zip(names, u1):
    if want is not None:
        t.is_(got, want, "%r: the unique name before ':'" % n)
    else:
        h = hashlib.sha256(n.split(":")[0].encode()).hexdigest()
        t.is_(got, h, "%r: outside RFC 1939's characters or length: the SHA-256 of the unique name" % n)
t.ok(all(1 <= len(u) <= 70 and all(0x21 <= ord(ch) <= 0x7e for ch in u) for u in u1), "every UIDL is 1 to 70 printable characters")
t.is_(len(set(u1)), len(u1), "all different")
t.is_(uidls(), u1, "the same in the next session")

# another program marks messages seen and moves them to cur/
for n, sub, _ in names:
    if sub == "new":
        os.rename(os.path.join(MD, "new", n), os.path.join(MD, "cur", n + ":2,S"))
    else:
        base = n.split(":")[0]
        os.rename(os.path.join(MD, "cur", n), os.path.join(MD, "cur", base + ":2,ST"))
t.is_(uidls(), u1, "unchanged after new/ to cur/ and flag changes")

# a deleted message's UIDL is not reused: the unique name went with the file
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("demo@example.test")
p.pass_("demo")
p.dele(1)
p.quit()
inst.put("Subject: again\n\nx\n", "1700000009.M1P1Q1.mx.example.test,S=20")
u2 = uidls()
t.ok(u1[0] not in u2 and u2[:len(names) - 1] == u1[1:], "a message deleted: its UIDL is gone; the others keep theirs")
t.is_(u2[-1], "1700000009.M1P1Q1.mx.example.test,S=20", "a new message gets its own")

# UIDL n
p = poplib.POP3("127.0.0.1", port, timeout=10)
p.user("demo@example.test")
p.pass_("demo")
t.is_(p.uidl(2).decode(), "+OK 2 " + u2[1], "UIDL n")
p.quit()

t.done()
