/* tern_maildir_emailid: a message's EMAILID (RFC 8474 5.1), from its file
   name, the index never asked: the ",I=" field of the unique name when
   it has a valid one (tern_store_copy writes the id of the message it
   copies or moves there, so that the id travels with the message), else
   "M" and 24 characters of the SHA-256 of the unique name, in the
   alphabet RFC 8474 3 allows (A-Z a-z 0-9 - _). The unique name of a
   file never changes (only its flags after ":2," do): the id is fixed. */

#include <string.h>
#include <skalibs/sha256.h>
#include "tern_store.h"

static char const alpha[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" ;

static int idchar (char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ;
}

size_t tern_maildir_emailid (char *out, char const *name, size_t len)
{
  size_t ul = tern_maildir_uniqlen(name, len) ;
  for (size_t i = 0 ; i + 3 < ul ; i++)
    if (name[i] == ',' && name[i+1] == 'I' && name[i+2] == '=')
    {
      size_t k = i + 3 ;
      while (k < ul && idchar(name[k])) k++ ;
      if ((k == ul || name[k] == ',') && k - i - 3 <= TERN_EMAILID_MAX)
      {
        memcpy(out, name + i + 3, k - i - 3) ;
        out[k - i - 3] = 0 ;
        return k - i - 3 ;
      }
    }
  {
    SHA256Schedule ctx = SHA256_INIT() ;
    unsigned char d[32] ;
    sha256_update(&ctx, name, ul) ;
    sha256_final(&ctx, (char *)d) ;
    out[0] = 'M' ;
    /* 18 octets, 6 bits a character */
    for (unsigned int i = 0 ; i < 6 ; i++)
    {
      uint32_t v = (uint32_t)d[3*i] << 16 | (uint32_t)d[3*i+1] << 8 | d[3*i+2] ;
      for (unsigned int j = 0 ; j < 4 ; j++) out[1 + 4*i + j] = alpha[(v >> (18 - 6*j)) & 63] ;
    }
    out[25] = 0 ;
    return 25 ;
  }
}
