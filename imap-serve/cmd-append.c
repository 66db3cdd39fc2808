/* cmd-append.c: APPEND (RFC 3501 6.3.11), with MULTIAPPEND (RFC 3502:
   all the messages or none), APPENDUID (RFC 4315 3), APPENDLIMIT (RFC
   7889), the quota (RFC 9208 4.3), literal8 messages (BINARY, RFC 3516
   4.4) and UTF8 (RFC 6855 4). The messages were written into the
   Maildir's tmp/ and fsynced while the command was read (imap-serve.c,
   literal8.c);
   here they go into the folder's cur/ under their flags, get their UIDs,
   and only then is the OK sent. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"

/* One message of APPEND (or REPLACE, RFC 8508 3): [flag-list SP]
   [date-time SP] literal, the literal spooled into tmp/ already. 1 with
   nm filled, or 0 after the reply (BAD, or NO with its code). */
int append_message (tern_imap_p *p, tern_store *st, tern_store_new *nm)
{
  char const *data ;
  uint64_t len ;
  int fd, binary ;
  *nm = (tern_store_new){ .tmpname = 0, .tmpdirfd = imap_tmpdir(), .flags = 0, .keywords = 0, .internaldate = 0 } ;
  if (tern_imap_p_peek(p) == '(')
  {
    tern_imap_p_char(p, '(') ;
    while (tern_imap_p_peek(p) != ')')
    {
      char const *f ;
      size_t n ;
      int nokw ;
      if (!tern_imap_p_flag(p, &f, &n, 0)) { o_bad(p, 0) ; return 0 ; }
      if (!flag_arg(st, f, n, &nm->flags, &nm->keywords, 1, &nokw))
      {
        if (nokw) o_tagged("NO [LIMIT] No room for another keyword in this mailbox") ;
        else { p->err = "Invalid flag" ; o_bad(p, 0) ; }
        return 0 ;
      }
      if (tern_imap_p_peek(p) == ' ') tern_imap_p_sp(p) ;
      else break ;
    }
    if (!tern_imap_p_char(p, ')') || !tern_imap_p_sp(p)) { o_bad(p, 0) ; return 0 ; }
  }
  if (tern_imap_p_peek(p) == '"')
  {
    int zone ;
    if (!tern_imap_p_datetime(p, &nm->internaldate, &zone) || !tern_imap_p_sp(p)) { o_bad(p, 0) ; return 0 ; }
    if (nm->internaldate <= 0) nm->internaldate = 1 ;
  }
  if (!tern_imap_p_literal(p, &data, &fd, &len, &binary)) { o_bad(p, 0) ; return 0 ; }
  /* a literal8 (RFC 3516 4.4), within APPENDLIMIT as any other, was
     stored with its binary parts in base64 (literal8.c) */
  (void)binary ;
  if (fd < 0 || !imap_spooled(fd, &nm->tmpname, &nm->filesize, &nm->size)) { o_tagged("NO [SERVERBUG] The message was not stored") ; return 0 ; }
  if (!len) { o_tagged("NO [CANNOT] An empty message cannot be appended") ; return 0 ; }
  return 1 ;
}

void cmd_append (tern_imap_p *p)
{
  stralloc name = STRALLOC_ZERO ;
  genalloc msgs = GENALLOC_ZERO ;   /* tern_store_new */
  tern_store other = TERN_STORE_ZERO, *st = &other ;
  tern_store_info in ;
  int sel ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &name) || !tern_imap_p_sp(p)) { o_bad(p, 0) ; goto end ; }
  sel = S.selected && S.mbox.len == name.len && !memcmp(S.mbox.s, name.s, name.len) ;
  if (sel) st = &S.st ;
  else if (!folder_open(&other, name.s, name.len)) goto end ;
  for (;;)
  {
    tern_store_new nm ;
    if (!append_message(p, st, &nm)) goto end ;
    if (!genalloc_append(tern_store_new, &msgs, &nm)) die_io("out-of-memory") ;
    if (tern_imap_p_eol(p)) break ;
    p->err = 0 ;
    if (!tern_imap_p_sp(p)) { o_bad(p, 0) ; goto end ; }
  }
  {
    /* RFC 9208 4.3: all of them within the quota, or none */
    uint64_t total = 0 ;
    for (size_t i = 0 ; i < genalloc_len(tern_store_new, &msgs) ; i++) total += genalloc_s(tern_store_new, &msgs)[i].size ;
    if (!quota_check(sel ? 0 : st, total, genalloc_len(tern_store_new, &msgs))) goto end ;
  }
  if (!tern_store_add(st, genalloc_s(tern_store_new, &msgs), genalloc_len(tern_store_new, &msgs)))
  {
    o_nosys("store the message") ;
    goto end ;
  }
  if (!tern_store_rbegin(st) || !tern_store_info_get(st, &in))
  {
    tern_store_rend(st) ;
    o_tagged("OK Append completed") ;
    goto end ;
  }
  tern_store_rend(st) ;
  if (sel) view_sync(1) ;
  {
    size_t n = genalloc_len(tern_store_new, &msgs) ;
    uint32_t u[n] ;
    for (size_t i = 0 ; i < n ; i++) u[i] = genalloc_s(tern_store_new, &msgs)[i].uid ;
    o_put(S.tag, S.taglen) ;
    o_str(" OK [APPENDUID ") ;
    o_num(in.uidvalidity) ;
    o_put(" ", 1) ;
    o_uidset(u, n) ;
    o_str("] Append completed\r\n") ;
  }
 end:
  if (st == &other) tern_store_close(&other) ;
  stralloc_free(&name) ;
  genalloc_free(tern_store_new, &msgs) ;
}
