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
/* A user's limits (etc/quota, tern-config(5)): storage in KiB, a
   message count, UINT64_MAX for none. 1 (no file or no line: no limits),
   or 0 with errno (EINVAL: a line that does not parse). */
typedef struct tern_quota_s tern_quota, *tern_quota_ref ;
struct tern_quota_s { uint64_t storage ; uint64_t messages ; } ;
extern int tern_quota_get (char const *, tern_quota *) ;
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

/* ---- remote delivery (mxlookup, smtp-send) ---- */

#include <skalibs/ip46.h>

/* An address literal: "[192.0.2.1]", "[IPv6:2001:db8::1]" or "[2001:db8::1]"
   (the whole of s, len octets): 1 with *ip set, or 0. */
extern int tern_addr_literal (char const *, size_t, ip46 *) ;

/* RFC 4648 4 base64 of s (len octets) appended to sa: 1, or 0 (ENOMEM). */
extern int tern_base64_encode (stralloc *, char const *, size_t) ;

/* The 8BITMIME downgrade (RFC 6152 3): reads a message from fd to its end.
   TERN_MIME_SCAN fills flags with one byte per leaf part (1: 8-bit octets
   in its body); TERN_MIME_EMIT writes the message through sink (which
   returns 1, or 0 with errno) with those leaves quoted-printable. Returns
   1, or 0 with errno (a read, sink or allocation failure). */
typedef int tern_mime_sink (void *, char const *, size_t) ;
#define TERN_MIME_SCAN 0
#define TERN_MIME_EMIT 1
extern int tern_mime_7bit (int, stralloc *, unsigned int, tern_mime_sink *, void *) ;

/* ---- end of remote delivery ---- */

/* ---- POP3 and the login monitor (pop3-login, pop3-serve, pwcheck) ---- */

/* Strict RFC 4648 base64 of s (len octets, a multiple of 4) into out
   (room for len / 4 * 3): the decoded length, or -1 if malformed. */
extern ssize_t tern_base64_decode (char *, char const *, size_t) ;

/* A decoded SASL PLAIN message (RFC 4616 2), pointing into it. */
typedef struct tern_sasl_plain_s tern_sasl_plain_t, *tern_sasl_plain_t_ref ;
struct tern_sasl_plain_s
{
  char const *authzid ; size_t authzidlen ;   /* may be empty */
  char const *authcid ; size_t authcidlen ;
  char const *passwd ; size_t passwdlen ;
} ;
/* 1 with p filled, or 0 if malformed (not three parts, empty authcid or passwd). */
extern int tern_sasl_plain (char const *, size_t, tern_sasl_plain_t *) ;

/* Messages on the wire (RFC 1939 3): the line state carried between
   chunks; start with TERN_DOT_BOL. After the last chunk, a state without
   TERN_DOT_BOL means the message did not end with a line end: send CRLF. */
#define TERN_DOT_BOL 0x01
#define TERN_DOT_CR 0x02
/* LF to CRLF and dot-stuffing of s[0..n) into out (room for 2n): the octets written. */
extern size_t tern_dotstuff (char *, char const *, size_t, unsigned int *) ;
/* The octets of s[0..n) with CRLF line ends (no dot-stuffing). */
extern uint64_t tern_crlf_len (char const *, size_t, unsigned int *) ;

/* POP3 UIDL of a Maildir file name (len octets): the unique name, or a
   fixed hash of it when it is not 1 to 70 printable characters. out gets
   TERN_UIDL_MAX + 1 octets at most, NUL-terminated; returns the length. */
#define TERN_UIDL_MAX 70
extern size_t tern_maildir_uidl (char *, char const *, size_t) ;

/* The login monitor (DESIGN.md, pop3-login). The root parent forks the
   pre-auth child, which drops to uid/gid (when the parent is root) and
   runs child(); each time the child has credentials it calls
   tern_login_check, which sends them to the parent as one record over a
   pipe; the parent runs argv (checkpassword prog...) with fds 0 and 1 the
   network, 2, 3 the credentials and $LOGINFD, in an environment built
   from envp. A chain that writes one byte on $LOGINFD owns the session:
   the child exits and the parent waits for the chain. */
