/* tern_mime.h: MIME (RFC 2045, 2046, 2047, 2231) and the IMAP views of a
   message (RFC 3501 7.4.2, RFC 9051 7.5.2): one linear-time parser, used
   for ENVELOPE, BODYSTRUCTURE, BODY[section], BINARY, SEARCH and the
   webmail. A message is in memory (a mapped Maildir file) with LF or
   CRLF line ends; sizes "as sent" count each LF not preceded by CR as
   two octets (IMAP sends CRLF). Nothing here does I/O. */

#ifndef TERN_MIME_H
#define TERN_MIME_H

#include <stddef.h>
#include <stdint.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>

/* ---- the parser ---- */

#define TERN_MIME_DEPTH 100          /* nesting of multiparts and message/rfc822 */
#define TERN_MIME_PARTS 10000        /* parts in one message */
#define TERN_MIME_HDRMAX (1 << 20)   /* octets of one header that are parsed for fields */
#define TERN_MIME_NONE UINT32_MAX

/* Content-Transfer-Encoding (RFC 2045 6.1); anything else is OTHER */
#define TERN_CTE_7BIT 0
#define TERN_CTE_8BIT 1
#define TERN_CTE_BINARY 2
#define TERN_CTE_QP 3
#define TERN_CTE_BASE64 4
#define TERN_CTE_OTHER 5

/* tern_mime_part.flags */
#define TERN_MIME_MULTIPART 0x01     /* multipart/ANY: children are its body parts */
#define TERN_MIME_RFC822 0x02        /* message/rfc822 or message/global: its one child is the enclosed message */
#define TERN_MIME_TEXT 0x04          /* text/ANY (explicit or by default) */
#define TERN_MIME_DEFAULTED 0x08     /* no (valid) Content-Type: the default of RFC 2045 5.2 / 2046 5.1.5 applies */
#define TERN_MIME_DIGEST 0x10        /* multipart/digest: children default to message/rfc822 (RFC 2046 5.1.5) */
#define TERN_MIME_GLOBAL 0x20        /* with TERN_MIME_RFC822: it is message/global (RFC 6532 3.5) */
#define TERN_MIME_CAPPED 0x40        /* a multipart or message past TERN_MIME_DEPTH or TERN_MIME_PARTS: an opaque
                                        leaf, shown as application/octet-stream (as Dovecot does) */

/* The Content-* fields the parser notes (tern_mime_part.fields, fval, flen):
   only the first of each, and only where they apply (RFC 2045 4: in a
   body part, or in a message with MIME-Version or Content-Type). */
#define TERN_MIME_F_TYPE 0
#define TERN_MIME_F_CTE 1
#define TERN_MIME_F_ID 2
#define TERN_MIME_F_DESC 3
#define TERN_MIME_F_MD5 4
#define TERN_MIME_F_DISP 5
#define TERN_MIME_F_LANG 6
#define TERN_MIME_F_LOC 7
#define TERN_MIME_NF 8

typedef struct tern_mime_part_s tern_mime_part, *tern_mime_part_ref ;
struct tern_mime_part_s
{
  uint32_t parent ;       /* index in the parts array, TERN_MIME_NONE for the message */
  uint32_t child ;        /* first child, or TERN_MIME_NONE */
  uint32_t next ;         /* next sibling, or TERN_MIME_NONE */
  uint32_t nchild ;
  uint32_t depth ;        /* 0 for the message */
  unsigned int flags ;    /* TERN_MIME_* above */
  unsigned int cte ;      /* TERN_CTE_* */
  size_t hdr, hdrlen ;    /* its header in the message, the empty line that ends it included */
  size_t body, bodylen ;  /* its body (for a multipart: preamble to epilogue) */
  uint64_t hdrsize ;      /* hdrlen as sent */
  uint64_t bodysize ;     /* bodylen as sent */
  uint64_t bodylines ;    /* lines of the body as sent (BODYSTRUCTURE's body-fld-lines) */
  unsigned int fields ;   /* bit (1 << TERN_MIME_F_*) set: that field is present */
  size_t fval[TERN_MIME_NF] ; /* its raw value in the message, as tern_hdr_find gives it */
  size_t flen[TERN_MIME_NF] ;
} ;

