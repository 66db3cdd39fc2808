/* imap-serve.h: what the files of imap-serve share: the session, the
   output buffer, the selected folder's view, and the command handlers
   the dispatch table in imap-serve.c names. */

#ifndef IMAP_SERVE_H
#define IMAP_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "tern.h"
#include "tern_imap.h"
#include "tern_store.h"
#include "tern_mime.h"

#define LINEMAX 65536                 /* a line of a command, its CRLF included (RFC 7162 4 asks for 8192) */
#define LITMAX (1 << 20)              /* a literal in memory (any but APPEND's messages) */
#define CMDMAX (8 << 20)              /* a whole command in memory */
#define APPENDLIMIT_DEFAULT 52428800  /* IMAP_APPENDLIMIT: octets of one appended message */
#define MAXBAD_DEFAULT 50             /* IMAP_MAXBAD: BAD replies before the session ends */
#define MULTIAPPEND_MAX 100           /* messages in one APPEND (RFC 3502) */

typedef struct sess_s sess ;
struct sess_s
{
  /* configuration, read once */
  unsigned int timeout ;       /* IMAP_TIMEOUT, seconds: idle autologout (RFC 9051 5.4: 30 minutes at least) */
  unsigned int cmdtimeout ;    /* IMAP_CMDTIMEOUT: reading one command, its literals included */
  uint64_t appendlimit ;
  unsigned int maxbad ;
  char const *user ;
  char const *remoteip ;
  char const *root ;           /* the Maildir (INBOX) */
  int loginfd ;
  /* ENABLEd (RFC 5161) */
  int condstore ;              /* RFC 7162: also set by the first CONDSTORE command */
  int qresync ;
  int rev2 ;                   /* IMAP4rev2 (RFC 9051): ESEARCH for SEARCH, no RECENT, LIST at SELECT */
  int utf8 ;                   /* UTF8=ACCEPT (RFC 6855) or IMAP4rev2: mailbox names and quoted strings in UTF-8 */
  int uidonly ;                /* RFC 9586: UIDs only, in commands and responses */
  /* the selected folder */
  int selected ;
  int readonly ;
  int ftsdeferred ;            /* fts.c: a search left the index to build after it, in this selection */
  int ftsidle ;                /* and that work is not done: idle time goes to it */
  stralloc mbox ;              /* its name */
  tern_store st ;
  genalloc view ;              /* view.c's ranges of UIDs: message numbers to UIDs */
  uint64_t modseq ;            /* the folder's changes up to this are the client's */
  genalloc recent ;            /* tern_imap_range: our \Recent UIDs */
  genalloc pendexp ;           /* uint32_t: expunged, not reported yet (none while FETCH, STORE, SEARCH run) */
  genalloc own ;               /* own_change: changes this session reported itself */
  unsigned int nkw ;           /* keywords the client was told of (FLAGS) */
  genalloc saved ;             /* uint32_t, sorted: SEARCHRES's "$" (RFC 5182), as UIDs */
  int watchfd ;                /* tern_store_watch's, or -1 */
  unsigned int bad ;
  /* the command being run */
  char const *tag ;
  size_t taglen ;
  int uid ;                    /* the UID form (UID FETCH...) */
} ;
extern sess S ;

typedef struct own_change_s own_change ;
struct own_change_s { uint32_t uid ; uint64_t modseq ; } ;

/* ---- output (imap-serve.c) ---- */

extern void o_put (char const *, size_t) ;
extern void o_str (char const *) ;
extern void o_num (uint64_t) ;
extern void o_flush (void) ;
extern void o_string (char const *, size_t) ;          /* an IMAP string: quoted, or a literal */
extern void o_flags (uint32_t, uint32_t, int) ;         /* "(\Seen kw ...)" */
extern void o_tagged (char const *) ;                   /* "tag " s CRLF */
extern void o_bad (tern_imap_p const *, char const *) ; /* "tag BAD " with the parser's reason */
extern void o_nosys (char const *) ;                    /* "tag NO [SERVERBUG]..." after a store failure, logged */
extern void o_uidset (uint32_t const *, size_t) ;       /* a sequence-set of sorted UIDs: "1:3,7" */
extern void o_fetch_open (uint32_t, uint32_t) ;         /* "* msn FETCH (", or "* uid UIDFETCH (" (RFC 9586 3.3) */
/* the reason of the BAD for message numbers once UIDONLY is on (RFC 9586 3) */
#define UIDREQUIRED "[UIDREQUIRED] Message numbers cannot be used once UIDONLY is enabled"
extern void die_io (char const *) gccattr_noreturn ;

