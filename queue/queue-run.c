/* queue-run: the scheduler, a long-running s6 service as ternq.
   Opens its wake-up FIFO, reads the queue, then keeps the schedule in
   memory: local recipients go to deliver, remote domains to smtp-send,
   both through s6-sudo (or exec'd directly under TERN_DIRECT), with
   bounded concurrency. Each recipient's outcome is logged in queue/info/ID
   and fsynced; temporary failures are retried on a schedule; the sender
   gets RFC 3464 reports (delay, failure, success) as NOTIFY asks. After a
   crash nothing accepted is lost: a delivery in flight may be repeated.
   The queue format is in doc/internals.md. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <skalibs/types.h>
#include <skalibs/bytestr.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/djbunix.h>
#include <skalibs/direntry.h>
#include <skalibs/iopause.h>
#include <skalibs/selfpipe.h>
#include <skalibs/sig.h>
#include <skalibs/tai.h>
#include <skalibs/env.h>
#include <skalibs/fmtscan.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/random.h>
#include <stdio.h>

#include "tern.h"

#define USAGE "queue-run"
#define dienomem() strerr_diefusys(111, "allocate memory")

/* recipient states */
enum { R_PENDING, R_INFLIGHT, R_DEFERRED, R_DONE, R_FAILED } ;
/* NOTIFY (RFC 3461 4.1); absent means FAILURE,DELAY here */
#define N_NEVER 1
#define N_SUCCESS 2
#define N_FAILURE 4
#define N_DELAY 8
#define N_DEFAULT (N_FAILURE | N_DELAY)
/* message flags */
#define M_WARNED 0x01     /* delay report sent (W) */
#define M_SUCCESS 0x04    /* success report sent (S) */
#define M_RETFULL 0x08
#define M_INRL 0x10       /* in the local ready list */
#define M_INRR 0x20       /* in the remote ready list */
#define M_INHEAP 0x40
#define M_8BIT 0x80
#define M_UTF8 0x100

typedef struct rcpt_s rcpt ;
struct rcpt_s
{
  uint32_t addr ;       /* offsets into msg.env */
  uint32_t params ;     /* first P record after the T, or 0 */
  uint32_t orcpt ;      /* the ORCPT value, or 0 */
  uint16_t nparams ;
  uint8_t state ;
  uint8_t notify ;
  uint8_t local ;
  uint8_t soon ;        /* deferred because its hop failed before the agent ran */
  uint8_t fresh ;       /* deferred since the message was last scheduled */
  uint8_t reported ;    /* its failure was reported (B i) */
  char *why ;           /* "X.Y.Z TYPE; TEXT": last or final failure */
} ;

typedef struct msg_s msg ;
struct msg_s
{
  char id[48] ;
  stralloc env ;        /* the records of the queue file */
  uint32_t sender ;
  uint32_t envid ;      /* ENVID value or 0 */
  uint32_t bodyoff ;
  uint64_t size ;       /* of the body */
  time_t arrival ;
  time_t due ;          /* when deferred: next retry, warning or expiry */
  time_t retry_at ;     /* next retry of the recipients deferred for real */
  time_t soon_at ;      /* next try of the recipients whose hop failed */
  unsigned int attempts ;
  unsigned int nr ;
  unsigned int ninflight ;
  unsigned int flags ;
  unsigned int heapidx ;
  rcpt *r ;
} ;

enum { J_LOCAL, J_REMOTE } ;
#define J_USED 1
#define J_EOF 2
#define J_EXITED 4
#define J_SUDO 8
#define OUTMAX 1048576  /* smtp-send: 100 lines of an address (up to 4 KiB) and a reply */

typedef struct job_s job ;
struct job_s
{
  msg *m ;
  unsigned int kind ;
  unsigned int flags ;
  unsigned int *ri ;
  unsigned int nri ;
  pid_t pid ;
  tern_sudo sudo ;
  int outfd ;
  int wstat ;
  int sudoerr ;
  unsigned int sudostate ;  /* where the hop failed: 0 before the server spoke */
  time_t started ;
  stralloc out ;
  stralloc args ;
  genalloc argv ;       /* char const * */
  char domain[256] ;
} ;

/* ---- configuration ---- */

static char const *root ;
static stralloc qdir = STRALLOC_ZERO ;
static stralloc me = STRALLOC_ZERO ;
static stralloc domains = STRALLOC_ZERO ;
static stralloc smarthost = STRALLOC_ZERO ;
static stralloc smarthostauth = STRALLOC_ZERO ; /* etc/smarthost-auth, if it exists */
static stralloc deliverpath = STRALLOC_ZERO, smtpsendpath = STRALLOC_ZERO ;
static stralloc deliversock = STRALLOC_ZERO, smtpsendsock = STRALLOC_ZERO ;
static unsigned int maxlocal, maxremote, perdomain, rescan, warn_after, lifetime, jobtimeout ;
static int messdirty = 0 ;  /* messages were removed: fsync mess/ */
static unsigned int retry[16] ;
static unsigned int nretry ;
static int direct ;
static int remote_ok ;  /* smtp-send is there */

/* ---- state ---- */

static job *jobs ;
static unsigned int njobs_max, nlocal, nremote ;
static genalloc readyl = GENALLOC_ZERO, readyr = GENALLOC_ZERO ; /* msg * */
static size_t readyl_head = 0, readyr_head = 0 ;
static genalloc heap = GENALLOC_ZERO ; /* msg *, min-heap on due */
static unsigned int nmsgs = 0 ;
static int stopping = 0 ;
static int fifo_r = -1, fifo_w = -1, sigfd = -1 ;

static time_t now (void)
{
  return time(0) ;
}

/* ---- small helpers ---- */

static char const *M_S (msg const *m, uint32_t off) { return m->env.s + off ; }

static void logi (char const *what, msg const *m, char const *extra1, char const *extra2)
{
  strerr_warni(what, " id=", m->id, extra1 ? " " : "", extra1 ? extra1 : "", extra2 ? extra2 : "") ;
}

/* Control characters and newlines out: texts go into one-line records and headers. */
static void clean_text (char *s)
{
  for (; *s ; s++) if ((unsigned char)*s < 32 || *s == 127) *s = ' ' ;
}

static char *dupwhy (char const *status, char const *type, char const *text, size_t textlen)
{
  size_t sl = strlen(status), tl = strlen(type) ;
  char *s = malloc(sl + tl + textlen + 4) ;
  if (!s) dienomem() ;
  memcpy(s, status, sl) ; s[sl] = ' ' ;
  memcpy(s + sl + 1, type, tl) ;
  memcpy(s + sl + 1 + tl, "; ", 2) ;
  memcpy(s + sl + tl + 3, text, textlen) ;
  s[sl + tl + 3 + textlen] = 0 ;
  clean_text(s) ;
  return s ;
}

static void setwhy (rcpt *r, char *why)
{
  free(r->why) ;
  r->why = why ;
}

static int is_local_addr (char const *a)
{
  size_t len = strlen(a) ;
  size_t at = tern_addr_domain(a, len) ;
  if (at == len) return 1 ;  /* postmaster, and other bare local names */
  return tern_domain_in(domains.s, domains.len, a + at + 1, len - at - 1) ;
}

static char const *addr_domain (char const *a)
{
  size_t len = strlen(a) ;
  size_t at = tern_addr_domain(a, len) ;
  return at < len ? a + at + 1 : "" ;
}

/* RFC 3461 4: xtext, "+" followed by two uppercase hex digits */
static void xtext_decode (stralloc *sa, char const *s)
{
  while (*s)
  {
    if (s[0] == '+' && s[1] && s[2])
    {
      unsigned char h = fmtscan_num(s[1], 16), l = fmtscan_num(s[2], 16) ;
      if (h < 16 && l < 16)
      {
        char c = (char)(h << 4 | l) ;
        if (!stralloc_catb(sa, &c, 1)) dienomem() ;
        s += 3 ;
        continue ;
      }
    }
    if (!stralloc_catb(sa, s++, 1)) dienomem() ;
  }
}

/* ---- the ready lists and the heap ---- */

static void ready_push (genalloc *g, msg *m)
{
  if (!genalloc_append(msg *, g, &m)) dienomem() ;
}

static msg *ready_front (genalloc *g, size_t *head)
{
  if (*head >= genalloc_len(msg *, g))
  {
    genalloc_setlen(msg *, g, 0) ;
    *head = 0 ;
    return 0 ;
  }
  return genalloc_s(msg *, g)[*head] ;
}

static void ready_pop (genalloc *g, size_t *head)
{
  (*head)++ ;
  if (*head > 4096 && *head * 2 > genalloc_len(msg *, g))
  {
    size_t n = genalloc_len(msg *, g) - *head ;
    memmove(g->s, genalloc_s(msg *, g) + *head, n * sizeof(msg *)) ;
    genalloc_setlen(msg *, g, n) ;
    *head = 0 ;
  }
}

static void heap_swap (msg **h, unsigned int i, unsigned int j)
{
  msg *t = h[i] ; h[i] = h[j] ; h[j] = t ;
  h[i]->heapidx = i ; h[j]->heapidx = j ;
}

static void heap_push (msg *m)
{
  msg **h ;
  unsigned int i ;
  if (!genalloc_append(msg *, &heap, &m)) dienomem() ;
  h = genalloc_s(msg *, &heap) ;
  i = genalloc_len(msg *, &heap) - 1 ;
  m->heapidx = i ;
  m->flags |= M_INHEAP ;
  while (i && h[(i-1)/2]->due > h[i]->due) { heap_swap(h, i, (i-1)/2) ; i = (i-1)/2 ; }
}

