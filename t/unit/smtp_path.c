/* smtp_path: unit tests of tern_smtp_path, RFC 5321 4.1.2 paths (and RFC 6531 3.3). */

#include <string.h>
#include "tern.h"
#include "tap.h"

/* want: the address, or 0 for a syntax error; used: octets consumed (0: all) */
static void path (char const *in, unsigned int flags, char const *want, int wantutf8, char const *name)
{
  size_t len = strlen(in), outlen = 99 ;
  char out[len + 1] ;
  int utf8 = -1 ;
  size_t n = tern_smtp_path(in, len, flags, out, &outlen, &utf8) ;
  if (!want)
  {
    if (!tap_ok(!n, name)) printf("# accepted as '%s'\n", out) ;
    return ;
  }
  if (!tap_ok(n == len && outlen == strlen(want) && !strcmp(out, want) && utf8 == wantutf8, name))
    printf("# n=%zu len=%zu out='%s' outlen=%zu utf8=%d want '%s' utf8=%d\n", n, len, n ? out : "", outlen, utf8, want, wantutf8) ;
}

int main (void)
{
  /* 4.1.2 Mailbox */
  path("<user@example.com>", 0, "user@example.com", 0, "plain mailbox") ;
  path("<a.b.c@d-e.f.example>", 0, "a.b.c@d-e.f.example", 0, "dots and hyphens") ;
  path("<!#$%&'*+-/=?^_`{|}~@x.y>", 0, "!#$%&'*+-/=?^_`{|}~@x.y", 0, "every atext character (RFC 5322 3.2.3)") ;
  path("<user+detail@example.com>", 0, "user+detail@example.com", 0, "+detail") ;
  path("<User@EXAMPLE.com>", 0, "User@EXAMPLE.com", 0, "case is kept (the caller canonicalizes)") ;
  path("<u@a1.b2>", 0, "u@a1.b2", 0, "digits in labels") ;
  path("<u@1.2.3.4.example>", 0, "u@1.2.3.4.example", 0, "numeric labels") ;
  /* syntax errors */
  path("user@example.com", 0, 0, 0, "no angle brackets") ;
  path("<user@example.com", 0, 0, 0, "no closing bracket") ;
  {
    size_t outlen ;
    int u ;
    char out[32] ;
    tap_is_int(tern_smtp_path("<user@example.com> SIZE=1", 25, 0, out, &outlen, &u), 18, "consumed through '>' only") ;
  }
  path("<.user@example.com>", 0, 0, 0, "leading dot in the local part") ;
  path("<user.@example.com>", 0, 0, 0, "trailing dot in the local part") ;
  path("<us..er@example.com>", 0, 0, 0, "double dot in the local part") ;
  path("<user@example..com>", 0, 0, 0, "double dot in the domain") ;
  path("<user@example.com.>", 0, 0, 0, "trailing dot in the domain") ;
  path("<user@-example.com>", 0, 0, 0, "label starting with a hyphen (4.1.2 sub-domain)") ;
  path("<user@example-.com>", 0, 0, 0, "label ending with a hyphen") ;
  path("<user@exa_mple.com>", 0, 0, 0, "underscore in a domain") ;
  path("<user@>", 0, 0, 0, "empty domain") ;
  path("<@example.com>", 0, 0, 0, "empty local part") ;
  path("<user>", 0, 0, 0, "no domain") ;
  path("<us er@example.com>", 0, 0, 0, "space in the local part") ;
  path("<user@exa mple.com>", 0, 0, 0, "space in the domain") ;
  path("<a@b@c>", 0, 0, 0, "two at signs") ;
  path("<user@example.com\r\n>", 0, 0, 0, "CRLF inside") ;
  path("<us\x01r@example.com>", 0, 0, 0, "control character") ;
  path("<user@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com>", 0, 0, 0, "64-octet label (RFC 1035 2.3.4)") ;
  path("<user@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com>", 0, "user@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", 0, "63-octet label") ;
  path("", 0, 0, 0, "empty input") ;
  path("<", 0, 0, 0, "lone '<'") ;
  /* null path and postmaster, 4.1.1.2 and 4.1.1.3 */
  path("<>", TERN_PATH_NULLOK, "", 0, "<> when allowed (MAIL)") ;
  path("<>", 0, 0, 0, "<> refused when not allowed (RCPT)") ;
  path("<postmaster>", TERN_PATH_POSTMASTER, "postmaster", 0, "<postmaster> for RCPT") ;
  path("<PostMaster>", TERN_PATH_POSTMASTER, "postmaster", 0, "<PostMaster>, any case, stored lowercase") ;
  path("<\"postmaster\">", TERN_PATH_POSTMASTER, "postmaster", 0, "quoted postmaster") ;
  path("<postmaster>", 0, 0, 0, "<postmaster> refused for MAIL") ;
  path("<webmaster>", TERN_PATH_POSTMASTER, 0, 0, "<webmaster> is not postmaster") ;
  path("<postmaster@example.com>", TERN_PATH_POSTMASTER, "postmaster@example.com", 0, "postmaster@domain") ;
  /* quoted strings */
  path("<\"john doe\"@example.com>", 0, "\"john doe\"@example.com", 0, "quoted local part with a space stays quoted") ;
  path("<\"john.doe\"@example.com>", 0, "john.doe@example.com", 0, "quoting that is not needed is dropped") ;
  path("<\"a\\\"b\"@example.com>", 0, "\"a\\\"b\"@example.com", 0, "quoted-pair kept as received") ;
  path("<\"\"@example.com>", 0, "\"\"@example.com", 0, "empty quoted string") ;
  path("<\"a\\\x01\"@example.com>", 0, 0, 0, "quoted-pair of a control character") ;
  path("<\"abc@example.com>", 0, 0, 0, "unterminated quoted string") ;
  path("<\"a\"b@example.com>", 0, 0, 0, "quoted string then atom") ;
  /* source routes, 4.1.2 A-d-l and appendix C */
  path("<@relay.example:user@example.com>", 0, "user@example.com", 0, "source route dropped") ;
  path("<@a.example,@b.example:user@example.com>", 0, "user@example.com", 0, "two-hop source route dropped") ;
  path("<@a.example,b.example:user@example.com>", 0, 0, 0, "source route hop without '@'") ;
  path("<@a.example user@example.com>", 0, 0, 0, "source route without ':'") ;
  path("<@:user@example.com>", 0, 0, 0, "empty source route domain") ;
  /* address literals, 4.1.3 */
  path("<user@[192.0.2.1]>", 0, "user@[192.0.2.1]", 0, "IPv4 literal") ;
  path("<user@[192.0.2.256]>", 0, 0, 0, "IPv4 literal out of range") ;
  path("<user@[192.0.2]>", 0, 0, 0, "IPv4 literal with three parts") ;
  path("<user@[1234.0.2.1]>", 0, 0, 0, "IPv4 literal with four digits") ;
  path("<user@[IPv6:2001:db8::1]>", 0, "user@[IPv6:2001:db8::1]", 0, "IPv6 literal") ;
  path("<user@[IPv6:2001:db8::g]>", 0, 0, 0, "bad IPv6 literal") ;
  path("<user@[x-tag:stuff]>", 0, "user@[x-tag:stuff]", 0, "general address literal") ;
  path("<user@[x-tag:]>", 0, 0, 0, "general literal without content") ;
  path("<user@[]>", 0, 0, 0, "empty literal") ;
  path("<user@[192.0.2.1>", 0, 0, 0, "unterminated literal") ;
  /* RFC 6531 3.3: UTF-8 */
  path("<\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example>", 0, "\xc3\xa9l\xc3\xa8ve@\xc3\xa9" "cole.example", 1, "UTF-8 local part and U-label") ;
  path("<\xe7\x94\xa8\xe6\x88\xb7@example.com>", 0, "\xe7\x94\xa8\xe6\x88\xb7@example.com", 1, "CJK local part") ;
  path("<\"\xc3\xa9 x\"@example.com>", 0, "\"\xc3\xa9 x\"@example.com", 1, "UTF-8 in a quoted string") ;
  path("<u\xff@example.com>", 0, 0, 0, "invalid UTF-8 octet") ;
  path("<u\xc3@example.com>", 0, 0, 0, "truncated UTF-8 sequence") ;
  path("<u\xc0\xaf@example.com>", 0, 0, 0, "overlong UTF-8") ;
  path("<u\xed\xa0\x80@example.com>", 0, 0, 0, "UTF-8 surrogate") ;
  path("<u\xf4\x90\x80\x80@example.com>", 0, 0, 0, "above U+10FFFF") ;
  {
    /* found by fuzz/smtp-address: inet_pton stops at a NUL */
    char in[] = "<u@[IPv6:::\0x]>" ;
    char out[sizeof(in)] ;
    size_t outlen ;
    int u ;
    tap_ok(!tern_smtp_path(in, sizeof(in) - 1, 0, out, &outlen, &u), "NUL inside an IPv6 literal") ;
  }
  /* NUL is never part of an address */
  {
    char in[] = "<a\0b@example.com>" ;
    char out[sizeof(in)] ;
    size_t outlen ;
    int u ;
    tap_ok(!tern_smtp_path(in, sizeof(in) - 1, 0, out, &outlen, &u), "NUL inside a path") ;
  }
  return tap_done() ;
}
