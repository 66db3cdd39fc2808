/* mailbox-check: compares the mailbox index of each folder of a Maildir
   with the Maildir and its uidlist (tern_store_check), after bringing it
   up to date as a session would (-n: as it is); -r builds the index again
   first. One line per problem on stdout, "folder: ok" otherwise. Run as
   root, it becomes the owner of the Maildir first: index files are never
   root's. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/stat.h>
#include <skalibs/types.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/buffer.h>
#include "tern.h"
#include "tern_store.h"

#define USAGE "mailbox-check [ -n ] [ -r ] maildir [ folder... ]"
#define dieusage() strerr_dieusage(100, USAGE)

static int rmtree (char const *path)
{
  stralloc cmd = STRALLOC_ZERO ;
  /* tern-index/ holds two files and nothing else: no recursion needed */
  char const *files[2] = { "data.mdb", "lock.mdb" } ;
  for (unsigned int i = 0 ; i < 2 ; i++)
  {
    cmd.len = 0 ;
    if (!stralloc_cats(&cmd, path) || !stralloc_cats(&cmd, "/tern-index/") || !stralloc_cats(&cmd, files[i]) || !stralloc_0(&cmd)) return 0 ;
    if (unlink(cmd.s) < 0 && errno != ENOENT) return 0 ;
  }
  cmd.len = 0 ;
  if (!stralloc_cats(&cmd, path) || !stralloc_cats(&cmd, "/tern-index") || !stralloc_0(&cmd)) return 0 ;
  if (rmdir(cmd.s) < 0 && errno != ENOENT) return 0 ;
  stralloc_free(&cmd) ;
  return 1 ;
}

static int check (char const *root, char const *name, int sync, int rebuild)
{
  stralloc dir = STRALLOC_ZERO, rep = STRALLOC_ZERO ;
  tern_store st = TERN_STORE_ZERO ;
  int r ;
  if (!tern_folder_dir(&dir, root, name, strlen(name))) strerr_diefu2sys(111, "find folder ", name) ;
  if (rebuild && !rmtree(dir.s)) strerr_diefu2sys(111, "remove the index of ", name) ;
  if (!tern_store_open(&st, dir.s, rebuild || sync ? TERN_STORE_CREATE : 0))
  {
    if (errno == ENOENT)
    {
      buffer_puts(buffer_1, name) ;
      buffer_putsflush(buffer_1, ": no index\n") ;
      stralloc_free(&dir) ;
      return 1 ;
    }
    strerr_diefu2sys(111, "open the index of ", name) ;
  }
  if (sync && tern_store_sync(&st) < 0) strerr_diefu2sys(111, "bring the index up to date in ", name) ;
  r = tern_store_check(&st, &rep) ;
  if (r < 0) strerr_diefu2sys(111, "check ", name) ;
  for (size_t i = 0 ; i < rep.len ;)
  {
    char *nl = memchr(rep.s + i, '\n', rep.len - i) ;
    size_t j = nl ? (size_t)(nl - rep.s) : rep.len ;
    buffer_puts(buffer_1, name) ;
    buffer_puts(buffer_1, ": ") ;
    buffer_put(buffer_1, rep.s + i, j - i) ;
    buffer_puts(buffer_1, "\n") ;
    i = j + 1 ;
  }
  if (r) { buffer_puts(buffer_1, name) ; buffer_puts(buffer_1, ": ok\n") ; }
  buffer_flush(buffer_1) ;
  tern_store_close(&st) ;
  stralloc_free(&dir) ;
  stralloc_free(&rep) ;
  return r ;
}

int main (int argc, char const *const *argv)
{
  subgetopt l = SUBGETOPT_ZERO ;
  int sync = 1, rebuild = 0, ok = 1 ;
  char const *root ;
  PROG = "mailbox-check" ;
  for (;;)
  {
    int opt = subgetopt_r(argc, argv, "nr", &l) ;
    if (opt == -1) break ;
    switch (opt)
    {
      case 'n' : sync = 0 ; break ;
      case 'r' : rebuild = 1 ; break ;
      default : dieusage() ;
    }
  }
  argc -= l.ind ; argv += l.ind ;
  if (argc < 1) dieusage() ;
  root = argv[0] ;
  if (!geteuid())
  {
    /* the owner's files, the owner's uid */
    struct stat s ;
    if (stat(root, &s) < 0) strerr_diefu2sys(111, "stat ", root) ;
    if (!s.st_uid) strerr_dief(100, root, " belongs to root: refusing to touch its index as root") ;
    if (setgroups(1, &s.st_gid) < 0 || setgid(s.st_gid) < 0 || setuid(s.st_uid) < 0) strerr_diefusys(111, "become the owner of the Maildir") ;
  }
  if (argc > 1)
  {
    for (int i = 1 ; i < argc ; i++) if (!check(root, argv[i], sync, rebuild)) ok = 0 ;
  }
  else
  {
    stralloc names = STRALLOC_ZERO ;
    if (!tern_folder_list(&names, root)) strerr_diefu2sys(111, "list the folders of ", root) ;
    for (size_t i = 0 ; i < names.len ; i += strlen(names.s + i) + 1)
      if (!check(root, names.s + i, sync, rebuild)) ok = 0 ;
    stralloc_free(&names) ;
  }
  return ok ? 0 : 1 ;
}
