/* cmd-mailbox.c: the commands that name mailboxes: SELECT and EXAMINE
   (RFC 3501 6.3.1, 6.3.2; CONDSTORE and QRESYNC of RFC 7162 3.1.2,
   3.2.5), CREATE (and RFC 6154's USE), DELETE, RENAME, SUBSCRIBE,
   UNSUBSCRIBE, LIST (RFC 3501 6.3.8; LIST-EXTENDED RFC 5258, LIST-STATUS
   RFC 5819, SPECIAL-USE RFC 6154, CHILDREN RFC 3348), LSUB, STATUS. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include "imap-serve.h"

static int kw (char const *s, size_t n, char const *w)
{
  return strlen(w) == n && !strncasecmp(s, w, n) ;
}

/* ---- SELECT, EXAMINE ---- */

/* QRESYNC's (RFC 7162 3.2.5.2): what was expunged since modseq among
   the known UIDs (all of them when known is empty), then the messages
   changed since, as FETCH responses. */
static void qresync_select (uint32_t uidvalidity, uint64_t modseq, genalloc const *known)
{
  tern_store_info in ;
  if (!tern_store_rbegin(&S.st) || !tern_store_info_get(&S.st, &in)) { tern_store_rend(&S.st) ; return ; }
  tern_store_rend(&S.st) ;
  if (uidvalidity != in.uidvalidity) return ;   /* the client starts from scratch */
  view_vanished(modseq, known, 1) ;
  view_changed(modseq, known) ;
}

static void do_select (tern_imap_p *p, int readonly)
{
  stralloc name = STRALLOC_ZERO ;
  genalloc known = GENALLOC_ZERO ;
  int condstore = 0, qresync = 0 ;
  uint32_t uv = 0 ;
  uint64_t ms = 0 ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &name)) goto bad ;
  if (tern_imap_p_peek(p) == ' ')
  {
    tern_imap_p_sp(p) ;
    if (!tern_imap_p_char(p, '(')) goto bad ;
    for (;;)
    {
      char const *a ;
      size_t n ;
      if (!tern_imap_p_atom(p, &a, &n)) goto bad ;
      if (kw(a, n, "CONDSTORE")) condstore = 1 ;
      else if (kw(a, n, "QRESYNC"))
      {
        if (!S.qresync) { p->err = "QRESYNC is not enabled (RFC 7162 3.2.5)" ; goto bad ; }
        if (!tern_imap_p_sp(p) || !tern_imap_p_char(p, '(') || !tern_imap_p_nznumber(p, &uv) || !tern_imap_p_sp(p)
         || !tern_imap_p_number64(p, &ms)) goto bad ;
        if (tern_imap_p_peek(p) == ' ')
        {
          tern_imap_p_sp(p) ;
          if (tern_imap_p_peek(p) != '(' && !tern_imap_p_seqset(p, &known, 0)) goto bad ;
          if (tern_imap_p_peek(p) == ' ') tern_imap_p_sp(p) ;
          if (tern_imap_p_peek(p) == '(')
          {
            /* seq-match-data: an optimisation the server may skip;
               message numbers, refused once UIDONLY is on (RFC 9586 3) */
            genalloc junk = GENALLOC_ZERO ;
            int ok ;
            if (S.uidonly) { p->err = UIDREQUIRED ; goto bad ; }
            ok = tern_imap_p_char(p, '(') && tern_imap_p_seqset(p, &junk, 0) && tern_imap_p_sp(p)
                  && tern_imap_p_seqset(p, &junk, 0) && tern_imap_p_char(p, ')') ;
            genalloc_free(tern_imap_range, &junk) ;
            if (!ok) goto bad ;
          }
        }
        if (!tern_imap_p_char(p, ')')) goto bad ;
        qresync = 1 ;
      }
      else { p->err = "Unknown SELECT parameter" ; goto bad ; }
      if (tern_imap_p_peek(p) != ' ') break ;
      tern_imap_p_sp(p) ;
    }
    if (!tern_imap_p_char(p, ')')) goto bad ;
  }
  if (!tern_imap_p_eol(p)) goto bad ;
  if (condstore) S.condstore = 1 ;
  if (S.selected)
  {
    view_close(0) ;
    /* RFC 7162 3.2.11, RFC 9051 6.3.2 */
    if (S.qresync || S.rev2) o_str("* OK [CLOSED] Previous mailbox is now closed\r\n") ;
  }
  if (view_select(name.s, name.len, readonly, 0))
  {
    if (qresync) qresync_select(uv, ms, &known) ;
    if (S.rev2) list_selected(name.s, name.len) ;
    o_tagged(readonly ? "OK [READ-ONLY] Examine completed" : "OK [READ-WRITE] Select completed") ;
  }
  stralloc_free(&name) ;
  genalloc_free(tern_imap_range, &known) ;
  return ;
 bad:
  stralloc_free(&name) ;
  genalloc_free(tern_imap_range, &known) ;
  o_bad(p, 0) ;
}

