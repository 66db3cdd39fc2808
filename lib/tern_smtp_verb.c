/* tern_smtp_verb: which SMTP command a line is (RFC 5321 4.1.1), and
   whether it is an HTTP request sent to the SMTP port instead. */

#include <string.h>
#include <strings.h>
#include "tern.h"

static char const *const verbs[TERN_SMTP_NVERBS] =
{
  [TERN_SMTP_HELO] = "HELO", [TERN_SMTP_EHLO] = "EHLO", [TERN_SMTP_MAIL] = "MAIL",
  [TERN_SMTP_RCPT] = "RCPT", [TERN_SMTP_DATA] = "DATA", [TERN_SMTP_BDAT] = "BDAT",
  [TERN_SMTP_RSET] = "RSET", [TERN_SMTP_NOOP] = "NOOP", [TERN_SMTP_QUIT] = "QUIT",
  [TERN_SMTP_VRFY] = "VRFY", [TERN_SMTP_EXPN] = "EXPN", [TERN_SMTP_HELP] = "HELP",
  [TERN_SMTP_STARTTLS] = "STARTTLS", [TERN_SMTP_AUTH] = "AUTH",
} ;

/* RFC 9110 9.1 methods: case-sensitive, always followed by a space. */
static char const *const http[] =
{
  "GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE", "TRACE", "PATCH", 0
} ;

unsigned int tern_smtp_verb (char const *s, size_t len, size_t *arg)
{
  size_t n = 0 ;
  while (n < len && s[n] != ' ') n++ ;
  *arg = n < len ? n + 1 : len ;
  if (n < len)
    for (unsigned int i = 0 ; http[i] ; i++)
      if (strlen(http[i]) == n && !memcmp(s, http[i], n)) return TERN_SMTP_HTTP ;
  for (unsigned int i = 1 ; i < TERN_SMTP_HTTP ; i++)
    if (strlen(verbs[i]) == n && !strncasecmp(s, verbs[i], n)) return i ;
  return TERN_SMTP_UNKNOWN ;
}
