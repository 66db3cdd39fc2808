#!/usr/bin/python3
# newaliases: etc/aliases syntax, the compiled aliases.cdb, errors with
# line numbers, and the old cdb kept on error.

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
inst = ternlib.Instance(t)


def na(*args):
    r = inst.run(["newaliases"] + list(args), asuser=False)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def cdb():
    return ternlib.cdb_read(inst.path("etc/aliases.cdb"))


t.is_(cdb(), {b"postmaster": [b"demo@example.test\0"]}, "the instance's aliases.cdb holds its postmaster alias")
t.is_(oct(os.stat(inst.path("etc/aliases.cdb")).st_mode & 0o777), oct(0o644), "aliases.cdb is mode 0644")

inst.write("etc/aliases", """# the aliases of example.test
PostMaster: demo@example.test

Staff@Example.TEST: Alice@Example.Test, bob,
  carol@remote.test ,
\t"|/usr/bin/filter -a, -b" , /var/mail/staff
# a comment between continuation lines
  /srv/archive/Maildir/
root: postmaster
""")
rc, out, err = na()
t.is_(rc, 0, "a file with comments, blank lines, continuations and quotes compiles")
c = cdb()
t.is_(sorted(c), [b"postmaster", b"root", b"staff@example.test"], "keys are lowercased, bare and with a domain")
t.is_(c[b"staff@example.test"],
      [b"Alice@example.test\0bob\0carol@remote.test\0|/usr/bin/filter -a, -b\0/var/mail/staff\0/srv/archive/Maildir/\0"],
      "targets are NUL-terminated in order; domains lowercased (local parts kept), commands and paths kept")
t.is_(c[b"root"], [b"postmaster\0"], "a bare local target is kept bare")
t.like(err, "compiled 3 aliases", "it says how many aliases it compiled")
t.ok(not os.path.exists(inst.path("etc/aliases.cdb.tmp")), "no temporary file is left")

good = open(inst.path("etc/aliases.cdb"), "rb").read()
ino = os.stat(inst.path("etc/aliases.cdb")).st_ino
cases = (
    ("a: b\nnocolon here\n", 2, "missing colon"),
    ("a: b\n  c\nbad name: x\n", 3, "malformed alias name"),
    ("a:\n", 1, "no targets for a"),
    ("\n\nx: a b\n", 3, "malformed target"),
    ("x: a@b@\n", 1, "malformed address"),
    ("x: \"|foo\n", 1, "unterminated quoted target"),
    ("x: |\n", 1, "empty command"),
    ("x: :include:/etc/list\n", 1, ":include: files are not supported"),
    ("  y@example.test\n", 1, "continuation line without an alias"),
    ("x: a\ny: b\nX: c\n", 3, "duplicate alias, first at line 1"),
    ("x: a\x01b\n", 1, "control character"),
)
for text, line, why in cases:
    inst.write("etc/aliases", text)
    rc, out, err = na()
    t.is_(rc, 100, "refuses: %s (exit 100)" % why)
    t.like(err, r"etc/aliases:%d: .*%s" % (line, why.split(" (")[0]), "reports etc/aliases:%d: %s" % (line, why))
t.ok(open(inst.path("etc/aliases.cdb"), "rb").read() == good and os.stat(inst.path("etc/aliases.cdb")).st_ino == ino,
     "after every error the old aliases.cdb is still in place")

inst.write("etc/aliases", "x: a b\ny: c d\n")
rc, out, err = na()
t.ok(rc == 100 and "etc/aliases:1:" in err and "etc/aliases:2:" in err, "every error is reported, not just the first")

inst.write("etc/aliases", "info@other.test: demo@example.test\n")
rc, out, err = na()
t.ok(rc == 0 and "not in etc/domains" in err, "an alias in a non-local domain compiles, with a warning")

os.unlink(inst.path("etc/aliases"))
rc, out, err = na()
t.ok(rc == 0 and cdb() == {}, "no etc/aliases: an empty aliases.cdb")

rc, out, err = na("-x")
t.is_(rc, 100, "an option is a usage error (100)")
rc, out, err = na("extra")
t.is_(rc, 100, "an argument is a usage error (100)")

t.done()