typedef struct tern_mime_s tern_mime, *tern_mime_ref ;
struct tern_mime_s
{
  char const *msg ;       /* the message, not copied */
  size_t len ;
  genalloc parts ;        /* tern_mime_part; parts[0] is the message, then in depth-first order */
  unsigned int capped ;   /* a cap was hit: what lies past it belongs to the body of the last part */
  void *work ;            /* the parser's scratch, kept for the next parse; freed by tern_mime_free */
} ;
#define TERN_MIME_ZERO { .msg = 0, .len = 0, .parts = GENALLOC_ZERO, .capped = 0, .work = 0 }
#define tern_mime_nparts(m) genalloc_len(tern_mime_part, &(m)->parts)
#define tern_mime_getpart(m, i) (genalloc_s(tern_mime_part, &(m)->parts) + (i))

/* Parses msg[0..len) (kept by reference in m) into its tree of parts,
   in time linear in len: 1, or 0 with errno ENOMEM. Broken MIME (no
   closing boundary, a boundary missing, bad headers) is never an error:
   it is parsed the way RFC 2046 and the common servers read it. A
   tern_mime can be parsed into again: its memory is reused. */
extern int tern_mime_parse (tern_mime *, char const *, size_t) ;
extern void tern_mime_free (tern_mime *) ;

/* ---- header fields ---- */

/* The n-th (from 0) field called name (case-insensitive) in the header
   hdr[0..len): 1 with *val pointing at its raw value (after the colon,
   folding line ends kept) and *vallen, or 0 when there is none. */
extern int tern_hdr_find (char const *hdr, size_t len, char const *name, unsigned int n, char const **val, size_t *vallen) ;
/* A field value unfolded, RFC 2047 encoded-words decoded, everything
   converted to UTF-8 (invalid octets replaced by U+FFFD), appended to
   out: 1, or 0 ENOMEM. */
extern int tern_hdr_decode (stralloc *out, char const *val, size_t len) ;
/* HEADER.FIELDS and HEADER.FIELDS.NOT (RFC 3501 6.4.5): the fields of
   hdr[0..len) whose names are (not) among names[0..n), with their line
   ends as in the message, then the empty line, appended to out. */
extern int tern_hdr_fields (stralloc *out, char const *hdr, size_t len, char const *const *names, unsigned int n, int not) ;
/* A parameter of a Content-Type or Content-Disposition value (RFC 2045
   5.1, RFC 2231 continuations and charset'language'%XX decoded to
   UTF-8), appended to out: 1 found, 0 not found, -1 ENOMEM. */
extern int tern_mime_param (stralloc *out, char const *val, size_t len, char const *name) ;

/* One field of a header: the name (trailing white space dropped), the raw
   value after the colon up to the field's last line end (folding line
   ends kept), and the whole field with its line ends. A line with no
   colon is a field whose name is the whole line and whose value is
   empty; continuation lines before any field make one with an empty
   name. */
typedef struct tern_hdr_field_s tern_hdr_field, *tern_hdr_field_ref ;
struct tern_hdr_field_s
{
  char const *name ;
  size_t namelen ;
  char const *val ;
  size_t vallen ;
  char const *raw ;
  size_t rawlen ;
} ;
/* The field of hdr[0..len) that begins at *pos (0 for the first): 1 with
   *f filled and *pos moved past it, or 0 at the header's end (the empty
   line, or len). */
extern int tern_hdr_next (char const *hdr, size_t len, size_t *pos, tern_hdr_field *f) ;

/* Content-Type's type "/" subtype (RFC 2045 5.1), comments and white
   space allowed around them: 1 with both and *params, the offset where
   the parameters begin; 0 when the value is not of that form. */
extern int tern_mime_ctype (char const *val, size_t len, char const **type, size_t *typelen, char const **sub, size_t *sublen, size_t *params) ;

/* One parameter as written (RFC 2045 5.1): its name, and its value
   without the quotes of a quoted-string (backslashes still in, quoted
   set). A parameter is ";" name "=" value; junk between parameters is
   skipped, and an unquoted value runs up to ";", white space or "(". */
typedef struct tern_mime_rawparam_s tern_mime_rawparam, *tern_mime_rawparam_ref ;
struct tern_mime_rawparam_s
{
  char const *name ;
  size_t namelen ;
  char const *val ;
  size_t vallen ;
  int quoted ;
} ;
/* The next parameter of val[0..len) from offset pos: its end (> pos,
   the offset to pass next time) with *p filled, or 0 when there is no
   other. */
extern size_t tern_mime_param_next (char const *val, size_t len, size_t pos, tern_mime_rawparam *p) ;

/* ---- dates ---- */

/* An RFC 5322 3.3 date-time (obsolete forms of 4.3 accepted, as mail has
   them): 1 with *t (seconds since the epoch, UTC) and *tzmin (the zone
   in minutes east of UTC), or 0 when it cannot be read. */