static msg *heap_pop (void)
{
  msg **h = genalloc_s(msg *, &heap) ;
  unsigned int n = genalloc_len(msg *, &heap), i = 0 ;
  msg *top ;
  if (!n) return 0 ;
  top = h[0] ;
  h[0] = h[--n] ;
  h[0]->heapidx = 0 ;
  genalloc_setlen(msg *, &heap, n) ;
  for (;;)
  {
    unsigned int l = 2*i + 1, r = l + 1, s = i ;
    if (l < n && h[l]->due < h[s]->due) s = l ;
    if (r < n && h[r]->due < h[s]->due) s = r ;
    if (s == i) break ;
    heap_swap(h, i, s) ;
    i = s ;
  }
  top->flags &= ~M_INHEAP ;
  return top ;
}

/* ---- the info log ---- */

static int info_path (stralloc *sa, msg const *m)
{
  sa->len = 0 ;
  return stralloc_cats(sa, qdir.s) && stralloc_cats(sa, "/info/")
    && stralloc_cats(sa, m->id) && stralloc_0(sa) ;
}

/* fsync of queue/SUB: makes creations and removals in it durable. */
static void sync_dir (char const *sub)
{
  stralloc sa = STRALLOC_ZERO ;
  int fd ;
  if (!stralloc_cats(&sa, qdir.s) || !stralloc_catb(&sa, "/", 1) || !stralloc_cats(&sa, sub) || !stralloc_0(&sa)) dienomem() ;
  fd = open(sa.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0 || fsync(fd) < 0) strerr_warnwusys("fsync ", sa.s) ;
  if (fd >= 0) fd_close(fd) ;
  stralloc_free(&sa) ;
  if (!strcmp(sub, "mess")) messdirty = 0 ;
}

/* Appends lines; fsyncs them unless they are only hints (Z). */
static int info_write (msg *m, char const *s, size_t len, int sync)
{
  stralloc sa = STRALLOC_ZERO ;
  int fd, r = 0, created = 0 ;
  if (!info_path(&sa, m)) dienomem() ;
  fd = open(sa.s, O_WRONLY | O_APPEND | O_CLOEXEC) ;
  if (fd < 0 && errno == ENOENT)
  {
    created = 1 ;
    fd = open(sa.s, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) ;
  }
  if (fd >= 0)
  {
    r = allwrite(fd, s, len) == len && (!sync || fdatasync(fd) == 0) ;
    fd_close(fd) ;
    /* a new file's name must be durable too before its lines count */
    if (r && created) sync_dir("info") ;
  }
  if (!r) strerr_warnwusys("record an outcome in ", sa.s) ;
  stralloc_free(&sa) ;
  return r ;
}

/* The outcomes of one job are gathered and written with one fdatasync:
   a smtp-send run for 100 recipients costs one disk flush, not 100. */
static stralloc infobuf = STRALLOC_ZERO ;
static msg *infomsg = 0 ;
static int infosync = 0 ;

static void info_flush (void)
{
  if (infomsg && infobuf.len) info_write(infomsg, infobuf.s, infobuf.len, infosync) ;
  infobuf.len = 0 ;
  infomsg = 0 ;
  infosync = 0 ;
}

static int info_add (msg *m, char const *line, size_t len, int sync)
{
  if (infomsg == m) info_flush() ;
  return info_write(m, line, len, sync) ;
}

static void info_rcpt (msg *m, char tag, unsigned int i, char const *why)
{
  char fmt[UINT_FMT] ;
  if (infomsg != m) { info_flush() ; infomsg = m ; }
  if (!stralloc_catb(&infobuf, &tag, 1) || !stralloc_catb(&infobuf, " ", 1)
   || !stralloc_catb(&infobuf, fmt, uint_fmt(fmt, i))) dienomem() ;
  if (why && (!stralloc_catb(&infobuf, " ", 1) || !stralloc_cats(&infobuf, why))) dienomem() ;
  if (!stralloc_catb(&infobuf, "\n", 1)) dienomem() ;
  if (tag != 'Z') infosync = 1 ;
}

/* ---- loading messages ---- */

static void msg_free (msg *m)
{
  if (infomsg == m) { infobuf.len = 0 ; infomsg = 0 ; infosync = 0 ; }
  for (unsigned int i = 0 ; i < m->nr ; i++) free(m->r[i].why) ;
  free(m->r) ;
  stralloc_free(&m->env) ;
  free(m) ;
  nmsgs-- ;
}

static unsigned int parse_notify (char const *v)
{
  unsigned int n = 0 ;
  while (*v)
  {
    size_t l = str_chr(v, ',') ;
    if (l == 5 && !strncasecmp(v, "NEVER", 5)) n |= N_NEVER ;
    else if (l == 7 && !strncasecmp(v, "SUCCESS", 7)) n |= N_SUCCESS ;
    else if (l == 7 && !strncasecmp(v, "FAILURE", 7)) n |= N_FAILURE ;
    else if (l == 5 && !strncasecmp(v, "DELAY", 5)) n |= N_DELAY ;
    v += l ;
    if (*v) v++ ;
  }
  return n & N_NEVER ? N_NEVER : n ? n : N_DEFAULT ;
}

/* Parses the records of m->env into m. Returns 0 on a malformed envelope. */
static int msg_parse (msg *m)
{
  char const *s = m->env.s ;
  size_t len = m->env.len, i = 0 ;
  unsigned int nt = 0, k ;
  int seenF = 0 ;
  rcpt *cur = 0 ;
  for (i = 0 ; i < len && s[i] ; i += strlen(s + i) + 1) if (s[i] == 'T') nt++ ;
  if (!nt) return 0 ;
  m->r = calloc(nt, sizeof(rcpt)) ;
  if (!m->r) dienomem() ;
  m->nr = nt ;
  k = 0 ;
  for (i = 0 ; i < len && s[i] ; i += strlen(s + i) + 1)
  {
    char const *v = s + i + 1 ;
    switch (s[i])
    {
      case 'A' : { uint64_t t ; if (uint640_scan(v, &t)) m->arrival = (time_t)t ; break ; }
      case 'F' : m->sender = i + 1 ; seenF = 1 ; break ;
      case 'T' :
        cur = m->r + k++ ;
        cur->addr = i + 1 ;
        cur->notify = N_DEFAULT ;
        cur->local = is_local_addr(v) ;
        cur->state = R_PENDING ;
        if (!cur->local && strlen(addr_domain(v)) > 255)
        {
          /* RFC 1035 2.3.4: no such domain can exist */
          cur->state = R_FAILED ;
          cur->why = strdup("5.1.2 x-tern; domain name longer than 255 octets") ;
          if (!cur->why) dienomem() ;
        }
        break ;
      case 'P' :
        if (cur)
        {
          if (!cur->nparams) cur->params = i ;
          cur->nparams++ ;
          if (!strncasecmp(v, "NOTIFY=", 7)) cur->notify = parse_notify(v + 7) ;
          else if (!strncasecmp(v, "ORCPT=", 6)) cur->orcpt = i + 7 ;
        }
        else if (!strncasecmp(v, "RET=FULL", 8)) m->flags |= M_RETFULL ;
        else if (!strncasecmp(v, "ENVID=", 6)) m->envid = i + 7 ;
        else if (!strncasecmp(v, "BODY=8BITMIME", 13)) m->flags |= M_8BIT ;
        else if (!strcasecmp(v, "SMTPUTF8")) m->flags |= M_UTF8 ;
        break ;
      default : break ;
    }
  }
  return seenF ;
}

/* Applies the lines of queue/info/ID; returns its mtime, or 0 if none. */
static time_t msg_load_info (msg *m)
{
  stralloc sa = STRALLOC_ZERO, path = STRALLOC_ZERO ;
  struct stat st ;
  size_t i = 0 ;
  time_t t = 0 ;
  if (!info_path(&path, m)) dienomem() ;
  if (stat(path.s, &st) < 0 || !openslurpclose(&sa, path.s)) goto end ;
  t = st.st_mtime ;
  while (i < sa.len)
  {
    size_t e = byte_chr(sa.s + i, sa.len - i, '\n') ;
    char *line = sa.s + i ;
    unsigned int idx ;
    size_t n ;
    if (i + e == sa.len) break ;  /* torn last line */
    line[e] = 0 ;
    i += e + 1 ;
    switch (line[0])
    {
      case 'W' : m->flags |= M_WARNED ; break ;
      case 'B' :
      {
        /* "B" alone: every failure so far was reported; "B i": recipient i */
        unsigned int bidx ;
        if (line[1] == ' ' && uint_scan(line + 2, &bidx) && bidx < m->nr) m->r[bidx].reported = 1 ;
        else if (!line[1]) for (unsigned int k = 0 ; k < m->nr ; k++) if (m->r[k].state == R_FAILED) m->r[k].reported = 1 ;
        break ;
      }
      case 'S' : m->flags |= M_SUCCESS ; break ;
      case 'D' : case 'F' : case 'Z' :
        if (line[1] != ' ' || !(n = uint_scan(line + 2, &idx)) || idx >= m->nr) break ;
        if (line[0] == 'D') m->r[idx].state = R_DONE ;
        else
        {
          char const *why = line[2 + n] == ' ' ? line + 3 + n : "4.0.0 x-tern; unknown" ;
          char *w = strdup(why) ;
          if (!w) dienomem() ;
          setwhy(m->r + idx, w) ;
          if (line[0] == 'F') m->r[idx].state = R_FAILED ;
          else if (m->r[idx].state == R_PENDING) m->r[idx].state = R_DEFERRED ;
        }
        break ;
      default : break ;
    }
  }
 end:
  stralloc_free(&sa) ;
  stralloc_free(&path) ;
  return t ;
}

static void msg_schedule (msg *m) ;
static void msg_finish (msg *m) ;
static void report_failures (msg *m) ;

