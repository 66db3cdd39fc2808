/* tern_tls_anchors: trust anchors for BearSSL's X.509 engines from a file
   of certificates (the system CA bundle, a test CA), PEM or DER. Each
   certificate is read through tern_pem_read and decoded by BearSSL's
   X.509 decoder, which keeps its subject DN and public key; certificates
   BearSSL cannot decode (an unknown key type) are skipped, as a TLS client
   could not use them anyway. Used by smtp-send. */

#include <errno.h>
#include <string.h>

#include <bearssl.h>

#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>

#include "tern.h"

/* one anchor as offsets into sa, until sa stops moving */
typedef struct anchor_s anchor ;
struct anchor_s
{
  size_t dn, dnlen ;
  size_t k1, k1len ;            /* RSA modulus, or EC point */
  size_t k2, k2len ;            /* RSA exponent */
  unsigned int flags ;
  unsigned char type, curve ;
} ;

struct dn_s
{
  stralloc *sa ;
  int nomem ;
} ;

static void dn_append (void *p, void const *s, size_t n)
{
  struct dn_s *d = p ;
  if (!d->nomem && !stralloc_catb(d->sa, s, n)) d->nomem = 1 ;
}

static int is_certificate (char const *name)
{
  return !*name || !strcmp(name, "CERTIFICATE") || !strcmp(name, "X509 CERTIFICATE") ;
}

/* 1 added, 0 skipped (not decodable), -1 out of memory */
static int decode (stralloc *sa, unsigned char const *der, size_t len, genalloc *tmp)
{
  br_x509_decoder_context dc ;
  struct dn_s d = { .sa = sa, .nomem = 0 } ;
  anchor a ;
  size_t start = sa->len ;
  br_x509_pkey const *pk ;
  a.dn = sa->len ;
  br_x509_decoder_init(&dc, &dn_append, &d) ;
  br_x509_decoder_push(&dc, der, len) ;
  if (d.nomem) return -1 ;
  pk = br_x509_decoder_get_pkey(&dc) ;
  if (!pk) { sa->len = start ; return 0 ; }
  a.dnlen = sa->len - a.dn ;
  a.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0 ;
  a.type = pk->key_type ;
  a.curve = 0 ;
  a.k2 = a.k2len = 0 ;
  a.k1 = sa->len ;
  switch (pk->key_type)
  {
    case BR_KEYTYPE_RSA :
      a.k1len = pk->key.rsa.nlen ;
      if (!stralloc_catb(sa, (char const *)pk->key.rsa.n, pk->key.rsa.nlen)) return -1 ;
      a.k2 = sa->len ;
      a.k2len = pk->key.rsa.elen ;
      if (!stralloc_catb(sa, (char const *)pk->key.rsa.e, pk->key.rsa.elen)) return -1 ;
      break ;
    case BR_KEYTYPE_EC :
      a.curve = pk->key.ec.curve ;
      a.k1len = pk->key.ec.qlen ;
      if (!stralloc_catb(sa, (char const *)pk->key.ec.q, pk->key.ec.qlen)) return -1 ;
      break ;
    default :
      sa->len = start ;
      return 0 ;
  }
  return genalloc_append(anchor, tmp, &a) ? 1 : -1 ;
}

int tern_tls_anchors (char const *file, size_t max, stralloc *sa, genalloc *ga)
{
  stralloc der = STRALLOC_ZERO ;
  genalloc objs = GENALLOC_ZERO ;   /* tern_pem */
  genalloc tmp = GENALLOC_ZERO ;    /* anchor */
  size_t n ;
  int e ;
  if (!tern_pem_read(file, max, &der, &objs)) return 0 ;
  n = genalloc_len(tern_pem, &objs) ;
  for (size_t i = 0 ; i < n ; i++)
  {
    tern_pem const *p = genalloc_s(tern_pem, &objs) + i ;
    if (!is_certificate(der.s + p->name)) continue ;
    if (decode(sa, (unsigned char const *)der.s + p->data, p->len, &tmp) < 0) { errno = ENOMEM ; goto err ; }
  }
  /* sa is complete: the anchors can point into it now */
  n = genalloc_len(anchor, &tmp) ;
  if (!genalloc_readyplus(br_x509_trust_anchor, ga, n)) goto err ;
  for (size_t i = 0 ; i < n ; i++)
  {
    anchor const *a = genalloc_s(anchor, &tmp) + i ;
    br_x509_trust_anchor ta ;
    memset(&ta, 0, sizeof ta) ;
    ta.dn.data = (unsigned char *)sa->s + a->dn ;
    ta.dn.len = a->dnlen ;
    ta.flags = a->flags ;
    ta.pkey.key_type = a->type ;
    if (a->type == BR_KEYTYPE_RSA)
    {
      ta.pkey.key.rsa.n = (unsigned char *)sa->s + a->k1 ;
      ta.pkey.key.rsa.nlen = a->k1len ;
      ta.pkey.key.rsa.e = (unsigned char *)sa->s + a->k2 ;
      ta.pkey.key.rsa.elen = a->k2len ;
    }
    else
    {
      ta.pkey.key.ec.curve = a->curve ;
      ta.pkey.key.ec.q = (unsigned char *)sa->s + a->k1 ;
      ta.pkey.key.ec.qlen = a->k1len ;
    }
    genalloc_append(br_x509_trust_anchor, ga, &ta) ;  /* room made above */
  }
  stralloc_free(&der) ;
  genalloc_free(tern_pem, &objs) ;
  genalloc_free(anchor, &tmp) ;
  return 1 ;
 err:
  e = errno ;
  stralloc_free(&der) ;
  genalloc_free(tern_pem, &objs) ;
  genalloc_free(anchor, &tmp) ;
  errno = e ;
  return 0 ;
}
