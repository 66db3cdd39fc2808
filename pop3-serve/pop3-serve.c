/* pop3-serve: the POP3 TRANSACTION and UPDATE states (RFC 1939 5 and 6;
   CAPA, RESP-CODES, PIPELINING of RFC 2449; UIDL, TOP) on fds 0 and 1,
   run as the mailbox owner at the end of a checkpassword chain
   (pop3-login pwcheck pop3-serve, or any checkpassword program).

   At start it locks the Maildir (tern-pop3.lock, an fcntl lock: a second
   session gets -ERR [IN-USE]), takes a snapshot of new/ and cur/ (mail
   delivered later is not shown in this session; nothing is renamed),
   writes one octet on $LOGINFD to take the session over from the login
   monitor, then says +OK. DELE only marks; QUIT unlinks the marked files,
   then fsyncs the directories. A message is never written to, so a crash
   at any point leaves each one whole or gone.

   Sizes (LIST, STAT) are exact: the octets RETR sends, CRLF line ends,
   before byte-stuffing. A ",W=" field in the name (Dovecot's) gives them;
   otherwise a message is read once to count its lines, the first time its
   size is asked for (RETR of a message that fits the read buffer learns
   it for free). ",S=" is the size with LF line ends and cannot say it.

   Replies are buffered and flushed only before blocking on input or when
   the buffer is full, which is all PIPELINING asks. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

#include "tern.h"
#include "tern_store.h"

#define USAGE "pop3-serve [ maildir ]"
#define dieusage() strerr_dieusage(100, USAGE)

#define LINEMAX 1024          /* a command line with its CRLF (RFC 2449 4 asks for 255) */
#define RBUFSIZE 65536        /* message reads */
#define OBUFSIZE (2 * RBUFSIZE + 1024)
#define SIZE_UNKNOWN UINT64_MAX
#define LOCKFILE "tern-pop3.lock"

static struct
{
  unsigned int timeout ;      /* POP3_TIMEOUT, seconds */
  unsigned int maxerrors ;    /* POP3_MAXERRORS */
  char const *remoteip ;
  char const *user ;
  int loginfd ;               /* $LOGINFD, -1 without the login monitor */
} cf = { .loginfd = -1 } ;

/* ---- the snapshot ---- */

typedef struct msg_s msg ;
struct msg_s
{
  uint64_t size ;             /* SIZE_UNKNOWN until known */
  uint64_t time ;             /* the leading seconds of the name: the order */
  uint32_t path ;             /* offset in paths: "cur/NAME" or "new/NAME", NUL-terminated */
  unsigned char deleted ;
} ;

static genalloc msgs = GENALLOC_ZERO ;   /* msg */
static stralloc paths = STRALLOC_ZERO ;
static unsigned int nmsgs = 0 ;
static int lockfd = -1 ;

static struct
{
  unsigned int errors ;
  unsigned int retrieved ;
  unsigned int ndeleted ;
} ss ;

#define M(i) (genalloc_s(msg, &msgs) + (i))
#define PATH(m) (paths.s + (m)->path)

/* ---- output: one buffer, written when full or before we wait for input ---- */

static char obuf[OBUFSIZE] ;
static size_t olen = 0 ;

static void end (int, char const *) gccattr_noreturn ;
static void end (int e, char const *reason)
{
  char fmt1[UINT_FMT], fmt2[UINT_FMT] ;
  fmt1[uint_fmt(fmt1, ss.retrieved)] = 0 ;
  fmt2[uint_fmt(fmt2, ss.ndeleted)] = 0 ;
  strerr_warni("end user=", cf.user, " ip=", cf.remoteip, " reason=", reason, " retrieved=", fmt1, " deleted=", fmt2) ;
  _exit(e) ;
}

static void oflush (void)
{
  size_t w = 0 ;
  tain d ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  while (w < olen)
  {
    ssize_t r = write(1, obuf + w, olen - w) ;
    if (r > 0) { w += r ; continue ; }
    if (r < 0 && errno == EINTR) continue ;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    {
      iopause_fd x = { .fd = 1, .events = IOPAUSE_WRITE, .revents = 0 } ;
      int k = iopause_g(&x, 1, &d) ;
      if (k < 0) strerr_diefusys(111, "iopause") ;
      if (!k) end(0, "write-timeout") ;
      continue ;
    }
    end(0, "write-failed") ;
  }
  olen = 0 ;
}

