/* tern.h: the shared code of tern (libtern.a), one exported function a file. */

#ifndef TERN_H
#define TERN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <skalibs/stralloc.h>
#include <skalibs/cdb.h>
#include <skalibs/tai.h>

/* ---- where things are ---- */

extern char const *tern_root (void) ;                 /* $TERN_ROOT or the compiled-in default */
extern char const *tern_libexec (void) ;              /* $TERN_LIBEXEC or the compiled-in default */
extern int tern_direct (void) ;                       /* $TERN_DIRECT set and non-empty */
extern int tern_path (stralloc *, char const *, char const *) ; /* sa = dir "/" name, NUL-terminated */

/* ---- configuration ---- */

/* Reads a decimal number from the environment; 0 if malformed (errno EINVAL). */
extern int tern_env_u64 (char const *, uint64_t *, uint64_t) ;
extern int tern_env_uint (char const *, unsigned int *, unsigned int) ;
/* etc/NAME's lines, comments (#) and blank lines dropped, trimmed, each
   NUL-terminated in sa. Returns 1, or 0 with errno (ENOENT: no file). */
extern int tern_cfg_lines (stralloc *, char const *) ;
/* First line of etc/me, else the host name. */
extern int tern_cfg_me (stralloc *) ;
/* Is the (lowercase) domain one of the NUL-terminated list? */
extern int tern_domain_in (char const *, size_t, char const *, size_t) ;

/* ---- strings ---- */

extern void tern_lower (char *, size_t) ;
extern size_t tern_addr_domain (char const *, size_t) ;   /* index of the last '@', or len */
/* Lowercases the domain of an address (and all of it if lowerlocal). */
extern void tern_addr_canon (char *, size_t, int) ;

/* ---- cdb lookups ---- */

/* Opens etc/NAME.cdb read-only; 0 with errno on failure (ENOENT if none). */
extern int tern_cdb_open (cdb *, char const *) ;
extern int tern_cdb_find (cdb const *, cdb_data *, char const *, size_t) ;

/* ---- processes ---- */

/* posix_spawn with fds: the child gets fds[i] as its fd i, for i < n
   (-1: leave fd i as it is). Returns the pid, or 0 with errno. */
extern pid_t tern_spawn (char const *, char const *const *, char const *const *, int const *, unsigned int) ;

/* ---- the s6-sudo hop (client side of s6-sudoc's protocol) ---- */

typedef struct tern_sudo_s tern_sudo, *tern_sudo_ref ;
struct tern_sudo_s
{
  int sock ;
  unsigned int state ;
  unsigned int got ;
  char buf[16] ;
  int const *fds ;
  char const *const *argv ;
  unsigned int argc ;
} ;
#define TERN_SUDO_ZERO { .sock = -1, .state = 0, .got = 0, .fds = 0, .argv = 0, .argc = 0 }

/* Connects (non-blocking) to the s6-sudod socket at path. The fds (3 of
   them: the server program's 0, 1, 2) and argv must stay valid until done. */
extern int tern_sudo_start (tern_sudo *, char const *, int const *, char const *const *, unsigned int) ;
/* Call when sock is readable: -1 error (errno), 0 not done, 1 done with
   the server program's wait status in *wstat. After 1 or -1 the socket is
   closed. */
extern int tern_sudo_step (tern_sudo *, int *) ;
/* Blocking run with a deadline: 1 with *wstat, or 0 with errno. */
extern int tern_sudo_run (char const *, int const *, char const *const *, unsigned int, tain const *, int *) ;
extern void tern_sudo_abort (tern_sudo *) ;

/* ---- the queue file (doc/internals.md) ---- */

#define TERN_QUEUE_MAGIC "tern-queue-1 "
#define TERN_QUEUE_MAGIC_LEN 13
#define TERN_QUEUE_HDRLEN 24 /* magic + 10 digits + LF */
#define TERN_QUEUE_BODY 4096

typedef struct tern_qwriter_s tern_qwriter, *tern_qwriter_ref ;
struct tern_qwriter_s
{
  int fd ;
  char id[48] ;
  char const *qdir ;
  stralloc tmpname ;
} ;
#define TERN_QWRITER_ZERO { .fd = -1, .id = "", .qdir = 0, .tmpname = STRALLOC_ZERO }

/* Creates qdir/tmp/ID (O_EXCL) positioned at the body offset. */
extern int tern_qwriter_open (tern_qwriter *, char const *) ;
/* Writes the header (records: NUL-terminated, ending with the empty
   record), fsyncs, renames into qdir/incoming/, fsyncs the directory.
   Returns 1, or 0 with errno (the temp file is removed). */
extern int tern_qwriter_commit (tern_qwriter *, char const *, size_t) ;
extern void tern_qwriter_abort (tern_qwriter *) ;
/* Wakes queue-run through qdir/trigger, best effort. */
extern void tern_queue_wake (char const *) ;

/* Reads the header of an open queue file: sa gets the records (NUL-terminated,
   the final empty record included), *bodyoff the message's offset. */
extern int tern_qfile_header (int, stralloc *, uint32_t *) ;

/* ---- dates and names ---- */

/* RFC 5322 date-time of the given time, local zone: "Sat, 22 Nov 2026 10:00:00 +0000". */
extern size_t tern_date822 (char *, time_t) ;
#define TERN_DATE822_LEN 40
/* A Message-ID: "<unique@me>" appended to sa. */
extern int tern_msgid (stralloc *, char const *) ;

#endif
