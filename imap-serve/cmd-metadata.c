/* cmd-metadata.c: METADATA (RFC 5464): GETMETADATA (with MAXSIZE and
   DEPTH, 4.2.1, 4.2.2) and SETMETADATA (4.3), server entries (mailbox
   "") and mailbox entries, /private and /shared alike: there is no
   sharing, so both are the user's. The server's /shared/admin and
   /shared/comment (3.2.1.1) are read-only, from $IMAP_METADATA_ADMIN and
   $IMAP_METADATA_COMMENT, absent when unset.

   Storage: one file per user, tern-metadata in the Maildir, records of
   "mailbox NUL entry NUL length NUL value", read whole for each command
   (so that other sessions' changes are seen) and replaced whole, under
   an flock of tern-metadata.lock, by a temporary file, fsync and rename:
   a kill -9 leaves the old file or the new one. Its size is capped
   (METADATA_TOTALMAX), so is what a command holds in memory. Entries
   follow RENAME and go with DELETE (4.1: meta_rename, meta_delete). */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <skalibs/types.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/djbunix.h>
#include "imap-serve.h"

#define METADATA_VALUEMAX 65536      /* octets of one value (RFC 5464 4.1: 1024 at least) */
#define METADATA_ENTRIESMAX 500      /* entries of a user, server and mailboxes together (10 at least) */
#define METADATA_TOTALMAX (1 << 20)  /* octets of a user's names and values together */
#define METADATA_NAMEMAX 1024        /* octets of an entry name */

typedef metarec rec ;

typedef struct meta_s meta ;
struct meta_s
{
  stralloc raw ;    /* the file */
  genalloc recs ;   /* rec, into raw */
} ;
#define META_ZERO { .raw = STRALLOC_ZERO, .recs = GENALLOC_ZERO }

static void meta_free (meta *m)
{
  stralloc_free(&m->raw) ;
  genalloc_free(rec, &m->recs) ;
}

static int meta_path (stralloc *sa, char const *suffix)
{
  return stralloc_cats(sa, S.root) && stralloc_cats(sa, "/tern-metadata") && stralloc_cats(sa, suffix) && stralloc_0(sa) ;
}

/* The file: raw, and its records as offsets into it, in recs: 1 (none
   is empty), or 0 with errno (EILSEQ: not ours, or larger than anything
   SETMETADATA writes; it is not read then). NOTIFY reads it too. */
int metadata_load (stralloc *raw, genalloc *recs)
{
  stralloc p = STRALLOC_ZERO ;
  struct stat st ;
  size_t i = 0 ;
  ssize_t r ;
  int fd ;
  raw->len = 0 ;
  genalloc_setlen(rec, recs, 0) ;
  if (!meta_path(&p, "")) die_io("out-of-memory") ;
  fd = open_read(p.s) ;
  stralloc_free(&p) ;
  if (fd < 0) return errno == ENOENT ;
  if (fstat(fd, &st) < 0) { fd_close(fd) ; return 0 ; }
  if (st.st_size > 2 * METADATA_TOTALMAX) { fd_close(fd) ; return (errno = EILSEQ, 0) ; }
  if (!stralloc_ready(raw, st.st_size + 1)) die_io("out-of-memory") ;
  r = allread(fd, raw->s, st.st_size + 1) ;   /* one more: grown meanwhile */
  fd_close(fd) ;
  if (r < 0) return 0 ;
  if (r > st.st_size) return (errno = EILSEQ, 0) ;
  raw->len = r ;
  while (i < raw->len)
  {
    rec c ;
    uint64_t n ;
    size_t k ;
    char const *s = raw->s ;
    c.mbox = i ; c.mlen = strnlen(s + i, raw->len - i) ; i += c.mlen + 1 ;
    if (i >= raw->len) return (errno = EILSEQ, 0) ;
    c.entry = i ; c.elen = strnlen(s + i, raw->len - i) ; i += c.elen + 1 ;
    if (i >= raw->len) return (errno = EILSEQ, 0) ;
    k = uint64_scan(s + i, &n) ;
    if (!k || i + k >= raw->len || s[i + k] || n > raw->len - (i + k + 1)) return (errno = EILSEQ, 0) ;
    i += k + 1 ;
    c.val = i ; c.vlen = n ; i += n ;
    if (!genalloc_append(rec, recs, &c)) die_io("out-of-memory") ;
  }
  return 1 ;
}

