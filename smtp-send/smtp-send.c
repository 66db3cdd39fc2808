/* smtp-send: the SMTP client (RFC 5321) for one message to one domain,
   run by queue-run as ternr. The message is on fd 0 (LF line ends, a
   queue file positioned at the body); the targets are the -H smarthosts
   or what mxlookup prints for the recipients' domain, tried in order.
   Prints exactly one line per recipient, in argument order:
   "ok|defer|fail RECIPIENT CODE TEXT", CODE being the server's 3-digit
   reply code when a reply decided, else an RFC 3463 enhanced code of its
   own.

   The session is a straight sequence (greeting, EHLO, STARTTLS and EHLO
   again, AUTH for smarthosts, the transaction, QUIT); every read has a
   deadline (RFC 5321 4.5.3.2), every reply line is bounded and parsed
   once. Only net_recv and net_send touch the socket; net_fill and
   net_flush go through the BearSSL engine once TLS is on. PIPELINING
   (RFC 2920) sends MAIL, the RCPTs and DATA in one write; SIZE (RFC 1870),
   8BITMIME (RFC 6152, with the quoted-printable downgrade of
   lib/tern_mime_7bit.c when it is not offered), SMTPUTF8 (RFC 6531), DSN
   (RFC 3461) and AUTH PLAIN/LOGIN (RFC 4954, 4616) as the server offers
   them.

   STARTTLS (RFC 3207) is opportunistic by default: an exchanger's
   certificate can seldom be verified for its name, so any certificate
   is taken for encryption. The X.509 engine below wraps BearSSL's
   minimal engine, which always runs the real verification (trust
   anchors, dates, the exchanger's name); when that fails, the
   end-entity certificate's key, decoded apart, is handed to the engine
   anyway, and the log says verified=no with the reason. etc/tls-policy
   raises or lowers that per domain (none, may, encrypt, verify). */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <skalibs/types.h>
#include <skalibs/bytestr.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/buffer.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/tai.h>
#include <skalibs/iopause.h>
#include <skalibs/djbunix.h>
#include <skalibs/socket.h>
#include <skalibs/ip46.h>
#include <skalibs/sig.h>
#include <skalibs/fmtscan.h>
#include <skalibs/genalloc.h>
#include <skalibs/random.h>

#include <bearssl.h>

#include "tern.h"

#define USAGE "smtp-send [ -H host[:port] ]... [ -a authfile ] -f sender [ -o param ]... -- rcpt[TAB params]..."
#define dieusage() strerr_dieusage(100, USAGE)

#define MAXHOSTS 16        /* -H options */
#define MAXTARGETS 100     /* addresses tried */
#define REPLYLINE 1024     /* octets of a reply line kept (RFC 5321 4.5.3.1.5: 512) */
#define REPLYLINES 1000    /* lines of one reply */
#define TEXTMAX 400        /* octets of reply text in a result line */
#define EHLOMAX 16384      /* octets of EHLO keywords kept */
#define MXOUTMAX 65536     /* octets of mxlookup output read */
#define MXERRMAX 4096
#define DNSTIMEOUT 300     /* seconds for mxlookup */
#define QUITTIMEOUT 10     /* seconds for the reply to QUIT */
#define AUTHFILEMAX 4096
#define MAXTIME 3600       /* seconds for the whole run, by default: below queue-run's QUEUE_JOBTIMEOUT */
#define CAFILE "/etc/ssl/certs/ca-certificates.crt"
#define CAFILEMAX (8 << 20) /* octets of the trust anchors file */

extern char **environ ;

/* ---- configuration, read once at start ---- */

static struct
{
  char const *sender ;
  char const *hosts[MAXHOSTS] ;
  unsigned int nhosts ;
  char const *domain ;          /* the recipients' domain (without -H) */
  stralloc authuser ;
  stralloc authpass ;
  int smtputf8 ;                /* -o SMTPUTF8 */
  char const *ret ;             /* -o RET=, as recorded */
  char const *envid ;           /* -o ENVID=, xtext as recorded */
  unsigned int tconnect, tgreet, tcmd, tdata, tblock, tfinal ;
  tain runend ;                 /* SMTPSEND_MAXTIME from the start: no deadline goes past it */
  uint16_t port ;
  stralloc me ;
  char const *cafile ;          /* the trust anchors: $SMTPSEND_CAFILE, else CAFILE */
  stralloc policy ;             /* etc/tls-policy: for each line, name NUL level-octet */
} cf = { .authuser = STRALLOC_ZERO, .authpass = STRALLOC_ZERO, .me = STRALLOC_ZERO, .policy = STRALLOC_ZERO } ;

/* the TLS policy levels (etc/tls-policy) */
enum { TLS_NONE, TLS_MAY, TLS_ENCRYPT, TLS_VERIFY } ;
static char const *const level_name[] = { "none", "may", "encrypt", "verify" } ;

/* ---- recipients and their results ---- */

enum { R_PENDING, R_ACCEPTED, R_DONE } ;

typedef struct rcpt_s rcpt ;
struct rcpt_s
{
  char *addr ;
  char const *params ;          /* after the TAB, space-separated, or 0 */
  unsigned char state ;
  char verdict ;                /* 'o' ok, 'd' defer, 'f' fail, once R_DONE */
  char *result ;                /* "CODE TEXT" */
} ;

static rcpt *rcpts ;
static unsigned int nrcpt ;
static int transacted = 0 ;     /* some server accepted MAIL */
static int need_utf8 = 0 ;      /* non-ASCII addresses, or -o SMTPUTF8 with a non-ASCII header */

/* the reason given to recipients left pending when the targets run out */
static stralloc why = STRALLOC_ZERO ;
static int whyrank = -1 ;       /* 0 local or network, 1 a server's reply */

/* Targets that will never take this message (no SMTPUTF8 when it is
   needed, a SIZE too small): the recipients fail only when every target
   tried said so, with the first one's reason (nowhy: "CODE TEXT"). */
static unsigned int ntried = 0, nsaidno = 0 ;
static int saidno ;             /* the last session ended that way */
static stralloc nowhy = STRALLOC_ZERO ;

/* ---- the message ---- */

static struct
{
  int fd ;
  off_t start ;
  uint64_t size ;               /* RFC 1870 estimate: octets with CRLF line ends */
  int has8bit ;
  int hdr8bit ;
  int scanned ;                 /* leaves and size7 computed */
  stralloc leaves ;
  uint64_t size7 ;              /* the estimate after the 8BITMIME downgrade */
} msg = { .fd = 0, .leaves = STRALLOC_ZERO } ;

/* ---- the connection ---- */

typedef struct target_s target ;
struct target_s
{
  char host[256] ;
  ip46 ip ;
  uint16_t port ;
  unsigned char level ;         /* TLS_*, from etc/tls-policy */
  unsigned char plain ;         /* the plain-text pass: no STARTTLS */
  unsigned char tlsfail ;       /* STARTTLS or its handshake failed under "may" */
} ;

static struct
{
  int fd ;
  target const *t ;
  char ipfmt[IP6_FMT] ;
  char portfmt[UINT16_FMT] ;
  size_t ipos, ilen ;
  size_t olen ;
  int neterr ;                  /* the last data_put failure was the network's */
  char ibuf[4096] ;
  char obuf[65536] ;
} net = { .fd = -1 } ;

static struct
{
  int pipelining, eightbit, smtputf8, dsn, size, starttls, authplain, authlogin ;
  uint64_t sizelimit ;          /* 0: none advertised */
} ext ;

typedef struct reply_s reply ;
struct reply_s
{
  unsigned int code ;
  stralloc text ;               /* lines joined by " / ", control characters removed, capped */
  stralloc lines ;              /* EHLO: each line's text, NUL-terminated */
} ;
#define REPLY_ZERO { .code = 0, .text = STRALLOC_ZERO, .lines = STRALLOC_ZERO }

static void dienomem (void) gccattr_noreturn ;

/* ---- results ---- */

static char *dupstr2 (char const *a, char const *b)
{
  size_t al = strlen(a), bl = strlen(b) ;
  char *s = malloc(al + bl + 2) ;
  if (!s) dienomem() ;
  memcpy(s, a, al) ;
  if (bl) { s[al] = ' ' ; memcpy(s + al + 1, b, bl) ; s[al + 1 + bl] = 0 ; }
  else s[al] = 0 ;
  return s ;
}

static char const *verdict_word (char v)
{
  return v == 'o' ? "ok" : v == 'f' ? "fail" : "defer" ;
}

static void set_result (rcpt *r, char verdict, char const *code, char const *text)
{
  free(r->result) ;
  r->result = dupstr2(code, text) ;
  r->verdict = verdict ;
  r->state = R_DONE ;
  strerr_warni("result rcpt=<", r->addr, "> status=", verdict_word(verdict),
    " host=", net.t ? net.t->host : "-", " reply=", r->result) ;
}

static void set_reply_verdict (rcpt *r, reply const *rp, char v)
{
  char code[4] = { '0' + rp->code / 100, '0' + rp->code / 10 % 10, '0' + rp->code % 10, 0 } ;
  set_result(r, v, code, rp->text.s) ;  /* getreply NUL-terminated it */
}

/* the verdict of a reply: 2xx ok, 5xx fail, anything else defer */
static void set_reply (rcpt *r, reply const *rp, int okclass)
{
  set_reply_verdict(r, rp, rp->code / 100 == 5 ? 'f' : rp->code / 100 == 2 && okclass ? 'o' : 'd') ;
}

static void all_pending (char verdict, char const *code, char const *text)
{
  for (unsigned int i = 0 ; i < nrcpt ; i++)
    if (rcpts[i].state != R_DONE) set_result(rcpts + i, verdict, code, text) ;
}

static void setwhy (int rank, char const *code, char const *text)
{
  if (rank <= whyrank) return ;
  whyrank = rank ;
  why.len = 0 ;
  if (!stralloc_cats(&why, code) || !stralloc_catb(&why, " ", 1) || !stralloc_cats(&why, text) || !stralloc_0(&why)) dienomem() ;
}

static void setwhy_reply (reply const *rp)
{
  char code[4] = { '0' + rp->code / 100, '0' + rp->code / 10 % 10, '0' + rp->code % 10, 0 } ;
  setwhy(1, code, rp->text.s) ;
}

/* Prints the result lines and exits: 100 if every line is fail because
   the domain takes no mail (the caller says so), 111 if every line is
   defer and no server accepted a transaction, else 0. */
static void finish (int e) gccattr_noreturn ;
static int finishing = 0 ;
static void finish (int e)
{
  stralloc out = STRALLOC_ZERO ;
  int alldefer = 1 ;
  finishing = 1 ;
  if (ntried && nsaidno == ntried)
  {
    char *sp = strchr(nowhy.s, ' ') ;
    *sp = 0 ;
    all_pending('f', nowhy.s, sp + 1) ;
    *sp = ' ' ;
  }
  if (whyrank < 0) setwhy(0, "4.4.0", "no mail exchanger could be tried") ;
  for (unsigned int i = 0 ; i < nrcpt ; i++)
  {
    rcpt *r = rcpts + i ;
    if (r->state != R_DONE)
    {
      char *sp = strchr(why.s, ' ') ;
      *sp = 0 ;
      set_result(r, 'd', why.s, sp + 1) ;
      *sp = ' ' ;
    }
    if (r->verdict != 'd') alldefer = 0 ;
    if (!stralloc_cats(&out, verdict_word(r->verdict)) || !stralloc_catb(&out, " ", 1)
     || !stralloc_cats(&out, r->addr) || !stralloc_catb(&out, " ", 1)
     || !stralloc_cats(&out, r->result) || !stralloc_catb(&out, "\n", 1)) dienomem() ;
  }
  if (buffer_putflush(buffer_1, out.s, out.len) < 0) strerr_diefusys(111, "write to stdout") ;
  if (!e && alldefer && !transacted) e = 111 ;
  _exit(e) ;
}