/* Room for n more octets at obuf + olen. */
static char *oroom (size_t n)
{
  if (OBUFSIZE - olen < n) oflush() ;
  return obuf + olen ;
}

static void oput (char const *s, size_t n)
{
  while (n)
  {
    size_t k ;
    if (olen == OBUFSIZE) oflush() ;
    k = OBUFSIZE - olen < n ? OBUFSIZE - olen : n ;
    memcpy(obuf + olen, s, k) ;
    olen += k ; s += k ; n -= k ;
  }
}

static void out (char const *s) { oput(s, strlen(s)) ; }
static void reply (char const *s) { out(s) ; oput("\r\n", 2) ; }

static void outnum (uint64_t n)
{
  char fmt[UINT64_FMT] ;
  oput(fmt, uint64_fmt(fmt, n)) ;
}

/* A syntax error or an unknown command: counted against POP3_MAXERRORS. */
static void error (char const *s)
{
  reply(s) ;
  if (cf.maxerrors && ++ss.errors >= cf.maxerrors)
  {
    reply("-ERR Too many errors, closing connection") ;
    oflush() ;
    end(0, "errors") ;
  }
}

/* ---- input: read ahead is fine here, every line with a deadline ---- */

static char ibuf[4096] ;
static size_t ipos = 0, ilen = 0 ;

static int net_fill (tain const *deadline)
{
  if (ipos == ilen) ipos = ilen = 0 ;
  else if (ipos)
  {
    memmove(ibuf, ibuf + ipos, ilen - ipos) ;
    ilen -= ipos ;
    ipos = 0 ;
  }
  oflush() ;
  for (;;)
  {
    iopause_fd x = { .fd = 0, .events = IOPAUSE_READ, .revents = 0 } ;
    ssize_t r = read(0, ibuf + ilen, sizeof(ibuf) - ilen) ;
    if (r > 0) { ilen += r ; return 1 ; }
    if (!r) return 0 ;
    if (errno == EINTR) continue ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;
    r = iopause_g(&x, 1, deadline) ;
    if (r < 0) strerr_diefusys(111, "iopause") ;
    if (!r)
    {
      /* RFC 1939 3: an autologout never enters the UPDATE state */
      reply("-ERR Idle timeout, closing connection") ;
      oflush() ;
      end(0, "timeout") ;
    }
  }
}

/* The next command into cmd without CRLF, NUL-terminated: its length, or
   -1 if longer than LINEMAX (dropped up to its LF). */
static ssize_t getcmd (char *cmd)
{
  tain d ;
  int toolong = 0 ;
  tain_now_g() ;
  tain_addsec_g(&d, cf.timeout) ;
  for (;;)
  {
    size_t avail = ilen - ipos ;
    size_t n = byte_chr(ibuf + ipos, avail, '\n') ;
    if (n < avail)
    {
      char const *s = ibuf + ipos ;
      size_t len = n ;
      ipos += n + 1 ;
      if (toolong || n + 1 > LINEMAX) return -1 ;
      if (len && s[len-1] == '\r') len-- ;
      memcpy(cmd, s, len) ;
      cmd[len] = 0 ;
      return len ;
    }
    if (avail >= LINEMAX) { toolong = 1 ; ipos = ilen ; }
    if (!net_fill(&d)) end(0, "disconnect") ;
  }
}

/* ---- the Maildir ---- */

/* The unique part of a file name: up to ':' */
static size_t uniqlen (char const *name)
{
  char const *c = strchr(name, ':') ;
  return c ? (size_t)(c - name) : strlen(name) ;
}

/* ",W=<digits>" in the unique part: the size with CRLF line ends. */
static uint64_t wsize (char const *name, size_t len)
{
  for (size_t i = 0 ; i + 3 < len ; i++)
  {
    if (name[i] == ',' && name[i+1] == 'W' && name[i+2] == '=')
    {
      uint64_t v ;
      size_t k = uint64_scan(name + i + 3, &v) ;
      if (k && (i + 3 + k == len || name[i+3+k] == ',')) return v ;
    }
  }
  return SIZE_UNKNOWN ;
}

