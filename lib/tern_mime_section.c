/* tern_mime_section: the octets a BODY[section] covers (RFC 3501 6.4.5).
   [] is the whole message, [N] the body of part N, [N.MIME] its own
   header; HEADER, HEADER.FIELDS(.NOT) and TEXT are those of the top
   message, or, after a path, of the message a message/rfc822 part
   holds (of nothing else, as the RFC says). */

#include "tern_mime.h"

int tern_mime_section (tern_mime const *m, uint32_t const *path, unsigned int n, unsigned int kind, size_t *off, size_t *len)
{
  tern_mime_part const *p ;
  uint32_t i ;
  if (!tern_mime_nparts(m)) return 0 ;
  if (!n)
  {
    p = tern_mime_getpart(m, 0) ;
    switch (kind)
    {
      case TERN_SEC_ALL : *off = 0 ; *len = m->len ; return 1 ;
      case TERN_SEC_HEADER : case TERN_SEC_FIELDS : case TERN_SEC_FIELDS_NOT :
        *off = p->hdr ; *len = p->hdrlen ; return 1 ;
      case TERN_SEC_TEXT : *off = p->body ; *len = p->bodylen ; return 1 ;
      default : return 0 ;
    }
  }
  i = tern_mime_find(m, path, n) ;
  if (i == TERN_MIME_NONE) return 0 ;
  p = tern_mime_getpart(m, i) ;
  switch (kind)
  {
    case TERN_SEC_ALL : *off = p->body ; *len = p->bodylen ; return 1 ;
    case TERN_SEC_MIME : *off = p->hdr ; *len = p->hdrlen ; return 1 ;
    default : break ;
  }
  if (!(p->flags & TERN_MIME_RFC822) || p->child == TERN_MIME_NONE) return 0 ;
  p = tern_mime_getpart(m, p->child) ;
  switch (kind)
  {
    case TERN_SEC_HEADER : case TERN_SEC_FIELDS : case TERN_SEC_FIELDS_NOT :
      *off = p->hdr ; *len = p->hdrlen ; return 1 ;
    case TERN_SEC_TEXT : *off = p->body ; *len = p->bodylen ; return 1 ;
  }
  return 0 ;
}
