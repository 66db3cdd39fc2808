/* smtp_envcmd: unit tests of the SMTP command parsers: tern_smtp_verb,
   tern_esmtp_param, tern_smtp_envcmd (RFC 5321 4.1.1.2-3, RFC 1870,
   6152, 6531, 3461) and tern_smtp_bdat (RFC 3030). */

#include <stdint.h>
#include <string.h>
#include "tern.h"
#include "tap.h"

static int envcmd (char const *in, unsigned int flags, tern_envcmd *e, char *addr)
{
  return tern_smtp_envcmd(in, strlen(in), flags, e, addr) ;
}

static void code (char const *in, unsigned int flags, int want, char const *name)
{
  tern_envcmd e ;
  char addr[strlen(in) + 1] ;
  tap_is_int(envcmd(in, flags, &e, addr), want, name) ;
}

static void verb (char const *in, unsigned int want, size_t wantarg, char const *name)
{
  size_t arg = 999 ;
  unsigned int v = tern_smtp_verb(in, strlen(in), &arg) ;
  if (!tap_ok(v == want && arg == wantarg, name)) printf("# got verb %u arg %zu\n", v, arg) ;
}

static void bdat (char const *in, int wantok, uint64_t wantn, int wantlast, char const *name)
{
  uint64_t n = 7 ;
  int last = 7 ;
  int r = tern_smtp_bdat(in, strlen(in), &n, &last) ;
  if (!tap_ok(r == wantok && (!r || (n == wantn && last == wantlast)), name))
    printf("# got r=%d n=%llu last=%d\n", r, (unsigned long long)n, last) ;
}