static void dienomem (void)
{
  /* the results still go out: every pending recipient is deferred */
  static char oom[] = "4.3.0 out of memory" ;
  if (finishing) strerr_diefu(111, "allocate memory for the results") ;
  for (unsigned int i = 0 ; i < nrcpt ; i++)
    if (rcpts[i].state != R_DONE) { rcpts[i].state = R_DONE ; rcpts[i].verdict = 'd' ; rcpts[i].result = oom ; }
  strerr_warnw("out of memory") ;
  finish(111) ;
}

/* A local trouble after the arguments: everything not yet final is deferred. */
static void die_defer (char const *code, char const *text) gccattr_noreturn ;
static void die_defer (char const *code, char const *text)
{
  strerr_warnw(code, " ", text) ;
  all_pending('d', code, text) ;
  finish(111) ;
}

static void die_defer_sys (char const *what) gccattr_noreturn ;
static void die_defer_sys (char const *what)
{
  char const *e = strerror(errno) ;
  stralloc sa = STRALLOC_ZERO ;
  if (!stralloc_cats(&sa, what) || !stralloc_catb(&sa, ": ", 2) || !stralloc_cats(&sa, e) || !stralloc_0(&sa)) dienomem() ;
  die_defer("4.3.0", sa.s) ;
}

/* ---- time ---- */

/* secs from now, or the end of the run if sooner: a server that sends a
   byte every few minutes cannot keep this run (and its slot in
   queue-run) forever */
static void deadline_in (tain *d, unsigned int secs)
{
  tain_now_g() ;
  tain_addsec_g(d, secs) ;
  if (tain_less(&cf.runend, d)) *d = cf.runend ;
}

static int run_over (void)
{
  tain_now_g() ;
  return !tain_less(&STAMP, &cf.runend) ;
}

/* ---- the network: only net_recv and net_send touch the socket ---- */

static ssize_t net_recv (char *s, size_t n)
{
  return fd_read(net.fd, s, n) ;
}

static ssize_t net_send (char const *s, size_t n)
{
  return fd_write(net.fd, s, n) ;
}

/* events: IOPAUSE_READ, IOPAUSE_WRITE or both */
static int net_wait (int events, tain const *deadline)
{
  iopause_fd x = { .fd = net.fd, .events = events } ;
  for (;;)
  {
    int r = iopause_g(&x, 1, deadline) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    if (!r) return (errno = ETIMEDOUT, 0) ;
    if (x.revents & (x.events | IOPAUSE_EXCEPT)) return 1 ;
  }
}

static void tls_off (void) ;

static void net_close (void)
{
  if (net.fd >= 0) fd_close(net.fd) ;
  net.fd = -1 ;
  net.ipos = net.ilen = net.olen = 0 ;
  tls_off() ;
}

static int net_connect (target const *t)
{
  tain deadline ;
  int fd ;
  net.t = t ;
  net.ipfmt[ip46_fmt(net.ipfmt, &t->ip)] = 0 ;
  net.portfmt[uint16_fmt(net.portfmt, t->port)] = 0 ;
  fd = socket_tcp46_nbcoe(t->ip.is6) ;
  if (fd < 0) return 0 ;
  deadline_in(&deadline, cf.tconnect) ;
  if (!socket_deadlineconnstamp46_g(fd, &t->ip, t->port, &deadline))
  {
    int e = errno ;
    fd_close(fd) ;
    errno = e ;
    return 0 ;
  }
  net.fd = fd ;
  net.ipos = net.ilen = net.olen = 0 ;
  return 1 ;
}

/* ---- TLS: BearSSL's client engine over the socket ---- */

/* The X.509 engine: BearSSL's minimal engine does the verification
   (chain to a trust anchor, dates, the host name) and its verdict is
   kept; a decoder reads the end-entity certificate alongside, so that
   its key is there when the verdict is no. end_chain refuses only when
   the policy asks for verification, or when no key could be decoded. */

#define XW_NONAME 1             /* verified, but there was no host name to check (an address) */

typedef struct xwrap_s xwrap ;
struct xwrap_s
{
  br_x509_class const *vtable ;
  br_x509_minimal_context mini ;
  br_x509_decoder_context dec ;
  unsigned int ncerts ;
  unsigned int err ;            /* 0 verified, XW_NONAME, or the minimal engine's BR_ERR_X509_* */
  int require ;                 /* policy verify: refuse what does not verify */
  int noname ;
} ;

static void xw_start_chain (br_x509_class const **ctx, char const *name)
{
  xwrap *x = (xwrap *)ctx ;
  x->ncerts = 0 ;
  x->err = BR_ERR_X509_EMPTY_CHAIN ;
  x->mini.vtable->start_chain(&x->mini.vtable, name) ;
}

static void xw_start_cert (br_x509_class const **ctx, uint32_t len)
{
  xwrap *x = (xwrap *)ctx ;
  if (!x->ncerts) br_x509_decoder_init(&x->dec, 0, 0) ;
  x->mini.vtable->start_cert(&x->mini.vtable, len) ;
}

static void xw_append (br_x509_class const **ctx, unsigned char const *s, size_t len)
{
  xwrap *x = (xwrap *)ctx ;
  if (!x->ncerts) br_x509_decoder_push(&x->dec, s, len) ;
  x->mini.vtable->append(&x->mini.vtable, s, len) ;
}

static void xw_end_cert (br_x509_class const **ctx)
{
  xwrap *x = (xwrap *)ctx ;
  x->mini.vtable->end_cert(&x->mini.vtable) ;
  x->ncerts++ ;
}

static unsigned xw_end_chain (br_x509_class const **ctx)
{
  xwrap *x = (xwrap *)ctx ;
  x->err = x->mini.vtable->end_chain(&x->mini.vtable) ;
  if (!x->err && x->noname) x->err = XW_NONAME ;
  if (!x->err) return 0 ;
  if (x->require) return x->err == XW_NONAME ? BR_ERR_X509_BAD_SERVER_NAME : x->err ;
  if (!x->ncerts) return BR_ERR_X509_EMPTY_CHAIN ;
  return br_x509_decoder_last_error(&x->dec) ;  /* 0: the key is there */
}

static br_x509_pkey const *xw_get_pkey (br_x509_class const *const *ctx, unsigned *usages)
{
  xwrap *x = (xwrap *)ctx ;
  if (!x->err) return x->mini.vtable->get_pkey(&x->mini.vtable, usages) ;
  /* not verified: the key for the key exchange, whatever the certificate says it is for */
  if (usages) *usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN ;
  return br_x509_decoder_get_pkey(&x->dec) ;
}

static br_x509_class const xw_vtable =
{
  sizeof(xwrap), &xw_start_chain, &xw_start_cert, &xw_append, &xw_end_cert, &xw_end_chain, &xw_get_pkey
} ;

/* BearSSL's full client list without 3DES: forward secrecy and AEAD first */
static uint16_t const suites[] =
{
  BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
  BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
  BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
  BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
  BR_TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
  BR_TLS_ECDHE_ECDSA_WITH_AES_256_CCM,
  BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
  BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
  BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
  BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
  BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
  BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
  BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
  BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
  BR_TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384,
  BR_TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384,
  BR_TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256,
  BR_TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256,
  BR_TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384,
  BR_TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384,
  BR_TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA,
  BR_TLS_ECDH_RSA_WITH_AES_128_CBC_SHA,
  BR_TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA,
  BR_TLS_ECDH_RSA_WITH_AES_256_CBC_SHA,
  BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
  BR_TLS_RSA_WITH_AES_128_CCM,
  BR_TLS_RSA_WITH_AES_256_CCM,
  BR_TLS_RSA_WITH_AES_128_CBC_SHA256,
  BR_TLS_RSA_WITH_AES_256_CBC_SHA256,
  BR_TLS_RSA_WITH_AES_128_CBC_SHA,
  BR_TLS_RSA_WITH_AES_256_CBC_SHA
} ;

struct tls_s
{
  int on ;                      /* the session is inside TLS */
  int err ;                     /* the engine's last error, when it closed */
  br_ssl_client_context cc ;
  xwrap xw ;
  int loaded ;                  /* the trust anchors were read (once, at the first STARTTLS) */
  stralloc tadata ;
  genalloc tas ;                /* br_x509_trust_anchor, pointing into tadata */
  unsigned char buf[BR_SSL_BUFSIZE_BIDI] ;
} ;
static struct tls_s tls = { .on = 0, .loaded = 0, .tadata = STRALLOC_ZERO, .tas = GENALLOC_ZERO } ;

static void tls_off (void)
{
  tls.on = 0 ;
}

/* Moves records between the engine and the socket until the engine's
   state has a bit of want, or with want 0 until it has no record left to
   send. 0 with errno: ETIMEDOUT, EPIPE (closed, or closed by the peer's
   close_notify: tls.err 0), ECONNABORTED (a TLS error: tls.err), or the
   socket's error. */
static int tls_run (unsigned int want, tain const *deadline)
{
  br_ssl_engine_context *eng = &tls.cc.eng ;
  for (;;)
  {
    unsigned int st = br_ssl_engine_current_state(eng) ;
    int events = 0 ;
    if (st & BR_SSL_CLOSED)
    {
      tls.err = br_ssl_engine_last_error(eng) ;
      return (errno = tls.err ? ECONNABORTED : EPIPE, 0) ;
    }
    if (want ? st & want : !(st & BR_SSL_SENDREC)) return 1 ;
    if (st & BR_SSL_SENDREC)
    {
      size_t len ;
      unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len) ;
      ssize_t r = net_send((char const *)buf, len) ;
      if (r > 0) { br_ssl_engine_sendrec_ack(eng, r) ; continue ; }
      if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;
      events |= IOPAUSE_WRITE ;
    }
    if (st & BR_SSL_RECVREC)
    {
      size_t len ;
      unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len) ;
      ssize_t r = net_recv((char *)buf, len) ;
      if (r > 0) { br_ssl_engine_recvrec_ack(eng, r) ; continue ; }
      if (!r) return (errno = EPIPE, 0) ;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;
      events |= IOPAUSE_READ ;
    }
    if (!events) return (tls.err = BR_ERR_BAD_STATE, errno = ECONNABORTED, 0) ;
    if (!net_wait(events, deadline)) return 0 ;
  }
}

/* Writes what is buffered; the deadline moves on with each write that
   makes progress (RFC 5321 4.5.3.2.5, the data block timeout). */