extern int tern_date822_scan (char const *, size_t, int64_t *, int *) ;

/* ---- IMAP output ---- */

/* tern_imap_string flags */
#define TERN_ISTR_UTF8 0x01   /* quoted strings may hold UTF-8 (IMAP4rev2, UTF8=ACCEPT) */
/* An IMAP string appended to out: NIL when s is 0, a quoted string when
   every octet allows it (RFC 3501 9 quoted; no CR, LF, NUL; 8-bit only
   with TERN_ISTR_UTF8), else a literal {n}CRLF... (NULs dropped). */
extern int tern_imap_string (stralloc *, char const *, size_t, unsigned int) ;
/* ENVELOPE (RFC 3501 7.4.2) of a header hdr[0..len): the whole
   parenthesised list, appended to out. Strings as in the message
   (encoded-words are not decoded); addresses parsed per RFC 5322 3.4,
   groups as RFC 3501 says, "MISSING_MAILBOX" / "MISSING_DOMAIN" for
   broken ones, as the common servers. */
extern int tern_imap_envelope (stralloc *, char const *, size_t, unsigned int) ;
/* An ENVELOPE as tern_imap_envelope writes it, read back: one item from
   s[*pos] (depth: lists around it, at most 8), *pos moved past it: NIL
   (kind 0), a quoted string (1, its inside with the escapes), a literal
   (2, its octets), a list (3, its inside); 0 when malformed. Fields:
   items 0 to k (0 date, 1 subject, 2 from, ... 9 message-id) into
   it[0..k]; field: item k alone. */
typedef struct tern_env_it_s tern_env_it ;
struct tern_env_it_s { int kind ; char const *s ; size_t len ; } ;
extern int tern_env_item (char const *, size_t, size_t *, tern_env_it *, unsigned int) ;
extern int tern_env_fields (char const *, size_t, unsigned int, tern_env_it *) ;
extern int tern_env_field (char const *, size_t, unsigned int, tern_env_it *) ;
/* The base subject of a decoded subject (RFC 5256 2.1), upper-cased,
   appended to out: 1 when it was a reply or a forward, 0 when not, -1
   ENOMEM. Linear in the subject. */
extern int tern_imap_base_subject (stralloc *, char const *, size_t) ;
/* The addresses of one address field's value v[0..n), parsed as for
   ENVELOPE, appended to out as text to search (SEARCH FROM, TO, CC,
   BCC): "name <mailbox@host>" or "mailbox@host" each, names'
   encoded-words decoded, comments and routes dropped, groups as
   "name: ...;", separated by ", ". */
extern int tern_imap_addrtext (stralloc *, char const *, size_t) ;
/* BODY (ext 0) or BODYSTRUCTURE (ext 1, with extension data) of part i
   of m (0: the message), appended to out. */
extern int tern_imap_bodystructure (stralloc *, tern_mime const *, uint32_t, int, unsigned int) ;

/* ---- sections (RFC 3501 6.4.5) ---- */

#define TERN_SEC_ALL 0          /* BODY[] or BODY[1.2]: the whole part (for a path into a message/rfc822, its enclosed message) */
#define TERN_SEC_HEADER 1       /* [HEADER], [1.HEADER] */
#define TERN_SEC_FIELDS 2       /* [HEADER.FIELDS (...)]: the header range, to filter with tern_hdr_fields */
#define TERN_SEC_FIELDS_NOT 3
#define TERN_SEC_TEXT 4         /* [TEXT], [1.TEXT] */
#define TERN_SEC_MIME 5         /* [1.MIME]: the part's own MIME header */
/* The octets of the message that section path[0..n) (part numbers from
   1; n == 0 is the message) with kind TERN_SEC_* covers: 1 with *off and
   *len, or 0 when the message has no such part (the client then gets an
   empty string). HEADER, FIELDS and TEXT of a path apply to the message
   the path names: the top one, or that of a message/rfc822 part. */
extern int tern_mime_section (tern_mime const *, uint32_t const *, unsigned int, unsigned int, size_t *, size_t *) ;
/* The part that path[0..n) names, or TERN_MIME_NONE (BINARY, webmail). */
extern uint32_t tern_mime_find (tern_mime const *, uint32_t const *, unsigned int) ;

/* ---- decoding ---- */

/* The content transfer encoding cte (TERN_CTE_*) of s[0..len) undone
   (base64 leniently, as RFC 2045 6.8 asks: other characters skipped;
   quoted-printable per 6.7, soft line breaks removed), appended to out:
   1, or 0 ENOMEM. 7bit, 8bit, binary and unknown ones are copied. */
