/* unit test: tern_base64_decode, tern_sasl_plain, tern_dotstuff,
   tern_crlf_len, tern_maildir_uidl */

#include <string.h>
#include <stdlib.h>
#include "tern.h"
#include "tap.h"

static void b64 (char const *in, char const *want, ssize_t wantlen, char const *name)
{
  char out[256] ;
  ssize_t n = tern_base64_decode(out, in, strlen(in)) ;
  if (wantlen < 0) { tap_is_int(n, -1, name) ; return ; }
  tap_ok(n == wantlen && !memcmp(out, want, wantlen), name) ;
}

/* the whole of s through tern_dotstuff in chunks of k, plus the final CRLF */
static char const *stuff (char const *s, size_t len, size_t k)
{
  static char out[4096] ;
  unsigned int st = TERN_DOT_BOL ;
  size_t o = 0 ;
  for (size_t i = 0 ; i < len ; i += k)
    o += tern_dotstuff(out + o, s + i, len - i < k ? len - i : k, &st) ;
  if (!(st & TERN_DOT_BOL)) { out[o++] = '\r' ; out[o++] = '\n' ; }
  out[o] = 0 ;
  return out ;
}

static long long crlflen (char const *s, size_t len, size_t k)
{
  unsigned int st = TERN_DOT_BOL ;
  uint64_t n = 0 ;
  for (size_t i = 0 ; i < len ; i += k)
    n += tern_crlf_len(s + i, len - i < k ? len - i : k, &st) ;
  if (!(st & TERN_DOT_BOL)) n += 2 ;
  return n ;
}

static void wire (char const *in, char const *want, char const *name)
{
  size_t len = strlen(in) ;
  int ok = 1 ;
  /* every chunking gives the same result, and the size is the unstuffed length */
  for (size_t k = 1 ; k <= len + 1 ; k++)
  {
    if (strcmp(stuff(in, len, k), want)) ok = 0 ;
  }
  if (!tap_ok(ok, name)) printf("# got:  '%s'\n# want: '%s'\n", stuff(in, len, len + 1), want) ;
  {
    size_t dots = 0 ;
    long long n ;
    int same = 1 ;
    char const *w = want ;
    /* dots added at the start of lines */
    for (size_t i = 0 ; w[i] ; i++) if ((i == 0 || w[i-1] == '\n') && w[i] == '.') dots++ ;
    n = crlflen(in, len, len + 1) ;
    for (size_t k = 1 ; k <= len ; k++) if (crlflen(in, len, k) != n) same = 0 ;
    tap_ok(same && n == (long long)(strlen(want) - dots), "crlf_len agrees, in any chunking") ;
  }
}

static void uidl (char const *name, char const *want, char const *what)
{
  char out[TERN_UIDL_MAX + 1] ;
  size_t n = tern_maildir_uidl(out, name, strlen(name)) ;
  if (want) { tap_ok(n == strlen(want), what) ; tap_is_str(out, want, what) ; return ; }
  {
    int hex = n == 64 ;
    for (size_t i = 0 ; i < n ; i++) if (!strchr("0123456789abcdef", out[i])) hex = 0 ;
    tap_ok(hex, what) ;
  }
}

