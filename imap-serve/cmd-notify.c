/* cmd-notify.c: NOTIFY (RFC 5465). NOTIFY SET names event groups, each
   a set of mailboxes and the events wanted for them; from then on the
   session tells the client of those events as they happen, between
   commands and in IDLE (RFC 5465 4), never in the middle of a command's
   responses:
   - the selected folder (SELECTED, SELECTED-DELAYED): what view_sync
     reports (EXISTS, EXPUNGE or VANISHED, FETCH FLAGS), and for
     MessageNew with fetch attributes the new messages' FETCH (5.2);
     SELECTED-DELAYED holds the expunges for a command that allows them
     (6.1.2);
   - other folders: a STATUS when their figures change (5.1 to 5.3),
     read from the folder's index (no message file is read);
   - folders created, deleted or renamed (MailboxName, 5.4) and
     subscriptions (SubscriptionChange, 5.5): LIST responses;
   - METADATA entries (MailboxMetadataChange, ServerMetadataChange, 5.6,
     5.7): "* METADATA mailbox entry", from a comparison of cmd-metadata.c's
     file with the names and hashes of the values last read.
   One inotify instance of our own: a watch on the Maildir root (its
   .Name directories, subscriptions and tern-metadata) and on new/ and cur/ of
   each watched folder; the selected folder's own watch (tern_store_watch)
   is waited on beside it. Events are gathered for SETTLE milliseconds
   after the first before anything is read or said, so that a burst of
   deliveries is one STATUS. A folder without a watch is looked at every
   POLL seconds. The state is a few dozen octets a watched folder and its
   name; at most NOTIFY_MAXBOX folders are watched (NOTIFICATIONOVERFLOW
   past that, 3.1 and 5.8). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/tai.h>
#include <skalibs/iopause.h>
#include <skalibs/djbunix.h>
#include "imap-serve.h"

#define NOTIFY_MAXBOX 100     /* folders watched for message events, and mailbox names in one NOTIFY */
#define NOTIFY_MAXGROUPS 32   /* event groups in one NOTIFY */
#define SETTLE 300            /* milliseconds from the first event to the responses */
#define POLL 3                /* seconds between looks at what has no watch */
#define PENDMAX 65536         /* octets of folder events kept before they are said */

/* events (RFC 5465 5) */
#define EV_NEW 0x01
#define EV_EXPUNGE 0x02
#define EV_FLAG 0x04
#define EV_ANNOT 0x08
#define EV_NAME 0x10
#define EV_SUBS 0x20
#define EV_MBMETA 0x40
#define EV_SRVMETA 0x80
#define EV_OTHER 0x100
#define EV_MESSAGE (EV_NEW | EV_EXPUNGE | EV_FLAG | EV_ANNOT)
#define EV_MAILBOX (EV_NAME | EV_SUBS | EV_MBMETA)
#define EV_SUPPORTED (EV_NEW | EV_EXPUNGE | EV_FLAG | EV_NAME | EV_SUBS | EV_MBMETA | EV_SRVMETA)

/* filters (RFC 5465 6) */
enum { F_SELECTED, F_DELAYED, F_INBOXES, F_PERSONAL, F_SUBSCRIBED, F_SUBTREE, F_MAILBOXES } ;

typedef struct ngroup_s ngroup ;
struct ngroup_s
{
  unsigned int filter ;
  unsigned int events ;
  size_t names ;          /* SUBTREE, MAILBOXES: offset in gnames of its names, each NUL-terminated */
  unsigned int nnames ;
} ;

/* a folder watched for message events */
typedef struct nbox_s nbox ;
struct nbox_s
{
  uint32_t name ;         /* offset in bnames */
  int wnew, wcur ;
  unsigned int events ;
  unsigned int dirty : 1 ;
  unsigned int known : 1 ;  /* the figures are the client's */
  unsigned int fresh : 1 ;  /* came into the set after the NOTIFY: its figures are an empty folder's */
  uint32_t uidvalidity, uidnext, messages, unseen ;
  uint64_t hms ;
} ;

typedef struct nstate_s nstate ;
struct nstate_s
{
  genalloc groups ;       /* ngroup */
  stralloc gnames ;
  unsigned int selev ;    /* the SELECTED group's events */
  int delayed ;
  stralloc atts ;         /* MessageNew's fetch attributes for the selected folder: their text */
} ;
#define NSTATE_ZERO { .groups = GENALLOC_ZERO, .gnames = STRALLOC_ZERO, .selev = 0, .delayed = 0, .atts = STRALLOC_ZERO }

static int on = 0 ;
static nstate N = NSTATE_ZERO ;
static genalloc boxes = GENALLOC_ZERO ;   /* nbox */
static stralloc bnames = STRALLOC_ZERO ;
static stralloc subs = STRALLOC_ZERO ;    /* the subscriptions as last read, when a group needs them */
static int usesubs = 0 ;
static int ino = -1, wroot = -1 ;
static stralloc pend = STRALLOC_ZERO ;   /* root events: type ('C' 'D' 'F' 'T'), used, cookie (4), name, NUL */
static int subsdirty = 0, seldirty = 0, rootlost = 0, due = 0 ;
static tain duetime, polltime ;
static stralloc lastsel = STRALLOC_ZERO ; /* the selected folder when we last looked, "\0" none */
static stralloc flist = STRALLOC_ZERO ;   /* the folders, read once for the LIST responses of a round */
static int flistok = 0 ;
static stralloc meta = STRALLOC_ZERO ;    /* METADATA entries as last read: "mailbox NUL entry NUL", 8 octets of a hash of the value */
static int usemeta = 0, metadirty = 0 ;

#define G (genalloc_s(ngroup, &N.groups))
#define NG (genalloc_len(ngroup, &N.groups))
#define B (genalloc_s(nbox, &boxes))
#define NB (genalloc_len(nbox, &boxes))

static int kw (char const *s, size_t n, char const *w)
{
  return strlen(w) == n && !strncasecmp(s, w, n) ;
}

int notify_on (void) { return on ; }

static int is_selected (char const *name, size_t len)
{
  return S.selected && S.mbox.len == len && !memcmp(S.mbox.s, name, len) ;
}

/* ---- which names a group matches (RFC 5465 6.2 to 6.6) ---- */

/* Is name subscribed? A binary search of subsidx, the subscriptions
   sorted (a folder list against a subscription list is then n log n). */