static int scandir_into (char const *dir)
{
  DIR *d = opendir(dir) ;
  if (!d) return 0 ;
  for (;;)
  {
    struct dirent *de ;
    msg m = { .size = SIZE_UNKNOWN, .time = 0, .deleted = 0 } ;
    size_t ul ;
    errno = 0 ;
    de = readdir(d) ;
    if (!de) break ;
    if (de->d_name[0] == '.') continue ;
    if (paths.len > UINT32_MAX - 512) { errno = ENOMEM ; break ; }
    m.path = paths.len ;
    ul = uniqlen(de->d_name) ;
    m.size = wsize(de->d_name, ul) ;
    uint64_scan(de->d_name, &m.time) ;
    if (!stralloc_cats(&paths, dir) || !stralloc_catb(&paths, "/", 1)
     || !stralloc_cats(&paths, de->d_name) || !stralloc_0(&paths)
     || !genalloc_append(msg, &msgs, &m)) { errno = ENOMEM ; break ; }
  }
  {
    int e = errno ;
    closedir(d) ;
    errno = e ;
    return !e ;
  }
}

static int bydate (void const *a, void const *b)
{
  msg const *x = a, *y = b ;
  if (x->time != y->time) return x->time < y->time ? -1 : 1 ;
  return strcmp(paths.s + x->path + 4, paths.s + y->path + 4) ;
}

/* The file was renamed (another program changed its flags) or removed:
   look for its unique name in cur/ and new/. 1 with m->path updated. */
static int relocate (msg *m)
{
  static char const *const dirs[2] = { "cur", "new" } ;
  char const *name = PATH(m) + 4 ;
  size_t ul = uniqlen(name) ;
  char uniq[ul + 1] ;
  memcpy(uniq, name, ul) ;
  uniq[ul] = 0 ;
  for (unsigned int i = 0 ; i < 2 ; i++)
  {
    DIR *d = opendir(dirs[i]) ;
    if (!d) continue ;
    for (;;)
    {
      struct dirent *de = readdir(d) ;
      size_t off = paths.len ;
      if (!de) break ;
      if (strncmp(de->d_name, uniq, ul) || (de->d_name[ul] && de->d_name[ul] != ':')) continue ;
      if (!stralloc_cats(&paths, dirs[i]) || !stralloc_catb(&paths, "/", 1)
       || !stralloc_cats(&paths, de->d_name) || !stralloc_0(&paths)) { paths.len = off ; break ; }
      m->path = off ;
      closedir(d) ;
      return 1 ;
    }
    closedir(d) ;
  }
  return 0 ;
}

static int msg_open (msg *m)
{
  for (int tries = 0 ; tries < 2 ; tries++)
  {
    /* O_NONBLOCK: a FIFO in cur/ must not hang the session (no effect on files) */
    int fd = open(PATH(m), O_RDONLY | O_NOATIME | O_NONBLOCK | O_CLOEXEC) ;
    if (fd < 0 && errno == EPERM) fd = open(PATH(m), O_RDONLY | O_NONBLOCK | O_CLOEXEC) ;
    if (fd >= 0) return fd ;
    if (errno != ENOENT || tries || !relocate(m)) return -1 ;
  }
  return -1 ;
}

static char rbuf[RBUFSIZE] ;

/* Learns m->size by reading the message: 1, or 0 if it cannot be read. */
static int msg_size (msg *m)
{
  unsigned int st = TERN_DOT_BOL ;
  uint64_t n = 0 ;
  int fd ;
  if (m->size != SIZE_UNKNOWN) return 1 ;
  fd = msg_open(m) ;
  if (fd < 0) return 0 ;
  for (;;)
  {
    ssize_t r = read(fd, rbuf, RBUFSIZE) ;
    if (r < 0)
    {
      if (errno == EINTR) continue ;
      fd_close(fd) ;
      return 0 ;
    }
    if (!r) break ;
    n += tern_crlf_len(rbuf, r, &st) ;
    if (r < RBUFSIZE) break ;   /* a short read of a regular file is its end */
  }
  fd_close(fd) ;
  if (!(st & TERN_DOT_BOL)) n += 2 ;
  m->size = n ;
  return 1 ;
}