static int net_flush (unsigned int secs)
{
  size_t w = 0 ;
  tain deadline ;
  deadline_in(&deadline, secs) ;
  if (tls.on)
  {
    br_ssl_engine_context *eng = &tls.cc.eng ;
    int ok = 1 ;
    while (ok && w < net.olen)
    {
      size_t len ;
      unsigned char *buf ;
      if (!tls_run(BR_SSL_SENDAPP, &deadline)) { ok = 0 ; break ; }
      buf = br_ssl_engine_sendapp_buf(eng, &len) ;
      if (len > net.olen - w) len = net.olen - w ;
      memcpy(buf, net.obuf + w, len) ;
      br_ssl_engine_sendapp_ack(eng, len) ;
      w += len ;
      deadline_in(&deadline, secs) ;
    }
    if (ok)
    {
      br_ssl_engine_flush(eng, 0) ;
      ok = tls_run(0, &deadline) ;
    }
    net.olen = 0 ;
    return ok ;
  }
  while (w < net.olen)
  {
    ssize_t r = net_send(net.obuf + w, net.olen - w) ;
    if (r > 0) { w += r ; deadline_in(&deadline, secs) ; continue ; }
    if ((r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || !net_wait(IOPAUSE_WRITE, &deadline)) { net.olen = 0 ; return 0 ; }
  }
  net.olen = 0 ;
  return 1 ;
}

static int net_put (char const *s, size_t n)
{
  while (n)
  {
    size_t w = sizeof net.obuf - net.olen ;
    if (w > n) w = n ;
    memcpy(net.obuf + net.olen, s, w) ;
    net.olen += w ; s += w ; n -= w ;
    if (net.olen == sizeof net.obuf && !net_flush(cf.tblock)) return 0 ;
  }
  return 1 ;
}

static int net_fill (tain const *deadline)
{
  if (tls.on)
  {
    br_ssl_engine_context *eng = &tls.cc.eng ;
    size_t len ;
    unsigned char *buf ;
    if (!tls_run(BR_SSL_RECVAPP, deadline)) return 0 ;
    buf = br_ssl_engine_recvapp_buf(eng, &len) ;
    if (len > sizeof net.ibuf) len = sizeof net.ibuf ;
    memcpy(net.ibuf, buf, len) ;
    br_ssl_engine_recvapp_ack(eng, len) ;
    net.ipos = 0 ; net.ilen = len ;
    return 1 ;
  }
  for (;;)
  {
    ssize_t r = net_recv(net.ibuf, sizeof net.ibuf) ;
    if (r > 0) { net.ipos = 0 ; net.ilen = r ; return 1 ; }
    if (!r) return (errno = EPIPE, 0) ;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return 0 ;
    if (!net_wait(IOPAUSE_READ, deadline)) return 0 ;
  }
}

/* One reply line without its CRLF; octets past REPLYLINE are read and dropped. */
static int net_getline (char *line, size_t *len, tain const *deadline)
{
  size_t n = 0 ;
  for (;;)
  {
    char const *p, *nl ;
    size_t avail, k, take ;
    if (net.ipos == net.ilen && !net_fill(deadline)) return 0 ;
    p = net.ibuf + net.ipos ;
    avail = net.ilen - net.ipos ;
    nl = memchr(p, '\n', avail) ;
    k = nl ? (size_t)(nl - p) : avail ;
    take = k < REPLYLINE - n ? k : REPLYLINE - n ;
    memcpy(line + n, p, take) ;
    n += take ;
    net.ipos += k + !!nl ;
    if (nl) break ;
  }
  if (n && line[n-1] == '\r') n-- ;
  *len = n ;
  return 1 ;
}

static void text_add (stralloc *sa, char const *s, size_t n)
{
  size_t start = sa->len ;
  if (sa->len >= TEXTMAX) return ;
  if (sa->len && !stralloc_catb(sa, " / ", 3)) dienomem() ;
  for (size_t i = 0 ; i < n && sa->len < TEXTMAX ; i++)
  {
    unsigned char c = s[i] ;
    if (c < 32 || c == 127) continue ;
    if (!stralloc_catb(sa, s + i, 1)) dienomem() ;
  }
  if (sa->len == start + 3 && start) sa->len = start ;  /* an empty line adds nothing */
}

static int getreply_lines (reply *r, tain const *deadline, int keeplines)
{
  for (unsigned int n = 0 ;; n++)
  {
    char line[REPLYLINE] ;
    size_t len ;
    if (n >= REPLYLINES) return (errno = EPROTO, 0) ;
    if (!net_getline(line, &len, deadline)) return 0 ;
    if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9'
     || (len > 3 && line[3] != ' ' && line[3] != '-'))
      return (errno = EPROTO, 0) ;
    if (!n) r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') ;
    if (len > 4) text_add(&r->text, line + 4, len - 4) ;
    if (keeplines && r->lines.len + len < EHLOMAX)
      if (!stralloc_catb(&r->lines, len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0) || !stralloc_0(&r->lines)) dienomem() ;
    if (len == 3 || line[3] == ' ') return 1 ;
  }
}

/* Reads one reply, multi-line aware (RFC 5321 4.2.1), within secs.
   0 with errno: ETIMEDOUT, EPIPE (closed), EPROTO (not a reply); then
   the code is 0 and the reply is no reply at all: the caller must treat
   the connection as lost. Either way the text is NUL-terminated. */
static int getreply (reply *r, unsigned int secs, int keeplines)
{
  tain deadline ;
  int ok, e ;
  deadline_in(&deadline, secs) ;
  r->code = 0 ;
  r->text.len = 0 ;
  r->lines.len = 0 ;
  ok = getreply_lines(r, &deadline, keeplines) ;
  e = errno ;
  if (!ok) { r->code = 0 ; r->text.len = 0 ; }
  if (!stralloc_0(&r->text)) dienomem() ;
  r->text.len-- ;
  errno = e ;
  return ok ;
}

static int command (char const *s, size_t n, unsigned int secs)
{
  return net_put(s, n) && net_flush(secs) ;
}

/* ---- session stages, for the reasons and the log ---- */

enum { ST_GREETING, ST_EHLO, ST_HELO, ST_AUTH, ST_MAIL, ST_RCPT, ST_DATA, ST_BODY, ST_DOT, ST_STARTTLS } ;
static char const *const stage_name[] =
{
  "greeting", "EHLO", "HELO", "AUTH", "MAIL", "RCPT", "DATA", "message data", "end of data", "STARTTLS"
} ;

/* "HOST [IP]:PORT" */
static void cat_peer (stralloc *sa)
{
  if (!stralloc_cats(sa, net.t->host) || !stralloc_catb(sa, " [", 2) || !stralloc_cats(sa, net.ipfmt)
   || !stralloc_catb(sa, "]:", 2) || !stralloc_cats(sa, net.portfmt)) dienomem() ;
}

static char const *neterr_text (int e)
{
  if (e == ETIMEDOUT && run_over()) return "out of time (SMTPSEND_MAXTIME)" ;
  return e == ETIMEDOUT ? "timed out" : e == EPIPE ? "connection closed" : e == EPROTO ? "bad reply"
   : e == ECONNABORTED ? "TLS error" : strerror(e) ;
}

/* The connection failed at stage: a reason for the recipients left pending. */
static void lost (unsigned int stage)
{
  int e = errno ;
  stralloc sa = STRALLOC_ZERO ;
  cat_peer(&sa) ;
  if (!stralloc_catb(&sa, ": ", 2) || !stralloc_cats(&sa, neterr_text(e)) || !stralloc_cats(&sa, " during ")
   || !stralloc_cats(&sa, stage_name[stage]) || !stralloc_0(&sa)) dienomem() ;
  strerr_warni("session host=", net.t->host, " ip=", net.ipfmt, " stage=", stage_name[stage], " status=", neterr_text(e)) ;
  setwhy(0, e == EPROTO ? "4.5.0" : "4.4.2", sa.s) ;
  stralloc_free(&sa) ;
  net_close() ;
}

static void quit (void)
{
  reply rp = REPLY_ZERO ;
  if (net.fd < 0) return ;
  if (command("QUIT\r\n", 6, QUITTIMEOUT) && getreply(&rp, cf.tcmd < QUITTIMEOUT ? cf.tcmd : QUITTIMEOUT, 0) && tls.on)
  {
    /* close_notify, best effort; the server's is not waited for */
    tain deadline ;
    deadline_in(&deadline, QUITTIMEOUT) ;
    br_ssl_engine_close(&tls.cc.eng) ;
    tls_run(0, &deadline) ;
  }
  stralloc_free(&rp.text) ;
  stralloc_free(&rp.lines) ;
  net_close() ;
}

/* a refusal before the transaction: this server will not do, try the next */
static void refused (reply const *rp, unsigned int stage)
{
  char fmt[UINT_FMT] ;
  fmt[uint_fmt(fmt, rp->code)] = 0 ;
  strerr_warni("session host=", net.t->host, " ip=", net.ipfmt, " stage=", stage_name[stage], " status=", fmt) ;
  setwhy_reply(rp) ;
  quit() ;
}

/* This server will never take the message (code: 5.x.y): the next
   target is tried; the recipients are deferred with the reason as 4.x.y
   unless every target says the same. */
static void said_no (char const *code, char const *text, char const *status)
{
  char c4[16] ;
  size_t n = strlen(code) ;
  strerr_warni("session host=", net.t->host, " ip=", net.ipfmt, " stage=", stage_name[ST_MAIL], " status=", status) ;
  if (!nowhy.len && (!stralloc_cats(&nowhy, code) || !stralloc_catb(&nowhy, " ", 1) || !stralloc_cats(&nowhy, text) || !stralloc_0(&nowhy))) dienomem() ;
  if (n >= sizeof c4) n = sizeof c4 - 1 ;
  memcpy(c4, code, n) ;
  c4[n] = 0 ;
  c4[0] = '4' ;
  setwhy(1, c4, text) ;
  saidno = 1 ;
  quit() ;
}

/* ---- EHLO ---- */

static void tls_refuse (int, char const *, char const *, char const *, char const *) ;

static void ehlo_parse (reply const *rp)
{
  size_t pos = strlen(rp->lines.s) + 1 ;  /* the first line is the greeting */
  memset(&ext, 0, sizeof ext) ;
  for (; pos < rp->lines.len ; pos += strlen(rp->lines.s + pos) + 1)
  {
    char const *s = rp->lines.s + pos ;
    size_t kl = 0 ;
    while (s[kl] && s[kl] != ' ' && s[kl] != '=') kl++ ;
    if (kl == 10 && !strncasecmp(s, "PIPELINING", 10)) ext.pipelining = 1 ;
    else if (kl == 8 && !strncasecmp(s, "8BITMIME", 8)) ext.eightbit = 1 ;
    else if (kl == 8 && !strncasecmp(s, "SMTPUTF8", 8)) ext.smtputf8 = 1 ;
    else if (kl == 3 && !strncasecmp(s, "DSN", 3)) ext.dsn = 1 ;
    else if (kl == 8 && !strncasecmp(s, "STARTTLS", 8)) ext.starttls = 1 ;
    else if (kl == 4 && !strncasecmp(s, "SIZE", 4))
    {
      uint64_t n ;
      ext.size = 1 ;
      if (s[4] == ' ' && uint640_scan(s + 5, &n) && n) ext.sizelimit = n ;
    }
    else if (kl == 4 && !strncasecmp(s, "AUTH", 4))
    {
      /* "AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN" */
      char const *p = s + 4 ;
      while (*p)
      {
        size_t l ;
        while (*p == ' ' || *p == '=') p++ ;
        for (l = 0 ; p[l] && p[l] != ' ' ; l++) ;
        if (l == 5 && !strncasecmp(p, "PLAIN", 5)) ext.authplain = 1 ;
        else if (l == 5 && !strncasecmp(p, "LOGIN", 5)) ext.authlogin = 1 ;
        p += l ;
      }
    }
  }
}

