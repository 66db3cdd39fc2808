/* tern_date822: an RFC 5322 section 3.3 date-time in the local zone. */

#include <time.h>
#include "tern.h"

size_t tern_date822 (char *s, time_t t)
{
  struct tm tm ;
  if (!localtime_r(&t, &tm)) return 0 ;
  return strftime(s, TERN_DATE822_LEN, "%a, %d %b %Y %H:%M:%S %z", &tm) ;
}