/* ---- the selected folder (view.c) ---- */

extern int view_select (char const *, size_t, int, tern_imap_p *) ;
extern void view_close (int) ;
extern void view_sync (int) ;
extern void view_disk (void) ;                           /* untagged EXISTS, EXPUNGE/VANISHED, FETCH; expunges only when allowed */
extern uint32_t view_count (void) ;
extern void view_all (genalloc *) ;                     /* every UID of the view, appended (uint32_t) */
extern uint32_t view_uid (uint32_t) ;                   /* the UID of message number n (from 1) */
extern uint32_t view_msn (uint32_t) ;                   /* the number of a UID, 0 if not in the view */
extern int view_recent (uint32_t) ;
extern uint32_t view_nrecent (void) ;
extern void view_announce_flags (int) ;                 /* FLAGS and PERMANENTFLAGS, when the keywords changed (or always) */
/* A sequence-set of the command (message numbers, or UIDs when uid is
   set) as the sorted UIDs of the view it names: 1, or 0 after a BAD. */
extern int view_set (genalloc const *, int, genalloc *) ;
/* "$" (RFC 5182): the saved UIDs still in the view; and the choice of the two */
extern void view_saved (genalloc *) ;
extern int view_set_or_saved (genalloc const *, int, int, genalloc *) ;
extern void view_own (uint32_t const *, size_t, uint64_t) ;
/* QRESYNC (RFC 7162 3.2.5.2, 3.2.6): "* VANISHED (EARLIER)" for what was
   expunged since modseq among the UIDs of known (all when empty), and
   the FETCH responses of the messages of the view changed since. */
extern void view_vanished (uint64_t, genalloc const *, int) ;
extern void view_changed (uint64_t, genalloc const *) ;

/* ---- the folders (folder.c) ---- */

/* A mailbox argument: an astring, INBOX in any case made "INBOX". */
extern int mailbox_arg (tern_imap_p *, stralloc *) ;
extern int mailbox_wire (tern_imap_p *, stralloc *) ;
extern int mailbox_to_disk (stralloc *, size_t) ;
extern void o_mailbox (char const *, size_t) ;
extern void list_selected (char const *, size_t) ;
/* The folder's directory (NUL-terminated in sa), or 0 after the NO. */
extern int folder_dir (stralloc *, char const *, size_t) ;
extern int folder_exists (char const *, size_t) ;
/* Opens a folder that is not the selected one (for STATUS, APPEND,
   COPY): 1, or 0 after the NO (TRYCREATE when it does not exist). */
extern int folder_open (tern_store *, char const *, size_t) ;

/* ---- input (imap-serve.c) ---- */
extern int imap_tmpdir (void) ;
extern int imap_spooled (int, char const **, uint64_t *, uint64_t *) ;
/* literal8.c */
extern int literal8_store (int, int, uint64_t, char const *, int *, uint64_t *, uint64_t *) ;
extern int imap_getline (stralloc *) ;
extern int imap_input_pending (void) ;
#include <skalibs/tai.h>
extern int imap_wait (int, tain const *) ;
/* cmd-append.c: one message's [flags] [date] literal (APPEND, REPLACE) */
extern int append_message (tern_imap_p *, tern_store *, tern_store_new *) ;
/* cmd-store.c */
extern int flag_arg (tern_store *, char const *, size_t, uint32_t *, uint32_t *, int, int *) ;

/* ---- msgctx.c ---- */
typedef struct mctx_s mctx ;
struct mctx_s
{
  tern_msg m ;
  char name[512] ;
  stralloc cache ;          /* the cache entry as read */
  int gotcache ;
  /* the file, when mapped */
  char const *map ;
  size_t maplen ;
  int readok ;              /* a small file may be read into the heap rather than mapped (a search's one message at a time) */
  int onheap ;              /* map is malloc'd */
  tern_mime mime ;
  int parsed ;
  stralloc newcache ;       /* fields learnt */
  uint64_t newsize ;
} ;
extern int mctx_field (mctx *, char, char const **, size_t *) ;
extern int mctx_map (mctx *) ;
extern int mctx_parse (mctx *, int) ;
extern void mctx_learn_header (mctx *) ;
extern void mctx_learn_struct (mctx *) ;   /* and the preview */
extern void mctx_learn_preview (mctx *) ;
extern int mctx_references (mctx *, char const **, size_t *) ;
extern void mctx_free (mctx *) ;
extern uint64_t crlf_size (char const *, size_t) ;

