/* folder.c: mailbox names from the client to folders of the Maildir.
   Names are modified UTF-7 on the disk, and on the wire too (RFC 3501
   5.1.3) until the client enables UTF8=ACCEPT or IMAP4rev2: then they are
   UTF-8 both ways (RFC 6855 3, RFC 9051 5.1), converted here and in
   o_mailbox. tern_folder_dir refuses what could leave the Maildir or
   cannot be a folder. */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <unistr.h>
#include "imap-serve.h"

/* RFC 6855 3: Net-Unicode, and no C0 or C1 control, DEL, U+2028 or U+2029 */
static int utf8_name_ok (char const *s, size_t n)
{
  uint8_t const *u = (uint8_t const *)s, *end = u + n ;
  if (u8_check(u, n)) return 0 ;
  while (u < end)
  {
    ucs4_t c ;
    int k = u8_mbtouc(&c, u, end - u) ;
    if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029) return 0 ;
    u += k ;
  }
  return 1 ;
}

/* sa from start: the name as the client wrote it, to the disk's form */
int mailbox_to_disk (stralloc *sa, size_t start)
{
  stralloc m = STRALLOC_ZERO ;
  size_t n = sa->len - start ;
  if (!S.utf8) return 1 ;
  if (!utf8_name_ok(sa->s + start, n)) return (errno = EINVAL, 0) ;
  if (!tern_utf8_to_mutf7(&m, sa->s + start, n)) { stralloc_free(&m) ; return 0 ; }
  sa->len = start ;
  if (!stralloc_catb(sa, m.s, m.len)) { stralloc_free(&m) ; return 0 ; }
  stralloc_free(&m) ;
  return 1 ;
}

/* The name as the client wrote it, INBOX in any case as INBOX. */
int mailbox_wire (tern_imap_p *p, stralloc *sa)
{
  size_t start = sa->len ;
  if (!tern_imap_p_astring(p, sa)) return 0 ;
  tern_folder_canon(sa->s + start, sa->len - start) ;
  return 1 ;
}

/* The name in the disk's form. */
int mailbox_arg (tern_imap_p *p, stralloc *sa)
{
  size_t start = sa->len ;
  if (!mailbox_wire(p, sa)) return 0 ;
  if (!mailbox_to_disk(sa, start))
  {
    if (errno != EINVAL) die_io("out-of-memory") ;
    p->err = "Invalid mailbox name: not UTF-8, or a control character (RFC 6855 3)" ;
    return 0 ;
  }
  return 1 ;
}

/* A folder's name (the disk's form) as the client reads it. A name
   that is not valid modified UTF-7 goes as it is. */
void o_mailbox (char const *s, size_t n)
{
  stralloc u = STRALLOC_ZERO ;
  if (S.utf8 && memchr(s, '&', n) && tern_mutf7_to_utf8(&u, s, n)) o_string(u.s, u.len) ;
  else o_string(s, n) ;
  stralloc_free(&u) ;
}

int folder_dir (stralloc *sa, char const *name, size_t len)
{
  if (tern_folder_dir(sa, S.root, name, len)) return 1 ;
  if (errno == EINVAL) o_tagged("NO [CANNOT] Invalid mailbox name") ;
  else o_nosys("find the mailbox") ;
  return 0 ;
}

int folder_exists (char const *name, size_t len)
{
  stralloc sa = STRALLOC_ZERO ;
  struct stat s ;
  int r = 0 ;
  if (tern_folder_dir(&sa, S.root, name, len)) r = stat(sa.s, &s) == 0 && S_ISDIR(s.st_mode) ;
  stralloc_free(&sa) ;
  return r ;
}

int folder_open (tern_store *st, char const *name, size_t len)
{
  stralloc sa = STRALLOC_ZERO ;
  struct stat s ;
  if (!folder_dir(&sa, name, len)) return 0 ;
  if (stat(sa.s, &s) < 0 || !S_ISDIR(s.st_mode))
  {
    stralloc_free(&sa) ;
    o_tagged("NO [TRYCREATE] No such mailbox") ;
    return 0 ;
  }
  if (!tern_store_open(st, sa.s, TERN_STORE_CREATE))
  {
    int e = errno ;
    stralloc_free(&sa) ;
    *st = (tern_store)TERN_STORE_ZERO ;
    errno = e ;
    if (e == ENOENT) o_tagged("NO [TRYCREATE] No such mailbox") ;
    else o_nosys("open the mailbox") ;
    return 0 ;
  }
  stralloc_free(&sa) ;
  if (tern_store_sync(st) < 0) strerr_warnwu2sys("bring the index up to date in ", st->path.s) ;
  return 1 ;
}