/* 1 greeted, 0 try the next target */
static int hello (reply *rp)
{
  stralloc sa = STRALLOC_ZERO ;
  if (!stralloc_cats(&sa, "EHLO ") || !stralloc_cat(&sa, &cf.me) || !stralloc_catb(&sa, "\r\n", 2)) dienomem() ;
  if (!command(sa.s, sa.len, cf.tcmd) || !getreply(rp, cf.tcmd, 1)) { stralloc_free(&sa) ; lost(ST_EHLO) ; return 0 ; }
  if (rp->code / 100 == 2) { stralloc_free(&sa) ; ehlo_parse(rp) ; return 1 ; }
  if (rp->code / 100 != 5) { stralloc_free(&sa) ; refused(rp, ST_EHLO) ; return 0 ; }
  /* RFC 5321 3.2: a server that does not know EHLO gets HELO */
  memset(&ext, 0, sizeof ext) ;
  sa.s[0] = 'H' ; sa.s[1] = 'E' ;
  if (!command(sa.s, sa.len, cf.tcmd) || !getreply(rp, cf.tcmd, 0)) { stralloc_free(&sa) ; lost(ST_HELO) ; return 0 ; }
  stralloc_free(&sa) ;
  if (rp->code / 100 != 2) { refused(rp, ST_HELO) ; return 0 ; }
  return 1 ;
}

/* ---- STARTTLS (RFC 3207) ---- */

/* etc/tls-policy's level for a domain or smarthost name: its own line,
   else the "*" line, else may */
static unsigned int policy_level (char const *name)
{
  size_t n = strlen(name), pos = 0 ;
  int star = -1 ;
  if (n > 1 && name[n-1] == '.') n-- ;
  while (pos < cf.policy.len)
  {
    char const *e = cf.policy.s + pos ;
    size_t el = strlen(e) ;
    unsigned int level = (unsigned char)e[el + 1] ;
    if (el == n && !strncasecmp(e, name, n)) return level ;
    if (el == 1 && e[0] == '*' && star < 0) star = level ;
    pos += el + 2 ;
  }
  return star >= 0 ? (unsigned int)star : TLS_MAY ;
}

static int text_ok (char const *, int) ;

/* Read once at start: "NAME LEVEL" lines. A line that does not parse
   defers everything: a mistyped "verify" must not become "may". */
static void policy_read (void)
{
  stralloc lines = STRALLOC_ZERO ;
  if (!tern_cfg_lines(&lines, "tls-policy"))
  {
    if (errno == ENOENT) return ;
    die_defer_sys("read etc/tls-policy") ;
  }
  for (size_t pos = 0 ; pos < lines.len ; pos += strlen(lines.s + pos) + 1)
  {
    char *s = lines.s + pos ;
    size_t n = strlen(s), k = 0, v ;
    unsigned int level = 0 ;
    while (k < n && s[k] != ' ' && s[k] != '\t') k++ ;
    v = k ;
    while (v < n && (s[v] == ' ' || s[v] == '\t')) v++ ;
    while (level <= TLS_VERIFY && strcasecmp(s + v, level_name[level])) level++ ;
    if (v == k || level > TLS_VERIFY)
    {
      stralloc sa = STRALLOC_ZERO ;
      if (!stralloc_cats(&sa, "etc/tls-policy: invalid line (not \"NAME none|may|encrypt|verify\")")
       || (text_ok(s, 1) && (!stralloc_cats(&sa, ": ") || !stralloc_cats(&sa, s))) || !stralloc_0(&sa)) dienomem() ;
      die_defer("4.3.5", sa.s) ;
    }
    if (k > 1 && s[k-1] == '.') k-- ;
    {
      char c = level ;
      if (!stralloc_catb(&cf.policy, s, k) || !stralloc_0(&cf.policy) || !stralloc_catb(&cf.policy, &c, 1)) dienomem() ;
    }
  }
  stralloc_free(&lines) ;
}

/* The name to check the certificate against and to send as SNI (RFC
   6066 3: never an address): 0 when the target is known by its address only. */
static int tls_name (char const *host, char *name)
{
  size_t n = strlen(host) ;
  ip46 ip ;
  if (host[0] == '[' || ip46_scan(host, &ip) == n) return 0 ;
  if (n > 1 && host[n-1] == '.') n-- ;
  memcpy(name, host, n) ;
  name[n] = 0 ;
  return 1 ;
}

/* Once, at the first STARTTLS: without anchors nothing verifies, and
   opportunistic TLS goes on all the same. */
static void anchors_load (void)
{
  if (tls.loaded) return ;
  tls.loaded = 1 ;
  if (!tern_tls_anchors(cf.cafile, CAFILEMAX, &tls.tadata, &tls.tas))
  {
    strerr_warnwu2sys("read trust anchors from ", cf.cafile) ;
    tls.tadata.len = 0 ;
    genalloc_setlen(br_x509_trust_anchor, &tls.tas, 0) ;
  }
  else if (!genalloc_len(br_x509_trust_anchor, &tls.tas)) strerr_warnw("no usable trust anchor in ", cf.cafile) ;
}

static char const *x509_reason (unsigned int e)
{
  switch (e)
  {
    case XW_NONAME : return "no-host-name" ;
    case BR_ERR_X509_NOT_TRUSTED : return genalloc_len(br_x509_trust_anchor, &tls.tas) ? "untrusted" : "no-trust-anchors" ;
    case BR_ERR_X509_EXPIRED : return "expired" ;
    case BR_ERR_X509_BAD_SERVER_NAME : return "name-mismatch" ;
    case BR_ERR_X509_EMPTY_CHAIN : return "no-certificate" ;
    case BR_ERR_X509_TIME_UNKNOWN : return "time-unknown" ;
    case BR_ERR_X509_BAD_SIGNATURE : return "bad-signature" ;
    case BR_ERR_X509_NOT_CA : return "issuer-not-ca" ;
    case BR_ERR_X509_DN_MISMATCH : return "broken-chain" ;
    case BR_ERR_X509_CRITICAL_EXTENSION : return "unknown-critical-extension" ;
    case BR_ERR_X509_FORBIDDEN_KEY_USAGE : return "forbidden-key-usage" ;
    case BR_ERR_X509_WEAK_PUBLIC_KEY : return "weak-key" ;
    case BR_ERR_X509_UNSUPPORTED : case BR_ERR_X509_WRONG_KEY_TYPE : return "unsupported-certificate" ;
    default : return "invalid-certificate" ;
  }
}

/* Why a handshake failed, as one word: the engine's error err, else the
   socket's errno e. buf: room for 32 octets. */
static char const *tls_reason (char *buf, int err, int e)
{
  if (!err) return e == ETIMEDOUT ? "timed-out" : e == EPIPE ? "connection-closed" : e == ECONNRESET ? "connection-reset" : "network-error" ;
  if (err >= BR_ERR_X509_OK && err < BR_ERR_RECV_FATAL_ALERT) return x509_reason(err) ;
  if (err >= BR_ERR_RECV_FATAL_ALERT)
  {
    int sent = err >= BR_ERR_SEND_FATAL_ALERT ;
    size_t n = strlen(strcpy(buf, sent ? "sent-alert-" : "received-alert-")) ;
    buf[n + uint_fmt(buf + n, err - (sent ? BR_ERR_SEND_FATAL_ALERT : BR_ERR_RECV_FATAL_ALERT))] = 0 ;
    return buf ;
  }
  switch (err)
  {
    case BR_ERR_UNSUPPORTED_VERSION : return "unsupported-version" ;
    case BR_ERR_BAD_VERSION : return "bad-version" ;
    case BR_ERR_BAD_CIPHER_SUITE : return "no-common-cipher-suite" ;
    case BR_ERR_BAD_HANDSHAKE : return "bad-handshake" ;
    case BR_ERR_UNEXPECTED : return "unexpected-message" ;
    case BR_ERR_BAD_SIGNATURE : return "bad-signature" ;
    case BR_ERR_WRONG_KEY_USAGE : return "wrong-key-usage" ;
    case BR_ERR_INVALID_ALGORITHM : return "no-common-algorithm" ;
    case BR_ERR_NO_RANDOM : return "no-random" ;
    default :
    {
      size_t n = strlen(strcpy(buf, "tls-error-")) ;
      buf[n + uint_fmt(buf + n, err)] = 0 ;
      return buf ;
    }
  }
}

/* A target that will not do for TLS reasons: a reason for the
   recipients left pending, of rank 1 (it got further than a connection)
   when the policy decided, 0 when a plain-text attempt may follow. */
static void tls_refuse (int rank, char const *code, char const *a, char const *b, char const *c)
{
  stralloc sa = STRALLOC_ZERO ;
  cat_peer(&sa) ;
  if (!stralloc_catb(&sa, ": ", 2) || !stralloc_cats(&sa, a) || !stralloc_cats(&sa, b) || !stralloc_cats(&sa, c) || !stralloc_0(&sa)) dienomem() ;
  setwhy(rank, code, sa.s) ;
  stralloc_free(&sa) ;
}

/* The handshake, right after the 220: 1 the session is inside TLS. */
static int tls_handshake (target *t)
{
  br_ssl_engine_context *eng = &tls.cc.eng ;
  char name[sizeof t->host] ;
  char seed[32] ;
  char rbuf[32] ;
  tain deadline ;
  int named = tls_name(t->host, name) ;
  anchors_load() ;
  br_ssl_client_init_full(&tls.cc, &tls.xw.mini, genalloc_s(br_x509_trust_anchor, &tls.tas), genalloc_len(br_x509_trust_anchor, &tls.tas)) ;
  tls.xw.vtable = &xw_vtable ;
  tls.xw.require = t->level == TLS_VERIFY ;
  tls.xw.noname = !named ;
  tls.xw.err = BR_ERR_X509_EMPTY_CHAIN ;
  br_ssl_engine_set_x509(eng, &tls.xw.vtable) ;
  /* TLS 1.0 and 1.1 only where the alternative is plain text */
  br_ssl_engine_set_versions(eng, t->level == TLS_MAY ? BR_TLS10 : BR_TLS12, BR_TLS12) ;
  br_ssl_engine_set_suites(eng, suites, sizeof suites / sizeof suites[0]) ;
  br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION) ;
  br_ssl_engine_set_buffer(eng, tls.buf, sizeof tls.buf, 1) ;
  random_buf(seed, sizeof seed) ;
  br_ssl_engine_inject_entropy(eng, seed, sizeof seed) ;
  byte_zzero(seed, sizeof seed) ;
  tls.err = 0 ;
  deadline_in(&deadline, cf.tcmd) ;
  if (!br_ssl_client_reset(&tls.cc, named ? name : 0, 0))
  {
    tls.err = br_ssl_engine_last_error(eng) ;
    errno = ECONNABORTED ;
  }
  else if (tls_run(BR_SSL_SENDAPP, &deadline))
  {
    br_ssl_session_parameters sp ;
    unsigned int v = br_ssl_engine_get_version(eng) ;
    br_ssl_engine_get_session_parameters(eng, &sp) ;
    tls.on = 1 ;
    strerr_warni("tls host=", t->host, " ip=", net.ipfmt,
      " protocol=", v == BR_TLS12 ? "TLSv1.2" : v == BR_TLS11 ? "TLSv1.1" : v == BR_TLS10 ? "TLSv1" : "unknown",
      " cipher=", tern_tls_suite_name(sp.cipher_suite),
      tls.xw.err ? " verified=no reason=" : " verified=yes", tls.xw.err ? x509_reason(tls.xw.err) : "") ;
    return 1 ;
  }
  {
    /* refused by xw_end_chain for the policy, or failed on its own */
    int policy = tls.xw.require && tls.xw.err && tls.err >= BR_ERR_X509_OK && tls.err < BR_ERR_RECV_FATAL_ALERT ;
    char const *reason = policy ? x509_reason(tls.xw.err) : tls_reason(rbuf, tls.err, errno) ;
    strerr_warni("tls host=", t->host, " ip=", net.ipfmt, " status=failed reason=", reason) ;
    if (policy) tls_refuse(1, "4.7.5", "the certificate does not verify (", reason, "), and the TLS policy requires verification") ;
    else tls_refuse(t->level != TLS_MAY, "4.7.5", "TLS handshake failed (", reason, ")") ;
    t->tlsfail = t->level == TLS_MAY ;
    net_close() ;
    return 0 ;
  }
}

