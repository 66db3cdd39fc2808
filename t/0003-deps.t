#!/usr/bin/python3
# 0003: what the rest of the suite relies on is here. Each check is one
# capability the tests use (not merely a package's name in dpkg), and a
# failure names the Debian package that gives it, so that a machine set
# up without it shows one clear line here instead of obscure failures in
# later files. mk/deps check installs every one of them.
import os
import shutil
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()


def run(argv, timeout=60, **kw):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, **kw)
    except (OSError, subprocess.TimeoutExpired) as e:
        return subprocess.CompletedProcess(argv, 127, str(e).encode())


def check(ok, what, package, out=None):
    """One capability: `what` works, else the package to install."""
    if ok:
        t.ok(True, what)
    else:
        t.ok(False, "%s: missing Debian package %s (apt-get install %s)" % (what, package, package),
             out.decode(errors="replace")[-2000:] if isinstance(out, bytes) else out)


def has(prog):
    return shutil.which(prog) is not None


# -- the programs tern runs under, and its build --
for prog, pkg in (("tcpserver", "ucspi-tcp-ipv6"), ("tcprules", "ucspi-tcp-ipv6"),
                  ("s6-svscan", "s6"), ("s6-sudod", "s6"), ("execlineb", "execline"),
                  ("mandoc", "mandoc"), ("openssl", "openssl"), ("pgrep", "procps"),
                  ("ip", "iproute2"), ("strace", "strace"), ("flock", "util-linux")):
    check(has(prog), "%s is on PATH" % prog, pkg)
for hdr, pkg in (("/usr/include/lmdb.h", "liblmdb-dev"), ("/usr/include/unistr.h", "libunistring-dev"),
                 ("/usr/include/bearssl.h", "libbearssl-dev"), ("/usr/include/zlib.h", "zlib1g-dev"),
                 ("/usr/include/gumbo.h", "libgumbo-dev")):
    check(os.path.exists(hdr), "%s for the build" % hdr, pkg)

# gumbo links statically (imap-serve is a static binary)
check(any(os.path.exists(os.path.join(d, "libgumbo.a")) for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib")),
      "libgumbo.a for the static imap-serve", "libgumbo-dev")

# tcpserver serves IPv6 too (ucspi-tcp, its IPv4-only namesake, conflicts)
r = run(["tcpserver", "-1", "-R", "-H", "::1", "0", "true"], timeout=2)
check(b"::1" not in r.stdout or r.returncode != 111, "tcpserver is the IPv6-capable one", "ucspi-tcp-ipv6", r.stdout)

# -- SMTP clients --
r = run(["swaks", "--version"])
check(r.returncode == 0, "swaks runs", "swaks", r.stdout)
# swaks --support: "=== X supported" or "*** X not available: requires Module"
r = run(["swaks", "--support"])
check(b"=== TLS supported" in r.stdout, "swaks --support: TLS (swaks --tls, --tlsc)", "libnet-ssleay-perl", r.stdout)
check(b"=== Basic AUTH supported" in r.stdout, "swaks --support: Basic AUTH (PLAIN, LOGIN)", "swaks", r.stdout)
r = run(["msmtp", "--version"])
check(r.returncode == 0 and b"TLS/SSL library: GnuTLS" in r.stdout, "msmtp with TLS", "msmtp", r.stdout)

# -- curl: every mail protocol the tests speak with it, with TLS --
r = run(["curl", "-V"])
protos = set()
for ln in r.stdout.decode(errors="replace").splitlines():
    if ln.startswith("Protocols:"):
        protos = set(ln.split()[1:])
for p in ("pop3", "pop3s", "imap", "imaps", "smtp", "smtps"):
    check(p in protos, "curl speaks %s" % p, "curl (and libcurl4)", r.stdout)

# -- POP3 and IMAP clients --
r = run(["fetchmail", "-V"], stdin=subprocess.DEVNULL)
check(b"+SSL" in r.stdout, "fetchmail with SSL", "fetchmail", r.stdout)
r = run(["getmail", "--version"])
check(r.returncode == 0, "getmail (getmail6)", "getmail6", r.stdout)
r = run(["mbsync", "--version"])
check(r.returncode == 0 and b"isync" in r.stdout, "mbsync (isync)", "isync", r.stdout)
r = run(["tmux", "-V"])
check(r.returncode == 0, "tmux (to drive neomutt)", "tmux", r.stdout)
r = run(["neomutt", "-v"])
check(r.returncode == 0 and b"+imap" in r.stdout and b"+ssl" in r.stdout.lower().replace(b"+gnutls", b"+ssl"),
      "neomutt with IMAP and TLS", "neomutt", r.stdout)

# -- TLS peers --
r = run(["gnutls-cli", "--version"])
check(r.returncode == 0, "gnutls-cli", "gnutls-bin", r.stdout)
check(has("stunnel4") or has("stunnel"), "stunnel", "stunnel4")
check(os.path.exists("/etc/ssl/certs/ca-certificates.crt"), "the system CA bundle", "ca-certificates")

# -- python3 (Debian's, which the tests name) and its modules --
r = run(["/usr/bin/python3", "-c", "import dnslib, imaplib, poplib, smtplib, ssl; print(ssl.OPENSSL_VERSION)"])
check(r.returncode == 0, "/usr/bin/python3 imports dnslib, imaplib, poplib, smtplib, ssl", "python3-dnslib", r.stdout)

# -- peers and tools of particular tests --
check(has("smtp-sink") or os.path.exists("/usr/sbin/smtp-sink"), "Postfix's smtp-sink", "postfix")
check(os.path.exists("/usr/lib/dovecot/libdovecot.so.0") or os.path.exists("/usr/lib/dovecot/libdovecot.so"),
      "libdovecot, which imaptest links", "dovecot-core")
check(os.path.isdir("/usr/include/dovecot"), "Dovecot's headers, to build imaptest", "dovecot-dev")
for prog, pkg in (("autoreconf", "autoconf"), ("automake", "automake"), ("libtoolize", "libtool"),
                  ("pkg-config", "pkg-config")):
    check(has(prog), "%s, to build imaptest" % prog, pkg)

# clang and its libFuzzer and sanitizer runtimes: the fuzz targets
with tempfile.TemporaryDirectory() as d:
    src = os.path.join(d, "f.c")
    with open(src, "w") as f:
        f.write("#include <stddef.h>\n#include <stdint.h>\n"
                "int LLVMFuzzerTestOneInput (uint8_t const *d, size_t n) { return 0 ; }\n")
    r = run(["clang", "-fsanitize=fuzzer,address,undefined", "-o", os.path.join(d, "f"), src])
    check(r.returncode == 0, "clang builds a libFuzzer target with ASan and UBSan",
          "clang and libclang-rt-14-dev", r.stdout)

t.done()