#define TERN_LOGIN_USERMAX 255       /* octets of a user name */
#define TERN_LOGIN_PASSMAX 1023      /* octets of a password */
#define TERN_LOGIN_RECMAX (1 + TERN_LOGIN_USERMAX + 1 + TERN_LOGIN_PASSMAX + 1 + TERN_LOGIN_TAGMAX + 1)
#define TERN_LOGIN_FD 4              /* the chain's $LOGINFD */
#define TERN_LOGIN_TLS 0x01          /* record flag: STLS/STARTTLS happened */
#define TERN_LOGIN_TAG 0x02          /* record flag: an IMAP tag follows the password (imap-login) */
#define TERN_LOGIN_TAGMAX 128        /* octets of that tag: the chain gets it in $IMAPLOGINTAG */
/* tern_login_check's verdicts */
#define TERN_LOGIN_REFUSED 1         /* the chain exited 1: -ERR [AUTH] */
#define TERN_LOGIN_TEMP 2            /* it failed otherwise: -ERR [SYS/TEMP] */

typedef struct tern_login_s tern_login, *tern_login_ref ;
struct tern_login_s
{
  int credfd ;      /* child to parent: credentials records */
  int verdictfd ;   /* parent to child: one byte per record */
} ;
typedef int tern_login_child_func (tern_login const *, void *) ;

typedef struct tern_login_cf_s tern_login_cf, *tern_login_cf_ref ;
struct tern_login_cf_s
{
  char const *const *argv ;    /* the chain */
  char const *const *envp ;    /* the parent's environment */
  uid_t uid ;                  /* the child's uid and gid, when the parent is root */
  gid_t gid ;
  unsigned int timeout ;       /* seconds a chain may run before it takes the session over */
  char const *remoteip ;       /* for the logs */
  tern_login_child_func *child ;
  void *data ;
  int checkonly ;              /* check-only mode (section "submission" at the end) */
  int const *tlsfds ;          /* UCSPI-TLS fds (tern_ucspitls_fds), or 0 without tlsd -u */
} ;
/* Runs the whole session; returns the exit code for main. */
extern int tern_login_monitor (tern_login_cf const *) ;
/* In the child: sends user and password (flags: TERN_LOGIN_TLS) and
   waits for the verdict, TERN_LOGIN_REFUSED or TERN_LOGIN_TEMP; when the
   chain took the session over it does not return (the child exits 0).
   The last argument is 0, or in check-only mode room for
   TERN_LOGIN_USERMAX + 1 octets (see the end of this file). */
extern int tern_login_check (tern_login const *, char const *, size_t, char const *, size_t, unsigned int, char *) ;
/* The same with the tag of an IMAP login command (TERN_LOGIN_TAGMAX octets
   at most, IMAP tag characters): the monitor gives it to the chain in
   $IMAPLOGINTAG, so that imap-serve writes the tagged OK itself. */
extern int tern_login_check_tag (tern_login const *, char const *, size_t, char const *, size_t, unsigned int, char const *, size_t) ;

/* ---- end of POP3 and the login monitor ---- */

/* ---- TLS: tlsd's files, and UCSPI-TLS for protocol programs ---- */

#include <skalibs/genalloc.h>

/* One object of a PEM file, as offsets into the stralloc it was read into. */
typedef struct tern_pem_s tern_pem, *tern_pem_ref ;
struct tern_pem_s
{
  size_t name ;   /* its NUL-terminated name: "CERTIFICATE", "PRIVATE KEY"...; "" for a DER file */
  size_t data ;   /* its DER octets */
  size_t len ;
} ;
/* Reads file (at most max octets, else EFBIG): each object of a PEM file
   decoded to DER (BearSSL's decoder), or the whole of a DER file as one
   object named "", appended to sa, with a tern_pem for each in ga.
   Returns 1, or 0 with errno (EINVAL: broken PEM or not DER). The file's
   text is wiped from memory; sa is the caller's to wipe when it holds a key.
   Links BearSSL (tlsd, smtp-send). */
extern int tern_pem_read (char const *, size_t, stralloc *, genalloc *) ;

