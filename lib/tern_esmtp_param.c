/* tern_esmtp_param: the next ESMTP parameter of a MAIL or RCPT line,
   RFC 5321 4.1.2:
     esmtp-param = esmtp-keyword ["=" esmtp-value]
     esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
     esmtp-value = 1*(%d33-60 / %d62-126)     ; RFC 6531 3.3 adds UTF-8
   Parameters are separated by SP; extra spaces are tolerated. Whether a
   non-ASCII value is allowed is the caller's decision (SMTPUTF8). */

#include "tern.h"

static int is_alnum (unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ;
}

int tern_esmtp_param (char const *str, size_t len, size_t *pos, tern_esmtp_param_t *p)
{
  unsigned char const *s = (unsigned char const *)str ;
  size_t i = *pos, start ;
  if (i < len && s[i] != ' ') return -1 ;   /* parameters follow a space */
  while (i < len && s[i] == ' ') i++ ;
  if (i >= len) { *pos = i ; return 0 ; }
  start = i ;
  if (!is_alnum(s[i])) return -1 ;
  while (i < len && (is_alnum(s[i]) || s[i] == '-')) i++ ;
  p->key = str + start ;
  p->keylen = i - start ;
  p->val = 0 ;
  p->vallen = 0 ;
  p->utf8 = 0 ;
  if (i < len && s[i] == '=')
  {
    start = ++i ;
    while (i < len && s[i] != ' ')
    {
      if (s[i] >= 0x80) p->utf8 = 1 ;
      else if (s[i] < 33 || s[i] == '=' || s[i] == 127) return -1 ;
      i++ ;
    }
    if (i == start) return -1 ;
    p->val = str + start ;
    p->vallen = i - start ;
  }
  if (i < len && s[i] != ' ') return -1 ;
  *pos = i ;
  return 1 ;
}
