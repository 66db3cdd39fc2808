/* tern_store.h: the mailbox store (DESIGN.md, "The mailbox store"),
   shared by imap-serve, pop3-serve, deliver and mailbox-check.

   The truth is on the disk in Maildir++ form: one file per message in
   new/ or cur/, its standard flags and keywords in its name (":2,"
   then DFPRST in ASCII order, then keyword letters a-z as tern-keywords
   maps them), and tern-uidlist, the append-only list of UIDs. Beside it,
   in tern-index/, an LMDB environment that caches all of it, plus what
   is costly to learn again: sizes, dates, ENVELOPE and BODYSTRUCTURE,
   MODSEQs and the change log. doc/internals.md describes the files.

   Writers of a folder (sessions, deliver, pop3-serve) take its lock, an
   flock(2) on the folder's directory, then one short LMDB write
   transaction: the lock orders the changes to the directories, the
   uidlist and the index as one. Readers take LMDB read transactions and
   no lock. A cache entry (ENVELOPE, sizes) is written without the lock:
   it changes nothing any other process must see in order. */

#ifndef TERN_STORE_H
#define TERN_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <lmdb.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>

/* ---- message flags: the index's bits, the Maildir letters ---- */

#define TERN_F_DRAFT 0x01       /* D  \Draft */
#define TERN_F_FLAGGED 0x02     /* F  \Flagged */
#define TERN_F_PASSED 0x04      /* P  (no IMAP flag: kept as found) */
#define TERN_F_ANSWERED 0x08    /* R  \Answered */
#define TERN_F_SEEN 0x10        /* S  \Seen */
#define TERN_F_DELETED 0x20     /* T  \Deleted */
#define TERN_F_IMAP (TERN_F_DRAFT | TERN_F_FLAGGED | TERN_F_ANSWERED | TERN_F_SEEN | TERN_F_DELETED)
#define TERN_KW_MAX 26          /* keywords a folder can hold: the letters a-z */
#define TERN_SIZE_UNKNOWN UINT64_MAX

/* A message as the index holds it. name points into the index (valid
   until the read transaction ends). */
typedef struct tern_msg_s tern_msg, *tern_msg_ref ;
struct tern_msg_s
{
  uint32_t uid ;
  uint32_t flags ;        /* TERN_F_* */
  uint32_t keywords ;     /* bit i: keyword i of the folder */
  unsigned int incur ;    /* in cur/ (else new/) */
  uint64_t modseq ;
  int64_t internaldate ;  /* seconds since the epoch: the file's mtime when it was indexed */
  int64_t savedate ;      /* when it came into this folder (RFC 8514) */
  uint64_t size ;         /* RFC822.SIZE, octets as sent (CRLF), or TERN_SIZE_UNKNOWN */
  uint64_t filesize ;     /* octets on the disk */
  char const *name ;      /* its file name in new/ or cur/ */
  size_t namelen ;
} ;

/* A folder's figures (STATUS, SELECT). */
typedef struct tern_store_info_s tern_store_info, *tern_store_info_ref ;
struct tern_store_info_s
{
  uint32_t uidvalidity ;
  uint32_t uidnext ;
  uint64_t highestmodseq ;
  uint32_t messages ;
  uint32_t unseen ;
  uint32_t deleted ;
  uint32_t recent ;       /* UIDs from here up have not been claimed as \Recent yet */
  uint32_t firstunseen ;  /* UID of the first message without \Seen, 0 if none */
  uint64_t size ;         /* the sum of RFC822.SIZE, as far as known */
  uint64_t unsized ;      /* octets on the disk of the messages whose RFC822.SIZE is not known
                             (each as sent is at most twice that); UINT64_MAX: an old index
                             that does not say, until its next write */
  uint64_t oldestmodseq ; /* the change log has every expunge after this MODSEQ */
  unsigned int nkeywords ;
} ;

/* ---- an open folder ---- */

