/* mime-7bit: libFuzzer target for tern_mime_7bit (the 8BITMIME downgrade).
   Runs the scan and the emit pass on the input as a file and checks what
   the converter promises: no crash, bounded work, and a message with no
   8-bit octet and no "8bit"/"binary" label comes out unchanged. */

#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/mman.h>
#include <skalibs/stralloc.h>
#include "tern.h"

static int sink (void *ctx, char const *s, size_t n)
{
  return stralloc_catb((stralloc *)ctx, s, n) ;
}

static int has (uint8_t const *d, size_t n, char const *w)
{
  size_t wl = strlen(w) ;
  for (size_t i = 0 ; i + wl <= n ; i++) if (!strncasecmp((char const *)d + i, w, wl)) return 1 ;
  return 0 ;
}

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  stralloc flags = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  int fd = memfd_create("mime", 0) ;
  int plain = 1 ;
  if (fd < 0) return 0 ;
  if (write(fd, data, size) != (ssize_t)size) abort() ;
  if (lseek(fd, 0, SEEK_SET) < 0 || !tern_mime_7bit(fd, &flags, TERN_MIME_SCAN, 0, 0)) abort() ;
  if (lseek(fd, 0, SEEK_SET) < 0 || !tern_mime_7bit(fd, &flags, TERN_MIME_EMIT, &sink, &out)) abort() ;
  for (size_t i = 0 ; i < size ; i++) if (data[i] >= 0x80) { plain = 0 ; break ; }
  if (plain && !has(data, size, "8bit") && !has(data, size, "binary"))
    if (out.len != size || (size && memcmp(out.s, data, size))) abort() ;
  if (out.len > 4 * size + 4096) abort() ;
  close(fd) ;
  stralloc_free(&flags) ;
  stralloc_free(&out) ;
  return 0 ;
}
