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
  int fd0, fd1, fd2 ;
  unsigned int state ;
  unsigned int got ;
  char buf[16] ;
  char const *const *argv ;
  unsigned int argc ;
} ;
#define TERN_SUDO_ZERO { .sock = -1, .fd0 = -1, .fd1 = -1, .fd2 = -1, .state = 0, .got = 0, .argv = 0, .argc = 0 }

/* Connects to the s6-sudod socket at path, to give the server program fds[0],
   fds[1], fds[2] as its 0, 1, 2 and argv appended to its own. From this call
   on, fds[0] and fds[1] belong to tern_sudo: they are closed once sent (as
   s6-sudoc does) or on failure. argv must stay valid until done. */
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

/* ---- RFC 5322 addresses ---- */

/* Appends the addr-specs of an address-list (To:, Cc:, Bcc: body), each
   NUL-terminated; returns how many, or -1 (errno) on allocation failure. */
extern int tern_addrlist (stralloc *, char const *, size_t) ;

/* ---- dates and names ---- */

/* RFC 5322 date-time of the given time, local zone: "Sat, 22 Nov 2026 10:00:00 +0000". */
extern size_t tern_date822 (char *, time_t) ;
#define TERN_DATE822_LEN 40
/* A Message-ID: "<unique@me>" appended to sa. */
extern int tern_msgid (stralloc *, char const *) ;

/* ---- SMTP command parsing (smtp-recv; RFC 5321, 1870, 3030, 3461, 6531) ---- */

/* The verbs tern_smtp_verb knows; TERN_SMTP_HTTP is an HTTP request line. */
enum tern_smtp_verb_e
{
  TERN_SMTP_UNKNOWN, TERN_SMTP_HELO, TERN_SMTP_EHLO, TERN_SMTP_MAIL, TERN_SMTP_RCPT,
  TERN_SMTP_DATA, TERN_SMTP_BDAT, TERN_SMTP_RSET, TERN_SMTP_NOOP, TERN_SMTP_QUIT,
  TERN_SMTP_VRFY, TERN_SMTP_EXPN, TERN_SMTP_HELP, TERN_SMTP_STARTTLS, TERN_SMTP_AUTH,
  TERN_SMTP_HTTP, TERN_SMTP_NVERBS
} ;
/* The verb of a command line (no CRLF), case-insensitive; *arg is the
   offset of its argument (after the first SP), or len. */
extern unsigned int tern_smtp_verb (char const *, size_t, size_t *) ;

/* tern_smtp_path flags */
#define TERN_PATH_NULLOK 0x01      /* "<>" is accepted (MAIL) */
#define TERN_PATH_POSTMASTER 0x02  /* "<postmaster>" without a domain is accepted (RCPT) */
/* Parses an RFC 5321 4.1.2 Path at the start of s (source route accepted
   and dropped; local part a dot-string or quoted-string, unquoted when it
   need not be quoted; domain, U-labels included, or address literal).
   out (len+1 octets or more) gets the address without brackets,
   NUL-terminated, and *outlen its length; *utf8 is set when it holds
   non-ASCII (always valid UTF-8). Returns the octets consumed, through
   '>', or 0 for a syntax error. */
extern size_t tern_smtp_path (char const *, size_t, unsigned int, char *, size_t *, int *) ;

/* One ESMTP parameter (RFC 5321 4.1.2 esmtp-param), pointing into the line. */
typedef struct tern_esmtp_param_s tern_esmtp_param_t, *tern_esmtp_param_t_ref ;
struct tern_esmtp_param_s
{
  char const *key ;
  size_t keylen ;
  char const *val ;   /* 0 when the parameter has no "=value" */
  size_t vallen ;
  int utf8 ;          /* the value has non-ASCII octets (RFC 6531 3.3) */
} ;
/* From s[*pos]: skips spaces, reads one keyword[=value] and advances *pos.
   Returns 1 (p filled), 0 at the end of the line, -1 on a syntax error. */
