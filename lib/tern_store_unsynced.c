/* tern_store_unsynced: index commits without an fdatasync, and how a
   system crash after them is noticed.

   A flag change is a rename in the Maildir, which is the truth, and a
   commit in the index, which is a cache of it (DESIGN.md). Syncing that
   commit bounds STORE to one fdatasync at a time under the folder's
   lock, yet a crash that lost it loses nothing the Maildir does not
   have. Without the sync, though, a crash may leave LMDB's meta page on
   the disk without the pages it points to: a damaged index that may not
   look damaged. So before the first such commit the folder gets a
   marker, tern-index/unsynced, holding the kernel's boot id, written and
   fsynced; and a process that finds it from another boot (a crash or a
   reboot since those commits) builds the index again from the Maildir
   and the uidlist, as for any damaged index (MODSEQs start above any
   given before). tern_store_settle syncs the index and removes the
   marker: at close and when a session goes idle, so that a clean
   reboot costs no rebuild. A process killed meanwhile leaves the marker
   with the same boot id: the page cache still has its writes. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/djbunix.h>
#include "tern_store_int.h"

#define UNSYNCED INDEX_DIR "/unsynced"
#define BOOTLEN 36

static char boot[BOOTLEN + 1] ;
static int bootstate ;   /* 0 not read yet, 1 read, -1 unreadable */

/* The kernel's boot id, or 0 when it cannot be read (commits then stay synced) */
char const *tern_store__bootid (void)
{
  if (!bootstate)
  {
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC) ;
    ssize_t n = fd < 0 ? -1 : read(fd, boot, BOOTLEN) ;
    if (fd >= 0) fd_close(fd) ;
    bootstate = n == BOOTLEN ? 1 : -1 ;
    boot[BOOTLEN] = 0 ;
  }
  return bootstate > 0 ? boot : 0 ;
}

/* Under the folder's lock, before a commit without sync: the marker, on
   the disk. 1, or 0 with errno. */
int tern_store__mark (tern_store *st)
{
  int fd, ok ;
  if (!faccessat(st->dirfd, UNSYNCED, F_OK, 0)) return 1 ;
  if (errno != ENOENT || !tern_store__bootid()) return 0 ;
  fd = openat(st->dirfd, UNSYNCED, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) ;
  if (fd < 0) return 0 ;
  ok = write(fd, boot, BOOTLEN) == BOOTLEN && !fsync(fd) ;
  fd_close(fd) ;
  if (!ok) return 0 ;
  fd = openat(st->dirfd, INDEX_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  ok = tern_store__fsync_fd(fd) ;
  fd_close(fd) ;
  if (ok) st->unsynced = 1 ;
  return ok ;
}

/* 1: a marker from another boot (the index may be damaged); 0: none, or
   this boot's; -1 with errno. */
int tern_store__crashed (tern_store *st)
{
  char buf[BOOTLEN + 1] ;
  ssize_t n ;
  int fd = openat(st->dirfd, UNSYNCED, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) return errno == ENOENT ? 0 : -1 ;
  n = read(fd, buf, sizeof(buf)) ;
  fd_close(fd) ;
  if (n < 0) return -1 ;
  return !tern_store__bootid() || n != BOOTLEN || memcmp(buf, boot, BOOTLEN) ;
}

int tern_store_settle (tern_store *st)
{
  int r ;
  if (!st->env || st->dirfd < 0) return 1 ;
  if (faccessat(st->dirfd, UNSYNCED, F_OK, 0) < 0) return errno == ENOENT ;
  if (!tern_store__lock(st)) return 0 ;
  /* under the lock no commit without sync can come between the two */
  r = mdb_env_sync(st->env, 1) ;
  if (!r && unlinkat(st->dirfd, UNSYNCED, 0) < 0 && errno != ENOENT) r = errno ;
  tern_store__unlock(st) ;
  if (r) { errno = r > 0 ? r : tern_store__mdberr(r) ; return 0 ; }
  st->unsynced = 0 ;
  return 1 ;
}