/* ---- commands ---- */

typedef void action_func (char *, size_t) ;

/* A message number argument, strictly decimal: its index, or -1 after
   the reply. */
static ssize_t msgnum (char const *s, size_t len)
{
  unsigned int n ;
  size_t k = uint_scan(s, &n) ;
  if (!k || k != len) { error("-ERR Syntax: a message number") ; return -1 ; }
  if (!n || n > nmsgs) { reply("-ERR No such message") ; return -1 ; }
  if (M(n-1)->deleted) { reply("-ERR Message is deleted") ; return -1 ; }
  return n - 1 ;
}

static int sizes_all (void)
{
  for (unsigned int i = 0 ; i < nmsgs ; i++)
    if (!M(i)->deleted && !msg_size(M(i))) return 0 ;
  return 1 ;
}

static void do_stat (char *arg, size_t len)
{
  uint64_t octets = 0 ;
  unsigned int n = 0 ;
  if (len) { error("-ERR Syntax: STAT") ; return ; }
  if (!sizes_all()) { reply("-ERR [SYS/TEMP] Cannot read the mailbox") ; return ; }
  for (unsigned int i = 0 ; i < nmsgs ; i++)
    if (!M(i)->deleted) { n++ ; octets += M(i)->size ; }
  out("+OK ") ; outnum(n) ; out(" ") ; outnum(octets) ; oput("\r\n", 2) ;
}

static void do_list (char *arg, size_t len)
{
  if (len)
  {
    ssize_t i = msgnum(arg, len) ;
    if (i < 0) return ;
    if (!msg_size(M(i))) { reply("-ERR [SYS/TEMP] Cannot read the message") ; return ; }
    out("+OK ") ; outnum(i + 1) ; out(" ") ; outnum(M(i)->size) ; oput("\r\n", 2) ;
    return ;
  }
  if (!sizes_all()) { reply("-ERR [SYS/TEMP] Cannot read the mailbox") ; return ; }
  reply("+OK Scan list follows") ;
  for (unsigned int i = 0 ; i < nmsgs ; i++)
  {
    if (M(i)->deleted) continue ;
    outnum(i + 1) ; oput(" ", 1) ; outnum(M(i)->size) ; oput("\r\n", 2) ;
  }
  oput(".\r\n", 3) ;
}

static void uidl_line (unsigned int i)
{
  char uid[TERN_UIDL_MAX + 1] ;
  char const *name = PATH(M(i)) + 4 ;
  outnum(i + 1) ; oput(" ", 1) ; oput(uid, tern_maildir_uidl(uid, name, strlen(name))) ; oput("\r\n", 2) ;
}

static void do_uidl (char *arg, size_t len)
{
  if (len)
  {
    ssize_t i = msgnum(arg, len) ;
    if (i < 0) return ;
    out("+OK ") ;
    uidl_line(i) ;
    return ;
  }
  reply("+OK Unique-ID listing follows") ;
  for (unsigned int i = 0 ; i < nmsgs ; i++) if (!M(i)->deleted) uidl_line(i) ;
  oput(".\r\n", 3) ;
}

/* TOP's cut: the header, its empty line, then `lines` lines of the body. */
typedef struct topcut_s topcut ;
struct topcut_s
{
  int inbody ;
  int done ;
  size_t linelen ;     /* octets other than CR on the current header line */
  uint64_t lines ;
} ;

static size_t top_cut (char const *s, size_t n, topcut *t)
{
  size_t i = 0 ;
  while (i < n)
  {
    if (!t->inbody)
    {
      char c = s[i++] ;
      if (c == '\n')
      {
        if (!t->linelen)
        {
          t->inbody = 1 ;
          if (!t->lines) { t->done = 1 ; return i ; }
        }
        t->linelen = 0 ;
      }
      else if (c != '\r') t->linelen++ ;
    }
    else
    {
      char const *nl = memchr(s + i, '\n', n - i) ;
      if (!nl) return n ;
      i = nl - s + 1 ;
      if (!--t->lines) { t->done = 1 ; return i ; }
    }
  }
  return n ;
}

