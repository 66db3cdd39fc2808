/* cmd-replace.c: REPLACE and UID REPLACE (RFC 8508). The new message is
   appended to the mailbox named, as APPEND does (cmd-append.c: it was
   spooled into tmp/ while the command was read), then the message
   replaced is expunged from the selected folder, as one command: when
   the append fails nothing is removed, and when the expunge fails the new
   message is taken out again (RFC 8508 3.3). The client sees the
   APPENDUID in an untagged OK, the EXISTS of the new message when it went
   into the selected folder, then the EXPUNGE of the old one (VANISHED
   once QRESYNC or UIDONLY is on), as in the RFC's examples. Across a
   crash between the two folders' transactions both messages are kept,
   never neither. */

#include <errno.h>
#include <string.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"

/* The message replaced: its UID (the view's), or 0 after the reply. */
static uint32_t replaced (tern_imap_p *p)
{
  uint32_t n, top = view_count() ? view_uid(view_count()) : 0 ;
  if (tern_imap_p_peek(p) == '*') { tern_imap_p_char(p, '*') ; n = S.uid ? top : view_count() ; }
  else if (!tern_imap_p_nznumber(p, &n)) { o_bad(p, 0) ; return 0 ; }
  if (S.uid)
  {
    if (!n || !view_msn(n)) { o_tagged("NO [NONEXISTENT] No message with that UID to replace") ; return 0 ; }
    return n ;
  }
  if (!n || n > view_count()) { o_bad(0, view_count() ? "Invalid message sequence number" : "No messages in the mailbox") ; return 0 ; }
  return view_uid(n) ;
}

/* "* OK [APPENDUID ...]" (RFC 8508 3.3, RFC 4315 3) */
static void appenduid (tern_store *st, uint32_t uid)
{
  tern_store_info in ;
  int ok = tern_store_rbegin(st) && tern_store_info_get(st, &in) ;
  tern_store_rend(st) ;
  if (!ok) return ;
  o_str("* OK [APPENDUID ") ;
  o_num(in.uidvalidity) ;
  o_put(" ", 1) ;
  o_num(uid) ;
  o_str("] Replacement Message ready\r\n") ;
}

void cmd_replace (tern_imap_p *p)
{
  stralloc name = STRALLOC_ZERO ;
  tern_store other = TERN_STORE_ZERO, *st = &other ;
  tern_store_new nm ;
  tern_msg m ;
  uint32_t old ;
  int r ;
  if (!tern_imap_p_sp(p)) { o_bad(p, 0) ; goto end ; }
  old = replaced(p) ;
  if (!old) goto end ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &name) || !tern_imap_p_sp(p)) { o_bad(p, 0) ; goto end ; }
  /* the old message goes: the selected folder must be writable */
  if (S.readonly) { o_tagged("NO [READ-ONLY] The mailbox is read-only") ; goto end ; }
  if (S.mbox.len == name.len && !memcmp(S.mbox.s, name.s, name.len)) st = &S.st ;
  else if (!folder_open(&other, name.s, name.len)) goto end ;   /* NO [TRYCREATE] */
  if (!append_message(p, st, &nm)) goto end ;
  if (!tern_imap_p_eol(p)) { o_bad(p, 0) ; goto end ; }
  view_disk() ;
  if (!tern_store_rbegin(&S.st)) { o_nosys("read the mailbox index") ; goto end ; }
  r = tern_store_get(&S.st, old, &m) ;
  tern_store_rend(&S.st) ;
  if (r != 1)
  {
    /* expunged by another session meanwhile: told, and nothing appended */
    view_sync(1) ;
    o_tagged(r < 0 ? "NO [SERVERBUG] Cannot read the mailbox index" : "NO [EXPUNGEISSUED] The message to replace was expunged") ;
    goto end ;
  }
  /* RFC 9208 4.3: what the replacement adds beyond the old message's size */
  if (!quota_check(st == &S.st ? 0 : st, nm.size != TERN_SIZE_UNKNOWN && m.size != TERN_SIZE_UNKNOWN && nm.size > m.size ? nm.size - m.size : 0, 0))
    goto end ;
  if (!tern_store_add(st, &nm, 1)) { o_nosys("store the message") ; goto end ; }
  if (!tern_store_expunge(&S.st, &old, 1))
  {
    int e = errno ;
    if (!tern_store_expunge(st, &nm.uid, 1)) strerr_warnwu2sys("take back the replacement message in ", st->path.s) ;
    errno = e ;
    if (st == &S.st) view_sync(1) ;
    o_nosys("expunge the message replaced") ;
    goto end ;
  }
  appenduid(st, nm.uid) ;
  /* the new message's EXISTS first, then the old one's EXPUNGE (RFC 8508 3.3's example) */
  view_sync(0) ;
  view_sync(1) ;
  if (S.qresync)
  {
    /* RFC 7162 3.2.9, as for EXPUNGE and MOVE: the new HIGHESTMODSEQ */
    o_put(S.tag, S.taglen) ;
    o_str(" OK [HIGHESTMODSEQ ") ;
    o_num(S.modseq) ;
    o_str("] Replace completed\r\n") ;
  }
  else o_tagged("OK Replace completed") ;
 end:
  if (st == &other) tern_store_close(&other) ;
  stralloc_free(&name) ;
}