/* Loads queue/SUB/ID; from incoming/ it is then moved to mess/. */
static void msg_load (char const *sub, char const *id)
{
  stralloc path = STRALLOC_ZERO ;
  struct stat st ;
  msg *m ;
  int fd ;
  time_t infot ;
  if (strlen(id) >= sizeof(m->id)) { strerr_warnw("ignoring queue file with a long name: ", id) ; return ; }
  if (!stralloc_cats(&path, qdir.s) || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, sub)
   || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, id) || !stralloc_0(&path)) dienomem() ;
  m = calloc(1, sizeof(msg)) ;
  if (!m) dienomem() ;
  nmsgs++ ;
  strcpy(m->id, id) ;
  fd = open(path.s, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) { if (errno != ENOENT) strerr_warnwusys("open ", path.s) ; goto drop ; }
  if (fstat(fd, &st) < 0 || !tern_qfile_header(fd, &m->env, &m->bodyoff) || !msg_parse(m))
  {
    fd_close(fd) ;
    strerr_warnw("malformed queue file, left alone: ", path.s) ;
    goto drop ;
  }
  fd_close(fd) ;
  m->size = st.st_size > (off_t)m->bodyoff ? st.st_size - m->bodyoff : 0 ;
  if (!m->arrival) m->arrival = st.st_mtime ;
  if (!strcmp(sub, "incoming"))
  {
    stralloc dst = STRALLOC_ZERO ;
    if (!stralloc_cats(&dst, qdir.s) || !stralloc_cats(&dst, "/mess/") || !stralloc_cats(&dst, id) || !stralloc_0(&dst)) dienomem() ;
    if (rename(path.s, dst.s) < 0)
    {
      strerr_warnwusys("move ", path.s, " to mess/") ;
      stralloc_free(&dst) ;
      goto drop ;
    }
    stralloc_free(&dst) ;
    {
      char fmt[UINT64_FMT], fmtn[UINT_FMT] ;
      fmt[uint64_fmt(fmt, m->size)] = 0 ;
      fmtn[uint_fmt(fmtn, m->nr)] = 0 ;
      strerr_warni("new id=", m->id, " from=<", M_S(m, m->sender), "> rcpts=", fmtn, " size=", fmt) ;
    }
  }
  infot = msg_load_info(m) ;
  stralloc_free(&path) ;
  {
    int deferred = 0, pending = 0 ;
    for (unsigned int i = 0 ; i < m->nr ; i++)
    {
      if (m->r[i].state == R_DEFERRED) deferred = 1 ;
      if (m->r[i].state == R_PENDING || m->r[i].state == R_DEFERRED) pending = 1 ;
    }
    if (!pending) { msg_finish(m) ; return ; }
    if (deferred)
    {
      /* It was being retried before we restarted: wait a first interval
         from the last attempt, not hammer every server at once. */
      for (unsigned int i = 0 ; i < m->nr ; i++)
        if (m->r[i].state == R_PENDING) m->r[i].state = R_DEFERRED ;
      m->attempts = 1 ;
      m->retry_at = m->due = infot + retry[0] ;
      report_failures(m) ;
      heap_push(m) ;
      return ;
    }
  }
  msg_schedule(m) ;
  return ;
 drop:
  stralloc_free(&path) ;
  msg_free(m) ;
}

static void scan_dir (char const *sub)
{
  stralloc path = STRALLOC_ZERO ;
  DIR *dir ;
  if (!stralloc_cats(&path, qdir.s) || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, sub) || !stralloc_0(&path)) dienomem() ;
  dir = opendir(path.s) ;
  if (!dir) strerr_diefusys(111, "open ", path.s) ;
  for (;;)
  {
    direntry *d ;
    errno = 0 ;
    d = readdir(dir) ;
    if (!d) break ;
    if (d->d_name[0] == '.') continue ;
    msg_load(sub, d->d_name) ;
  }
  if (errno) strerr_diefusys(111, "read ", path.s) ;
  dir_close(dir) ;
  stralloc_free(&path) ;
}

/* Removes info files of messages that are gone, and temp files that no
   writer can still own (queue-store's deadline is far shorter). */
static void clean_dirs (void)
{
  stralloc path = STRALLOC_ZERO, other = STRALLOC_ZERO ;
  char const *subs[2] = { "info", "tmp" } ;
  time_t t = now() ;
  for (unsigned int k = 0 ; k < 2 ; k++)
  {
    DIR *dir ;
    path.len = 0 ;
    if (!stralloc_cats(&path, qdir.s) || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, subs[k]) || !stralloc_0(&path)) dienomem() ;
    dir = opendir(path.s) ;
    if (!dir) { strerr_warnwusys("open ", path.s) ; continue ; }
    for (;;)
    {
      struct stat st ;
      direntry *d = readdir(dir) ;
      if (!d) break ;
      if (d->d_name[0] == '.') continue ;
      other.len = 0 ;
      if (!stralloc_cats(&other, path.s) || !stralloc_catb(&other, "/", 1) || !stralloc_cats(&other, d->d_name) || !stralloc_0(&other)) dienomem() ;
      if (!k)
      {
        stralloc m = STRALLOC_ZERO ;
        int gone ;
        if (!stralloc_cats(&m, qdir.s) || !stralloc_cats(&m, "/mess/") || !stralloc_cats(&m, d->d_name) || !stralloc_0(&m)) dienomem() ;
        gone = access(m.s, F_OK) < 0 && errno == ENOENT ;
        stralloc_free(&m) ;
        if (gone) unlink(other.s) ;
      }
      else if (stat(other.s, &st) == 0 && st.st_mtime + 129600 < t) unlink(other.s) ;
    }
    dir_close(dir) ;
  }
  stralloc_free(&path) ;
  stralloc_free(&other) ;
}

/* ---- scheduling ---- */

/* Puts m where it belongs: in the ready lists if it has pending
   recipients, else (nothing in flight) finished or deferred. */
static void msg_schedule (msg *m)
{
  int pl = 0, pr = 0, deferred = 0 ;
  for (unsigned int i = 0 ; i < m->nr ; i++)
  {
    if (m->r[i].state == R_PENDING) { if (m->r[i].local) pl = 1 ; else pr = 1 ; }
    else if (m->r[i].state == R_DEFERRED) deferred = 1 ;
  }
  if (pl && !(m->flags & M_INRL)) { m->flags |= M_INRL ; ready_push(&readyl, m) ; }
  if (pr && !(m->flags & M_INRR)) { m->flags |= M_INRR ; ready_push(&readyr, m) ; }
  if (pl || pr || m->ninflight || (m->flags & (M_INRL | M_INRR))) return ;
  if (!deferred) { msg_finish(m) ; return ; }
  {
    time_t t = now() ;
    unsigned int k = m->attempts < nretry ? m->attempts : nretry - 1 ;
    int real = 0, soon = 0 ;
    for (unsigned int i = 0 ; i < m->nr ; i++)
    {
      rcpt *r = m->r + i ;
      if (r->state != R_DEFERRED) continue ;
      if (r->soon) soon = 1 ;
      else if (r->fresh) real = 1 ;
      r->fresh = 0 ;
    }
    /* A hop that failed before its agent ran (the s6-sudo server full or
       restarting) is not an attempt: those recipients are tried again in
       a moment, the others keep the retry schedule. */
    if (real)
    {
      m->retry_at = t + retry[k] ;
      m->attempts++ ;
    }
    if (soon) m->soon_at = t + 5 ;
    m->due = m->retry_at ;
    if (soon && (m->soon_at < m->due || !m->retry_at)) m->due = m->soon_at ;
    if (warn_after && !(m->flags & M_WARNED) && m->arrival + (time_t)warn_after < m->due)
      m->due = m->arrival + warn_after > t ? m->arrival + warn_after : t ;
    if (m->arrival + (time_t)lifetime < m->due)
      m->due = m->arrival + lifetime > t ? m->arrival + lifetime : t ;
    /* failures of this round are reported now, not when the last deferred
       recipient is done days later */
    report_failures(m) ;
    heap_push(m) ;
  }
}

static int report (msg *m, unsigned int kind) ;

/* A deferred message's time has come: expire it, warn, or retry. */
static void msg_due (msg *m)
{
  time_t t = now() ;
  if (t >= m->arrival + (time_t)lifetime)
  {
    for (unsigned int i = 0 ; i < m->nr ; i++)
    {
      rcpt *r = m->r + i ;
      char *why ;
      if (r->state != R_DEFERRED && r->state != R_PENDING) continue ;
      {
        stralloc sa = STRALLOC_ZERO ;
        char const *last = r->why ? r->why : "4.4.7 x-tern; no attempt succeeded" ;
        size_t sp = str_chr(last, ' ') ;
        if (!stralloc_cats(&sa, "4.4.7") || !stralloc_cats(&sa, last + sp)
         || !stralloc_cats(&sa, " (message expired in the queue)") || !stralloc_0(&sa)) dienomem() ;
        why = sa.s ;
      }
      setwhy(r, why) ;
      r->state = R_FAILED ;
      info_rcpt(m, 'F', i, r->why) ;
      strerr_warni("failed id=", m->id, " rcpt=<", M_S(m, r->addr), "> reason=", r->why) ;
    }
    info_flush() ;
    msg_finish(m) ;
    return ;
  }
  if (warn_after && !(m->flags & M_WARNED) && t >= m->arrival + (time_t)warn_after)
  {
    if (report(m, R_DEFERRED)) m->flags |= M_WARNED ;
  }
  {
    int woke = 0, soonleft = 0, realleft = 0 ;
    for (unsigned int i = 0 ; i < m->nr ; i++)
    {
      rcpt *r = m->r + i ;
      if (r->state != R_DEFERRED) continue ;
      if (r->soon ? t >= m->soon_at : t >= m->retry_at)
      {
        r->state = R_PENDING ;
        r->soon = 0 ;
        woke = 1 ;
      }
      else if (r->soon) soonleft = 1 ;
      else realleft = 1 ;
    }
    if (woke) { msg_schedule(m) ; return ; }
    /* woken for the warning only: back to waiting */
    m->due = realleft ? m->retry_at : m->soon_at ;
    if (soonleft && m->soon_at < m->due) m->due = m->soon_at ;
    if (m->arrival + (time_t)lifetime < m->due) m->due = m->arrival + lifetime ;
    heap_push(m) ;
  }
}