typedef struct tern_store_s tern_store, *tern_store_ref ;
struct tern_store_s
{
  int dirfd ;             /* the folder's directory (its flock is the folder's lock) */
  int newfd, curfd ;      /* new/ and cur/ */
  stralloc path ;         /* the folder's path, NUL-terminated */
  MDB_env *env ;
  MDB_dbi dmeta, dmsg, dname, dseq, dunseen, dnew, dchg, dexp, dcache ;
  MDB_dbi dfts ;          /* the search index (tern_fts.h), once hasfts */
  int hasfts ;
  MDB_dbi dftx ;          /* its stored texts, once hasftx */
  int hasftx ;
  MDB_txn *rtxn ;         /* the read transaction, while one is open */
  int rtxnlive ;
  uint32_t uidvalidity ;
  unsigned int flags ;    /* TERN_STORE_* of the open */
  int ino ;               /* inotify fd (tern_store_watch), or -1 */
  int wnew, wcur ;        /* its watches */
  int evdirty ;           /* an event queue overflow: rescan both */
  int evprimed ;          /* the mtimes were checked after the watches: events from now on */
  stralloc evnames ;      /* pending event names: dir octet ('n' or 'c' for an arrival, 'N' or 'C' a departure), name, NUL */
  stralloc kw ;           /* keyword names, each NUL-terminated, in index order */
  unsigned int nkw ;
  stralloc scratch ;
  int locked ;
  int unsynced ;          /* this process committed without sync since the last settle (tern_store_unsynced.c) */
} ;
#define TERN_STORE_ZERO { .dirfd = -1, .newfd = -1, .curfd = -1, .path = STRALLOC_ZERO, .env = 0, .hasfts = 0, .hasftx = 0, .rtxn = 0, .rtxnlive = 0, .uidvalidity = 0, .flags = 0, .ino = -1, .wnew = -1, .wcur = -1, .evdirty = 0, .evprimed = 0, .evnames = STRALLOC_ZERO, .kw = STRALLOC_ZERO, .nkw = 0, .scratch = STRALLOC_ZERO, .locked = 0, .unsynced = 0 }

/* tern_store_open flags */
#define TERN_STORE_CREATE 0x01  /* make the index when there is none (else ENOENT) */
#define TERN_STORE_NOWAIT 0x02  /* deliver: give up (EWOULDBLOCK) rather than wait long for the lock */

/* Opens the folder at path (a Maildir++ folder: cur/ new/ tmp/) and
   its index, building the index from the Maildir and the uidlist when
   it is missing or damaged, and bringing it up to date with them. 1, or
   0 with errno. Refuses to run as root (EPERM): files are the owner's. */
extern int tern_store_open (tern_store *, char const *, unsigned int) ;
extern void tern_store_close (tern_store *) ;
/* The index's commits made without an fdatasync (flag changes) synced,
   and the folder's marker of them removed (tern_store_unsynced.c): a
   session calls it when it goes idle; tern_store_close does. 1, or 0
   with errno. */
extern int tern_store_settle (tern_store *) ;
/* For a session going idle: the index's pages this process mapped are
   unmapped (not dropped from the page cache), so that an idle session
   counts none of them; the next read maps them again. */
extern void tern_store_unmap_pages (tern_store *) ;

/* Brings the index up to date with the Maildir: the uidlist's new lines,
   the directories whose mtime changed (or changed within the last
   second), and, once tern_store_watch was called, the inotify events.
   Returns 1 (something changed), 0 (nothing did) or -1 with errno. */
extern int tern_store_sync (tern_store *) ;
/* Starts watching new/ and cur/: returns the inotify fd to wait on (the
   caller then calls tern_store_sync when it is readable), or -1 with
   errno (the caller then polls with tern_store_sync every few seconds). */
extern int tern_store_watch (tern_store *) ;

/* ---- reading: inside a read transaction, short ---- */

extern int tern_store_rbegin (tern_store *) ;        /* 1, or 0 with errno */
extern void tern_store_rend (tern_store *) ;
extern int tern_store_info_get (tern_store *, tern_store_info *) ;
/* 1 found, 0 no such UID, -1 error */
extern int tern_store_get (tern_store *, uint32_t, tern_msg *) ;
/* Every UID in order, appended to ga (uint32_t); or given to f as runs
   of consecutive UIDs, f(data, first, last), in order (a session's view,
   built without a copy of them all: a chunk of the index without gaps
   is one call). */
