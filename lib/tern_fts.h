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
   meets only UIDs of its view. */

#ifndef TERN_FTS_H
#define TERN_FTS_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "tern_store.h"

#define TERN_FTS_SEGMSG 1024
#define TERN_FTS_MINLEN 3

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
} ;
#define TERN_FTS_ZERO { .st = 0, .seg = 0, .count = 0, .first = 0, .upto = 0, .base = 0, .uid = 0, .t = 0, .tsize = 0, .tn = 0, .fold = STRALLOC_ZERO }

/* Inside a read transaction (tern_store_rbegin): the UID up to which
   the index covers the folder, 0 if it covers nothing. 1, or -1 with
   errno. */
extern int tern_fts_upto (tern_store *, uint32_t *) ;

/* Adding messages, in UID order, each above the index's ftsupto:
   begin (outside any transaction: reads the last segment back when it
   has room), then for each message its texts (tern_fts_text, any
   number) and tern_fts_done; tern_fts_flush writes what was added (one
   short write transaction a segment) and is called when count reaches
   TERN_FTS_SEGMSG (it then starts the next segment) and at the end.
   Each returns 1, or 0 with errno. */
extern int tern_fts_begin (tern_store *, tern_fts *) ;
extern int tern_fts_text (tern_fts *, uint32_t, char const *, size_t) ;
extern void tern_fts_done (tern_fts *, uint32_t) ;
extern int tern_fts_flush (tern_fts *) ;
extern void tern_fts_free (tern_fts *) ;

/* Inside a read transaction: the UIDs (sorted, appended to out) of the
   messages up to *upto whose texts may hold needle (search form, as
   tern_search_fold gives it). 1; 0 when the needle is too short for the
   index (every message may); -1 with errno. */
extern int tern_fts_candidates (tern_store *, char const *, size_t, genalloc *, uint32_t *) ;

/* The octets the index takes in the environment: an estimate from LMDB's
   page counts of its database (tern_store_rbegin first). */
extern int tern_fts_size (tern_store *, uint64_t *, uint64_t *) ;   /* octets, entries */

#endif
