/* tern_addr_literal: an address literal (RFC 5321 4.1.3) as it appears in a
   domain or in a host argument: "[192.0.2.1]", "[IPv6:2001:db8::1]", and
   the bare "[2001:db8::1]" that host:port arguments use. */

#include <string.h>
#include <strings.h>
#include <skalibs/fmtscan.h>
#include <skalibs/ip46.h>
#include "tern.h"

/* strict dotted quad: ip4_scan does not range-check its octets */
static int ip4_strict (char const *s, size_t len, char *ip)
{
  size_t i = 0 ;
  for (unsigned int k = 0 ; k < 4 ; k++)
  {
    unsigned int v = 0, d = 0 ;
    if (k && (i >= len || s[i++] != '.')) return 0 ;
    while (i < len && s[i] >= '0' && s[i] <= '9' && d < 4) { v = v * 10 + (s[i++] - '0') ; d++ ; }
    if (!d || d > 3 || v > 255) return 0 ;
    ip[k] = (char)v ;
  }
  return i == len ;
}

int tern_addr_literal (char const *s, size_t len, ip46 *ip)
{
  char tmp[64] ;
  size_t n ;
  if (len < 3 || s[0] != '[' || s[len-1] != ']') return 0 ;
  s++ ; len -= 2 ;
  if (len >= sizeof tmp) return 0 ;
  if (len > 5 && !strncasecmp(s, "IPv6:", 5))
  {
    memcpy(tmp, s + 5, len - 5) ; tmp[len - 5] = 0 ;
    n = ip6_scan(tmp, ip->ip) ;
    if (!n || n != len - 5) return 0 ;
    ip->is6 = 1 ;
    return 1 ;
  }
  memcpy(tmp, s, len) ; tmp[len] = 0 ;
  if (ip4_strict(tmp, len, ip->ip))
  {
    memset(ip->ip + 4, 0, 12) ;
    ip->is6 = 0 ;
    return 1 ;
  }
  n = ip6_scan(tmp, ip->ip) ;
  if (!n || n != len || !memchr(tmp, ':', len)) return 0 ;
  ip->is6 = 1 ;
  return 1 ;
}