extern int tern_store_uids (tern_store *, genalloc *) ;
typedef void tern_store_runs_func (void *, uint32_t, uint32_t) ;
extern int tern_store_uid_runs (tern_store *, tern_store_runs_func *, void *) ;
/* Iteration by UID from uid up: tern_store_next fills m with the next
   message (1), or says there is none (0), or -1. */
typedef struct tern_store_iter_s tern_store_iter, *tern_store_iter_ref ;
struct tern_store_iter_s { MDB_cursor *c ; int started ; uint32_t from ; } ;
extern int tern_store_iter_start (tern_store *, tern_store_iter *, uint32_t) ;
extern int tern_store_next (tern_store_iter *, tern_msg *) ;
extern void tern_store_iter_end (tern_store_iter *) ;
/* The changes after modseq, in MODSEQ order: f(data, modseq, uid,
   expunged) for each, stopping when f returns 0. 1, or 0 with errno. */
typedef int tern_store_change_func (void *, uint64_t, uint32_t, int) ;
extern int tern_store_changes (tern_store *, uint64_t, tern_store_change_func *, void *) ;
/* Keyword i's name (from the store, NUL-terminated), or 0. */
extern char const *tern_store_keyword_name (tern_store const *, unsigned int) ;
/* Reads tern-keywords again (another process may have added some). */
extern int tern_store_keywords_load (tern_store *) ;
/* The index of a keyword (case-insensitive, RFC 3501 2.3.2), -1 if none. */
extern int tern_store_keyword_find (tern_store const *, char const *, size_t) ;

/* The cache of what the message file says (ENVELOPE, BODYSTRUCTURE,
   decoded headers for SEARCH...): the entry of a UID, a series of
   fields, each a type octet, a length (4 octets, little-endian) and the
   data. tern_store_cache_get: 1 with the entry (valid in the read
   transaction), 0 none yet, -1 error. */
#define TERN_C_ENVELOPE 'E'
#define TERN_C_BODY 'b'
#define TERN_C_BODYSTRUCTURE 'B'
#define TERN_C_HDRSIZE 'h'      /* 8 octets: the header's size as sent */
#define TERN_C_SUBJECT 'S'      /* decoded to UTF-8, for SEARCH */
#define TERN_C_FROM 'F'
#define TERN_C_TO 'T'
#define TERN_C_CC 'C'
#define TERN_C_BCC 'c'
#define TERN_C_DATE 'D'         /* 8 octets, the Date: field in seconds (or absent) */
#define TERN_C_REFERENCES 'R'   /* the References: field as in the message, empty if none (THREAD) */
#define TERN_C_PREVIEW 'P'      /* PREVIEW (RFC 8970): tern_mime_preview's text, empty if none */
extern int tern_store_cache_get (tern_store *, uint32_t, char const **, size_t *) ;
/* One field of an entry: 1 with *data and *len, or 0. */
extern int tern_store_cache_field (char const *, size_t, char, char const **, size_t *) ;
/* Queues an entry (and a size learnt) to write; written by
   tern_store_cache_flush, which the caller calls at the end of its
   command (and which is called every 256 entries). Outside a read
   transaction. 1, or 0 with errno. */
extern int tern_store_cache_put (tern_store *, uint32_t, char const *, size_t, uint64_t) ;
extern int tern_store_cache_flush (tern_store *) ;

/* ---- writing: each takes the lock and one transaction ---- */

/* tern_store_setflags op */
#define TERN_STORE_SET 0
#define TERN_STORE_ADD 1
#define TERN_STORE_REMOVE 2
/* Changes the flags and keywords of uids[0..n) (sorted): the files are
   renamed, then the index says so. Unless unchangedsince is UINT64_MAX,
   a message whose MODSEQ is over it (any message, when it is 0) is left
   alone and its UID appended to failed (uint32_t: RFC 7162 3.1.3). Messages that changed get the new
   MODSEQ (*modseq) and their UIDs appended to changed; messages gone
   meanwhile are skipped. 1, or 0 with errno. */
