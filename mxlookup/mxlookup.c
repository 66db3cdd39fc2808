/* mxlookup: where mail for a domain goes (RFC 5321 5.1). Prints one line
   per address, "PREFERENCE HOSTNAME ADDRESS", best preference first, the
   exchangers of equal preference shuffled, each exchanger's A then AAAA
   addresses; without MX records, the domain's own addresses with
   preference 0 (the implicit MX). A null MX (RFC 7505) and NXDOMAIN are
   permanent failures (100), resolver trouble temporary ones (111); the
   fatal message starts with an RFC 3463 code, which smtp-send reports.

   glibc's libresolv does the DNS: res_ninit reads the resolver
   configuration (and RES_OPTIONS), res_nquery asks and retries over TCP
   when an answer comes back truncated, ns_initparse/ns_parserr and
   ns_name_uncompress read the answers. CNAMEs are followed in the
   answer, and asked for again when the server did not follow them. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>

#include <skalibs/types.h>
#include <skalibs/bytestr.h>
#include <skalibs/buffer.h>
#include <skalibs/stralloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/fmtscan.h>
#include <skalibs/random.h>
#include <skalibs/ip46.h>

#include "tern.h"

#define USAGE "mxlookup [ -a ] domain"
#define dieusage() strerr_dieusage(100, USAGE)

#define MAXHOPS 8      /* CNAMEs followed for one name */
#define MAXMX 64       /* MX records considered */
#define MAXADDR 256    /* addresses printed */

enum { Q_OK, Q_NODATA, Q_NXDOMAIN, Q_TEMP } ;

static struct __res_state rs ;
static unsigned char ans[NS_MAXMSG] ;

typedef struct mx_s mx ;
struct mx_s
{
  unsigned int pref ;
  char name[NS_MAXDNAME] ;
} ;
static mx mxs[MAXMX] ;
static unsigned int nmx = 0 ;

typedef struct addr_s addr ;
struct addr_s
{
  unsigned int pref ;
  char const *host ;
  ip46 ip ;
} ;
static addr addrs[MAXADDR] ;
static unsigned int naddrs = 0 ;

/* ---- the resolver ---- */

/* $DNSSERVER, "a.b.c.d" or "a.b.c.d:port", replaces the configured servers. */
static void resolver_init (void)
{
  char const *x = getenv("DNSSERVER") ;
  if (res_ninit(&rs) < 0) strerr_diefu(111, "4.3.5 initialize the resolver (res_ninit)") ;
  if (x && *x)
  {
    char ip[4] ;
    uint16_t port = 53 ;
    size_t n = ip4_scan(x, ip) ;
    if (!n || (x[n] && (x[n] != ':' || !uint160_scan(x + n + 1, &port) || !port)))
      strerr_dief(111, "4.3.5 invalid $DNSSERVER: ", x) ;
    memset(&rs.nsaddr_list[0], 0, sizeof rs.nsaddr_list[0]) ;
    rs.nsaddr_list[0].sin_family = AF_INET ;
    rs.nsaddr_list[0].sin_port = htons(port) ;
    memcpy(&rs.nsaddr_list[0].sin_addr, ip, 4) ;
    rs.nscount = 1 ;
  }
}

static int rr_name (ns_msg *msg, ns_rr *rr, unsigned char const *p, char *out)
{
  (void)rr ;
  return ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), p, out, NS_MAXDNAME) >= 0 ;
}

/* Asks for the records of type of name, following CNAMEs. On Q_OK, msg
   holds the answer and canon the name owning the records; canon is set
   on Q_NODATA too (the end of the chain, for the implicit MX). */
static int lookup (char const *name, int type, ns_msg *msg, char *canon)
{
  char cur[NS_MAXDNAME], asked[NS_MAXDNAME] ;
  unsigned int hops = 0 ;
  strcpy(cur, name) ;
  strcpy(canon, name) ;
  for (;;)
  {
    int n, moved ;
    unsigned int count ;
    strcpy(asked, cur) ;
    n = res_nquery(&rs, asked, ns_c_in, type, ans, sizeof ans) ;
    if (n < 0)
      switch (rs.res_h_errno)
      {
        case HOST_NOT_FOUND : return Q_NXDOMAIN ;
        case NO_DATA : return Q_NODATA ;
        default : return Q_TEMP ; /* TRY_AGAIN: SERVFAIL, timeout; NO_RECOVERY: REFUSED, FORMERR */
      }
    if ((size_t)n > sizeof ans || ns_initparse(ans, n, msg) < 0) return Q_TEMP ;
    count = ns_msg_count(*msg, ns_s_an) ;
    do
    {
      moved = 0 ;
      for (unsigned int i = 0 ; i < count ; i++)
      {
        ns_rr rr ;
        if (ns_parserr(msg, ns_s_an, i, &rr) < 0) return Q_TEMP ;
        if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != ns_t_cname || strcasecmp(ns_rr_name(rr), cur)) continue ;
        if (++hops > MAXHOPS) return Q_TEMP ;
        if (!rr_name(msg, &rr, ns_rr_rdata(rr), cur)) return Q_TEMP ;
        moved = 1 ;
      }
    } while (moved) ;
    strcpy(canon, cur) ;
    for (unsigned int i = 0 ; i < count ; i++)
    {
      ns_rr rr ;
      if (ns_parserr(msg, ns_s_an, i, &rr) < 0) return Q_TEMP ;
      if (ns_rr_class(rr) == ns_c_in && ns_rr_type(rr) == type && !strcasecmp(ns_rr_name(rr), cur)) return Q_OK ;
    }
    /* nothing for the end of the chain: ask for it, unless it is the name asked */
    if (!strcasecmp(cur, asked)) return Q_NODATA ;
  }
}

