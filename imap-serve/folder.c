/* folder.c: mailbox names from the client to folders of the Maildir.
   Names are modified UTF-7 on the wire (RFC 3501 5.1.3) as on the disk;
   tern_folder_dir refuses what could leave the Maildir or cannot be a
   folder. */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"

int mailbox_arg (tern_imap_p *p, stralloc *sa)
{
  size_t start = sa->len ;
  if (!tern_imap_p_astring(p, sa)) return 0 ;
  tern_folder_canon(sa->s + start, sa->len - start) ;
  return 1 ;
}

int folder_dir (stralloc *sa, char const *name, size_t len)
{
  if (tern_folder_dir(sa, S.root, name, len)) return 1 ;
  if (errno == EINVAL) o_tagged("NO [CANNOT] Invalid mailbox name") ;
  else o_nosys("find the mailbox") ;
  return 0 ;
}

int folder_exists (char const *name, size_t len)
{
  stralloc sa = STRALLOC_ZERO ;
  struct stat s ;
  int r = 0 ;
  if (tern_folder_dir(&sa, S.root, name, len)) r = stat(sa.s, &s) == 0 && S_ISDIR(s.st_mode) ;
  stralloc_free(&sa) ;
  return r ;
}

int folder_open (tern_store *st, char const *name, size_t len)
{
  stralloc sa = STRALLOC_ZERO ;
  struct stat s ;
  if (!folder_dir(&sa, name, len)) return 0 ;
  if (stat(sa.s, &s) < 0 || !S_ISDIR(s.st_mode))
  {
    stralloc_free(&sa) ;
    o_tagged("NO [TRYCREATE] No such mailbox") ;
    return 0 ;
  }
  if (!tern_store_open(st, sa.s, TERN_STORE_CREATE))
  {
    int e = errno ;
    stralloc_free(&sa) ;
    *st = (tern_store)TERN_STORE_ZERO ;
    errno = e ;
    if (e == ENOENT) o_tagged("NO [TRYCREATE] No such mailbox") ;
    else o_nosys("open the mailbox") ;
    return 0 ;
  }
  stralloc_free(&sa) ;
  if (tern_store_sync(st) < 0) strerr_warnwu2sys("bring the index up to date in ", st->path.s) ;
  return 1 ;
}
