/* unit test: tern_addrlist (RFC 5322 3.4 address lists) */

#include <string.h>
#include "tern.h"
#include "tap.h"

static void check (char const *in, char const *want, char const *name)
{
  stralloc sa = STRALLOC_ZERO ;
  int n = tern_addrlist(&sa, in, strlen(in)) ;
  /* join with '|' to compare */
  for (size_t i = 0 ; i < sa.len ; i++) if (!sa.s[i]) sa.s[i] = '|' ;
  stralloc_0(&sa) ;
  tap_is_str(n >= 0 ? sa.s : "(error)", want, name) ;
  stralloc_free(&sa) ;
}

int main (void)
{
  check("alice@example.test", "alice@example.test|", "bare addr-spec") ;
  check("Alice <alice@example.test>", "alice@example.test|", "name-addr") ;
  check("\"Doe, John\" <john@example.test>, bob@example.test", "john@example.test|bob@example.test|", "quoted display name with a comma") ;
  check("a@x (comment, with comma), b@y", "a@x|b@y|", "comments dropped") ;
  check("(nested (comment)) c@z", "c@z|", "nested comments") ;
  check("team: a@x, b@y;, c@z", "a@x|b@y|c@z|", "group") ;
  check("undisclosed-recipients:;", "", "empty group") ;
  check("<@relay.test,@r2.test:d@w>", "d@w|", "obsolete route dropped") ;
  check("\"john doe\"@example.test", "\"john doe\"@example.test|", "quoted local part kept") ;
  check("A\n\t<a@x>,\n B <b@y>", "a@x|b@y|", "folded lines") ;
  check("", "", "empty") ;
  check(" , ,", "", "empty elements") ;
  check("\"unterminated <x@y>", "\"unterminated <x@y>|", "unterminated quote taken literally") ;
  check("a@[IPv6:2001:db8::1], b@[192.0.2.1]", "a@[IPv6:2001:db8::1]|b@[192.0.2.1]|", "domain literals keep their colons") ;
  return tap_done() ;
}