static genalloc subsidx = GENALLOC_ZERO ;   /* size_t: offsets in subs, sorted */

static int subs_cmp (void const *a, void const *b)
{
  return strcmp(subs.s + *(size_t const *)a, subs.s + *(size_t const *)b) ;
}

static int subscribed (char const *name, size_t len)
{
  size_t lo = 0, hi = genalloc_len(size_t, &subsidx) ;
  while (lo < hi)
  {
    size_t mid = (lo + hi) / 2 ;
    char const *x = subs.s + genalloc_s(size_t, &subsidx)[mid] ;
    size_t k = strlen(x) ;
    int c = memcmp(x, name, k < len ? k : len) ;
    if (!c) c = k < len ? -1 : k > len ;
    if (!c) return 1 ;
    if (c < 0) lo = mid + 1 ; else hi = mid ;
  }
  return 0 ;
}

static void subs_index (void)
{
  genalloc_setlen(size_t, &subsidx, 0) ;
  for (size_t i = 0 ; i < subs.len ; i += strlen(subs.s + i) + 1)
    if (!genalloc_append(size_t, &subsidx, &i)) die_io("out-of-memory") ;
  if (genalloc_len(size_t, &subsidx) > 1)
    qsort(genalloc_s(size_t, &subsidx), genalloc_len(size_t, &subsidx), sizeof(size_t), &subs_cmp) ;
}

static int group_matches (ngroup const *g, char const *name, size_t len, int subscribed)
{
  char const *s ;
  switch (g->filter)
  {
    /* INBOXES: deliver files mail into any folder (user+folder), so
       it is PERSONAL, as 6.3 says when the set is not known */
    case F_INBOXES :
    case F_PERSONAL : return 1 ;
    case F_SUBSCRIBED : return subscribed ;
    case F_SUBTREE :
    case F_MAILBOXES :
      s = N.gnames.s + g->names ;
      for (unsigned int i = 0 ; i < g->nnames ; s += strlen(s) + 1, i++)
      {
        size_t k = strlen(s) ;
        if (k == len && !memcmp(s, name, len)) return 1 ;
        if (g->filter == F_SUBTREE && len > k && !memcmp(s, name, k) && name[k] == '.') return 1 ;
      }
      return 0 ;
  }
  return 0 ;   /* SELECTED, SELECTED-DELAYED: the selected folder, seen to apart */
}

/* The events the groups other than SELECTED want for a name. */
static unsigned int name_events (char const *name, size_t len, int subscribed)
{
  unsigned int ev = 0 ;
  for (size_t i = 0 ; i < NG ; i++)
    if (group_matches(G + i, name, len, subscribed)) ev |= G[i].events ;
  return ev ;
}

/* ---- responses ---- */

static void o_status (nbox const *b)
{
  o_str("* STATUS ") ;
  o_mailbox(bnames.s + b->name, strlen(bnames.s + b->name)) ;
  /* MessageNew: MESSAGES UIDNEXT UIDVALIDITY (5.1); MessageExpunge:
     MESSAGES (5.2); a flag change shows in UNSEEN and HIGHESTMODSEQ
     (5.3; the server has CONDSTORE, so always, as Dovecot); UIDVALIDITY
     always */
  o_str(" (UIDVALIDITY ") ; o_num(b->uidvalidity) ;
  if (b->events & (EV_NEW | EV_EXPUNGE)) { o_str(" MESSAGES ") ; o_num(b->messages) ; }
  if (b->events & EV_NEW) { o_str(" UIDNEXT ") ; o_num(b->uidnext) ; }
  if (b->events & EV_FLAG) { o_str(" UNSEEN ") ; o_num(b->unseen) ; }
  if (b->events & EV_FLAG || (S.condstore && b->events & (EV_NEW | EV_EXPUNGE))) { o_str(" HIGHESTMODSEQ ") ; o_num(b->hms) ; }
  o_str(")\r\n") ;
}

static int flist_load (void)
{
  if (!flistok)
  {
    flist.len = 0 ;
    if (!tern_folder_list(&flist, S.root)) { strerr_warnwu2sys("list the folders of ", S.root) ; return 0 ; }
    flistok = 1 ;
  }
  return 1 ;
}

/* 5.4, 5.5: "* LIST (attributes) "." name", the attributes as LIST
   computes them, \NonExistent for a name that is no folder now, and
   OLDNAME (RFC 5465 8) after a rename. */
static void o_list (char const *name, size_t len, char const *old, size_t oldlen)
{
  static char const *const usenames[] = { "\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", 0 } ;
  int exists = 0, children = 0, sp = 0 ;
  if (flist_load())
    for (size_t i = 0 ; i < flist.len ; i += strlen(flist.s + i) + 1)
    {
      char const *f = flist.s + i ;
      size_t k = strlen(f) ;
      if (k == len && !memcmp(f, name, len)) exists = 1 ;
      else if (k > len && !memcmp(f, name, len) && f[len] == '.') children = 1 ;
    }
  o_str("* LIST (") ;
  if (!exists) { o_str("\\NonExistent") ; sp = 1 ; }
  if (exists || children) { if (sp) o_put(" ", 1) ; o_str(children ? "\\HasChildren" : "\\HasNoChildren") ; sp = 1 ; }
  if (subscribed(name, len)) { if (sp) o_put(" ", 1) ; o_str("\\Subscribed") ; sp = 1 ; }
  if (exists)
  {
    unsigned int use = tern_folder_use(S.root, name, len) ;
    for (unsigned int i = 0 ; usenames[i] ; i++)
      if (use & (1u << i)) { if (sp) o_put(" ", 1) ; o_str(usenames[i]) ; sp = 1 ; }
  }
  o_str(") \".\" ") ;
  o_mailbox(name, len) ;
  if (old) { o_str(" (\"OLDNAME\" (") ; o_mailbox(old, oldlen) ; o_str("))") ; }
  o_str("\r\n") ;
}

/* ---- the folders watched for message events ---- */

static void box_unwatch (nbox *b)
{
  if (ino >= 0 && b->wnew >= 0) inotify_rm_watch(ino, b->wnew) ;
  if (ino >= 0 && b->wcur >= 0) inotify_rm_watch(ino, b->wcur) ;
  b->wnew = b->wcur = -1 ;
}

