#!/bin/sh
# 0002: make install puts the programs, links, service templates and man
# pages under DESTDIR/PREFIX, leaves /usr/sbin/sendmail alone, and the
# installed tern-setup creates an instance from there.
cd "$(dirname "$0")/.." || exit 1
n=0; fail=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
dest=$(mktemp -d /tmp/tern-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
# a separate build tree: the compiled-in paths differ from the test build's
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory install B="$dest/build" \
  PREFIX=/opt/tern DESTDIR="$dest/root" > "$dest/log" 2>&1
ok $? "make install PREFIX=/opt/tern DESTDIR=..."
lx="$dest/root/opt/tern/libexec/tern"
for p in $(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory print-programs) tern-setup tern-up; do
  [ -x "$lx/$p" ]; ok $? "$p installed in PREFIX/libexec/tern"
done
for l in mailq mailuser newaliases tern-sendmail; do
  [ -L "$dest/root/opt/tern/sbin/$l" ]; ok $? "PREFIX/sbin/$l links into libexec"
done
[ ! -e "$dest/root/usr/sbin/sendmail" ]; ok $? "no /usr/sbin/sendmail without make install-sendmail"
[ -f "$dest/root/opt/tern/share/man/man8/smtp-recv.8" ] && [ -f "$dest/root/opt/tern/share/man/man5/tern-config.5" ] \
  && [ -f "$dest/root/opt/tern/share/man/man7/tern.7" ]; ok $? "man pages in sections 5, 7 and 8"
[ -f "$lx/service/smtp/run.in" ]; ok $? "service templates installed"
strings "$lx/queue-add" | grep -q '^/opt/tern/libexec/tern$'; ok $? "the compiled-in libexec directory follows PREFIX"
# the installed tern-setup makes an instance (as root it reuses the tern users)
TERN_LIBEXEC="$lx" "$lx/tern-setup" "$dest/inst" > "$dest/setup.log" 2>&1
ok $? "the installed tern-setup creates an instance"
[ -x "$dest/inst/service/smtp/run" ] && [ -x "$dest/inst/service/queue-run/run" ]; ok $? "with its services"
grep -q "$lx/smtp-recv" "$dest/inst/service/smtp/run"; ok $? "which run the installed programs"
echo "1..$n"
exit $fail
