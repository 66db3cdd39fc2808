/* tern_imap.h: the IMAP command grammar (RFC 3501 9, RFC 9051 9) shared
   by imap-login and imap-serve, and modified UTF-7 (RFC 3501 5.1.3).

   A command is read by its program (each reads the network its own way:
   imap-login one octet at a time, imap-serve buffered) into memory: its
   text without the final CRLF, each literal written as its "{n}",
   "{n+}" or "~{n}" head, then CRLF, then its n octets, except a literal
   the program spooled to a file (APPEND's messages), whose octets are
   not in the text: the table of literals says which is which. Then the
   parser below walks that text; it never reads, never allocates except
   into the caller's stralloc, and every step is linear in what it
   consumes. */

#ifndef TERN_IMAP_H
#define TERN_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>

/* ---- reading a command ---- */

/* Whether a line of a command (without its CRLF; the command's first
   line, or what follows a literal) ends with a literal head outside a
   quoted string. Returns 1 with *n, *nonsync ("{n+}", RFC 7888),
   *binary ("~{n}", RFC 3516) and *head, the offset of the head's first
   octet; 0 when the line ends the command; -1 when a head is malformed
   (not digits, or a number of 2^63 or more). */
extern int tern_imap_litspec (char const *, size_t, uint64_t *, int *, int *, size_t *) ;

typedef struct tern_imap_lit_s tern_imap_lit, *tern_imap_lit_ref ;
struct tern_imap_lit_s
{
  size_t pos ;      /* offset in the command text just after the head's CRLF */
  uint64_t len ;    /* the literal's octets */
  int fd ;          /* -1: they follow in the text; else a file holding them (from its start) */
} ;

/* ---- parsing a command ---- */

typedef struct tern_imap_p_s tern_imap_p, *tern_imap_p_ref ;
struct tern_imap_p_s
{
  char const *s ;                  /* the command text */
  size_t len ;
  size_t pos ;
  tern_imap_lit const *lits ;      /* its literals, in order */
  unsigned int nlits ;
  unsigned int utf8 ;              /* 8-bit octets allowed in quoted strings (UTF8=ACCEPT, IMAP4rev2) */
  char const *err ;                /* why the last step failed: text for a BAD */
} ;
#define TERN_IMAP_P_ZERO { .s = 0, .len = 0, .pos = 0, .lits = 0, .nlits = 0, .utf8 = 0, .err = 0 }

/* Each step returns 1 and consumes its token, or 0 with p->err set (and
   pos where the error is). */
extern int tern_imap_p_sp (tern_imap_p *) ;                        /* one SP */
extern int tern_imap_p_char (tern_imap_p *, char) ;                /* that octet */
extern int tern_imap_p_eol (tern_imap_p *) ;                       /* nothing left */
extern int tern_imap_p_peek (tern_imap_p const *) ;                /* the next octet, or -1 at the end */
/* tag: 1*<ASTRING-CHAR except "+"> */
extern int tern_imap_p_tag (tern_imap_p *, char const **, size_t *) ;
/* atom: 1*ATOM-CHAR, pointing into the text (command names, search keys) */
extern int tern_imap_p_atom (tern_imap_p *, char const **, size_t *) ;
/* flag: "\" atom or atom, pointing into the text; "\*" when star is set */
extern int tern_imap_p_flag (tern_imap_p *, char const **, size_t *, int) ;
/* astring, string, nstring (*isnil): the value appended to sa (not
   NUL-terminated); an in-memory literal only (a spooled one is an error) */
extern int tern_imap_p_astring (tern_imap_p *, stralloc *) ;
extern int tern_imap_p_string (tern_imap_p *, stralloc *) ;
extern int tern_imap_p_nstring (tern_imap_p *, stralloc *, int *) ;
/* list-mailbox: 1*list-char (wildcards allowed) or string */
extern int tern_imap_p_listmailbox (tern_imap_p *, stralloc *) ;
/* A literal, in memory (*s set, *fd -1) or spooled (*fd set): APPEND's message. */
extern int tern_imap_p_literal (tern_imap_p *, char const **, int *, uint64_t *, int *) ;
/* number (32 bits), number64 (63 bits, RFC 9051), nz-number */
extern int tern_imap_p_number (tern_imap_p *, uint32_t *) ;
extern int tern_imap_p_number64 (tern_imap_p *, uint64_t *) ;
extern int tern_imap_p_nznumber (tern_imap_p *, uint32_t *) ;

/* sequence-set (RFC 3501 9, RFC 9051 9 with "$" of RFC 5182): ranges
   appended to ga, "*" as TERN_IMAP_STAR, 0, which no number can be (the
   caller resolves it against the mailbox, then orders the range); ranges
   of two numbers have lo <= hi. "$" alone sets *dollar (when dollar is
   not 0) and appends nothing. */
#define TERN_IMAP_STAR 0
typedef struct tern_imap_range_s tern_imap_range, *tern_imap_range_ref ;
struct tern_imap_range_s { uint32_t lo, hi ; } ;
extern int tern_imap_p_seqset (tern_imap_p *, genalloc *, int *) ;

/* date-time (RFC 3501 9: "dd-Mon-yyyy hh:mm:ss +zzzz", quoted): 1 with
   *t in seconds since the epoch (UTC) and *zone in minutes. */
extern int tern_imap_p_datetime (tern_imap_p *, int64_t *, int *) ;
/* date (SEARCH: "d-Mon-yyyy", quoted or not): *t at 00:00 UTC of that day. */
extern int tern_imap_p_date (tern_imap_p *, int64_t *) ;

/* ---- writing ---- */

/* INTERNALDATE's form, "dd-Mon-yyyy hh:mm:ss +zzzz" (26 octets, no
   quotes, no NUL) of t shown in the zone of zone minutes east of UTC. */
#define TERN_IMAP_DATETIME_LEN 26
extern size_t tern_imap_datetime_fmt (char *, int64_t, int) ;

/* ---- mailbox names ---- */

/* Modified UTF-7 (RFC 3501 5.1.3): whether s[0..len) is well-formed
   (printable US-ASCII, "&-" for "&", base64 runs of UTF-16 that encode
   no printable ASCII, ends and padding right), and the conversions. */
extern int tern_mutf7_valid (char const *, size_t) ;
extern int tern_mutf7_to_utf8 (stralloc *, char const *, size_t) ;   /* 1, or 0 (EINVAL: malformed; ENOMEM) */
extern int tern_utf8_to_mutf7 (stralloc *, char const *, size_t) ;   /* 1, or 0 (EINVAL: not UTF-8; ENOMEM) */

#endif
