#!/usr/bin/python3
# The fuzz targets (fuzz/*.c, libFuzzer): each built with ASan and UBSan
# and run for FUZZTIME seconds (15 here) on its seed corpus; one ok each.
import os
import shutil
import subprocess
import sys
sys.path.insert(0, os.path.dirname(__file__))
import ternlib

t = ternlib.TAP()
if not shutil.which("clang"):
    t.skip_all("clang is not installed")
fuzz = os.path.join(ternlib.REPO, "fuzz")
targets = sorted(f[:-2] for f in os.listdir(fuzz) if f.endswith(".c"))
env = dict(os.environ, FUZZTIME=os.environ.get("FUZZTIME", "15"), TERN_BUILD=ternlib.BUILD)
for name in targets:
    r = subprocess.run([os.path.join(fuzz, "run-all"), name], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    out = r.stdout.decode(errors="replace")
    t.ok(r.returncode == 0 and ("ok " + name) in out, "fuzz target %s: no crash" % name, out)
t.done()