/* RETR (top < 0) and TOP: the message read once, converted into obuf. */
static void send_msg (msg *m, int64_t top)
{
  unsigned int st = TERN_DOT_BOL, cst = TERN_DOT_BOL ;
  uint64_t wsz = 0 ;
  topcut tc = { .inbody = 0, .done = 0, .linelen = 0, .lines = top < 0 ? 0 : (uint64_t)top } ;
  ssize_t r ;
  int fd = msg_open(m) ;
  if (fd < 0) { reply("-ERR [SYS/TEMP] Cannot open the message") ; return ; }
  do r = read(fd, rbuf, RBUFSIZE) ;
  while (r < 0 && errno == EINTR) ;
  if (r < 0) { fd_close(fd) ; reply("-ERR [SYS/TEMP] Cannot read the message") ; return ; }
  if (top >= 0) reply("+OK Top of message follows") ;
  else
  {
    if (r < RBUFSIZE && m->size == SIZE_UNKNOWN)
    {
      unsigned int zst = TERN_DOT_BOL ;
      m->size = tern_crlf_len(rbuf, r, &zst) + (zst & TERN_DOT_BOL ? 0 : 2) ;
    }
    if (m->size != SIZE_UNKNOWN) { out("+OK ") ; outnum(m->size) ; reply(" octets") ; }
    else reply("+OK Message follows") ;
  }
  for (;;)
  {
    size_t k = r ;
    if (top >= 0 && !tc.done) k = top_cut(rbuf, r, &tc) ;
    else if (m->size == SIZE_UNKNOWN) wsz += tern_crlf_len(rbuf, r, &cst) ;
    olen += tern_dotstuff(oroom(2 * k + 5), rbuf, k, &st) ;
    if (r < RBUFSIZE || (top >= 0 && tc.done)) break ;
    do r = read(fd, rbuf, RBUFSIZE) ;
    while (r < 0 && errno == EINTR) ;
    if (r < 0)
    {
      /* half a message is out: the only honest thing left is to stop */
      strerr_warnwusys("read ", PATH(m)) ;
      fd_close(fd) ;
      oflush() ;
      end(111, "read-failed") ;
    }
    if (!r) break ;
  }
  fd_close(fd) ;
  if (!(st & TERN_DOT_BOL)) oput("\r\n", 2) ;
  oput(".\r\n", 3) ;
  if (top < 0)
  {
    /* a message too large to size before sending it is sized now */
    if (m->size == SIZE_UNKNOWN) m->size = wsz + (cst & TERN_DOT_BOL ? 0 : 2) ;
    ss.retrieved++ ;
  }
}

static void do_retr (char *arg, size_t len)
{
  ssize_t i = msgnum(arg, len) ;
  if (i >= 0) send_msg(M(i), -1) ;
}

static void do_top (char *arg, size_t len)
{
  size_t sp = byte_chr(arg, len, ' ') ;
  uint64_t n ;
  ssize_t i ;
  if (sp == len || uint64_scan(arg + sp + 1, &n) != len - sp - 1 || sp + 1 == len || n > INT64_MAX)
  {
    error("-ERR Syntax: TOP message lines") ;
    return ;
  }
  i = msgnum(arg, sp) ;
  if (i >= 0) send_msg(M(i), n) ;
}

static void do_dele (char *arg, size_t len)
{
  ssize_t i = msgnum(arg, len) ;
  if (i < 0) return ;
  M(i)->deleted = 1 ;
  reply("+OK Message deleted") ;
}

static void do_rset (char *arg, size_t len)
{
  if (len) { error("-ERR Syntax: RSET") ; return ; }
  for (unsigned int i = 0 ; i < nmsgs ; i++) M(i)->deleted = 0 ;
  out("+OK Maildrop has ") ; outnum(nmsgs) ; reply(" messages") ;
}

static void do_noop (char *arg, size_t len)
{
  if (len) { error("-ERR Syntax: NOOP") ; return ; }
  reply("+OK") ;
}