static void unlink_msg (msg *m)
{
  stralloc sa = STRALLOC_ZERO ;
  if (!stralloc_cats(&sa, qdir.s) || !stralloc_cats(&sa, "/mess/") || !stralloc_cats(&sa, m->id) || !stralloc_0(&sa)) dienomem() ;
  if (unlink(sa.s) < 0 && errno != ENOENT) strerr_warnwusys("unlink ", sa.s) ;
  messdirty = 1 ;
  if (!info_path(&sa, m)) dienomem() ;
  unlink(sa.s) ;
  stralloc_free(&sa) ;
}

static int msg_exists (msg const *m)
{
  stralloc sa = STRALLOC_ZERO ;
  int r ;
  if (!stralloc_cats(&sa, qdir.s) || !stralloc_cats(&sa, "/mess/") || !stralloc_cats(&sa, m->id) || !stralloc_0(&sa)) dienomem() ;
  r = access(sa.s, F_OK) == 0 || errno != ENOENT ;
  stralloc_free(&sa) ;
  return r ;
}

/* A deferred message's permanent failures so far, reported at once. */
static void report_failures (msg *m)
{
  for (unsigned int i = 0 ; i < m->nr ; i++)
    if (m->r[i].state == R_FAILED && (m->r[i].notify & N_FAILURE) && !m->r[i].reported)
    {
      report(m, R_FAILED) ;
      return ;
    }
}

/* Every recipient is done or failed: send the reports asked for, remove. */
static void msg_finish (msg *m)
{
  int failed = 0, success = 0 ;
  for (unsigned int i = 0 ; i < m->nr ; i++)
  {
    if (m->r[i].state == R_FAILED && (m->r[i].notify & N_FAILURE) && !m->r[i].reported) failed = 1 ;
    if (m->r[i].state == R_DONE && (m->r[i].notify & N_SUCCESS) && m->r[i].local) success = 1 ;
  }
  if (failed && !report(m, R_FAILED))
  {
    if (!msg_exists(m)) goto gone ;
    goto keep ;
  }
  if (success && !(m->flags & M_SUCCESS))
  {
    if (!report(m, R_DONE))
    {
      if (!msg_exists(m)) goto gone ;
      goto keep ;
    }
    m->flags |= M_SUCCESS ;
  }
  unlink_msg(m) ;
  logi("done", m, 0, 0) ;
  msg_free(m) ;
  return ;
 gone:
  /* its file vanished (an admin removed it): nothing left to report from */
  strerr_warnw("message file gone, forgetting id=", m->id) ;
  unlink_msg(m) ;
  msg_free(m) ;
  return ;
 keep:
  /* Could not queue the report: try again later. */
  m->retry_at = m->due = now() + retry[0] ;
  heap_push(m) ;
}

/* ---- the reports (RFC 3464) ---- */

static void cat (stralloc *sa, char const *s)
{
  if (!stralloc_cats(sa, s)) dienomem() ;
}

static void catb (stralloc *sa, char const *s, size_t n)
{
  if (!stralloc_catb(sa, s, n)) dienomem() ;
}

static void catdate (stralloc *sa, time_t t)
{
  char d[TERN_DATE822_LEN] ;
  catb(sa, d, tern_date822(d, t)) ;
}

static int has8bit (char const *s)
{
  for (; *s ; s++) if ((unsigned char)*s >= 128) return 1 ;
  return 0 ;
}

/* Copies the original message, or its header section, from the queue file. */
static int copy_original (msg *m, int out, int full)
{
  stralloc path = STRALLOC_ZERO ;
  char buf[65536] ;
  off_t off ;
  int fd, atbol = 1, stop = 0, r = 0 ;
  if (!stralloc_cats(&path, qdir.s) || !stralloc_cats(&path, "/mess/") || !stralloc_cats(&path, m->id) || !stralloc_0(&path)) dienomem() ;
  fd = open(path.s, O_RDONLY | O_CLOEXEC) ;
  stralloc_free(&path) ;
  if (fd < 0) return 0 ;
  off = m->bodyoff ;
  while (!stop)
  {
    ssize_t n = pread(fd, buf, sizeof buf, off), w ;
    if (n < 0) { if (errno == EINTR) continue ; goto end ; }
    if (!n) break ;
    w = n ;
    if (!full)
    {
      for (ssize_t k = 0 ; k < n ; k++)
      {
        if (buf[k] != '\n') atbol = 0 ;
        else if (atbol) { w = k ; stop = 1 ; break ; }
        else atbol = 1 ;
      }
      /* headers only: no more than 64 KiB of them, even without a blank line */
      if ((size_t)(off - m->bodyoff) + w >= 65536) { w = 65536 - (off - m->bodyoff) ; stop = 1 ; }
    }
    if (allwrite(out, buf, w) != (size_t)w) goto end ;
    off += n ;
  }
  r = 1 ;
 end:
  fd_close(fd) ;
  return r ;
}

/* Queues a report to the sender about the recipients in the given state:
   R_FAILED (a bounce), R_DEFERRED (a delay warning), R_DONE (delivered).
   Returns 1 when it is queued or when there is nobody to tell. */