static void box_watch (nbox *b)
{
  uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR ;
  stralloc d = STRALLOC_ZERO ;
  char const *name = bnames.s + b->name ;
  size_t k ;
  if (ino < 0 || (b->wnew >= 0 && b->wcur >= 0)) return ;
  if (!tern_folder_dir(&d, S.root, name, strlen(name))) { stralloc_free(&d) ; return ; }
  d.len-- ;
  k = d.len ;
  if (stralloc_cats(&d, "/new") && stralloc_0(&d) && b->wnew < 0) b->wnew = inotify_add_watch(ino, d.s, mask) ;
  d.len = k ;
  if (stralloc_cats(&d, "/cur") && stralloc_0(&d) && b->wcur < 0) b->wcur = inotify_add_watch(ino, d.s, mask) ;
  stralloc_free(&d) ;
}

/* Reads the figures of b from its index: 1 when they changed. */
static int box_read (nbox *b)
{
  stralloc d = STRALLOC_ZERO ;
  tern_store st = TERN_STORE_ZERO ;
  tern_store_info in ;
  char const *name = bnames.s + b->name ;
  int ok, changed ;
  ok = tern_folder_dir(&d, S.root, name, strlen(name)) && tern_store_open(&st, d.s, TERN_STORE_CREATE) ;
  stralloc_free(&d) ;
  if (!ok) return 0 ;   /* gone: its LIST says so, if asked for */
  if (tern_store_sync(&st) < 0) strerr_warnwu2sys("bring the index up to date in ", st.path.s) ;
  ok = tern_store_rbegin(&st) && tern_store_info_get(&st, &in) ;
  tern_store_rend(&st) ;
  tern_store_close(&st) ;
  if (!ok) { strerr_warnwu2sys("read the index of ", name) ; return 0 ; }
  /* what the client would learn: message events always; flag changes
     (UNSEEN, and HIGHESTMODSEQ with CONDSTORE) when it asked for them */
  if (b->fresh) { b->uidvalidity = in.uidvalidity ; b->hms = in.highestmodseq ; b->fresh = 0 ; }
  changed = !b->known || in.uidvalidity != b->uidvalidity || in.uidnext != b->uidnext || in.messages != b->messages
   || ((b->events & EV_FLAG) && (in.unseen != b->unseen || (S.condstore && in.highestmodseq != b->hms))) ;
  b->uidvalidity = in.uidvalidity ; b->uidnext = in.uidnext ; b->messages = in.messages ;
  b->unseen = in.unseen ; b->hms = in.highestmodseq ;
  b->known = 1 ;
  return changed ;
}

static nbox *box_find (genalloc *ga, stralloc const *names, char const *name, size_t len)
{
  for (size_t i = 0 ; i < genalloc_len(nbox, ga) ; i++)
  {
    nbox *b = genalloc_s(nbox, ga) + i ;
    if (strlen(names->s + b->name) == len && !memcmp(names->s + b->name, name, len)) return b ;
  }
  return 0 ;
}

static void boxes_free (void)
{
  for (size_t i = 0 ; i < NB ; i++) box_unwatch(B + i) ;
  genalloc_free(nbox, &boxes) ;
  stralloc_free(&bnames) ;
}

/* The folders the groups want message events for, from the list of
   folders: the ones watched already keep their figures and watches. A
   new one's figures are read (BUILD_SILENT: the client learns them from
   STATUS when it asks for them, or made them itself), or (BUILD_FRESH,
   a folder another process made or renamed into the set) taken as an
   empty folder's, so that what came into it since is told. BUILD_COUNT
   only counts. 1, or 0 when they are more than NOTIFY_MAXBOX (errno
   ENOSPC) or cannot be listed: nothing changed then. */
#define BUILD_SILENT 0
#define BUILD_COUNT 1
#define BUILD_FRESH 2
static int boxes_build (int mode)
{
  int dryrun = mode == BUILD_COUNT ;
  stralloc folders = STRALLOC_ZERO, nn = STRALLOC_ZERO ;
  genalloc nb = GENALLOC_ZERO ;
  if (!tern_folder_list(&folders, S.root)) { strerr_warnwu2sys("list the folders of ", S.root) ; return 0 ; }
  for (size_t i = 0 ; i < folders.len ; i += strlen(folders.s + i) + 1)
  {
    char const *f = folders.s + i ;
    size_t len = strlen(f) ;
    unsigned int ev = name_events(f, len, subscribed(f, len)) & EV_MESSAGE ;
    nbox x = { .wnew = -1, .wcur = -1, .events = ev, .dirty = 0, .known = 0 } ;
    nbox const *old ;
    if (!ev) continue ;
    if (genalloc_len(nbox, &nb) >= NOTIFY_MAXBOX) goto over ;
    if (dryrun) { x.name = 0 ; if (!genalloc_append(nbox, &nb, &x)) die_io("out-of-memory") ; continue ; }
    old = box_find(&boxes, &bnames, f, len) ;
    if (old) { x = *old ; x.events = ev ; }
    else if (mode == BUILD_FRESH) { x.known = x.fresh = x.dirty = 1 ; x.uidnext = 1 ; }
    x.name = nn.len ;
    if (!stralloc_catb(&nn, f, len + 1) || !genalloc_append(nbox, &nb, &x)) die_io("out-of-memory") ;
  }
  stralloc_free(&folders) ;
  if (dryrun) { genalloc_free(nbox, &nb) ; return 1 ; }
  /* the watches of folders no longer wanted go */
  for (size_t i = 0 ; i < NB ; i++)
    if (!box_find(&nb, &nn, bnames.s + B[i].name, strlen(bnames.s + B[i].name))) box_unwatch(B + i) ;
  genalloc_free(nbox, &boxes) ;
  stralloc_free(&bnames) ;
  boxes = nb ;
  bnames = nn ;
  for (size_t i = 0 ; i < NB ; i++)
  {
    box_watch(B + i) ;
    if (!B[i].known && !is_selected(bnames.s + B[i].name, strlen(bnames.s + B[i].name))) box_read(B + i) ;
  }
  return 1 ;
 over:
  stralloc_free(&folders) ;
  stralloc_free(&nn) ;
  genalloc_free(nbox, &nb) ;
  return (errno = ENOSPC, 0) ;
}

/* ---- the state ---- */

static void nstate_free (nstate *n)
{
  genalloc_free(ngroup, &n->groups) ;
  stralloc_free(&n->gnames) ;
  stralloc_free(&n->atts) ;
  n->selev = 0 ;
  n->delayed = 0 ;
}