void cmd_select (tern_imap_p *p) { do_select(p, 0) ; }
void cmd_examine (tern_imap_p *p) { do_select(p, 1) ; }

/* ---- CREATE, DELETE, RENAME ---- */

static unsigned int use_attr (char const *s, size_t n)
{
  static char const *const names[] = { "\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", 0 } ;
  for (unsigned int i = 0 ; names[i] ; i++) if (kw(s, n, names[i])) return 1u << i ;
  return 0 ;
}

void cmd_create (tern_imap_p *p)
{
  stralloc name = STRALLOC_ZERO ;
  unsigned int use = 0 ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &name)) goto bad ;
  if (tern_imap_p_peek(p) == ' ')
  {
    /* RFC 6154 3: CREATE name (USE (\Drafts ...)) */
    char const *a ;
    size_t n ;
    tern_imap_p_sp(p) ;
    if (!tern_imap_p_char(p, '(') || !tern_imap_p_atom(p, &a, &n) || !kw(a, n, "USE") || !tern_imap_p_sp(p) || !tern_imap_p_char(p, '(')) goto bad ;
    for (;;)
    {
      unsigned int u ;
      if (!tern_imap_p_flag(p, &a, &n, 0)) goto bad ;
      u = use_attr(a, n) ;
      if (!u) { stralloc_free(&name) ; o_tagged("NO [USEATTR] Unknown special-use attribute") ; return ; }
      use |= u ;
      if (tern_imap_p_peek(p) != ' ') break ;
      tern_imap_p_sp(p) ;
    }
    if (!tern_imap_p_char(p, ')') || !tern_imap_p_char(p, ')')) goto bad ;
  }
  if (!tern_imap_p_eol(p)) goto bad ;
  /* a name ending with the separator asks for a level to put names under
     (RFC 3501 6.3.3): the name without it */
  if (name.len > 1 && name.s[name.len - 1] == '.') name.len-- ;
  if (name.len == 5 && !memcmp(name.s, "INBOX", 5)) o_tagged("NO [ALREADYEXISTS] INBOX always exists") ;
  else if (folder_exists(name.s, name.len)) o_tagged("NO [ALREADYEXISTS] Mailbox exists") ;
  else if (!tern_folder_create(S.root, name.s, name.len, use))
  {
    if (errno == EINVAL) o_tagged("NO [CANNOT] Invalid mailbox name") ;
    else if (errno == EEXIST) o_tagged("NO [ALREADYEXISTS] Mailbox exists") ;
    else o_nosys("create the mailbox") ;
  }
  else
  {
    /* RFC 8474 4.1: the new folder's MAILBOXID in the OK */
    stralloc dir = STRALLOC_ZERO ;
    char id[TERN_MAILBOXID_MAX + 1] ;
    if (tern_folder_dir(&dir, S.root, name.s, name.len) && tern_folder_mailboxid(dir.s, id))
    {
      o_put(S.tag, S.taglen) ;
      o_str(" OK [MAILBOXID (") ; o_str(id) ; o_str(")] Create completed\r\n") ;
    }
    else o_tagged("OK Create completed") ;
    stralloc_free(&dir) ;
  }
  stralloc_free(&name) ;
  return ;
 bad:
  stralloc_free(&name) ;
  o_bad(p, 0) ;
}

void cmd_delete (tern_imap_p *p)
{
  stralloc name = STRALLOC_ZERO ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &name) || !tern_imap_p_eol(p)) { stralloc_free(&name) ; o_bad(p, 0) ; return ; }
  if (name.len == 5 && !memcmp(name.s, "INBOX", 5)) o_tagged("NO [CANNOT] INBOX cannot be deleted") ;
  else if (!folder_exists(name.s, name.len)) o_tagged("NO [NONEXISTENT] No such mailbox") ;
  else
  {
    if (S.selected && S.mbox.len == name.len && !memcmp(S.mbox.s, name.s, name.len))
    {
      view_close(0) ;
      if (S.qresync) o_str("* OK [CLOSED] The selected mailbox is deleted\r\n") ;
    }
    if (!tern_folder_delete(S.root, name.s, name.len)) o_nosys("delete the mailbox") ;
    else { meta_delete(name.s, name.len) ; o_tagged("OK Delete completed") ; }
  }
  stralloc_free(&name) ;
}

/* RENAME INBOX (RFC 3501 6.3.5): its messages move to the new name,
   which is created; INBOX stays, empty. */
