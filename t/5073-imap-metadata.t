#!/usr/bin/python3
# imap-serve: METADATA (RFC 5464): GETMETADATA with MAXSIZE and DEPTH,
# SETMETADATA, server entries (mailbox "") and mailbox entries, /private
# and /shared:
# - the RFC's examples (4.2, 4.2.1, 4.2.2, 4.3, 4.4.1): a literal value
#   over two lines, NIL to remove, several entries at once, LONGENTRIES;
# - the server's /shared/admin and /shared/comment from
#   $IMAP_METADATA_ADMIN and $IMAP_METADATA_COMMENT, read-only (NOPERM);
# - binary values as literal8 and back; entry names checked (BAD);
# - limits: a value of 65536 octets (MAXSIZE 65536 over), 500 entries
#   (TOOMANY), 1 MiB per user (MAXSIZE with the room left); a refused
#   SETMETADATA changes nothing;
# - the entries follow RENAME (of INBOX: copied), go with DELETE, and are
#   seen by another session; a kill -9 while writing leaves the file whole.

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t, users=(("demo@example.test", "demo"), ("count@example.test", "c")))
port = inst.imap(env={"IMAP_METADATA_ADMIN": "mailto:postmaster@example.test"})
MD = inst.maildir()
inst.maildir("example.test/demo/.Other")


def login():
    c = ternlib.ImapConn(port)
    unt, r = c.cmd("LOGIN demo@example.test demo")
    return c, r


c, r = login()
caps = r.split("[CAPABILITY ", 1)[1].split("]")[0].split() if "[CAPABILITY " in r else []
t.ok("METADATA" in caps, "METADATA in the capabilities", r)


def ok(r):
    return r.split()[1] == "OK"


# --- server entries (3.2.1.1)
unt, r = c.cmd('GETMETADATA "" /shared/admin')
t.is_((unt, ok(r)), (['* METADATA "" (/shared/admin "mailto:postmaster@example.test")'], True),
      "GETMETADATA \"\" /shared/admin: the administrator's address, from the configuration")
unt, r = c.cmd('GETMETADATA "" /shared/comment')
t.is_(unt, ['* METADATA "" (/shared/comment NIL)'], "no server comment configured: NIL")
unt, r = c.cmd('SETMETADATA "" (/shared/admin "mailto:me@example.test")')
t.like(r, r"^t\d+ NO \[NOPERM\]", "/shared/admin is read-only (NO [NOPERM])")
unt, r = c.cmd('SETMETADATA "" (/shared/comment "mine")')
t.like(r, r"^t\d+ NO \[NOPERM\]", "so is the server's /shared/comment")
unt, r = c.cmd('SETMETADATA "" (/private/vendor/tern/x "a server entry of the user")')
t.ok(ok(r), "a private server entry of the user's own", r)
unt, r = c.cmd('GETMETADATA "" /private/vendor/tern/x')
t.is_(unt, ['* METADATA "" (/private/vendor/tern/x "a server entry of the user")'], "and it reads back")

# --- RFC 5464 4.3's examples
# (the RFC's {33} counts bare LFs: with CRLF line ends the value is 35)
c.send(b"a SETMETADATA INBOX (/private/comment {35}\r\n")
ln = c.line()
t.like(ln.decode(), r"^\+ ", "a synchronizing literal value: the continuation")
c.send(b"My new comment across\r\ntwo lines.\r\n)\r\n")
unt, r = c.until("a")
t.ok(ok(r), "SETMETADATA INBOX (/private/comment {35} ...): OK (4.3)", r)
unt, r = c.cmd('GETMETADATA "INBOX" /private/comment')
t.is_(unt, ['* METADATA "INBOX" (/private/comment {35}\r\nMy new comment across\r\ntwo lines.\r\n)'],
      "the multi-line value comes back as a literal")
unt, r = c.cmd("SETMETADATA INBOX (/private/comment NIL)")
t.ok(ok(r), "SETMETADATA INBOX (/private/comment NIL): OK", r)
unt, r = c.cmd('GETMETADATA "INBOX" /private/comment')
t.is_(unt, ['* METADATA "INBOX" (/private/comment NIL)'], "NIL removed it")
unt, r = c.cmd('SETMETADATA INBOX (/private/comment "My new comment" /shared/comment "This one is for you!")')
t.ok(ok(r), "two entries in one SETMETADATA", r)
# 4.2's and 4.4.1's
unt, r = c.cmd('GETMETADATA "INBOX" (/shared/comment /private/comment)')
t.is_((unt, ok(r)), (['* METADATA "INBOX" (/shared/comment "This one is for you!" /private/comment "My new comment")'], True),
      "GETMETADATA \"INBOX\" (/shared/comment /private/comment): both, in the order asked (4.2)")