/* The watches and what they told, gone (the inotify instance stays,
   for the next NOTIFY SET). */
static void watches_off (void)
{
  boxes_free() ;
  if (ino >= 0 && wroot >= 0) inotify_rm_watch(ino, wroot) ;
  wroot = -1 ;
  stralloc_free(&pend) ;
  stralloc_free(&flist) ;
  flistok = 0 ;
  subsdirty = seldirty = rootlost = due = 0 ;
}

/* NOTIFY NONE, or what 5.8 says the server does after an overflow. */
static void notify_off (void)
{
  watches_off() ;
  nstate_free(&N) ;
  stralloc_free(&subs) ;
  genalloc_free(size_t, &subsidx) ;
  stralloc_free(&meta) ;
  usesubs = usemeta = metadirty = 0 ;
  on = 0 ;
}

static void overflow (void)
{
  o_str("* OK [NOTIFICATIONOVERFLOW] Too many folders to watch; notifications are off (as after NOTIFY NONE)\r\n") ;
  notify_off() ;
}

static void subs_load (void)
{
  subs.len = 0 ;
  if (usesubs && !tern_subs_read(&subs, S.root)) strerr_warnwu2sys("read the subscriptions of ", S.root) ;
  subs_index() ;
}

static void lastsel_set (void)
{
  lastsel.len = 0 ;
  if (!(S.selected ? stralloc_catb(&lastsel, S.mbox.s, S.mbox.len) : stralloc_catb(&lastsel, "\0", 1))) die_io("out-of-memory") ;
}

/* ---- waiting ---- */

static void soon (unsigned int ms)
{
  tain t ;
  if (due) return ;
  tain_now_g() ;
  tain_from_millisecs(&t, ms) ;
  tain_add_g(&duetime, &t) ;
  due = 1 ;
}

/* Does anything need looking at without a watch? */
static int polls (void)
{
  if (ino < 0) return 1 ;
  if ((N.selev & EV_MESSAGE) && S.selected && S.watchfd < 0) return 1 ;
  for (size_t i = 0 ; i < NB ; i++) if (B[i].wnew < 0 || B[i].wcur < 0) return 1 ;
  return 0 ;
}

unsigned int notify_fds (iopause_fd *x, tain *deadline)
{
  unsigned int n = 0 ;
  if (!on) return 0 ;
  if (ino >= 0) { x[n].fd = ino ; x[n].events = IOPAUSE_READ ; x[n].revents = 0 ; n++ ; }
  /* the selected folder's watch: until it has fired (view_sync reads it) */
  if ((N.selev & EV_MESSAGE) && S.selected && S.watchfd >= 0 && !seldirty)
  {
    x[n].fd = S.watchfd ; x[n].events = IOPAUSE_READ ; x[n].revents = 0 ; n++ ;
  }
  if (polls() && tain_less(&polltime, deadline)) *deadline = polltime ;
  if (due && tain_less(&duetime, deadline)) *deadline = duetime ;
  return n ;
}

/* An event of the root: a .Name directory, or the subscriptions. */
static void root_event (struct inotify_event const *ev)
{
  char t ;
  uint32_t ck = ev->cookie ;
  if (!ev->len) return ;
  if (!strcmp(ev->name, "subscriptions")) { subsdirty = 1 ; return ; }
  if (!strcmp(ev->name, "tern-metadata")) { metadirty = 1 ; return ; }
  if (ev->name[0] != '.' || !(ev->mask & IN_ISDIR)) return ;
  t = ev->mask & IN_CREATE ? 'C' : ev->mask & IN_DELETE ? 'D' : ev->mask & IN_MOVED_FROM ? 'F' : ev->mask & IN_MOVED_TO ? 'T' : 0 ;
  if (!t) return ;
  if (pend.len > PENDMAX) { rootlost = 1 ; return ; }
  if (!stralloc_catb(&pend, &t, 1) || !stralloc_catb(&pend, "\0", 1) || !stralloc_catb(&pend, (char const *)&ck, 4)
   || !stralloc_cats(&pend, ev->name) || !stralloc_0(&pend)) die_io("out-of-memory") ;
}

static void drain (void)
{
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event)))) ;
  int any = 0 ;
  if (ino < 0) return ;
  for (;;)
  {
    ssize_t r = read(ino, buf, sizeof(buf)) ;
    if (r < 0 && errno == EINTR) continue ;
    if (r <= 0) break ;
    for (char *p = buf ; p < buf + r ;)
    {
      struct inotify_event const *ev = (struct inotify_event const *)p ;
      p += sizeof(*ev) + ev->len ;
      any = 1 ;
      if (ev->mask & IN_Q_OVERFLOW)
      {
        /* the figures are read again; folder names are lost */
        for (size_t i = 0 ; i < NB ; i++) B[i].dirty = 1 ;
        seldirty = 1 ;
        rootlost = subsdirty = 1 ;
        continue ;
      }
      if (ev->wd == wroot) { root_event(ev) ; continue ; }
      for (size_t i = 0 ; i < NB ; i++)
        if (B[i].wnew == ev->wd || B[i].wcur == ev->wd)
        {
          B[i].dirty = 1 ;
          if (ev->mask & IN_IGNORED) { if (B[i].wnew == ev->wd) B[i].wnew = -1 ; else B[i].wcur = -1 ; }
        }
    }
  }
  if (any) soon(SETTLE) ;
}

/* ---- a round: what changed, told ---- */

static int isfolder (char const *d) { return d[0] == '.' && d[1] && d[1] != '.' ; }

static void name_event (char const *name, char const *old)
{
  size_t len = strlen(name), oldlen = old ? strlen(old) : 0 ;
  unsigned int ev = name_events(name, len, subscribed(name, len)) ;
  if (old) ev |= name_events(old, oldlen, subscribed(old, oldlen)) ;
  if (ev & EV_NAME) o_list(name, len, old, oldlen) ;
}

/* The folder events in order; a move out and in with one cookie is a
   rename, a move to a name that is no folder a DELETE (tern_folder_delete
   moves it out of sight first), a move from one a CREATE. */
