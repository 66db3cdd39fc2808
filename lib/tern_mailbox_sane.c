/* tern_mailbox_sane: whether a mailbox value from users.cdb (len octets,
   not NUL-terminated) stays under mail/: a relative path of non-empty
   components, none of them "." or "..", and no NUL. deliver and pwcheck
   both check it before making a path of it, so that they agree on which
   values they refuse. */

#include <string.h>

#include <skalibs/bytestr.h>

#include "tern.h"

int tern_mailbox_sane (char const *s, size_t len)
{
  if (!len || s[0] == '/' || memchr(s, 0, len)) return 0 ;
  for (size_t i = 0 ; i < len ; )
  {
    size_t n = byte_chr(s + i, len - i, '/') ;
    if (!n || (n == 1 && s[i] == '.') || (n == 2 && s[i] == '.' && s[i+1] == '.')) return 0 ;
    i += n + 1 ;
  }
  return 1 ;
}
