/* newaliases: compile etc/aliases into etc/aliases.cdb, atomically, under
   the lock etc/aliases.lock. Any error leaves the old cdb in place.

   Syntax, as sendmail's: "name: target, target, ..."; lines starting with
   '#' are comments; blank lines are ignored; a line starting with a space
   or a tab continues the previous alias. name is "local" (valid in every
   local domain) or "local@domain". A target is an address
   (local@domain), a bare local name (the same name in the domain the
   alias is looked up in), "|command", "/path/to/mbox" or
   "/path/to/Maildir/"; a target that holds a comma is written in double
   quotes. Keys are lowercased; each target is NUL-terminated in the
   value, in order. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <skalibs/types.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/djbunix.h>
#include <skalibs/cdbmake.h>

#include "tern.h"

#define USAGE "newaliases"
#define dieusage() strerr_dieusage(100, USAGE)

typedef struct alias_s alias ;
struct alias_s
{
  size_t key ;      /* in keys, NUL-terminated */
  size_t val ;      /* in vals */
  size_t vallen ;
  unsigned int lineno ;
  unsigned int errs ;  /* nerrors when it started */
} ;

static stralloc keys = STRALLOC_ZERO ;
static stralloc vals = STRALLOC_ZERO ;
static genalloc aliases = GENALLOC_ZERO ;  /* alias */
static stralloc domains = STRALLOC_ZERO ;
static unsigned int nerrors = 0 ;
static stralloc src = STRALLOC_ZERO, dst = STRALLOC_ZERO, lck = STRALLOC_ZERO, tmp = STRALLOC_ZERO, raw = STRALLOC_ZERO ;

static void lineerr (unsigned int lineno, char const *what, char const *arg)
{
  char fmt[UINT_FMT] ;
  fmt[uint_fmt(fmt, lineno)] = 0 ;
  strerr_warn(PROG, ": etc/aliases:", fmt, ": ", what, arg ? arg : "") ;
  nerrors++ ;
}

static void dienomem (void)
{
  strerr_diefusys(111, "allocate memory") ;
}

/* A printable copy of s for messages (controls shown as '?'). */
static char const *shown (char const *s, size_t len)
{
  static stralloc sa = STRALLOC_ZERO ;
  if (!stralloc_copyb(&sa, s, len > 200 ? 200 : len) || !stralloc_0(&sa)) dienomem() ;
  for (size_t i = 0 ; i + 1 < sa.len ; i++)
    if ((unsigned char)sa.s[i] < 32 || sa.s[i] == 127) sa.s[i] = '?' ;
  return sa.s ;
}

/* A bare local part, checked by the same rules as an address's. */
static int local_sane (char const *s, size_t len)
{
  char buf[len + 3] ;
  memcpy(buf, s, len) ;
  memcpy(buf + len, "@a", 3) ;
  return tern_addr_sane(buf, len + 2) ;
}

static int hascontrol (char const *s, size_t len)
{
  for (size_t i = 0 ; i < len ; i++)
    if (((unsigned char)s[i] < 32 && s[i] != '\t') || s[i] == 127) return 1 ;
  return 0 ;
}

/* One target of the alias being built: checked, canonicalised, appended. */
static void target (char const *s, size_t len, unsigned int lineno, alias *a)
{
  size_t start = vals.len ;
  if (!len) { lineerr(lineno, "empty target", 0) ; return ; }
  if (hascontrol(s, len)) { lineerr(lineno, "control character in target: ", shown(s, len)) ; return ; }
  if (s[0] == '|')
  {
    size_t i = 1 ;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) i++ ;
    if (i == len) { lineerr(lineno, "empty command", 0) ; return ; }
  }
  else if (s[0] == '/')
  {
    if (len == 1) { lineerr(lineno, "a path target needs a file or directory name", 0) ; return ; }
  }
  else if (len >= 9 && !strncasecmp(s, ":include:", 9))
  {
    lineerr(lineno, ":include: files are not supported: ", shown(s, len)) ;
    return ;
  }
  else if (memchr(s, '@', len))
  {
    if (!tern_addr_sane(s, len)) { lineerr(lineno, "malformed address: ", shown(s, len)) ; return ; }
  }
  else if (!local_sane(s, len))
  {
    lineerr(lineno, "malformed target: ", shown(s, len)) ;
    return ;
  }
  if (!stralloc_catb(&vals, s, len) || !stralloc_0(&vals)) dienomem() ;
  if (s[0] != '|' && s[0] != '/') tern_addr_canon(vals.s + start, len, !memchr(s, '@', len)) ;
  a->vallen += len + 1 ;
}