static int say_names (void)
{
  int changed = 0 ;
  for (size_t i = 0 ; i < pend.len ; i += 6 + strlen(pend.s + i + 6) + 1)
  {
    char t = pend.s[i] ;
    char const *nm = pend.s + i + 6 ;
    if (pend.s[i + 1]) continue ;
    changed = 1 ;
    if (t == 'C' || t == 'T') { if (isfolder(nm)) name_event(nm + 1, 0) ; }
    else if (t == 'D') { if (isfolder(nm)) name_event(nm + 1, 0) ; }
    else
    {
      char const *to = 0 ;
      unsigned int ahead = 0 ;
      /* the kernel queues a rename's two halves one after the other:
         a few entries ahead is enough, and keeps this linear */
      for (size_t j = i + 6 + strlen(nm) + 1 ; j < pend.len && ahead++ < 8 ; j += 6 + strlen(pend.s + j + 6) + 1)
        if (pend.s[j] == 'T' && !pend.s[j + 1] && !memcmp(pend.s + j + 2, pend.s + i + 2, 4))
        {
          pend.s[j + 1] = 1 ;
          to = pend.s + j + 6 ;
          break ;
        }
      if (to && isfolder(to) && isfolder(nm)) name_event(to + 1, nm + 1) ;
      else if (isfolder(nm)) name_event(nm + 1, 0) ;
      else if (to && isfolder(to)) name_event(to + 1, 0) ;
    }
  }
  stralloc_free(&pend) ;   /* up to PENDMAX after a burst: not kept */
  return changed ;
}

static int strp_cmp (void const *a, void const *b)
{
  return strcmp(*(char const *const *)a, *(char const *const *)b) ;
}

/* The sorted names of a NUL-separated list, in a genalloc of pointers. */
static void sorted (stralloc const *sa, genalloc *out)
{
  for (size_t i = 0 ; i < sa->len ; i += strlen(sa->s + i) + 1)
  {
    char const *s = sa->s + i ;
    if (!genalloc_append(char const *, out, &s)) die_io("out-of-memory") ;
  }
  if (genalloc_len(char const *, out) > 1)
    qsort(genalloc_s(char const *, out), genalloc_len(char const *, out), sizeof(char const *), &strp_cmp) ;
}

/* 5.5: the names subscribed or unsubscribed since we last read the
   file, each a LIST (\Subscribed when it is now). */
static void say_subs (void)
{
  stralloc old = subs ;
  genalloc a = GENALLOC_ZERO, b = GENALLOC_ZERO ;
  size_t i = 0, j = 0, na, nb ;
  subs = (stralloc)STRALLOC_ZERO ;
  subs_load() ;
  sorted(&old, &a) ;
  sorted(&subs, &b) ;
  na = genalloc_len(char const *, &a) ; nb = genalloc_len(char const *, &b) ;
  while (i < na || j < nb)
  {
    char const *x = i < na ? genalloc_s(char const *, &a)[i] : 0, *y = j < nb ? genalloc_s(char const *, &b)[j] : 0 ;
    int c = !x ? 1 : !y ? -1 : strcmp(x, y) ;
    char const *nm = c < 0 ? x : y ;
    if (!c) { i++ ; j++ ; continue ; }
    if (c < 0) i++ ; else j++ ;
    if (name_events(nm, strlen(nm), 1) & EV_SUBS) o_list(nm, strlen(nm), 0, 0) ;
  }
  genalloc_free(char const *, &a) ;
  genalloc_free(char const *, &b) ;
  stralloc_free(&old) ;
}

static uint32_t lasttop = 0 ;   /* the selected folder's UIDs up to this one are the client's */

static uint32_t view_top (void)
{
  uint32_t n = view_count() ;
  return n ? view_uid(n) : 0 ;
}

/* 5.2: the FETCH of the fetch attributes of the messages after lasttop */
static void say_new (void)
{
  genalloc u = GENALLOC_ZERO ;
  tern_imap_p p = TERN_IMAP_P_ZERO ;
  uint32_t n = view_count(), top = view_top() ;
  if (!N.atts.len || top <= lasttop) { lasttop = top ; return ; }
  while (n && view_uid(n) > lasttop) n-- ;
  for (n++ ; n <= view_count() ; n++)
  {
    uint32_t x = view_uid(n) ;
    if (!genalloc_append(uint32_t, &u, &x)) die_io("out-of-memory") ;
  }
  lasttop = top ;
  p.s = N.atts.s ; p.len = N.atts.len ; p.utf8 = S.utf8 ;
  fetch_unsolicited(&p, genalloc_s(uint32_t, &u), genalloc_len(uint32_t, &u)) ;
  genalloc_free(uint32_t, &u) ;
}

static void say_selected (int inidle)
{
  seldirty = 0 ;
  if (!S.selected || !(N.selev & EV_MESSAGE)) return ;
  /* 6.1.2: SELECTED-DELAYED keeps the expunges for a command that
     allows them; IDLE is one (RFC 3501 7.4.1) */
  view_sync(!N.delayed || inidle) ;
  say_new() ;
}

/* ---- METADATA's entries (5.6, 5.7) ---- */

/* cmd-metadata.c's file as keys and hashes of the values, into sa
   ("mailbox NUL entry NUL" then 8 octets): 1, or 0 when it cannot be
   read. The values are not kept. */
static int meta_keys (stralloc *sa)
{
  stralloc raw = STRALLOC_ZERO ;
  genalloc recs = GENALLOC_ZERO ;   /* metarec */
  int ok = metadata_load(&raw, &recs) ;
  sa->len = 0 ;
  for (size_t i = 0 ; ok && i < genalloc_len(metarec, &recs) ; i++)
  {
    metarec const *r = genalloc_s(metarec, &recs) + i ;
    uint64_t h = tern_fnv1a(raw.s + r->val, r->vlen) ;
    if (!stralloc_catb(sa, raw.s + r->mbox, r->mlen + 1) || !stralloc_catb(sa, raw.s + r->entry, r->elen + 1)
     || !stralloc_catb(sa, (char const *)&h, 8)) die_io("out-of-memory") ;
  }
  stralloc_free(&raw) ;
  genalloc_free(metarec, &recs) ;
  if (!ok) sa->len = 0 ;
  return ok ;
}

static char const *metabase ;

static int meta_cmp (void const *a, void const *b)
{
  char const *x = metabase + *(size_t const *)a, *y = metabase + *(size_t const *)b ;
  int c = strcmp(x, y) ;
  return c ? c : strcmp(x + strlen(x) + 1, y + strlen(y) + 1) ;
}