/* ---- addresses ---- */

static void addr_add (unsigned int pref, char const *host, char const *ip, int is6)
{
  ip46 a ;
  if (is6) ip46_from_ip6(&a, ip) ; else ip46_from_ip4(&a, ip) ;
  for (unsigned int i = 0 ; i < naddrs ; i++)
    if (addrs[i].ip.is6 == a.is6 && !memcmp(addrs[i].ip.ip, a.ip, is6 ? 16 : 4)) return ;
  if (naddrs >= MAXADDR) return ;
  addrs[naddrs].pref = pref ;
  addrs[naddrs].host = host ;
  addrs[naddrs].ip = a ;
  naddrs++ ;
}

/* The A then AAAA addresses of host, added with pref. Returns a mask:
   1 an address was found, 2 a lookup failed temporarily, 4 NXDOMAIN. */
static unsigned int host_addrs (char const *host, unsigned int pref, char const *label)
{
  static int const types[2] = { ns_t_a, ns_t_aaaa } ;
  unsigned int r = 0 ;
  for (unsigned int t = 0 ; t < 2 ; t++)
  {
    ns_msg msg ;
    char canon[NS_MAXDNAME] ;
    int q = lookup(host, types[t], &msg, canon) ;
    if (q == Q_TEMP) { r |= 2 ; continue ; }
    if (q == Q_NXDOMAIN) { r |= 4 ; break ; }
    if (q != Q_OK) continue ;
    for (unsigned int i = 0 ; i < ns_msg_count(msg, ns_s_an) ; i++)
    {
      ns_rr rr ;
      if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) { r |= 2 ; break ; }
      if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != types[t] || strcasecmp(ns_rr_name(rr), canon)) continue ;
      if (ns_rr_rdlen(rr) != (t ? 16 : 4)) continue ;
      addr_add(pref, label, (char const *)ns_rr_rdata(rr), t) ;
      r |= 1 ;
    }
  }
  return r ;
}

/* ---- MX records ---- */

static int is_root (char const *s)
{
  return !s[0] || (s[0] == '.' && !s[1]) ;
}

/* by preference (stable), then equal preferences in random order */
static void mx_order (void)
{
  for (unsigned int i = 1 ; i < nmx ; i++)
  {
    mx tmp = mxs[i] ;
    unsigned int j = i ;
    for (; j && mxs[j-1].pref > tmp.pref ; j--) mxs[j] = mxs[j-1] ;
    mxs[j] = tmp ;
  }
  for (unsigned int i = 0 ; i < nmx ;)
  {
    unsigned int j = i + 1 ;
    while (j < nmx && mxs[j].pref == mxs[i].pref) j++ ;
    for (unsigned int k = j - i ; k > 1 ; k--)
    {
      unsigned int r = random_uint32(k) ;
      mx tmp = mxs[i + k - 1] ;
      mxs[i + k - 1] = mxs[i + r] ;
      mxs[i + r] = tmp ;
    }
    i = j ;
  }
}

static void mx_collect (ns_msg *msg, char const *canon)
{
  for (unsigned int i = 0 ; i < ns_msg_count(*msg, ns_s_an) && nmx < MAXMX ; i++)
  {
    ns_rr rr ;
    if (ns_parserr(msg, ns_s_an, i, &rr) < 0) strerr_dief(111, "4.4.3 ", canon, ": malformed DNS answer") ;
    if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != ns_t_mx || strcasecmp(ns_rr_name(rr), canon)) continue ;
    if (ns_rr_rdlen(rr) < 3) continue ;
    mxs[nmx].pref = ns_get16(ns_rr_rdata(rr)) ;
    if (!rr_name(msg, &rr, ns_rr_rdata(rr) + 2, mxs[nmx].name)) strerr_dief(111, "4.4.3 ", canon, ": malformed MX record") ;
    nmx++ ;
  }
}

/* ---- output ---- */