/* The comma-separated targets of one physical line. */
static void targets (char const *s, size_t len, unsigned int lineno, alias *a)
{
  size_t i = 0 ;
  for (;;)
  {
    size_t start, end ;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) i++ ;
    if (i >= len) return ;
    if (s[i] == '"')
    {
      start = ++i ;
      while (i < len && s[i] != '"') i++ ;
      if (i >= len) { lineerr(lineno, "unterminated quoted target", 0) ; return ; }
      end = i++ ;
      while (i < len && (s[i] == ' ' || s[i] == '\t')) i++ ;
      if (i < len && s[i] != ',') { lineerr(lineno, "a comma must follow a quoted target", 0) ; return ; }
    }
    else
    {
      start = i ;
      while (i < len && s[i] != ',') i++ ;
      end = i ;
      while (end > start && (s[end-1] == ' ' || s[end-1] == '\t')) end-- ;
      if (s[start] != '|' && s[start] != '/' && !(end - start >= 9 && !strncasecmp(s + start, ":include:", 9)))
        for (size_t j = start ; j < end ; j++)
          if (s[j] == ' ' || s[j] == '\t' || s[j] == '"' || s[j] == ':')
          {
            lineerr(lineno, "malformed target (missing comma?): ", shown(s + start, end - start)) ;
            goto next ;
          }
    }
    target(s + start, end - start, lineno, a) ;
   next: ;
  }
}

static void finish (alias *a)
{
  if (nerrors > a->errs) return ;
  if (!a->vallen) { lineerr(a->lineno, "no targets for ", keys.s + a->key) ; return ; }
  if (!genalloc_append(alias, &aliases, a)) dienomem() ;
}

static void parse (char const *s, size_t n)
{
  alias cur = { .lineno = 0 } ;
  int have = 0 ;  /* 1: cur is open, 2: cur is broken (its continuations are skipped) */
  unsigned int lineno = 0 ;
  size_t i = 0 ;
  while (i < n)
  {
    size_t start = i, end, colon ;
    lineno++ ;
    while (i < n && s[i] != '\n') i++ ;
    end = i ;
    if (i < n) i++ ;
    if (end > start && s[end-1] == '\r') end-- ;
    {
      size_t j = start ;
      while (j < end && (s[j] == ' ' || s[j] == '\t')) j++ ;
      if (j == end || s[j] == '#') continue ;
      if (j > start)
      {
        if (!have) lineerr(lineno, "continuation line without an alias above it", 0) ;
        else if (have == 1) targets(s + j, end - j, lineno, &cur) ;
        continue ;
      }
    }
    if (have == 1) finish(&cur) ;
    have = 2 ;
    colon = start ;
    while (colon < end && s[colon] != ':') colon++ ;
    if (colon == end) { lineerr(lineno, "missing colon after the alias name", 0) ; continue ; }
    {
      size_t ne = colon ;
      while (ne > start && (s[ne-1] == ' ' || s[ne-1] == '\t')) ne-- ;
      if (memchr(s + start, '@', ne - start) ? !tern_addr_sane(s + start, ne - start) : !local_sane(s + start, ne - start))
      {
        lineerr(lineno, "malformed alias name: ", shown(s + start, ne - start)) ;
        continue ;
      }
      cur.key = keys.len ;
      cur.val = vals.len ;
      cur.vallen = 0 ;
      cur.lineno = lineno ;
      cur.errs = nerrors ;
      if (!stralloc_catb(&keys, s + start, ne - start) || !stralloc_0(&keys)) dienomem() ;
      tern_lower(keys.s + cur.key, ne - start) ;
      {
        size_t at = tern_addr_domain(keys.s + cur.key, ne - start) ;
        if (at < ne - start && !tern_domain_in(domains.s, domains.len, keys.s + cur.key + at + 1, ne - start - at - 1))
        {
          char fmt[UINT_FMT] ;
          fmt[uint_fmt(fmt, lineno)] = 0 ;
          strerr_warnw("etc/aliases:", fmt, ": the domain of ", keys.s + cur.key, " is not in etc/domains: the alias is never used") ;
        }
      }
    }
    have = 1 ;
    targets(s + colon + 1, end - colon - 1, lineno, &cur) ;
  }
  if (have == 1) finish(&cur) ;
}

