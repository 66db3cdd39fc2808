/* tern_mime_find: the part a section path names (RFC 3501 6.4.5). A
   message's parts are numbered from 1: the parts of its multipart body,
   or, when its body is not multipart, the body itself as part 1. The
   numbers below a multipart number its parts; below a message/rfc822
   part they number the parts of the enclosed message. RFC 3501 says no
   more; as Dovecot, a body part that is neither has itself as its part
   1 (so [1.1] of a text part is that part), once. Anything else (0,
   past the last part, deeper below a leaf) names no part. */

#include "tern_mime.h"

static uint32_t nth (tern_mime const *m, tern_mime_part const *p, uint32_t k)
{
  uint32_t c = p->child ;
  if (!k) return TERN_MIME_NONE ;
  while (c != TERN_MIME_NONE && --k) c = tern_mime_getpart(m, c)->next ;
  return c ;
}

uint32_t tern_mime_find (tern_mime const *m, uint32_t const *path, unsigned int n)
{
  uint32_t cur = 0 ;
  int atmsg = 1 ;   /* cur is a message whose parts are being numbered */
  int stayed = 0 ;  /* cur was reached by a "1" that stayed on it */
  if (!tern_mime_nparts(m)) return TERN_MIME_NONE ;
  for (unsigned int i = 0 ; i < n ; i++)
  {
    tern_mime_part const *p = tern_mime_getpart(m, cur) ;
    if (!atmsg && p->flags & TERN_MIME_RFC822 && p->child != TERN_MIME_NONE)
    {
      cur = p->child ;
      p = tern_mime_getpart(m, cur) ;
      atmsg = 1 ;
    }
    if (p->flags & TERN_MIME_MULTIPART) { cur = nth(m, p, path[i]) ; stayed = 0 ; }
    else if (path[i] != 1 || (!atmsg && stayed)) cur = TERN_MIME_NONE ;
    else stayed = 1 ;
    if (cur == TERN_MIME_NONE) return cur ;
    atmsg = 0 ;
  }
  return cur ;
}