static void rename_inbox (char const *to, size_t tlen)
{
  tern_store in = TERN_STORE_ZERO, dst = TERN_STORE_ZERO ;
  genalloc uids = GENALLOC_ZERO ;
  uint32_t *nu = 0 ;
  tern_store *src = &in ;
  int ok = 0 ;
  if (!tern_folder_create(S.root, to, tlen, 0)) { o_nosys("create the mailbox") ; return ; }
  if (S.selected && S.mbox.len == 5 && !memcmp(S.mbox.s, "INBOX", 5)) src = &S.st ;
  else if (!folder_open(&in, "INBOX", 5)) return ;
  if (!folder_open(&dst, to, tlen)) goto end ;
  if (!tern_store_rbegin(src) || !tern_store_uids(src, &uids)) { tern_store_rend(src) ; o_nosys("read the index") ; goto end ; }
  tern_store_rend(src) ;
  nu = malloc((genalloc_len(uint32_t, &uids) + 1) * sizeof(uint32_t)) ;
  if (!nu) die_io("out-of-memory") ;
  if (!tern_store_copy(src, &dst, genalloc_s(uint32_t, &uids), genalloc_len(uint32_t, &uids), 1, nu)) { o_nosys("move the messages") ; goto end ; }
  ok = 1 ;
 end:
  free(nu) ;
  genalloc_free(uint32_t, &uids) ;
  if (src == &in) tern_store_close(&in) ;
  tern_store_close(&dst) ;
  if (ok)
  {
    meta_rename("INBOX", 5, to, tlen) ;
    if (src == &S.st) view_sync(1) ;
    o_tagged("OK Rename completed") ;
  }
}

void cmd_rename (tern_imap_p *p)
{
  stralloc from = STRALLOC_ZERO, to = STRALLOC_ZERO ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &from) || !tern_imap_p_sp(p) || !mailbox_arg(p, &to) || !tern_imap_p_eol(p))
  {
    o_bad(p, 0) ;
    goto end ;
  }
  if (to.len > 1 && to.s[to.len - 1] == '.') to.len-- ;
  if (!folder_exists(from.s, from.len)) o_tagged("NO [NONEXISTENT] No such mailbox") ;
  else if ((to.len == 5 && !memcmp(to.s, "INBOX", 5)) || folder_exists(to.s, to.len)) o_tagged("NO [ALREADYEXISTS] The new name exists") ;
  else if (from.len == 5 && !memcmp(from.s, "INBOX", 5)) rename_inbox(to.s, to.len) ;
  else if (!tern_folder_rename(S.root, from.s, from.len, to.s, to.len))
  {
    if (errno == EINVAL) o_tagged("NO [CANNOT] Cannot rename a mailbox into itself, or to an invalid name") ;
    else if (errno == EEXIST) o_tagged("NO [ALREADYEXISTS] The new name exists") ;
    else o_nosys("rename the mailbox") ;
  }
  else
  {
    meta_rename(from.s, from.len, to.s, to.len) ;
    /* the selected folder (or one of its parents) renamed: same folder */
    if (S.selected && S.mbox.len >= from.len && !memcmp(S.mbox.s, from.s, from.len)
     && (S.mbox.len == from.len || S.mbox.s[from.len] == '.'))
    {
      stralloc nn = STRALLOC_ZERO ;
      if (!stralloc_catb(&nn, to.s, to.len) || !stralloc_catb(&nn, S.mbox.s + from.len, S.mbox.len - from.len)) die_io("out-of-memory") ;
      stralloc_free(&S.mbox) ;
      S.mbox = nn ;
    }
    o_tagged("OK Rename completed") ;
  }
 end:
  stralloc_free(&from) ;
  stralloc_free(&to) ;
}

/* ---- SUBSCRIBE, UNSUBSCRIBE ---- */

static void do_subscribe (tern_imap_p *p, int add)
{
  stralloc name = STRALLOC_ZERO ;
  stralloc dir = STRALLOC_ZERO ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &name) || !tern_imap_p_eol(p)) { stralloc_free(&name) ; o_bad(p, 0) ; return ; }
  if (!tern_folder_dir(&dir, S.root, name.s, name.len)) o_tagged("NO [CANNOT] Invalid mailbox name") ;
  else if (!tern_subs_change(S.root, name.s, name.len, add)) o_nosys(add ? "subscribe" : "unsubscribe") ;
  else o_tagged(add ? "OK Subscribe completed" : "OK Unsubscribe completed") ;
  stralloc_free(&name) ;
  stralloc_free(&dir) ;
}

void cmd_subscribe (tern_imap_p *p) { do_subscribe(p, 1) ; }
void cmd_unsubscribe (tern_imap_p *p) { do_subscribe(p, 0) ; }

/* ---- STATUS ---- */

#define STA_MESSAGES 0x01
#define STA_RECENT 0x02
#define STA_UIDNEXT 0x04
#define STA_UIDVALIDITY 0x08
#define STA_UNSEEN 0x10
#define STA_HIGHESTMODSEQ 0x20
#define STA_SIZE 0x40
#define STA_DELETED 0x80
#define STA_MAILBOXID 0x100

