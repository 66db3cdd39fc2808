/* tern_sasl_plain: splits a decoded SASL PLAIN message (RFC 4616 2):
   [authzid] NUL authcid NUL passwd, each part without NUL, authcid and
   passwd not empty. The caller caps the lengths. */

#include <string.h>
#include "tern.h"

int tern_sasl_plain (char const *s, size_t len, tern_sasl_plain_t *p)
{
  char const *z = memchr(s, 0, len), *c ;
  if (!z) return 0 ;
  c = memchr(z + 1, 0, len - (z + 1 - s)) ;
  if (!c) return 0 ;
  p->authzid = s ; p->authzidlen = z - s ;
  p->authcid = z + 1 ; p->authcidlen = c - (z + 1) ;
  p->passwd = c + 1 ; p->passwdlen = len - (c + 1 - s) ;
  if (memchr(p->passwd, 0, p->passwdlen)) return 0 ;
  if (!p->authcidlen || !p->passwdlen) return 0 ;
  return 1 ;
}
