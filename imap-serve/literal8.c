/* literal8.c: an APPENDed literal8 (RFC 3516 4.4) made a Maildir file.

   The literal was spooled as it came. A Maildir file has LF line ends
   (IMAP sends each LF back as CRLF), so a part whose body is binary
   would not survive: its bare CR and LF would come back as CRLF, and
   its NULs would go out in BODY[], where neither a literal nor a
   literal8 may carry them (RFC 3516 4.3: literal8 is for BINARY only).
   So, as Dovecot does, a leaf part whose body is binary is stored in
   base64 (RFC 2045 6.8), its Content-Transfer-Encoding changed to
   base64: BODY[] is then 7bit text, and BINARY (which undoes the base64)
   gives back the very octets appended. A body is binary when its
   Content-Transfer-Encoding is binary, or when it is 7bit or 8bit
   (named, or by default) and holds a NUL, a CR not before an LF, or an
   LF not after a CR (RFC 2045 2.7, 2.8: what 7bit and 8bit lines cannot
   have). Every other octet of the message is kept, CRLF made LF as for
   a literal.

   The MIME structure is read on the raw literal (tern_mime_parse takes
   CRLF), mapped from its spool file; the new file is written as a stream
   through one buffer: time linear in the literal, memory the parse's
   (bounded by TERN_MIME_PARTS) and the buffer's, whatever the sizes. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include "imap-serve.h"

#define B64LINE 57   /* octets per line of base64: 76 characters (RFC 2045 6.8) */

typedef struct out_s out ;
struct out_s
{
  int fd ;
  int ok ;
  int cr ;             /* a CR read and not written yet (CRLF is made LF) */
  char last ;          /* the last octet written */
  uint64_t filesize ;  /* octets written */
  uint64_t vsize ;     /* the same as IMAP sends them: an LF not after a CR counts two */
  size_t len ;
  char buf[65536] ;
} ;

static void out_flush (out *o)
{
  if (o->ok && o->len && allwrite(o->fd, o->buf, o->len) != o->len) o->ok = 0 ;
  o->len = 0 ;
}

static void out_byte (out *o, char c)
{
  if (o->len == sizeof(o->buf)) out_flush(o) ;
  o->buf[o->len++] = c ;
  o->filesize++ ;
  o->vsize += c == '\n' && o->last != '\r' ? 2 : 1 ;
  o->last = c ;
}

/* octets written as they are, after a CR held back */
static void out_raw (out *o, char const *s, size_t n)
{
  if (o->cr) { out_byte(o, '\r') ; o->cr = 0 ; }
  for (size_t i = 0 ; i < n ; i++) out_byte(o, s[i]) ;
}

/* the message's own text: CRLF made LF, a bare CR or LF kept */
static void out_text (out *o, char const *s, size_t n)
{
  for (size_t i = 0 ; i < n ; i++)
  {
    char c = s[i] ;
    if (o->cr && c != '\n') out_byte(o, '\r') ;
    o->cr = c == '\r' ;
    if (!o->cr) out_byte(o, c) ;
  }
}

/* s[0..n) in base64, lines of 76 characters ended by LF, but for the
   last one when nofinal (the line end of a delimiter follows) */
static void out_base64 (out *o, char const *s, size_t n, int nofinal)
{
  static char const b64[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" ;
  unsigned char const *u = (unsigned char const *)s ;
  for (size_t i = 0 ; i < n ; i += B64LINE)
  {
    size_t k = n - i < B64LINE ? n - i : B64LINE, j = 0 ;
    char line[B64LINE / 3 * 4 + 1] ;
    size_t l = 0 ;
    for (; j + 3 <= k ; j += 3)
    {
      unsigned char const *x = u + i + j ;
      line[l++] = b64[x[0] >> 2] ;
      line[l++] = b64[(x[0] & 3) << 4 | x[1] >> 4] ;
      line[l++] = b64[(x[1] & 15) << 2 | x[2] >> 6] ;
      line[l++] = b64[x[2] & 63] ;
    }
    if (k - j)
    {
      unsigned char const *x = u + i + j ;
      line[l++] = b64[x[0] >> 2] ;
      line[l++] = b64[(x[0] & 3) << 4 | (k - j == 2 ? x[1] >> 4 : 0)] ;
      line[l++] = k - j == 2 ? b64[(x[1] & 15) << 2] : '=' ;
      line[l++] = '=' ;
    }
    if (i + k < n || !nofinal) line[l++] = '\n' ;
    out_raw(o, line, l) ;
  }
}

/* Is leaf part pt's body binary (see above)? */
static int binary_body (char const *s, tern_mime_part const *pt)
{
  char const *b = s + pt->body ;
  size_t n = pt->bodylen ;
  if (pt->flags & (TERN_MIME_MULTIPART | TERN_MIME_RFC822 | TERN_MIME_CAPPED) || pt->child != TERN_MIME_NONE || !n) return 0 ;
  if (pt->cte == TERN_CTE_BINARY) return 1 ;
  if (pt->cte != TERN_CTE_7BIT && pt->cte != TERN_CTE_8BIT) return 0 ;
  if (memchr(b, 0, n)) return 1 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if (b[i] == '\r' && (i + 1 == n || b[i+1] != '\n')) return 1 ;
    if (b[i] == '\n' && (!i || b[i-1] != '\r')) return 1 ;
  }
  return 0 ;
}