static int report (msg *m, unsigned int kind)
{
  stralloc hdr = STRALLOC_ZERO, rec = STRALLOC_ZERO, tmp = STRALLOC_ZERO ;
  tern_qwriter q = TERN_QWRITER_ZERO ;
  char const *sender = M_S(m, m->sender) ;
  char const *to = sender ;
  char boundary[40] ;
  unsigned int n = 0, want = kind == R_FAILED ? N_FAILURE : kind == R_DEFERRED ? N_DELAY : N_SUCCESS ;
  /* RET=FULL, unless the message is too big to be sent back whole */
  int utf8 = 0, full = kind == R_FAILED && (m->flags & M_RETFULL) && m->size <= 10485760 ;
  time_t t = now() ;
  char tag = kind == R_FAILED ? 'B' : kind == R_DEFERRED ? 'W' : 'S' ;

  for (unsigned int i = 0 ; i < m->nr ; i++)
  {
    rcpt *r = m->r + i ;
    int st = r->state == R_PENDING ? R_DEFERRED : r->state ;
    if (st == (int)kind && (r->notify & want) && (kind != R_DONE || r->local) && !(kind == R_FAILED && r->reported)) n++ ;
  }
  if (!n) return 1 ;
  if (!*sender)
  {
    /* Never bounce a bounce: a failed report goes to the postmaster, and
       a failure of that is only logged. Delays and successes of reports
       are nobody's business. */
    if (kind != R_FAILED) return 1 ;
    for (unsigned int i = 0 ; i < m->nr ; i++)
      if (m->r[i].state == R_FAILED && !strcasecmp(M_S(m, m->r[i].addr), "postmaster"))
      {
        strerr_warnw("double bounce dropped id=", m->id, " (postmaster unreachable)") ;
        info_add(m, "B\n", 2, 1) ;
        for (unsigned int k = 0 ; k < m->nr ; k++) if (m->r[k].state == R_FAILED) m->r[k].reported = 1 ;
        return 1 ;
      }
    to = "postmaster" ;
  }
  if (has8bit(to)) utf8 = 1 ;
  for (unsigned int i = 0 ; i < m->nr ; i++) if (has8bit(M_S(m, m->r[i].addr))) utf8 = 1 ;
  if (m->flags & M_UTF8) utf8 = 1 ;
  random_name(boundary, 24) ;
  memcpy(boundary + 24, "=_tern", 7) ;

  cat(&hdr, "From: Mail Delivery System <MAILER-DAEMON@") ; cat(&hdr, me.s) ; cat(&hdr, ">\n") ;
  cat(&hdr, "To: <") ; cat(&hdr, to) ;
  if (!strchr(to, '@')) { cat(&hdr, "@") ; cat(&hdr, me.s) ; }
  cat(&hdr, ">\n") ;
  cat(&hdr, kind == R_FAILED ? "Subject: Undelivered Mail Returned to Sender\n"
          : kind == R_DEFERRED ? "Subject: Delayed Mail (still being retried)\n"
          : "Subject: Successful Mail Delivery Report\n") ;
  cat(&hdr, "Date: ") ; catdate(&hdr, t) ; cat(&hdr, "\n") ;
  cat(&hdr, "Message-ID: ") ;
  if (!tern_msgid(&hdr, me.s)) dienomem() ;
  cat(&hdr, "\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n") ;
  cat(&hdr, "Content-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"") ;
  cat(&hdr, boundary) ; cat(&hdr, "\"\n") ;
  if (utf8 || (full && (m->flags & M_8BIT))) cat(&hdr, "Content-Transfer-Encoding: 8bit\n") ;
  cat(&hdr, "\nThis is a MIME-encapsulated message.\n\n--") ; cat(&hdr, boundary) ;
  cat(&hdr, utf8 ? "\nContent-Type: text/plain; charset=utf-8\n\n" : "\nContent-Type: text/plain; charset=us-ascii\n\n") ;
  cat(&hdr, "This is the mail system at host ") ; cat(&hdr, me.s) ; cat(&hdr, ".\n\n") ;
  if (kind == R_FAILED)
    cat(&hdr, "Your message could not be delivered to one or more recipients.\nIt is attached below, with the reasons.\n\n") ;
  else if (kind == R_DEFERRED)
  {
    char fmt[UINT_FMT] ;
    cat(&hdr, "Your message could not be delivered yet to one or more recipients.\nThe mail system will keep trying until ") ;
    catdate(&hdr, m->arrival + lifetime) ;
    cat(&hdr, "\n(") ; catb(&hdr, fmt, uint_fmt(fmt, (lifetime + 3599) / 3600)) ;
    cat(&hdr, " hours after it arrived); you do not need to send it again.\n\n") ;
  }
  else cat(&hdr, "Your message was delivered to the recipients below, as you asked.\n\n") ;
  for (unsigned int i = 0 ; i < m->nr ; i++)
  {
    rcpt *r = m->r + i ;
    int st = r->state == R_PENDING ? R_DEFERRED : r->state ;
    if (st != (int)kind || !(r->notify & want) || (kind == R_DONE && !r->local) || (kind == R_FAILED && r->reported)) continue ;
    cat(&hdr, "<") ; cat(&hdr, M_S(m, r->addr)) ; cat(&hdr, ">: ") ;
    if (kind == R_DONE) cat(&hdr, "delivered to the mailbox") ;
    else if (r->why)
    {
      /* "X.Y.Z TYPE; TEXT": people read the TEXT */
      char const *semi = strstr(r->why, "; ") ;
      cat(&hdr, semi ? semi + 2 : r->why) ;
    }
    else cat(&hdr, "no attempt finished yet") ;
    cat(&hdr, "\n") ;
  }
  cat(&hdr, "\n--") ; cat(&hdr, boundary) ;
  cat(&hdr, utf8 ? "\nContent-Type: message/global-delivery-status\n\n" : "\nContent-Type: message/delivery-status\n\n") ;
  cat(&hdr, "Reporting-MTA: dns; ") ; cat(&hdr, me.s) ; cat(&hdr, "\n") ;
  if (m->envid)
  {
    tmp.len = 0 ;
    xtext_decode(&tmp, M_S(m, m->envid)) ;
    if (!stralloc_0(&tmp)) dienomem() ;
    clean_text(tmp.s) ;
    cat(&hdr, "Original-Envelope-Id: ") ; cat(&hdr, tmp.s) ; cat(&hdr, "\n") ;
  }
  cat(&hdr, "Arrival-Date: ") ; catdate(&hdr, m->arrival) ; cat(&hdr, "\n") ;
  for (unsigned int i = 0 ; i < m->nr ; i++)
  {
    rcpt *r = m->r + i ;
    int st = r->state == R_PENDING ? R_DEFERRED : r->state ;
    char const *a = M_S(m, r->addr) ;
    if (st != (int)kind || !(r->notify & want) || (kind == R_DONE && !r->local) || (kind == R_FAILED && r->reported)) continue ;
    cat(&hdr, "\n") ;
    if (r->orcpt)
    {
      tmp.len = 0 ;
      xtext_decode(&tmp, M_S(m, r->orcpt)) ;
      if (!stralloc_0(&tmp)) dienomem() ;
      clean_text(tmp.s) ;
      cat(&hdr, "Original-Recipient: ") ; cat(&hdr, tmp.s) ; cat(&hdr, "\n") ;
    }
    cat(&hdr, has8bit(a) ? "Final-Recipient: utf-8; " : "Final-Recipient: rfc822; ") ;
    cat(&hdr, a) ;
    if (!strchr(a, '@')) { cat(&hdr, "@") ; cat(&hdr, me.s) ; }
    cat(&hdr, kind == R_FAILED ? "\nAction: failed\nStatus: " : kind == R_DEFERRED ? "\nAction: delayed\nStatus: " : "\nAction: delivered\nStatus: ") ;
    if (kind == R_DONE) cat(&hdr, "2.0.0\n") ;
    else if (r->why)
    {
      size_t sp = str_chr(r->why, ' ') ;
      catb(&hdr, r->why, sp) ;
      cat(&hdr, "\n") ;
      if (r->why[sp]) { cat(&hdr, "Diagnostic-Code: ") ; cat(&hdr, r->why + sp + 1) ; cat(&hdr, "\n") ; }
    }
    else cat(&hdr, kind == R_FAILED ? "5.0.0\n" : "4.0.0\n") ;
    cat(&hdr, "Last-Attempt-Date: ") ; catdate(&hdr, t) ; cat(&hdr, "\n") ;
    if (kind == R_DEFERRED) { cat(&hdr, "Will-Retry-Until: ") ; catdate(&hdr, m->arrival + lifetime) ; cat(&hdr, "\n") ; }
  }
  cat(&hdr, "\n--") ; cat(&hdr, boundary) ;
  if (full) cat(&hdr, (m->flags & M_UTF8) ? "\nContent-Type: message/global\n\n" : "\nContent-Type: message/rfc822\n\n") ;
  else cat(&hdr, (m->flags & M_UTF8) ? "\nContent-Type: message/global-headers\n\n" : "\nContent-Type: text/rfc822-headers\n\n") ;

  if (!utf8)
    /* us-ascii parts: a remote reply or an ENVID with 8-bit octets does
       not make it into them raw */
    for (size_t k = 0 ; k < hdr.len ; k++) if ((unsigned char)hdr.s[k] >= 128) hdr.s[k] = '?' ;
  if (!tern_qwriter_open(&q, qdir.s)) { strerr_warnwusys("create a report in the queue") ; goto err ; }
  if (allwrite(q.fd, hdr.s, hdr.len) != hdr.len) goto werr ;
  if (!copy_original(m, q.fd, full)) goto werr ;
  tmp.len = 0 ;
  cat(&tmp, "\n--") ; cat(&tmp, boundary) ; cat(&tmp, "--\n") ;
  if (allwrite(q.fd, tmp.s, tmp.len) != tmp.len) goto werr ;
  {
    char fmt[UINT64_FMT] ;
    catb(&rec, "A", 1) ; catb(&rec, fmt, uint64_fmt(fmt, (uint64_t)t)) ; catb(&rec, "", 1) ;
    catb(&rec, "U", 1) ; catb(&rec, fmt, uint64_fmt(fmt, (uint64_t)getuid())) ; catb(&rec, "", 1) ;
    catb(&rec, "F", 2) ;
    if (utf8 || (full && (m->flags & M_8BIT))) catb(&rec, "PBODY=8BITMIME", 15) ;
    if (utf8) catb(&rec, "PSMTPUTF8", 10) ;
    catb(&rec, "T", 1) ; cat(&rec, to) ; catb(&rec, "", 1) ;
    catb(&rec, "", 1) ;
  }
  if (!tern_qwriter_commit(&q, rec.s, rec.len)) { strerr_warnwusys("commit a report to the queue") ; goto err ; }
  if (kind == R_FAILED)
  {
    /* which failures this report covered: "B i" each */
    stralloc lines = STRALLOC_ZERO ;
    char fmt[UINT_FMT] ;
    for (unsigned int i = 0 ; i < m->nr ; i++)
    {
      rcpt *r = m->r + i ;
      if (r->state != R_FAILED || !(r->notify & want) || r->reported) continue ;
      r->reported = 1 ;
      catb(&lines, "B ", 2) ; catb(&lines, fmt, uint_fmt(fmt, i)) ; catb(&lines, "\n", 1) ;
    }
    info_add(m, lines.s, lines.len, 1) ;
    stralloc_free(&lines) ;
  }
  else
  {
    char line[2] = { tag, '\n' } ;
    info_add(m, line, 2, 1) ;
  }
  strerr_warni("report id=", m->id, kind == R_FAILED ? " type=failure" : kind == R_DEFERRED ? " type=delay" : " type=success",
    " to=<", to, "> new=", q.id) ;
  tern_queue_wake(qdir.s) ;
  stralloc_free(&hdr) ; stralloc_free(&rec) ; stralloc_free(&tmp) ; stralloc_free(&q.tmpname) ;
  return 1 ;
 werr:
  strerr_warnwusys("write a report into the queue") ;
  tern_qwriter_abort(&q) ;
 err:
  stralloc_free(&hdr) ; stralloc_free(&rec) ; stralloc_free(&tmp) ; stralloc_free(&q.tmpname) ;
  return 0 ;
}

/* ---- jobs ---- */

static job *job_new (void)
{
  for (unsigned int i = 0 ; i < njobs_max ; i++)
    if (!(jobs[i].flags & J_USED))
    {
      job *j = jobs + i ;
      j->flags = J_USED ;
      j->out.len = 0 ;
      j->args.len = 0 ;
      genalloc_setlen(char const *, &j->argv, 0) ;
      j->nri = 0 ;
      j->pid = 0 ;
      j->outfd = -1 ;
      j->wstat = 0 ;
      j->sudoerr = 0 ;
      j->sudostate = 0 ;
      j->started = time(0) ;
      j->sudo = (tern_sudo)TERN_SUDO_ZERO ;
      j->domain[0] = 0 ;
      return j ;
    }
  return 0 ;
}

static void arg_add (job *j, char const *s, size_t len)
{
  if (!stralloc_catb(&j->args, s, len) || !stralloc_0(&j->args)) dienomem() ;
}

/* Turns the NUL-separated args into argv; the first nskip are for direct mode only. */
static char const **argv_make (job *j)
{
  genalloc_setlen(char const *, &j->argv, 0) ;
  for (size_t i = 0 ; i < j->args.len ; i += strlen(j->args.s + i) + 1)
  {
    char const *p = j->args.s + i ;
    if (!genalloc_append(char const *, &j->argv, &p)) dienomem() ;
  }
  {
    char const *z = 0 ;
    if (!genalloc_append(char const *, &j->argv, &z)) dienomem() ;
  }
  return genalloc_s(char const *, &j->argv) ;
}

/* Starts the agent: argv[0] is the program for direct mode; through the
   socket only argv[1..] are sent. Takes the message fd. */
static int job_start (job *j, char const *sock, int msgfd)
{
  int p[2] ;
  char const **argv = argv_make(j) ;
  unsigned int argc = genalloc_len(char const *, &j->argv) - 1 ;
  if (pipe2(p, O_CLOEXEC) < 0) { fd_close(msgfd) ; return 0 ; }
  if (direct)
  {
    int fds[3] = { msgfd, p[1], 2 } ;
    j->pid = tern_spawn(argv[0], argv, (char const *const *)environ, fds, 3) ;
    fd_close(msgfd) ;
    fd_close(p[1]) ;
    if (!j->pid) { int e = errno ; fd_close(p[0]) ; errno = e ; return 0 ; }
  }
  else
  {
    int fds[3] = { msgfd, p[1], 2 } ;
    if (!tern_sudo_start(&j->sudo, sock, fds, argv + 1, argc - 1))
    {
      int e = errno ;
      fd_close(p[0]) ;
      errno = e ;
      return 0 ;
    }
    j->flags |= J_SUDO ;
  }
  j->outfd = p[0] ;
  if (ndelay_on(j->outfd) < 0) strerr_diefusys(111, "ndelay_on") ;
  return 1 ;
}

static int open_body (msg *m)
{
  stralloc sa = STRALLOC_ZERO ;
  int fd ;
  if (!stralloc_cats(&sa, qdir.s) || !stralloc_cats(&sa, "/mess/") || !stralloc_cats(&sa, m->id) || !stralloc_0(&sa)) dienomem() ;
  fd = open(sa.s, O_RDONLY | O_CLOEXEC) ;
  if (fd >= 0 && lseek(fd, m->bodyoff, SEEK_SET) < 0) { fd_close(fd) ; fd = -1 ; }
  if (fd < 0) strerr_warnwusys("open ", sa.s) ;
  stralloc_free(&sa) ;
  return fd ;
}

static void rcpt_defer (msg *m, unsigned int i, char *why)
{
  rcpt *r = m->r + i ;
  setwhy(r, why) ;
  r->state = R_DEFERRED ;
  r->fresh = 1 ;
  r->soon = 0 ;
  info_rcpt(m, 'Z', i, r->why) ;
  strerr_warni("deferred id=", m->id, " rcpt=<", M_S(m, r->addr), "> reason=", r->why) ;
}

static void launch_local (msg *m, unsigned int i)
{
  job *j = job_new() ;
  rcpt *r = m->r + i ;
  int fd ;
  if (!j) return ;
  j->ri = realloc(j->ri, sizeof(unsigned int)) ;
  if (!j->ri) dienomem() ;
  j->ri[0] = i ;
  j->nri = 1 ;
  j->m = m ;
  j->kind = J_LOCAL ;
  arg_add(j, deliverpath.s, deliverpath.len) ;
  arg_add(j, "-f", 2) ;
  arg_add(j, M_S(m, m->sender), strlen(M_S(m, m->sender))) ;
  arg_add(j, "--", 2) ;
  arg_add(j, M_S(m, r->addr), strlen(M_S(m, r->addr))) ;
  r->state = R_INFLIGHT ;
  m->ninflight++ ;
  nlocal++ ;
  fd = open_body(m) ;
  if (fd < 0 || !job_start(j, deliversock.s, fd))
  {
    char const *e = strerror(errno) ;
    j->flags = 0 ;
    nlocal-- ;
    m->ninflight-- ;
    rcpt_defer(m, i, dupwhy("4.3.0", "x-tern", e, strlen(e))) ;
    info_flush() ;
  }
}

static unsigned int domain_inflight (char const *d)
{
  unsigned int n = 0 ;
  for (unsigned int i = 0 ; i < njobs_max ; i++)
    if ((jobs[i].flags & J_USED) && jobs[i].kind == J_REMOTE && !strcasecmp(jobs[i].domain, d)) n++ ;
  return n ;
}

/* One smtp-send for the pending recipients of m in domain d (at most 100). */
static void launch_remote (msg *m, char const *d)
{
  job *j = job_new() ;
  int fd ;
  if (!j) return ;
  j->m = m ;
  j->kind = J_REMOTE ;
  /* msg_parse failed recipients whose domain cannot fit (over 255) */
  if (strlen(d) >= sizeof j->domain) { j->flags = 0 ; return ; }
  strcpy(j->domain, d) ;
  arg_add(j, smtpsendpath.s, smtpsendpath.len) ;
  if (smarthost.len)
  {
    for (size_t k = 0 ; k < smarthost.len ; k += strlen(smarthost.s + k) + 1)
    {
      arg_add(j, "-H", 2) ;
      arg_add(j, smarthost.s + k, strlen(smarthost.s + k)) ;
    }
    /* credentials for the smarthost, readable by smtp-send's user only */
    if (smarthostauth.len)
    {
      arg_add(j, "-a", 2) ;
      arg_add(j, smarthostauth.s, smarthostauth.len) ;
    }
  }
  arg_add(j, "-f", 2) ;
  arg_add(j, M_S(m, m->sender), strlen(M_S(m, m->sender))) ;
  {
    /* the MAIL parameters, as recorded */
    char const *s = m->env.s ;
    for (size_t i = 0 ; i < m->env.len && s[i] && s[i] != 'T' ; i += strlen(s + i) + 1)
      if (s[i] == 'P') { arg_add(j, "-o", 2) ; arg_add(j, s + i + 1, strlen(s + i + 1)) ; }
  }
  arg_add(j, "--", 2) ;
  j->nri = 0 ;
  j->ri = realloc(j->ri, 100 * sizeof(unsigned int)) ;
  if (!j->ri) dienomem() ;
  for (unsigned int i = 0 ; i < m->nr && j->nri < 100 ; i++)
  {
    rcpt *r = m->r + i ;
    char const *a = M_S(m, r->addr) ;
    if (r->local || r->state != R_PENDING || strcasecmp(addr_domain(a), d)) continue ;
    j->ri[j->nri++] = i ;
    r->state = R_INFLIGHT ;
    if (!stralloc_cats(&j->args, a)) dienomem() ;
    if (r->nparams)
    {
      char const *p = m->env.s + r->params ;
      for (unsigned int k = 0 ; k < r->nparams ; k++)
      {
        if (!stralloc_catb(&j->args, k ? " " : "\t", 1) || !stralloc_cats(&j->args, p + 1)) dienomem() ;
        p += strlen(p) + 1 ;
      }
    }
    if (!stralloc_0(&j->args)) dienomem() ;
  }
  if (!j->nri) { j->flags = 0 ; return ; }
  m->ninflight++ ;
  nremote++ ;
  fd = open_body(m) ;
  if (fd < 0 || !job_start(j, smtpsendsock.s, fd))
  {
    char const *e = strerror(errno) ;
    j->flags = 0 ;
    nremote-- ;
    m->ninflight-- ;
    for (unsigned int k = 0 ; k < j->nri ; k++)
      rcpt_defer(m, j->ri[k], dupwhy("4.3.0", "x-tern", e, strlen(e))) ;
    info_flush() ;
  }
}

/* Whether smtp-send can be reached; checked again at each rescan, since
   its service may start after ours. */
static void check_remote (void)
{
  remote_ok = direct ? access(smtpsendpath.s, X_OK) == 0 : access(smtpsendsock.s, F_OK) == 0 ;
}

static void dispatch (void)
{
  msg *m ;
  while (nlocal < maxlocal && (m = ready_front(&readyl, &readyl_head)))
  {
    unsigned int i ;
    for (i = 0 ; i < m->nr ; i++) if (m->r[i].local && m->r[i].state == R_PENDING) break ;
    if (i == m->nr)
    {
      ready_pop(&readyl, &readyl_head) ;
      m->flags &= ~M_INRL ;
      msg_schedule(m) ;
      continue ;
    }
    launch_local(m, i) ;
  }
  if (!remote_ok) return ;
  {
    /* Look at each message once at most: one domain at its limit must not
       hold up the others behind it. */
    size_t looked = 0, total = genalloc_len(msg *, &readyr) - readyr_head ;
    while (nremote < maxremote && looked++ < total && (m = ready_front(&readyr, &readyr_head)))
    {
      unsigned int i ;
      int launched = 0, blocked = 0 ;
      for (i = 0 ; i < m->nr && nremote < maxremote ; i++)
      {
        char const *d ;
        if (m->r[i].local || m->r[i].state != R_PENDING) continue ;
        d = addr_domain(M_S(m, m->r[i].addr)) ;
        if (!smarthost.len && domain_inflight(d) >= perdomain) { blocked = 1 ; continue ; }
        launch_remote(m, d) ;
        launched = 1 ;
      }
      ready_pop(&readyr, &readyr_head) ;
      m->flags &= ~M_INRR ;
      msg_schedule(m) ;
      (void)launched ; (void)blocked ;
    }
  }
}

/* ---- job completion ---- */

static void local_done (job *j)
{
  msg *m = j->m ;
  unsigned int i = j->ri[0] ;
  rcpt *r = m->r + i ;
  int code = -1 ;
  char const *text ;
  size_t textlen ;
  char status[16] ;
  size_t nl = byte_chr(j->out.s, j->out.len, '\n') ;
  if (j->sudoerr) code = -2 ;
  else if (WIFEXITED(j->wstat)) code = WEXITSTATUS(j->wstat) ;
  /* deliver's first line: "X.Y.Z reason" */
  text = j->out.s ; textlen = nl ;
  strcpy(status, code == 100 ? "5.0.0" : "4.0.0") ;
  if (textlen > 6 && (text[0] == '4' || text[0] == '5') && text[1] == '.')
  {
    size_t sp = byte_chr(text, textlen, ' ') ;
    if (sp < 12 && sp < textlen)
    {
      memcpy(status, text, sp) ;
      status[sp] = 0 ;
      text += sp + 1 ; textlen -= sp + 1 ;
    }
  }
  if (code == 0)
  {
    r->state = R_DONE ;
    strerr_warni("delivered id=", m->id, " rcpt=<", M_S(m, r->addr), ">") ;
    /* The message's removal records a sole recipient's outcome; others
       need a line so that they are not delivered again after a crash. */
    if (m->nr > 1 || (r->notify & N_SUCCESS)) info_rcpt(m, 'D', i, 0) ;
    return ;
  }
  if (code == 100)
  {
    if (!textlen) { text = "permanent failure" ; textlen = strlen(text) ; }
    setwhy(r, dupwhy(status[0] == '5' ? status : "5.0.0", "x-tern", text, textlen)) ;
    r->state = R_FAILED ;
    info_rcpt(m, 'F', i, r->why) ;
    strerr_warni("failed id=", m->id, " rcpt=<", M_S(m, r->addr), "> reason=", r->why) ;
    return ;
  }
  if (code == -2)
  {
    char const *e = strerror(j->sudoerr) ;
    rcpt_defer(m, i, dupwhy("4.3.0", "x-tern", e, strlen(e))) ;
    if (j->sudostate == 0) r->soon = 1 ;
    return ;
  }
  if (!textlen)
  {
    if (code < 0) { text = "delivery agent crashed" ; textlen = strlen(text) ; }
    else { text = "temporary failure" ; textlen = strlen(text) ; }
  }
  rcpt_defer(m, i, dupwhy(status[0] == '4' ? status : "4.0.0", "x-tern", text, textlen)) ;
}

/* smtp-send: one "ok|defer|fail RCPT CODE TEXT" line per recipient, in order. */
static void remote_done (job *j)
{
  msg *m = j->m ;
  size_t pos = 0 ;
  int code = -1 ;
  if (!j->sudoerr && WIFEXITED(j->wstat)) code = WEXITSTATUS(j->wstat) ;
  /* Complete lines become C strings; a last line without its LF is cut
     short (smtp-send died) and does not count. */
  {
    size_t last = j->out.len ;
    while (last && j->out.s[last - 1] != '\n') last-- ;
    j->out.len = last ;
    for (size_t x = 0 ; x < last ; x++) if (j->out.s[x] == '\n') j->out.s[x] = 0 ;
  }
  for (unsigned int k = 0 ; k < j->nri ; k++)
  {
    unsigned int i = j->ri[k] ;
    rcpt *r = m->r + i ;
    char const *line = j->out.s + pos ;
    size_t len = pos < j->out.len ? strlen(line) : 0 ;
    int verdict = -1 ; /* 0 ok, 1 defer, 2 fail */
    char const *rest = 0 ;
    size_t restlen = 0 ;
    if (pos < j->out.len)
    {
      size_t w = byte_chr(line, len, ' ') ;
      if (w == 2 && !memcmp(line, "ok", 2)) verdict = 0 ;
      else if (w == 5 && !memcmp(line, "defer", 5)) verdict = 1 ;
      else if (w == 4 && !memcmp(line, "fail", 4)) verdict = 2 ;
      if (verdict >= 0 && w < len)
      {
        /* skip the recipient (it may hold spaces): the rest is "CODE TEXT" */
        char const *addr = M_S(m, r->addr) ;
        size_t al = strlen(addr), a ;
        if (w + 1 + al <= len && !memcmp(line + w + 1, addr, al)) a = w + 1 + al ;
        else a = w + 1 + byte_chr(line + w + 1, len - w - 1, ' ') ;
        if (a < len) { rest = line + a + 1 ; restlen = len - a - 1 ; }
      }
      pos += len + 1 ;
    }
    if (verdict < 0 && code == 100 && !j->out.len)
    {
      /* smtp-send refused its arguments: retrying cannot help */
      setwhy(r, strdup("5.3.0 x-tern; smtp-send refused the delivery (exit 100, see the log)")) ;
      if (!r->why) dienomem() ;
      r->state = R_FAILED ;
      info_rcpt(m, 'F', i, r->why) ;
      strerr_warni("failed id=", m->id, " rcpt=<", M_S(m, r->addr), "> reason=", r->why) ;
      continue ;
    }
    if (verdict < 0)
    {
      char const *e = j->sudoerr ? strerror(j->sudoerr) : code < 0 ? "smtp-send crashed" : "no result from smtp-send" ;
      rcpt_defer(m, i, dupwhy("4.3.0", "x-tern", e, strlen(e))) ;
      if (j->sudoerr && j->sudostate == 0) r->soon = 1 ;
      continue ;
    }
    if (!verdict)
    {
      r->state = R_DONE ;
      strerr_warni("delivered id=", m->id, " rcpt=<", M_S(m, r->addr), "> remote=", rest ? rest : "") ;
      if (m->nr > 1) info_rcpt(m, 'D', i, 0) ;
      continue ;
    }
    {
      /* "CODE TEXT": a 3-digit CODE is the server's reply (the status is
         the enhanced code at the start of TEXT, else its class); an
         enhanced code X.Y.Z is smtp-send's own verdict (DNS, network). */
      char status[16] ;
      size_t sp ;
      char const *text ;
      size_t tl ;
      int smtp ;
      if (!rest) { rest = verdict == 2 ? "5.0.0 no reason given" : "4.0.0 no reason given" ; restlen = strlen(rest) ; }
      sp = byte_chr(rest, restlen, ' ') ;
      text = rest + (sp < restlen ? sp + 1 : restlen) ;
      tl = rest + restlen - text ;
      smtp = sp == 3 && rest[0] >= '2' && rest[0] <= '5' && rest[1] >= '0' && rest[1] <= '9' ;
      strcpy(status, verdict == 2 ? "5.0.0" : "4.0.0") ;
      if (smtp)
      {
        size_t e = byte_chr(text, tl, ' ') ;
        if (e >= 5 && e < 12 && text[0] == status[0] && text[1] == '.') { memcpy(status, text, e) ; status[e] = 0 ; }
      }
      else if (sp >= 5 && sp < 12 && rest[0] == status[0] && rest[1] == '.') { memcpy(status, rest, sp) ; status[sp] = 0 ; }
      if (verdict == 2)
      {
        setwhy(r, smtp ? dupwhy(status, "smtp", rest, restlen) : dupwhy(status, "x-tern", text, tl)) ;
        r->state = R_FAILED ;
        info_rcpt(m, 'F', i, r->why) ;
        strerr_warni("failed id=", m->id, " rcpt=<", M_S(m, r->addr), "> reason=", r->why) ;
      }
      else rcpt_defer(m, i, smtp ? dupwhy(status, "smtp", rest, restlen) : dupwhy(status, "x-tern", text, tl)) ;
    }
  }
}

static void job_end (job *j)
{
  msg *m = j->m ;
  if (j->kind == J_LOCAL) { local_done(j) ; nlocal-- ; }
  else { remote_done(j) ; nremote-- ; }
  if (j->outfd >= 0) fd_close(j->outfd) ;
  j->outfd = -1 ;
  j->flags = 0 ;
  m->ninflight-- ;
  info_flush() ;
  msg_schedule(m) ;
}

static void job_check (job *j)
{
  if ((j->flags & J_USED) && (j->flags & J_EOF) && (j->flags & J_EXITED)) job_end(j) ;
}

static void job_read (job *j)
{
  char buf[4096] ;
  for (;;)
  {
    ssize_t r = read(j->outfd, buf, sizeof buf) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      if (errno == EAGAIN) return ;
      r = 0 ;
    }
    if (!r) { j->flags |= J_EOF ; return ; }
    if (j->out.len < OUTMAX && !stralloc_catb(&j->out, buf, r < (ssize_t)(OUTMAX - j->out.len) ? r : OUTMAX - j->out.len)) dienomem() ;
  }
}