extern int tern_mime_decode (stralloc *, char const *, size_t, unsigned int) ;
/* The octets tern_mime_decode would append, counted without a copy
   (BINARY.SIZE, RFC 3516 4.2): with crlf set, each LF of the decoded
   data not preceded by CR counted as two (a text part sent as CRLF). */
extern uint64_t tern_mime_decode_size (char const *, size_t, unsigned int, int) ;
/* s[0..len) in charset cs[0..cslen) converted to UTF-8 through iconv(3)
   and appended to out; an unknown charset, or invalid input, keeps what
   is valid UTF-8 and replaces the rest with U+FFFD: 1, or 0 ENOMEM. */
extern int tern_charset_utf8 (stralloc *, char const *, size_t, char const *, size_t) ;
/* The text of leaf part i (text/ANY, or message/ANY's header): its
   transfer encoding undone and its charset converted to UTF-8 (for
   text/html, the charset of a meta tag when Content-Type has none),
   and for text/html the text a reader sees (tern_html_text), appended
   to out: 1, or 0 ENOMEM. */
extern int tern_mime_text (stralloc *, tern_mime const *, uint32_t) ;
/* The text a reader sees in an HTML document s[0..len) (UTF-8): tags,
   comments, attributes, head, script and style dropped, entities
   decoded, block elements as line ends, white space collapsed (see
   tern_html_text.c), of at most the first TERN_HTML_MAX octets and
   TERN_HTML_TAGS tags; appended to out: 1, or 0 ENOMEM. */
#define TERN_HTML_MAX (1 << 20)
#define TERN_HTML_TAGS 10000
extern int tern_html_text (stralloc *, char const *, size_t) ;
/* The charset an HTML document declares in a meta tag of its first
   1024 octets: 1 with *cs, *len pointing into s, or 0. */
extern int tern_html_charset (char const *, size_t, char const **, size_t *) ;

/* PREVIEW (RFC 8970 3.3): the text a reader sees first (the first
   text/plain leaf that is no attachment, else the first text/html one
   as text), white space collapsed, at most TERN_PREVIEW_CHARS characters
   of UTF-8, from the first TERN_PREVIEW_SCAN octets of that part; appended
   to out (nothing when the message has no such part): 1, or 0 ENOMEM. */
#define TERN_PREVIEW_CHARS 256
#define TERN_PREVIEW_SCAN (1 << 20)
extern int tern_mime_preview (stralloc *, tern_mime const *) ;

/* ---- search (RFC 3501 6.4.4, i;unicode-casemap of RFC 5051) ---- */

/* The search form of UTF-8 text (case folded and normalised with
   libunistring; invalid octets kept as they are), appended to out. */
extern int tern_search_fold (stralloc *, char const *, size_t) ;
/* Whether needle (already in search form, nlen > 0) occurs in s[0..len)
   (UTF-8 text, not folded): 1 or 0, or -1 ENOMEM. No allocation when s
   is ASCII. */
extern int tern_search_match (char const *, size_t, char const *, size_t) ;
/* What the match of ASCII text goes by: A-Z as a-z, other octets kept;
   and whether a text is all ASCII. */
extern unsigned char const tern_search_lower[256] ;
#define tern_lower(c) (tern_search_lower[(unsigned char)(c)])
extern int tern_search_isascii (char const *, size_t) ;
/* SEARCH BODY (what TERN_MSEARCH_BODY) or TEXT (TERN_MSEARCH_TEXT: the
   headers too) of a parsed message: whether needle (search form)
   occurs in the decoded text of its text parts (and headers): 1, 0, or
   -1 ENOMEM. scratch is the caller's, reused between calls. */
#define TERN_MSEARCH_BODY 0
#define TERN_MSEARCH_TEXT 1
extern int tern_mime_search (tern_mime const *, unsigned int, char const *, size_t, stralloc *) ;
/* The texts those searches look in, one by one, to f(data, text, len)
   (UTF-8, not folded; in scratch, valid until the next): for TEXT each
   part's header as one text ("Name: value" lines, values decoded), and
   each text leaf, with its kind (TERN_MTEXT_*). f's first non-zero
   return ends the walk and is returned; 0 when every text was seen, -1
   ENOMEM. */
#define TERN_MTEXT_HEADER 0
#define TERN_MTEXT_LEAF 1
typedef int tern_mime_text_func (void *, unsigned int, char const *, size_t) ;
extern int tern_mime_texts (tern_mime const *, unsigned int, stralloc *, tern_mime_text_func *, void *) ;

#endif
