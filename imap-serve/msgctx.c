/* msgctx.c: one message of the selected folder while a command works on
   it: its record, its cache entry, its file mapped and parsed when the
   cache is not enough, and what parsing taught, for the cache. FETCH and
   SEARCH share it. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"

#define READMAX (256 * 1024)

/* s[0..len) with each LF not after CR made CRLF: its size as sent. */
uint64_t crlf_size (char const *s, size_t len)
{
  uint64_t n = len ;
  char const *e = s + len ;
  for (char const *q = s ; (q = memchr(q, '\n', e - q)) ; q++)
    if (q == s || q[-1] != '\r') n++ ;
  return n ;
}




int mctx_field (mctx *c, char type, char const **d, size_t *n)
{
  if (c->gotcache && tern_store_cache_field(c->cache.s, c->cache.len, type, d, n)) return 1 ;
  return tern_store_cache_field(c->newcache.s, c->newcache.len, type, d, n) ;
}

static void cache_add (mctx *c, char type, char const *d, size_t n)
{
  char h[5] = { type, (char)(n & 0xff), (char)(n >> 8 & 0xff), (char)(n >> 16 & 0xff), (char)(n >> 24 & 0xff) } ;
  if (!stralloc_catb(&c->newcache, h, 5) || !stralloc_catb(&c->newcache, d, n)) die_io("out-of-memory") ;
}

int mctx_map (mctx *c)
{
  struct stat s ;
  int fd ;
  if (c->map) return 1 ;
  fd = openat(c->m.incur ? S.st.curfd : S.st.newfd, c->name, O_RDONLY | O_NOATIME | O_NONBLOCK | O_CLOEXEC) ;
  if (fd < 0 && errno == EPERM) fd = openat(c->m.incur ? S.st.curfd : S.st.newfd, c->name, O_RDONLY | O_NONBLOCK | O_CLOEXEC) ;
  if (fd < 0) return 0 ;
  if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode)) { fd_close(fd) ; errno = EINVAL ; return 0 ; }
  c->maplen = s.st_size ;
  if (!c->maplen) { c->map = "" ; fd_close(fd) ; return 1 ; }
  if (c->readok && c->maplen <= READMAX)
  {
    /* read(2) costs less than a mapping's page faults and unmapping for
       a small file read once */
    char *b = malloc(c->maplen) ;
    ssize_t r = b ? read(fd, b, c->maplen) : -1 ;
    fd_close(fd) ;
    if (r != (ssize_t)c->maplen) { free(b) ; errno = r < 0 ? errno : EIO ; return 0 ; }
    c->map = b ;
    c->onheap = 1 ;
    return 1 ;
  }
  c->map = mmap(0, c->maplen, PROT_READ, MAP_PRIVATE, fd, 0) ;
  fd_close(fd) ;
  if (c->map == MAP_FAILED) { c->map = 0 ; return 0 ; }
  return 1 ;
}

int mctx_parse (mctx *c, int headeronly)
{
  size_t len ;
  if (c->parsed) return 1 ;
  if (!mctx_map(c)) return 0 ;
  len = c->maplen ;
  if (headeronly)
  {
    /* ENVELOPE alone: the header is all that is read of the file */
    char const *e = memmem(c->map, len, "\n\n", 2) ;
    char const *e2 = memmem(c->map, len, "\n\r\n", 3) ;
    if (e2 && (!e || e2 < e)) e = e2 + 1 ;
    if (e) len = e - c->map + 2 ;
  }
  if (!tern_mime_parse(&c->mime, c->map, len)) die_io("out-of-memory") ;
  c->parsed = 1 ;
  return 1 ;
}

