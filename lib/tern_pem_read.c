/* tern_pem_read: certificates and keys from a file, as DER: PEM text
   object by object with its name; a file with no "-----BEGIN " line is
   taken as one DER object. Used by tlsd (its certificate chains and keys)
   and smtp-send (trust anchors). The file's text, which may hold a private
   key, is wiped before returning. */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/djbunix.h>

#include "tern.h"

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

/* PEM (RFC 7468): "-----BEGIN NAME-----" lines, base64 lines, an END
   line; text outside objects is ignored. Decoded here, line by line with
   tern_base64_decode, rather than by BearSSL's byte-at-a-time decoder,
   which costs 65 ms for the system's CA bundle at each smtp-send run. */
static int decode_pem (char const *s, size_t len, stralloc *sa, genalloc *ga)
{
  stralloc b64 = STRALLOC_ZERO ;
  tern_pem cur = { .name = 0, .data = 0, .len = 0 } ;
  int inobj = 0 ;
  size_t i = 0 ;
  while (i < len)
  {
    size_t e = i + byte_chr(s + i, len - i, '\n'), end = e ;
    while (end > i && (s[end-1] == '\r' || s[end-1] == ' ' || s[end-1] == '\t')) end-- ;
    if (!inobj)
    {
      if (end - i > 16 && !memcmp(s + i, "-----BEGIN ", 11) && !memcmp(s + end - 5, "-----", 5))
      {
        cur.name = sa->len ;
        if (!stralloc_catb(sa, s + i + 11, end - i - 16) || !stralloc_0(sa)) goto err ;
        cur.data = sa->len ;
        b64.len = 0 ;
        inobj = 1 ;
      }
    }
    else if (end - i >= 9 && !memcmp(s + i, "-----END ", 9))
    {
      ssize_t n ;
      if (!stralloc_readyplus(sa, b64.len / 4 * 3 + 3)) goto err ;
      n = tern_base64_decode(sa->s + sa->len, b64.s, b64.len) ;
      if (n < 0) { errno = EINVAL ; goto err ; }
      sa->len += n ;
      cur.len = sa->len - cur.data ;
      if (!genalloc_append(tern_pem, ga, &cur)) goto err ;
      inobj = 0 ;
    }
    else
    {
      /* a header line ("Proc-Type: 4,ENCRYPTED"...) is nothing we can use */
      if (byte_chr(s + i, end - i, ':') < end - i) { errno = EINVAL ; goto err ; }
      for (size_t k = i ; k < end ; k++)
        if (s[k] != ' ' && s[k] != '\t' && !stralloc_catb(&b64, s + k, 1)) goto err ;
    }
    i = e + 1 ;
  }
  if (inobj) { errno = EINVAL ; goto err ; }
  if (b64.s) byte_zzero(b64.s, b64.a) ;
  stralloc_free(&b64) ;
  return 1 ;
 err:
  {
    int ee = errno ;
    if (b64.s) byte_zzero(b64.s, b64.a) ;
    stralloc_free(&b64) ;
    errno = ee ;
  }
  return 0 ;
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
