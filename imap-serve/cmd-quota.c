/* cmd-quota.c: QUOTA (RFC 9208) with the resources STORAGE and MESSAGE
   (3.1.1, 3.1.2). The limits are the administrator's, from etc/quota
   (tern-config(5)), read once at login; there is one quota root per
   user, "", over every folder. Usage is counted when asked (GETQUOTA,
   GETQUOTAROOT) and before each APPEND or COPY (4.3: NO [OVERQUOTA]),
   from the folders' indexes (tern_quota_usage): no cache to go stale
   when deliver, mutt or another session changes the folders. */

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"

static tern_quota Q = { .storage = UINT64_MAX, .messages = UINT64_MAX } ;
static int qbroken = 0 ;   /* etc/quota did not parse, or could not be read */

void quota_load (void)
{
  if (tern_quota_get(S.user, &Q)) return ;
  strerr_warnwu1sys("read etc/quota (APPEND and COPY are refused until it is fixed)") ;
  qbroken = 1 ;
}

static int has_limits (void) { return Q.storage != UINT64_MAX || Q.messages != UINT64_MAX ; }

/* The usage, with other (a folder open for the command, or 0). 1, or 0
   after the tagged NO. */
static int usage (tern_store *other, uint64_t *octets, uint64_t *messages)
{
  tern_store *open[2] = { S.selected ? &S.st : 0, other } ;
  if (tern_quota_usage(S.root, open, 2, octets, messages)) return 1 ;
  o_nosys("count the quota's usage") ;
  return 0 ;
}

/* RFC 9208 4.3: may octets in messages more go into the user's folders?
   1, or 0 after the tagged NO [OVERQUOTA] (or the failure's NO). */
int quota_check (tern_store *other, uint64_t octets, uint64_t messages)
{
  uint64_t uo, um ;
  if (qbroken) { o_tagged("NO [UNAVAILABLE] The quota configuration does not parse") ; return 0 ; }
  if (!has_limits()) return 1 ;
  if (!usage(other, &uo, &um)) return 0 ;
  if (Q.storage != UINT64_MAX)
  {
    /* in octets; a limit too large to multiply is no limit */
    if (Q.storage < UINT64_MAX / 1024 && (uo + octets < uo || uo + octets > Q.storage * 1024))
    {
      o_tagged("NO [OVERQUOTA] The storage quota would be exceeded") ;
      return 0 ;
    }
  }
  if (Q.messages != UINT64_MAX && um + messages > Q.messages)
  {
    o_tagged("NO [OVERQUOTA] The message quota would be exceeded") ;
    return 0 ;
  }
  return 1 ;
}

/* "* QUOTA "" (STORAGE used limit MESSAGE used limit)" (RFC 9208 5.1):
   STORAGE in KiB, rounded up */
static void o_quota (uint64_t octets, uint64_t messages)
{
  int sp = 0 ;
  o_str("* QUOTA \"\" (") ;
  if (Q.storage != UINT64_MAX)
  {
    o_str("STORAGE ") ; o_num(octets / 1024 + !!(octets % 1024)) ; o_str(" ") ; o_num(Q.storage) ;
    sp = 1 ;
  }
  if (Q.messages != UINT64_MAX)
  {
    if (sp) o_str(" ") ;
    o_str("MESSAGE ") ; o_num(messages) ; o_str(" ") ; o_num(Q.messages) ;
  }
  o_str(")\r\n") ;
}

static int root_ok (void)
{
  if (qbroken) { o_tagged("NO [UNAVAILABLE] The quota configuration does not parse") ; return 0 ; }
  return 1 ;
}

/* RFC 9208 4.1.1: GETQUOTA quota-root */
void cmd_getquota (tern_imap_p *p)
{
  stralloc root = STRALLOC_ZERO ;
  uint64_t o, m ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_astring(p, &root) || !tern_imap_p_eol(p)) { stralloc_free(&root) ; o_bad(p, 0) ; return ; }
  /* the one root there is, when the user has a limit (a QUOTA response
     lists one resource at least, RFC 9208 7) */
  if (!root_ok()) ;
  else if (root.len || !has_limits()) o_tagged("NO [NONEXISTENT] No such quota root") ;
  else if (usage(0, &o, &m))
  {
    o_quota(o, m) ;
    o_tagged("OK Getquota completed") ;
  }
  stralloc_free(&root) ;
}

/* RFC 9208 4.1.2: GETQUOTAROOT mailbox: the roots of the mailbox, then
   each root's QUOTA */
void cmd_getquotaroot (tern_imap_p *p)
{
  stralloc name = STRALLOC_ZERO ;
  uint64_t o, m ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &name) || !tern_imap_p_eol(p)) { stralloc_free(&name) ; o_bad(p, 0) ; return ; }
  if (!folder_exists(name.s, name.len)) { o_tagged("NO [NONEXISTENT] No such mailbox") ; goto end ; }
  if (!root_ok()) goto end ;
  if (has_limits() && !usage(0, &o, &m)) goto end ;
  o_str("* QUOTAROOT ") ;
  o_mailbox(name.s, name.len) ;
  if (has_limits()) o_str(" \"\"") ;
  o_str("\r\n") ;
  if (has_limits()) o_quota(o, m) ;
  o_tagged("OK Getquotaroot completed") ;
 end:
  stralloc_free(&name) ;
}

/* RFC 9208 4.1.3: SETQUOTA quota-root (resource limit ...): parsed, and
   refused; the limits are the administrator's (the server "MAY" refuse) */
void cmd_setquota (tern_imap_p *p)
{
  stralloc root = STRALLOC_ZERO ;
  unsigned int n = 0 ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_astring(p, &root) || !tern_imap_p_sp(p) || !tern_imap_p_char(p, '(')) goto bad ;
  while (tern_imap_p_peek(p) != ')')
  {
    char const *a ;
    size_t al ;
    uint64_t v ;
    if (n++ && !tern_imap_p_sp(p)) goto bad ;
    if (!tern_imap_p_atom(p, &a, &al) || !tern_imap_p_sp(p) || !tern_imap_p_number64(p, &v)) goto bad ;
  }
  if (!tern_imap_p_char(p, ')') || !tern_imap_p_eol(p)) goto bad ;
  stralloc_free(&root) ;
  o_tagged("NO [NOPERM] Quotas are set by the administrator") ;
  return ;
 bad:
  stralloc_free(&root) ;
  o_bad(p, 0) ;
}