int main (void)
{
  tern_envcmd e ;
  char addr[512] ;

  /* verbs, RFC 5321 4.1.1: case-insensitive */
  verb("EHLO client.example", TERN_SMTP_EHLO, 5, "EHLO with argument") ;
  verb("ehlo client.example", TERN_SMTP_EHLO, 5, "verbs are case-insensitive") ;
  verb("MAIL FROM:<a@b>", TERN_SMTP_MAIL, 5, "MAIL") ;
  verb("rcpt TO:<a@b>", TERN_SMTP_RCPT, 5, "RCPT") ;
  verb("DATA", TERN_SMTP_DATA, 4, "DATA without argument: arg at the end") ;
  verb("BDAT 10 LAST", TERN_SMTP_BDAT, 5, "BDAT") ;
  verb("QUIT", TERN_SMTP_QUIT, 4, "QUIT") ;
  verb("STARTTLS", TERN_SMTP_STARTTLS, 8, "STARTTLS is known") ;
  verb("DATAX", TERN_SMTP_UNKNOWN, 5, "a verb with extra letters is unknown") ;
  verb("", TERN_SMTP_UNKNOWN, 0, "empty line") ;
  verb("GET / HTTP/1.1", TERN_SMTP_HTTP, 4, "GET is HTTP") ;
  verb("POST /x HTTP/1.0", TERN_SMTP_HTTP, 5, "POST is HTTP") ;
  verb("CONNECT host:25 HTTP/1.1", TERN_SMTP_HTTP, 8, "CONNECT is HTTP") ;
  verb("GET", TERN_SMTP_UNKNOWN, 3, "GET without a space is not HTTP") ;
  verb("get / HTTP/1.1", TERN_SMTP_UNKNOWN, 4, "HTTP methods are case-sensitive") ;

  /* ESMTP parameters */
  {
    char const *s = " SIZE=100  BODY=8BITMIME SMTPUTF8" ;
    size_t pos = 0 ;
    tern_esmtp_param_t p ;
    int ok = tern_esmtp_param(s, strlen(s), &pos, &p) == 1 && p.keylen == 4 && !memcmp(p.key, "SIZE", 4) && p.vallen == 3 && !memcmp(p.val, "100", 3) ;
    ok = ok && tern_esmtp_param(s, strlen(s), &pos, &p) == 1 && p.keylen == 4 && p.vallen == 8 ;
    ok = ok && tern_esmtp_param(s, strlen(s), &pos, &p) == 1 && p.keylen == 8 && !p.val ;
    ok = ok && tern_esmtp_param(s, strlen(s), &pos, &p) == 0 ;
    tap_ok(ok, "parameter list, extra spaces tolerated") ;
  }
  {
    size_t pos = 0 ;
    tern_esmtp_param_t p ;
    tap_is_int(tern_esmtp_param(" SIZE=", 6, &pos, &p), -1, "empty value") ;
    pos = 0 ;
    tap_is_int(tern_esmtp_param(" -X=1", 5, &pos, &p), -1, "keyword starting with '-'") ;
    pos = 0 ;
    tap_is_int(tern_esmtp_param(" A=b=c", 6, &pos, &p), -1, "'=' inside a value (4.1.2 esmtp-value)") ;
    pos = 0 ;
    tap_is_int(tern_esmtp_param(" A=\x01", 4, &pos, &p), -1, "control character in a value") ;
    pos = 0 ;
    tap_is_int(tern_esmtp_param(" A=\xc3\xa9", 5, &pos, &p), 1, "UTF-8 value is tokenized") ;
    tap_ok(p.utf8, "and flagged as non-ASCII") ;
  }

  /* MAIL FROM: */
  tap_is_int(envcmd("FROM:<a@b.example>", 0, &e, addr), TERN_ENVCMD_OK, "MAIL FROM:<a@b>") ;
  tap_is_str(addr, "a@b.example", "sender address") ;
  tap_is_int(envcmd("from:<>", 0, &e, addr), TERN_ENVCMD_OK, "null sender, lowercase keyword") ;
  tap_is_int(e.addrlen, 0, "null sender is the empty string") ;
  tap_is_int(envcmd("FROM: <a@b.example>", 0, &e, addr), TERN_ENVCMD_OK, "space after the colon tolerated") ;
  code("FROM:a@b.example", 0, TERN_ENVCMD_BADPATH, "sender without brackets") ;
  code("FROM <a@b.example>", 0, TERN_ENVCMD_SYNTAX, "no colon") ;
  code("TO:<a@b.example>", 0, TERN_ENVCMD_SYNTAX, "TO: in MAIL") ;
  code("FROM:<a@b.example>x", 0, TERN_ENVCMD_BADPATH, "junk after the path") ;
  code("FROM:<postmaster>", 0, TERN_ENVCMD_BADPATH, "<postmaster> is not a sender") ;
  tap_is_int(envcmd("FROM:<a@b.example> SIZE=12345 BODY=8BITMIME", 0, &e, addr), TERN_ENVCMD_OK, "SIZE and BODY") ;
  tap_ok(e.flags & TERN_ENV_SIZE && e.size == 12345 && e.flags & TERN_ENV_BODY8, "SIZE=12345 BODY=8BITMIME recorded") ;
  tap_is_int(envcmd("FROM:<a@b.example> size=99999999999999999999", 0, &e, addr), TERN_ENVCMD_OK, "20-digit SIZE") ;
  tap_ok(e.size == UINT64_MAX, "SIZE that overflows saturates") ;
  code("FROM:<a@b.example> SIZE=123456789012345678901", 0, TERN_ENVCMD_BADPARAM, "21-digit SIZE (RFC 1870 size-value)") ;
  code("FROM:<a@b.example> SIZE=12a", 0, TERN_ENVCMD_BADPARAM, "SIZE not a number") ;
  code("FROM:<a@b.example> SIZE", 0, TERN_ENVCMD_BADPARAM, "SIZE without value") ;
  code("FROM:<a@b.example> SIZE=1 SIZE=2", 0, TERN_ENVCMD_BADPARAM, "SIZE twice") ;
  tap_is_int(envcmd("FROM:<a@b.example> BODY=7bit", 0, &e, addr), TERN_ENVCMD_OK, "BODY=7bit") ;
  tap_ok(e.flags & TERN_ENV_BODY7, "BODY=7BIT recorded") ;
  code("FROM:<a@b.example> BODY=BINARYMIME", 0, TERN_ENVCMD_BADPARAM, "BODY=BINARYMIME (not offered)") ;
  code("FROM:<a@b.example> BODY", 0, TERN_ENVCMD_BADPARAM, "BODY without value") ;
  code("FROM:<a@b.example> FOO=bar", 0, TERN_ENVCMD_UNKNOWN, "unknown parameter: 555") ;
  code("FROM:<a@b.example> AUTH=<>", 0, TERN_ENVCMD_UNKNOWN, "AUTH= while AUTH is not offered") ;
  code("FROM:<a@b.example> NOTIFY=NEVER", 0, TERN_ENVCMD_UNKNOWN, "NOTIFY is a RCPT parameter") ;
  code("FROM:<a@b.example> SIZE=1 =x", 0, TERN_ENVCMD_SYNTAX, "garbage parameter") ;
  /* SMTPUTF8, RFC 6531 3.4 and 3.5 */
  tap_is_int(envcmd("FROM:<\xc3\xa9@b.example> SMTPUTF8", 0, &e, addr), TERN_ENVCMD_OK, "UTF-8 sender with SMTPUTF8") ;
  tap_ok(e.flags & TERN_ENV_SMTPUTF8 && e.flags & TERN_ENV_UTF8ADDR, "SMTPUTF8 and non-ASCII recorded") ;
  code("FROM:<\xc3\xa9@b.example>", 0, TERN_ENVCMD_8BIT, "UTF-8 sender without SMTPUTF8: 553 5.6.7") ;
  code("FROM:<a@b.example> SMTPUTF8=yes", 0, TERN_ENVCMD_BADPARAM, "SMTPUTF8 takes no value") ;
  code("FROM:<a@b.example> ENVID=\xc3\xa9", 0, TERN_ENVCMD_BADPARAM, "non-ASCII ENVID") ;
  /* DSN, RFC 3461 4.3 and 4.4 */
  tap_is_int(envcmd("FROM:<a@b.example> RET=HDRS ENVID=QQ314159+2Bx", 0, &e, addr), TERN_ENVCMD_OK, "RET and ENVID") ;
  tap_ok(e.flags & TERN_ENV_RETHDRS && e.envidlen == 12 && !memcmp(e.envid, "QQ314159+2Bx", 12), "RET=HDRS, ENVID as received") ;
  tap_is_int(envcmd("FROM:<a@b.example> RET=full", 0, &e, addr), TERN_ENVCMD_OK, "RET=full") ;
  tap_ok(e.flags & TERN_ENV_RETFULL, "RET=FULL recorded") ;
  code("FROM:<a@b.example> RET=ALL", 0, TERN_ENVCMD_BADPARAM, "RET=ALL") ;
  code("FROM:<a@b.example> ENVID=a+2", 0, TERN_ENVCMD_BADPARAM, "ENVID with a short hexchar") ;
  code("FROM:<a@b.example> ENVID=a+zz", 0, TERN_ENVCMD_BADPARAM, "ENVID with a bad hexchar") ;
  code("FROM:<a@b.example> ENVID=a+2b", 0, TERN_ENVCMD_BADPARAM, "ENVID hexchar in lowercase (RFC 3461 4)") ;
  {
    char big[200] = "FROM:<a@b.example> ENVID=" ;
    size_t n = strlen(big) ;
    memset(big + n, 'x', 101) ;
    big[n + 101] = 0 ;
    code(big, 0, TERN_ENVCMD_BADPARAM, "ENVID over 100 characters (RFC 3461 4.4)") ;
    big[n + 100] = 0 ;
    code(big, 0, TERN_ENVCMD_OK, "ENVID of 100 characters") ;
  }

  /* RCPT TO: */
  tap_is_int(envcmd("TO:<u@example.test>", TERN_ENV_RCPT, &e, addr), TERN_ENVCMD_OK, "RCPT TO:<u@d>") ;
  tap_is_str(addr, "u@example.test", "recipient address") ;
  tap_is_int(envcmd("To:<Postmaster>", TERN_ENV_RCPT, &e, addr), TERN_ENVCMD_OK, "RCPT TO:<Postmaster>") ;
  tap_is_str(addr, "postmaster", "bare postmaster") ;
  code("TO:<>", TERN_ENV_RCPT, TERN_ENVCMD_BADPATH, "<> as recipient") ;
  code("FROM:<u@example.test>", TERN_ENV_RCPT, TERN_ENVCMD_SYNTAX, "FROM: in RCPT") ;
  code("TO:<u@example.test> SIZE=10", TERN_ENV_RCPT, TERN_ENVCMD_UNKNOWN, "SIZE is a MAIL parameter") ;
  code("TO:<\xc3\xa9@example.test>", TERN_ENV_RCPT, TERN_ENVCMD_8BIT, "UTF-8 recipient without SMTPUTF8") ;
  code("TO:<\xc3\xa9@example.test>", TERN_ENV_RCPT | TERN_ENV_UTF8OK, TERN_ENVCMD_OK, "UTF-8 recipient with SMTPUTF8 on MAIL") ;
  /* DSN, RFC 3461 4.1 and 4.2 */
  tap_is_int(envcmd("TO:<u@example.test> NOTIFY=success,FAILURE,Delay ORCPT=rfc822;u+40example.test", TERN_ENV_RCPT, &e, addr), TERN_ENVCMD_OK, "NOTIFY and ORCPT") ;
  tap_ok(e.notify == (TERN_NOTIFY_SUCCESS | TERN_NOTIFY_FAILURE | TERN_NOTIFY_DELAY), "NOTIFY list recorded") ;
  tap_ok(e.orcptlen == 23 && !memcmp(e.orcpt, "rfc822;u+40example.test", 23), "ORCPT as received") ;
  tap_is_int(envcmd("TO:<u@example.test> NOTIFY=NEVER", TERN_ENV_RCPT, &e, addr), TERN_ENVCMD_OK, "NOTIFY=NEVER") ;
  tap_ok(e.notify == TERN_NOTIFY_NEVER, "NEVER recorded") ;
  code("TO:<u@example.test> NOTIFY=NEVER,SUCCESS", TERN_ENV_RCPT, TERN_ENVCMD_BADPARAM, "NEVER with others") ;
  code("TO:<u@example.test> NOTIFY=SUCCESS,SUCCESS", TERN_ENV_RCPT, TERN_ENVCMD_BADPARAM, "NOTIFY keyword twice") ;
  code("TO:<u@example.test> NOTIFY=SUCCESS,", TERN_ENV_RCPT, TERN_ENVCMD_BADPARAM, "NOTIFY with a trailing comma") ;
  code("TO:<u@example.test> NOTIFY=ALWAYS", TERN_ENV_RCPT, TERN_ENVCMD_BADPARAM, "NOTIFY=ALWAYS") ;
  code("TO:<u@example.test> ORCPT=u@example.test", TERN_ENV_RCPT, TERN_ENVCMD_BADPARAM, "ORCPT without addr-type") ;
  code("TO:<u@example.test> ORCPT=rfc822;", TERN_ENV_RCPT, TERN_ENVCMD_BADPARAM, "ORCPT with an empty address") ;
  code("TO:<u@example.test> ORCPT=rfc822;a+4", TERN_ENV_RCPT, TERN_ENVCMD_BADPARAM, "ORCPT with a short hexchar") ;
  code("TO:<u@example.test> ORCPT=utf-8;\xc3\xa9@x", TERN_ENV_RCPT | TERN_ENV_UTF8OK, TERN_ENVCMD_OK, "ORCPT=utf-8 with UTF-8 under SMTPUTF8 (RFC 6533)") ;
  code("TO:<u@example.test> ORCPT=utf-8;\xc3\xa9@x", TERN_ENV_RCPT, TERN_ENVCMD_BADPARAM, "ORCPT=utf-8 with UTF-8 without SMTPUTF8") ;

  /* BDAT, RFC 3030 2 */
  bdat("100", 1, 100, 0, "BDAT 100") ;
  bdat("0 LAST", 1, 0, 1, "BDAT 0 LAST") ;
  bdat("42 last", 1, 42, 1, "LAST in any case") ;
  bdat("18446744073709551615 LAST", 1, UINT64_MAX, 1, "largest chunk size") ;
  bdat("18446744073709551616", 0, 0, 0, "chunk size overflow") ;
  bdat("", 0, 0, 0, "no size") ;
  bdat("-1", 0, 0, 0, "negative size") ;
  bdat("10 LASTX", 0, 0, 0, "LASTX") ;
  bdat("10 FIRST", 0, 0, 0, "unknown end marker") ;
  bdat("10LAST", 0, 0, 0, "no space before LAST") ;
  return tap_done() ;
}