/* UCSPI-TLS (s6-ucspitlsd's protocol; tlsd -u): the fds from SSLCTLFD,
   SSLREADFD and SSLWRITEFD into fds[0], fds[1], fds[2], each made
   close-on-exec. Returns 1, or 0 with errno: ENOENT when SSLCTLFD is
   unset (no STARTTLS to offer), EINVAL or EBADF when a variable is wrong. */
extern int tern_ucspitls_fds (int *) ;

/* What the TLS engine reports once the handshake is done. */
typedef struct tern_tlsinfo_s tern_tlsinfo, *tern_tlsinfo_ref ;
struct tern_tlsinfo_s
{
  char protocol[16] ;   /* SSL_PROTOCOL: "TLSv1.2" */
  char cipher[64] ;     /* SSL_CIPHER: "ECDHE-RSA-AES128-GCM-SHA256" */
  char sni[256] ;       /* SSL_TLS_SNI_SERVERNAME, "" when the client sent none */
} ;
#define TERN_TLSINFO_ZERO { .protocol = "", .cipher = "", .sni = "" }
/* STARTTLS, STLS: call once the "go ahead" reply (220, +OK) is flushed
   and the input buffer emptied. Writes "Y" on ctl (fds[0] above), reads
   the SSL_* block the engine sends after the handshake, by deadline,
   into info. Returns 1: the caller then reads from fds[1] and writes to
   fds[2] instead of the network, and may close ctl. Or 0 with errno:
   EPIPE (the engine went away: the handshake failed), ETIMEDOUT,
   EPROTO (a malformed block), or a read or write error. */
extern int tern_ucspitls_start (int, tain const *, tern_tlsinfo *) ;

/* ---- end of TLS ---- */

/* ---- TLS client (smtp-send) ---- */

/* Trust anchors from a file of certificates, PEM or DER (at most max
   octets): each certificate BearSSL can decode becomes a
   br_x509_trust_anchor (bearssl_x509.h) appended to ga, its DN and key
   appended to sa. The anchors point into sa: give a fresh sa, and change
   neither afterwards. Returns 1 (maybe with no anchor), or 0 with errno.
   Links BearSSL. */
extern int tern_tls_anchors (char const *, size_t, stralloc *, genalloc *) ;
/* The OpenSSL name of a cipher suite ("ECDHE-RSA-AES128-GCM-SHA256"), or "unknown". */
extern char const *tern_tls_suite_name (unsigned int) ;

/* ---- end of TLS client ---- */

/* ---- submission and STLS (issue 5): smtp-recv -s, pop3-login under tlsd -u ---- */

/* The login monitor's check-only mode (tern_login_cf.checkonly, for
   smtp-recv -s): the session stays in the unprivileged child, which may
   fork (it runs $QUEUE); the monitor lets go of fds 0 and 1 at once and
   runs the chain (argv: checkpassword prog... true) with fds 0 and 1 on
   /dev/null, 3 the credentials, no $LOGINFD, for each record. Exit 0 is
   TERN_LOGIN_OK: tern_login_check then fills its last argument with the
   user the monitor ran the chain for (NUL-terminated), the one identity
   the child may use. */
#define TERN_LOGIN_OK 0

/* tern_smtp_envcmd input flag: MAIL accepts one AUTH=xtext parameter
   (RFC 4954 5), checked and otherwise ignored (as if AUTH=<>). */
#define TERN_ENV_AUTHOK 0x0004

/* ---- end of submission and STLS ---- */

/* ---- mailbox values (deliver, pwcheck) ---- */

/* Whether a mailbox value of users.cdb (len octets) is a relative path
   under mail/: non-empty components, none "." or "..", no NUL. */
extern int tern_mailbox_sane (char const *, size_t) ;

/* ---- end of mailbox values ---- */

/* A process about to wait long gives back its free heap and the stack
   pages below its current frame (tlsd's engine after the handshake,
   imap-serve going idle): memory every idle connection would keep. */
extern void tern_mem_trim (void) ;

/* the 64-bit FNV-1a hash (tern_fnv1a.c) */
extern uint64_t tern_fnv1a (char const *, size_t) ;

#endif