static void syncdir (char const *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) ;
  if (fd < 0 || fsync(fd) < 0) strerr_warnwusys("fsync ", dir) ;
  if (fd >= 0) fd_close(fd) ;
}

/* The mailbox index, when the Maildir has one (IMAP sessions made it):
   the messages deleted are expunged there at once, so that an IMAP
   client sees them go now rather than at its next look at the
   directories. A failure here is only a delay: the next sync finds the
   files gone. */
static void index_expunge (void)
{
  tern_store st = TERN_STORE_ZERO ;
  stralloc names = STRALLOC_ZERO ;
  char cwd[4096] ;
  size_t n = 0 ;
  if (access("tern-index", F_OK) < 0 || !getcwd(cwd, sizeof(cwd))) return ;
  for (unsigned int i = 0 ; i < nmsgs ; i++)
  {
    msg *m = M(i) ;
    if (!m->deleted) continue ;
    if (!stralloc_cats(&names, PATH(m) + 4) || !stralloc_0(&names)) { stralloc_free(&names) ; return ; }
    n++ ;
  }
  if (!tern_store_open(&st, cwd, 0)) { strerr_warnwu1sys("open the mailbox index") ; stralloc_free(&names) ; return ; }
  if (!tern_store_expunge_names(&st, names.s, n)) strerr_warnwu1sys("expunge in the mailbox index") ;
  tern_store_close(&st) ;
  stralloc_free(&names) ;
}

/* The UPDATE state (RFC 1939 6): the marked messages go, then the
   directories are synced; the lock goes with the process. */
static void do_quit (char *arg, size_t len)
{
  unsigned int failed = 0 ;
  int dirs = 0 ;
  for (unsigned int i = 0 ; i < nmsgs ; i++)
  {
    msg *m = M(i) ;
    if (!m->deleted) continue ;
    if (unlink(PATH(m)) < 0 && (errno != ENOENT || (relocate(m) && unlink(PATH(m)) < 0 && errno != ENOENT)))
    {
      strerr_warnwusys("unlink ", PATH(m)) ;
      failed++ ;
      continue ;
    }
    ss.ndeleted++ ;
    dirs |= PATH(m)[0] == 'n' ? 1 : 2 ;
  }
  if (dirs & 2) syncdir("cur") ;
  if (dirs & 1) syncdir("new") ;
  if (ss.ndeleted) index_expunge() ;
  /* the mailbox is done with: a client that reconnects at once after
     the +OK must not find it locked */
  fd_close(lockfd) ;
  if (failed) reply("-ERR [SYS/TEMP] Some deleted messages could not be removed") ;
  else reply("+OK Bye") ;
  oflush() ;
  end(failed ? 111 : 0, "quit") ;
}

static void do_capa (char *arg, size_t len)
{
  reply("+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION tern\r\n.") ;
}

static void do_authcmd (char *arg, size_t len) { error("-ERR Already logged in") ; }
static void do_stls (char *arg, size_t len) { error("-ERR STLS is not available") ; }
static void do_unknown (char *arg, size_t len) { error("-ERR Unknown command") ; }

typedef struct command_s command ;
struct command_s
{
  char const *name ;
  action_func *action ;
} ;

static command const commands[] =
{
  { "RETR", &do_retr },
  { "DELE", &do_dele },
  { "STAT", &do_stat },
  { "LIST", &do_list },
  { "UIDL", &do_uidl },
  { "TOP", &do_top },
  { "NOOP", &do_noop },
  { "RSET", &do_rset },
  { "QUIT", &do_quit },
  { "CAPA", &do_capa },
  { "USER", &do_authcmd },
  { "PASS", &do_authcmd },
  { "AUTH", &do_authcmd },
  { "APOP", &do_authcmd },
  { "STLS", &do_stls },
  { 0, &do_unknown }
} ;

static void dispatch (char *s, size_t len)
{
  size_t k = byte_chr(s, len, ' '), arg = k < len ? k + 1 : len ;
  command const *c = commands ;
  if (memchr(s, 0, len)) { error("-ERR NUL in command") ; return ; }
  for (; c->name ; c++)
    if (strlen(c->name) == k && !strncasecmp(s, c->name, k)) break ;
  (*c->action)(s + arg, len - arg) ;
}