unt, r = c.cmd('GETMETADATA INBOX /private/comment')
t.is_(unt, ['* METADATA "INBOX" (/private/comment "My new comment")'], "a single entry, unparenthesized")

# --- MAXSIZE (4.2.1)
big = "b" * 2199
unt, r = c.cmd('SETMETADATA INBOX (/shared/comment "%s")' % big)
t.ok(ok(r), "a shared comment of 2199 octets", r)
unt, r = c.cmd('GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)')
t.is_((unt, r.split(" ", 1)[1]), (['* METADATA "INBOX" (/private/comment "My new comment")'], "OK [METADATA LONGENTRIES 2199] Getmetadata completed"),
      "MAXSIZE 1024: the 2199-octet value left out, OK [METADATA LONGENTRIES 2199] (4.2.1)")
unt, r = c.cmd('GETMETADATA "INBOX" (MAXSIZE 5000) (/shared/comment)')
t.ok(len(unt) == 1 and big in unt[0] and "LONGENTRIES" not in r, "MAXSIZE 5000: returned, no LONGENTRIES", r)

# --- DEPTH (4.2.2)
unt, r = c.cmd('SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" /private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/boss/deep "x")')
t.ok(ok(r), "entries below /private/filters/values", r)
unt, r = c.cmd('GETMETADATA "INBOX" (DEPTH 1) (/private/filters/values)')
got = unt[0] if unt else ""
t.ok(got.startswith('* METADATA "INBOX" (') and '/private/filters/values/small "SMALLER 5000"' in got
     and '/private/filters/values/boss "FROM \\"boss@example.com\\""' in got and "deep" not in got
     and "/private/filters/values NIL" not in got,
     "DEPTH 1: the children, not the grandchild (the RFC's example)", unt)
unt, r = c.cmd('GETMETADATA "INBOX" (DEPTH infinity) (/private/filters)')
t.ok(unt and "/private/filters/values/boss/deep \"x\"" in unt[0] and "small" in unt[0], "DEPTH infinity: all below", unt)
unt, r = c.cmd('GETMETADATA (DEPTH 0) "INBOX" (/private/filters/values)')
t.is_(unt, ['* METADATA "INBOX" (/private/filters/values NIL)'], "DEPTH 0, the options before the mailbox (the ABNF's place): the entry only (none: NIL)")
unt, r = c.cmd('GETMETADATA "INBOX" (DEPTH infinity MAXSIZE 5) /private')
t.ok(unt and "SMALLER" not in unt[0] and '/private/filters/values/boss/deep "x"' in unt[0] and "LONGENTRIES" in r,
     "DEPTH and MAXSIZE together, on /private", (unt, r))
unt, r = c.cmd('GETMETADATA "INBOX" /Private/Comment')
t.is_(unt, ['* METADATA "INBOX" (/private/comment "My new comment")'], "entry names are case-insensitive")

# --- binary values: literal8
val = bytes(range(256))
c.send(b"b SETMETADATA Other (/private/vendor/tern/bin ~{%d}\r\n" % len(val))
ln = c.line()
c.send(val + b")\r\n")
unt, r = c.until("b")
t.ok(ok(r), "a binary value (every octet, NUL included) as literal8", r)
c.send(b"c GETMETADATA Other /private/vendor/tern/bin\r\n")
raw = b""
while b"\r\nc " not in raw:
    raw += c.s.recv(65536)
t.ok(b"~{256}\r\n" + val + b")\r\n" in raw, "it comes back as literal8, octet for octet")
c.buf = raw[raw.index(b"\r\nc ") + 2:]
c.line()

