/* tern_addrlist: the addr-specs of an RFC 5322 address-list (3.4), as found
   in To:, Cc: and Bcc:. Display names, comments (nested), groups and
   obsolete routes are dropped; quoted strings are kept as written. One
   pass, linear in the input. Each address is appended to sa NUL-terminated;
   returns the number found. Unfold the field body first (LF and CR are
   taken as white space anyway). */

#include <skalibs/stralloc.h>
#include "tern.h"

static int flush (stralloc *sa, stralloc *cur, size_t *n)
{
  /* trim, and drop an obsolete route "@a,@b:" (RFC 5322 4.4) */
  size_t start = 0, end = cur->len ;
  while (start < end && (cur->s[start] == ' ' || cur->s[start] == '\t')) start++ ;
  while (end > start && (cur->s[end-1] == ' ' || cur->s[end-1] == '\t')) end-- ;
  if (start < end && cur->s[start] == '@')
  {
    size_t i = start ;
    while (i < end && cur->s[i] != ':') i++ ;
    if (i < end) start = i + 1 ;
  }
  if (start < end)
  {
    if (!stralloc_catb(sa, cur->s + start, end - start) || !stralloc_0(sa)) return 0 ;
    (*n)++ ;
  }
  cur->len = 0 ;
  return 1 ;
}

int tern_addrlist (stralloc *sa, char const *s, size_t len)
{
  stralloc cur = STRALLOC_ZERO ;   /* the addr-spec being collected */
  stralloc angle = STRALLOC_ZERO ; /* inside <...> */
  size_t n = 0 ;
  unsigned int comment = 0 ;
  int inquote = 0, inangle = 0, hadangle = 0, inbracket = 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    char c = s[i] ;
    stralloc *dst = inangle ? &angle : &cur ;
    if (c == '\r' || c == '\n') c = ' ' ;
    if (inquote)
    {
      if (!stralloc_catb(dst, &c, 1)) goto err ;
      if (c == '\\' && i + 1 < len) { if (!stralloc_catb(dst, s + ++i, 1)) goto err ; }
      else if (c == '"') inquote = 0 ;
      continue ;
    }
    if (comment)
    {
      if (c == '\\') i++ ;
      else if (c == '(') comment++ ;
      else if (c == ')') comment-- ;
      continue ;
    }
    switch (c)
    {
      case '(' : comment = 1 ; break ;
      case '"' : inquote = 1 ; if (!stralloc_catb(dst, &c, 1)) goto err ; break ;
      case '<' : inangle = 1 ; hadangle = 1 ; angle.len = 0 ; break ;
      case '>' : if (inangle) inangle = 0 ; break ;
      case '[' : inbracket = 1 ; if (!stralloc_catb(dst, &c, 1)) goto err ; break ;
      case ']' : inbracket = 0 ; if (!stralloc_catb(dst, &c, 1)) goto err ; break ;
      case ':' :
        /* a group's display name ends here (outside <> and outside a
           domain literal such as [IPv6:2001:db8::1]) */
        if (inangle || inbracket) { if (!stralloc_catb(dst, &c, 1)) goto err ; }
        else cur.len = 0 ;
        break ;
      case ',' : case ';' :
        if (inangle || inbracket) { if (!stralloc_catb(dst, &c, 1)) goto err ; break ; }
        if (hadangle) { cur.len = 0 ; if (!stralloc_catb(&cur, angle.s, angle.len)) goto err ; }
        if (!flush(sa, &cur, &n)) goto err ;
        hadangle = 0 ;
        inbracket = 0 ;
        break ;
      case ' ' : case '\t' :
        /* white space between words of a display name or an obsolete
           dotted local part: an addr-spec has none outside quotes */
        break ;
      default :
        if (!stralloc_catb(dst, &c, 1)) goto err ;
    }
  }
  if (hadangle) { cur.len = 0 ; if (!stralloc_catb(&cur, angle.s, angle.len)) goto err ; }
  if (!flush(sa, &cur, &n)) goto err ;
  stralloc_free(&cur) ;
  stralloc_free(&angle) ;
  return (int)n ;
 err:
  stralloc_free(&cur) ;
  stralloc_free(&angle) ;
  return -1 ;
}