static void meta_sorted (stralloc const *sa, genalloc *out)
{
  for (size_t i = 0 ; i < sa->len ;)
  {
    size_t ml = strlen(sa->s + i) ;
    if (!genalloc_append(size_t, out, &i)) die_io("out-of-memory") ;
    i += ml + 1 ;
    i += strlen(sa->s + i) + 1 + 8 ;
  }
  metabase = sa->s ;
  if (genalloc_len(size_t, out) > 1) qsort(genalloc_s(size_t, out), genalloc_len(size_t, out), sizeof(size_t), &meta_cmp) ;
}

/* RFC 5464 4.4.2: "* METADATA mailbox entry", without the value */
static void o_meta (char const *rec)
{
  size_t ml = strlen(rec) ;
  char const *e = rec + ml + 1 ;
  unsigned int ev = 0 ;
  for (size_t i = 0 ; i < NG ; i++) if (!ml || group_matches(G + i, rec, ml, subscribed(rec, ml))) ev |= G[i].events ;
  if (!(ev & (ml ? EV_MBMETA : EV_SRVMETA))) return ;
  o_str("* METADATA ") ;
  o_mailbox(rec, ml) ;
  o_put(" ", 1) ;
  o_string(e, strlen(e)) ;
  o_str("\r\n") ;
}

/* The entries added, changed or removed since the file was last read. */
static void say_meta (int silent)
{
  stralloc now = STRALLOC_ZERO ;
  genalloc a = GENALLOC_ZERO, b = GENALLOC_ZERO ;
  size_t i = 0, j = 0, na, nb ;
  metadirty = 0 ;
  if (!meta_keys(&now)) { strerr_warnwu2sys("read the metadata of ", S.root) ; stralloc_free(&now) ; return ; }
  if (!silent)
  {
    meta_sorted(&meta, &a) ;
    meta_sorted(&now, &b) ;
    na = genalloc_len(size_t, &a) ; nb = genalloc_len(size_t, &b) ;
    while (i < na || j < nb)
    {
      char const *x = i < na ? meta.s + genalloc_s(size_t, &a)[i] : 0, *y = j < nb ? now.s + genalloc_s(size_t, &b)[j] : 0 ;
      int c ;
      if (!x) c = 1 ;
      else if (!y) c = -1 ;
      else { c = strcmp(x, y) ; if (!c) c = strcmp(x + strlen(x) + 1, y + strlen(y) + 1) ; }
      if (c < 0) { o_meta(x) ; i++ ; continue ; }
      if (c > 0) { o_meta(y) ; j++ ; continue ; }
      {
        size_t kx = strlen(x) + 1 ; kx += strlen(x + kx) + 1 ;
        if (memcmp(x + kx, y + kx, 8)) o_meta(y) ;
      }
      i++ ; j++ ;
    }
    genalloc_free(size_t, &a) ;
    genalloc_free(size_t, &b) ;
  }
  stralloc_free(&meta) ;
  meta = now ;
}

static void round_run (int inidle)
{
  int rebuild = 0 ;
  flistok = 0 ;
  say_selected(inidle) ;
  if (rootlost)
  {
    /* folder events were lost: a client that asked for them is told so (5.8) */
    unsigned int ev = 0 ;
    for (size_t i = 0 ; i < NG ; i++) ev |= G[i].events ;
    rootlost = 0 ;
    pend.len = 0 ;
    if (ev & (EV_NAME | EV_SUBS)) { overflow() ; return ; }
    rebuild = 1 ;
  }
  if (say_names()) rebuild = 1 ;
  if (subsdirty)
  {
    subsdirty = 0 ;
    if (usesubs) { say_subs() ; rebuild = 1 ; }
  }
  if (metadirty && usemeta) say_meta(0) ;
  if (rebuild && !boxes_build(BUILD_FRESH)) { if (errno == ENOSPC) { overflow() ; return ; } }
  for (size_t i = 0 ; i < NB ; i++)
  {
    nbox *b = B + i ;
    if (!b->dirty) continue ;
    b->dirty = 0 ;
    if (is_selected(bnames.s + b->name, strlen(bnames.s + b->name))) continue ;
    box_watch(b) ;
    if (box_read(b)) o_status(b) ;
  }
  stralloc_free(&flist) ;
  flistok = 0 ;
}

void notify_run (iopause_fd const *x, unsigned int n, int inidle)
{
  if (!on) return ;
  for (unsigned int i = 0 ; i < n ; i++)
  {
    if (!x[i].revents) continue ;
    if (x[i].fd == ino) drain() ;
    else if (x[i].fd == S.watchfd) { seldirty = 1 ; soon(SETTLE) ; }
  }
  tain_now_g() ;
  if (polls() && !tain_less(&STAMP, &polltime))
  {
    /* what has no watch is looked at */
    tain_addsec_g(&polltime, POLL) ;
    for (size_t i = 0 ; i < NB ; i++) if (ino < 0 || B[i].wnew < 0 || B[i].wcur < 0) B[i].dirty = 1 ;
    if (ino < 0 || S.watchfd < 0) seldirty = 1 ;
    if (ino < 0) subsdirty = 1 ;
    due = 1 ;
    duetime = STAMP ;
  }
  if (!due || tain_less(&STAMP, &duetime)) return ;
  due = 0 ;
  round_run(inidle) ;
}

/* After each command: our own changes to the folders and subscriptions
   are not told back (RFC 5465 5: SHOULD), but change what is watched;
   a folder just unselected is watched from what the client knows. */
void notify_done (cmd_func *f)
{
  if (!on) return ;
  if (f == &cmd_create || f == &cmd_delete || f == &cmd_rename || f == &cmd_subscribe || f == &cmd_unsubscribe || f == &cmd_setmetadata)
  {
    drain() ;
    pend.len = 0 ;
    subs_load() ;
    subsdirty = 0 ;
    if (usemeta) say_meta(1) ;
    if (!boxes_build(BUILD_SILENT) && errno == ENOSPC) { overflow() ; return ; }
  }
  if (S.selected ? (lastsel.len != S.mbox.len || memcmp(lastsel.s, S.mbox.s, S.mbox.len)) : (lastsel.len != 1 || lastsel.s[0]))
  {
    nbox *b = lastsel.len && lastsel.s[0] ? box_find(&boxes, &bnames, lastsel.s, lastsel.len) : 0 ;
    if (b) { b->known = 0 ; box_read(b) ; b->dirty = 0 ; }
    lastsel_set() ;
    seldirty = 0 ;
    lasttop = view_top() ;
  }
  /* new messages a command's EXISTS told of: their FETCH now, between
     commands (5.2), but for the client's own APPEND, COPY, MOVE, REPLACE */
  else if (S.selected && (N.selev & EV_NEW))
  {
    if (f == &cmd_append || f == &cmd_copy || f == &cmd_move || f == &cmd_replace) lasttop = view_top() ;
    else say_new() ;
  }
}

