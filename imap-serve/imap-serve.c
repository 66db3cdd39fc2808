/* imap-serve: the IMAP authenticated and selected states (RFC 3501 6.3 to
   6.4, with the extensions capabilities() lists) on fds 0 and 1, as the
   mailbox owner, at the end of a checkpassword chain (imap-login pwcheck
   imap-serve, or any checkpassword program).

   At start it writes one octet on $LOGINFD to take the session over from
   the login monitor, then the tagged OK of the login command
   ($IMAPLOGINTAG) with the capabilities (RFC 9051 7.1), or, without
   the monitor, a PREAUTH greeting. This file reads commands (every line
   and literal with a deadline and a cap; APPEND's messages go straight
   into a file of the Maildir's tmp/), dispatches them through the table
   at its end, and owns the output buffer: replies are written when it is
   full or before we wait for input. The commands are in cmd-*.c, the
   selected folder's view in view.c. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <malloc.h>

#include <skalibs/types.h>
#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sig.h>
#include <skalibs/tai.h>
#include <skalibs/iopause.h>
#include <skalibs/djbunix.h>
#include <skalibs/env.h>

#include <unistr.h>
#include "imap-serve.h"
/* zlib's free_func is skalibs' too: zlib's under another name */
#define free_func zlib_free_func
#include <zlib.h>
#undef free_func

#define USAGE "imap-serve [ maildir ]"
#define dieusage() strerr_dieusage(100, USAGE)

sess S = { .loginfd = -1, .watchfd = -1, .st = TERN_STORE_ZERO } ;

/* ---- output ---- */

#define OBUFSIZE (256 * 1024)
static char obuf[OBUFSIZE] ;
static size_t olen = 0 ;
static size_t ohigh = 0 ;   /* the most of obuf used since the session last went idle */
static int trimmed = 0 ;

void die_io (char const *reason)
{
  strerr_warni("end user=", S.user, " ip=", S.remoteip, " reason=", reason) ;
  _exit(0) ;
}

/* ---- COMPRESS=DEFLATE (RFC 4978): raw deflate both ways once the
   command's OK is out; each flush of ours ends with a sync flush, so that
   the client can read all we wrote ---- */

static char ibuf[65536] ;                 /* input (after inflate), read by the functions under "input" below */
static size_t ipos = 0, ilen = 0 ;
static int zon = 0 ;
static z_stream zo, zi ;
static char zbuf[16384] ;                 /* compressed output, written as it fills */
static char zin[16384] ;                  /* compressed input */
static size_t zinpos = 0, zinlen = 0 ;
static int zmore = 0 ;                    /* inflate filled its output: it may have more */

static void rawwrite (char const *s, size_t n)
{
  size_t w = 0 ;
  tain d ;
  tain_now_g() ;
  tain_addsec_g(&d, S.timeout) ;
  while (w < n)
  {
    ssize_t r = write(1, s + w, n - w) ;
    if (r > 0) { w += r ; continue ; }
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    {
      iopause_fd x = { .fd = 1, .events = IOPAUSE_WRITE, .revents = 0 } ;
      int k = iopause_g(&x, 1, &d) ;
      if (k < 0) strerr_diefusys(111, "iopause") ;
      if (!k) die_io("write-timeout") ;
      continue ;
    }
    die_io("write-failed") ;
  }
}

void o_flush (void)
{
  if (olen > ohigh) ohigh = olen ;
  if (!zon) rawwrite(obuf, olen) ;
  else if (olen)
  {
    zo.next_in = (unsigned char *)obuf ;
    zo.avail_in = olen ;
    do
    {
      zo.next_out = (unsigned char *)zbuf ;
      zo.avail_out = sizeof(zbuf) ;
      if (deflate(&zo, Z_SYNC_FLUSH) == Z_STREAM_ERROR) die_io("deflate-failed") ;
      rawwrite(zbuf, sizeof(zbuf) - zo.avail_out) ;
    } while (!zo.avail_out) ;
  }
  olen = 0 ;
}

/* read(2) of fd 0, or of what the client's deflate stream says */
static ssize_t in_read (char *buf, size_t n)
{
  if (!zon) return read(0, buf, n) ;
  for (;;)
  {
    if (zinpos < zinlen || zmore)
    {
      int r ;
      zi.next_in = (unsigned char *)zin + zinpos ;
      zi.avail_in = zinlen - zinpos ;
      zi.next_out = (unsigned char *)buf ;
      zi.avail_out = n ;
      r = inflate(&zi, Z_SYNC_FLUSH) ;
      if (r == Z_STREAM_END) return 0 ;
      if (r != Z_OK && r != Z_BUF_ERROR) die_io("inflate-failed") ;
      zinpos = zinlen - zi.avail_in ;
      zmore = !zi.avail_out ;
      if (zi.avail_out < n) return n - zi.avail_out ;
      if (zinpos < zinlen) continue ;
    }
    {
      ssize_t r = read(0, zin, sizeof(zin)) ;
      if (r <= 0) return r ;
      zinpos = 0 ;
      zinlen = r ;
    }
  }
}

void cmd_compress (tern_imap_p *p)
{
  char const *a ;
  size_t n ;
  if (!tern_imap_p_sp(p) || !tern_imap_p_atom(p, &a, &n) || !tern_imap_p_eol(p)) { o_bad(p, 0) ; return ; }
  if (n != 7 || strncasecmp(a, "DEFLATE", 7)) { o_bad(0, "Unknown compression mechanism") ; return ; }
  if (zon) { o_tagged("NO [COMPRESSIONACTIVE] DEFLATE is active already") ; return ; }
  /* a smaller window and hash than zlib's defaults: 64 KiB of state, not
     256 (any inflater reads it); the client's stream may use 32 KiB */
  if (deflateInit2(&zo, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -13, 6, Z_DEFAULT_STRATEGY) != Z_OK
   || inflateInit2(&zi, -15) != Z_OK)
  {
    o_tagged("NO [SERVERBUG] Cannot start compression") ;
    return ;
  }
  o_tagged("OK DEFLATE active") ;
  o_flush() ;
  /* what came after the command is compressed already */
  if (ilen - ipos > sizeof(zin)) die_io("compress-pipelined") ;
  memcpy(zin, ibuf + ipos, ilen - ipos) ;
  zinpos = 0 ;
  zinlen = ilen - ipos ;
  ilen = ipos ;
  zon = 1 ;
}