static int meta_read (meta *m)
{
  return metadata_load(&m->raw, &m->recs) ;
}

static void rec_put (stralloc *sa, char const *mb, size_t ml, char const *e, size_t el, char const *v, size_t vl)
{
  char fmt[UINT64_FMT] ;
  size_t n = uint64_fmt(fmt, vl) ;
  if (!stralloc_catb(sa, mb, ml) || !stralloc_0(sa) || !stralloc_catb(sa, e, el) || !stralloc_0(sa)
   || !stralloc_catb(sa, fmt, n) || !stralloc_0(sa) || !stralloc_catb(sa, v, vl)) die_io("out-of-memory") ;
}

/* Replaces the file with data: 1, or 0 with errno. */
static int meta_write (stralloc const *data)
{
  stralloc p = STRALLOC_ZERO, tmp = STRALLOC_ZERO ;
  int fd, ok = 0 ;
  if (!meta_path(&p, "")) die_io("out-of-memory") ;
  fd = tern_atomic_open(&tmp, p.s, 0600) ;
  if (fd >= 0)
  {
    if (allwrite(fd, data->s, data->len) == data->len) ok = tern_atomic_commit(fd, tmp.s, p.s) ;
    else { int e = errno ; fd_close(fd) ; unlink(tmp.s) ; errno = e ; }
  }
  {
    int e = errno ;
    stralloc_free(&p) ;
    stralloc_free(&tmp) ;
    errno = e ;
  }
  return ok ;
}

/* The writers' lock: an fd to close, or -1 with errno. */
static int meta_lock (void)
{
  stralloc p = STRALLOC_ZERO ;
  int fd ;
  if (!meta_path(&p, ".lock")) die_io("out-of-memory") ;
  fd = open(p.s, O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  stralloc_free(&p) ;
  if (fd < 0) return -1 ;
  if (flock(fd, LOCK_EX) < 0) { int e = errno ; fd_close(fd) ; errno = e ; return -1 ; }
  return fd ;
}

/* ---- entry names (RFC 5464 3.2, 5) ---- */

/* Lowercased in place (entry names are case-insensitive). 1 when it
   is an entry name: "/private" or "/shared" then components of
   printable ASCII, no "*" or "%" (5), no empty component; full (for
   SETMETADATA): 2 components at least, 4 under vendor (3.2). */
static int entry_ok (char *s, size_t n, int full)
{
  unsigned int comps = 0 ;
  if (!n || n > METADATA_NAMEMAX || s[0] != '/' || s[n - 1] == '/') return 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    unsigned char c = s[i] ;
    /* (and no quoted-special, "(", ")" or "{": a name goes out as an atom) */
    if (c <= 0x20 || c >= 0x7f || c == '*' || c == '%' || c == '"' || c == '\\' || c == '(' || c == ')' || c == '{') return 0 ;
    if (c >= 'A' && c <= 'Z') s[i] = c + 32 ;
    if (c == '/') { if (i + 1 < n && s[i + 1] == '/') return 0 ; comps++ ; }
  }
  if (!((n >= 8 && !memcmp(s, "/private", 8) && (n == 8 || s[8] == '/'))
     || (n >= 7 && !memcmp(s, "/shared", 7) && (n == 7 || s[7] == '/')))) return 0 ;
  if (!full) return 1 ;
  if (comps < 2) return 0 ;
  {
    size_t k = s[1] == 'p' ? 8 : 7 ;
    if (n >= k + 7 && !memcmp(s + k, "/vendor", 7) && (n == k + 7 || s[k + 7] == '/') && comps < 4) return 0 ;
  }
  return 1 ;
}

/* the server's read-only entries (3.2.1.1) */
static char const *server_entry (char const *e, size_t n)
{
  char const *v ;
  if (n == 13 && !memcmp(e, "/shared/admin", 13)) v = getenv("IMAP_METADATA_ADMIN") ;
  else if (n == 15 && !memcmp(e, "/shared/comment", 15)) v = getenv("IMAP_METADATA_COMMENT") ;
  else return 0 ;
  return v && *v ? v : 0 ;
}

static int is_server_ro (char const *e, size_t n)
{
  return (n == 13 && !memcmp(e, "/shared/admin", 13)) || (n == 15 && !memcmp(e, "/shared/comment", 15)) ;
}