static void reap (void)
{
  for (;;)
  {
    int wstat ;
    pid_t pid = waitpid(-1, &wstat, WNOHANG) ;
    if (pid <= 0) break ;
    for (unsigned int i = 0 ; i < njobs_max ; i++)
      if ((jobs[i].flags & J_USED) && !(jobs[i].flags & J_SUDO) && jobs[i].pid == pid)
      {
        jobs[i].wstat = wstat ;
        jobs[i].flags |= J_EXITED ;
        break ;
      }
  }
}

/* ---- configuration ---- */

static void read_config (void)
{
  domains.len = 0 ;
  if (!tern_cfg_lines(&domains, "domains") && errno != ENOENT) strerr_diefusys(111, "read etc/domains") ;
  tern_lower(domains.s, domains.len) ;
  if (!tern_cfg_me(&me)) strerr_diefusys(111, "read etc/me") ;
  smarthost.len = 0 ;
  if (!tern_cfg_lines(&smarthost, "smarthost") && errno != ENOENT) strerr_diefusys(111, "read etc/smarthost") ;
  if (!tern_path(&smarthostauth, root, "etc/smarthost-auth")) dienomem() ;
  if (access(smarthostauth.s, F_OK) < 0) smarthostauth.len = 0 ;
}

static void parse_retry (void)
{
  char const *s = getenv("QUEUE_RETRY") ;
  if (!s || !*s) s = "900,1800,3600" ;
  nretry = 0 ;
  while (*s)
  {
    size_t n = uint_scan(s, retry + nretry) ;
    if (!n || !retry[nretry] || nretry >= 15) strerr_dief(100, "bad QUEUE_RETRY: want seconds separated by commas") ;
    nretry++ ;
    s += n ;
    if (*s == ',') s++ ;
    else if (*s) strerr_dief(100, "bad QUEUE_RETRY: want seconds separated by commas") ;
  }
  if (!nretry) strerr_dief(100, "bad QUEUE_RETRY") ;
}

