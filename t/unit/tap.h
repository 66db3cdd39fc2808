/* tap.h: a few TAP helpers for the C unit tests in t/unit/ (one header, static). */

#ifndef TERN_TAP_H
#define TERN_TAP_H

#include <stdio.h>
#include <string.h>

static unsigned int tap_n = 0, tap_failed = 0 ;

__attribute__((unused)) static int tap_ok (int cond, char const *name)
{
  tap_n++ ;
  if (!cond) tap_failed++ ;
  printf("%sok %u - %s\n", cond ? "" : "not ", tap_n, name) ;
  return cond ;
}

__attribute__((unused)) static int tap_is_str (char const *got, char const *want, char const *name)
{
  int r = tap_ok(got && want && !strcmp(got, want), name) ;
  if (!r) printf("# got:  '%s'\n# want: '%s'\n", got ? got : "(null)", want ? want : "(null)") ;
  return r ;
}

__attribute__((unused)) static int tap_is_int (long long got, long long want, char const *name)
{
  int r = tap_ok(got == want, name) ;
  if (!r) printf("# got:  %lld\n# want: %lld\n", got, want) ;
  return r ;
}

__attribute__((unused)) static int tap_done (void)
{
  printf("1..%u\n", tap_n) ;
  return !!tap_failed ;
}

#endif