/* Part pt (binary) written up to where its body ends, from *pos (where
   what was written so far ends, before pt's header): its header with the
   transfer encoding made base64, then the body in base64. */
static void convert_part (out *o, tern_mime const *m, tern_mime_part const *pt, size_t *pos)
{
  char const *s = m->msg, *h = s + pt->hdr, *v ;
  size_t hl = pt->hdrlen, vl, end = pt->hdr + hl, ins = end ;
  tern_mime_part const *parent = pt->parent == TERN_MIME_NONE ? 0 : tern_mime_getpart(m, pt->parent) ;
  /* a message (not a part of a multipart) needs MIME-Version for its
     Content-Transfer-Encoding to count (RFC 2045 4) */
  int mimever = !(parent && parent->flags & TERN_MIME_MULTIPART) && !tern_hdr_find(h, hl, "MIME-Version", 0, &v, &vl) ;
  /* new fields go at the header's end, before its empty line */
  if (ins > pt->hdr && s[ins-1] == '\n') ins-- ;
  if (ins > pt->hdr && s[ins-1] == '\r') ins-- ;
  /* the first Content-Transfer-Encoding is the one that counts (tern_mime_parse) */
  if (tern_hdr_find(h, hl, "Content-Transfer-Encoding", 0, &v, &vl))
  {
    out_text(o, s + *pos, v - s - *pos) ;
    out_raw(o, " base64", 7) ;
    out_text(o, v + vl, s + ins - (v + vl)) ;
  }
  else
  {
    out_text(o, s + *pos, ins - *pos) ;
    out_raw(o, "Content-Transfer-Encoding: base64\n", 34) ;
  }
  if (mimever) out_raw(o, "MIME-Version: 1.0\n", 18) ;
  out_text(o, s + ins, end - ins) ;
  /* the empty line ends the header: the body follows it */
  out_base64(o, s + pt->body, pt->bodylen, pt->body + pt->bodylen < m->len) ;
  *pos = pt->body + pt->bodylen ;
}

static int convert (out *o, char const *s, size_t n)
{
  tern_mime m = TERN_MIME_ZERO ;
  size_t pos = 0 ;
  if (!tern_mime_parse(&m, s, n)) { tern_mime_free(&m) ; return 0 ; }
  for (uint32_t i = 0 ; i < tern_mime_nparts(&m) ; i++)
  {
    tern_mime_part const *pt = tern_mime_getpart(&m, i) ;
    /* parts come in the order of the message; a leaf holds no other */
    if (pt->hdr >= pos && binary_body(s, pt)) convert_part(o, &m, pt, &pos) ;
  }
  out_text(o, s + pos, n - pos) ;
  if (o->cr) out_raw(o, "", 0) ;
  tern_mime_free(&m) ;
  return 1 ;
}

/* The literal8 spooled as it came in rawfd (n octets) made the Maildir
   file name in dirfd, fsynced: 1 with *fd (open on it), *filesize and
   *vsize (its size as IMAP sends it back: RFC822.SIZE), or 0 with errno
   (name removed). */
int literal8_store (int dirfd, int rawfd, uint64_t n, char const *name, int *fd, uint64_t *filesize, uint64_t *vsize)
{
  static out o ;
  void *map = 0 ;
  int e ;
  if (n > SIZE_MAX) { errno = EFBIG ; return 0 ; }
  if (n)
  {
    map = mmap(0, n, PROT_READ, MAP_PRIVATE, rawfd, 0) ;
    if (map == MAP_FAILED) return 0 ;
  }
  o.fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) ;
  if (o.fd < 0) { e = errno ; if (map) munmap(map, n) ; errno = e ; return 0 ; }
  o.ok = 1 ; o.cr = 0 ; o.last = 0 ; o.filesize = o.vsize = 0 ; o.len = 0 ;
  if (!convert(&o, map ? map : "", n)) o.ok = 0 ;
  out_flush(&o) ;
  e = errno ;
  if (map) munmap(map, n) ;
  /* durable before the message is linked into cur/ and its UID given */
  if (o.ok && fsync(o.fd) < 0) { e = errno ; o.ok = 0 ; }
  if (!o.ok)
  {
    fd_close(o.fd) ;
    unlinkat(dirfd, name, 0) ;
    errno = e ;
    return 0 ;
  }
  *fd = o.fd ;
  *filesize = o.filesize ;
  *vsize = o.vsize ;
  return 1 ;
}
