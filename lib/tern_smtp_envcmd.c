/* tern_smtp_envcmd: the argument of MAIL or RCPT (RFC 5321 4.1.1.2,
   4.1.1.3) with the parameters tern knows:
     MAIL: SIZE=n (RFC 1870 3), BODY=7BIT|8BITMIME (RFC 6152 2),
           SMTPUTF8 (RFC 6531 3.4), RET=FULL|HDRS and ENVID=xtext (RFC 3461 4.3, 4.4)
     RCPT: NOTIFY=NEVER|SUCCESS,FAILURE,DELAY and ORCPT=addr-type;xtext (RFC 3461 4.1, 4.2)
     MAIL with TERN_ENV_AUTHOK: AUTH=xtext (RFC 4954 5), checked and dropped
   Anything else is "not recognized" (555, RFC 5321 4.1.1.11). */

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include "tern.h"

static int kw (tern_esmtp_param_t const *p, char const *name)
{
  size_t n = strlen(name) ;
  return p->keylen == n && !strncasecmp(p->key, name, n) ;
}

static int val (tern_esmtp_param_t const *p, char const *name)
{
  size_t n = strlen(name) ;
  return p->val && p->vallen == n && !strncasecmp(p->val, name, n) ;
}

static int is_hex (char c)
{
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ;
}

/* RFC 3461 4: xtext = *( xchar / hexchar ), xchar = %d33-42 / %d44-60 / %d62-126,
   hexchar = "+" 2(%x30-39 / %x41-46). With utf8, non-ASCII octets pass
   (RFC 6533's utf-8-addr-xtext for ORCPT=utf-8). */
static int xtext_ok (char const *s, size_t len, int utf8)
{
  for (size_t i = 0 ; i < len ; i++)
  {
    unsigned char c = s[i] ;
    if (c == '+')
    {
      if (i + 2 >= len || !is_hex(s[i+1]) || !is_hex(s[i+2])) return 0 ;
      i += 2 ;
    }
    else if (c >= 0x80) { if (!utf8) return 0 ; }
    else if (c < 33 || c > 126 || c == '=') return 0 ;
  }
  return 1 ;
}

/* RFC 3461 4.1: "NEVER" alone, or a list of SUCCESS, FAILURE, DELAY. */
static unsigned int notify (char const *s, size_t len)
{
  unsigned int r = 0 ;
  size_t i = 0 ;
  while (i <= len)
  {
    size_t j = i ;
    unsigned int bit ;
    while (j < len && s[j] != ',') j++ ;
    if (j - i == 5 && !strncasecmp(s + i, "NEVER", 5)) bit = TERN_NOTIFY_NEVER ;
    else if (j - i == 7 && !strncasecmp(s + i, "SUCCESS", 7)) bit = TERN_NOTIFY_SUCCESS ;
    else if (j - i == 7 && !strncasecmp(s + i, "FAILURE", 7)) bit = TERN_NOTIFY_FAILURE ;
    else if (j - i == 5 && !strncasecmp(s + i, "DELAY", 5)) bit = TERN_NOTIFY_DELAY ;
    else return 0 ;
    if (r & bit) return 0 ;
    r |= bit ;
    i = j + 1 ;
  }
  if ((r & TERN_NOTIFY_NEVER) && r != TERN_NOTIFY_NEVER) return 0 ;
  return r ;
}

/* RFC 3461 4.2: ORCPT = addr-type ";" xtext, addr-type an atom; 500 octets at most. */
static int orcpt_ok (char const *s, size_t len, int utf8)
{
  size_t i = 0 ;
  if (len > 500) return 0 ;
  while (i < len && s[i] != ';')
  {
    unsigned char c = s[i++] ;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return 0 ;
  }
  if (!i || i + 1 >= len) return 0 ;   /* an addr-type, ";", then the address */
  if (i == 5 && !strncasecmp(s, "utf-8", 5))
  {
    /* RFC 6533 3: QCHAR excludes "+" and "="; \x{HEX} escapes are ASCII */
    for (size_t j = i + 1 ; j < len ; j++)
    {
      unsigned char c = s[j] ;
      if (c >= 0x80) { if (!utf8) return 0 ; }
      else if (c < 33 || c > 126 || c == '+' || c == '=') return 0 ;
    }
    return 1 ;
  }
  return xtext_ok(s + i + 1, len - i - 1, 0) ;
}