extern int tern_store_setflags (tern_store *, uint32_t const *, size_t, unsigned int, uint32_t, uint32_t, uint64_t, genalloc *, genalloc *, uint64_t *) ;
/* The index of a keyword, creating it if create is set and there is
   room: >= 0, or -1 (errno ENOSPC: no room, EINVAL: bad name). */
extern int tern_store_keyword (tern_store *, char const *, size_t, int) ;
/* Removes uids[0..n) (sorted): their files, then their entries; the
   change log keeps their UIDs for VANISHED. 1, or 0 with errno. */
extern int tern_store_expunge (tern_store *, uint32_t const *, size_t) ;
/* The same by file names (pop3-serve): names, each NUL-terminated,
   nnames of them, files already removed by the caller. */
extern int tern_store_expunge_names (tern_store *, char const *, size_t) ;

/* A message to add: a file written and fsynced in the folder's tmp/
   (tmpname), to go into cur/ with flags and keywords; internaldate 0
   means now. uid is set by tern_store_add. */
typedef struct tern_store_new_s tern_store_new, *tern_store_new_ref ;
struct tern_store_new_s
{
  char const *tmpname ;   /* in tmp/ (or in the directory tmpdirfd, on the same file system, when not -1) */
  int tmpdirfd ;
  uint32_t flags ;
  uint32_t keywords ;
  int64_t internaldate ;
  uint64_t size ;         /* as sent, or TERN_SIZE_UNKNOWN */
  uint64_t filesize ;
  uint32_t uid ;
} ;
/* Adds the messages (all, or none: MULTIAPPEND), moving them from tmp/
   into cur/ under new names, fsyncing cur/, the uidlist, the index.
   1, or 0 with errno (their tmp/ files are then still there). */
extern int tern_store_add (tern_store *, tern_store_new *, size_t) ;
/* deliver: a message it linked into new/ under name (and fsynced). */
extern int tern_store_delivered (tern_store *, char const *, uint64_t, uint64_t, int64_t) ;
/* COPY (move 0) or MOVE (move 1) of src's uids[0..n) (sorted) into dst:
   hard links (or renames) into dst's cur/ under new names, then dst's
   index, then (MOVE) src's. newuids[i] gets the new UID of uids[i], 0
   when that message was gone. 1, or 0 with errno. */
extern int tern_store_copy (tern_store *, tern_store *, uint32_t const *, size_t, int, uint32_t *) ;
/* Claims \Recent (RFC 3501 2.3.2) for this session: the UIDs from *from
   (the folder's old mark) up to the folder's UIDNEXT are this session's
   recent messages; the mark moves up. 1, or 0 with errno. */
extern int tern_store_claim_recent (tern_store *, uint32_t *, uint32_t *) ;
/* new/ to cur/ for the messages in new/ (a session that selected the
   folder has seen them; RFC 3501's \Recent stays with the claim). */
extern int tern_store_to_cur (tern_store *) ;

/* ---- checks (mailbox-check) ---- */

/* Compares the index with the Maildir and the uidlist; each problem is
   a line appended to report. Returns 1 when consistent, 0 when not, -1
   with errno when it cannot tell. */
extern int tern_store_check (tern_store *, stralloc *) ;

/* ---- Maildir names ---- */

/* A new unique name for a file of size and vsize (octets as sent)
   appended to sa: "SECONDS.MUSECPpidQn.HOST,S=size,W=vsize" (vsize
   omitted when unknown), NUL-terminated. */
extern int tern_maildir_newname (stralloc *, uint64_t, uint64_t) ;
/* The flags and keywords a file name carries (after ":2,"). */
extern void tern_maildir_flags (char const *, size_t, uint32_t *, uint32_t *) ;
/* The length of the unique part of a file name (up to ':'). */
extern size_t tern_maildir_uniqlen (char const *, size_t) ;
/* ",S=" and ",W=" of the unique part, or TERN_SIZE_UNKNOWN. */
extern uint64_t tern_maildir_sizefield (char const *, size_t, char) ;
/* name's unique part, then ":2," and the letters of flags and keywords
   (unknown uppercase letters of the old name kept), appended to sa,
   NUL-terminated. */
