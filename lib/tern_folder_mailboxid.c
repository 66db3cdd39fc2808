/* tern_folder_mailboxid: a folder's MAILBOXID (RFC 8474 4), kept in the
   folder's directory as tern-mailboxid beside tern-uidlist: RENAME moves
   it with the directory, DELETE removes it, and a folder created again
   gets another. A folder without one (made before, or by another
   program) gets one the first time it is asked: "F" and 22 random
   characters of A-Z a-z 0-9 - _, written to a temporary file, synced,
   then linked to its name, which fails if another process was first,
   whose id is then read: every process sees the same id. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/types.h>
#include <skalibs/random.h>
#include <skalibs/djbunix.h>
#include "tern_store.h"

#define IDFILE "tern-mailboxid"

static char const alpha[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" ;

/* 1 read, 0 none, -1 error (a damaged file: EILSEQ) */
static int readid (int dfd, char *id)
{
  char buf[TERN_MAILBOXID_MAX + 2] ;
  ssize_t r ;
  size_t n = 0 ;
  int fd = openat(dfd, IDFILE, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) return errno == ENOENT ? 0 : -1 ;
  r = read(fd, buf, sizeof(buf)) ;
  fd_close(fd) ;
  if (r < 0) return -1 ;
  while (n < (size_t)r && buf[n] != '\n')
  {
    char c = buf[n] ;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) break ;
    n++ ;
  }
  if (!n || n > TERN_MAILBOXID_MAX || n >= (size_t)r || buf[n] != '\n') return (errno = EILSEQ, -1) ;
  memcpy(id, buf, n) ;
  id[n] = 0 ;
  return 1 ;
}

static int make (int dfd, char *id)
{
  char tmp[sizeof(IDFILE) + 32] ;
  char rnd[22], line[24] ;
  size_t k = sizeof(IDFILE) - 1 ;
  int fd, ok ;
  memcpy(tmp, IDFILE ".", k + 1) ; k++ ;
  k += pid_fmt(tmp + k, getpid()) ;
  memcpy(tmp + k, ".tmp", 5) ;
  random_buf(rnd, sizeof(rnd)) ;
  line[0] = 'F' ;
  for (unsigned int i = 0 ; i < sizeof(rnd) ; i++) line[1 + i] = alpha[(unsigned char)rnd[i] & 63] ;
  line[23] = '\n' ;
  unlinkat(dfd, tmp, 0) ;
  fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) ;
  if (fd < 0) return 0 ;
  ok = write(fd, line, sizeof(line)) == (ssize_t)sizeof(line) && fsync(fd) == 0 ;
  fd_close(fd) ;
  if (ok && linkat(dfd, tmp, dfd, IDFILE, 0) < 0) ok = errno == EEXIST ? 2 : 0 ;
  {
    int e = errno ;
    unlinkat(dfd, tmp, 0) ;
    errno = e ;
  }
  if (!ok) return 0 ;
  if (ok == 2) return readid(dfd, id) > 0 ;   /* another process made it first */
  fsync(dfd) ;
  memcpy(id, line, 23) ;
  id[23] = 0 ;
  return 1 ;
}

int tern_folder_mailboxid (char const *dir, char *id)
{
  int r, dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (dfd < 0) return 0 ;
  r = readid(dfd, id) ;
  if (!r) r = make(dfd, id) ;
  {
    int e = errno ;
    fd_close(dfd) ;
    errno = e ;
  }
  return r > 0 ;
}