extern int tern_esmtp_param (char const *, size_t, size_t *, tern_esmtp_param_t *) ;

/* A parsed MAIL FROM: or RCPT TO: argument. */
typedef struct tern_envcmd_s tern_envcmd, *tern_envcmd_ref ;
struct tern_envcmd_s
{
  size_t addrlen ;
  uint64_t size ;          /* SIZE= (RFC 1870), UINT64_MAX if it overflows */
  unsigned int flags ;     /* TERN_ENV_* below */
  unsigned int notify ;    /* TERN_NOTIFY_* (RFC 3461 4.1) */
  char const *envid ;      /* ENVID= xtext as received (RFC 3461 4.4), in the line */
  size_t envidlen ;
  char const *orcpt ;      /* ORCPT= addr-type;xtext as received (RFC 3461 4.2) */
  size_t orcptlen ;
} ;
/* input flags */
#define TERN_ENV_RCPT 0x0001       /* parse "TO:<path> params" (else "FROM:<path> params") */
#define TERN_ENV_UTF8OK 0x0002     /* the transaction's MAIL had SMTPUTF8 */
/* output flags */
#define TERN_ENV_SIZE 0x0010
#define TERN_ENV_BODY7 0x0020
#define TERN_ENV_BODY8 0x0040
#define TERN_ENV_SMTPUTF8 0x0080
#define TERN_ENV_RETFULL 0x0100
#define TERN_ENV_RETHDRS 0x0200
#define TERN_ENV_UTF8ADDR 0x0400   /* the address has non-ASCII octets */
#define TERN_NOTIFY_NEVER 0x01
#define TERN_NOTIFY_SUCCESS 0x02
#define TERN_NOTIFY_FAILURE 0x04
#define TERN_NOTIFY_DELAY 0x08
/* tern_smtp_envcmd results, and the reply each calls for */
#define TERN_ENVCMD_OK 0
#define TERN_ENVCMD_SYNTAX 1       /* 501 5.5.4: no FROM:/TO: */
#define TERN_ENVCMD_BADPATH 2      /* 501 5.1.7 (MAIL) or 501 5.1.3 (RCPT) */
#define TERN_ENVCMD_BADPARAM 3     /* 501 5.5.4: bad or repeated parameter */
#define TERN_ENVCMD_UNKNOWN 4      /* 555 5.5.4: parameter not recognized (RFC 5321 4.1.1.11) */
#define TERN_ENVCMD_8BIT 5         /* 553 5.6.7: non-ASCII without SMTPUTF8 (RFC 6531 3.5) */
/* Parses the argument of MAIL (after "MAIL ") or RCPT (after "RCPT "):
   out (len+1 octets or more) gets the address. Returns TERN_ENVCMD_*. */
extern int tern_smtp_envcmd (char const *, size_t, unsigned int, tern_envcmd *, char *) ;

/* Parses BDAT's argument (RFC 3030 2: chunk-size [SP "LAST"]): 1, or 0 for bad syntax. */
extern int tern_smtp_bdat (char const *, size_t, uint64_t *, int *) ;

/* ---- end of SMTP command parsing ---- */

/* ---- configuration files (mailuser, newaliases) ---- */

/* Atomic replacement: tern_atomic_open creates PATH.tmp (removing a stale
   one; the caller holds a lock) with exactly mode, returns its fd or -1;
   tern_atomic_commit fsyncs and closes it, renames it over PATH and fsyncs
   the directory: 1, or 0 with errno (PATH unchanged if the rename failed). */
extern int tern_atomic_open (stralloc *, char const *, unsigned int) ;
extern int tern_atomic_commit (int, char const *, char const *) ;
/* Opens (creates, 0600) and locks a lock file, waiting: the fd, or -1. */
extern int tern_lockfile (char const *) ;
/* A plain local@domain (dot-atom local part without '/', domain name). */
extern int tern_addr_sane (char const *, size_t) ;

/* ---- end of configuration files ---- */

#endif