int tern_smtp_envcmd (char const *s, size_t len, unsigned int in, tern_envcmd *e, char *addr)
{
  int rcpt = !!(in & TERN_ENV_RCPT) ;
  char const *key = rcpt ? "TO:" : "FROM:" ;
  size_t klen = rcpt ? 3 : 5, i, n ;
  int u8 = 0, u8params = 0, auth = 0 ;
  memset(e, 0, sizeof(*e)) ;
  addr[0] = 0 ;
  if (len < klen || strncasecmp(s, key, klen)) return TERN_ENVCMD_SYNTAX ;
  i = klen ;
  /* RFC 5321 has no space after the colon; many clients send one anyway */
  while (i < len && s[i] == ' ') i++ ;
  n = tern_smtp_path(s + i, len - i, rcpt ? TERN_PATH_POSTMASTER : TERN_PATH_NULLOK, addr, &e->addrlen, &u8) ;
  if (!n) return TERN_ENVCMD_BADPATH ;
  i += n ;
  if (i < len && s[i] != ' ') return TERN_ENVCMD_BADPATH ;
  if (u8) e->flags |= TERN_ENV_UTF8ADDR ;

  for (;;)
  {
    tern_esmtp_param_t p ;
    int r = tern_esmtp_param(s, len, &i, &p) ;
    if (r < 0) return TERN_ENVCMD_SYNTAX ;
    if (!r) break ;
    if (p.utf8) u8params = 1 ;
    if (!rcpt && kw(&p, "SIZE"))
    {
      uint64_t v = 0 ;
      if (e->flags & TERN_ENV_SIZE || !p.val || p.vallen > 20) return TERN_ENVCMD_BADPARAM ;
      for (size_t j = 0 ; j < p.vallen ; j++)
      {
        unsigned int d = (unsigned char)p.val[j] - '0' ;
        if (d > 9) return TERN_ENVCMD_BADPARAM ;
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d ;
      }
      e->size = v ;
      e->flags |= TERN_ENV_SIZE ;
    }
    else if (!rcpt && kw(&p, "BODY"))
    {
      if (e->flags & (TERN_ENV_BODY7 | TERN_ENV_BODY8)) return TERN_ENVCMD_BADPARAM ;
      if (val(&p, "7BIT")) e->flags |= TERN_ENV_BODY7 ;
      else if (val(&p, "8BITMIME")) e->flags |= TERN_ENV_BODY8 ;
      else return TERN_ENVCMD_BADPARAM ;
    }
    else if (!rcpt && kw(&p, "SMTPUTF8"))
    {
      if (e->flags & TERN_ENV_SMTPUTF8 || p.val) return TERN_ENVCMD_BADPARAM ;
      e->flags |= TERN_ENV_SMTPUTF8 ;
    }
    else if (!rcpt && kw(&p, "RET"))
    {
      if (e->flags & (TERN_ENV_RETFULL | TERN_ENV_RETHDRS)) return TERN_ENVCMD_BADPARAM ;
      if (val(&p, "FULL")) e->flags |= TERN_ENV_RETFULL ;
      else if (val(&p, "HDRS")) e->flags |= TERN_ENV_RETHDRS ;
      else return TERN_ENVCMD_BADPARAM ;
    }
    else if (!rcpt && kw(&p, "ENVID"))
    {
      /* RFC 3461 4.4: at most 100 characters */
      if (e->envid || !p.val || p.vallen > 100 || !xtext_ok(p.val, p.vallen, 0)) return TERN_ENVCMD_BADPARAM ;
      e->envid = p.val ;
      e->envidlen = p.vallen ;
    }
    else if (!rcpt && in & TERN_ENV_AUTHOK && kw(&p, "AUTH"))
    {
      /* RFC 4954 5: an xtext mailbox or "<>"; taken as AUTH=<> whatever
         it says (the session's own login is what counts) */
      if (auth++ || !p.val || !p.vallen || p.vallen > 500 || !xtext_ok(p.val, p.vallen, 0)) return TERN_ENVCMD_BADPARAM ;
    }
    else if (rcpt && kw(&p, "NOTIFY"))
    {
      if (e->notify || !p.val || !(e->notify = notify(p.val, p.vallen))) return TERN_ENVCMD_BADPARAM ;
    }
    else if (rcpt && kw(&p, "ORCPT"))
    {
      if (e->orcpt || !p.val) return TERN_ENVCMD_BADPARAM ;
      if (!orcpt_ok(p.val, p.vallen, !!(in & TERN_ENV_UTF8OK))) return TERN_ENVCMD_BADPARAM ;
      e->orcpt = p.val ;
      e->orcptlen = p.vallen ;
    }
    else return TERN_ENVCMD_UNKNOWN ;
  }

  /* RFC 6531 3.5: non-ASCII needs SMTPUTF8 on this transaction's MAIL */
  {
    int ok = !!(in & TERN_ENV_UTF8OK) || !!(e->flags & TERN_ENV_SMTPUTF8) ;
    if (u8 && !ok) return TERN_ENVCMD_8BIT ;
    if (u8params && !ok) return TERN_ENVCMD_BADPARAM ;
  }
  return TERN_ENVCMD_OK ;
}
