/* sendmail: the sendmail(8) command line that cron, mailx, git send-email
   and every Unix program use. Reads a message on stdin, adds Date:,
   Message-ID: and From: when missing and a Received: line, and injects it
   through queue-add with the qmail-queue protocol. -t takes the recipients
   from To:, Cc: and Bcc: (and drops Bcc:). Exit codes are sendmail's
   (sysexits.h), since that is the interface its callers know. */

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <skalibs/types.h>
#include <skalibs/bytestr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/buffer.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/djbunix.h>
#include <skalibs/exec.h>
#include <skalibs/sig.h>

#include "tern.h"

#define USAGE "sendmail [-t] [-i] [-f sender] [-F fullname] [-N dsn] [-R ret] [-V envid] [--] recipient..."

#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOINPUT 66
#define EX_SOFTWARE 70
#define EX_OSERR 71
#define EX_IOERR 74
#define EX_TEMPFAIL 75

#define HDRMAX (1024 * 1024)   /* the header section, read into memory */

static int opt_i = 0 ;
/* live until exit */
static stralloc me = STRALLOC_ZERO, user = STRALLOC_ZERO, hdr = STRALLOC_ZERO, line = STRALLOC_ZERO ;
static stralloc rcpts = STRALLOC_ZERO, env = STRALLOC_ZERO, qpath = STRALLOC_ZERO, senderbuf = STRALLOC_ZERO ;
static stralloc out = STRALLOC_ZERO ;
static int has8bit = 0 ;

/* ---- input: logical lines from stdin, CRLF taken as LF ---- */

static char inbuf[65536] ;
static size_t inlen = 0, inpos = 0 ;
static int ineof = 0 ;

static int getbyte (char *c)
{
  if (inpos == inlen)
  {
    ssize_t r ;
    if (ineof) return 0 ;
    r = fd_read(0, inbuf, sizeof inbuf) ;
    if (r < 0) strerr_diefusys(EX_IOERR, "read the message") ;
    if (!r) { ineof = 1 ; return 0 ; }
    inlen = r ; inpos = 0 ;
  }
  *c = inbuf[inpos++] ;
  return 1 ;
}

static int peekbyte (char *c)
{
  if (!getbyte(c)) return 0 ;
  inpos-- ;
  return 1 ;
}

/* One logical char: "\r\n" becomes '\n'; a lone CR stays. */
static int getlchar (char *c)
{
  if (!getbyte(c)) return 0 ;
  if ((unsigned char)*c >= 128) has8bit = 1 ;
  if (*c == '\r')
  {
    char d ;
    if (peekbyte(&d) && d == '\n') { inpos++ ; *c = '\n' ; }
  }
  return 1 ;
}

