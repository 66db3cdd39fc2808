/* tern_maildir_uidl: a message's POP3 unique-id (DESIGN.md): its Maildir
   unique name (the file name before ':'), or, where that falls outside
   RFC 1939 7's 1 to 70 characters 0x21 to 0x7E, the lowercase hex SHA-256
   of it (64 characters), fixed forever. */

#include <string.h>
#include <skalibs/sha256.h>
#include "tern.h"

size_t tern_maildir_uidl (char *out, char const *name, size_t len)
{
  char const *colon = memchr(name, ':', len) ;
  size_t n = colon ? (size_t)(colon - name) : len ;
  int ok = n >= 1 && n <= TERN_UIDL_MAX ;
  for (size_t i = 0 ; ok && i < n ; i++)
    if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e) ok = 0 ;
  if (ok)
  {
    memcpy(out, name, n) ;
    out[n] = 0 ;
    return n ;
  }
  {
    static char const hex[16] = "0123456789abcdef" ;
    SHA256Schedule ctx = SHA256_INIT() ;
    char digest[32] ;
    sha256_update(&ctx, name, n) ;
    sha256_final(&ctx, digest) ;
    for (unsigned int i = 0 ; i < 32 ; i++)
    {
      out[2*i] = hex[(unsigned char)digest[i] >> 4] ;
      out[2*i+1] = hex[(unsigned char)digest[i] & 15] ;
    }
    out[64] = 0 ;
    return 64 ;
  }
}