/* After EHLO: 1 go on (inside TLS, or in plain text where the policy
   allows it), 0 this target is done. */
static int starttls (target *t, reply *rp)
{
  if (t->plain || t->level == TLS_NONE) return 1 ;
  if (!ext.starttls)
  {
    if (t->level == TLS_MAY) return 1 ;
    strerr_warni("tls host=", t->host, " ip=", net.ipfmt, " status=not-offered policy=", level_name[t->level]) ;
    tls_refuse(1, "4.7.4", "STARTTLS not offered, and the TLS policy requires it (", level_name[t->level], ")") ;
    quit() ;
    return 0 ;
  }
  if (!command("STARTTLS\r\n", 10, cf.tcmd) || !getreply(rp, cf.tcmd, 0))
  {
    t->tlsfail = t->level == TLS_MAY ;
    lost(ST_STARTTLS) ;
    return 0 ;
  }
  if (rp->code != 220)
  {
    char fmt[UINT_FMT] ;
    fmt[uint_fmt(fmt, rp->code)] = 0 ;
    strerr_warni("tls host=", t->host, " ip=", net.ipfmt, " status=refused reply=", fmt) ;
    /* RFC 3207 4: the session goes on as it was, unless the server is closing it */
    if (t->level == TLS_MAY && rp->code != 421) return 1 ;
    refused(rp, ST_STARTTLS) ;
    return 0 ;
  }
  if (net.ipos < net.ilen)
  {
    /* RFC 3207 4.2 and 6: nothing said before TLS counts; an answer sent
       ahead of the handshake would be a reply injected in clear */
    char fmt[SIZE_FMT] ;
    fmt[size_fmt(fmt, net.ilen - net.ipos)] = 0 ;
    strerr_warnw("host=", t->host, " sent ", fmt, " octets after its 220 to STARTTLS: discarded") ;
    net.ipos = net.ilen = 0 ;
  }
  if (!tls_handshake(t)) return 0 ;
  return hello(rp) ;  /* RFC 3207 4.2: EHLO again, what the first one said is forgotten */
}

/* ---- AUTH (RFC 4954) with PLAIN (RFC 4616) or LOGIN ---- */

static int auth_line (stralloc *sa, char const *prefix, char const *s, size_t n)
{
  sa->len = 0 ;
  return stralloc_cats(sa, prefix) && tern_base64_encode(sa, s, n) && stralloc_catb(sa, "\r\n", 2) ;
}

/* 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 */
static int loopback (ip46 const *ip)
{
  static unsigned char const v6lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } ;
  static unsigned char const mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff } ;
  if (!ip->is6) return (unsigned char)ip->ip[0] == 127 ;
  return !memcmp(ip->ip, v6lo, 16) || (!memcmp(ip->ip, mapped, 12) && (unsigned char)ip->ip[12] == 127) ;
}

/* 1 authenticated (or nothing to do), 0 try the next target */
static int authenticate (reply *rp)
{
  stralloc sa = STRALLOC_ZERO ;
  int ok = 0 ;
  if (!cf.authuser.len) return 1 ;
  if (!ext.authplain && !ext.authlogin)
  {
    strerr_warnw("host=", net.t->host, " offers no AUTH PLAIN or LOGIN: sending without authentication") ;
    return 1 ;
  }
  if (!tls.on && net.t->level != TLS_NONE && !loopback(&net.t->ip))
  {
    /* the credentials never cross a network in clear: TLS, or this host, or the admin said none */
    strerr_warnw("host=", net.t->host, " ip=", net.ipfmt, ": no TLS: the credentials are not sent in clear") ;
    tls_refuse(1, "4.7.4", "no TLS, and AUTH credentials are not sent in clear", "", "") ;
    quit() ;
    return 0 ;
  }
  if (ext.authplain)
  {
    /* authzid empty, authcid, passwd (RFC 4616 2), as the initial response */
    size_t n = cf.authuser.len + cf.authpass.len + 2 ;
    char buf[n] ;
    buf[0] = 0 ;
    memcpy(buf + 1, cf.authuser.s, cf.authuser.len) ;
    buf[1 + cf.authuser.len] = 0 ;
    memcpy(buf + 2 + cf.authuser.len, cf.authpass.s, cf.authpass.len) ;
    ok = auth_line(&sa, "AUTH PLAIN ", buf, n) ;
    byte_zzero(buf, n) ;
    if (!ok) dienomem() ;
    ok = command(sa.s, sa.len, cf.tcmd) && getreply(rp, cf.tcmd, 0) ;
  }
  else
  {
    ok = command("AUTH LOGIN\r\n", 12, cf.tcmd) && getreply(rp, cf.tcmd, 0) ;
    if (ok && rp->code == 334)
    {
      if (!auth_line(&sa, "", cf.authuser.s, cf.authuser.len)) dienomem() ;
      ok = command(sa.s, sa.len, cf.tcmd) && getreply(rp, cf.tcmd, 0) ;
      if (ok && rp->code == 334)
      {
        byte_zzero(sa.s, sa.len) ;
        if (!auth_line(&sa, "", cf.authpass.s, cf.authpass.len)) dienomem() ;
        ok = command(sa.s, sa.len, cf.tcmd) && getreply(rp, cf.tcmd, 0) ;
      }
    }
  }
  if (sa.s) byte_zzero(sa.s, sa.a) ;
  stralloc_free(&sa) ;
  if (!ok) { lost(ST_AUTH) ; return 0 ; }
  if (rp->code != 235)
  {
    /* RFC 4954 4: "*" cancels; its reply (501) is what refuses */
    if (rp->code == 334 && (!command("*\r\n", 3, cf.tcmd) || !getreply(rp, cf.tcmd, 0))) { lost(ST_AUTH) ; return 0 ; }
    refused(rp, ST_AUTH) ;
    return 0 ;
  }
  strerr_warni("auth host=", net.t->host, " mechanism=", ext.authplain ? "PLAIN" : "LOGIN", " status=235") ;
  return 1 ;
}

/* ---- the message ---- */

/* the first pass: size estimate, 8-bit octets, and in the header section */
static void msg_init (void)
{
  char buf[65536] ;
  int inhdr = 1, bol = 1 ;
  uint64_t bytes = 0, lfs = 0 ;
  char last = '\n', prev = '\n' ;
  msg.start = lseek(msg.fd, 0, SEEK_CUR) ;
  if (msg.start < 0)
  {
    /* not a file: spool it once, unlinked at once */
    char const *tmpdir = getenv("TMPDIR") ;
    stralloc sa = STRALLOC_ZERO ;
    int fd ;
    if (errno != ESPIPE) die_defer_sys("lseek the message") ;
    if (!stralloc_cats(&sa, tmpdir && *tmpdir ? tmpdir : "/tmp") || !stralloc_cats(&sa, "/smtp-send.XXXXXX") || !stralloc_0(&sa)) dienomem() ;
    fd = mkostemp(sa.s, O_CLOEXEC) ;
    if (fd < 0) die_defer_sys("create a spool file") ;
    unlink(sa.s) ;
    stralloc_free(&sa) ;
    for (;;)
    {
      ssize_t r = fd_read(0, buf, sizeof buf) ;
      if (r < 0) die_defer_sys("read the message") ;
      if (!r) break ;
      if (allwrite(fd, buf, r) < (size_t)r) die_defer_sys("write the spool file") ;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) die_defer_sys("lseek the spool file") ;
    msg.fd = fd ;
    msg.start = 0 ;
  }
  for (;;)
  {
    ssize_t r = fd_read(msg.fd, buf, sizeof buf) ;
    if (r < 0) die_defer_sys("read the message") ;
    if (!r) break ;
    bytes += r ;
    for (ssize_t i = 0 ; i < r ; i++)
    {
      unsigned char c = buf[i] ;
      if (c == '\n')
      {
        if (prev != '\r') lfs++ ;  /* a CR already there is not doubled */
        prev = c ;
        if (inhdr && bol) inhdr = 0 ;
        bol = 1 ;
        continue ;
      }
      if (prev == '\r') lfs++ ;     /* a lone CR gets its LF (data_put) */
      if (c >= 128) { msg.has8bit = 1 ; if (inhdr) msg.hdr8bit = 1 ; }
      if (!(bol && c == '\r')) bol = 0 ;
      prev = c ;
    }
    last = buf[r-1] ;
  }
  msg.size = bytes + lfs + (last == '\r' ? 1 : last != '\n' ? 2 : 0) ;
}

static int msg_rewind (void)
{
  return lseek(msg.fd, msg.start, SEEK_SET) >= 0 ;
}

typedef struct count_s count_t ;
struct count_s { uint64_t n ; char last ; } ;

/* counts as data_put sends: every line end as CRLF */
static int count_sink (void *ctx, char const *s, size_t n)
{
  count_t *c = ctx ;
  c->n += n ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if ((s[i] == '\n') != (c->last == '\r')) c->n++ ;
    c->last = s[i] ;
  }
  return 1 ;
}

/* the downgrade's two passes: which leaves to convert, and the new size */
static void msg_scan7 (void)
{
  count_t c = { .n = 0, .last = '\n' } ;
  if (msg.scanned) return ;
  if (!msg_rewind() || !tern_mime_7bit(msg.fd, &msg.leaves, TERN_MIME_SCAN, 0, 0)) die_defer_sys("read the message") ;
  if (!msg_rewind() || !tern_mime_7bit(msg.fd, &msg.leaves, TERN_MIME_EMIT, &count_sink, &c)) die_defer_sys("read the message") ;
  msg.size7 = c.n + (c.last == '\r' ? 1 : c.last != '\n' ? 2 : 0) ;
  msg.scanned = 1 ;
}

/* ---- DATA: CRLF line ends and dot-stuffing (RFC 5321 4.5.2) ---- */

/* Every line end goes out as CRLF: LF, CRLF (not doubled) and a CR that
   no LF follows (RFC 5321 2.3.8: never a bare CR on the wire, which some
   receivers take for a line end: "<CR>.<CR>" must not end the data
   there). So a line on the wire is a line here, and its leading dot is
   doubled. stuff.cr: a CR went out, its LF not yet. */
static struct { int bol ; int cr ; } stuff ;

static int data_put (void *ctx, char const *s, size_t n)
{
  (void)ctx ;
  while (n)
  {
    size_t k = 0 ;
    if (stuff.cr)
    {
      stuff.cr = 0 ;
      stuff.bol = 1 ;
      if (!net_put("\n", 1)) goto err ;
      if (*s == '\n') { s++ ; n-- ; continue ; }
    }
    if (*s == '\n')
    {
      if (!net_put("\r\n", 2)) goto err ;
      stuff.bol = 1 ;
      s++ ; n-- ;
      continue ;
    }
    if (*s == '\r')
    {
      if (!net_put("\r", 1)) goto err ;
      stuff.cr = 1 ;
      s++ ; n-- ;
      continue ;
    }
    if (stuff.bol && *s == '.' && !net_put(".", 1)) goto err ;
    while (k < n && s[k] != '\r' && s[k] != '\n') k++ ;
    if (!net_put(s, k)) goto err ;
    stuff.bol = 0 ;
    s += k ; n -= k ;
  }
  return 1 ;
 err:
  net.neterr = 1 ;
  return 0 ;
}

