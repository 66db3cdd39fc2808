/* tern_imap_datetime_fmt: INTERNALDATE's form (RFC 3501 9 date-time,
   without its quotes): "dd-Mon-yyyy hh:mm:ss +zzzz", the day padded
   with a space as date-day-fixed says, t shown in the given zone. */

#include <stdint.h>
#include "tern_imap.h"

static char const months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" } ;

static void two (char *s, unsigned int v)
{
  s[0] = '0' + v / 10 % 10 ;
  s[1] = '0' + v % 10 ;
}

size_t tern_imap_datetime_fmt (char *s, int64_t t, int zone)
{
  int64_t local = t + (int64_t)zone * 60 ;
  int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400 ;
  int64_t secs = local - days * 86400 ;
  /* civil_from_days (Howard Hinnant's algorithm) */
  int64_t z = days + 719468 ;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097 ;
  unsigned int doe = (unsigned int)(z - era * 146097) ;
  unsigned int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365 ;
  int64_t y = (int64_t)yoe + era * 400 ;
  unsigned int doy = doe - (365 * yoe + yoe / 4 - yoe / 100) ;
  unsigned int mp = (5 * doy + 2) / 153 ;
  unsigned int d = doy - (153 * mp + 2) / 5 + 1 ;
  unsigned int m = mp < 10 ? mp + 3 : mp - 9 ;
  unsigned int az = zone < 0 ? -zone : zone ;
  if (m <= 2) y++ ;
  if (y < 0) y = 0 ;
  if (y > 9999) y = 9999 ;
  if (d < 10) { s[0] = ' ' ; s[1] = '0' + d ; } else two(s, d) ;
  s[2] = '-' ;
  s[3] = months[m-1][0] ; s[4] = months[m-1][1] ; s[5] = months[m-1][2] ;
  s[6] = '-' ;
  two(s + 7, (unsigned int)(y / 100)) ; two(s + 9, (unsigned int)(y % 100)) ;
  s[11] = ' ' ;
  two(s + 12, (unsigned int)(secs / 3600)) ; s[14] = ':' ;
  two(s + 15, (unsigned int)(secs / 60 % 60)) ; s[17] = ':' ;
  two(s + 18, (unsigned int)(secs % 60)) ;
  s[20] = ' ' ;
  s[21] = zone < 0 ? '-' : '+' ;
  two(s + 22, az / 60 % 100) ; two(s + 24, az % 60) ;
  return TERN_IMAP_DATETIME_LEN ;
}