/* ---- fetch.c ---- */
extern void fetch_flags_line (uint32_t, tern_msg const *, int) ;   /* "* n FETCH (FLAGS ...)" */

/* ---- cmd-search.c: the search program, for SEARCH and SORT ---- */
typedef void search_hit_func (void *, uint32_t, mctx *) ;   /* data, message number, the message */
extern int search_program (tern_imap_p *, int, uint32_t *) ; /* 1; 0: BAD; -1: the NO was sent */
extern int search_scan (uint32_t, int, search_hit_func *, void *) ;
extern int search_usedmodseq (void) ;
#define RET_MIN 0x01
#define RET_MAX 0x02
#define RET_ALL 0x04
#define RET_COUNT 0x08
#define RET_SAVE 0x10
extern int search_return (tern_imap_p *, int, unsigned int *) ;
/* fts.c */
#define FTS_DEFER 5000           /* messages behind: the first search scans and leaves the index for later */
extern void fts_update (void) ;
extern size_t fts_behind (void) ;
extern int fts_idle (void) ;     /* one segment of that work: 1 when more is left */
extern void fts_progress (size_t, size_t) ;

/* ---- cmd-sort.c: what SORT and THREAD share ---- */
typedef tern_env_it env_it ;   /* tern_env_item and the like (tern_mime.h) read a cached ENVELOPE */
extern void env_value (stralloc *, env_it const *) ;
extern int base_subject (stralloc *, char const *, size_t) ;           /* RFC 5256 2.1, upper-cased; 1: a reply */
extern int64_t sent_date (mctx *) ;                                     /* RFC 5256 2.2 */
extern int mctx_header (mctx *) ;                                       /* the header's cache fields, learnt if missing */

/* ---- cmd-quota.c: the user's limits (RFC 9208) ---- */
extern void quota_load (void) ;
/* may octets in messages more go in? 1, or 0 after NO [OVERQUOTA] */
extern int quota_check (tern_store *, uint64_t, uint64_t) ;

/* ---- cmd-metadata.c: the tern-metadata file; a folder's entries follow RENAME, go with DELETE ---- */
typedef struct metarec_s metarec ;
struct metarec_s { size_t mbox, mlen, entry, elen, val, vlen ; } ;   /* offsets into the file */
extern int metadata_load (stralloc *, genalloc *) ;
extern void meta_rename (char const *, size_t, char const *, size_t) ;
extern void meta_delete (char const *, size_t) ;

/* ---- the commands ---- */

typedef void cmd_func (tern_imap_p *) ;
extern cmd_func cmd_capability, cmd_noop, cmd_logout, cmd_id, cmd_enable, cmd_namespace, cmd_check ;
extern cmd_func cmd_select, cmd_examine, cmd_create, cmd_delete, cmd_rename, cmd_subscribe, cmd_unsubscribe ;
extern cmd_func cmd_list, cmd_lsub, cmd_status, cmd_append ;
extern cmd_func cmd_close, cmd_unselect, cmd_expunge, cmd_search, cmd_fetch, cmd_store, cmd_copy, cmd_move ;
extern cmd_func cmd_idle, cmd_sort, cmd_thread, cmd_compress, cmd_replace, cmd_notify ;
extern cmd_func cmd_getquota, cmd_getquotaroot, cmd_setquota, cmd_getmetadata, cmd_setmetadata ;
extern void capabilities (void) ;
extern void condstore_on (void) ;

/* ---- NOTIFY (cmd-notify.c, RFC 5465): its watches beside the network
   while no command runs, its responses when they are due ---- */
#include <skalibs/iopause.h>
extern int notify_on (void) ;
extern unsigned int notify_fds (iopause_fd *, tain *) ;        /* up to 2 fds; the deadline lowered to its own */
extern void notify_run (iopause_fd const *, unsigned int, int) ; /* after the wait (1: in IDLE) */
extern void notify_done (cmd_func *) ;                          /* after each command */
/* cmd-fetch.c: MessageNew's fetch attributes (RFC 5465 5.2) */
extern int fetch_atts (tern_imap_p *) ;
extern void fetch_unsolicited (tern_imap_p *, uint32_t const *, size_t) ;

#endif