void o_put (char const *s, size_t n)
{
  while (n)
  {
    size_t k ;
    if (olen == OBUFSIZE) o_flush() ;
    k = OBUFSIZE - olen < n ? OBUFSIZE - olen : n ;
    memcpy(obuf + olen, s, k) ;
    olen += k ; s += k ; n -= k ;
  }
}

void o_str (char const *s) { o_put(s, strlen(s)) ; }

void o_num (uint64_t n)
{
  char fmt[UINT64_FMT] ;
  o_put(fmt, uint64_fmt(fmt, n)) ;
}

void o_string (char const *s, size_t n)
{
  size_t i = 0 ;
  int high = 0 ;
  for (; i < n ; i++)
  {
    unsigned char c = s[i] ;
    if (!c || c == '\r' || c == '\n') break ;
    if (c >= 0x80) { if (!S.utf8) break ; high = 1 ; }
  }
  /* RFC 6855 3, RFC 9051 4.3: UTF-8 in a quoted string once enabled */
  if (high && i == n && u8_check((uint8_t const *)s, n)) i = 0 ;
  if (i == n && n < 1024)
  {
    o_put("\"", 1) ;
    for (i = 0 ; i < n ; i++)
    {
      if (s[i] == '"' || s[i] == '\\') o_put("\\", 1) ;
      o_put(s + i, 1) ;
    }
    o_put("\"", 1) ;
    return ;
  }
  o_put("{", 1) ;
  o_num(n) ;
  o_put("}\r\n", 3) ;
  o_put(s, n) ;
}

void o_flags (uint32_t flags, uint32_t kw, int recent)
{
  static struct { uint32_t bit ; char const *name ; } const f[] =
  {
    { TERN_F_ANSWERED, "\\Answered" }, { TERN_F_FLAGGED, "\\Flagged" }, { TERN_F_DELETED, "\\Deleted" },
    { TERN_F_SEEN, "\\Seen" }, { TERN_F_DRAFT, "\\Draft" }
  } ;
  int sp = 0 ;
  o_put("(", 1) ;
  for (unsigned int i = 0 ; i < 5 ; i++)
    if (flags & f[i].bit) { if (sp) o_put(" ", 1) ; o_str(f[i].name) ; sp = 1 ; }
  if (recent && !S.rev2) { if (sp) o_put(" ", 1) ; o_str("\\Recent") ; sp = 1 ; }
  for (unsigned int i = 0 ; i < TERN_KW_MAX ; i++)
    if (kw & (1u << i))
    {
      char const *k = tern_store_keyword_name(&S.st, i) ;
      if (!k) continue ;
      if (sp) o_put(" ", 1) ;
      o_str(k) ;
      sp = 1 ;
    }
  o_put(")", 1) ;
}

void o_tagged (char const *s)
{
  o_put(S.tag, S.taglen) ;
  o_put(" ", 1) ;
  o_str(s) ;
  o_put("\r\n", 2) ;
}

void o_bad (tern_imap_p const *p, char const *what)
{
  o_put(S.tag, S.taglen) ;
  o_str(" BAD ") ;
  if (what) { o_str(what) ; o_str(": ") ; }
  o_str(p && p->err ? p->err : "Syntax error") ;
  o_put("\r\n", 2) ;
  if (S.maxbad && ++S.bad >= S.maxbad)
  {
    o_str("* BYE Too many errors, closing connection\r\n") ;
    o_flush() ;
    die_io("errors") ;
  }
}

void o_nosys (char const *what)
{
  int e = errno ;
  strerr_warnwu2sys(what, ": ") ;
  o_put(S.tag, S.taglen) ;
  o_str(e == ENOSPC || e == EDQUOT ? " NO [OVERQUOTA] " : e == EWOULDBLOCK ? " NO [INUSE] " : " NO [SERVERBUG] ") ;
  o_str(what) ;
  o_str(" failed: ") ;
  o_str(strerror(e)) ;
  o_put("\r\n", 2) ;
}

void o_uidset (uint32_t const *u, size_t n)
{
  for (size_t i = 0 ; i < n ;)
  {
    size_t j = i ;
    while (j + 1 < n && u[j+1] == u[j] + 1) j++ ;
    if (i) o_put(",", 1) ;
    o_num(u[i]) ;
    if (j > i) { o_put(":", 1) ; o_num(u[j]) ; }
    i = j + 1 ;
  }
}

void o_fetch_open (uint32_t msn, uint32_t uid)
{
  o_str("* ") ;
  o_num(S.uidonly ? uid : msn) ;
  o_str(S.uidonly ? " UIDFETCH (" : " FETCH (") ;
}

/* ---- input: buffered, every line with a deadline ---- */

#define IDLESOON 1   /* seconds without a command before the index is unmapped */

/* Going idle (waiting for the next command, maybe for 30 minutes): the
   memory a big command used goes back to the kernel, so that an idle
   connection costs what it did before (the output buffer's pages past
   the first, the heap's free memory). */
static void trim_idle (void)
{
  if (ohigh > 8192)
  {
    /* the whole pages of obuf past its first 4 KiB */
    uintptr_t a = ((uintptr_t)obuf + 8191) & ~(uintptr_t)4095, e = ((uintptr_t)obuf + OBUFSIZE) & ~(uintptr_t)4095 ;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED) ;
  }
  if (!trimmed || ohigh > 8192 || mallinfo2().fordblks > 32768) tern_mem_trim() ;
  ohigh = 0 ;
  trimmed = 1 ;
}