/* ---- start ---- */

/* Before the session is ours a failure is the login monitor's to report
   (-ERR [SYS/TEMP] from its child); without the monitor we say it. */
static void startfail (char const *) gccattr_noreturn ;
static void startfail (char const *what)
{
  int e = errno ;
  if (cf.loginfd < 0)
  {
    reply("-ERR [SYS/TEMP] Cannot open the mailbox") ;
    oflush() ;
  }
  errno = e ;
  strerr_diefusys(111, what) ;
}

/* The one octet that takes the session over from the login monitor. */
static void takeover (void)
{
  if (cf.loginfd < 0) return ;
  if (write(cf.loginfd, "+", 1) != 1) strerr_warnwusys("write to LOGINFD") ;
  fd_close(cf.loginfd) ;
  cf.loginfd = -1 ;
}

static unsigned int envnum (char const *name, unsigned int def, int zerook)
{
  unsigned int v ;
  if (!tern_env_uint(name, &v, def) || (!v && !zerook)) strerr_dief(100, "invalid $", name) ;
  return v ;
}

int main (int argc, char const *const *argv)
{
  static char cmd[LINEMAX + 1] ;
  char const *maildir ;
  char const *x ;
  PROG = "pop3-serve" ;
  if (argc > 2) dieusage() ;
  if (!getuid() || !geteuid()) strerr_dief(100, "refusing to run as root: a checkpassword program must make this the mailbox owner") ;
  cf.timeout = envnum("POP3_TIMEOUT", 600, 0) ;
  cf.maxerrors = envnum("POP3_MAXERRORS", 20, 1) ;
  x = getenv("LOGINFD") ;
  if (x && *x)
  {
    unsigned int fd ;
    if (!uint0_scan(x, &fd)) strerr_dief(100, "invalid $LOGINFD") ;
    cf.loginfd = fd ;
    coe(cf.loginfd) ;
  }
  cf.user = getenv("USER") ;
  if (!cf.user || !*cf.user) cf.user = "unknown" ;
  cf.remoteip = ucspi_get("REMOTEIP") ;
  if (!cf.remoteip) cf.remoteip = getenv("TCPREMOTEIP") ;
  if (!cf.remoteip || !*cf.remoteip) cf.remoteip = "unknown" ;
  if (sig_ignore(SIGPIPE) < 0) strerr_diefusys(111, "ignore SIGPIPE") ;
  tain_now_set_stopwatch_g() ;

  maildir = getenv("MAILDIR") ;
  if (!maildir || !*maildir) maildir = argc > 1 ? argv[1] : "./Maildir" ;
  if (chdir(maildir) < 0) startfail("chdir to the Maildir") ;
  lockfd = open(LOCKFILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600) ;
  if (lockfd < 0) startfail("open " LOCKFILE) ;
  switch (fd_lock(lockfd, 1, 1))
  {
    case -1 : startfail("lock " LOCKFILE) ;
    case 0 :
      /* RFC 2449 8.1.2: the maildrop is in use; the session is ours to end */
      takeover() ;
      reply("-ERR [IN-USE] Mailbox in use by another session") ;
      oflush() ;
      end(0, "in-use") ;
  }
  if (!scandir_into("cur") || !scandir_into("new")) startfail("read the Maildir") ;
  nmsgs = genalloc_len(msg, &msgs) ;
  if (nmsgs > 1) qsort(genalloc_s(msg, &msgs), nmsgs, sizeof(msg), &bydate) ;

  takeover() ;
  if (ndelay_on(0) < 0 || ndelay_on(1) < 0) strerr_diefusys(111, "ndelay_on") ;
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, nmsgs)] = 0 ;
    strerr_warni("login user=", cf.user, " ip=", cf.remoteip, " messages=", fmt) ;
  }
  out("+OK Logged in, ") ; outnum(nmsgs) ; reply(" messages") ;

  for (;;)
  {
    ssize_t len = getcmd(cmd) ;
    if (len < 0) error("-ERR Line too long") ;
    else dispatch(cmd, len) ;
  }
}