/* A header line without its LF into sa. 0 at EOF with nothing read. */
static int getline_hdr (stralloc *sa, int *eof)
{
  char c ;
  sa->len = 0 ;
  *eof = 0 ;
  for (;;)
  {
    if (!getlchar(&c)) { *eof = 1 ; return sa->len > 0 ; }
    if (c == '\n') return 1 ;
    if (sa->len >= HDRMAX) strerr_dief(EX_DATAERR, "header line too long") ;
    if (!stralloc_catb(sa, &c, 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
  }
}

/* A header field start: "Name:" with printable non-space name characters. */
static size_t fieldname (char const *s, size_t len)
{
  size_t i = 0 ;
  while (i < len && s[i] > 32 && s[i] < 127 && s[i] != ':') i++ ;
  return i && i < len && s[i] == ':' ? i : 0 ;
}

static int isfield (char const *s, size_t len, size_t nl, char const *name)
{
  return nl == strlen(name) && !strncasecmp(s, name, nl) && len >= nl ;
}

static void xtext_encode (stralloc *sa, char const *s)
{
  static char const hex[] = "0123456789ABCDEF" ;
  for (; *s ; s++)
  {
    unsigned char c = *s ;
    if (c < 33 || c > 126 || c == '+' || c == '=')
    {
      char t[3] = { '+', hex[c >> 4], hex[c & 15] } ;
      if (!stralloc_catb(sa, t, 3)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    }
    else if (!stralloc_catb(sa, (char *)&c, 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
  }
}

static void add_rcpts (stralloc *sa, char const *s, size_t len)
{
  if (tern_addrlist(sa, s, len) < 0) strerr_diefusys(EX_OSERR, "allocate memory") ;
}

/* RFC 3461 4.1: NEVER, or SUCCESS, FAILURE and DELAY separated by commas */
static int notify_ok (char const *s)
{
  if (!strcasecmp(s, "never")) return 1 ;
  while (*s)
  {
    size_t n = str_chr(s, ',') ;
    if (!((n == 7 && (!strncasecmp(s, "success", 7) || !strncasecmp(s, "failure", 7)))
       || (n == 5 && !strncasecmp(s, "delay", 5)))) return 0 ;
    s += n ;
    if (*s && !*++s) return 0 ;
  }
  return 1 ;
}

static int addr_ok (char const *a)
{
  if (!*a || strlen(a) > 1000) return 0 ;
  for (; *a ; a++) if ((unsigned char)*a < 32 || *a == 127) return 0 ;
  return 1 ;
}

int main (int argc, char const *const *argv)
{
  subgetopt l = SUBGETOPT_ZERO ;
  char const *sender = 0, *fullname = 0, *notify = 0, *ret = 0, *envid = 0 ;
  int opt_t = 0 ;
  int seen_date = 0, seen_msgid = 0, seen_from = 0, eof = 0, bodyfirst = 0 ;
  int skipping = 0, infield = 0 ;
  PROG = "sendmail" ;

  for (;;)
  {
    int opt = subgetopt_r(argc, argv, "tif:r:F:N:R:V:B:b:o:O:h:L:C:X:q:vUGmeEx", &l) ;
    if (opt == -1) break ;
    switch (opt)
    {
      case 't' : opt_t = 1 ; break ;
      case 'i' : opt_i = 1 ; break ;
      case 'f' : case 'r' : sender = l.arg ; break ;
      case 'F' : fullname = l.arg ; break ;
      case 'N' :
        notify = l.arg ;
        if (!notify_ok(notify)) strerr_dief(EX_USAGE, "-N wants never, or a list of success, failure, delay") ;
        break ;
      case 'R' :
        ret = l.arg ;
        if (strcasecmp(ret, "full") && strcasecmp(ret, "hdrs")) strerr_dief(EX_USAGE, "-R wants full or hdrs") ;
        break ;
      case 'V' : envid = l.arg ; break ;
      case 'o' :
        /* -oi is -i; -oem, -odi, -odb, -oQ... are accepted and ignored */
        if (l.arg[0] == 'i' && !l.arg[1]) opt_i = 1 ;
        break ;
      case 'b' :
        if (l.arg[0] == 'm' && !l.arg[1]) break ;
        if (l.arg[0] == 'p' && !l.arg[1])
        {
          char const *mq[2] = { 0, 0 } ;
          if (!tern_path(&qpath, tern_libexec(), "mailq")) strerr_diefusys(EX_OSERR, "allocate memory") ;
          mq[0] = qpath.s ;
          xexec(mq) ;
        }
        if (l.arg[0] == 'i' && !l.arg[1])
        {
          char const *na[2] = { 0, 0 } ;
          if (!tern_path(&qpath, tern_libexec(), "newaliases")) strerr_diefusys(EX_OSERR, "allocate memory") ;
          na[0] = qpath.s ;
          xexec(na) ;
        }
        strerr_dief(EX_USAGE, "-b", l.arg, " is not supported (only -bm, -bp, -bi)") ;
      case 'q' : strerr_dief(EX_USAGE, "-q is not supported: queue-run delivers on its own; send it SIGALRM to retry now") ;
      case 'B' : case 'O' : case 'h' : case 'L' : case 'C' : case 'X' :
      case 'v' : case 'U' : case 'G' : case 'm' : case 'e' : case 'E' : case 'x' :
        break ;  /* accepted and ignored, as listed in sendmail(8) */
      default : strerr_dieusage(EX_USAGE, USAGE) ;
    }
  }
  argc -= l.ind ; argv += l.ind ;
  if (!argc && !opt_t) strerr_dief(EX_USAGE, "no recipients given (and no -t)") ;
  if (!tern_cfg_me(&me)) strerr_diefusys(EX_TEMPFAIL, "read etc/me") ;

  {
    struct passwd *pw = getpwuid(getuid()) ;
    if (pw) { if (!stralloc_copys(&user, pw->pw_name)) strerr_diefusys(EX_OSERR, "allocate memory") ; }
    else
    {
      char fmt[UINT_FMT] ;
      if (!stralloc_copyb(&user, fmt, uint_fmt(fmt, getuid()))) strerr_diefusys(EX_OSERR, "allocate memory") ;
    }
    if (!stralloc_0(&user)) strerr_diefusys(EX_OSERR, "allocate memory") ;
  }
  if (sender)
  {
    size_t n = strlen(sender) ;
    if (n >= 2 && sender[0] == '<' && sender[n-1] == '>') { sender++ ; n -= 2 ; }
    if (!stralloc_copyb(&senderbuf, sender, n) || !stralloc_0(&senderbuf)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (senderbuf.len > 1 && !addr_ok(senderbuf.s)) strerr_dief(EX_USAGE, "bad sender address") ;
  }
  else
  {
    if (!stralloc_copyb(&senderbuf, user.s, user.len - 1)
     || !stralloc_catb(&senderbuf, "@", 1) || !stralloc_cats(&senderbuf, me.s) || !stralloc_0(&senderbuf)) strerr_diefusys(EX_OSERR, "allocate memory") ;
  }

  for (int i = 0 ; i < argc ; i++) add_rcpts(&rcpts, argv[i], strlen(argv[i])) ;

  /* The header section: into memory, Bcc: dropped, recipients taken. */
  for (;;)
  {
    size_t nl ;
    if (!getline_hdr(&line, &eof)) break ;
    if (!line.len) { bodyfirst = 0 ; break ; }
    if (!opt_i && line.len == 1 && line.s[0] == '.') { eof = 1 ; break ; }
    if (hdr.len + env.len + line.len > HDRMAX) strerr_dief(EX_DATAERR, "header section too large") ;
    if (line.s[0] == ' ' || line.s[0] == '\t')
    {
      /* a continuation, unless no field came before it (a Bcc: dropped
         first counts as a field) */
      if (!infield) { bodyfirst = 1 ; break ; }
      if (!skipping && (!stralloc_cat(&hdr, &line) || !stralloc_catb(&hdr, "\n", 1))) strerr_diefusys(EX_OSERR, "allocate memory") ;
      if (skipping && opt_t && !stralloc_cat(&env, &line)) strerr_diefusys(EX_OSERR, "allocate memory") ;
      continue ;
    }
    nl = fieldname(line.s, line.len) ;
    if (!nl) { bodyfirst = 1 ; break ; }
    infield = 1 ;
    skipping = 0 ;
    if (isfield(line.s, line.len, nl, "Date")) seen_date = 1 ;
    else if (isfield(line.s, line.len, nl, "Message-ID")) seen_msgid = 1 ;
    else if (isfield(line.s, line.len, nl, "From")) seen_from = 1 ;
    else if (isfield(line.s, line.len, nl, "Bcc")) skipping = 1 ;
    if (!skipping && (!stralloc_cat(&hdr, &line) || !stralloc_catb(&hdr, "\n", 1))) strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (skipping && opt_t)
    {
      /* keep the Bcc: field aside, unfolded later with its continuations */
      if (!stralloc_catb(&env, ",", 1) || !stralloc_catb(&env, line.s + nl + 1, line.len - nl - 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    }
  }
  if (opt_t)
  {
    /* To:, Cc: (and Bcc:, kept in env above) with their continuation lines */
    size_t i = 0 ;
    while (i < hdr.len)
    {
      size_t e = byte_chr(hdr.s + i, hdr.len - i, '\n') ;
      size_t nl = fieldname(hdr.s + i, e) ;
      if (nl && (isfield(hdr.s + i, e, nl, "To") || isfield(hdr.s + i, e, nl, "Cc")))
      {
        size_t start = i + nl + 1, end = i + e + 1 ;
        while (end < hdr.len && (hdr.s[end] == ' ' || hdr.s[end] == '\t'))
          end += byte_chr(hdr.s + end, hdr.len - end, '\n') + 1 ;
        add_rcpts(&rcpts, hdr.s + start, end - start) ;
        i = end ;
        continue ;
      }
      i += e + 1 ;
    }
    if (env.len) add_rcpts(&rcpts, env.s, env.len) ;
    env.len = 0 ;
  }
  if (!rcpts.len) strerr_dief(EX_USAGE, "no recipients") ;
  for (size_t i = 0 ; i < rcpts.len ; i += strlen(rcpts.s + i) + 1)
    if (!addr_ok(rcpts.s + i)) strerr_dief(EX_DATAERR, "bad recipient address: ", rcpts.s + i) ;

  /* queue-add, with the message on its fd 0 and the envelope on its fd 1 */
  {
    int pm[2], pe[2], wstat ;
    pid_t pid ;
    char const *qargv[2] = { 0, 0 } ;
    char date[TERN_DATE822_LEN] ;
    char fmt[UINT64_FMT] ;
    buffer b ;
    char bbuf[65536] ;
    if (!tern_path(&qpath, tern_libexec(), "queue-add")) strerr_diefusys(EX_OSERR, "allocate memory") ;
    qargv[0] = qpath.s ;
    if (pipe2(pm, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) strerr_diefusys(EX_OSERR, "pipe") ;
    sig_ignore(SIGPIPE) ;
    {
      int fds[2] = { pm[0], pe[0] } ;
      pid = tern_spawn(qpath.s, qargv, (char const *const *)environ, fds, 2) ;
      if (!pid) strerr_diefusys(EX_TEMPFAIL, "spawn ", qpath.s) ;
    }
    fd_close(pm[0]) ; fd_close(pe[0]) ;
    buffer_init(&b, &buffer_write, pm[1], bbuf, sizeof bbuf) ;

    date[tern_date822(date, time(0))] = 0 ;
    if (!stralloc_cats(&out, "Received: (from ") || !stralloc_cats(&out, user.s)
     || !stralloc_cats(&out, " uid ") || !stralloc_catb(&out, fmt, uint64_fmt(fmt, getuid()))
     || !stralloc_cats(&out, ")\n\tby ") || !stralloc_cats(&out, me.s)
     || !stralloc_cats(&out, " (tern sendmail);\n\t") || !stralloc_cats(&out, date)
     || !stralloc_catb(&out, "\n", 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (!seen_date && (!stralloc_cats(&out, "Date: ") || !stralloc_cats(&out, date) || !stralloc_catb(&out, "\n", 1)))
      strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (!seen_msgid && (!stralloc_cats(&out, "Message-ID: ") || !tern_msgid(&out, me.s) || !stralloc_catb(&out, "\n", 1)))
      strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (!seen_from)
    {
      if (!stralloc_cats(&out, "From: ")) strerr_diefusys(EX_OSERR, "allocate memory") ;
      if (fullname && *fullname)
      {
        /* a quoted-string display name (RFC 5322 3.2.4) */
        if (!stralloc_catb(&out, "\"", 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
        for (char const *p = fullname ; *p ; p++)
        {
          if ((unsigned char)*p < 32) continue ;
          if ((*p == '"' || *p == '\\') && !stralloc_catb(&out, "\\", 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
          if (!stralloc_catb(&out, p, 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
        }
        if (!stralloc_cats(&out, "\" <")) strerr_diefusys(EX_OSERR, "allocate memory") ;
      }
      if (!stralloc_cats(&out, senderbuf.len > 1 ? senderbuf.s : user.s)) strerr_diefusys(EX_OSERR, "allocate memory") ;
      if (fullname && *fullname && !stralloc_catb(&out, ">", 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
      if (!stralloc_catb(&out, "\n", 1)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    }
    if (!buffer_putallnoflush(&b, out.s, out.len) || !buffer_putallnoflush(&b, hdr.s, hdr.len)) goto writefail ;
    if (!eof || bodyfirst)
    {
      /* the body: streamed, CRLF as LF; without -i a line "." ends it
         (bodyfirst: the line that ended the header section is the body's
         first, even when it was the input's last and had no LF) */
      int bol = 1, dot = 0 ;
      char c ;
      if (!buffer_putallnoflush(&b, "\n", 1)) goto writefail ;
      if (bodyfirst)
      {
        if (!buffer_putallnoflush(&b, line.s, line.len) || !buffer_putallnoflush(&b, "\n", 1)) goto writefail ;
      }
      while (getlchar(&c))
      {
        if (dot)
        {
          dot = 0 ;
          if (c == '\n') break ;
          if (!buffer_putallnoflush(&b, ".", 1)) goto writefail ;
        }
        else if (bol && c == '.' && !opt_i) { dot = 1 ; bol = 0 ; continue ; }
        if (buffer_put(&b, &c, 1) < 0) goto writefail ;
        bol = c == '\n' ;
      }
      if (dot && !buffer_putallnoflush(&b, ".", 1)) goto writefail ;
    }
    if (!buffer_flush(&b)) goto writefail ;
    fd_close(pm[1]) ;

    /* the envelope */
    env.len = 0 ;
    if (!stralloc_catb(&env, "F", 1) || !stralloc_catb(&env, senderbuf.s, senderbuf.len)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (has8bit && !stralloc_catb(&env, "PBODY=8BITMIME", 15)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (ret && (!stralloc_cats(&env, "PRET=") || !stralloc_cats(&env, ret) || !stralloc_0(&env))) strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (envid)
    {
      if (!stralloc_cats(&env, "PENVID=")) strerr_diefusys(EX_OSERR, "allocate memory") ;
      xtext_encode(&env, envid) ;
      if (!stralloc_0(&env)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    }
    {
      int utf8 = 0 ;
      for (size_t i = 0 ; i < rcpts.len ; i++) if ((unsigned char)rcpts.s[i] >= 128) utf8 = 1 ;
      for (size_t i = 0 ; i < senderbuf.len ; i++) if ((unsigned char)senderbuf.s[i] >= 128) utf8 = 1 ;
      if (utf8 && !stralloc_catb(&env, "PSMTPUTF8", 10)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    }
    for (size_t i = 0 ; i < rcpts.len ; i += strlen(rcpts.s + i) + 1)
    {
      if (!stralloc_catb(&env, "T", 1) || !stralloc_cats(&env, rcpts.s + i) || !stralloc_0(&env)) strerr_diefusys(EX_OSERR, "allocate memory") ;
      if (notify && (!stralloc_cats(&env, "PNOTIFY=") || !stralloc_cats(&env, notify) || !stralloc_0(&env))) strerr_diefusys(EX_OSERR, "allocate memory") ;
    }
    if (!stralloc_0(&env)) strerr_diefusys(EX_OSERR, "allocate memory") ;
    if (allwrite(pe[1], env.s, env.len) != env.len) goto writefail ;
    fd_close(pe[1]) ;
    if (waitpid_nointr(pid, &wstat, 0) < 0) strerr_diefusys(EX_OSERR, "wait for queue-add") ;
    if (WIFSIGNALED(wstat)) strerr_dief(EX_TEMPFAIL, "queue-add was killed: message not queued") ;
    switch (WEXITSTATUS(wstat))
    {
      case 0 : return 0 ;
      case 11 : strerr_dief(EX_DATAERR, "address too long: message not queued") ;
      default :
        if (WEXITSTATUS(wstat) >= 11 && WEXITSTATUS(wstat) <= 40) strerr_dief(EX_DATAERR, "the queue refused the message") ;
        strerr_dief(EX_TEMPFAIL, "the queue is unavailable: message not queued, try again later") ;
    }
   writefail:
    {
      int e = errno ;
      fd_close(pm[1]) ; fd_close(pe[1]) ;
      waitpid_nointr(pid, &wstat, 0) ;
      errno = e ;
      strerr_diefusys(EX_TEMPFAIL, "pass the message to queue-add: message not queued") ;
    }
  }
}
