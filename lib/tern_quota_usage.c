/* tern_quota_usage: what every folder of a Maildir++ mailbox holds, for
   the quota (RFC 9208 3.1.1: STORAGE, the sum of RFC822.SIZE; 3.1.2:
   MESSAGE). Each folder's figures come from its index, whose meta holds
   the sum of the sizes it knows: no message file is read. A folder
   without an index (deliver to a mailbox nobody logged into) is counted
   from its file names. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include "tern_store.h"
#include "tern_store_int.h"

/* from the index: the store as it is */
static int from_store (tern_store *st, uint64_t *octets, uint64_t *messages)
{
  tern_store_info in ;
  int ok = tern_store_rbegin(st) && tern_store_info_get(st, &in) ;
  int e = errno ;
  tern_store_rend(st) ;
  if (!ok) return (errno = e, 0) ;
  *octets += in.size ;
  *messages += in.messages ;
  return 1 ;
}

/* from the names of new/ or cur/ (sub): W=, else S=, else the file's size */
static int from_names (int dirfd, char const *sub, uint64_t *octets, uint64_t *messages)
{
  int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  DIR *d ;
  char const *nm ;
  size_t len ;
  if (fd < 0) return errno == ENOENT ;
  d = tern_store__opendir(fd) ;
  if (!d) { fd_close(fd) ; return 0 ; }
  while ((nm = tern_store__nextname(d, &len)))
  {
    uint64_t v = tern_maildir_sizefield(nm, len, 'W') ;
    if (v == TERN_SIZE_UNKNOWN) v = tern_maildir_sizefield(nm, len, 'S') ;
    if (v == TERN_SIZE_UNKNOWN)
    {
      struct stat s ;
      if (fstatat(fd, nm, &s, 0) < 0) continue ;   /* gone meanwhile */
      v = s.st_size ;
    }
    *octets += v ;
    (*messages)++ ;
  }
  {
    int e = errno ;
    closedir(d) ;
    fd_close(fd) ;
    if (e) return (errno = e, 0) ;
  }
  return 1 ;
}

static int folder (char const *dir, uint64_t *octets, uint64_t *messages)
{
  tern_store st = TERN_STORE_ZERO ;
  int fd, ok ;
  if (tern_store_open(&st, dir, 0))
  {
    if (tern_store_sync(&st) < 0) { tern_store_close(&st) ; return 0 ; }
    ok = from_store(&st, octets, messages) ;
    tern_store_close(&st) ;
    return ok ;
  }
  if (errno != ENOENT && errno != EWOULDBLOCK && errno != EILSEQ && errno != EINVAL) return 0 ;
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0) return errno == ENOENT ;   /* deleted meanwhile */
  ok = from_names(fd, "new", octets, messages) && from_names(fd, "cur", octets, messages) ;
  {
    int e = errno ;
    fd_close(fd) ;
    errno = e ;
  }
  return ok ;
}

int tern_quota_usage (char const *root, tern_store *const *open, size_t nopen, uint64_t *octets, uint64_t *messages)
{
  stralloc names = STRALLOC_ZERO, dir = STRALLOC_ZERO ;
  int ok = 0 ;
  *octets = *messages = 0 ;
  if (!tern_folder_list(&names, root)) goto end ;
  for (size_t i = 0 ; i < names.len ; i += strlen(names.s + i) + 1)
  {
    size_t k = 0 ;
    dir.len = 0 ;
    if (!tern_folder_dir(&dir, root, names.s + i, strlen(names.s + i))) goto end ;
    while (k < nopen && (!open[k] || !open[k]->path.len || strcmp(open[k]->path.s, dir.s))) k++ ;
    if (k < nopen) { if (!from_store(open[k], octets, messages)) goto end ; }
    else if (!folder(dir.s, octets, messages)) goto end ;
  }
  ok = 1 ;
 end:
  {
    int e = errno ;
    stralloc_free(&names) ;
    stralloc_free(&dir) ;
    errno = e ;
  }
  return ok ;
}