/* More input (flushing what we owe first): 1, or the session ends. */
static void net_fill (tain const *deadline, int idle)
{
  if (ipos == ilen) ipos = ilen = 0 ;
  else if (ipos)
  {
    memmove(ibuf, ibuf + ipos, ilen - ipos) ;
    ilen -= ipos ;
    ipos = 0 ;
  }
  o_flush() ;
  /* idle for IDLESOON seconds: the memory goes back (trim_idle), and
     with a folder selected the index's pages are unmapped too (a client
     between commands reads them again). Not at once: a busy client's
     next command comes within milliseconds, and the trim costs it an
     open(2) of /proc/self/maps and a few madvise(2) each time. */
  int soon = idle && ipos == ilen ;
  tain soontime ;
  for (;;)
  {
    iopause_fd x[3] = { { .fd = 0, .events = IOPAUSE_READ, .revents = 0 } } ;
    unsigned int nx = 1 ;
    tain d = *deadline ;
    ssize_t r = in_read(ibuf + ilen, sizeof(ibuf) - ilen) ;
    if (r > 0) { ilen += r ; return ; }
    if (!r) die_io("disconnect") ;
    if (errno == EINTR) continue ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) die_io("read-failed") ;
    if (idle && ipos == ilen && !imap_input_pending() && S.ftsidle)
    {
      /* nothing to read between commands: the index a search left for
         later, a segment at a time (fts.c) */
      iopause_fd y = { .fd = 0, .events = IOPAUSE_READ, .revents = 0 } ;
      tain_now_g() ;
      if (!iopause_g(&y, 1, &STAMP)) { fts_idle() ; soon = 1 ; continue ; }
    }
    if (soon)
    {
      tain_addsec_g(&soontime, IDLESOON) ;
      if (tain_less(&soontime, deadline)) d = soontime ; else soon = 0 ;
    }
    /* between commands (nothing of the next one read): NOTIFY's events
       too (RFC 5465 3: at any time no command is in progress) */
    int nw = idle && ipos == ilen && !imap_input_pending() && notify_on() ;
    if (nw) nx += notify_fds(x + 1, &d) ;
    r = iopause_g(x, nx, &d) ;
    if (r < 0) strerr_diefusys(111, "iopause") ;
    if (nw)
    {
      notify_run(x + 1, nx - 1, 0) ;
      o_flush() ;
      if (!r && tain_less(&STAMP, soon ? &soontime : deadline)) continue ;
    }
    if (!r && soon)
    {
      if (S.selected)
      {
        /* idle: the flag changes' commits synced (tern_store_settle) */
        if (!tern_store_settle(&S.st)) strerr_warnwu2sys("sync the index of ", S.st.path.s) ;
        tern_store_unmap_pages(&S.st) ;
        trimmed = 0 ;
      }
      trim_idle() ;
      soon = 0 ;
      continue ;
    }
    if (!r)
    {
      /* RFC 9051 5.4: the autologout timer */
      o_str(idle ? "* BYE Autologout: idle for too long\r\n" : "* BYE Timed out reading a command\r\n") ;
      o_flush() ;
      die_io("timeout") ;
    }
  }
}

int imap_input_pending (void) { return ipos < ilen || zinpos < zinlen || zmore ; }

/* IDLE: waits for input (1), for fd to be readable (2), or for the
   deadline (0); what we owe the client is written first. */
int imap_wait (int fd, tain const *deadline)
{
  int r ;
  if (ipos < ilen || zmore || zinpos < zinlen) return 1 ;
  o_flush() ;
  trim_idle() ;
  if (S.selected)
  {
    if (!tern_store_settle(&S.st)) strerr_warnwu2sys("sync the index of ", S.st.path.s) ;
    tern_store_unmap_pages(&S.st) ;
  }
  for (;;)
  {
    iopause_fd x[3] = { { .fd = 0, .events = IOPAUSE_READ }, { .fd = fd, .events = IOPAUSE_READ } } ;
    unsigned int nx = fd >= 0 ? 2 : 1 ;
    tain d = *deadline ;
    int non = notify_on() ;
    /* RFC 5465 4: with NOTIFY, IDLE tells what NOTIFY asked for */
    if (non) nx = 1 + notify_fds(x + 1, &d) ;
    if (S.ftsidle) { tain_now_g() ; d = STAMP ; }   /* only a look: idle time goes to the index (fts.c) */
    r = iopause_g(x, nx, &d) ;
    if (r < 0) { if (errno == EINTR) return 0 ; strerr_diefusys(111, "iopause") ; }
    if (!r && S.ftsidle)
    {
      if (!fts_idle()) { trim_idle() ; tern_store_unmap_pages(&S.st) ; }
      if (!tain_less(&STAMP, deadline)) return 0 ;
      continue ;
    }
    if (x[0].revents) return 1 ;
    if (!non) return r ? 2 : 0 ;
    notify_run(x + 1, nx - 1, 1) ;
    o_flush() ;
    if (!tain_less(&STAMP, deadline)) return 0 ;
  }
}

/* One line appended to cmd without its CRLF: its length, or -1 when it
   is over LINEMAX (read and dropped to its LF). */
static ssize_t getline_into (stralloc *cmd, tain const *deadline, int idle)
{
  size_t start = cmd->len ;
  int toolong = 0 ;
  for (;;)
  {
    size_t avail = ilen - ipos ;
    size_t n = byte_chr(ibuf + ipos, avail, '\n') ;
    size_t take = n < avail ? n : avail ;
    if (!toolong)
    {
      if (cmd->len - start + take > LINEMAX || cmd->len + take > CMDMAX) toolong = 1 ;
      else if (!stralloc_catb(cmd, ibuf + ipos, take)) die_io("out-of-memory") ;
    }
    if (n < avail)
    {
      ipos += n + 1 ;
      if (toolong) { cmd->len = start ; return -1 ; }
      if (cmd->len > start && cmd->s[cmd->len - 1] == '\r') cmd->len-- ;
      return cmd->len - start ;
    }
    ipos = ilen ;
    net_fill(deadline, idle && cmd->len == start) ;   /* idle: nothing of the command read yet */
    idle = 0 ;
  }
}

/* IDLE's DONE, or any line (the IDLE loop waits for input itself). */
int imap_getline (stralloc *sa)
{
  tain d ;
  tain_now_g() ;
  tain_addsec_g(&d, S.timeout) ;
  return getline_into(sa, &d, 1) ;
}

