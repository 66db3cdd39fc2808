#!/bin/sh
# 0001: every program has a man page that mandoc finds clean, and a line
# in the README; every man page is listed in the README or tern(7).
cd "$(dirname "$0")/.." || exit 1
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
for m in man/*.[0-9]; do
  out=$(mandoc -Tlint -Wwarning "$m" 2>&1); r=$?
  [ -n "$out" ] && echo "$out" | sed 's/^/# /'
  ok $r "mandoc -Tlint is clean on $m"
done
progs=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory print-programs)
for p in $progs tern-setup tern-up; do
  ls man/"$p".[0-9] >/dev/null 2>&1; ok $? "$p has a man page"
  grep -q "^| \`$p\` |" README.md; ok $? "$p has a line in the README"
done
echo "1..$n"
exit $fail