/* A value: a string when it can be one, else a literal8 (RFC 5464 5:
   value = nstring / literal8; RFC 3516 for its syntax) */
static void o_value (char const *v, size_t n)
{
  if (!memchr(v, 0, n)) { o_string(v, n) ; return ; }
  o_str("~{") ;
  o_num(n) ;
  o_str("}\r\n") ;
  o_put(v, n) ;
}

/* The mailbox argument: "" for the server, else a folder that exists
   (3.3: NO otherwise). 1, or 0 after the reply. */
static int meta_mailbox (tern_imap_p *p, stralloc *name)
{
  if (!mailbox_arg(p, name)) { o_bad(p, 0) ; return 0 ; }
  if (name->len && !folder_exists(name->s, name->len)) { o_tagged("NO [NONEXISTENT] No such mailbox") ; return 0 ; }
  return 1 ;
}

/* ---- GETMETADATA (4.2): GETMETADATA [(options)] mailbox entries ---- */

typedef struct getopts_s getopts ;
struct getopts_s { uint64_t maxsize ; unsigned int depth ; uint64_t longest ; int sp ; } ;
#define DEPTH_INF 2

/* the entries of mailbox that entry e (with its depth) asks for */
static void get_one (meta const *m, char const *mb, size_t ml, char const *e, size_t el, getopts *g)
{
  int any = 0 ;
  rec const *r = genalloc_s(rec, &m->recs) ;
  size_t n = genalloc_len(rec, &m->recs) ;
  if (!ml)
  {
    char const *v = server_entry(e, el) ;
    if (v)
    {
      size_t vl = strlen(v) ;
      any = 1 ;
      if (g->maxsize != UINT64_MAX && vl > g->maxsize) { if (vl > g->longest) g->longest = vl ; }
      else { if (g->sp++) o_put(" ", 1) ; o_put(e, el) ; o_put(" ", 1) ; o_value(v, vl) ; }
    }
  }
  for (size_t i = 0 ; i < n ; i++)
  {
    char const *re = m->raw.s + r[i].entry ;
    if (r[i].mlen != ml || memcmp(m->raw.s + r[i].mbox, mb, ml)) continue ;
    if (r[i].elen < el || memcmp(re, e, el)) continue ;
    if (r[i].elen > el)
    {
      /* below e: DEPTH 1 the children, infinity all (4.2.2) */
      if (!g->depth || re[el] != '/') continue ;
      if (g->depth == 1 && memchr(re + el + 1, '/', r[i].elen - el - 1)) continue ;
    }
    any = 1 ;
    if (g->maxsize != UINT64_MAX && r[i].vlen > g->maxsize) { if (r[i].vlen > g->longest) g->longest = r[i].vlen ; continue ; }
    if (g->sp++) o_put(" ", 1) ;
    o_put(re, r[i].elen) ;
    o_put(" ", 1) ;
    o_value(m->raw.s + r[i].val, r[i].vlen) ;
  }
  /* an entry that does not exist: NIL, as for one without a value */
  if (!any) { if (g->sp++) o_put(" ", 1) ; o_put(e, el) ; o_str(" NIL") ; }
}

/* (MAXSIZE n DEPTH d): 1, or 0 (p->err set) */
static int get_options (tern_imap_p *p, getopts *g)
{
  unsigned int n = 0 ;
  tern_imap_p_char(p, '(') ;
  while (tern_imap_p_peek(p) != ')')
  {
    char const *a ;
    size_t al ;
    if (n++ && !tern_imap_p_sp(p)) return 0 ;
    if (!tern_imap_p_atom(p, &a, &al) || !tern_imap_p_sp(p)) return 0 ;
    if (al == 7 && !strncasecmp(a, "MAXSIZE", 7))
    {
      uint32_t v ;
      if (!tern_imap_p_number(p, &v)) return 0 ;
      g->maxsize = v ;
    }
    else if (al == 5 && !strncasecmp(a, "DEPTH", 5))
    {
      if (!tern_imap_p_atom(p, &a, &al)) return 0 ;
      if (al == 1 && a[0] == '0') g->depth = 0 ;
      else if (al == 1 && a[0] == '1') g->depth = 1 ;
      else if (al == 8 && !strncasecmp(a, "infinity", 8)) g->depth = DEPTH_INF ;
      else { p->err = "DEPTH is 0, 1 or infinity" ; return 0 ; }
    }
    else { p->err = "Unknown GETMETADATA option" ; return 0 ; }
  }
  return tern_imap_p_char(p, ')') && tern_imap_p_sp(p) ;
}