/* What the header gives the cache (ENVELOPE, decoded fields for SEARCH). */
void mctx_learn_header (mctx *c)
{
  tern_mime_part const *top ;
  stralloc sa = STRALLOC_ZERO ;
  char const *d ;
  size_t n ;
  if (mctx_field(c, TERN_C_ENVELOPE, &d, &n)) return ;
  top = tern_mime_getpart(&c->mime, 0) ;
  if (!tern_imap_envelope(&sa, c->map + top->hdr, top->hdrlen, 0)) die_io("out-of-memory") ;
  cache_add(c, TERN_C_ENVELOPE, sa.s, sa.len) ;
  cache_add(c, TERN_C_HDRSIZE, (char const *)&top->hdrsize, 8) ;
  {
    static struct { char const *name ; char type ; } const f[] =
    { { "Subject", TERN_C_SUBJECT }, { "From", TERN_C_FROM }, { "To", TERN_C_TO }, { "Cc", TERN_C_CC }, { "Bcc", TERN_C_BCC } } ;
    for (unsigned int i = 0 ; i < 5 ; i++)
    {
      char const *v ;
      size_t vl ;
      unsigned int k = 0 ;
      sa.len = 0 ;
      for (; tern_hdr_find(c->map + top->hdr, top->hdrlen, f[i].name, k, &v, &vl) ; k++)
      {
        if (k && !stralloc_catb(&sa, " ", 1)) die_io("out-of-memory") ;
        /* addresses as "name <mailbox@host>", so that a search finds
           the address however the field wrote it (comments, groups) */
        if (!(i ? tern_imap_addrtext(&sa, v, vl) : tern_hdr_decode(&sa, v, vl))) die_io("out-of-memory") ;
      }
      /* only the fields the message has: an absent one is no "" */
      if (k) cache_add(c, f[i].type, sa.s, sa.len) ;
    }
  }
  {
    char const *v ;
    size_t vl ;
    int64_t t ;
    int tz ;
    if (tern_hdr_find(c->map + top->hdr, top->hdrlen, "Date", 0, &v, &vl) && tern_date822_scan(v, vl, &t, &tz))
    {
      /* the date as its own zone says it: SENT* compare days (RFC 3501 6.4.4) */
      int64_t local = t + (int64_t)tz * 60 ;
      cache_add(c, TERN_C_DATE, (char const *)&local, 8) ;
    }
  }
  mctx_references(c, &d, &n) ;
  stralloc_free(&sa) ;
}

/* The References: field (THREAD REFERENCES), from the cache, else from
   the header (parsed if it is not yet: entries older than the field). */
int mctx_references (mctx *c, char const **d, size_t *n)
{
  tern_mime_part const *top ;
  if (mctx_field(c, TERN_C_REFERENCES, d, n)) return 1 ;
  if (!mctx_parse(c, 1)) return 0 ;
  top = tern_mime_getpart(&c->mime, 0) ;
  if (!tern_hdr_find(c->map + top->hdr, top->hdrlen, "References", 0, d, n)) *n = 0 ;
  cache_add(c, TERN_C_REFERENCES, *d, *n) ;
  return mctx_field(c, TERN_C_REFERENCES, d, n) ;
}

/* PREVIEW's text (RFC 8970), from a message parsed whole. */
void mctx_learn_preview (mctx *c)
{
  stralloc sa = STRALLOC_ZERO ;
  char const *d ;
  size_t n ;
  if (mctx_field(c, TERN_C_PREVIEW, &d, &n)) return ;
  if (!tern_mime_preview(&sa, &c->mime)) die_io("out-of-memory") ;
  cache_add(c, TERN_C_PREVIEW, sa.s ? sa.s : "", sa.len) ;
  stralloc_free(&sa) ;
}

void mctx_learn_struct (mctx *c)
{
  stralloc sa = STRALLOC_ZERO ;
  char const *d ;
  size_t n ;
  if (!mctx_field(c, TERN_C_BODYSTRUCTURE, &d, &n))
  {
    if (!tern_imap_bodystructure(&sa, &c->mime, 0, 1, 0)) die_io("out-of-memory") ;
    cache_add(c, TERN_C_BODYSTRUCTURE, sa.s, sa.len) ;
  }
  if (!mctx_field(c, TERN_C_BODY, &d, &n))
  {
    sa.len = 0 ;
    if (!tern_imap_bodystructure(&sa, &c->mime, 0, 0, 0)) die_io("out-of-memory") ;
    cache_add(c, TERN_C_BODY, sa.s, sa.len) ;
  }
  stralloc_free(&sa) ;
  /* the message is parsed whole now: PREVIEW (LAZY) will find it */
  mctx_learn_preview(c) ;
}

void mctx_free (mctx *c)
{
  if (c->parsed) tern_mime_free(&c->mime) ;
  c->parsed = 0 ;
  c->mime = (tern_mime)TERN_MIME_ZERO ;
  if (c->map && c->maplen)
  {
    if (c->onheap) free((void *)c->map) ;
    else munmap((void *)c->map, c->maplen) ;
  }
  c->onheap = 0 ;
  c->map = 0 ;
}