/* ---- the command (RFC 5465 3.1, 8) ---- */

static int mailboxes_arg (tern_imap_p *p, nstate *n, ngroup *g)
{
  int many = tern_imap_p_peek(p) == '(' ;
  g->names = n->gnames.len ;
  if (many) tern_imap_p_char(p, '(') ;
  for (;;)
  {
    size_t start = n->gnames.len ;
    if (!mailbox_arg(p, &n->gnames)) return 0 ;
    if (memchr(n->gnames.s + start, 0, n->gnames.len - start)) { p->err = "Invalid mailbox name" ; return 0 ; }
    if (!stralloc_0(&n->gnames)) die_io("out-of-memory") ;
    g->nnames++ ;
    if (!many || tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  return !many || tern_imap_p_char(p, ')') ;
}

static unsigned int event_bit (char const *a, size_t n)
{
  static struct { char const *name ; unsigned int bit ; } const t[] =
  {
    { "MessageNew", EV_NEW }, { "MessageExpunge", EV_EXPUNGE }, { "FlagChange", EV_FLAG },
    { "AnnotationChange", EV_ANNOT }, { "MailboxName", EV_NAME }, { "SubscriptionChange", EV_SUBS },
    { "MailboxMetadataChange", EV_MBMETA }, { "ServerMetadataChange", EV_SRVMETA }, { 0, 0 }
  } ;
  for (unsigned int i = 0 ; t[i].name ; i++) if (kw(a, n, t[i].name)) return t[i].bit ;
  return EV_OTHER ;
}

static int atomchar (unsigned char c)
{
  return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c) ;
}

/* The fetch attributes p->s[start..end) as text of their own: a literal
   in them (a header field name) written as an atom, or a quoted string,
   so that the text is all there is to parse again. */
static int atts_copy (stralloc *sa, tern_imap_p const *p, size_t start, size_t end)
{
  size_t from = start ;
  sa->len = 0 ;
  for (unsigned int i = 0 ; i < p->nlits ; i++)
  {
    tern_imap_lit const *l = p->lits + i ;
    size_t h = l->pos, k ;
    int atom = l->len > 0 ;
    if (l->pos <= start || l->pos > end) continue ;
    if (l->fd >= 0 || l->len > 1024) return 0 ;
    while (h > from && p->s[h - 1] != '{') h-- ;
    if (h == from) return 0 ;
    h-- ;
    if (h > from && p->s[h - 1] == '~') h-- ;
    if (!stralloc_catb(sa, p->s + from, h - from)) die_io("out-of-memory") ;
    for (k = 0 ; k < l->len ; k++)
    {
      unsigned char c = p->s[l->pos + k] ;
      if (!c || c == '\r' || c == '\n' || c >= 0x80) return 0 ;
      if (!atomchar(c)) atom = 0 ;
    }
    if (!atom && !stralloc_catb(sa, "\"", 1)) die_io("out-of-memory") ;
    for (k = 0 ; k < l->len ; k++)
    {
      char c = p->s[l->pos + k] ;
      if ((c == '"' || c == '\\') && !stralloc_catb(sa, "\\", 1)) die_io("out-of-memory") ;
      if (!stralloc_catb(sa, &c, 1)) die_io("out-of-memory") ;
    }
    if (!atom && !stralloc_catb(sa, "\"", 1)) die_io("out-of-memory") ;
    from = l->pos + l->len ;
  }
  if (!stralloc_catb(sa, p->s + from, end - from)) die_io("out-of-memory") ;
  return 1 ;
}

/* events = "(" event *(SP event) ")" / "NONE" */
static int events_arg (tern_imap_p *p, nstate *n, ngroup *g)
{
  char const *a ;
  size_t len ;
  int sel = g->filter == F_SELECTED || g->filter == F_DELAYED ;
  if (tern_imap_p_peek(p) != '(')
  {
    if (!tern_imap_p_atom(p, &a, &len) || !kw(a, len, "NONE")) { p->err = "Expected an event list or NONE" ; return 0 ; }
    return 1 ;
  }
  tern_imap_p_char(p, '(') ;
  for (;;)
  {
    unsigned int bit ;
    if (!tern_imap_p_atom(p, &a, &len)) return 0 ;
    bit = event_bit(a, len) ;
    g->events |= bit ;
    if (bit == EV_NEW && tern_imap_p_peek(p) == ' ' && p->pos + 1 < p->len && p->s[p->pos + 1] == '(')
    {
      /* MessageNew's fetch attributes (5.2): kept, as text, for the
         selected folder's new messages */
      size_t start ;
      tern_imap_p_sp(p) ;
      start = p->pos ;
      if (!fetch_atts(p)) return 0 ;
      if (sel && !atts_copy(&n->atts, p, start, p->pos)) { p->err = "A literal in the fetch attributes that is not a header field name" ; return 0 ; }
    }
    if (tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  return tern_imap_p_char(p, ')') ;
}

static int group_arg (tern_imap_p *p, nstate *n)
{
  ngroup g = { .events = 0, .names = 0, .nnames = 0 } ;
  char const *a ;
  size_t len ;
  if (!tern_imap_p_char(p, '(') || !tern_imap_p_atom(p, &a, &len)) return 0 ;
  if (kw(a, len, "SELECTED")) g.filter = F_SELECTED ;
  else if (kw(a, len, "SELECTED-DELAYED")) g.filter = F_DELAYED ;
  else if (kw(a, len, "INBOXES")) g.filter = F_INBOXES ;
  else if (kw(a, len, "PERSONAL")) g.filter = F_PERSONAL ;
  else if (kw(a, len, "SUBSCRIBED")) g.filter = F_SUBSCRIBED ;
  else if (kw(a, len, "SUBTREE")) g.filter = F_SUBTREE ;
  else if (kw(a, len, "MAILBOXES")) g.filter = F_MAILBOXES ;
  else { p->err = "Unknown mailbox filter (RFC 5465 6)" ; return 0 ; }
  if ((g.filter == F_SUBTREE || g.filter == F_MAILBOXES) && (!tern_imap_p_sp(p) || !mailboxes_arg(p, n, &g))) return 0 ;
  if (!tern_imap_p_sp(p) || !events_arg(p, n, &g) || !tern_imap_p_char(p, ')')) return 0 ;
  if (!genalloc_append(ngroup, &n->groups, &g)) die_io("out-of-memory") ;
  return 1 ;
}

static void bad (char const *why)
{
  tern_imap_p e = TERN_IMAP_P_ZERO ;
  e.err = why ;
  o_bad(&e, 0) ;
}

/* The rules of 5 and 6.1 (a BAD), then what we do not support (a NO
   with BADEVENT, 3.1): 0 when the command was answered. */
static int groups_check (nstate *n)
{
  int nsel = 0, unsupported = 0 ;
  unsigned int names = 0 ;
  for (size_t i = 0 ; i < genalloc_len(ngroup, &n->groups) ; i++)
  {
    ngroup const *g = genalloc_s(ngroup, &n->groups) + i ;
    unsigned int ev = g->events ;
    /* RFC 5465 5 wants MessageNew and MessageExpunge together, and both
       with FlagChange; Dovecot takes each alone (its imaptest's notify
       script does), and so do we: the STATUS items follow the events */
    if (g->filter == F_SELECTED || g->filter == F_DELAYED)
    {
      if (nsel++) { bad("Only one of SELECTED and SELECTED-DELAYED (RFC 5465 6.1)") ; return 0 ; }
      if (ev & ~EV_MESSAGE) { bad("Only message events for the selected mailbox (RFC 5465 6.1)") ; return 0 ; }
      n->selev = ev ;
      n->delayed = g->filter == F_DELAYED ;
    }
    if (ev & ~EV_SUPPORTED) unsupported = 1 ;
    names += g->nnames ;
  }
  if (!(n->selev & EV_NEW)) n->atts.len = 0 ;
  if (unsupported)
  {
    o_tagged("NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange)] Unsupported event") ;
    return 0 ;
  }
  if (names > NOTIFY_MAXBOX)
  {
    o_tagged("NO [NOTIFICATIONOVERFLOW] Too many mailboxes (at most 100)") ;
    return 0 ;
  }
  return 1 ;
}

static int start_watching (void)
{
  if (ino < 0) ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC) ;
  if (ino < 0) { strerr_warnwu1sys("inotify_init1 (NOTIFY polls instead)") ; return 0 ; }
  if (wroot < 0) wroot = inotify_add_watch(ino, S.root, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR) ;
  if (wroot < 0) strerr_warnwu2sys("watch ", S.root) ;
  return 1 ;
}

void cmd_notify (tern_imap_p *p)
{
  nstate n = NSTATE_ZERO ;
  char const *a ;
  size_t len ;
  int status = 0 ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_atom(p, &a, &len)) goto bad ;
  if (kw(a, len, "NONE"))
  {
    if (!tern_imap_p_eol(p)) goto bad ;
    notify_off() ;
    o_tagged("OK NOTIFY NONE completed") ;
    return ;
  }
  if (!kw(a, len, "SET") || !tern_imap_p_sp(p)) goto bad ;
  if (tern_imap_p_peek(p) != '(')
  {
    if (!tern_imap_p_atom(p, &a, &len) || !kw(a, len, "STATUS") || !tern_imap_p_sp(p)) goto bad ;
    status = 1 ;
  }
  for (;;)
  {
    if (genalloc_len(ngroup, &n.groups) >= NOTIFY_MAXGROUPS) { p->err = "Too many event groups (at most 32)" ; goto bad ; }
    if (!group_arg(p, &n)) goto bad ;
    if (tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  if (!tern_imap_p_eol(p)) goto bad ;
  if (!groups_check(&n)) { nstate_free(&n) ; return ; }
  {
    /* the new groups in place; back to the old ones when too many
       folders match (3.1: NO [NOTIFICATIONOVERFLOW]) */
    nstate old = N ;
    int olduse = usesubs ;
    stralloc oldsubs = subs ;
    N = n ;
    usesubs = 0 ;
    /* the subscriptions, for SUBSCRIBED, SubscriptionChange and the \Subscribed of MailboxName's LIST */
    for (size_t i = 0 ; i < NG ; i++) if (G[i].filter == F_SUBSCRIBED || G[i].events & (EV_SUBS | EV_NAME)) usesubs = 1 ;
    subs = (stralloc)STRALLOC_ZERO ;
    subs_load() ;
    if (!boxes_build(BUILD_COUNT))
    {
      int e = errno ;
      nstate_free(&N) ;
      stralloc_free(&subs) ;
      N = old ;
      subs = oldsubs ;
      subs_index() ;
      usesubs = olduse ;
      if (e == ENOSPC) o_tagged("NO [NOTIFICATIONOVERFLOW] Too many folders to watch (at most 100)") ;
      else { errno = e ; o_nosys("list the folders") ; }
      return ;
    }
    nstate_free(&old) ;
    stralloc_free(&oldsubs) ;
  }
  /* a new start: every watched folder's figures read now */
  watches_off() ;
  on = 1 ;
  usemeta = 0 ;
  for (size_t i = 0 ; i < NG ; i++) if (G[i].events & (EV_MBMETA | EV_SRVMETA)) usemeta = 1 ;
  stralloc_free(&meta) ;
  if (usemeta) say_meta(1) ;
  start_watching() ;
  tain_now_g() ;
  polltime = STAMP ;
  tain_addsec_g(&polltime, POLL) ;
  lastsel_set() ;
  if (!boxes_build(BUILD_SILENT))
  {
    notify_off() ;
    o_nosys("list the folders") ;
    return ;
  }
  /* 3.1: an implicit NOOP; with STATUS, the figures of each folder
     watched for message events, but the selected one */
  if (S.selected) view_sync(1) ;
  lasttop = view_top() ;
  if (status)
    for (size_t i = 0 ; i < NB ; i++)
      if (!is_selected(bnames.s + B[i].name, strlen(bnames.s + B[i].name))) o_status(B + i) ;
  o_tagged("OK NOTIFY completed") ;
  return ;
 bad:
  nstate_free(&n) ;
  o_bad(p, 0) ;
}
