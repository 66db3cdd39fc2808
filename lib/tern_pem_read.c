/* tern_pem_read: certificates and keys from a file, as DER. PEM text is
   decoded by BearSSL's PEM decoder, object by object with its name; a
   file with no "-----BEGIN " line is taken as one DER object. Whoever
   calls this links BearSSL: tlsd (its certificate chains and keys) and
   smtp-send (trust anchors). The file's text, which may hold a private
   key, is wiped before returning. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bearssl.h>

#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/djbunix.h>

#include "tern.h"

struct dest_s
{
  stralloc *sa ;
  int nomem ;
} ;

static void append (void *p, void const *s, size_t n)
{
  struct dest_s *d = p ;
  if (!d->nomem && !stralloc_catb(d->sa, s, n)) d->nomem = 1 ;
}

static int readfile (stralloc *txt, char const *file, size_t max)
{
  struct stat st ;
  int fd = open_readb(file) ;
  if (fd < 0) return 0 ;
  if (fstat(fd, &st) < 0) goto err ;
  if (!S_ISREG(st.st_mode)) { errno = EINVAL ; goto err ; }
  if ((size_t)st.st_size > max) { errno = EFBIG ; goto err ; }
  /* room for one octet more than the size (a file that grew), and the LF added below */
  if (!stralloc_ready(txt, (size_t)st.st_size + 2)) goto err ;
  for (;;)
  {
    ssize_t r = read(fd, txt->s + txt->len, (size_t)st.st_size + 1 - txt->len) ;
    if (r < 0) { if (errno == EINTR) continue ; goto err ; }
    if (!r) break ;
    txt->len += r ;
    if (txt->len > (size_t)st.st_size) { errno = EFBIG ; goto err ; }
  }
  fd_close(fd) ;
  return 1 ;
 err:
  fd_close(fd) ;
  return 0 ;
}

static int decode_pem (char const *s, size_t len, stralloc *sa, genalloc *ga)
{
  br_pem_decoder_context pc ;
  struct dest_s d = { .sa = sa, .nomem = 0 } ;
  tern_pem cur = { .name = 0, .data = 0, .len = 0 } ;
  int inobj = 0 ;
  br_pem_decoder_init(&pc) ;
  while (len)
  {
    size_t k = br_pem_decoder_push(&pc, s, len) ;
    s += k ; len -= k ;
    switch (br_pem_decoder_event(&pc))
    {
      case BR_PEM_BEGIN_OBJ :
        cur.name = sa->len ;
        if (!stralloc_cats(sa, br_pem_decoder_name(&pc)) || !stralloc_0(sa)) return 0 ;
        cur.data = sa->len ;
        br_pem_decoder_setdest(&pc, &append, &d) ;
        inobj = 1 ;
        break ;
      case BR_PEM_END_OBJ :
        if (d.nomem) { errno = ENOMEM ; return 0 ; }
        cur.len = sa->len - cur.data ;
        if (!genalloc_append(tern_pem, ga, &cur)) return 0 ;
        inobj = 0 ;
        break ;
      case BR_PEM_ERROR :
        errno = EINVAL ;
        return 0 ;
      default : break ;
    }
  }
  if (inobj || d.nomem) { errno = d.nomem ? ENOMEM : EINVAL ; return 0 ; }
  return 1 ;
}

int tern_pem_read (char const *file, size_t max, stralloc *sa, genalloc *ga)
{
  stralloc txt = STRALLOC_ZERO ;
  int r ;
  if (!readfile(&txt, file, max)) goto err ;
  if (memmem(txt.s, txt.len, "-----BEGIN ", 11))
  {
    /* the decoder needs a line end after the last END line */
    txt.s[txt.len++] = '\n' ;
    r = decode_pem(txt.s, txt.len, sa, ga) ;
  }
  else
  {
    /* DER: an ASN.1 SEQUENCE, or nothing we know */
    tern_pem cur = { .name = sa->len, .data = sa->len + 1, .len = txt.len } ;
    if (!txt.len || (unsigned char)txt.s[0] != 0x30) { errno = EINVAL ; goto err ; }
    r = stralloc_0(sa) && stralloc_catb(sa, txt.s, txt.len) && genalloc_append(tern_pem, ga, &cur) ;
  }
  if (!r) goto err ;
  byte_zzero(txt.s, txt.a) ;
  stralloc_free(&txt) ;
  return 1 ;
 err:
  {
    int e = errno ;
    if (txt.s) byte_zzero(txt.s, txt.a) ;
    stralloc_free(&txt) ;
    errno = e ;
  }
  return 0 ;
}