void cmd_getmetadata (tern_imap_p *p)
{
  stralloc name = STRALLOC_ZERO, ents = STRALLOC_ZERO ;
  getopts g = { .maxsize = UINT64_MAX, .depth = 0, .longest = 0, .sp = 0 } ;
  meta m = META_ZERO ;
  int list, opts = 0 ;
  if (!tern_imap_p_sp(p)) goto bad ;
  if (tern_imap_p_peek(p) == '(')
  {
    if (!get_options(p, &g)) goto bad ;
    opts = 1 ;
  }
  if (!meta_mailbox(p, &name)) goto end ;
  if (!tern_imap_p_sp(p)) goto bad ;
  /* the options after the mailbox, as the RFC's examples have them (its
     ABNF has them before): a list that starts with an option's name */
  if (!opts && tern_imap_p_peek(p) == '(' && p->pos + 1 < p->len
   && ((p->s[p->pos + 1] | 0x20) == 'm' || (p->s[p->pos + 1] | 0x20) == 'd'))
  {
    if (!get_options(p, &g)) goto bad ;
  }
  /* the entries, each NUL-terminated in ents */
  list = tern_imap_p_peek(p) == '(' ;
  if (list) tern_imap_p_char(p, '(') ;
  for (;;)
  {
    size_t start = ents.len ;
    if (!tern_imap_p_astring(p, &ents)) goto bad ;
    if (!entry_ok(ents.s + start, ents.len - start, 0)) { p->err = "Invalid entry name" ; goto bad ; }
    if (!stralloc_0(&ents)) die_io("out-of-memory") ;
    if (!list || tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  if ((list && !tern_imap_p_char(p, ')')) || !tern_imap_p_eol(p)) goto bad ;
  if (!meta_read(&m)) { o_nosys("read the metadata") ; goto end ; }
  o_str("* METADATA ") ;
  o_mailbox(name.s, name.len) ;
  o_str(" (") ;
  for (size_t i = 0 ; i < ents.len ; i += strlen(ents.s + i) + 1)
    get_one(&m, name.s, name.len, ents.s + i, strlen(ents.s + i), &g) ;
  o_str(")\r\n") ;
  if (g.longest)
  {
    /* 4.2.1: the largest value MAXSIZE left out */
    o_put(S.tag, S.taglen) ;
    o_str(" OK [METADATA LONGENTRIES ") ;
    o_num(g.longest) ;
    o_str("] Getmetadata completed\r\n") ;
  }
  else o_tagged("OK Getmetadata completed") ;
  goto end ;
 bad:
  o_bad(p, 0) ;
 end:
  meta_free(&m) ;
  stralloc_free(&name) ;
  stralloc_free(&ents) ;
}

/* ---- SETMETADATA ---- */

typedef struct setv_s setv ;
struct setv_s
{
  size_t e, el ;        /* the name, in names */
  char const *lit ;     /* the value: a literal8 in the command, or 0 */
  size_t voff, vl ;     /* else in vals */
  int nil ;             /* NIL: remove the entry */
} ;

/* "(entry value ...)" into sv (names in names, values in vals or in
   the command): 1, or 0 (p->err set) */
static int set_args (tern_imap_p *p, stralloc *names, stralloc *vals, genalloc *sv)
{
  if (!tern_imap_p_char(p, '(')) return 0 ;
  for (;;)
  {
    setv x = { .e = names->len, .lit = 0, .nil = 0 } ;
    if (!tern_imap_p_astring(p, names)) return 0 ;
    x.el = names->len - x.e ;
    if (!entry_ok(names->s + x.e, x.el, 1)) { p->err = "Invalid entry name" ; return 0 ; }
    if (!tern_imap_p_sp(p)) return 0 ;
    if (tern_imap_p_peek(p) == '~')
    {
      /* literal8 (RFC 5464 5: value = nstring / literal8) */
      int fd, binary ;
      uint64_t len ;
      if (!tern_imap_p_literal(p, &x.lit, &fd, &len, &binary)) return 0 ;
      if (fd >= 0 || !x.lit) { p->err = "Invalid literal" ; return 0 ; }
      x.vl = len ;
    }
    else
    {
      x.voff = vals->len ;
      if (!tern_imap_p_nstring(p, vals, &x.nil)) return 0 ;
      x.vl = vals->len - x.voff ;
    }
    if (!genalloc_append(setv, sv, &x)) die_io("out-of-memory") ;
    if (tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  return tern_imap_p_char(p, ')') ;
}

/* the figures the limits are about, of records as rec_put writes them */
static void meta_count (stralloc const *d, size_t *entries, size_t *octets)
{
  *entries = *octets = 0 ;
  for (size_t i = 0 ; i < d->len ;)
  {
    size_t el ;
    uint64_t n = 0 ;
    i += strlen(d->s + i) + 1 ;
    el = strlen(d->s + i) ;
    i += el + 1 ;
    i += uint64_scan(d->s + i, &n) + 1 ;
    i += n ;
    (*entries)++ ;
    *octets += el + n ;
  }
}

static int same_entry (char const *a, size_t al, char const *b, size_t bl) { return al == bl && !memcmp(a, b, al) ; }

void cmd_setmetadata (tern_imap_p *p)
{
  stralloc name = STRALLOC_ZERO, names = STRALLOC_ZERO, vals = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  genalloc sv = GENALLOC_ZERO ;
  meta m = META_ZERO ;
  int lock = -1 ;
  size_t n ;
  setv const *x ;
  if (!tern_imap_p_sp(p)) goto bad ;
  if (!meta_mailbox(p, &name)) goto end ;
  if (!tern_imap_p_sp(p) || !set_args(p, &names, &vals, &sv) || !tern_imap_p_eol(p)) goto bad ;
  n = genalloc_len(setv, &sv) ;
  x = genalloc_s(setv, &sv) ;
  /* every check before anything changes (4.3: all or nothing) */
  for (size_t i = 0 ; i < n ; i++)
  {
    if (!name.len && is_server_ro(names.s + x[i].e, x[i].el)) { o_tagged("NO [NOPERM] That server entry is read-only") ; goto end ; }
    if (x[i].vl > METADATA_VALUEMAX)
    {
      o_put(S.tag, S.taglen) ;
      o_str(" NO [METADATA MAXSIZE ") ; o_num(METADATA_VALUEMAX) ; o_str("] Value too large\r\n") ;
      goto end ;
    }
  }
  lock = meta_lock() ;
  if (lock < 0) { o_nosys("lock the metadata") ; goto end ; }
  if (!meta_read(&m)) { o_nosys("read the metadata") ; goto end ; }
  {
    rec const *r = genalloc_s(rec, &m.recs) ;
    size_t nr = genalloc_len(rec, &m.recs), e0, o0, e1, o1 ;
    for (size_t i = 0 ; i < nr ; i++)
    {
      size_t j = 0 ;
      if (r[i].mlen == name.len && !memcmp(m.raw.s + r[i].mbox, name.s, name.len))
        while (j < n && !same_entry(m.raw.s + r[i].entry, r[i].elen, names.s + x[j].e, x[j].el)) j++ ;
      else j = n ;
      if (j < n) continue ;   /* replaced or removed */
      rec_put(&out, m.raw.s + r[i].mbox, r[i].mlen, m.raw.s + r[i].entry, r[i].elen, m.raw.s + r[i].val, r[i].vlen) ;
    }
    for (size_t i = 0 ; i < n ; i++)
    {
      size_t j = i + 1 ;
      if (x[i].nil) continue ;
      /* the last value given for an entry wins */
      while (j < n && !same_entry(names.s + x[i].e, x[i].el, names.s + x[j].e, x[j].el)) j++ ;
      if (j < n) continue ;
      rec_put(&out, name.s, name.len, names.s + x[i].e, x[i].el, x[i].lit ? x[i].lit : vals.s + x[i].voff, x[i].vl) ;
    }
    meta_count(&m.raw, &e0, &o0) ;
    meta_count(&out, &e1, &o1) ;
    /* a command that adds may not go over a cap (one that removes may) */
    if (e1 > METADATA_ENTRIESMAX && e1 > e0) { o_tagged("NO [METADATA TOOMANY] Too many entries") ; goto end ; }
    if (o1 > METADATA_TOTALMAX && o1 > o0)
    {
      o_put(S.tag, S.taglen) ;
      o_str(" NO [METADATA MAXSIZE ") ;
      o_num(o0 >= METADATA_TOTALMAX ? 0 : METADATA_TOTALMAX - o0) ;
      o_str("] The user's metadata is full\r\n") ;
      goto end ;
    }
  }
  if (!meta_write(&out)) { o_nosys("write the metadata") ; goto end ; }
  o_tagged("OK Setmetadata completed") ;
  goto end ;
 bad:
  o_bad(p, 0) ;
 end:
  if (lock >= 0) fd_close(lock) ;
  meta_free(&m) ;
  stralloc_free(&name) ; stralloc_free(&names) ; stralloc_free(&vals) ; stralloc_free(&out) ;
  genalloc_free(setv, &sv) ;
}

/* ---- RENAME and DELETE (RFC 5464 4.1) ---- */

/* Rewrites the file with f deciding each record's fate: the mailbox name
   it keeps (appended to nm) and whether it also stays as it was. */
typedef int meta_map_func (char const *, size_t, stralloc *, int *, void *) ;

static void meta_map (meta_map_func *f, void *data, char const *what)
{
  meta m = META_ZERO ;
  stralloc out = STRALLOC_ZERO, nm = STRALLOC_ZERO ;
  int lock = meta_lock(), changed = 0 ;
  if (lock < 0 || !meta_read(&m)) { strerr_warnwu3sys("update the metadata after ", what, ": ") ; goto end ; }
  for (size_t i = 0 ; i < genalloc_len(rec, &m.recs) ; i++)
  {
    rec const *r = genalloc_s(rec, &m.recs) + i ;
    int keep = 1 ;
    nm.len = 0 ;
    if (f(m.raw.s + r->mbox, r->mlen, &nm, &keep, data)) changed = 1 ;
    else { keep = 1 ; nm.len = 0 ; }
    if (keep) rec_put(&out, m.raw.s + r->mbox, r->mlen, m.raw.s + r->entry, r->elen, m.raw.s + r->val, r->vlen) ;
    if (nm.len) rec_put(&out, nm.s, nm.len, m.raw.s + r->entry, r->elen, m.raw.s + r->val, r->vlen) ;
  }
  if (changed && !meta_write(&out)) strerr_warnwu3sys("update the metadata after ", what, ": ") ;
 end:
  if (lock >= 0) fd_close(lock) ;
  meta_free(&m) ;
  stralloc_free(&out) ;
  stralloc_free(&nm) ;
}

typedef struct ren_s ren ;
struct ren_s { char const *from ; size_t flen ; char const *to ; size_t tlen ; int copy ; } ;

static int ren_f (char const *mb, size_t ml, stralloc *nm, int *keep, void *data)
{
  ren const *r = data ;
  if (ml < r->flen || memcmp(mb, r->from, r->flen)) return 0 ;
  if (ml > r->flen && (r->copy || mb[r->flen] != '.')) return 0 ;   /* INBOX's children stay where they are */
  if (!stralloc_catb(nm, r->to, r->tlen) || !stralloc_catb(nm, mb + r->flen, ml - r->flen)) die_io("out-of-memory") ;
  *keep = r->copy ;
  return 1 ;
}

/* RENAME from to: the entries of from and its children follow; of INBOX
   they are copied (INBOX keeps its own) */
void meta_rename (char const *from, size_t flen, char const *to, size_t tlen)
{
  ren r = { .from = from, .flen = flen, .to = to, .tlen = tlen, .copy = flen == 5 && !memcmp(from, "INBOX", 5) } ;
  meta_map(&ren_f, &r, "RENAME") ;
}

static int del_f (char const *mb, size_t ml, stralloc *nm, int *keep, void *data)
{
  ren const *r = data ;
  if (ml != r->flen || memcmp(mb, r->from, ml)) return 0 ;
  *keep = 0 ;
  return 1 ;
}

/* DELETE name: its entries go (its children's stay, as the children) */
void meta_delete (char const *name, size_t len)
{
  ren r = { .from = name, .flen = len } ;
  meta_map(&del_f, &r, "DELETE") ;
}