/* 1 sent, 0 with net.neterr (the connection failed) or not (reading the message failed) */
static int send_body (int convert)
{
  stuff.bol = 1 ; stuff.cr = 0 ;
  net.neterr = 0 ;
  if (!msg_rewind()) return 0 ;
  if (convert)
  {
    if (!tern_mime_7bit(msg.fd, &msg.leaves, TERN_MIME_EMIT, &data_put, 0)) return 0 ;
  }
  else
  {
    char buf[65536] ;
    for (;;)
    {
      ssize_t r = fd_read(msg.fd, buf, sizeof buf) ;
      if (r < 0) return 0 ;
      if (!r) break ;
      if (!data_put(0, buf, r)) return 0 ;
    }
  }
  if (stuff.cr) { stuff.cr = 0 ; stuff.bol = 1 ; if (!net_put("\n", 1)) { net.neterr = 1 ; return 0 ; } }
  if ((!stuff.bol && !net_put("\r\n", 2)) || !net_put(".\r\n", 3) || !net_flush(cf.tblock)) { net.neterr = 1 ; return 0 ; }
  return 1 ;
}

/* ---- the transaction ---- */

static int is_param (char const *p, size_t n, char const *key)
{
  size_t kl = strlen(key) ;
  return n > kl && p[kl] == '=' && !strncasecmp(p, key, kl) ;
}

static void cat_mail (stralloc *sa, int convert)
{
  char fmt[UINT64_FMT] ;
  if (!stralloc_cats(sa, "MAIL FROM:<") || !stralloc_cats(sa, cf.sender) || !stralloc_catb(sa, ">", 1)) dienomem() ;
  if (ext.size)
  {
    fmt[uint64_fmt(fmt, convert ? msg.size7 : msg.size)] = 0 ;
    if (!stralloc_cats(sa, " SIZE=") || !stralloc_cats(sa, fmt)) dienomem() ;
  }
  if (msg.has8bit && ext.eightbit && !stralloc_cats(sa, " BODY=8BITMIME")) dienomem() ;
  if (ext.smtputf8 && (need_utf8 || cf.smtputf8) && !stralloc_cats(sa, " SMTPUTF8")) dienomem() ;
  if (ext.dsn)
  {
    if (cf.ret && (!stralloc_cats(sa, " RET=") || !stralloc_cats(sa, cf.ret))) dienomem() ;
    if (cf.envid && (!stralloc_cats(sa, " ENVID=") || !stralloc_cats(sa, cf.envid))) dienomem() ;
  }
  if (!stralloc_catb(sa, "\r\n", 2)) dienomem() ;
}

static void cat_rcpt (stralloc *sa, rcpt const *r)
{
  if (!stralloc_cats(sa, "RCPT TO:<") || !stralloc_cats(sa, r->addr) || !stralloc_catb(sa, ">", 1)) dienomem() ;
  if (ext.dsn && r->params)
  {
    char const *p = r->params ;
    while (*p)
    {
      size_t n = 0 ;
      while (p[n] && p[n] != ' ') n++ ;
      if (is_param(p, n, "NOTIFY") || is_param(p, n, "ORCPT"))
        if (!stralloc_catb(sa, " ", 1) || !stralloc_catb(sa, p, n)) dienomem() ;
      p += n ;
      while (*p == ' ') p++ ;
    }
  }
  if (!stralloc_catb(sa, "\r\n", 2)) dienomem() ;
}

/* back to pending: the transaction died before the end of data, nothing was delivered */
static void unaccept (void)
{
  for (unsigned int i = 0 ; i < nrcpt ; i++)
    if (rcpts[i].state == R_ACCEPTED) rcpts[i].state = R_PENDING ;
}

static void rcpt_reply (rcpt *r, reply const *rp)
{
  if (rp->code / 100 == 2) r->state = R_ACCEPTED ;
  /* RFC 5321 4.5.3.1.10: a 552 to RCPT is taken as 452 (too many
     recipients, in old servers' words): the recipient is deferred */
  else if (rp->code == 552) set_reply_verdict(r, rp, 'd') ;
  else set_reply(r, rp, 0) ;
}

static void accepted_reply (reply const *rp, int okclass)
{
  for (unsigned int i = 0 ; i < nrcpt ; i++)
    if (rcpts[i].state == R_ACCEPTED) set_reply(rcpts + i, rp, okclass) ;
}

static void accepted_result (char verdict, char const *code, char const *text)
{
  for (unsigned int i = 0 ; i < nrcpt ; i++)
    if (rcpts[i].state == R_ACCEPTED) set_result(rcpts + i, verdict, code, text) ;
}

/* 1 every recipient is final for this run, 0 try the next target */
static int transaction (reply *rp)
{
  stralloc sa = STRALLOC_ZERO ;
  int convert = msg.has8bit && !ext.eightbit ;
  unsigned int idx[nrcpt], n = 0, naccepted = 0 ;
  int mailok ;

  if (need_utf8 && !ext.smtputf8)
  {
    cat_peer(&sa) ;
    if (!stralloc_cats(&sa, " does not support SMTPUTF8, which this message needs (RFC 6531 3.2)") || !stralloc_0(&sa)) dienomem() ;
    said_no("5.6.7", sa.s, "no-smtputf8") ;
    stralloc_free(&sa) ;
    return 0 ;
  }
  if (convert) msg_scan7() ;
  if (ext.sizelimit && (convert ? msg.size7 : msg.size) > ext.sizelimit)
  {
    char fmt[UINT64_FMT] ;
    fmt[uint64_fmt(fmt, convert ? msg.size7 : msg.size)] = 0 ;
    if (!stralloc_cats(&sa, "message size ") || !stralloc_cats(&sa, fmt) || !stralloc_cats(&sa, " exceeds the limit of ")) dienomem() ;
    fmt[uint64_fmt(fmt, ext.sizelimit)] = 0 ;
    if (!stralloc_cats(&sa, fmt) || !stralloc_cats(&sa, " octets of ")) dienomem() ;
    cat_peer(&sa) ;
    if (!stralloc_0(&sa)) dienomem() ;
    said_no("5.3.4", sa.s, "too-big") ;
    stralloc_free(&sa) ;
    return 0 ;
  }
  for (unsigned int i = 0 ; i < nrcpt ; i++) if (rcpts[i].state == R_PENDING) idx[n++] = i ;

  if (ext.pipelining)
  {
    /* RFC 2920 3.1: MAIL, the RCPTs and DATA in one write */
    cat_mail(&sa, convert) ;
    for (unsigned int k = 0 ; k < n ; k++) cat_rcpt(&sa, rcpts + idx[k]) ;
    if (!stralloc_cats(&sa, "DATA\r\n")) dienomem() ;
    if (!command(sa.s, sa.len, cf.tcmd)) { stralloc_free(&sa) ; lost(ST_MAIL) ; return 0 ; }
    stralloc_free(&sa) ;
    if (!getreply(rp, cf.tcmd, 0)) { lost(ST_MAIL) ; return 0 ; }
    mailok = rp->code / 100 == 2 ;
    if (mailok) transacted = 1 ;
    else
    {
      /* the refusal decides; the replies to RCPT and DATA are read and dropped */
      reply x = REPLY_ZERO ;
      int ok = 1 ;
      for (unsigned int k = 0 ; ok && k <= n ; k++) ok = getreply(&x, k < n ? cf.tcmd : cf.tdata, 0) ;
      if (ok && x.code == 354) { command(".\r\n", 3, cf.tblock) ; getreply(&x, cf.tfinal, 0) ; }
      stralloc_free(&x.text) ;
      stralloc_free(&x.lines) ;
    }
  }
  else
  {
    cat_mail(&sa, convert) ;
    if (!command(sa.s, sa.len, cf.tcmd) || !getreply(rp, cf.tcmd, 0)) { stralloc_free(&sa) ; lost(ST_MAIL) ; return 0 ; }
    mailok = rp->code / 100 == 2 ;
    if (mailok) transacted = 1 ;
  }
  if (!mailok)
  {
    stralloc_free(&sa) ;
    if (rp->code == 552)
    {
      /* RFC 1870 6.1: too big for this server, maybe not for the next */
      char code[4] = { '5', '5', '2', 0 } ;
      said_no(code, rp->text.s, code) ;
      return 0 ;
    }
    if (rp->code / 100 == 5)
    {
      /* the sender is refused: no other exchanger will think otherwise */
      for (unsigned int k = 0 ; k < n ; k++) set_reply(rcpts + idx[k], rp, 0) ;
      quit() ;
      return 1 ;
    }
    refused(rp, ST_MAIL) ;
    return 0 ;
  }

  for (unsigned int k = 0 ; k < n ; k++)
  {
    rcpt *r = rcpts + idx[k] ;
    if (!ext.pipelining)
    {
      sa.len = 0 ;
      cat_rcpt(&sa, r) ;
      if (!command(sa.s, sa.len, cf.tcmd)) { stralloc_free(&sa) ; unaccept() ; lost(ST_RCPT) ; return 0 ; }
    }
    if (!getreply(rp, cf.tcmd, 0)) { stralloc_free(&sa) ; unaccept() ; lost(ST_RCPT) ; return 0 ; }
    rcpt_reply(r, rp) ;
    if (r->state == R_ACCEPTED) naccepted++ ;
  }
  stralloc_free(&sa) ;

  if (!ext.pipelining)
  {
    if (!naccepted) { quit() ; return 1 ; }
    if (!command("DATA\r\n", 6, cf.tcmd)) { unaccept() ; lost(ST_DATA) ; return 0 ; }
  }
  if (!getreply(rp, cf.tdata, 0)) { unaccept() ; lost(ST_DATA) ; return 0 ; }
  if (!naccepted)
  {
    /* RFC 2920 3.1: no recipient, yet 354: end an empty message */
    if (rp->code == 354 && (!command(".\r\n", 3, cf.tblock) || !getreply(rp, cf.tfinal, 0))) { net_close() ; return 1 ; }
    quit() ;
    return 1 ;
  }
  if (rp->code != 354)
  {
    accepted_reply(rp, 0) ;
    quit() ;
    return 1 ;
  }

  if (!send_body(convert))
  {
    if (!net.neterr)
    {
      int e = errno ;
      stralloc x = STRALLOC_ZERO ;
      if (!stralloc_cats(&x, "cannot read the message: ") || !stralloc_cats(&x, strerror(e)) || !stralloc_0(&x)) dienomem() ;
      net_close() ;
      accepted_result('d', "4.3.0", x.s) ;
      all_pending('d', "4.3.0", x.s) ;
      stralloc_free(&x) ;
      return 1 ;
    }
    unaccept() ;
    lost(ST_BODY) ;
    return 0 ;
  }
  if (!getreply(rp, cf.tfinal, 0))
  {
    /* the message may have been delivered: no other exchanger now (RFC 1047) */
    int e = errno ;
    stralloc x = STRALLOC_ZERO ;
    cat_peer(&x) ;
    if (!stralloc_catb(&x, ": ", 2) || !stralloc_cats(&x, neterr_text(e))
     || !stralloc_cats(&x, " after the end of data (the message may have been delivered)") || !stralloc_0(&x)) dienomem() ;
    strerr_warni("session host=", net.t->host, " ip=", net.ipfmt, " stage=", stage_name[ST_DOT], " status=", neterr_text(e)) ;
    accepted_result('d', e == EPROTO ? "4.5.0" : "4.4.2", x.s) ;
    stralloc_free(&x) ;
    net_close() ;
    return 1 ;
  }
  accepted_reply(rp, 1) ;
  quit() ;
  return 1 ;
}