int main (void)
{
  tern_sasl_plain_t p ;
  char buf[128] ;
  char u1[TERN_UIDL_MAX + 1], u2[TERN_UIDL_MAX + 1] ;

  /* base64 */
  b64("", "", 0, "base64: empty") ;
  b64("Zg==", "f", 1, "base64: one octet") ;
  b64("Zm8=", "fo", 2, "base64: two octets") ;
  b64("Zm9v", "foo", 3, "base64: three octets") ;
  b64("Zm9vYmFy", "foobar", 6, "base64: six octets") ;
  b64("AGRlbW9AZXhhbXBsZS50ZXN0AGRlbW8=", "\0demo@example.test\0demo", 23, "base64: a PLAIN message with NULs") ;
  b64("Zm9", 0, -1, "base64: length not a multiple of 4") ;
  b64("Zm9v ", 0, -1, "base64: trailing space") ;
  b64("Zm=v", 0, -1, "base64: padding in the middle") ;
  b64("Zg==Zg==", 0, -1, "base64: padding before the end") ;
  b64("Zh==", 0, -1, "base64: non-zero pad bits") ;
  b64("Zm9\x80", 0, -1, "base64: 8-bit octet") ;
  b64("Z===", 0, -1, "base64: three pads") ;

  /* SASL PLAIN */
  memcpy(buf, "\0demo@example.test\0secret", 25) ;
  tap_ok(tern_sasl_plain(buf, 25, &p) && !p.authzidlen && p.authcidlen == 17 && !memcmp(p.authcid, "demo@example.test", 17)
         && p.passwdlen == 6 && !memcmp(p.passwd, "secret", 6), "PLAIN: empty authzid") ;
  memcpy(buf, "admin\0demo\0pw", 13) ;
  tap_ok(tern_sasl_plain(buf, 13, &p) && p.authzidlen == 5 && p.authcidlen == 4 && p.passwdlen == 2, "PLAIN: an authzid") ;
  tap_ok(!tern_sasl_plain("demo\0pw", 7, &p), "PLAIN: two parts are refused") ;
  tap_ok(!tern_sasl_plain("\0\0pw", 4, &p), "PLAIN: empty authcid") ;
  tap_ok(!tern_sasl_plain("\0demo\0", 6, &p), "PLAIN: empty password") ;
  tap_ok(!tern_sasl_plain("\0demo\0p\0w", 9, &p), "PLAIN: four parts") ;
  tap_ok(tern_sasl_plain("\0demo\0pass word", 15, &p) && p.passwdlen == 9, "PLAIN: spaces in the password") ;

  /* dot-stuffing and CRLF */
  wire("", "", "wire: empty message") ;
  wire("a\n", "a\r\n", "wire: LF to CRLF") ;
  wire("a\r\nb\r\n", "a\r\nb\r\n", "wire: CRLF stays one") ;
  wire("a", "a\r\n", "wire: no final line end gets one") ;
  wire(".\n", "..\r\n", "wire: a lone dot is stuffed") ;
  wire("x\n.hidden\n..two\nmid.dot\n", "x\r\n..hidden\r\n...two\r\nmid.dot\r\n", "wire: leading dots stuffed, others not") ;
  wire("\n\n", "\r\n\r\n", "wire: empty lines") ;
  wire("a\rb\n", "a\rb\r\n", "wire: a bare CR is kept") ;
  wire("a\r", "a\r\r\n", "wire: a final bare CR") ;
  wire(".", "..\r\n", "wire: a dot without line end") ;
  wire("\r\n.\r\n", "\r\n..\r\n", "wire: CRLF dot CRLF cannot end the data") ;

  /* UIDL */
  uidl("1700000000.M1P2Q3.host,S=120:2,S", "1700000000.M1P2Q3.host,S=120", "uidl: the part before ':'") ;
  uidl("1700000000.M1P2Q3.host", "1700000000.M1P2Q3.host", "uidl: a name without info") ;
  uidl("with space:2,", 0, "uidl: a space gives a hash") ;
  uidl("caf\xc3\xa9.host", 0, "uidl: 8-bit gives a hash") ;
  uidl("0123456789012345678901234567890123456789012345678901234567890123456789", "0123456789012345678901234567890123456789012345678901234567890123456789", "uidl: 70 characters are kept") ;
  uidl("01234567890123456789012345678901234567890123456789012345678901234567890", 0, "uidl: 71 characters give a hash") ;
  uidl(":2,S", 0, "uidl: an empty unique part gives a hash") ;
  tern_maildir_uidl(u1, "with space:2,S", 14) ;
  tern_maildir_uidl(u2, "with space:2,", 13) ;
  tap_is_str(u1, u2, "uidl: the hash ignores the flags") ;
  tern_maildir_uidl(u2, "with  space", 11) ;
  tap_ok(strcmp(u1, u2) != 0, "uidl: different names, different hashes") ;
  tap_is_str(u1, "b8b8f25a5fc711caea1cfebfe02359e3ce2b9a8f9ce02d18fdcb1ba47ff095f1", "uidl: the hash is SHA-256 of the unique part, fixed") ;
  return tap_done() ;
}
