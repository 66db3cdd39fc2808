/* tern_imap_envread: an ENVELOPE as tern_imap_envelope writes it (the
   cache keeps it) read back: its items, for SORT and THREAD. */

#include <string.h>
#include "tern_mime.h"

/* One item from s[*pos]: NIL (kind 0), a quoted string (1, its inside
   with the escapes), a literal (2, its octets), a list (3, its inside);
   *pos moves past it. 0 when malformed (the cache is ours: it is not,
   but a wrong entry must not crash us). */
int tern_env_item (char const *s, size_t len, size_t *pos, tern_env_it *it, unsigned int depth)
{
  size_t i = *pos ;
  while (i < len && s[i] == ' ') i++ ;
  if (i >= len) return 0 ;
  if (s[i] == '"')
  {
    size_t b = ++i ;
    for (;;)
    {
      /* the next quote not escaped: an even run of backslashes before it */
      char const *q = memchr(s + i, '"', len - i) ;
      size_t k ;
      if (!q) return 0 ;
      i = q - s ;
      for (k = i ; k > b && s[k-1] == '\\' ; k--) ;
      if (!((i - k) & 1)) break ;
      i++ ;
    }
    it->kind = 1 ; it->s = s + b ; it->len = i - b ;
    i++ ;
  }
  else if (s[i] == '{')
  {
    uint64_t n = 0 ;
    for (i++ ; i < len && s[i] >= '0' && s[i] <= '9' && n < len ; i++) n = n * 10 + (s[i] - '0') ;
    if (len - i < 3 || memcmp(s + i, "}\r\n", 3) || n > len - i - 3) return 0 ;
    i += 3 ;
    it->kind = 2 ; it->s = s + i ; it->len = n ;
    i += n ;
  }
  else if (s[i] == '(')
  {
    size_t b = ++i ;
    if (depth >= 8) return 0 ;
    for (;;)
    {
      tern_env_it sub ;
      while (i < len && s[i] == ' ') i++ ;
      if (i >= len) return 0 ;
      if (s[i] == ')') break ;
      if (!tern_env_item(s, len, &i, &sub, depth + 1)) return 0 ;
    }
    it->kind = 3 ; it->s = s + b ; it->len = i - b ;
    i++ ;
  }
  else if (len - i >= 3 && !memcmp(s + i, "NIL", 3)) { it->kind = 0 ; it->s = 0 ; it->len = 0 ; i += 3 ; }
  else return 0 ;
  *pos = i ;
  return 1 ;
}

/* Items 0 to k of the envelope (0 date, 1 subject, 2 from, ... 9
   message-id) into it[0..k], read as far as item k only. */
int tern_env_fields (char const *env, size_t len, unsigned int k, tern_env_it *it)
{
  size_t pos = 1 ;
  if (!len || env[0] != '(') return 0 ;
  for (unsigned int i = 0 ; i <= k ; i++)
    if (!tern_env_item(env, len, &pos, it + i, 1)) return 0 ;
  return 1 ;
}

/* Item k alone */
int tern_env_field (char const *env, size_t len, unsigned int k, tern_env_it *it)
{
  tern_env_it v[10] ;
  if (k >= 10 || !tern_env_fields(env, len, k, v)) return 0 ;
  *it = v[k] ;
  return 1 ;
}
