/* smtp-command: libFuzzer target for a whole SMTP command line as
   smtp-recv parses it: tern_smtp_verb, then tern_smtp_envcmd (MAIL and
   RCPT, with and without SMTPUTF8, which uses tern_smtp_path and
   tern_esmtp_param) or tern_smtp_bdat. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tern.h"

int LLVMFuzzerTestOneInput (uint8_t const *data, size_t size)
{
  char const *line = (char const *)data ;
  size_t arg ;
  unsigned int v = tern_smtp_verb(line, size, &arg) ;
  char *addr ;
  if (v >= TERN_SMTP_NVERBS || arg > size) abort() ;
  addr = malloc(size + 1) ;
  if (!addr) return 0 ;
  /* every line through both parsers, whatever its verb: more coverage */
  for (unsigned int in = 0 ; in < 4 ; in++)
  {
    tern_envcmd e ;
    int r = tern_smtp_envcmd(line + arg, size - arg, in, &e, addr) ;
    if (r < TERN_ENVCMD_OK || r > TERN_ENVCMD_8BIT) abort() ;
    if (r == TERN_ENVCMD_OK)
    {
      if (e.addrlen > size - arg || strlen(addr) != e.addrlen) abort() ;
      if (e.envid && (e.envid < line || e.envid + e.envidlen > line + size || memchr(e.envid, 0, e.envidlen))) abort() ;
      if (e.orcpt && (e.orcpt < line || e.orcpt + e.orcptlen > line + size || memchr(e.orcpt, 0, e.orcptlen))) abort() ;
      if (e.flags & TERN_ENV_UTF8ADDR && !(in & TERN_ENV_UTF8OK) && !(e.flags & TERN_ENV_SMTPUTF8)) abort() ;
    }
  }
  {
    uint64_t n ;
    int last ;
    (void)tern_smtp_bdat(line + arg, size - arg, &n, &last) ;
  }
  free(addr) ;
  return 0 ;
}
