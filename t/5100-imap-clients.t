#!/usr/bin/python3
# Real IMAP clients against imap-login + pwcheck + imap-serve (each part
# skips when its program is missing):
# - mbsync (isync): INBOX and a folder synced both ways with a local
#   Maildir, twice; the second run changes nothing on either side (the
#   trees and mbsync's protocol dialog say so); then a flag changed on
#   each side reaches the other; one more sync over IMAPS, the test
#   certificate as CertificateFile;
# - getmail6: SimpleIMAPRetriever and SimpleIMAPSSLRetriever into a
#   Maildir destination, every message whole;
# - curl: imap:// folder list, SELECT through the URL (;UIDVALIDITY=),
#   SEARCH in the URL, -X 'UID SEARCH SUBJECT word', a message by UID
#   (;UID=n) byte for byte, over STARTTLS (--ssl-reqd) and IMAPS too.

import imaplib
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
if not ternlib.is_root():
    t.skip_all("imap-login is the login monitor: it starts as root")
inst = ternlib.ImapInstance(t)
MD = inst.maildir()
port = inst.imap()                                               # plain text allowed (IMAP_PLAINTEXT=1)
pstls = inst.imap(tls=True, plaintext=False)                     # STARTTLS, no login before it
p993 = inst.imap(tls=True, implicit=True, plaintext=False)       # IMAPS
work = inst.path("work")
os.makedirs(work)
USER, PASS = "demo@example.test", "demo"


def skip(n, why):
    for _ in range(n):
        t.ok(True, "# SKIP " + why)


def run(argv, env=None, timeout=120, cwd=None):
    e = dict(os.environ)
    e["HOME"] = work
    if env:
        e.update(env)
    r = subprocess.run(argv, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd)
    return r.returncode, r.stdout.decode(errors="replace")


def msg(tag, subject=None, extra=""):
    return ("From: Sender <sender@remote.test>\nTo: demo@example.test\nSubject: %s\n"
            "Message-ID: <%s@clients.test>\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n\n"
            "body of %s\n%s" % (subject or "client test " + tag, tag, tag, extra))


def imap():
    c = imaplib.IMAP4("127.0.0.1", port, timeout=15)
    c.login(USER, PASS)
    return c


def maildir_tree(d):
    """[(message bytes with LF line ends, standard flags)] of a Maildir, sorted."""
    out = []
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        if not os.path.isdir(p):
            continue
        for f in os.listdir(p):
            with open(os.path.join(p, f), "rb") as fh:
                data = fh.read().replace(b"\r\n", b"\n")
            # mbsync (isync 1.4) marks what it propagates with an X-TUID: header
            data = re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", data, count=1) if data.find(b"\nX-TUID: ") < data.find(b"\n\n") else data
            fl = f.split(":2,", 1)[1] if ":2," in f else ""
            out.append((data, "".join(sorted(x for x in fl if x in "DFRST"))))
    return sorted(out)


def names(d):
    out = []
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        if os.path.isdir(p):
            out += [sub + "/" + f for f in os.listdir(p)]
    return sorted(out)


# the server's messages: three in INBOX, two in Work
c = imap()
typ, _ = c.create("Work")
c.logout()
for i in range(3):
    inst.put(msg("s%d" % i, "zebra crossing" if i == 1 else None))
for i in range(2):
    inst.put(msg("w%d" % i), mailbox="example.test/demo/.Work")

# -- mbsync --
if not shutil.which("mbsync"):
    skip(14, "mbsync (isync) is not installed")
