#!/usr/bin/python3
# imap-serve: UTF8=ACCEPT (RFC 6855):
# - before ENABLE, mailbox names are modified UTF-7 on the wire, as on the
#   disk (RFC 3501 5.1.3), and nothing 8-bit is sent in a quoted string;
# - ENABLE UTF8=ACCEPT answers ENABLED once; then names are UTF-8 both
#   ways: CREATE, SELECT, STATUS, RENAME, LIST patterns with "*" and "%"
#   next to non-ASCII letters, "&" as itself, and the disk keeps modified
#   UTF-7 (what Dovecot and Courier read);
# - 8-bit octets that are not UTF-8 outside a literal, and control
#   characters in a name, are BAD (RFC 6855 3); a UTF-8 quoted string is
#   accepted in SEARCH.

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.ImapInstance(t)
port = inst.imap()
MD = inst.maildir()


def disk():
    return sorted(d for d in os.listdir(MD) if d.startswith("."))


def names(unt):
    out = []
    for u in unt:
        if u.startswith("* LIST "):
            nm = u.split(' "." ', 1)[1]
            out.append(nm[1:-1] if nm.startswith('"') else nm)
    return out


c = ternlib.ImapConn(port)
unt, r = c.cmd("LOGIN demo@example.test demo")
t.ok("UTF8=ACCEPT" in r, "UTF8=ACCEPT in the capabilities", r)

# before ENABLE: modified UTF-7 on the wire (RFC 3501 5.1.3)
unt, r = c.cmd('CREATE "&ZeVnLIqe-"')
t.ok(" OK " in r, "CREATE in modified UTF-7 before ENABLE", r)
t.ok(".&ZeVnLIqe-" in disk(), "the folder on the disk in modified UTF-7", disk())
unt, r = c.cmd('LIST "" "*"')
t.ok("&ZeVnLIqe-" in names(unt), "LIST before ENABLE: the modified UTF-7 name", unt)

unt, r = c.cmd("ENABLE UTF8=ACCEPT")
t.ok(unt == ["* ENABLED UTF8=ACCEPT"] and " OK " in r, "ENABLE UTF8=ACCEPT: * ENABLED UTF8=ACCEPT", (unt, r))
unt, r = c.cmd("ENABLE UTF8=ACCEPT")
t.ok(unt == ["* ENABLED"], "a second ENABLE lists nothing new (RFC 5161 3.1)", unt)

unt, r = c.cmd('LIST "" "*"')
t.ok("日本語" in names(unt), "LIST after ENABLE: the name in UTF-8", unt)
t.ok(any(u.endswith('"日本語"') for u in unt), "sent as a quoted string, not a literal (RFC 6855 3)", unt)

unt, r = c.cmd('CREATE "Dété"')
t.ok(" OK " in r, "CREATE with a UTF-8 name", r)
t.ok(".D&AOk-t&AOk-" in disk(), "on the disk in modified UTF-7", disk())
unt, r = c.cmd('CREATE "Dété.Août"')
t.ok(" OK " in r and ".D&AOk-t&AOk-.Ao&APs-t" in disk(), "a UTF-8 name below it: the separator stays", disk())
unt, r = c.cmd('CREATE "R&D"')
t.ok(" OK " in r and ".R&-D" in disk(), '"&" is itself in UTF-8, "&-" on the disk', disk())
unt, r = c.cmd('LIST "" "R&D"')
t.is_(names(unt), ["R&D"], 'LIST "R&D" finds it by its UTF-8 name')

for pat, want in (("D*", ["Drafts", "Dété", "Dété.Août"]), ("D%", ["Drafts", "Dété"]), ("*é", ["Dété"]),
                  ("*t%", ["Drafts", "Dété", "Dété.Août", "Sent"]),
                  ("Dété.%", ["Dété.Août"]), ("*語", ["日本語"])):
    unt, r = c.cmd('LIST "" "%s"' % pat)
    t.is_(sorted(names(unt)), sorted(want), 'LIST pattern "%s" against UTF-8 names' % pat)
unt, r = c.cmd('LIST "Dété." "%"')
t.is_(names(unt), ["Dété.Août"], "a UTF-8 reference")

inst.put(b"Subject: caf\xc3\xa9\r\nFrom: a@example.org\r\n\r\nthe body\r\n", mailbox="example.test/demo/.D&AOk-t&AOk-")
unt, r = c.cmd('STATUS "Dété" (MESSAGES)')
t.ok(" OK " in r and any(u.startswith('* STATUS "Dété" (MESSAGES 1)') for u in unt), "STATUS: the UTF-8 name back", unt)
unt, r = c.cmd('LIST "" "Dété" RETURN (STATUS (MESSAGES))')
t.ok(any(u.startswith('* STATUS "Dété" (MESSAGES 1)') for u in unt), "LIST RETURN (STATUS): the UTF-8 name and its folder's count", unt)
unt, r = c.cmd('SELECT "Dété"')
t.ok(" OK " in r and "* 1 EXISTS" in unt, "SELECT by the UTF-8 name", (unt, r))
unt, r = c.cmd('SEARCH SUBJECT "café"')
t.ok("* SEARCH 1" in unt, "SEARCH with a UTF-8 quoted string", unt)
unt, r = c.cmd('RENAME "Dété.Août" "Dété.Été"')
t.ok(" OK " in r and ".D&AOk-t&AOk-.&AMk-t&AOk-" in disk(), "RENAME to a UTF-8 name", disk())

# bad input: RFC 6855 3
c.send(b'b1 CREATE "caf\xe9"\r\n')
unt, r = c.until("b1")
t.ok(r.startswith("b1 BAD"), "latin-1 octets in a quoted string: BAD", r)
c.send(b'b2 CREATE "a\xc2\x85b"\r\n')
unt, r = c.until("b2")
t.ok(r.startswith("b2 BAD"), "a C1 control (U+0085) in a name: BAD", r)
c.send(b"b3 CREATE {4+}\r\nx\xe9yz\r\n")
unt, r = c.until("b3")
t.ok(r.startswith("b3 BAD"), "a literal name that is not UTF-8: BAD", r)
t.ok(not any("x" in d and "yz" in d for d in disk()), "and nothing created", disk())
unt, r = c.cmd("NOOP")
t.ok(" OK " in r, "the session goes on")

# a name outside modified UTF-7 ("&" without its "-"): such a folder is
# not listed (tern_folder_list), a subscription to it is, as it is
with open(os.path.join(MD, "subscriptions"), "a") as f:
    f.write("odd&name\n")
inst.chown_all()
unt, r = c.cmd('LIST (SUBSCRIBED) "" "odd*" RETURN (STATUS (MESSAGES))')
t.ok(r.split()[1] == "OK" and any(u.startswith("* LIST (") and u.endswith('"odd&name"') for u in unt),
     "a subscription whose name is not modified UTF-7: listed as it is, the session goes on", (unt, r))

# a client that never enables it still sees modified UTF-7
c2 = ternlib.ImapConn(port)
c2.cmd("LOGIN demo@example.test demo")
unt, r = c2.cmd('LIST "" "D*"')
t.is_(sorted(names(unt)), ["D&AOk-t&AOk-", "D&AOk-t&AOk-.&AMk-t&AOk-", "Drafts"], "another session without ENABLE: modified UTF-7")
unt, r = c2.cmd('STATUS "D&AOk-t&AOk-" (MESSAGES)')
t.ok(any(u.startswith('* STATUS "D&AOk-t&AOk-" (MESSAGES 1)') for u in unt), "and STATUS answers in it", unt)
c2.cmd("LOGOUT")
c.cmd("LOGOUT")
t.done()
