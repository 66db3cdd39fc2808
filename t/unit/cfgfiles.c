/* unit test: tern_addr_sane, tern_atomic_open/commit, tern_lockfile, tern_quota_get */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <skalibs/djbunix.h>
#include "tern.h"
#include "tap.h"

static void sane (char const *s, int want, char const *name)
{
  tap_ok(tern_addr_sane(s, strlen(s)) == want, name) ;
}

static char const *readall (char const *path)
{
  static stralloc sa = STRALLOC_ZERO ;
  sa.len = 0 ;
  if (!openslurpclose(&sa, path) || !stralloc_0(&sa)) return "(unreadable)" ;
  return sa.s ;
}

int main (void)
{
  char dir[] = "/tmp/tern-cfgfiles.XXXXXX" ;
  stralloc path = STRALLOC_ZERO, tmp = STRALLOC_ZERO ;
  struct stat st ;
  int fd ;

  sane("demo@example.test", 1, "plain address") ;
  sane("first.last+tag@sub.example.test", 1, "dots and plus") ;
  sane("o'hara!x#y$z%w&v*u=t?s^r_q`p{o|n}m~l-k@example.test", 1, "every atext character") ;
  sane("j\xc3\xbcrgen@b\xc3\xbc" "cher.example", 1, "UTF-8 local part and domain") ;
  sane("Demo@EXAMPLE.Test", 1, "any case") ;
  sane("demo", 0, "no domain") ;
  sane("@example.test", 0, "empty local part") ;
  sane("demo@", 0, "empty domain") ;
  sane("a b@example.test", 0, "space") ;
  sane("a:b@example.test", 0, "colon") ;
  sane("a/b@example.test", 0, "slash") ;
  sane("a\tb@example.test", 0, "tab") ;
  sane("a\x7f@example.test", 0, "DEL") ;
  sane(".a@example.test", 0, "leading dot") ;
  sane("a.@example.test", 0, "trailing dot") ;
  sane("a..b@example.test", 0, "double dot") ;
  sane("a@example..test", 0, "double dot in the domain") ;
  sane("a@-x_y.test", 0, "underscore in the domain") ;
  sane("\"a b\"@example.test", 0, "quoted local part") ;
  sane("a@[192.0.2.1]", 0, "domain literal") ;
  sane("a@b@example.test", 0, "two @") ;
  tap_ok(!tern_addr_sane("a@example.test", 0), "empty") ;

  umask(0) ;
  if (!mkdtemp(dir)) { tap_ok(0, "mkdtemp") ; return tap_done() ; }
  tern_path(&path, dir, "file") ;

  fd = tern_atomic_open(&tmp, path.s, 0600) ;
  tap_ok(fd >= 0, "tern_atomic_open creates the temp file") ;
  tap_ok(strlen(tmp.s) == path.len + 4 && !strcmp(tmp.s + path.len, ".tmp"), "named PATH.tmp") ;
  tap_ok(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600, "with exactly the mode asked, whatever the umask") ;
  tap_ok(write(fd, "one\n", 4) == 4, "write") ;
  tap_ok(tern_atomic_commit(fd, tmp.s, path.s), "tern_atomic_commit") ;
  tap_is_str(readall(path.s), "one\n", "PATH has the content") ;
  tap_ok(access(tmp.s, F_OK) < 0 && errno == ENOENT, "the temp file is gone") ;

  fd = open(tmp.s, O_WRONLY | O_CREAT, 0644) ;  /* a stale one, left by a crash */
  if (fd >= 0) { if (write(fd, "stale", 5) < 0) {} close(fd) ; }
  fd = tern_atomic_open(&tmp, path.s, 0644) ;
  tap_ok(fd >= 0, "a stale temp file is replaced") ;
  tap_ok(fstat(fd, &st) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0644, "by an empty one with the new mode") ;
  if (write(fd, "two\n", 4) < 0) {}
  tap_is_str(readall(path.s), "one\n", "PATH is unchanged until the commit") ;
  tap_ok(tern_atomic_commit(fd, tmp.s, path.s) && !strcmp(readall(path.s), "two\n"), "then replaced") ;

  fd = tern_atomic_open(&tmp, path.s, 0600) ;
  {
    stralloc bad = STRALLOC_ZERO ;
    tern_path(&bad, dir, "no/such/dir/file") ;
    tap_ok(!tern_atomic_commit(fd, tmp.s, bad.s) && access(tmp.s, F_OK) < 0, "a failed rename removes the temp file") ;
    stralloc_free(&bad) ;
  }
  tap_is_str(readall(path.s), "two\n", "and leaves PATH as it was") ;

  tern_path(&path, dir, "lock") ;
  fd = tern_lockfile(path.s) ;
  tap_ok(fd >= 0 && stat(path.s, &st) == 0 && (st.st_mode & 07777) == 0600, "tern_lockfile creates a 0600 lock file and locks it") ;
  {
    pid_t pid = fork() ;
    int wstat = 0 ;
    if (!pid)
    {
      int fd2 = open(path.s, O_RDWR) ;
      _exit(fd2 >= 0 && fd_lock(fd2, 1, 1) == 0 ? 0 : 1) ;
    }
    waitpid(pid, &wstat, 0) ;
    tap_ok(WIFEXITED(wstat) && !WEXITSTATUS(wstat), "another process cannot take the lock") ;
  }
  close(fd) ;
  unlink(path.s) ;
  tern_path(&path, dir, "file") ;
  unlink(path.s) ;

  /* tern_quota_get: etc/quota under $TERN_ROOT */
  {
    tern_quota q ;
    tern_path(&path, dir, "etc") ;
    mkdir(path.s, 0755) ;
    setenv("TERN_ROOT", dir, 1) ;
    tap_ok(tern_quota_get("a@example.test", &q) && q.storage == UINT64_MAX && q.messages == UINT64_MAX, "quota: no file, no limits") ;
    tern_path(&path, dir, "etc/quota") ;
    fd = open(path.s, O_WRONLY | O_CREAT | O_TRUNC, 0644) ;
    {
      static char const conf[] = "# c\n*\t100\nA@Example.Test  20 5\nb@example.test - 7\n* 1 1\n" ;
      if (write(fd, conf, sizeof(conf) - 1) != sizeof(conf) - 1) tap_ok(0, "write etc/quota") ;
    }
    close(fd) ;
    tap_ok(tern_quota_get("a@example.test", &q) && q.storage == 20 && q.messages == 5, "quota: the user's line, in any case") ;
    tap_ok(tern_quota_get("b@example.test", &q) && q.storage == UINT64_MAX && q.messages == 7, "quota: - for no storage limit") ;
    tap_ok(tern_quota_get("c@example.test", &q) && q.storage == 100 && q.messages == UINT64_MAX, "quota: the first * line for the others") ;
    static char const *const bad[] = { "a@example.test\n", "a@example.test 1x\n", "a@example.test 1 2 3\n", "a@example.test -1\n", "a@example.test 18446744073709551615\n", 0 } ;
    for (unsigned int i = 0 ; bad[i] ; i++)
    {
      fd = open(path.s, O_WRONLY | O_CREAT | O_TRUNC, 0644) ;
      if (write(fd, bad[i], strlen(bad[i])) != (ssize_t)strlen(bad[i])) tap_ok(0, "write etc/quota") ;
      close(fd) ;
      errno = 0 ;
      tap_ok(!tern_quota_get("z@example.test", &q) && errno == EINVAL, "quota: a line that does not parse is an error, for every user") ;
    }
    unlink(path.s) ;
    tern_path(&path, dir, "etc") ;
    rmdir(path.s) ;
  }
  rmdir(dir) ;
  stralloc_free(&path) ;
  stralloc_free(&tmp) ;
  return tap_done() ;
}
