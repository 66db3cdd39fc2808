/* tern_store_int.h: what the files of the store share and nobody else
   should see: the layout of the index and the write context. */

#ifndef TERN_STORE_INT_H
#define TERN_STORE_INT_H

#include <stdint.h>
#include <dirent.h>
#include <lmdb.h>
#include "tern_store.h"

#define INDEX_DIR "tern-index"
#define UIDLIST "tern-uidlist"
#define KEYWORDS "tern-keywords"
#define INDEX_VERSION 1
#define UIDLIST_MAGIC "tern-uidlist 1 "
#define MAPSIZE_MIN ((size_t)1 << 30)   /* virtual: LMDB maps this much, the file grows as needed */
#define MAXREADERS 4096                 /* one slot a session: every session of a folder */
#define SEQCHUNK 1024                   /* UIDs per chunk of the seq database */
#define TOMB_MIN 4096                   /* tombstones kept at least, for VANISHED (RFC 7162 3.2.5) */
#define LOCK_WAIT 30                    /* seconds a session waits for the folder's lock */
#define LOCK_WAIT_NOWAIT 2              /* seconds deliver waits */

/* The record of a message in dmsg, then its file name. */
typedef struct rec_s rec ;
struct rec_s
{
  uint64_t modseq ;
  int64_t idate ;
  int64_t sdate ;
  uint64_t size ;
  uint64_t fsize ;
  uint32_t flags ;
  uint32_t kw ;
  uint32_t incur ;
  uint32_t namelen ;
} ;

/* The change log: dchg maps a MODSEQ to the UIDs of the live messages
   whose last change it is (a new message, new flags); dexp to the UIDs
   expunged at it (tombstones, for VANISHED). Keys size_t, values the
   UIDs as unsigned int, both databases MDB_DUPSORT | MDB_DUPFIXED. */

/* The meta database's keys (each value a uint64_t but for "kw"). */
#define M_VERSION "version"
#define M_UIDVALIDITY "uidvalidity"
#define M_UIDNEXT "uidnext"
#define M_HMS "highestmodseq"
#define M_OLDEST "oldestmodseq"   /* expunges after this are all in the change log */
#define M_NTOMB "tombstones"
#define M_ULSIZE "uidlistsize"     /* octets of the uidlist the index holds */
#define M_NEWMT "newmtime"         /* new/'s mtime in ns when last read whole, 0: read it again */
#define M_CURMT "curmtime"
#define M_MESSAGES "messages"
#define M_UNSEEN "unseen"
#define M_DELETED "deleted"
#define M_SIZE "size"
#define M_UNSIZED "unsized"       /* octets on disk of the messages whose RFC822.SIZE is not known (absent in an old index) */
#define M_RECENT "recent"

/* A write: the lock, a transaction, the counters it changes. */
typedef struct wctx_s wctx ;
struct wctx_s
{
  tern_store *st ;
  MDB_txn *txn ;
  uint64_t hms ;        /* HIGHESTMODSEQ when the write began */
  uint64_t modseq ;     /* the MODSEQ of this write's changes (hms + 1) */
  uint64_t uidnext ;
  uint64_t messages, unseen, deleted, size, ntomb, oldest ;
  uint64_t orig[7] ;    /* uidnext ... oldest as they were: only what changed is written */
  uint64_t unsized, origunsized ;   /* M_UNSIZED, and as it was (UINT64_MAX: absent, to be written) */
  int changed ;
  int nosync ;          /* committed without fdatasync (tern_store_unsynced.c) */
  stralloc adopt ;      /* uidlist lines the index lacked: UID (4 octets), unique name, NUL */
} ;

extern int tern_store__lock (tern_store *) ;
extern void tern_store__unlock (tern_store *) ;
extern int tern_store__wbegin (tern_store *, wctx *) ;
extern int tern_store__wbegin_nosync (tern_store *, wctx *) ;   /* the same, to commit without fdatasync */
extern char const *tern_store__bootid (void) ;
extern int tern_store__mark (tern_store *) ;
extern int tern_store__crashed (tern_store *) ;
extern int tern_store__wcommit (wctx *) ;
extern void tern_store__wabort (wctx *) ;
extern int tern_store__mdberr (int) ;                 /* errno for an LMDB error; 0 */
extern int tern_store__meta_get (MDB_txn *, MDB_dbi, char const *, uint64_t *) ;   /* 1, 0 absent, -1 */
extern int tern_store__meta_put (MDB_txn *, MDB_dbi, char const *, uint64_t) ;
extern void tern_store__rec_read (tern_msg *, uint32_t, void const *, size_t) ;
extern int tern_store__insert (wctx *, uint32_t, rec const *, char const *) ;
extern int tern_store__update (wctx *, uint32_t, rec const *, rec const *, char const *) ;
extern int tern_store__delete (wctx *, uint32_t, rec const *, char const *, size_t) ;
extern int tern_store__getrec (MDB_txn *, tern_store *, uint32_t, rec *, char const **) ;  /* 1, 0, -1 */
extern int tern_store__uidlist_append (tern_store *, uint32_t const *, char const *const *, size_t const *, size_t, uint64_t *) ;
extern int tern_store__dirmt (int, uint64_t *) ;       /* mtime in ns of a directory fd */
extern DIR *tern_store__opendir (int) ;                /* a reading of new/ or cur/ from its start */
extern char const *tern_store__nextname (DIR *, size_t *) ;   /* its next message file name, 0 at the end */
extern void tern_store__unwatch (tern_store *) ;              /* the watches off, the inotify instance kept (tern_store_watch) */
extern int tern_store__trusted (uint64_t) ;            /* an mtime more than a second ago */
extern int tern_store__kw_load (tern_store *) ;
extern int tern_store__fsync_fd (int) ;
extern int tern_store__scan (tern_store *, wctx *, int, int) ;   /* rescan new/ and/or cur/ */
extern int tern_store__uidvalidity_new (char const *, uint32_t *) ;
extern int tern_store__uidlist_catch_up (wctx *) ;
extern int tern_store__adopted (wctx const *, char const *, size_t, uint32_t *) ;
extern int tern_store__uidlist_header (char const *, size_t, uint32_t *, uint32_t *, size_t *) ;
extern int tern_store__uidlist_line (char const *, size_t, size_t *, uint32_t *, char const **, size_t *) ;
extern int tern_store__uidlist_write (tern_store *, uint32_t, uint32_t, char const *, size_t, uint64_t *) ;
extern void tern_store__cache_drop (tern_store *) ;
extern int tern_store__readfile (int, char const *, stralloc *) ;   /* 1, 0 with errno (ENOENT) */

#endif