else:
    L = os.path.join(work, "local")
    for box in ("INBOX", "Work"):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(L, box, sub))
    with open(os.path.join(L, "INBOX", "cur", "1700000100.M1P1.local:2,S"), "w") as f:
        f.write(msg("l1"))
    with open(os.path.join(L, "Work", "cur", "1700000101.M1P1.local:2,"), "w") as f:
        f.write(msg("l2"))

    def rcfile(path, p, local, tls=False):
        with open(path, "w") as f:
            f.write("IMAPAccount tern\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\n" % (p, USER, PASS))
            f.write("SSLType IMAPS\nCertificateFile %s\n" % inst.crt if tls else "SSLType None\n")
            f.write("AuthMechs LOGIN\n\nIMAPStore far\nAccount tern\n\n"
                    "MaildirStore near\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                    "Channel sync\nFar :far:\nNear :near:\nPatterns INBOX Work\nCreate Both\nExpunge Both\nSyncState *\n" % (local, local))
        return path

    RC = rcfile(os.path.join(work, "mbsyncrc"), port, L)

    def mbsync(rc=RC):
        """(exit code, output, the commands mbsync sent)"""
        code, out = run(["mbsync", "-V", "-Dn", "-c", rc, "-a"])
        return code, out, [ln[4:] for ln in out.splitlines() if ln.startswith(">>> ")]

    def trees():
        return {"INBOX": maildir_tree(MD), "Work": maildir_tree(os.path.join(MD, ".Work"))}, \
               {"INBOX": maildir_tree(os.path.join(L, "INBOX")), "Work": maildir_tree(os.path.join(L, "Work"))}

    def snapshot():
        return (names(MD), names(os.path.join(MD, ".Work")), names(os.path.join(L, "INBOX")), names(os.path.join(L, "Work")))

    rc, out, sent = mbsync()
    t.ok(rc == 0, "mbsync, first run: exit 0", out[-3000:])
    t.ok(any(re.match(r"\d+ COMPRESS DEFLATE$", x) for x in sent),
         "mbsync finds COMPRESS=DEFLATE advertised and uses it (RFC 4978)", [x for x in sent if "COMPRESS" in x or "LOGIN" in x])
    srv, loc = trees()
    t.ok(len(srv["INBOX"]) == 4 and len(srv["Work"]) == 3, "the server has the local messages too (4 in INBOX, 3 in Work)", (len(srv["INBOX"]), len(srv["Work"])))
    t.ok(any(b"<l1@clients.test>" in m for m, _ in srv["INBOX"]) and any(b"<l2@clients.test>" in m for m, _ in srv["Work"])
         and len([x for x in sent if re.match(r"\d+ APPEND ", x)]) == 2,
         "l1 went up to INBOX, l2 to Work (APPEND)", [x for x in sent if x.startswith("APPEND")])
    t.is_(srv, loc, "both trees hold the same messages, byte for byte, with the same flags")
    before = snapshot()
    rc, out2, sent2 = mbsync()
    changing = [x for x in sent2 if re.match(r"(\d+ )?(UID )?(APPEND|STORE|EXPUNGE|COPY|MOVE|CREATE|DELETE|RENAME)\b", x.split(" ", 1)[1] if " " in x else x)]
    t.ok(rc == 0, "mbsync, second run: exit 0", out2[-3000:])
    t.is_(changing, [], "the second run sends no APPEND, STORE, EXPUNGE or CREATE")
    t.is_(snapshot(), before, "and no file changed on either side")
    counts = lambda o: re.findall(r"^(far|near) side: (\d+) messages", o, re.M)
    t.is_(sorted(counts(out2)), sorted([("far", "4"), ("near", "4"), ("far", "3"), ("near", "3")]),
          "mbsync's output counts 4 and 3 messages on both sides")

    # a flag on each side: \Flagged on s0 over IMAP, S on l2's local file
    c = imap()
    c.select("INBOX")
    typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID", "s0@clients.test")
    s0 = data[0].split()[0].decode() if data and data[0] else None
    typ2, _ = c.uid("STORE", s0, "+FLAGS", "(\\Flagged)")
    c.logout()
    t.ok(s0 and typ2 == "OK", "\\Flagged set on s0 over IMAP (UID %s)" % s0)
    l2 = None
    for sub in ("cur", "new"):
        for f in os.listdir(os.path.join(L, "Work", sub)):
            with open(os.path.join(L, "Work", sub, f), "rb") as fh:
                if b"<l2@clients.test>" in fh.read():
                    l2 = os.path.join(L, "Work", sub, f)
    base = os.path.basename(l2).split(":2,")[0]
    os.rename(l2, os.path.join(L, "Work", "cur", base + ":2," + "".join(sorted(set((os.path.basename(l2).split(":2,") + [""])[1] + "S")))))
    rc, out3, sent3 = mbsync()
    t.ok(rc == 0, "mbsync, third run: exit 0", out3[-3000:])
    srv, loc = trees()
    f_s0 = [fl for m, fl in loc["INBOX"] if b"<s0@clients.test>" in m]
    t.is_(f_s0, ["F"], "the server's \\Flagged on s0 is in the local file name (F)")
    c = imap()
    c.select("Work")
    typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID", "l2@clients.test")
    u = data[0].split()[0].decode() if data and data[0] else "0"
    typ, data = c.uid("FETCH", u, "(FLAGS)")
    c.logout()
    t.like(data[0].decode() if data and data[0] else "", r"FLAGS \([^)]*\\Seen", "the local S on l2 is \\Seen on the server")
    t.is_(srv, loc, "both trees are the same again")

    # IMAPS, the certificate checked against CertificateFile, into a fresh local copy
    L2 = os.path.join(work, "local-imaps")
    os.makedirs(L2)
    RC2 = rcfile(os.path.join(work, "mbsyncrc-imaps"), p993, L2, tls=True)
    rc, out4, _ = mbsync(RC2)
    t.ok(rc == 0 and "Connection is now encrypted" in out4, "mbsync over IMAPS with the test certificate: exit 0, encrypted", out4[-3000:])
    t.is_({"INBOX": maildir_tree(os.path.join(L2, "INBOX")), "Work": maildir_tree(os.path.join(L2, "Work"))}, srv,
          "the IMAPS copy is the server's tree")

# -- getmail6 --
if not shutil.which("getmail"):
    skip(2, "getmail6 is not installed")
else:
    c = imap()
    c.select("INBOX", readonly=True)
    typ, data = c.search(None, "ALL")
    n_inbox = len(data[0].split())
    c.logout()
    want = [m for m, _ in maildir_tree(MD)]
    for kind, p, extra in (("SimpleIMAPRetriever", port, ""),
                           ("SimpleIMAPSSLRetriever", p993, "ca_certs = %s\nssl_cert_hostname = mx.example.test\n" % inst.crt)):
        gd = os.path.join(work, "getmail-" + kind)
        dest = os.path.join(gd, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(dest, sub))
        rcf = os.path.join(gd, "getmailrc")
        with open(rcf, "w") as f:
            f.write("[retriever]\ntype = %s\nserver = 127.0.0.1\nport = %d\nusername = %s\npassword = %s\n"
                    "mailboxes = (\"INBOX\",)\nrecord_mailbox = false\n%s\n[destination]\ntype = Maildir\npath = %s/\n\n"
                    "[options]\nread_all = true\ndelete = false\ndelivered_to = false\nreceived = false\n"
                    "message_log_syslog = false\nverbose = 1\n" % (kind, p, USER, PASS, extra, dest))
        # getmail refuses to deliver as root: the test user's directories
        for dp, dn, fn in os.walk(gd):
            os.chown(dp, inst.uid, inst.gid)
            for x in fn:
                os.chown(os.path.join(dp, x), inst.uid, inst.gid)
        rc, out = run(inst.asuser + ["getmail", "--getmaildir", gd, "--rcfile", rcf])
        # getmail writes the envelope sender it does not know as a first line
        got = sorted(re.sub(rb"^Return-Path: <unknown>\n", b"", m) for m, _ in maildir_tree(dest))
        t.ok(rc == 0 and len(got) == n_inbox and got == sorted(want),
             "getmail %s: every INBOX message (%d), whole" % (kind, n_inbox), (rc, out[-3000:], [x for x in got if x not in want][:1], [x for x in want if x not in got][:1]))

# -- curl --
if not shutil.which("curl"):
    skip(12, "curl is not installed")
else:
    c = imap()
    typ, data = c.select("INBOX", readonly=True)
    typ, uv = c.status("INBOX", "(UIDVALIDITY)")
    uidvalidity = re.search(rb"UIDVALIDITY (\d+)", uv[0]).group(1).decode()
    typ, data = c.uid("SEARCH", None, "SUBJECT", "zebra")
    zebra = data[0].decode().split()
    typ, data = c.search(None, "SUBJECT", "zebra")
    zebra_seq = data[0].decode().split()
    typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID", "s2@clients.test")
    s2 = data[0].decode().split()[0]
    typ, data = c.uid("FETCH", s2, "(BODY.PEEK[])")
    s2_bytes = data[0][1]
    c.logout()
    with open([f for f in (os.path.join(MD, s, x) for s in ("new", "cur") for x in os.listdir(os.path.join(MD, s)))
               if b"<s2@clients.test>" in open(f, "rb").read()][0], "rb") as f:
        s2_file = f.read()
    t.is_(s2_bytes, s2_file.replace(b"\n", b"\r\n"), "(imaplib: UID FETCH BODY[] of s2 is its file with CRLF line ends)")
    U = "%s:%s" % (USER, PASS)
    base = "imap://127.0.0.1:%d" % port
    rc, out = run(["curl", "-sS", "-u", U, base + "/"])
    t.ok(rc == 0 and all(re.search(r'^\* LIST \([^)]*\) "\." "?%s"?\r?$' % b, out, re.M) for b in ("INBOX", "Work", "Archive", "Sent")),
         "curl imap://host/ lists the folders", out)
    rc, out = run(["curl", "-sS", "-u", U, base + "/INBOX", "-X", "UID SEARCH SUBJECT zebra"])
    t.ok(rc == 0 and re.search(r"^\* SEARCH %s\r?$" % " ".join(zebra), out, re.M), "curl -X 'UID SEARCH SUBJECT zebra' on INBOX: * SEARCH %s" % " ".join(zebra), out)
    rc, out = run(["curl", "-sS", "-u", U, base + "/INBOX?SUBJECT%20zebra"])
    t.ok(rc == 0 and re.search(r"^\* SEARCH %s\r?$" % " ".join(zebra_seq), out, re.M), "curl imap://host/INBOX?SUBJECT%%20zebra: * SEARCH %s" % " ".join(zebra_seq), out)
    rc, out = run(["curl", "-sS", "-u", U, base + "/INBOX;UID=%s" % s2])
    t.ok(rc == 0 and out.encode() == s2_file.replace(b"\n", b"\r\n"), "curl imap://host/INBOX;UID=%s: the message byte for byte" % s2, out)
    rc, out = run(["curl", "-sS", "-u", U, base + "/INBOX;UIDVALIDITY=%s;UID=%s" % (uidvalidity, s2)])
    t.ok(rc == 0 and out.encode() == s2_file.replace(b"\n", b"\r\n"), "curl with ;UIDVALIDITY=%s (checked against SELECT's): the message" % uidvalidity, out)
    rc, out = run(["curl", "-sS", "-u", U, base + "/INBOX;UIDVALIDITY=%d;UID=%s" % (int(uidvalidity) + 1, s2)])
    t.ok(rc != 0, "curl with a wrong ;UIDVALIDITY= fails (exit %d): SELECT's UIDVALIDITY was read" % rc, out)
    rc, out = run(["curl", "-sS", "-u", U, base + "/INBOX;UID=999999"])
    t.ok(rc != 0 or out == "", "curl ;UID=999999 (no such message) gets nothing (exit %d)" % rc, out)
    rc, out = run(["curl", "-sS", "-u", "%s:wrong" % USER, base + "/"])
    t.ok(rc != 0, "curl with a wrong password fails (exit %d)" % rc, out)
    # TLS: STARTTLS with --ssl-reqd, IMAPS; -k as the certificate is self-signed
    rc, out = run(["curl", "-sS", "-u", U, "imap://127.0.0.1:%d/INBOX;UID=%s" % (pstls, s2)])
    t.ok(rc != 0, "curl without TLS where logins need it: refused (exit %d)" % rc, out)
    rc, out = run(["curl", "-sS", "--ssl-reqd", "-k", "-u", U, "imap://127.0.0.1:%d/INBOX;UID=%s" % (pstls, s2)])
    t.ok(rc == 0 and out.encode() == s2_file.replace(b"\n", b"\r\n"), "curl --ssl-reqd -k (STARTTLS): the message byte for byte", out)
    rc, out = run(["curl", "-sS", "--ssl-reqd", "-k", "-u", U, "imap://127.0.0.1:%d/INBOX" % pstls, "-X", "UID SEARCH SUBJECT zebra"])
    t.ok(rc == 0 and re.search(r"^\* SEARCH %s\r?$" % " ".join(zebra), out, re.M), "curl --ssl-reqd -k -X 'UID SEARCH SUBJECT zebra'", out)
    rc, out = run(["curl", "-sS", "-k", "-u", U, "imaps://127.0.0.1:%d/INBOX;UID=%s" % (p993, s2)])
    t.ok(rc == 0 and out.encode() == s2_file.replace(b"\n", b"\r\n"), "curl -k imaps://: the message byte for byte", out)
    rc, out = run(["curl", "-sS", "--cacert", inst.crt, "--resolve", "mx.example.test:%d:127.0.0.1" % p993, "-u", U,
                   "imaps://mx.example.test:%d/" % p993])
    t.ok(rc == 0 and re.search(r'^\* LIST .* "?Work"?\r?$', out, re.M), "curl imaps:// with the certificate verified (--cacert): the folder list", out)

rc, out = inst.check()
t.ok(rc == 0, "mailbox-check says ok after the clients", out)
t.done()