/* 1 every recipient is final, 0 try the next target */
static int session (target *t)
{
  reply rp = REPLY_ZERO ;
  int r = 0 ;
  saidno = 0 ;
  if (!net_connect(t))
  {
    int e = errno ;
    stralloc sa = STRALLOC_ZERO ;
    cat_peer(&sa) ;
    if (!stralloc_cats(&sa, e == ECONNREFUSED ? ": connection refused" : e == ETIMEDOUT ? ": connection timed out" : ": cannot connect: ")
     || (e != ECONNREFUSED && e != ETIMEDOUT && !stralloc_cats(&sa, strerror(e))) || !stralloc_0(&sa)) dienomem() ;
    strerr_warni("connect host=", t->host, " ip=", net.ipfmt, " port=", net.portfmt, " status=", e == ECONNREFUSED ? "refused" : neterr_text(e)) ;
    setwhy(0, "4.4.1", sa.s) ;
    stralloc_free(&sa) ;
    return 0 ;
  }
  strerr_warni("connect host=", t->host, " ip=", net.ipfmt, " port=", net.portfmt, " status=connected") ;
  if (!getreply(&rp, cf.tgreet, 0)) { lost(ST_GREETING) ; goto end ; }
  if (rp.code / 100 != 2) { refused(&rp, ST_GREETING) ; goto end ; }
  if (!hello(&rp)) goto end ;
  if (!starttls(t, &rp)) goto end ;
  if (!authenticate(&rp)) goto end ;
  r = transaction(&rp) ;
 end:
  net.t = 0 ;
  stralloc_free(&rp.text) ;
  stralloc_free(&rp.lines) ;
  return r ;
}

static int pending (void)
{
  for (unsigned int i = 0 ; i < nrcpt ; i++) if (rcpts[i].state != R_DONE) return 1 ;
  return 0 ;
}

/* ---- targets: mxlookup's output ---- */

/* Runs mxlookup [-a] name: 1 with its exit code in *code, its output in
   out and its last fatal line in err; its stderr is logged as ours. */
static int mxlookup (char const *name, int hostonly, stralloc *out, stralloc *err, int *code)
{
  stralloc path = STRALLOC_ZERO ;
  char const *argv[5] ;
  unsigned int m = 0 ;
  int p1[2], p2[2], nullfd, wstat ;
  int fds[3] ;
  pid_t pid ;
  tain deadline ;
  if (!tern_path(&path, tern_libexec(), "mxlookup")) dienomem() ;
  argv[m++] = path.s ;
  if (hostonly) argv[m++] = "-a" ;
  argv[m++] = "--" ;
  argv[m++] = name ;
  argv[m++] = 0 ;
  nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC) ;
  if (nullfd < 0) die_defer_sys("open /dev/null") ;
  if (pipe2(p1, O_CLOEXEC) < 0 || pipe2(p2, O_CLOEXEC) < 0) die_defer_sys("pipe") ;
  fds[0] = nullfd ; fds[1] = p1[1] ; fds[2] = p2[1] ;
  pid = tern_spawn(path.s, argv, (char const *const *)environ, fds, 3) ;
  if (!pid) die_defer_sys("spawn mxlookup") ;
  fd_close(nullfd) ; fd_close(p1[1]) ; fd_close(p2[1]) ;
  if (ndelay_on(p1[0]) < 0 || ndelay_on(p2[0]) < 0) die_defer_sys("ndelay_on") ;
  out->len = 0 ; err->len = 0 ;
  deadline_in(&deadline, DNSTIMEOUT) ;
  {
    iopause_fd x[2] = { { .fd = p1[0], .events = IOPAUSE_READ }, { .fd = p2[0], .events = IOPAUSE_READ } } ;
    int open1 = 1, open2 = 1 ;
    while (open1 || open2)
    {
      iopause_fd *xp = open1 ? x : x + 1 ;
      unsigned int nx = open1 + open2 ;
      int r ;
      r = iopause_g(xp, nx, &deadline) ;
      if (r < 0) { if (errno == EINTR) continue ; die_defer_sys("iopause") ; }
      if (!r) { kill(pid, SIGKILL) ; break ; }
      for (unsigned int i = 0 ; i < nx ; i++)
      {
        char buf[4096] ;
        ssize_t n ;
        if (!(xp[i].revents & (IOPAUSE_READ | IOPAUSE_EXCEPT))) continue ;
        n = fd_read(xp[i].fd, buf, sizeof buf) ;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue ;
        if (n <= 0)
        {
          if (xp[i].fd == p1[0]) open1 = 0 ; else open2 = 0 ;
          continue ;
        }
        if (xp[i].fd == p1[0])
        {
          if (out->len < MXOUTMAX && !stralloc_catb(out, buf, (size_t)n < MXOUTMAX - out->len ? (size_t)n : MXOUTMAX - out->len)) dienomem() ;
        }
        else if (err->len < MXERRMAX && !stralloc_catb(err, buf, (size_t)n < MXERRMAX - err->len ? (size_t)n : MXERRMAX - err->len)) dienomem() ;
      }
    }
  }
  fd_close(p1[0]) ; fd_close(p2[0]) ;
  if (wait_pid(pid, &wstat) < 0) die_defer_sys("wait for mxlookup") ;
  *code = WIFEXITED(wstat) ? WEXITSTATUS(wstat) : -1 ;
  stralloc_free(&path) ;
  {
    /* relay its log lines; keep the fatal one's text for the results */
    size_t pos = 0, fatal = err->len, fatallen = 0 ;
    while (pos < err->len)
    {
      size_t nl = byte_chr(err->s + pos, err->len - pos, '\n') ;
      if (nl)
      {
        char line[nl + 1] ;
        memcpy(line, err->s + pos, nl) ;
        line[nl] = 0 ;
        for (size_t i = 0 ; i < nl ; i++) if ((unsigned char)line[i] < 32) line[i] = ' ' ;
        strerr_warn(line) ;
        if (nl > 17 && !memcmp(line, "mxlookup: fatal: ", 17)) { fatal = pos + 17 ; fatallen = nl - 17 ; }
      }
      pos += nl + 1 ;
    }
    if (fatal < err->len) { memmove(err->s, err->s + fatal, fatallen) ; err->len = fatallen ; }
    else err->len = 0 ;
    if (!stralloc_0(err)) dienomem() ;
    err->len-- ;
  }
  if (*code < 0) strerr_warnw("mxlookup crashed or timed out") ;
  return 1 ;
}

/* "X.Y.Z text" from mxlookup's fatal line, with a fallback code */
static void split_code (char *s, char const *fallback, char const **code, char const **text)
{
  char *sp = strchr(s, ' ') ;
  if (sp && sp - s >= 5 && sp - s <= 9 && s[1] == '.' && s[0] == fallback[0])
  {
    *sp = 0 ; *code = s ; *text = sp + 1 ;
  }
  else { *code = fallback ; *text = s ; }
}

/* Parses "PREF HOST ADDR" lines into targets; returns how many. */
static unsigned int targets_parse (char const *s, size_t len, target *t, unsigned int max, uint16_t port, unsigned int *prefs)
{
  unsigned int n = 0 ;
  size_t pos = 0 ;
  while (pos < len && n < max)
  {
    size_t nl = byte_chr(s + pos, len - pos, '\n'), i, hl ;
    char line[nl + 1] ;
    unsigned int pref ;
    memcpy(line, s + pos, nl) ;
    line[nl] = 0 ;
    pos += nl + 1 ;
    i = uint_scan(line, &pref) ;
    if (!i || line[i] != ' ') continue ;
    i++ ;
    hl = str_chr(line + i, ' ') ;
    if (!hl || !line[i + hl] || hl >= sizeof t[n].host) continue ;
    memcpy(t[n].host, line + i, hl) ;
    t[n].host[hl] = 0 ;
    i += hl + 1 ;
    {
      size_t al = ip46_scan(line + i, &t[n].ip) ;
      if (!al || line[i + al]) continue ;
    }
    t[n].port = port ;
    t[n].level = TLS_MAY ;
    t[n].plain = t[n].tlsfail = 0 ;
    if (prefs) prefs[n] = pref ;
    n++ ;
  }
  return n ;
}

/* "host", "host:port", "[v6addr]:port", "[IPv6:v6addr]", "v4addr:port", a bare v6addr */
static int hostport (char const *s, target *t, int *isip)
{
  size_t len = strlen(s), hl = len ;
  char const *port = 0 ;
  *isip = 0 ;
  t->port = cf.port ;
  t->level = TLS_MAY ;
  t->plain = t->tlsfail = 0 ;
  if (s[0] == '[')
  {
    char const *e = strchr(s, ']') ;
    if (!e) return 0 ;
    hl = e - s + 1 ;
    if (e[1] == ':') port = e + 2 ;
    else if (e[1]) return 0 ;
    if (!tern_addr_literal(s, hl, &t->ip)) return 0 ;
    *isip = 1 ;
  }
  else
  {
    char const *c = strchr(s, ':') ;
    if (c) { hl = c - s ; port = c + 1 ; }
    if (c && strchr(c + 1, ':')) { hl = len ; port = 0 ; }  /* a bare IPv6 address */
    if (!hl) return 0 ;
    {
      char tmp[hl + 3] ;
      tmp[0] = '[' ;
      memcpy(tmp + 1, s, hl) ;
      tmp[hl + 1] = ']' ;
      tmp[hl + 2] = 0 ;
      if (tern_addr_literal(tmp, hl + 2, &t->ip)) *isip = 1 ;
      else if (hl == len && c) return 0 ;
    }
    if (!*isip)
    {
      for (size_t i = 0 ; i < hl ; i++)
      {
        unsigned char ch = s[i] ;
        if (ch <= 32 || ch >= 127 || ch == '/' || ch == '@') return 0 ;
      }
    }
  }
  if (hl >= sizeof t->host) return 0 ;
  memcpy(t->host, s, hl) ;
  t->host[hl] = 0 ;
  if (port && (!uint160_scan(port, &t->port) || !t->port)) return 0 ;
  return 1 ;
}

/* the targets whose STARTTLS failed under "may", for the plain-text pass */
static target plainq[MAXTARGETS] ;
static unsigned int nplainq = 0 ;

/* the run is out of time: no other target */
static int out_of_time (void)
{
  if (!run_over()) return 0 ;
  setwhy(0, "4.4.2", "out of time: SMTPSEND_MAXTIME reached before a server took the message") ;
  return 1 ;
}

static void try_targets (target *t, unsigned int n)
{
  for (unsigned int i = 0 ; i < n && pending() && !out_of_time() ; i++)
  {
    t[i].tlsfail = 0 ;
    if (session(t + i)) break ;
    if (t[i].tlsfail && nplainq < MAXTARGETS)
    {
      /* counted in the plain-text pass */
      plainq[nplainq] = t[i] ;
      plainq[nplainq++].plain = 1 ;
      continue ;
    }
    ntried++ ;
    nsaidno += saidno ;
  }
}

/* Every target was tried; those where TLS failed under "may" are tried
   again without STARTTLS: opportunistic TLS never loses mail that plain
   text would deliver. */