/* ---- APPEND's messages: spooled into the Maildir's tmp/ ---- */

typedef struct spool_s spool ;
struct spool_s
{
  int fd ;
  char name[64] ;
  uint64_t filesize ;   /* octets on the disk (CRLF made LF) */
  uint64_t vsize ;      /* octets as IMAP sends them back */
} ;
static genalloc spools = GENALLOC_ZERO ;   /* spool */
static int tmpdirfd = -1 ;

int imap_tmpdir (void)
{
  if (tmpdirfd < 0)
  {
    stralloc p = STRALLOC_ZERO ;
    if (!stralloc_cats(&p, S.root) || !stralloc_cats(&p, "/tmp") || !stralloc_0(&p)) die_io("out-of-memory") ;
    mkdir(p.s, 0700) ;
    tmpdirfd = open(p.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
    stralloc_free(&p) ;
  }
  return tmpdirfd ;
}

/* What a spooled literal became: 1 with its tmp/ name and sizes. */
int imap_spooled (int fd, char const **name, uint64_t *filesize, uint64_t *vsize)
{
  for (size_t i = 0 ; i < genalloc_len(spool, &spools) ; i++)
  {
    spool const *s = genalloc_s(spool, &spools) + i ;
    if (s->fd != fd) continue ;
    *name = s->name ; *filesize = s->filesize ; *vsize = s->vsize ;
    return 1 ;
  }
  return 0 ;
}

static void spools_clear (void)
{
  for (size_t i = 0 ; i < genalloc_len(spool, &spools) ; i++)
  {
    spool *s = genalloc_s(spool, &spools) + i ;
    fd_close(s->fd) ;
    unlinkat(tmpdirfd, s->name, 0) ;   /* gone already when APPEND took it */
  }
  genalloc_setlen(spool, &spools, 0) ;
}

/* Reads n octets of literal into a new tmp/ file, CRLF made LF (a
   Maildir file has LF line ends; IMAP sends them back as CRLF); a
   literal8 (binary) is read as it comes into a file of its own, which
   literal8_store makes the message. 1, or 0 when the file cannot be
   written (the octets are read anyway). */
static int spool_literal (uint64_t n, int binary, tain const *deadline, int *fdp)
{
  static unsigned int seq = 0 ;
  char wbuf[65536] ;
  char raw[sizeof(((spool *)0)->name) + 4] ;
  size_t wl = 0 ;
  int cr = 0, ok = 1, fd = -1 ;
  uint64_t total = n ;
  spool s = { .fd = -1, .filesize = 0, .vsize = 0 } ;
  {
    size_t k = 0 ;
    memcpy(s.name, "tern-append.", 12) ; k = 12 ;
    k += pid_fmt(s.name + k, getpid()) ; s.name[k++] = '.' ;
    k += uint_fmt(s.name + k, ++seq) ; s.name[k] = 0 ;
    memcpy(raw, s.name, k) ;
    memcpy(raw + k, ".raw", 5) ;
  }
  if (imap_tmpdir() < 0) ok = 0 ;
  else
  {
    unlinkat(tmpdirfd, s.name, 0) ;
    if (binary) unlinkat(tmpdirfd, raw, 0) ;
    fd = openat(tmpdirfd, binary ? raw : s.name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) ;
    if (fd < 0) ok = 0 ;
  }
  while (n)
  {
    size_t avail = ilen - ipos, take ;
    if (!avail) { net_fill(deadline, 0) ; continue ; }
    take = avail < n ? avail : n ;
    for (size_t i = 0 ; i < take ; i++)
    {
      char c = ibuf[ipos + i] ;
      if (!binary)
      {
        if (cr && c != '\n') { wbuf[wl++] = '\r' ; s.vsize++ ; }
        cr = 0 ;
        if (c == '\r') { cr = 1 ; continue ; }
        s.vsize += c == '\n' ? 2 : 1 ;
      }
      wbuf[wl++] = c ;
      if (wl >= sizeof(wbuf) - 2)
      {
        if (ok && write(fd, wbuf, wl) != (ssize_t)wl) ok = 0 ;
        s.filesize += wl ;
        wl = 0 ;
      }
    }
    ipos += take ;
    n -= take ;
  }
  if (cr) { wbuf[wl++] = '\r' ; s.vsize++ ; }
  if (ok && wl && write(fd, wbuf, wl) != (ssize_t)wl) ok = 0 ;
  s.filesize += wl ;
  if (binary && ok)
  {
    /* the raw copy is scratch: only the message is made durable */
    ok = literal8_store(tmpdirfd, fd, total, s.name, &s.fd, &s.filesize, &s.vsize) ;
    fd_close(fd) ;
    unlinkat(tmpdirfd, raw, 0) ;
    fd = -1 ;
  }
  else
  {
    s.fd = fd ;
    /* durable before the message is linked into cur/ and its UID given */
    if (ok && fsync(s.fd) < 0) ok = 0 ;
  }
  if (!ok)
  {
    int e = errno ;
    if (fd >= 0) { fd_close(fd) ; unlinkat(tmpdirfd, binary ? raw : s.name, 0) ; }
    errno = e ;
    return 0 ;
  }
  if (!genalloc_append(spool, &spools, &s)) die_io("out-of-memory") ;
  *fdp = s.fd ;
  return 1 ;
}

/* Discards n octets of input (a literal we refuse but must read). */
static void skip_literal (uint64_t n, tain const *deadline)
{
  while (n)
  {
    size_t avail = ilen - ipos, take ;
    if (!avail) { net_fill(deadline, 0) ; continue ; }
    take = avail < n ? avail : n ;
    ipos += take ;
    n -= take ;
  }
}

/* A command refused at a non-synchronizing literal of n octets: the
   literal and what follows it up to the command's end are read and
   dropped (RFC 7888 4), each later literal too, each line from the
   start of the buffer (cmd is not kept). */
static void drop_rest (uint64_t n, tain const *deadline)
{
  stralloc line = STRALLOC_ZERO ;
  skip_literal(n, deadline) ;
  for (;;)
  {
    size_t h ;
    uint64_t l ;
    int ns, b ;
    ssize_t k ;
    line.len = 0 ;
    k = getline_into(&line, deadline, 0) ;
    if (k < 0 || tern_imap_litspec(line.s, k, &l, &ns, &b, &h) != 1 || !ns) break ;
    skip_literal(l, deadline) ;
  }
  stralloc_free(&line) ;
}

/* Is the literal whose head is at head in the command a message, to
   spool? In "tag APPEND mailbox ...", every literal but a mailbox name
   given as a literal right after "APPEND "; in "tag [UID] REPLACE n
   mailbox ..." (RFC 8508 3), every literal but the mailbox's, right
   after the message's number. */
static int is_append_message (stralloc const *cmd, size_t head)
{
  size_t i = 0, j ;
  while (i < cmd->len && cmd->s[i] != ' ') i++ ;
  if (i + 8 <= cmd->len && !strncasecmp(cmd->s + i, " APPEND ", 8)) return head != i + 8 ;
  if (i + 5 <= cmd->len && !strncasecmp(cmd->s + i, " UID ", 5)) i += 4 ;
  if (i + 9 > cmd->len || strncasecmp(cmd->s + i, " REPLACE ", 9)) return 0 ;
  j = i + 9 ;
  while (j < cmd->len && cmd->s[j] != ' ') j++ ;
  return head != j + 1 ;
}

/* Is the command "tag NAME ..."? (SETMETADATA's values may be literal8,
   RFC 5464 5) */
static int is_command (stralloc const *cmd, char const *name)
{
  size_t i = 0, n = strlen(name) ;
  while (i < cmd->len && cmd->s[i] != ' ') i++ ;
  return i + n + 2 <= cmd->len && cmd->s[i + n + 1] == ' ' && !strncasecmp(cmd->s + i + 1, name, n) ;
}

static stralloc cmd = STRALLOC_ZERO ;
static genalloc lits = GENALLOC_ZERO ;   /* tern_imap_lit */
static char tagbuf[1024] ;

/* The first word of what was read, as a tag for a BAD, or "*". */
static void tag_guess (void)
{
  size_t i = 0 ;
  while (i < cmd.len && i < sizeof(tagbuf) && cmd.s[i] != ' ' && (unsigned char)cmd.s[i] > 0x20 && (unsigned char)cmd.s[i] < 0x7f) i++ ;
  if (!i || i >= sizeof(tagbuf) || (i < cmd.len && cmd.s[i] != ' ')) { S.tag = "*" ; S.taglen = 1 ; return ; }
  memcpy(tagbuf, cmd.s, i) ;
  S.tag = tagbuf ;
  S.taglen = i ;
}

/* A whole command into cmd (text and literals): 1, or 0 after a reply
   to a command that could not be read. */
static int getcmd (void)
{
  tain dline, dcmd ;
  int first = 1 ;
  cmd.len = 0 ;
  lits.len = 0 ;
  spools_clear() ;
  tain_now_g() ;
  tain_addsec_g(&dline, S.timeout) ;
  for (;;)
  {
    size_t linestart = cmd.len, head ;
    ssize_t n = getline_into(&cmd, &dline, first) ;
    uint64_t litlen ;
    int nonsync, binary, r, message ;
    if (first)
    {
      /* the rest of the command has its own time limit */
      tain_now_g() ;
      tain_addsec_g(&dcmd, S.cmdtimeout) ;
      first = 0 ;
    }
    dline = dcmd ;
    if (n < 0) { tag_guess() ; o_tagged("BAD [TOOBIG] Command line too long") ; S.bad++ ; return 0 ; }
    r = tern_imap_litspec(cmd.s + linestart, n, &litlen, &nonsync, &binary, &head) ;
    if (!r) return 1 ;
    tag_guess() ;
    if (r < 0) { o_tagged("BAD Invalid literal") ; S.bad++ ; return 0 ; }
    message = is_append_message(&cmd, linestart + head) ;
    if (binary && !message && !is_command(&cmd, "SETMETADATA")) { o_tagged("BAD literal8 is for APPEND's messages and SETMETADATA's values") ; S.bad++ ; if (nonsync) skip_literal(litlen, &dline) ; return 0 ; }
    if ((message && litlen > S.appendlimit) || (!message && (litlen > LITMAX || cmd.len + litlen + 2 > CMDMAX)))
    {
      /* a synchronizing literal is refused before it is sent; a
         non-synchronizing one is read and dropped (RFC 7888 4), unless
         it is too large even for that */
      if (nonsync && litlen > S.appendlimit + LITMAX)
      {
        o_str("* BYE [TOOBIG] Literal too large\r\n") ;
        o_flush() ;
        die_io("literal") ;
      }
      o_tagged(message ? "NO [TOOBIG] Message too large (see APPENDLIMIT)" : "BAD [TOOBIG] Literal too large") ;
      if (nonsync) drop_rest(litlen, &dline) ;
      return 0 ;
    }
    if (message && genalloc_len(spool, &spools) >= MULTIAPPEND_MAX)
    {
      o_tagged("NO [LIMIT] Too many messages in one APPEND") ;
      if (nonsync) drop_rest(litlen, &dline) ;
      return 0 ;
    }
    if (!nonsync) { o_str("+ Ready for literal data\r\n") ; o_flush() ; }
    if (!stralloc_catb(&cmd, "\r\n", 2)) die_io("out-of-memory") ;
    {
      tern_imap_lit l = { .pos = cmd.len, .len = litlen, .fd = -1 } ;
      if (message)
      {
        if (!spool_literal(litlen, binary, &dline, &l.fd))
        {
          strerr_warnwu1sys("write an appended message to tmp/") ;
          o_tagged("NO [SERVERBUG] Cannot store the message") ;
          return 0 ;
        }
      }
      else
      {
        while (litlen)
        {
          size_t avail = ilen - ipos, take ;
          if (!avail) { net_fill(&dline, 0) ; continue ; }
          take = avail < litlen ? avail : litlen ;
          if (!stralloc_catb(&cmd, ibuf + ipos, take)) die_io("out-of-memory") ;
          ipos += take ;
          litlen -= take ;
        }
      }
      if (!genalloc_append(tern_imap_lit, &lits, &l)) die_io("out-of-memory") ;
    }
  }
}

/* RFC 7162 3.1: the first CONDSTORE-enabling command in the selected
   state tells the client the mailbox's HIGHESTMODSEQ. */
void condstore_on (void)
{
  if (S.condstore) return ;
  S.condstore = 1 ;
  if (S.selected) { o_str("* OK [HIGHESTMODSEQ ") ; o_num(S.modseq) ; o_str("] Highest\r\n") ; }
}

/* ---- commands of any state (RFC 3501 6.1) ---- */

/* IMAP4rev2 (RFC 9051) beside IMAP4rev1: what it folds in is all here */
#define REV2_OFFERED 1

void capabilities (void)
{
  o_str(REV2_OFFERED ? "IMAP4rev1 IMAP4rev2 LITERAL+" : "IMAP4rev1 LITERAL+") ;
  o_str(" ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN LIST-EXTENDED LIST-STATUS"
        " SPECIAL-USE CREATE-SPECIAL-USE COMPRESS=DEFLATE ESEARCH CONDSTORE QRESYNC MULTIAPPEND SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES WITHIN SAVEDATE SEARCHRES"
        " UTF8=ACCEPT QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE METADATA REPLACE UIDONLY"
        " STATUS=SIZE BINARY OBJECTID PREVIEW NOTIFY") ;
  o_str(" APPENDLIMIT=") ;
  o_num(S.appendlimit) ;
}

static int noargs (tern_imap_p *p)
{
  if (tern_imap_p_eol(p)) return 1 ;
  o_bad(p, 0) ;
  return 0 ;
}

void cmd_capability (tern_imap_p *p)
{
  if (!noargs(p)) return ;
  o_str("* CAPABILITY ") ;
  capabilities() ;
  o_str("\r\n") ;
  o_tagged("OK Capability completed") ;
}

void cmd_noop (tern_imap_p *p)
{
  if (!noargs(p)) return ;
  if (S.selected) view_sync(1) ;
  o_tagged("OK NOOP completed") ;
}

void cmd_check (tern_imap_p *p)
{
  if (!noargs(p)) return ;
  view_sync(1) ;
  o_tagged("OK Check completed") ;
}

void cmd_logout (tern_imap_p *p)
{
  if (!noargs(p)) return ;
  o_str("* BYE Logging out\r\n") ;
  o_tagged("OK Logout completed") ;
  o_flush() ;
  if (S.selected) view_close(0) ;
  die_io("logout") ;
}

void cmd_id (tern_imap_p *p)
{
  stralloc junk = STRALLOC_ZERO ;
  int isnil ;
  if (!tern_imap_p_sp(p)) goto bad ;
  if (tern_imap_p_peek(p) == '(')
  {
    unsigned int n = 0 ;
    tern_imap_p_char(p, '(') ;
    while (tern_imap_p_peek(p) != ')')
    {
      if (n && !tern_imap_p_sp(p)) goto bad ;
      junk.len = 0 ;
      if (!tern_imap_p_string(p, &junk) || !tern_imap_p_sp(p) || !tern_imap_p_nstring(p, &junk, &isnil)) goto bad ;
      if (++n > 30) { p->err = "Too many ID fields (RFC 2971 3.3: 30)" ; goto bad ; }
    }
    tern_imap_p_char(p, ')') ;
  }
  else if (!tern_imap_p_nstring(p, &junk, &isnil) || !isnil) goto bad ;
  if (!tern_imap_p_eol(p)) goto bad ;
  stralloc_free(&junk) ;
  o_str("* ID (\"name\" \"tern\")\r\n") ;
  o_tagged("OK ID completed") ;
  return ;
 bad:
  stralloc_free(&junk) ;
  o_bad(p, 0) ;
}

/* RFC 5161: the extensions a client may enable; QRESYNC implies
   CONDSTORE (RFC 7162 3.2.3); UIDONLY (RFC 9586 3). Unknown ones are
   ignored. */
void cmd_enable (tern_imap_p *p)
{
  int cs = 0, qr = 0, u8 = 0, r2 = 0, uo = 0 ;
  if (!tern_imap_p_sp(p)) { o_bad(p, 0) ; return ; }
  for (;;)
  {
    char const *a ;
    size_t n ;
    if (!tern_imap_p_atom(p, &a, &n)) { o_bad(p, 0) ; return ; }
    if (n == 9 && !strncasecmp(a, "CONDSTORE", 9)) cs = 1 ;
    else if (n == 7 && !strncasecmp(a, "QRESYNC", 7)) qr = cs = 1 ;
    else if (n == 11 && !strncasecmp(a, "UTF8=ACCEPT", 11)) u8 = 1 ;
    else if (REV2_OFFERED && n == 9 && !strncasecmp(a, "IMAP4rev2", 9)) r2 = 1 ;
    else if (n == 7 && !strncasecmp(a, "UIDONLY", 7)) uo = 1 ;
    if (tern_imap_p_peek(p) != ' ') break ;
    tern_imap_p_sp(p) ;
  }
  if (!tern_imap_p_eol(p)) { o_bad(p, 0) ; return ; }
  o_str("* ENABLED") ;
  if (cs && !S.condstore) o_str(" CONDSTORE") ;
  if (qr && !S.qresync) o_str(" QRESYNC") ;
  if (u8 && !S.utf8) o_str(" UTF8=ACCEPT") ;
  if (r2 && !S.rev2) o_str(" IMAP4rev2") ;
  if (uo && !S.uidonly) o_str(" UIDONLY") ;
  o_str("\r\n") ;
  if (cs) condstore_on() ;
  if (qr) S.qresync = 1 ;
  if (u8) S.utf8 = 1 ;
  /* RFC 9051 5.1, A: UTF-8 names and strings come with IMAP4rev2 */
  if (r2) S.rev2 = S.utf8 = 1 ;
  if (uo) S.uidonly = 1 ;
  o_tagged("OK Enabled") ;
}

void cmd_namespace (tern_imap_p *p)
{
  if (!noargs(p)) return ;
  /* RFC 2342: one personal namespace, no prefix, "." the separator */
  o_str("* NAMESPACE ((\"\" \".\")) NIL NIL\r\n") ;
  o_tagged("OK Namespace completed") ;
}

/* ---- dispatch ---- */

#define ST_AUTH 0
#define ST_SEL 1
#define UIDOK 0x100
#define UIDREQ 0x200   /* takes or answers message numbers: refused once UIDONLY is on (RFC 9586 3) */

typedef struct command_s command ;
struct command_s
{
  char const *name ;
  cmd_func *f ;
  unsigned int flags ;   /* ST_SEL: needs a selected folder; UIDOK: has a UID form; UIDREQ */
} ;

static command const commands[] =
{
  { "FETCH", &cmd_fetch, ST_SEL | UIDOK | UIDREQ },
  { "STORE", &cmd_store, ST_SEL | UIDOK | UIDREQ },
  { "SEARCH", &cmd_search, ST_SEL | UIDOK | UIDREQ },
  { "SORT", &cmd_sort, ST_SEL | UIDOK | UIDREQ },
  { "THREAD", &cmd_thread, ST_SEL | UIDOK | UIDREQ },
  { "NOOP", &cmd_noop, ST_AUTH },
  { "IDLE", &cmd_idle, ST_AUTH },
  { "NOTIFY", &cmd_notify, ST_AUTH },
  { "SELECT", &cmd_select, ST_AUTH },
  { "EXAMINE", &cmd_examine, ST_AUTH },
  { "LIST", &cmd_list, ST_AUTH },
  { "STATUS", &cmd_status, ST_AUTH },
  { "APPEND", &cmd_append, ST_AUTH },
  { "COPY", &cmd_copy, ST_SEL | UIDOK | UIDREQ },
  { "MOVE", &cmd_move, ST_SEL | UIDOK | UIDREQ },
  { "REPLACE", &cmd_replace, ST_SEL | UIDOK | UIDREQ },
  { "EXPUNGE", &cmd_expunge, ST_SEL | UIDOK },
  { "CLOSE", &cmd_close, ST_SEL },
  { "UNSELECT", &cmd_unselect, ST_SEL },
  { "CHECK", &cmd_check, ST_SEL },
  { "CAPABILITY", &cmd_capability, ST_AUTH },
  { "COMPRESS", &cmd_compress, ST_AUTH },
  { "LOGOUT", &cmd_logout, ST_AUTH },
  { "ID", &cmd_id, ST_AUTH },
  { "ENABLE", &cmd_enable, ST_AUTH },
  { "NAMESPACE", &cmd_namespace, ST_AUTH },
  { "CREATE", &cmd_create, ST_AUTH },
  { "DELETE", &cmd_delete, ST_AUTH },
  { "RENAME", &cmd_rename, ST_AUTH },
  { "SUBSCRIBE", &cmd_subscribe, ST_AUTH },
  { "UNSUBSCRIBE", &cmd_unsubscribe, ST_AUTH },
  { "LSUB", &cmd_lsub, ST_AUTH },
  { "GETQUOTA", &cmd_getquota, ST_AUTH },
  { "GETQUOTAROOT", &cmd_getquotaroot, ST_AUTH },
  { "SETQUOTA", &cmd_setquota, ST_AUTH },
  { "GETMETADATA", &cmd_getmetadata, ST_AUTH },
  { "SETMETADATA", &cmd_setmetadata, ST_AUTH },
  { 0, 0, 0 }
} ;

/* RFC 6855 3: once UTF-8 is on, 8-bit octets outside literals must be
   UTF-8 (before, they are only ever allowed in literals, and a quoted
   string with them is taken as it is, as clients send them) */
static int line_utf8_ok (void)
{
  size_t from = 0 ;
  tern_imap_lit const *l = genalloc_s(tern_imap_lit, &lits) ;
  size_t nl = genalloc_len(tern_imap_lit, &lits) ;
  for (size_t k = 0 ; k <= nl ; k++)
  {
    size_t to = k < nl ? l[k].pos : cmd.len ;
    if (to > from && u8_check((uint8_t const *)cmd.s + from, to - from)) return 0 ;
    if (k < nl) from = l[k].pos + (l[k].fd < 0 ? l[k].len : 0) ;
  }
  return 1 ;
}

static void dispatch (void)
{
  tern_imap_p p = TERN_IMAP_P_ZERO ;
  char const *tag, *name ;
  size_t tl, nl ;
  command const *c = commands ;
  p.s = cmd.s ; p.len = cmd.len ;
  p.lits = genalloc_s(tern_imap_lit, &lits) ; p.nlits = genalloc_len(tern_imap_lit, &lits) ;
  S.uid = 0 ;
  S.tag = "*" ; S.taglen = 1 ;
  if (!cmd.len) { o_str("* BAD Empty command line\r\n") ; return ; }
  if (!tern_imap_p_tag(&p, &tag, &tl) || tl >= sizeof(tagbuf) || !tern_imap_p_sp(&p) || !tern_imap_p_atom(&p, &name, &nl))
  {
    tag_guess() ;
    o_bad(0, "Missing or invalid tag or command") ;
    return ;
  }
  memcpy(tagbuf, tag, tl) ;
  S.tag = tagbuf ; S.taglen = tl ;
  p.utf8 = S.utf8 ;
  if (S.utf8 && !line_utf8_ok()) { o_bad(0, "Invalid UTF-8 outside a literal (RFC 6855 3)") ; return ; }
  if (nl == 3 && !strncasecmp(name, "UID", 3))
  {
    if (!tern_imap_p_sp(&p) || !tern_imap_p_atom(&p, &name, &nl)) { o_bad(&p, "UID") ; return ; }
    S.uid = 1 ;
  }
  for (; c->name ; c++)
    if (strlen(c->name) == nl && !strncasecmp(name, c->name, nl)) break ;
  if (!c->name || (S.uid && !(c->flags & UIDOK)))
  {
    /* the not-authenticated state's, and any other */
    if (!S.uid && ((nl == 5 && !strncasecmp(name, "LOGIN", 5)) || (nl == 12 && !strncasecmp(name, "AUTHENTICATE", 12))))
      o_bad(0, "Already logged in") ;
    else if (!S.uid && nl == 8 && !strncasecmp(name, "STARTTLS", 8)) o_bad(0, "STARTTLS is only possible before login") ;
    else o_bad(0, "Unknown command") ;
    return ;
  }
  if ((c->flags & ST_SEL) && !S.selected) { o_bad(0, "No mailbox selected") ; return ; }
  if (S.uidonly && !S.uid && (c->flags & UIDREQ)) { p.err = UIDREQUIRED ; o_bad(&p, 0) ; return ; }
  (*c->f)(&p) ;
  notify_done(c->f) ;
}

/* ---- start ---- */

static unsigned int envnum (char const *name, unsigned int def, int zerook)
{
  unsigned int v ;
  if (!tern_env_uint(name, &v, def) || (!v && !zerook)) strerr_dief(100, "invalid $", name) ;
  return v ;
}

/* Before the session is ours a failure is the login monitor's to report
   (NO [UNAVAILABLE] from its child); without the monitor we say it. */
static void startfail (char const *) gccattr_noreturn ;
static void startfail (char const *what)
{
  int e = errno ;
  if (S.loginfd < 0)
  {
    o_str("* BYE [UNAVAILABLE] Cannot open the mailbox\r\n") ;
    o_flush() ;
  }
  errno = e ;
  strerr_diefusys(111, what) ;
}

int main (int argc, char const *const *argv)
{
  char const *x ;
  PROG = "imap-serve" ;
  /* A fixed threshold: glibc raises it after a big mmapped block is
     freed (the index build's), and LMDB's 3 MB of write-transaction
     lists, allocated at each environment's open, then came from the heap
     and stayed there, partly touched, for the rest of an idle session */
  mallopt(M_MMAP_THRESHOLD, 128 * 1024) ;
  if (argc > 2) dieusage() ;
  if (!getuid() || !geteuid()) strerr_dief(100, "refusing to run as root: a checkpassword program must make this the mailbox owner") ;
  S.timeout = envnum("IMAP_TIMEOUT", 1800, 0) ;
  S.cmdtimeout = envnum("IMAP_CMDTIMEOUT", 3600, 0) ;
  S.maxbad = envnum("IMAP_MAXBAD", MAXBAD_DEFAULT, 1) ;
  if (!tern_env_u64("IMAP_APPENDLIMIT", &S.appendlimit, APPENDLIMIT_DEFAULT) || !S.appendlimit || S.appendlimit > ((uint64_t)1 << 40))
    strerr_dief(100, "invalid $IMAP_APPENDLIMIT") ;
  x = getenv("LOGINFD") ;
  if (x && *x)
  {
    unsigned int fd ;
    if (!uint0_scan(x, &fd)) strerr_dief(100, "invalid $LOGINFD") ;
    S.loginfd = fd ;
    coe(S.loginfd) ;
  }
  S.user = getenv("USER") ;
  if (!S.user || !*S.user) S.user = "unknown" ;
  S.remoteip = ucspi_get("REMOTEIP") ;
  if (!S.remoteip) S.remoteip = getenv("TCPREMOTEIP") ;
  if (!S.remoteip || !*S.remoteip) S.remoteip = "unknown" ;
  if (sig_ignore(SIGPIPE) < 0) strerr_diefusys(111, "ignore SIGPIPE") ;
  tain_now_set_stopwatch_g() ;

  x = getenv("MAILDIR") ;
  if (!x || !*x) x = argc > 1 ? argv[1] : "./Maildir" ;
  {
    /* an absolute path: the store's files live by it */
    static stralloc root = STRALLOC_ZERO ;
    if (x[0] != '/')
    {
      char *cwd = getcwd(0, 0) ;
      if (!cwd) startfail("getcwd") ;
      if (!stralloc_cats(&root, cwd) || !stralloc_catb(&root, "/", 1)) startfail("stralloc") ;
      free(cwd) ;
    }
    if (!stralloc_cats(&root, x) || !stralloc_0(&root)) startfail("stralloc") ;
    while (root.len > 2 && root.s[root.len - 2] == '/') { root.s[root.len - 2] = 0 ; root.len-- ; }
    S.root = root.s ;
  }
  {
    struct stat s ;
    if (stat(S.root, &s) < 0 || !S_ISDIR(s.st_mode)) startfail("open the Maildir") ;
  }
  quota_load() ;
  /* first login: the special-use folders (RFC 6154) */
  if (!tern_folder_defaults(S.root)) strerr_warnwu2sys("create the special-use folders in ", S.root) ;

  /* the session is ours */
  if (S.loginfd >= 0)
  {
    if (write(S.loginfd, "+", 1) != 1) strerr_warnwusys("write to LOGINFD") ;
    fd_close(S.loginfd) ;
    S.loginfd = -1 ;
  }
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefusys(111, "ndelay_on") ;
  strerr_warni("login user=", S.user, " ip=", S.remoteip) ;
  x = getenv("IMAPLOGINTAG") ;
  if (x && *x)
  {
    /* RFC 9051 7.1: the tagged OK of the login, with the capabilities */
    o_str(x) ;
    o_str(" OK [CAPABILITY ") ;
    capabilities() ;
    o_str("] Logged in\r\n") ;
  }
  else
  {
    o_str("* PREAUTH [CAPABILITY ") ;
    capabilities() ;
    o_str("] Logged in as ") ;
    o_str(S.user) ;
    o_str("\r\n") ;
  }

  for (;;)
  {
    if (getcmd()) dispatch() ;
    if (S.maxbad && S.bad >= S.maxbad)
    {
      o_str("* BYE Too many errors, closing connection\r\n") ;
      o_flush() ;
      die_io("errors") ;
    }
  }
}
