/* tern_date822_scan: an RFC 5322 3.3 date-time, with the obsolete forms
   of 4.3 that mail still has: CFWS anywhere, no day of the week, no
   seconds, two- and three-digit years (00-49 are 20xx, the rest 19xx),
   the zones UT, GMT, EST...PDT, and military letters (taken as +0000, as
   4.3 says), an unknown or missing zone as +0000. The month is its first
   three letters; "-" may separate day, month and year. */

#include "tern_mime.h"
#include "tern_mime_internal.h"

static size_t digits (char const *s, size_t n, size_t i, unsigned int max, unsigned int *v, unsigned int *nd)
{
  *v = 0 ; *nd = 0 ;
  while (i < n && s[i] >= '0' && s[i] <= '9' && *nd < max) { *v = *v * 10 + (s[i] - '0') ; i++ ; (*nd)++ ; }
  return i ;
}

static size_t alpha (char const *s, size_t n, size_t i)
{
  while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) i++ ;
  return i ;
}

/* days from 1970-01-01 to y-m-d (proleptic Gregorian) */
static int64_t days (int64_t y, unsigned int m, unsigned int d)
{
  int64_t era, yoe, doy, doe ;
  y -= m <= 2 ;
  era = (y >= 0 ? y : y - 399) / 400 ;
  yoe = y - era * 400 ;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1 ;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy ;
  return era * 146097 + doe - 719468 ;
}

static int zone (char const *s, size_t n, int *z)
{
  static struct { char const *name ; int off ; } const named[] =
  {
    { "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
    { "est", -300 }, { "edt", -240 }, { "cst", -360 }, { "cdt", -300 },
    { "mst", -420 }, { "mdt", -360 }, { "pst", -480 }, { "pdt", -420 }
  } ;
  for (unsigned int i = 0 ; i < sizeof named / sizeof *named ; i++)
    if (tmi_is(s, n, named[i].name)) { *z = named[i].off ; return 1 ; }
  *z = 0 ;  /* military zones and the rest: -0000, "no information" */
  return 1 ;
}

int tern_date822_scan (char const *s, size_t n, int64_t *t, int *tzmin)
{
  static char const months[] = "janfebmaraprmayjunjulaugsepoctnovdec" ;
  unsigned int day, mon = 0, year, hour, min, sec = 0, nd ;
  int z = 0 ;
  size_t i = tmi_cfws(s, n, 0), j ;

  j = alpha(s, n, i) ;
  if (j > i)
  {
    /* day-of-week, not checked */
    i = tmi_cfws(s, n, j) ;
    if (i < n && s[i] == ',') i = tmi_cfws(s, n, i + 1) ;
  }
  i = digits(s, n, i, 2, &day, &nd) ;
  if (!nd || !day || day > 31) return 0 ;
  i = tmi_cfws(s, n, i) ;
  if (i < n && s[i] == '-') i = tmi_cfws(s, n, i + 1) ;
  j = alpha(s, n, i) ;
  if (j - i < 3) return 0 ;
  for (unsigned int k = 0 ; k < 12 ; k++)
    if (tmi_lower((unsigned char)s[i]) == months[3*k] && tmi_lower((unsigned char)s[i+1]) == months[3*k+1] && tmi_lower((unsigned char)s[i+2]) == months[3*k+2])
      mon = k + 1 ;
  if (!mon) return 0 ;
  i = tmi_cfws(s, n, j) ;
  if (i < n && s[i] == '-') i = tmi_cfws(s, n, i + 1) ;
  i = digits(s, n, i, 9, &year, &nd) ;
  if (nd < 2) return 0 ;
  if (nd == 2) year += year < 50 ? 2000 : 1900 ;
  else if (nd == 3) year += 1900 ;
  i = tmi_cfws(s, n, i) ;
  i = digits(s, n, i, 2, &hour, &nd) ;
  if (!nd || hour > 23) return 0 ;
  i = tmi_cfws(s, n, i) ;
  if (i >= n || (s[i] != ':' && s[i] != '.')) return 0 ;
  i = tmi_cfws(s, n, i + 1) ;
  i = digits(s, n, i, 2, &min, &nd) ;
  if (!nd || min > 59) return 0 ;
  i = tmi_cfws(s, n, i) ;
  if (i < n && (s[i] == ':' || s[i] == '.'))
  {
    i = tmi_cfws(s, n, i + 1) ;
    i = digits(s, n, i, 2, &sec, &nd) ;
    if (!nd || sec > 60) return 0 ;
    i = tmi_cfws(s, n, i) ;
  }
  if (i < n && (s[i] == '+' || s[i] == '-'))
  {
    unsigned int v ;
    int neg = s[i] == '-' ;
    j = digits(s, n, i + 1, 4, &v, &nd) ;
    if (nd == 4 && v % 100 < 60) { z = (v / 100) * 60 + v % 100 ; if (neg) z = -z ; }
    else if (nd == 2 && j < n && s[j] == ':')
    {
      /* +hh:mm, seen in the wild */
      unsigned int mm ;
      size_t k = digits(s, n, j + 1, 2, &mm, &nd) ;
      (void)k ;
      if (nd == 2 && mm < 60) { z = v * 60 + mm ; if (neg) z = -z ; }
    }
  }
  else if ((j = alpha(s, n, i)) > i) zone(s + i, j - i, &z) ;
  *t = days(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec - (int64_t)z * 60 ;
  *tzmin = z ;
  return 1 ;
}