# --- bad input
for bad, what in [('GETMETADATA INBOX /private/*', "a wildcard in an entry"),
                  ('GETMETADATA INBOX /other/x', "neither /private nor /shared"),
                  ('GETMETADATA INBOX /private//x', "an empty component"),
                  ('GETMETADATA INBOX /private/x/', "a trailing /"),
                  ('SETMETADATA INBOX (/private "x")', "one component for SETMETADATA"),
                  ('SETMETADATA INBOX (/shared/vendor/x "y")', "a vendor entry of 3 components"),
                  ('GETMETADATA (DEPTH 2) INBOX /private', "DEPTH 2"),
                  ('GETMETADATA (FOO 1) INBOX /private', "an unknown option"),
                  ('GETMETADATA INBOX', "no entry"),
                  ('SETMETADATA INBOX /private/comment "x"', "no parentheses"),
                  ('SETMETADATA INBOX (/private/comment)', "no value"),
                  ('GETMETADATA INBOX (/private/comment', "an open list")]:
    unt, r = c.cmd(bad)
    t.ok(r.split()[1] == "BAD", "%s: BAD" % what, r)
unt, r = c.cmd('GETMETADATA Nosuch /private/comment')
t.like(r, r"^t\d+ NO \[NONEXISTENT\]", "a mailbox that does not exist: NO [NONEXISTENT] (3.3)")
unt, r = c.cmd('SETMETADATA Nosuch (/private/comment "x")')
t.like(r, r"^t\d+ NO \[NONEXISTENT\]", "SETMETADATA on one: NO")

# --- limits
v64 = "v" * 65536
c.send(b"d SETMETADATA Other (/private/vendor/tern/big {65536+}\r\n" + v64.encode() + b")\r\n")
unt, r = c.until("d")
t.ok(ok(r), "a value of 65536 octets", r)
c.send(b"d SETMETADATA Other (/private/vendor/tern/big2 {65537+}\r\n" + v64.encode() + b"v)\r\n")
unt, r = c.until("d")
t.like(r, r"^d NO \[METADATA MAXSIZE 65536\]", "65537 octets: NO [METADATA MAXSIZE 65536] (4.3)")
# all or nothing
c.send(b'd SETMETADATA Other (/private/comment "kept?" /private/vendor/tern/big2 {65537+}\r\n' + v64.encode() + b"v)\r\n")
unt, r = c.until("d")
unt, r2 = c.cmd("GETMETADATA Other /private/comment")
t.is_(unt, ['* METADATA "Other" (/private/comment NIL)'], "a refused SETMETADATA sets none of its entries")
# the count: 500 entries per user (a user who has none yet)
cc = ternlib.ImapConn(port)
cc.cmd("LOGIN count@example.test c")
cc.cmd("CREATE Box")
unt, r = cc.cmd("SETMETADATA INBOX (%s)" % " ".join('/private/vendor/tern/n%d "%d"' % (i, i) for i in range(250)))
unt, r2 = cc.cmd('SETMETADATA "" (%s)' % " ".join('/shared/vendor/tern/n%d "%d"' % (i, i) for i in range(200)))
unt, r3 = cc.cmd("SETMETADATA Box (%s)" % " ".join('/private/vendor/tern/n%d "%d"' % (i, i) for i in range(50)))
t.ok(ok(r) and ok(r2) and ok(r3), "500 entries, on the server and two mailboxes", (r, r2, r3))
c, c_demo = cc, c
unt, r = c.cmd('SETMETADATA INBOX (/private/vendor/tern/one-more "x")')
t.like(r, r"^t\d+ NO \[METADATA TOOMANY\]", "the 501st: NO [METADATA TOOMANY] (4.3)")
unt, r = c.cmd('SETMETADATA INBOX (/private/vendor/tern/n0 "replaced")')
t.ok(ok(r), "replacing an entry at the cap is fine", r)
unt, r = c.cmd('SETMETADATA Box (/private/vendor/tern/n0 NIL /private/vendor/tern/one-more "x")')
t.ok(ok(r), "removing one and adding one in the same command", r)
c.cmd("LOGOUT")
c = c_demo
# the total: 1 MiB
ok_all = True
for i in range(14):
    c.send(b"e SETMETADATA Other (/private/vendor/tern/fill%d {65536+}\r\n" % i + v64.encode() + b")\r\n")
    unt, r = c.until("e")
    ok_all = ok_all and ok(r)
