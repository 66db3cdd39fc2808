/* tern_lower: ASCII lowercase in place (UTF-8 bytes are left alone). */

#include "tern.h"

void tern_lower (char *s, size_t len)
{
  for (size_t i = 0 ; i < len ; i++)
    if (s[i] >= 'A' && s[i] <= 'Z') s[i] += 'a' - 'A' ;
}