extern int tern_maildir_flagname (stralloc *, char const *, size_t, uint32_t, uint32_t) ;

/* The EMAILID (RFC 8474 5.1) of a message by its file name, into out
   (TERN_EMAILID_MAX + 1 octets), NUL-terminated: its length. A ",I="
   field of the unique name (written by tern_store_copy) gives it; else
   it is made from the unique name. */
#define TERN_EMAILID_MAX 64
extern size_t tern_maildir_emailid (char *, char const *, size_t) ;

/* ---- folders (the Maildir++ root and its .Name directories) ---- */

/* The MAILBOXID (RFC 8474 4) of the folder whose directory is dir, into
   id (TERN_MAILBOXID_MAX + 1 octets), NUL-terminated; made (random, kept
   in its tern-mailboxid) when it has none. 1, or 0 with errno. */
#define TERN_MAILBOXID_MAX 64
extern int tern_folder_mailboxid (char const *, char *) ;

#define TERN_FOLDER_NAMEMAX 250     /* octets of a folder name (mUTF-7), a directory name's room */
/* special-use attributes (RFC 6154) */
#define TERN_USE_ALL 0x01
#define TERN_USE_ARCHIVE 0x02
#define TERN_USE_DRAFTS 0x04
#define TERN_USE_FLAGGED 0x08
#define TERN_USE_JUNK 0x10
#define TERN_USE_SENT 0x20
#define TERN_USE_TRASH 0x40
/* The directory of folder name (mUTF-7, "." the separator, INBOX any
   case) under the Maildir root, appended to sa NUL-terminated: 1, or 0
   with errno EINVAL when the name is not one a folder can have (empty
   levels, "/", control characters, wildcards, not modified UTF-7, too
   long). INBOX is the root itself. */
extern int tern_folder_dir (stralloc *, char const *, char const *, size_t) ;
/* The canonical form of a name: "INBOX" for any case of it, and as the
   first level of a hierarchical name ("inbox.x" is "INBOX.x"). */
extern void tern_folder_canon (char *, size_t) ;
/* Every folder under the root, NUL-terminated names appended to sa
   (INBOX first); 1, or 0 with errno. */
extern int tern_folder_list (stralloc *, char const *) ;
/* Creates folder name (its directory, cur/ new/ tmp/, maildirfolder,
   and its special use when use is not 0): 1, or 0 with errno (EEXIST). */
extern int tern_folder_create (char const *, char const *, size_t, unsigned int) ;
/* Removes folder name and its messages (not its children). 1, or 0. */
extern int tern_folder_delete (char const *, char const *, size_t) ;
/* Renames folder from to to, its children with it (RFC 3501 6.3.5);
   INBOX is done by the caller (its messages move, INBOX stays). */
extern int tern_folder_rename (char const *, char const *, size_t, char const *, size_t) ;
/* The special use of a folder (TERN_USE_*), 0 when it has none. */
extern unsigned int tern_folder_use (char const *, char const *, size_t) ;
/* The folders every user has (RFC 6154): Drafts, Sent, Trash, Junk,
   Archive, created when missing. 1, or 0 with errno. */
extern int tern_folder_defaults (char const *) ;
/* Subscriptions (the Maildir++ "subscriptions" file, a name a line):
   read into sa (NUL-terminated names), or changed (on 1: add, 0:
   remove) under a lock with an atomic rewrite. */
extern int tern_subs_read (stralloc *, char const *) ;
extern int tern_subs_change (char const *, char const *, size_t, int) ;

/* ---- quota (RFC 9208): what a user's folders hold ---- */

/* The sum of RFC822.SIZE (as far as known) and the number of messages
   of every folder under the Maildir root: from each folder's index
   (brought up to date first), or, for a folder without one, from the
   names in new/ and cur/ (their W= or S= sizes, else the file's). The
   stores in open[0..nopen) are folders this process has open already
   (one LMDB environment per folder per process): they are read as they
   are. 1, or 0 with errno. */
extern int tern_quota_usage (char const *, tern_store *const *, size_t, uint64_t *, uint64_t *) ;

#endif