t.ok(ok_all, "15 values of 64 KiB (in all just under 1 MiB)")
c.send(b"e SETMETADATA Other (/private/vendor/tern/fill99 {65536+}\r\n" + v64.encode() + b")\r\n")
unt, r = c.until("e")
m = re.match(r"^e NO \[METADATA MAXSIZE (\d+)\]", r)
t.ok(m and int(m.group(1)) < 65536, "past 1 MiB for the user: NO [METADATA MAXSIZE room-left]", r)
unt, r = c.cmd("SETMETADATA Other (%s)" % " ".join("/private/vendor/tern/fill%d NIL" % i for i in range(14)))
t.ok(ok(r), "room made again", r)

# --- RENAME, DELETE, another session
unt, r = c.cmd('SETMETADATA Other (/shared/comment "other\'s")')
c.cmd("CREATE Other.Sub")
c.cmd('SETMETADATA Other.Sub (/private/comment "sub")')
unt, r = c.cmd("RENAME Other Renamed")
t.ok(ok(r), "RENAME Other Renamed", r)
unt, r = c.cmd("GETMETADATA Renamed (/shared/comment)")
t.is_(unt, ['* METADATA "Renamed" (/shared/comment "other\'s")'], "the entries followed the RENAME (4.1)")
unt, r = c.cmd("GETMETADATA Renamed.Sub (/private/comment)")
t.is_(unt, ['* METADATA "Renamed.Sub" (/private/comment "sub")'], "and its child's too")
c.cmd("CREATE Other")
unt, r = c.cmd("GETMETADATA Other (/shared/comment)")
t.is_(unt, ['* METADATA "Other" (/shared/comment NIL)'], "a new folder of the old name has none")
unt, r = c.cmd("RENAME INBOX Old")
t.ok(ok(r), "RENAME INBOX Old", r)
unt, r = c.cmd("GETMETADATA Old (/private/comment)")
unt2, r = c.cmd("GETMETADATA INBOX (/private/comment)")
t.is_((unt, unt2), (['* METADATA "Old" (/private/comment "My new comment")'], ['* METADATA "INBOX" (/private/comment "My new comment")']),
      "RENAME INBOX: the entries are copied, INBOX keeps its own (4.1)")
c.cmd("DELETE Renamed.Sub")
c.cmd("CREATE Renamed.Sub")
unt, r = c.cmd("GETMETADATA Renamed.Sub (/private/comment)")
t.is_(unt, ['* METADATA "Renamed.Sub" (/private/comment NIL)'], "DELETE took the folder's entries with it")
c2, r = login()
unt, r = c2.cmd("GETMETADATA Renamed (/shared/comment)")
t.is_(unt, ['* METADATA "Renamed" (/shared/comment "other\'s")'], "another session sees them")
c2.cmd('SETMETADATA Renamed (/shared/comment "changed there")')
unt, r = c.cmd("GETMETADATA Renamed (/shared/comment)")
t.is_(unt, ['* METADATA "Renamed" (/shared/comment "changed there")'], "and a change made there is seen here")
c2.cmd("LOGOUT")

# --- kill -9 while writing: the old file or the new, never a broken one
def serve_pids():
    """our own server's imap-serve processes (its monitors' children)"""
    return set(ch for mon in ternlib.proc_children(inst.pop3_server.pid)
               for ch in ternlib.proc_children(mon) if ternlib.proc_comm(ch) == "imap-serve")


kills = 0
for i in range(20):
    before = serve_pids()
    c3, r = login()
    mine = serve_pids() - before
    c3.send(b"k SETMETADATA INBOX (/private/vendor/tern/k {60000+}\r\n" + b"k" * 60000 + b")\r\n")
    time.sleep(0.002 * i)
    if len(mine) == 1:
        os.kill(mine.pop(), signal.SIGKILL)
        kills += 1
    c3.close()
    unt, r = c.cmd("GETMETADATA INBOX (/private/comment)")
    if unt != ['* METADATA "INBOX" (/private/comment "My new comment")']:
        break
t.ok(kills >= 10 and unt == ['* METADATA "INBOX" (/private/comment "My new comment")'],
     "after %d kill -9 during SETMETADATA the file still reads whole" % kills, unt)
t.ok(not [f for f in os.listdir(MD) if f.startswith("tern-metadata") and f not in ("tern-metadata", "tern-metadata.lock", "tern-metadata.tmp")],
     "no stray files beside it")
c.cmd("LOGOUT")
t.done()