static int status_items (tern_imap_p *p, unsigned int *items)
{
  static struct { char const *name ; unsigned int bit ; } const t[] =
  {
    { "MESSAGES", STA_MESSAGES }, { "RECENT", STA_RECENT }, { "UIDNEXT", STA_UIDNEXT },
    { "UIDVALIDITY", STA_UIDVALIDITY }, { "UNSEEN", STA_UNSEEN }, { "HIGHESTMODSEQ", STA_HIGHESTMODSEQ },
    { "SIZE", STA_SIZE }, { "DELETED", STA_DELETED }, { "MAILBOXID", STA_MAILBOXID }, { 0, 0 }
  } ;
  *items = 0 ;
  if (!tern_imap_p_char(p, '(')) return 0 ;
  for (;;)
  {
    char const *a ;
    size_t n ;
    unsigned int i = 0 ;
    if (!tern_imap_p_atom(p, &a, &n)) return 0 ;
    for (; t[i].name ; i++) if (kw(a, n, t[i].name)) break ;
    if (!t[i].name) { p->err = "Unknown STATUS item" ; return 0 ; }
    *items |= t[i].bit ;
    if (tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  return tern_imap_p_char(p, ')') ;
}

/* The RECENT count of a folder not selected: UIDs from its mark up. */
static uint32_t recent_of (tern_store *st, uint32_t mark)
{
  tern_store_iter it ;
  tern_msg m ;
  uint32_t n = 0 ;
  if (!tern_store_iter_start(st, &it, mark ? mark : 1)) return 0 ;
  while (tern_store_next(&it, &m) == 1) n++ ;
  tern_store_iter_end(&it) ;
  return n ;
}

/* STATUS SIZE (RFC 8438 3, RFC 9051 6.3.11): "equal to or greater than"
   the sum of RFC822.SIZE. The index has the sum of the sizes it knows,
   and the octets on the disk of the messages whose size it does not
   know yet (a file in another program's name, without ",W="): each of
   those counts as twice its octets, what it is at most once every LF
   is sent as CRLF. An index too old to have that figure has it counted
   from its records (never from the files). */
static uint64_t size_of (tern_store *st, tern_store_info const *in)
{
  tern_store_iter it ;
  tern_msg m ;
  uint64_t n = 0 ;
  if (in->unsized != UINT64_MAX) return in->size + 2 * in->unsized ;
  if (!tern_store_iter_start(st, &it, 1)) return in->size ;
  while (tern_store_next(&it, &m) == 1) n += m.size != TERN_SIZE_UNKNOWN ? m.size : 2 * m.filesize ;
  tern_store_iter_end(&it) ;
  return n ;
}

/* "* STATUS name (...)": 1, or 0 after a NO (when tagged is set; else
   nothing is said: LIST-STATUS skips what it cannot open). */
static int status_line (char const *name, size_t len, unsigned int items, int tagged)
{
  tern_store other = TERN_STORE_ZERO, *st ;
  tern_store_info in ;
  int sel = S.selected && S.mbox.len == len && !memcmp(S.mbox.s, name, len) ;
  uint32_t recent ;
  uint64_t size = 0 ;
  char id[TERN_MAILBOXID_MAX + 1] ;
  int sp = 0, gotid = 0 ;
  if (sel) { st = &S.st ; if (tern_store_sync(st) < 0) strerr_warnwu1sys("bring the index up to date") ; }
  else if (tagged) { if (!folder_open(&other, name, len)) return 0 ; st = &other ; }
  else
  {
    stralloc dir = STRALLOC_ZERO ;
    int ok = tern_folder_dir(&dir, S.root, name, len) && tern_store_open(&other, dir.s, TERN_STORE_CREATE) ;
    stralloc_free(&dir) ;
    if (!ok) { other = (tern_store)TERN_STORE_ZERO ; return 0 ; }
    tern_store_sync(&other) ;
    st = &other ;
  }
  if (!tern_store_rbegin(st) || !tern_store_info_get(st, &in))
  {
    tern_store_rend(st) ;
    if (!sel) tern_store_close(&other) ;
    if (tagged) o_nosys("read the mailbox index") ;
    return 0 ;
  }
  recent = sel ? view_nrecent() : items & STA_RECENT ? recent_of(st, in.recent) : 0 ;
  if (items & STA_SIZE) size = size_of(st, &in) ;
  if (items & STA_MAILBOXID && !(gotid = tern_folder_mailboxid(st->path.s, id))) strerr_warnwu2sys("make the MAILBOXID of ", st->path.s) ;
  tern_store_rend(st) ;
  if (!sel) tern_store_close(&other) ;
  if (items & STA_HIGHESTMODSEQ) condstore_on() ;
  o_str("* STATUS ") ;
  o_mailbox(name, len) ;
  o_str(" (") ;
#define ITEM(bit, label, v) if (items & bit) { if (sp) o_put(" ", 1) ; o_str(label " ") ; o_num(v) ; sp = 1 ; }
  ITEM(STA_MESSAGES, "MESSAGES", in.messages)
  ITEM(STA_RECENT, "RECENT", recent)
  ITEM(STA_UIDNEXT, "UIDNEXT", in.uidnext)
  ITEM(STA_UIDVALIDITY, "UIDVALIDITY", in.uidvalidity)
  ITEM(STA_UNSEEN, "UNSEEN", in.unseen)
  ITEM(STA_HIGHESTMODSEQ, "HIGHESTMODSEQ", in.highestmodseq)
  ITEM(STA_SIZE, "SIZE", size)
  ITEM(STA_DELETED, "DELETED", in.deleted)
#undef ITEM
  if (gotid) { if (sp) o_put(" ", 1) ; o_str("MAILBOXID (") ; o_str(id) ; o_put(")", 1) ; }   /* RFC 8474 4.3 */
  o_str(")\r\n") ;
  return 1 ;
}

void cmd_status (tern_imap_p *p)
{
  stralloc name = STRALLOC_ZERO ;
  unsigned int items ;
  if (!tern_imap_p_sp(p) || !mailbox_arg(p, &name) || !tern_imap_p_sp(p) || !status_items(p, &items) || !tern_imap_p_eol(p))
  {
    stralloc_free(&name) ;
    o_bad(p, 0) ;
    return ;
  }
  if (status_line(name.s, name.len, items, 1)) o_tagged("OK Status completed") ;
  stralloc_free(&name) ;
}

/* ---- LIST, LSUB ---- */

/* RFC 3501 6.3.8: "*" matches anything, "%" anything but the separator.
   The pattern as an automaton run over the name once, the set of its
   live positions in cur: O(pattern * name) time, which is at most
   quadratic in a 250-octet name, and no backtracking. */
static int match (char const *pat, size_t pl, char const *s, size_t sl)
{
  unsigned char cur[pl + 1], nxt[pl + 1] ;
  memset(cur, 0, pl + 1) ;
  cur[0] = 1 ;
  /* a wildcard also matches nothing: a live position before it makes the next one live */
  for (size_t p = 0 ; p < pl ; p++) if (cur[p] && (pat[p] == '*' || pat[p] == '%')) cur[p+1] = 1 ;
  for (size_t i = 0 ; i < sl ; i++)
  {
    int any = 0 ;
    memset(nxt, 0, pl + 1) ;
    for (size_t p = 0 ; p < pl ; p++)
    {
      if (!cur[p]) continue ;
      if (pat[p] == '*' || (pat[p] == '%' && s[i] != '.')) nxt[p] = 1 ;
      else if (pat[p] != '*' && pat[p] != '%' && pat[p] == s[i]) nxt[p+1] = 1 ;
    }
    for (size_t p = 0 ; p < pl ; p++) if (nxt[p] && (pat[p] == '*' || pat[p] == '%')) nxt[p+1] = 1 ;
    for (size_t p = 0 ; p <= pl ; p++) any |= (cur[p] = nxt[p]) ;
    if (!any) return 0 ;
  }
  return cur[pl] ;
}

/* INBOX matches its pattern in any case (RFC 3501 5.1). */
static int match_name (char const *pat, size_t pl, char const *name, size_t nl)
{
  if (match(pat, pl, name, nl)) return 1 ;
  if (nl >= 5 && !memcmp(name, "INBOX", 5) && pl >= 5 && !strncasecmp(pat, "INBOX", 5))
  {
    char tmp[pl] ;
    memcpy(tmp, pat, pl) ;
    memcpy(tmp, "INBOX", 5) ;
    return match(tmp, pl, name, nl) ;
  }
  return 0 ;
}

typedef struct lentry_s lentry ;
struct lentry_s
{
  size_t name ;      /* offset in the names stralloc */
  size_t len ;
  unsigned int real : 1 ;       /* a folder */
  unsigned int subscribed : 1 ;
  unsigned int children : 1 ;
  unsigned int subchild : 1 ;   /* a subscribed name below it */
  unsigned int raw : 1 ;        /* names_to_wire left it as on the disk (not modified UTF-7) */
  unsigned int use ;
} ;

static char const *lbase ;

static int lentry_cmp (void const *a, void const *b)
{
  lentry const *x = a, *y = b ;
  int xi = x->len == 5 && !memcmp(lbase + x->name, "INBOX", 5), yi = y->len == 5 && !memcmp(lbase + y->name, "INBOX", 5) ;
  size_t n = x->len < y->len ? x->len : y->len ;
  int c ;
  if (xi != yi) return xi ? -1 : 1 ;
  c = memcmp(lbase + x->name, lbase + y->name, n) ;
  return c ? c : x->len < y->len ? -1 : x->len > y->len ;
}

/* Every name LIST may speak of: the folders, the names above them, the
   subscriptions; with their attributes. */
static int list_names (stralloc *names, genalloc *ents)
{
  stralloc folders = STRALLOC_ZERO, subs = STRALLOC_ZERO ;
  size_t n ;
  if (!tern_folder_list(&folders, S.root) || !tern_subs_read(&subs, S.root)) { stralloc_free(&folders) ; stralloc_free(&subs) ; return 0 ; }
  for (int pass = 0 ; pass < 2 ; pass++)
  {
    stralloc const *src = pass ? &subs : &folders ;
    for (size_t i = 0 ; i < src->len ; i += strlen(src->s + i) + 1)
    {
      char const *nm = src->s + i ;
      size_t nl = strlen(nm) ;
      /* the name and every level above it */
      for (size_t k = nl ; ; )
      {
        lentry e = { .name = names->len, .len = k, .real = !pass && k == nl, .subscribed = pass && k == nl, .children = k < nl, .subchild = pass && k < nl } ;
        size_t j ;
        for (j = 0 ; j < genalloc_len(lentry, ents) ; j++)
        {
          lentry *f = genalloc_s(lentry, ents) + j ;
          if (f->len == k && !memcmp(names->s + f->name, nm, k))
          {
            f->real |= e.real ; f->subscribed |= e.subscribed ; f->children |= e.children ; f->subchild |= e.subchild ;
            break ;
          }
        }
        if (j == genalloc_len(lentry, ents))
        {
          if (!stralloc_catb(names, nm, k) || !genalloc_append(lentry, ents, &e)) { stralloc_free(&folders) ; stralloc_free(&subs) ; return 0 ; }
        }
        while (k && nm[k-1] != '.') k-- ;
        if (!k) break ;
        k-- ;
        if (!k) break ;
      }
    }
  }
  stralloc_free(&folders) ;
  stralloc_free(&subs) ;
  n = genalloc_len(lentry, ents) ;
  for (size_t j = 0 ; j < n ; j++)
  {
    lentry *e = genalloc_s(lentry, ents) + j ;
    if (e->real) e->use = tern_folder_use(S.root, names->s + e->name, e->len) ;
  }
  lbase = names->s ;
  qsort(genalloc_s(lentry, ents), n, sizeof(lentry), &lentry_cmp) ;
  return 1 ;
}

#define SEL_SUBSCRIBED 0x01
#define SEL_RECURSIVE 0x02
#define SEL_SPECIALUSE 0x04
#define RET_SUBSCRIBED 0x01
#define RET_CHILDREN 0x02
#define RET_STATUS 0x04
#define RET_SPECIALUSE 0x08

static void o_use (unsigned int use, int *sp)
{
  static char const *const names[] = { "\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", 0 } ;
  for (unsigned int i = 0 ; names[i] ; i++)
    if (use & (1u << i)) { if (*sp) o_put(" ", 1) ; o_str(names[i]) ; *sp = 1 ; }
}

static int match_any (stralloc const *pats, char const *nm, size_t nl)
{
  for (size_t i = 0 ; i < pats->len ; i += strlen(pats->s + i) + 1)
    if (match_name(pats->s + i, strlen(pats->s + i), nm, nl)) return 1 ;
  return 0 ;
}

/* RECURSIVEMATCH (RFC 5258 3.5): a parent is reported for the subscribed
   names below it that the patterns do not report themselves. */
static int subscribed_below_unlisted (stralloc const *names, genalloc const *ents, lentry const *e, stralloc const *pats)
{
  for (size_t j = 0 ; j < genalloc_len(lentry, ents) ; j++)
  {
    lentry const *f = genalloc_s(lentry, ents) + j ;
    char const *fn = names->s + f->name ;
    if (!f->subscribed || f->len <= e->len + 1 || memcmp(fn, names->s + e->name, e->len) || fn[e->len] != '.') continue ;
    if (!match_any(pats, fn, f->len)) return 1 ;
  }
  return 0 ;
}

/* With UTF-8 on (RFC 6855 3), the names as the client writes them: the
   patterns are matched against those, and they are sent as they are. A
   name that is not valid modified UTF-7 stays as it is. */
static int names_to_wire (stralloc *names, genalloc *ents)
{
  stralloc w = STRALLOC_ZERO ;
  for (size_t j = 0 ; j < genalloc_len(lentry, ents) ; j++)
  {
    lentry *e = genalloc_s(lentry, ents) + j ;
    size_t start = w.len ;
    if (!tern_mutf7_to_utf8(&w, names->s + e->name, e->len))
    {
      if (errno != EINVAL) { stralloc_free(&w) ; return 0 ; }
      w.len = start ;
      if (!stralloc_catb(&w, names->s + e->name, e->len)) { stralloc_free(&w) ; return 0 ; }
      e->raw = 1 ;
    }
    e->name = start ;
    e->len = w.len - start ;
  }
  stralloc_free(names) ;
  *names = w ;
  lbase = names->s ;
  qsort(genalloc_s(lentry, ents), genalloc_len(lentry, ents), sizeof(lentry), &lentry_cmp) ;
  return 1 ;
}

static void list_entry (lentry const *e, char const *nm, unsigned int sel, unsigned int ret, unsigned int items, int lsub, int extended, int childinfo)
{
  int sp = 0 ;
  o_str(lsub ? "* LSUB (" : "* LIST (") ;
  if (lsub)
  {
    if (!e->subscribed || !e->real) { o_str("\\Noselect") ; sp = 1 ; }
  }
  else
  {
    if (!e->real)
    {
      /* a level with no folder: the parent of folders (\Noselect), or
         a subscription to nothing (RFC 5258 3.4: \NonExistent, which
         implies \Noselect) */
      o_str(extended && !e->children ? "\\NonExistent" : "\\Noselect") ;
      sp = 1 ;
    }
    if (e->children || e->real)
    {
      if (sp) o_put(" ", 1) ;
      o_str(e->children ? "\\HasChildren" : "\\HasNoChildren") ;
      sp = 1 ;
    }
    if (e->subscribed && (ret & RET_SUBSCRIBED || sel & SEL_SUBSCRIBED)) { if (sp) o_put(" ", 1) ; o_str("\\Subscribed") ; sp = 1 ; }
    o_use(e->use, &sp) ;
  }
  o_str(") \".\" ") ;
  o_string(nm, e->len) ;
  if (childinfo) o_str(" (\"CHILDINFO\" (\"SUBSCRIBED\"))") ;
  o_str("\r\n") ;
  if (ret & RET_STATUS && e->real)
  {
    stralloc d = STRALLOC_ZERO ;
    /* the disk's name: converted back, unless it went out as it is */
    if (!stralloc_catb(&d, nm, e->len)) die_io("out-of-memory") ;
    if (!e->raw && !mailbox_to_disk(&d, 0))
    {
      if (errno != EINVAL) die_io("out-of-memory") ;
      d.len = 0 ;
      if (!stralloc_catb(&d, nm, e->len)) die_io("out-of-memory") ;
    }
    status_line(d.s, d.len, items, 0) ;
    stralloc_free(&d) ;
  }
}

/* RFC 9051 6.3.2: SELECT and EXAMINE say the folder's LIST (IMAP4rev2). */
void list_selected (char const *name, size_t len)
{
  stralloc names = STRALLOC_ZERO ;
  genalloc ents = GENALLOC_ZERO ;
  if (list_names(&names, &ents))
  {
    for (size_t j = 0 ; j < genalloc_len(lentry, &ents) ; j++)
    {
      lentry const *e = genalloc_s(lentry, &ents) + j ;
      if (e->len != len || memcmp(names.s + e->name, name, len)) continue ;
      if (S.utf8)
      {
        /* the one entry, in the client's form */
        stralloc w = STRALLOC_ZERO ;
        lentry f = *e ;
        if (!tern_mutf7_to_utf8(&w, name, len)) { w.len = 0 ; if (!stralloc_catb(&w, name, len)) die_io("out-of-memory") ; }
        f.len = w.len ;
        list_entry(&f, w.s, 0, 0, 0, 0, 1, 0) ;
        stralloc_free(&w) ;
      }
      else list_entry(e, names.s + e->name, 0, 0, 0, 0, 1, 0) ;
      break ;
    }
  }
  stralloc_free(&names) ;
  genalloc_free(lentry, &ents) ;
}

static void list_run (stralloc const *pats, unsigned int sel, unsigned int ret, unsigned int items, int lsub, int extended)
{
  stralloc names = STRALLOC_ZERO ;
  genalloc ents = GENALLOC_ZERO ;
  if (!list_names(&names, &ents) || (S.utf8 && !names_to_wire(&names, &ents))) { o_nosys("list the mailboxes") ; goto end ; }
  for (size_t j = 0 ; j < genalloc_len(lentry, &ents) ; j++)
  {
    lentry const *e = genalloc_s(lentry, &ents) + j ;
    char const *nm = names.s + e->name ;
    int hit = 0, childinfo = 0 ;
    for (size_t i = 0 ; i < pats->len && !hit ; i += strlen(pats->s + i) + 1)
    {
      char const *pat = pats->s + i ;
      size_t pl = strlen(pat) ;
      hit = match_name(pat, pl, nm, e->len) ;
      /* RECURSIVEMATCH (RFC 5258 3.5): a parent matched because of a subscribed child */
      if (hit && (sel & SEL_SUBSCRIBED) && !e->subscribed)
      {
        if ((sel & SEL_RECURSIVE) && e->subchild && subscribed_below_unlisted(&names, &ents, e, pats)) childinfo = 1 ;
        else if (!lsub || !e->subchild || pl == 0 || pat[pl-1] != '%') hit = 0 ;
      }
    }
    if (!hit) continue ;
    if ((sel & SEL_SPECIALUSE) && !e->use) continue ;
    /* a subscription to nothing only for the SUBSCRIBED selection
       option (RFC 5258 3.4) */
    if (!lsub && !(sel & SEL_SUBSCRIBED) && !e->real && !e->children) continue ;
    list_entry(e, nm, sel, ret, items, lsub, extended, childinfo) ;
  }
  o_tagged(lsub ? "OK Lsub completed" : "OK List completed") ;
 end:
  stralloc_free(&names) ;
  genalloc_free(lentry, &ents) ;
}

/* reference + pattern (RFC 3501 6.3.8): appended to pats, NUL-terminated. */
static int add_pattern (stralloc *pats, stralloc const *ref, char const *pat, size_t pl)
{
  size_t start = pats->len ;
  if (!stralloc_catb(pats, ref->s, ref->len)) return 0 ;
  /* "a." and ".b" make "a.b", not "a..b" */
  if (ref->len && pl && ref->s[ref->len - 1] == '.' && pat[0] == '.') { pat++ ; pl-- ; }
  if (!stralloc_catb(pats, pat, pl) || !stralloc_0(pats)) return 0 ;
  tern_folder_canon(pats->s + start, pats->len - start - 1) ;
  return 1 ;
}

static void do_list (tern_imap_p *p, int lsub)
{
  stralloc ref = STRALLOC_ZERO, pat = STRALLOC_ZERO, pats = STRALLOC_ZERO ;
  unsigned int sel = 0, ret = 0, items = 0 ;
  int extended = 0, npat = 0 ;
  char const *a ;
  size_t n ;
  if (!tern_imap_p_sp(p)) goto bad ;
  if (!lsub && tern_imap_p_peek(p) == '(')
  {
    /* selection options (RFC 5258 3.1) */
    extended = 1 ;
    tern_imap_p_char(p, '(') ;
    while (tern_imap_p_peek(p) != ')')
    {
      if (!tern_imap_p_atom(p, &a, &n)) goto bad ;
      if (kw(a, n, "SUBSCRIBED")) sel |= SEL_SUBSCRIBED ;
      else if (kw(a, n, "RECURSIVEMATCH")) sel |= SEL_RECURSIVE ;
      else if (kw(a, n, "SPECIAL-USE")) sel |= SEL_SPECIALUSE ;
      else if (kw(a, n, "REMOTE")) ;
      else { p->err = "Unknown LIST selection option" ; goto bad ; }
      if (tern_imap_p_peek(p) == ' ') tern_imap_p_sp(p) ;
    }
    tern_imap_p_char(p, ')') ;
    if ((sel & SEL_RECURSIVE) && !(sel & SEL_SUBSCRIBED)) { p->err = "RECURSIVEMATCH needs another selection option (RFC 5258 3.1)" ; goto bad ; }
    if (!tern_imap_p_sp(p)) goto bad ;
  }
  if (!mailbox_wire(p, &ref) || !tern_imap_p_sp(p)) goto bad ;
  if (!lsub && tern_imap_p_peek(p) == '(')
  {
    extended = 1 ;
    tern_imap_p_char(p, '(') ;
    for (;;)
    {
      pat.len = 0 ;
      if (!tern_imap_p_listmailbox(p, &pat) || !add_pattern(&pats, &ref, pat.s, pat.len)) goto bad ;
      npat++ ;
      if (tern_imap_p_peek(p) != ' ') break ;
      tern_imap_p_sp(p) ;
    }
    if (!tern_imap_p_char(p, ')')) goto bad ;
  }
  else
  {
    if (!tern_imap_p_listmailbox(p, &pat)) goto bad ;
    if (!pat.len && !lsub && !extended)
    {
      /* RFC 3501 6.3.8: the hierarchy separator and the root of ref */
      if (!tern_imap_p_eol(p)) goto bad ;
      o_str("* LIST (\\Noselect) \".\" \"\"\r\n") ;
      o_tagged("OK List completed") ;
      goto end ;
    }
    if (!add_pattern(&pats, &ref, pat.s, pat.len)) goto bad ;
    npat++ ;
  }
  if (!lsub && tern_imap_p_peek(p) == ' ')
  {
    /* return options (RFC 5258 3.2, RFC 5819, RFC 6154) */
    tern_imap_p_sp(p) ;
    if (!tern_imap_p_atom(p, &a, &n) || !kw(a, n, "RETURN") || !tern_imap_p_sp(p) || !tern_imap_p_char(p, '(')) goto bad ;
    extended = 1 ;
    while (tern_imap_p_peek(p) != ')')
    {
      if (!tern_imap_p_atom(p, &a, &n)) goto bad ;
      if (kw(a, n, "SUBSCRIBED")) ret |= RET_SUBSCRIBED ;
      else if (kw(a, n, "CHILDREN")) ret |= RET_CHILDREN ;
      else if (kw(a, n, "SPECIAL-USE")) ret |= RET_SPECIALUSE ;
      else if (kw(a, n, "STATUS"))
      {
        ret |= RET_STATUS ;
        if (!tern_imap_p_sp(p) || !status_items(p, &items)) goto bad ;
      }
      else { p->err = "Unknown LIST return option" ; goto bad ; }
      if (tern_imap_p_peek(p) == ' ') tern_imap_p_sp(p) ;
    }
    tern_imap_p_char(p, ')') ;
  }
  if (!tern_imap_p_eol(p)) goto bad ;
  (void)npat ;
  list_run(&pats, lsub ? SEL_SUBSCRIBED : sel, ret, items, lsub, extended) ;
  goto end ;
 bad:
  o_bad(p, 0) ;
 end:
  stralloc_free(&ref) ;
  stralloc_free(&pat) ;
  stralloc_free(&pats) ;
}

void cmd_list (tern_imap_p *p) { do_list(p, 0) ; }
void cmd_lsub (tern_imap_p *p) { do_list(p, 1) ; }