static void try_plain (void)
{
  char fmt[UINT_FMT] ;
  if (!nplainq || !pending()) return ;
  fmt[uint_fmt(fmt, nplainq)] = 0 ;
  strerr_warnw("TLS failed with ", fmt, nplainq > 1 ? " servers" : " server", ": trying again in plain text") ;
  for (unsigned int i = 0 ; i < nplainq && pending() && !out_of_time() ; i++)
  {
    if (session(plainq + i)) break ;
    ntried++ ;
    nsaidno += saidno ;
  }
}

static void smarthosts (void)
{
  stralloc out = STRALLOC_ZERO, err = STRALLOC_ZERO ;
  for (unsigned int h = 0 ; h < cf.nhosts && pending() ; h++)
  {
    target t[MAXTARGETS] ;
    int isip, code ;
    unsigned int n ;
    if (!hostport(cf.hosts[h], t, &isip)) { strerr_warnw("invalid -H argument: ", cf.hosts[h]) ; ntried++ ; continue ; }
    t[0].level = policy_level(t[0].host) ;  /* the smarthost's name as given */
    if (isip) { try_targets(t, 1) ; continue ; }
    mxlookup(t[0].host, 1, &out, &err, &code) ;
    n = code ? 0 : targets_parse(out.s, out.len, t + 1, MAXTARGETS - 1, t[0].port, 0) ;
    if (!n)
    {
      stralloc sa = STRALLOC_ZERO ;
      if (!stralloc_cats(&sa, "cannot resolve the smarthost ") || !stralloc_cats(&sa, t[0].host)
       || (err.len && (!stralloc_catb(&sa, ": ", 2) || !stralloc_cat(&sa, &err))) || !stralloc_0(&sa)) dienomem() ;
      setwhy(0, "4.4.3", sa.s) ;
      stralloc_free(&sa) ;
      ntried++ ;   /* a smarthost that may take the message once it resolves */
      continue ;
    }
    for (unsigned int i = 1 ; i <= n ; i++) t[i].level = t[0].level ;
    try_targets(t + 1, n) ;
  }
  stralloc_free(&out) ;
  stralloc_free(&err) ;
  try_plain() ;
}

static void exchangers (void)
{
  stralloc out = STRALLOC_ZERO, err = STRALLOC_ZERO ;
  static target t[MAXTARGETS] ;
  unsigned int prefs[MAXTARGETS] ;
  unsigned int n, cut = UINT32_MAX ;
  int code ;
  char const *c, *text ;
  mxlookup(cf.domain, 0, &out, &err, &code) ;
  if (code == 100)
  {
    split_code(err.s, "5.1.2", &c, &text) ;
    all_pending('f', c, err.len ? text : "mail exchanger lookup failed permanently") ;
    finish(100) ;
  }
  if (code)
  {
    split_code(err.s, "4.4.3", &c, &text) ;
    all_pending('d', c, err.len ? text : "mail exchanger lookup failed") ;
    finish(111) ;
  }
  n = targets_parse(out.s, out.len, t, MAXTARGETS, cf.port, prefs) ;
  /* RFC 5321 5.1: this host and the less preferred exchangers are dropped */
  for (unsigned int i = 0 ; i < n ; i++)
  {
    size_t hl = strlen(t[i].host) ;
    if (hl && t[i].host[hl-1] == '.') hl-- ;
    if (hl == cf.me.len && !strncasecmp(t[i].host, cf.me.s, hl) && prefs[i] < cut) cut = prefs[i] ;
  }
  if (cut != UINT32_MAX)
  {
    unsigned int k = 0 ;
    for (unsigned int i = 0 ; i < n ; i++) if (prefs[i] < cut) t[k++] = t[i] ;
    n = k ;
    if (!n)
    {
      stralloc sa = STRALLOC_ZERO ;
      if (!stralloc_cats(&sa, "mail for ") || !stralloc_cats(&sa, cf.domain) || !stralloc_cats(&sa, " loops back to myself (")
       || !stralloc_cat(&sa, &cf.me) || !stralloc_cats(&sa, " is its best mail exchanger)") || !stralloc_0(&sa)) dienomem() ;
      all_pending('f', "5.4.6", sa.s) ;
      finish(100) ;
    }
  }
  if (!n)
  {
    all_pending('d', "4.4.3", "mxlookup printed no usable address") ;
    finish(111) ;
  }
  stralloc_free(&out) ;
  stralloc_free(&err) ;
  {
    unsigned int level = policy_level(cf.domain) ;
    for (unsigned int i = 0 ; i < n ; i++) t[i].level = level ;
  }
  try_targets(t, n) ;
  try_plain() ;
}

/* ---- arguments ---- */

static int text_ok (char const *s, int spaces)
{
  for (; *s ; s++)
  {
    unsigned char c = *s ;
    if (c < 32 || c == 127 || (!spaces && c == ' ')) return 0 ;
  }
  return 1 ;
}

static int has8 (char const *s)
{
  for (; *s ; s++) if ((unsigned char)*s >= 128) return 1 ;
  return 0 ;
}

/* first line: "USER PASSWORD" (the password is the rest of the line) */
static void read_authfile (char const *file)
{
  char buf[AUTHFILEMAX + 1] ;
  ssize_t r = openreadnclose(file, buf, sizeof buf) ;
  size_t n, i = 0, u ;
  if (r < 0) die_defer_sys("read the -a file") ;
  if ((size_t)r > AUTHFILEMAX) die_defer("4.3.5", "the -a file is too big") ;
  n = byte_chr(buf, r, '\n') ;
  if (n && buf[n-1] == '\r') n-- ;
  while (i < n && buf[i] != ' ' && buf[i] != '\t') i++ ;
  u = i ;
  while (i < n && (buf[i] == ' ' || buf[i] == '\t')) i++ ;
  if (!u || i >= n) { byte_zzero(buf, sizeof buf) ; die_defer("4.3.5", "the -a file has no \"user password\" first line") ; }
  if (!stralloc_catb(&cf.authuser, buf, u) || !stralloc_catb(&cf.authpass, buf + i, n - i)) dienomem() ;
  byte_zzero(buf, sizeof buf) ;
}

static unsigned int env_secs (char const *name, unsigned int def)
{
  unsigned int v ;
  if (!tern_env_uint(name, &v, def) || !v)
  {
    stralloc sa = STRALLOC_ZERO ;
    if (!stralloc_cats(&sa, "invalid $") || !stralloc_cats(&sa, name) || !stralloc_0(&sa)) dienomem() ;
    die_defer("4.3.5", sa.s) ;
  }
  return v ;
}

int main (int argc, char const *const *argv)
{
  char const *authfile = 0 ;
  PROG = "smtp-send" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "H:a:f:o:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'H' :
          if (cf.nhosts >= MAXHOSTS) strerr_dief(100, "too many -H options") ;
          cf.hosts[cf.nhosts++] = l.arg ;
          break ;
        case 'a' : authfile = l.arg ; break ;
        case 'f' : cf.sender = l.arg ; break ;
        case 'o' :
        {
          char const *p = l.arg ;
          if (!*p || !text_ok(p, 0)) strerr_dief(100, "invalid -o parameter: ", p) ;
          if (!strcasecmp(p, "SMTPUTF8")) cf.smtputf8 = 1 ;
          else if (!strncasecmp(p, "RET=", 4)) cf.ret = p + 4 ;
          else if (!strncasecmp(p, "ENVID=", 6)) cf.envid = p + 6 ;
          else if (!strncasecmp(p, "BODY=", 5)) ;  /* decided from the message itself */
          else strerr_warnw("ignoring the unknown MAIL parameter ", p) ;
          break ;
        }
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!cf.sender || !argc) dieusage() ;
  if (authfile && !cf.nhosts) strerr_dief(100, "-a needs -H: credentials go to smarthosts only") ;
  if (!text_ok(cf.sender, 1) || strchr(cf.sender, '<') || strchr(cf.sender, '>')) strerr_dief(100, "invalid sender: ", cf.sender) ;
  if (has8(cf.sender)) need_utf8 = 1 ;

  rcpts = calloc(argc, sizeof *rcpts) ;
  if (!rcpts) strerr_diefu(111, "allocate memory") ;
  for (int i = 0 ; i < argc ; i++)
  {
    rcpt *r = rcpts + i ;
    char const *tab = strchr(argv[i], '\t') ;
    size_t al = tab ? (size_t)(tab - argv[i]) : strlen(argv[i]) ;
    r->addr = malloc(al + 1) ;
    if (!r->addr) strerr_diefu(111, "allocate memory") ;
    memcpy(r->addr, argv[i], al) ;
    r->addr[al] = 0 ;
    r->params = tab ? tab + 1 : 0 ;
    if (!al || !text_ok(r->addr, 1) || strchr(r->addr, '<') || strchr(r->addr, '>') || (r->params && !text_ok(r->params, 1)))
      strerr_dief(100, "invalid recipient: ", argv[i]) ;
    if (has8(r->addr)) need_utf8 = 1 ;
    if (!cf.nhosts)
    {
      size_t at = tern_addr_domain(r->addr, al) ;
      char const *d = r->addr + at + 1 ;
      if (at >= al || !*d) strerr_dief(100, "recipient without a domain: ", r->addr) ;
      if (!cf.domain) cf.domain = d ;
      else if (strcasecmp(cf.domain, d)) strerr_dief(100, "recipients in different domains need -H: ", cf.domain, " and ", d) ;
    }
  }
  nrcpt = argc ;

  /* from here on, every recipient gets its line */
  if (sig_ignore(SIGPIPE) < 0) die_defer_sys("ignore SIGPIPE") ;
  tain_now_set_stopwatch_g() ;
  tain_now_g() ;
  {
    unsigned int all = 0 ;
    int set = getenv("SMTPSEND_TIMEOUT") && *getenv("SMTPSEND_TIMEOUT") ;
    if (set) all = env_secs("SMTPSEND_TIMEOUT", 300) ;
    /* RFC 5321 4.5.3.2 */
    cf.tgreet = set ? all : 300 ;
    cf.tcmd = set ? all : 300 ;
    cf.tdata = set ? all : 120 ;
    cf.tblock = set ? all : 180 ;
    cf.tfinal = set ? all : 600 ;
    cf.tconnect = env_secs("SMTPSEND_CONNECT_TIMEOUT", 30) ;
    cf.runend = STAMP ;
    tain_addsec_g(&cf.runend, env_secs("SMTPSEND_MAXTIME", MAXTIME)) ;
    {
      unsigned int p ;
      if (!tern_env_uint("SMTPSEND_PORT", &p, 25) || !p || p > 65535) die_defer("4.3.5", "invalid $SMTPSEND_PORT") ;
      cf.port = p ;
    }
  }
  if (!tern_cfg_me(&cf.me)) die_defer_sys("read etc/me") ;
  policy_read() ;
  cf.cafile = getenv("SMTPSEND_CAFILE") ;
  if (!cf.cafile || !*cf.cafile) cf.cafile = CAFILE ;
  if (authfile) read_authfile(authfile) ;
  msg_init() ;
  if (cf.smtputf8 && msg.hdr8bit) need_utf8 = 1 ;
  {
    char fmt[UINT64_FMT] ;
    char nfmt[UINT_FMT] ;
    fmt[uint64_fmt(fmt, msg.size)] = 0 ;
    nfmt[uint_fmt(nfmt, nrcpt)] = 0 ;
    strerr_warni("start from=<", cf.sender, "> rcpts=", nfmt, " size=", fmt, cf.nhosts ? " via=smarthost" : " domain=", cf.nhosts ? "" : cf.domain) ;
  }

  if (cf.nhosts) smarthosts() ;
  else exchangers() ;
  finish(0) ;
}
