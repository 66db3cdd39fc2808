#!/usr/bin/python3
# 3901: a 250 after DATA means the message is on disk. One transaction on
# the whole stack, traced with strace -f -ttt on both smtp-recv (under its
# tcpserver) and the queue-store server (under s6-ipcserverd): the message
# file's fsync, its rename into incoming/ and the fsync of incoming/ all
# come before smtp-recv writes the 250.
import os, re, shutil, smtplib, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlib

t = ternlib.TAP()
if not shutil.which("strace"):
    t.skip_all("strace is not installed")
if os.geteuid() != 0:
    t.skip_all("attaching strace to the services needs root")
# LeakSanitizer (in SANITIZE=1 builds) cannot run under ptrace
stack = ternlib.FullStack(t, env={"ASAN_OPTIONS": "detect_leaks=0"})

def svc_pid(name):
    r = subprocess.run(["s6-svstat", "-p", stack.path("service", name)], stdout=subprocess.PIPE)
    return int(r.stdout.decode().strip())

trace = stack.path("strace.out")
st = subprocess.Popen(["strace", "-f", "-ttt", "-s", "200", "-o", trace,
                       "-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2,write,writev",
                       "-p", str(svc_pid("smtp")), "-p", str(svc_pid("queue-smtp"))],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
time.sleep(1.5)  # strace attaches
s = smtplib.SMTP("127.0.0.1", stack.smtp_port, timeout=30)
code, _ = s.sendmail("trace@sender.test", ["demo@example.test"], b"Subject: traced\r\n\r\nfsync me\r\n") or (250, b"")
s.quit()
time.sleep(0.5)
st.terminate()
st.wait(timeout=10)

lines = open(trace, errors="replace").read().splitlines()
ev = []  # (time, pid, text)
for l in lines:
    m = re.match(r"(\d+)\s+(\d+\.\d+)\s+(.*)", l)
    if m:
        ev.append((float(m.group(2)), int(m.group(1)), m.group(3)))
ev.sort()

def first(pred, after=0.0):
    for e in ev:
        if e[0] >= after and pred(e):
            return e
    return None

tmpopen = first(lambda e: re.search(r'openat\(.*"[^"]*/queue/tmp/[^"]+", O_WRONLY\|O_CREAT\|O_EXCL', e[2]) and re.search(r"= \d+$", e[2]))
t.ok(tmpopen is not None, "queue-store creates the message file in queue/tmp with O_EXCL", "\n".join(lines[-40:]))
if tmpopen:
    qpid = tmpopen[1]
    fd = re.search(r"= (\d+)$", tmpopen[2]).group(1)
    name = re.search(r'/queue/tmp/([^"]+)"', tmpopen[2]).group(1)
    fs = first(lambda e: e[1] == qpid and re.match(r"(fsync|fdatasync)\(%s\)\s+= 0" % fd, e[2]), tmpopen[0])
    rn = first(lambda e: e[1] == qpid and "rename" in e[2] and "/tmp/" + name in e[2] and "/incoming/" + name in e[2] and e[2].endswith("= 0"), tmpopen[0])
    dop = first(lambda e: e[1] == qpid and re.search(r'openat\(.*"[^"]*/queue/incoming", O_RDONLY[^)]*O_DIRECTORY', e[2]), rn[0] if rn else 0)
    dfd = re.search(r"= (\d+)$", dop[2]).group(1) if dop else None
    dfs = first(lambda e: e[1] == qpid and re.match(r"fsync\(%s\)\s+= 0" % dfd, e[2]), dop[0]) if dop else None
    ok250 = first(lambda e: e[1] != qpid and re.match(r'(write|writev)\(1, .*250 2\.0\.0 ', e[2]), tmpopen[0])
    t.ok(fs is not None, "the message file is fsynced")
    t.ok(rn is not None, "then renamed from tmp/ into incoming/")
    t.ok(dfs is not None, "then incoming/ is fsynced")
    t.ok(ok250 is not None, "smtp-recv writes the 250")
    if fs and rn and dfs and ok250:
        t.ok(fs[0] <= rn[0] <= dfs[0] <= ok250[0],
             "order: file fsync %.6f <= rename %.6f <= directory fsync %.6f <= 250 %.6f" % (fs[0], rn[0], dfs[0], ok250[0]))
    else:
        t.ok(False, "the whole sequence was traced", "\n".join(e[2] for e in ev[-60:]))
t.done()
