/* tern_addr_sane: whether an address is a plain local@domain that tern
   accepts in its configuration (users, aliases): a dot-atom local part
   (RFC 5322 3.2.3 atext, UTF-8 allowed, RFC 6531) without '/', and a
   domain of letters, digits, '-', UTF-8 and single inner dots. No quoted
   local parts, no domain literals, no spaces, controls or colons. */

#include <string.h>
#include "tern.h"

static int dotatom (char const *s, size_t len, char const *extra)
{
  if (!len || s[0] == '.' || s[len-1] == '.') return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    unsigned char c = s[i] ;
    if (c == '.') { if (s[i+1] == '.') return 0 ; continue ; }
    if (c >= 0x80) continue ;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue ;
    if (!c || !strchr(extra, c)) return 0 ;
  }
  return 1 ;
}

int tern_addr_sane (char const *s, size_t len)
{
  size_t at = tern_addr_domain(s, len) ;
  if (at >= len || len > 320) return 0 ;
  return dotatom(s, at, "!#$%&'*+-=?^_`{|}~")
    && dotatom(s + at + 1, len - at - 1, "-") ;
}