static void print (void)
{
  stralloc sa = STRALLOC_ZERO ;
  for (unsigned int i = 0 ; i < naddrs ; i++)
  {
    char fmt[UINT_FMT + IP6_FMT] ;
    size_t n = uint_fmt(fmt, addrs[i].pref) ;
    if (!stralloc_catb(&sa, fmt, n) || !stralloc_catb(&sa, " ", 1) || !stralloc_cats(&sa, addrs[i].host) || !stralloc_catb(&sa, " ", 1))
      strerr_diefu(111, "4.3.0 allocate memory") ;
    n = addrs[i].ip.is6 ? ip6_fmt(fmt, addrs[i].ip.ip) : ip4_fmt(fmt, addrs[i].ip.ip) ;
    if (!stralloc_catb(&sa, fmt, n) || !stralloc_catb(&sa, "\n", 1)) strerr_diefu(111, "4.3.0 allocate memory") ;
  }
  if (buffer_putflush(buffer_1, sa.s, sa.len) < 0) strerr_diefusys(111, "4.3.0 write to stdout") ;
  stralloc_free(&sa) ;
}

/* A domain as a resolver takes it: ASCII, no spaces, 1 to 253 octets, no
   empty label. U-labels (RFC 6531 domains) are not converted to A-labels. */
static int domain_ok (char const *s, size_t len)
{
  if (!len || len > 253 || s[0] == '.') return 0 ;
  for (size_t i = 0 ; i < len ; i++)
  {
    unsigned char c = s[i] ;
    if (c <= 32 || c >= 127 || c == '[' || c == ']' || c == '\\' || c == '@' || c == '"') return 0 ;
    if (c == '.' && i + 1 < len && s[i+1] == '.') return 0 ;
  }
  return 1 ;
}

int main (int argc, char const *const *argv)
{
  int hostonly = 0 ;
  char domain[NS_MAXDNAME] ;
  size_t len ;
  PROG = "mxlookup" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "a", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'a' : hostonly = 1 ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (argc != 1) dieusage() ;
  len = strlen(argv[0]) ;

  if (argv[0][0] == '[')
  {
    ip46 ip ;
    if (!tern_addr_literal(argv[0], len, &ip)) strerr_dief(100, "5.1.2 invalid address literal: ", argv[0]) ;
    if (ip.is6 ? !memcmp(ip.ip, IP6_ANY, 16) : !memcmp(ip.ip, IP4_ANY, 4))
      strerr_dief(100, "5.1.2 unusable address literal: ", argv[0]) ;
    addr_add(0, argv[0], ip.ip, ip.is6) ;
    print() ;
    return 0 ;
  }

  if (len > 1 && argv[0][len-1] == '.') len-- ;
  if (!domain_ok(argv[0], len)) strerr_dief(100, "5.1.2 invalid domain: ", argv[0]) ;
  memcpy(domain, argv[0], len) ;
  domain[len] = 0 ;
  resolver_init() ;

  if (hostonly)
  {
    unsigned int r = host_addrs(domain, 0, domain) ;
    if (!naddrs)
    {
      if (r & 2) strerr_dief(111, "4.4.3 ", domain, ": temporary DNS failure") ;
      if (r & 4) strerr_dief(100, "5.1.2 ", domain, ": no such domain (NXDOMAIN)") ;
      strerr_dief(100, "5.4.4 ", domain, ": no address record") ;
    }
    print() ;
    return 0 ;
  }

  {
    ns_msg msg ;
    char canon[NS_MAXDNAME] ;
    unsigned int r = 0 ;
    switch (lookup(domain, ns_t_mx, &msg, canon))
    {
      case Q_NXDOMAIN :
        strerr_dief(100, "5.1.2 ", domain, ": no such domain (NXDOMAIN)") ;
      case Q_TEMP :
        strerr_dief(111, "4.4.3 ", domain, ": temporary DNS failure looking up MX") ;
      case Q_NODATA :
        /* the implicit MX (RFC 5321 5.1) */
        r = host_addrs(canon, 0, domain) ;
        if (naddrs) break ;
        if (r & 2) strerr_dief(111, "4.4.3 ", domain, ": temporary DNS failure looking up its address") ;
        if (r & 4) strerr_dief(100, "5.1.2 ", domain, ": no such domain (NXDOMAIN)") ;
        strerr_dief(100, "5.4.4 ", domain, ": no MX and no address record") ;
      case Q_OK :
        mx_collect(&msg, canon) ;
        if (nmx == 1 && is_root(mxs[0].name))
          strerr_dief(100, "5.1.10 ", domain, ": domain accepts no mail (null MX, RFC 7505)") ;
        mx_order() ;
        for (unsigned int i = 0 ; i < nmx ; i++)
        {
          unsigned int q ;
          if (is_root(mxs[i].name)) continue ;
          q = host_addrs(mxs[i].name, mxs[i].pref, mxs[i].name) ;
          r |= q ;
          if (!(q & 1)) strerr_warnw(mxs[i].name, ": ", q & 2 ? "temporary DNS failure" : q & 4 ? "no such host" : "no address record", ": mail exchanger skipped") ;
        }
        if (naddrs) break ;
        if (r & 2) strerr_dief(111, "4.4.3 ", domain, ": temporary DNS failure looking up its mail exchangers") ;
        strerr_dief(100, "5.4.4 ", domain, ": no mail exchanger has an address") ;
    }
  }
  print() ;
  return 0 ;
}