int main (int argc, char const *const *argv)
{
  iopause_fd *x ;
  time_t next_rescan, next_clean ;
  tain stopdeadline ;
  PROG = "queue-run" ;
  if (argc > 1) strerr_dieusage(100, USAGE) ;
  if (!tern_env_uint("QUEUE_LOCAL", &maxlocal, 10) || !maxlocal
   || !tern_env_uint("QUEUE_REMOTE", &maxremote, 20) || !maxremote
   || !tern_env_uint("QUEUE_PERDOMAIN", &perdomain, 10) || !perdomain
   || !tern_env_uint("QUEUE_RESCAN", &rescan, 60) || !rescan
   || !tern_env_uint("QUEUE_WARN", &warn_after, 14400)
   || !tern_env_uint("QUEUE_LIFETIME", &lifetime, 432000) || !lifetime
   || !tern_env_uint("QUEUE_JOBTIMEOUT", &jobtimeout, 7200) || !jobtimeout)
    strerr_dief(100, "bad QUEUE_LOCAL, QUEUE_REMOTE, QUEUE_PERDOMAIN, QUEUE_RESCAN, QUEUE_WARN, QUEUE_LIFETIME or QUEUE_JOBTIMEOUT") ;
  parse_retry() ;
  direct = tern_direct() ;
  root = tern_root() ;
  if (!tern_path(&qdir, root, "queue")
   || !tern_path(&deliverpath, tern_libexec(), "deliver")
   || !tern_path(&smtpsendpath, tern_libexec(), "smtp-send")
   || !tern_path(&deliversock, root, "sock/deliver")
   || !tern_path(&smtpsendsock, root, "sock/smtp-send")) dienomem() ;
  read_config() ;
  check_remote() ;
  if (!remote_ok) strerr_warnw("no smtp-send yet: remote recipients stay queued") ;

  njobs_max = maxlocal + maxremote ;
  jobs = calloc(njobs_max, sizeof(job)) ;
  x = calloc(2 + 2 * njobs_max, sizeof(iopause_fd)) ;
  if (!jobs || !x) dienomem() ;

  /* The wake-up channel first, then the directory: a message stored in
     between is seen by the scan or wakes us. Our own writer keeps the FIFO
     from reporting EOF forever once queue-store closes it. */
  {
    stralloc sa = STRALLOC_ZERO ;
    if (!tern_path(&sa, qdir.s, "trigger")) dienomem() ;
    fifo_r = open(sa.s, O_RDONLY | O_NONBLOCK | O_CLOEXEC) ;
    if (fifo_r < 0) strerr_diefusys(111, "open ", sa.s) ;
    fifo_w = open(sa.s, O_WRONLY | O_NONBLOCK | O_CLOEXEC) ;
    if (fifo_w < 0) strerr_diefusys(111, "open ", sa.s, " for writing") ;
    stralloc_free(&sa) ;
  }
  sigfd = selfpipe_init() ;
  if (sigfd < 0) strerr_diefusys(111, "selfpipe_init") ;
  {
    sigset_t set ;
    sigemptyset(&set) ;
    sigaddset(&set, SIGCHLD) ;
    sigaddset(&set, SIGTERM) ;
    sigaddset(&set, SIGINT) ;
    sigaddset(&set, SIGHUP) ;
    sigaddset(&set, SIGALRM) ;
    if (selfpipe_trapset(&set) < 0) strerr_diefusys(111, "trap signals") ;
  }
  sig_ignore(SIGPIPE) ;
  tain_now_set_wallclock_g() ;
  tain_now_g() ;

  scan_dir("mess") ;
  scan_dir("incoming") ;
  clean_dirs() ;
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, nmsgs)] = 0 ;
    strerr_warni("started messages=", fmt) ;
  }
  next_rescan = now() + rescan ;
  next_clean = now() + 3600 ;

  for (;;)
  {
    unsigned int n = 0 ;
    tain deadline ;
    time_t t, wake ;
    int r ;
    if (!stopping) dispatch() ;
    if (stopping && !nlocal && !nremote) break ;
    x[n].fd = sigfd ; x[n++].events = IOPAUSE_READ ;
    x[n].fd = fifo_r ; x[n++].events = IOPAUSE_READ ;
    for (unsigned int i = 0 ; i < njobs_max ; i++)
    {
      job *j = jobs + i ;
      if (!(j->flags & J_USED)) continue ;
      if (!(j->flags & J_EOF) && j->outfd >= 0) { x[n].fd = j->outfd ; x[n++].events = IOPAUSE_READ ; }
      if ((j->flags & J_SUDO) && !(j->flags & J_EXITED) && j->sudo.sock >= 0) { x[n].fd = j->sudo.sock ; x[n++].events = IOPAUSE_READ ; }
    }
    tain_now_g() ;
    t = now() ;
    wake = next_rescan ;
    if (genalloc_len(msg *, &heap) && genalloc_s(msg *, &heap)[0]->due < wake) wake = genalloc_s(msg *, &heap)[0]->due ;
    /* while stopping, neither rescans nor retries happen: do not spin on them */
    if (stopping) wake = t + 10 ;
    for (unsigned int i = 0 ; i < njobs_max ; i++)
      if ((jobs[i].flags & J_USED) && !(jobs[i].flags & J_EXITED) && jobs[i].started + (time_t)jobtimeout < wake)
        wake = jobs[i].started + jobtimeout ;
    if (wake < t) wake = t ;
    tain_addsec_g(&deadline, (int)(wake - t)) ;
    if (stopping && tain_less(&stopdeadline, &deadline)) deadline = stopdeadline ;
    r = iopause_g(x, n, &deadline) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      strerr_diefusys(111, "iopause") ;
    }
    if (stopping && !tain_less(&STAMP, &stopdeadline))
    {
      strerr_warnw("stopping with deliveries in flight: they will be retried") ;
      break ;
    }
    for (unsigned int k = 0 ; k < n ; k++)
    {
      if (!(x[k].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))) continue ;
      if (x[k].fd == sigfd)
      {
        for (;;)
        {
          int sig = selfpipe_read() ;
          if (sig <= 0) break ;
          if (sig == SIGCHLD) reap() ;
          else if (sig == SIGHUP) { read_config() ; strerr_warni("reloaded etc/") ; }
          else if (sig == SIGALRM)
          {
            /* as qmail-send: retry every deferred message now */
            msg **h = genalloc_s(msg *, &heap) ;
            for (unsigned int i = 0 ; i < genalloc_len(msg *, &heap) ; i++) h[i]->retry_at = h[i]->due = 0 ;
            next_rescan = 0 ;
          }
          else if (!stopping)
          {
            stopping = 1 ;
            tain_addsec_g(&stopdeadline, 10) ;
            strerr_warni("stopping") ;
          }
        }
      }
      else if (x[k].fd == fifo_r)
      {
        char buf[256] ;
        while (read(fifo_r, buf, sizeof buf) > 0) ;
        next_rescan = 0 ;
      }
      else
      {
        for (unsigned int i = 0 ; i < njobs_max ; i++)
        {
          job *j = jobs + i ;
          if (!(j->flags & J_USED)) continue ;
          if (x[k].fd == j->outfd && !(j->flags & J_EOF)) job_read(j) ;
          else if ((j->flags & J_SUDO) && x[k].fd == j->sudo.sock)
          {
            int rr = tern_sudo_step(&j->sudo, &j->wstat) ;
            if (rr > 0) j->flags |= J_EXITED ;
            else if (rr < 0)
            {
              j->sudoerr = errno ? errno : EPROTO ;
              j->flags |= J_EXITED ;
            }
            j->sudostate = j->sudo.state ;
          }
        }
      }
    }
    t = now() ;
    for (unsigned int i = 0 ; i < njobs_max ; i++)
    {
      /* a delivery agent that hangs past QUEUE_JOBTIMEOUT is stopped: its
         recipients are deferred */
      job *j = jobs + i ;
      if (!(j->flags & J_USED) || (j->flags & J_EXITED) || t < j->started + (time_t)jobtimeout) continue ;
      strerr_warnw("delivery agent timed out, stopping it id=", j->m->id) ;
      if (j->flags & J_SUDO)
      {
        /* closing the socket makes s6-sudod send its child SIGTERM */
        tern_sudo_abort(&j->sudo) ;
        j->sudoerr = ETIMEDOUT ;
        j->sudostate = 2 ;
        j->flags |= J_EXITED ;
      }
      else if (j->pid) kill(j->pid, SIGKILL) ;
      if (j->outfd >= 0) { fd_close(j->outfd) ; j->outfd = -1 ; }
      j->flags |= J_EOF ;
    }
    for (unsigned int i = 0 ; i < njobs_max ; i++) job_check(jobs + i) ;
    if (messdirty) sync_dir("mess") ;
    if (!stopping && t >= next_rescan)
    {
      if (!remote_ok) check_remote() ;
      scan_dir("incoming") ;
      next_rescan = t + rescan ;
    }
    if (t >= next_clean) { clean_dirs() ; next_clean = t + 3600 ; }
    while (!stopping && genalloc_len(msg *, &heap) && genalloc_s(msg *, &heap)[0]->due <= t)
      msg_due(heap_pop()) ;
  }
  strerr_warni("stopped") ;
  return 0 ;
}