static int bykey (void const *a, void const *b)
{
  alias const *x = a, *y = b ;
  int r = strcmp(keys.s + x->key, keys.s + y->key) ;
  return r ? r : x->lineno < y->lineno ? -1 : x->lineno > y->lineno ;
}

static void check_duplicates (void)
{
  size_t n = genalloc_len(alias, &aliases) ;
  alias *a = genalloc_s(alias, &aliases) ;
  if (n < 2) return ;
  qsort(a, n, sizeof(alias), &bykey) ;
  for (size_t i = 1 ; i < n ; i++)
    if (!strcmp(keys.s + a[i].key, keys.s + a[i-1].key))
    {
      size_t first = i - 1 ;
      char fmt[UINT_FMT] ;
      while (first && !strcmp(keys.s + a[first-1].key, keys.s + a[i].key)) first-- ;
      fmt[uint_fmt(fmt, a[first].lineno)] = 0 ;
      lineerr(a[i].lineno, "duplicate alias, first at line ", fmt) ;
    }
}

int main (int argc, char const *const *argv)
{
  subgetopt l = SUBGETOPT_ZERO ;
  cdbmaker c = CDBMAKER_ZERO ;
  size_t n ;
  int lfd, fd ;
  PROG = "newaliases" ;
  for (;;)
  {
    int opt = subgetopt_r(argc, argv, "", &l) ;
    if (opt == -1) break ;
    dieusage() ;
  }
  if (argc > l.ind) dieusage() ;
  umask(022) ;

  if (!tern_path(&src, tern_root(), "etc/aliases")
   || !tern_path(&dst, tern_root(), "etc/aliases.cdb")
   || !tern_path(&lck, tern_root(), "etc/aliases.lock")) dienomem() ;
  if (!tern_cfg_lines(&domains, "domains") && errno != ENOENT) strerr_diefusys(111, "read etc/domains") ;
  lfd = tern_lockfile(lck.s) ;
  if (lfd < 0) strerr_diefusys(111, "lock ", lck.s) ;
  if (!openslurpclose(&raw, src.s))
  {
    if (errno != ENOENT) strerr_diefusys(111, "read ", src.s) ;
    strerr_warnw(src.s, " does not exist: making an empty aliases.cdb") ;
  }
  parse(raw.s, raw.len) ;
  check_duplicates() ;
  if (nerrors) strerr_dief(100, "etc/aliases has errors: aliases.cdb not changed") ;

  fd = tern_atomic_open(&tmp, dst.s, 0644) ;
  if (fd < 0) strerr_diefusys(111, "create a temporary file for ", dst.s) ;
  if (!cdbmake_start(&c, fd)) goto err ;
  n = genalloc_len(alias, &aliases) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    alias const *a = genalloc_s(alias, &aliases) + i ;
    if (!cdbmake_add(&c, keys.s + a->key, strlen(keys.s + a->key), vals.s + a->val, a->vallen)) goto err ;
  }
  if (!cdbmake_finish(&c)) goto err ;
  if (!tern_atomic_commit(fd, tmp.s, dst.s)) strerr_diefusys(111, "replace ", dst.s) ;
  fd_close(lfd) ;
  {
    char fmt[SIZE_FMT] ;
    fmt[size_fmt(fmt, n)] = 0 ;
    strerr_warni("compiled ", fmt, " aliases into ", dst.s) ;
  }
  return 0 ;
 err:
  unlink(tmp.s) ;
  strerr_diefusys(111, "write ", tmp.s) ;
}
