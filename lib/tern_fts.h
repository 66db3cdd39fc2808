/* tern_fts.h: the search index of a folder (DESIGN.md, "The mailbox
   store"): trigram posting lists in the folder's LMDB environment, that
   SEARCH BODY, TEXT (and any key matching decoded text as a substring)
   use to pass over the messages that cannot match. The index only says
   which messages may hold a string; the caller checks those against the
   message, so the semantics stay RFC 3501's exact substring match.

   What is indexed: the texts tern_mime_texts gives for TEXT (each part's
   header, each text leaf), in search form as tern_search_match compares
   them (ASCII text lowercased, other text folded with tern_search_fold),
   as the set of its 3-octet substrings. A string of 3 octets or more in
   search form occurs in a text only if each of its trigrams does.

   Layout, in the database "fts": segments of up to TERN_FTS_SEGMSG
   messages in UID order; key = segment (4 octets, big-endian) and
   trigram (4, big-endian), value = the UIDs of the segment's messages
   with that trigram, the first as a varint, then the differences; the
   key (segment, 0xffffffff) holds the segment's message count and its
   first and last UID. The meta database has "ftsupto" (every message up
   to that UID is indexed) and "ftsnseg". Only the last segment is ever
   rewritten (when messages are added to it), so that an update costs at
   most one segment. Expunged messages stay in their lists: the caller
   meets only UIDs of its view.

   Beside the lists, the texts themselves in search form (database
   "ftx"), so that a candidate is checked without reading its file:
   chunks of consecutive messages written with the segment, key = the
   chunk's last UID (MDB_INTEGERKEY), value = for each message its UID
   and the length of what follows (4 octets each, little-endian), then
   its texts, each a kind octet (TERN_FTS_K*), a varint length and the
   text: ASCII text lowercased, other text as tern_search_fold gives it,
   which is what tern_search_match compares. A message whose texts take
   more than TERN_FTS_TEXTMAX has none stored (its file is read), and so
   does one indexed before the texts were kept. UIDs are never reused and
   a message's file never changes, so a stored text never goes stale. */

#ifndef TERN_FTS_H
#define TERN_FTS_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "tern_store.h"

#define TERN_FTS_SEGMSG 1024
#define TERN_FTS_MINLEN 3
#define TERN_FTS_TEXTMAX (1024 * 1024)   /* a message's stored texts at most */
#define TERN_FTS_TXTFLUSH (4 * 1024 * 1024)   /* texts held before a flush */

#define TERN_FTS_KBODY 1   /* a text leaf, which BODY and TEXT see; else a header, TEXT only */
#define TERN_FTS_KFOLD 2   /* folded (tern_search_fold); else ASCII, lowercased */

typedef struct tern_fts_ent_s tern_fts_ent ;
struct tern_fts_ent_s
{
  uint32_t tri ;          /* the trigram + 1 (0: a free slot) */
  uint32_t last ;         /* the last UID in buf */
  uint32_t len, cap ;
  unsigned char *buf ;
} ;

typedef struct tern_fts_s tern_fts ;
struct tern_fts_s
{
  tern_store *st ;
  uint32_t seg ;          /* the segment being filled */
  uint32_t count ;        /* its messages */
  uint32_t first, upto ;  /* its first UID; the last UID done */
  uint32_t base ;         /* ftsupto as the index has it: what a flush expects to find */
  uint32_t uid ;          /* the message whose texts are coming */
  tern_fts_ent *t ;       /* the segment's trigrams, hashed */
  size_t tsize, tn ;
  stralloc fold ;
  stralloc txt ;          /* the texts of the messages added since the last flush, in the "ftx" layout */
  size_t msg ;            /* where the message being added starts in txt */
  uint32_t txtuid ;       /* that message (0: none started) */
  int txtover ;           /* its texts are over TERN_FTS_TEXTMAX: none kept */
} ;
#define TERN_FTS_ZERO { .st = 0, .seg = 0, .count = 0, .first = 0, .upto = 0, .base = 0, .uid = 0, .t = 0, .tsize = 0, .tn = 0, .fold = STRALLOC_ZERO, .txt = STRALLOC_ZERO, .msg = 0, .txtuid = 0, .txtover = 0 }

/* Where a reader of stored texts is in the "ftx" database: the chunk it
   looked at last. Valid inside one read transaction: zeroed at the start
   of each. */
typedef struct tern_fts_rd_s tern_fts_rd ;
struct tern_fts_rd_s
{
  unsigned char const *s ;   /* the chunk, in the map ("" past the last one) */
  size_t n ;
  uint32_t lo, last ;        /* the UIDs that lookup answers for: lo was asked, last is the chunk's */
  size_t pos ;               /* a message in it, at or before the next one asked */
} ;
#define TERN_FTS_RD_ZERO { .s = 0, .n = 0, .lo = 0, .last = 0, .pos = 0 }

/* Inside a read transaction (tern_store_rbegin): the UID up to which
   the index covers the folder, 0 if it covers nothing. 1, or -1 with
   errno. */
extern int tern_fts_upto (tern_store *, uint32_t *) ;

/* Adding messages, in UID order, each above the index's ftsupto:
   begin (outside any transaction: reads the last segment back when it
   has room), then for each message its texts (tern_fts_text, any
   number, each of a kind: TERN_FTS_KBODY or 0) and tern_fts_done;
   tern_fts_flush writes what was added (one short write transaction a
   segment) and is called when count reaches TERN_FTS_SEGMSG (it then
   starts the next segment), when txt reaches TERN_FTS_TXTFLUSH, and at
   the end. Each returns 1, or 0 with errno. */
extern int tern_fts_begin (tern_store *, tern_fts *) ;
extern int tern_fts_text (tern_fts *, uint32_t, unsigned int, char const *, size_t) ;
extern void tern_fts_done (tern_fts *, uint32_t) ;
extern int tern_fts_flush (tern_fts *) ;
extern void tern_fts_free (tern_fts *) ;

/* Inside a read transaction: the UIDs (sorted, appended to out) of the
   messages up to *upto whose texts may hold needle (search form, as
   tern_search_fold gives it). 1; 0 when the needle is too short for the
   index (every message may); -1 with errno. */
extern int tern_fts_candidates (tern_store *, char const *, size_t, genalloc *, uint32_t *) ;

/* Inside a read transaction: the stored texts of a message (*s, *n,
   in the map: valid until the transaction ends). 1; 0 when it has none
   stored; -1 with errno. Asking in UID order costs one lookup a chunk. */
extern int tern_fts_texts_get (tern_store *, tern_fts_rd *, uint32_t, char const **, size_t *) ;

/* Whether stored texts hold needle (search form) where a search looks:
   TERN_MSEARCH_BODY (text leaves) or TERN_MSEARCH_TEXT (headers too);
   lower is the needle with its ASCII letters lowercased, 0 when the
   needle is not ASCII. As tern_mime_search over the message says. */
extern int tern_fts_texts_match (char const *, size_t, unsigned int, char const *, size_t, char const *) ;

/* The octets the index takes in the environment: an estimate from LMDB's
   page counts of its database (tern_store_rbegin first). */
extern int tern_fts_size (tern_store *, uint64_t *, uint64_t *) ;   /* octets, entries */

#endif
