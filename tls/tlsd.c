/* tlsd: tern's TLS server (BearSSL), between tcpserver and an
   application. Without -u it is s6-networking's s6-tlsd: the handshake
   is done before the application is exec'd with SSL_PROTOCOL, SSL_CIPHER
   and SSL_TLS_SNI_SERVERNAME, and it reads and writes plaintext on pipes
   as its fds 0 and 1. With -u it is s6-ucspitlsd: the application starts
   at once on the network fds, with SSLCTLFD, SSLREADFD and SSLWRITEFD
   (UCSPI-TLS), and starts TLS by writing "Y" on SSLCTLFD (STARTTLS).

   tlsd forks. The child is the TLS engine: it reads the certificates and
   keys, drops to TLS_UID/TLS_GID at once, before any byte from the
   network, and then moves records between the network (fds 0 and 1) and
   the application's pipes: the one process of tern that parses TLS from
   the network owns nothing but the keys. The parent execs the
   application, which keeps tlsd's starting uid, and trusts nothing the
   engine sends but a few SSL_* fields. A process per connection: a
   renewed certificate is read by the next connection, no restart.

   TLS 1.2 only (BearSSL's maximum), ECDHE with AES-GCM or
   ChaCha20-Poly1305: forward secrecy and AEAD, nothing else. The engine
   loop follows s6-networking's sbearssl_run: one iopause over the four
   fds, each polled only when BearSSL's state says it can use it. */

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <bearssl.h>

#include <skalibs/types.h>
#include <skalibs/allreadwrite.h>
#include <skalibs/bytestr.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/strerr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/tai.h>
#include <skalibs/iopause.h>
#include <skalibs/djbunix.h>
#include <skalibs/socket.h>
#include <skalibs/sig.h>
#include <skalibs/env.h>
#include <skalibs/exec.h>
#include <skalibs/random.h>
#include <skalibs/setgroups.h>

#include "tern.h"

#define USAGE "tlsd [ -u ] [ -S | -s ] [ -Z | -z ] [ -v verbosity ] [ -K kimeout ] [ -T idletimeout ] [ -k snilevel ] prog..."
#define dieusage() strerr_dieusage(100, USAGE)

/* exit codes of the engine, as s6-tlsd-io's */
#define E_CONFIG 96    /* the certificate or key files */
#define E_SETUP 97     /* the keys cannot be used by the engine */
#define E_TLS 98       /* TLS error or timeout on the connection */

#define FILEMAX (1024 * 1024)   /* a certificate chain or key file */
#define BLOCKMAX 4096           /* the SSL_* block */
#define RSA_MAXBITS 4096        /* BearSSL's limit */

/* NUL-separated lists of variables, without the literal's own final NUL */
#define catlist(sa, s) stralloc_catb((sa), (s), sizeof(s) - 1)

extern char **environ ;

static unsigned int verbosity = 1 ;
static char const *remoteip = "unknown" ;

/* ---- the certificates and keys ---- */

typedef struct keypair_s keypair ;
struct keypair_s
{
  char const *name ;            /* the server name it is for; "" for the default pair */
  stralloc der ;                /* the certificates, DER */
  br_x509_certificate *chain ;  /* pointing into der */
  size_t chainlen ;
  br_skey_decoder_context key ; /* holds the private key */
  int keytype ;                 /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
  unsigned int issuer ;         /* key type of the leaf certificate's signer */
} ;

static genalloc pairs = GENALLOC_ZERO ;   /* keypair * */

static void dieconfig (char const *what, char const *file)
{
  strerr_diefu(E_CONFIG, "read ", what, " ", file, ": ", strerror(errno)) ;
}

static int is_cert (char const *name)
{
  return !name[0] || !strcmp(name, "CERTIFICATE") || !strcmp(name, "X509 CERTIFICATE") ;
}

static int is_key (char const *name)
{
  return !name[0] || !strcmp(name, "PRIVATE KEY") || !strcmp(name, "RSA PRIVATE KEY") || !strcmp(name, "EC PRIVATE KEY") ;
}

/* Strip leading zeros of a big-endian integer. */
static unsigned char const *unpad (unsigned char const *s, size_t *len)
{
  while (*len && !*s) { s++ ; (*len)-- ; }
  return s ;
}

/* One DER element from s (len octets): its tag and contents; s and len
   move past it. 0 when malformed. For the key file only, which is the
   admin's, not the network's. */
static int der_next (unsigned char const **s, size_t *len, unsigned int *tag, unsigned char const **val, size_t *vlen)
{
  size_t n = 2, l ;
  if (*len < 2) return 0 ;
  *tag = (*s)[0] ;
  l = (*s)[1] ;
  if (l & 0x80)
  {
    unsigned int k = l & 0x7f ;
    if (!k || k > 2 || *len < 2 + k) return 0 ;
    l = 0 ;
    for (unsigned int i = 0 ; i < k ; i++) l = l << 8 | (*s)[2 + i] ;
    n += k ;
  }
  if (l > *len - n) return 0 ;
  *val = *s + n ;
  *vlen = l ;
  *s += n + l ;
  *len -= n + l ;
  return 1 ;
}

/* The public key an EC private key may carry (RFC 5915's ECPrivateKey,
   alone or inside PKCS#8: openssl always writes it): its point, or 0. */
static unsigned char const *ec_stored_pub (unsigned char const *s, size_t len, size_t *qlen)
{
  unsigned int tag ;
  unsigned char const *v ;
  size_t vlen ;
  if (!der_next(&s, &len, &tag, &v, &vlen) || tag != 0x30) return 0 ;
  s = v ; len = vlen ;
  if (!der_next(&s, &len, &tag, &v, &vlen) || tag != 0x02) return 0 ;   /* version */
  if (!der_next(&s, &len, &tag, &v, &vlen)) return 0 ;
  if (tag == 0x30)
  {
    /* PKCS#8: the algorithm, then the ECPrivateKey in an OCTET STRING */
    if (!der_next(&s, &len, &tag, &v, &vlen) || tag != 0x04) return 0 ;
    return ec_stored_pub(v, vlen, qlen) ;
  }
  if (tag != 0x04) return 0 ;   /* the private scalar */
  while (len)
  {
    if (!der_next(&s, &len, &tag, &v, &vlen)) return 0 ;
    if (tag == 0xa1)   /* [1] publicKey BIT STRING */
    {
      unsigned char const *w ;
      size_t wlen ;
      if (!der_next(&v, &vlen, &tag, &w, &wlen) || tag != 0x03 || wlen < 2 || w[0]) return 0 ;
      *qlen = wlen - 1 ;
      return w + 1 ;
    }
  }
  return 0 ;
}

/* The private key must be one the engine can use, and the leaf
   certificate's: a mismatch is the commonest mistake with key files,
   and without this check it would show only as failed handshakes.
   keyder is the key's DER (for the public key an EC key file carries,
   which spares a scalar multiplication per connection). */
static void check_pair (keypair *k, char const *certfile, char const *keyfile, unsigned char const *keyder, size_t keylen)
{
  br_x509_decoder_context dc ;
  br_x509_pkey const *pk ;
  br_x509_decoder_init(&dc, 0, 0) ;
  br_x509_decoder_push(&dc, k->chain[0].data, k->chain[0].data_len) ;
  pk = br_x509_decoder_get_pkey(&dc) ;
  if (!pk)
  {
    char fmt[INT_FMT] ;
    fmt[int_fmt(fmt, br_x509_decoder_last_error(&dc))] = 0 ;
    strerr_dief(E_CONFIG, "invalid certificate in ", certfile, " (BearSSL error ", fmt, ")") ;
  }
  k->issuer = br_x509_decoder_get_signer_key_type(&dc) ;
  if (pk->key_type != k->keytype)
    strerr_dief(E_SETUP, "the key in ", keyfile, " does not match the certificate in ", certfile) ;
  if (k->keytype == BR_KEYTYPE_RSA)
  {
    br_rsa_private_key const *sk = br_skey_decoder_get_rsa(&k->key) ;
    br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default() ;
    unsigned char n[RSA_MAXBITS / 8] ;
    size_t nlen = sk->n_bitlen <= RSA_MAXBITS ? modulus(0, sk) : 0 ;
    size_t certlen = pk->key.rsa.nlen ;
    unsigned char const *cert ;
    unsigned char const *mine ;
    if (!nlen || nlen > sizeof(n))
      strerr_dief(E_SETUP, "unsupported RSA key size in ", keyfile, " (BearSSL takes up to 4096 bits)") ;
    modulus(n, sk) ;
    mine = unpad(n, &nlen) ;
    cert = unpad(pk->key.rsa.n, &certlen) ;
    if (nlen != certlen || memcmp(mine, cert, nlen))
      strerr_dief(E_SETUP, "the key in ", keyfile, " does not match the certificate in ", certfile) ;
  }
  else if (k->keytype == BR_KEYTYPE_EC)
  {
    br_ec_private_key const *sk = br_skey_decoder_get_ec(&k->key) ;
    br_ec_impl const *ec = br_ec_get_default() ;
    unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE] ;
    unsigned char const *pub ;
    size_t qlen ;
    /* ECDSA signatures: the NIST curves */
    if (sk->curve < BR_EC_secp256r1 || sk->curve > BR_EC_secp521r1 || !(ec->supported_curves >> sk->curve & 1))
      strerr_dief(E_SETUP, "unsupported EC curve in ", keyfile, " (P-256, P-384 and P-521 are)") ;
    pub = ec_stored_pub(keyder, keylen, &qlen) ;
    if (!pub)
    {
      br_ec_public_key computed ;
      if (!br_ec_compute_pub(ec, &computed, q, sk))
        strerr_dief(E_SETUP, "unsupported EC key in ", keyfile) ;
      pub = computed.q ;
      qlen = computed.qlen ;
    }
    if (sk->curve != pk->key.ec.curve || qlen != pk->key.ec.qlen || memcmp(pub, pk->key.ec.q, qlen))
      strerr_dief(E_SETUP, "the key in ", keyfile, " does not match the certificate in ", certfile) ;
  }
  else strerr_dief(E_SETUP, "unsupported key type in ", keyfile) ;
}

static void load_pair (char const *name, char const *certfile, char const *keyfile)
{
  keypair *k = malloc(sizeof(keypair)) ;
  genalloc objs = GENALLOC_ZERO ;   /* tern_pem */
  stralloc tmp = STRALLOC_ZERO ;
  size_t n, ncert = 0 ;
  int found = 0 ;
  if (!k) strerr_diefu1sys(111, "allocate") ;
  memset(k, 0, sizeof(keypair)) ;
  k->name = name ;

  if (!tern_pem_read(certfile, FILEMAX, &k->der, &objs)) dieconfig("certificate file", certfile) ;
  n = genalloc_len(tern_pem, &objs) ;
  for (size_t i = 0 ; i < n ; i++)
    if (is_cert(k->der.s + genalloc_s(tern_pem, &objs)[i].name)) ncert++ ;
  if (!ncert) strerr_dief(E_CONFIG, "no certificate in ", certfile) ;
  k->chain = malloc(ncert * sizeof(br_x509_certificate)) ;
  if (!k->chain) strerr_diefu1sys(111, "allocate") ;
  for (size_t i = 0 ; i < n ; i++)
  {
    tern_pem const *o = genalloc_s(tern_pem, &objs) + i ;
    if (!is_cert(k->der.s + o->name)) continue ;
    k->chain[k->chainlen].data = (unsigned char *)k->der.s + o->data ;
    k->chain[k->chainlen].data_len = o->len ;
    k->chainlen++ ;
  }

  objs.len = 0 ;
  if (!tern_pem_read(keyfile, FILEMAX, &tmp, &objs)) dieconfig("key file", keyfile) ;
  n = genalloc_len(tern_pem, &objs) ;
  for (size_t i = 0 ; i < n && !found ; i++)
  {
    tern_pem const *o = genalloc_s(tern_pem, &objs) + i ;
    char const *oname = tmp.s + o->name ;
    if (!strcmp(oname, "ENCRYPTED PRIVATE KEY"))
      strerr_dief(E_CONFIG, "the key in ", keyfile, " is encrypted: tlsd takes unencrypted keys (mode 0600)") ;
    if (!is_key(oname)) continue ;   /* EC PARAMETERS, a certificate... */
    br_skey_decoder_init(&k->key) ;
    br_skey_decoder_push(&k->key, tmp.s + o->data, o->len) ;
    if (br_skey_decoder_last_error(&k->key))
    {
      char fmt[INT_FMT] ;
      fmt[int_fmt(fmt, br_skey_decoder_last_error(&k->key))] = 0 ;
      strerr_dief(E_CONFIG, "invalid or unsupported private key in ", keyfile, " (BearSSL error ", fmt, ")") ;
    }
    k->keytype = br_skey_decoder_key_type(&k->key) ;
    check_pair(k, certfile, keyfile, (unsigned char *)tmp.s + o->data, o->len) ;
    found = 1 ;
  }
  byte_zzero(tmp.s, tmp.a) ;
  stralloc_free(&tmp) ;
  genalloc_free(tern_pem, &objs) ;
  if (!found) strerr_dief(E_CONFIG, "no private key in ", keyfile) ;
  if (!genalloc_append(keypair *, &pairs, &k)) strerr_diefu1sys(111, "allocate") ;
}

/* CERTFILE and KEYFILE (unless -k 2), and with -k, each KEYFILE:name
   with its CERTFILE:name, as s6-tlsd-io reads them. */
static void load_pairs (unsigned int snilevel)
{
  if (snilevel < 2)
  {
    char const *cert = getenv("CERTFILE") ;
    char const *key = getenv("KEYFILE") ;
    if (!cert || !*cert) strerr_dief(E_CONFIG, "CERTFILE is not set") ;
    if (!key || !*key) strerr_dief(E_CONFIG, "KEYFILE is not set") ;
    load_pair("", cert, key) ;
  }
  if (snilevel)
  {
    for (char **e = environ ; *e ; e++)
    {
      char const *eq ;
      size_t namelen ;
      if (strncmp(*e, "KEYFILE:", 8)) continue ;
      eq = strchr(*e, '=') ;
      if (!eq) continue ;
      namelen = eq - (*e + 8) ;
      if (!namelen) continue ;
      {
        char var[namelen + 10] ;
        char *name = malloc(namelen + 1) ;
        char const *cert ;
        if (!name) strerr_diefu1sys(111, "allocate") ;
        memcpy(name, *e + 8, namelen) ;
        name[namelen] = 0 ;
        memcpy(var, "CERTFILE:", 9) ;
        memcpy(var + 9, name, namelen + 1) ;
        cert = getenv(var) ;
        if (!cert || !*cert) strerr_dief(E_CONFIG, "KEYFILE:", name, " is set but not ", var) ;
        load_pair(name, cert, eq + 1) ;
      }
    }
  }
  if (!genalloc_len(keypair *, &pairs)) strerr_dief(E_CONFIG, "no KEYFILE:name variable (-k 2)") ;
}

/* ---- privileges ---- */

/* TLS_UID and TLS_GID (both or neither: main checked), with no
   supplementary group. A process that is already them (tlsd run by that
   user) has nothing to do. */
static void drop (void)
{
  char const *x = getenv("TLS_UID") ;
  char const *y = getenv("TLS_GID") ;
  struct rlimit r = { .rlim_cur = 0, .rlim_max = 0 } ;
  uid_t u ;
  gid_t g ;
  /* the engine holds the keys: no core file */
  setrlimit(RLIMIT_CORE, &r) ;
  if (!x || !y) return ;
  if (!uid0_scan(x, &u)) strerr_dief(100, "invalid TLS_UID") ;
  if (!gid0_scan(y, &g)) strerr_dief(100, "invalid TLS_GID") ;
  if (geteuid() && getuid() == u && geteuid() == u && getgid() == g && getegid() == g) return ;
  if (setgroups_and_gid(g, 0, 0) < 0 || setgid(g) < 0) strerr_diefu1sys(111, "setgid to TLS_GID") ;
  if (setuid(u) < 0) strerr_diefu1sys(111, "setuid to TLS_UID") ;
  if (getuid() != u || geteuid() != u || getgid() != g || getegid() != g)
    strerr_dief(111, "still privileged after setuid") ;
}

/* ---- names ---- */

static char const *suite_name (uint16_t s)
{
  switch (s)
  {
    case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 : return "ECDHE-ECDSA-AES128-GCM-SHA256" ;
    case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 : return "ECDHE-RSA-AES128-GCM-SHA256" ;
    case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 : return "ECDHE-ECDSA-AES256-GCM-SHA384" ;
    case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 : return "ECDHE-RSA-AES256-GCM-SHA384" ;
    case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 : return "ECDHE-ECDSA-CHACHA20-POLY1305" ;
    case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 : return "ECDHE-RSA-CHACHA20-POLY1305" ;
    default : return "unknown" ;
  }
}

/* Server preference (Mozilla's "intermediate" order, TLS 1.2 part). */
static uint16_t const suites[] =
{
  BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
  BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
  BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
  BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
} ;

static char const *alert_name (unsigned int a)
{
  switch (a)
  {
    case BR_ALERT_CLOSE_NOTIFY : return "close-notify" ;
    case BR_ALERT_UNEXPECTED_MESSAGE : return "unexpected-message" ;
    case BR_ALERT_BAD_RECORD_MAC : return "bad-record-mac" ;
    case BR_ALERT_RECORD_OVERFLOW : return "record-overflow" ;
    case BR_ALERT_HANDSHAKE_FAILURE : return "handshake-failure" ;
    case BR_ALERT_BAD_CERTIFICATE : return "bad-certificate" ;
    case BR_ALERT_UNSUPPORTED_CERTIFICATE : return "unsupported-certificate" ;
    case BR_ALERT_CERTIFICATE_UNKNOWN : return "certificate-unknown" ;
    case BR_ALERT_ILLEGAL_PARAMETER : return "illegal-parameter" ;
    case BR_ALERT_UNKNOWN_CA : return "unknown-ca" ;
    case BR_ALERT_ACCESS_DENIED : return "access-denied" ;
    case BR_ALERT_DECODE_ERROR : return "decode-error" ;
    case BR_ALERT_DECRYPT_ERROR : return "decrypt-error" ;
    case BR_ALERT_PROTOCOL_VERSION : return "protocol-version" ;
    case BR_ALERT_INSUFFICIENT_SECURITY : return "insufficient-security" ;
    case BR_ALERT_INTERNAL_ERROR : return "internal-error" ;
    case BR_ALERT_USER_CANCELED : return "user-canceled" ;
    case BR_ALERT_NO_RENEGOTIATION : return "no-renegotiation" ;
    case BR_ALERT_UNSUPPORTED_EXTENSION : return "unsupported-extension" ;
    default : return "other" ;
  }
}

static char const *error_name (int e)
{
  switch (e)
  {
    case BR_ERR_BAD_PARAM : return "bad-param" ;
    case BR_ERR_BAD_STATE : return "bad-state" ;
    case BR_ERR_UNSUPPORTED_VERSION : return "unsupported-version" ;
    case BR_ERR_BAD_VERSION : return "bad-version" ;
    case BR_ERR_BAD_LENGTH : return "bad-length" ;
    case BR_ERR_TOO_LARGE : return "record-too-large" ;
    case BR_ERR_BAD_MAC : return "bad-mac" ;
    case BR_ERR_NO_RANDOM : return "no-random" ;
    case BR_ERR_UNKNOWN_TYPE : return "unknown-record-type" ;
    case BR_ERR_UNEXPECTED : return "unexpected-message" ;
    case BR_ERR_BAD_CCS : return "bad-ccs" ;
    case BR_ERR_BAD_ALERT : return "bad-alert" ;
    case BR_ERR_BAD_HANDSHAKE : return "bad-handshake" ;
    case BR_ERR_OVERSIZED_ID : return "oversized-session-id" ;
    case BR_ERR_BAD_CIPHER_SUITE : return "no-common-cipher-suite" ;
    case BR_ERR_BAD_COMPRESSION : return "bad-compression" ;
    case BR_ERR_BAD_FRAGLEN : return "bad-fragment-length" ;
    case BR_ERR_BAD_SECRENEG : return "bad-secure-renegotiation" ;
    case BR_ERR_EXTRA_EXTENSION : return "extra-extension" ;
    case BR_ERR_BAD_SNI : return "bad-sni" ;
    case BR_ERR_BAD_HELLO_DONE : return "bad-hello-done" ;
    case BR_ERR_LIMIT_EXCEEDED : return "limit-exceeded" ;
    case BR_ERR_BAD_FINISHED : return "bad-finished" ;
    case BR_ERR_RESUME_MISMATCH : return "resume-mismatch" ;
    case BR_ERR_INVALID_ALGORITHM : return "no-common-algorithm" ;
    case BR_ERR_BAD_SIGNATURE : return "bad-signature" ;
    case BR_ERR_WRONG_KEY_USAGE : return "wrong-key-usage" ;
    case BR_ERR_NO_CLIENT_AUTH : return "no-client-auth" ;
    case BR_ERR_IO : return "io" ;
    default : return "other" ;
  }
}

/* A server name fit for matching and for the environment: a host name
   (letters, digits, '-', '_', '.'), lowercased; else "". */
static void sni_clean (char const *in, char *out, size_t max)
{
  size_t i = 0 ;
  for (; in[i] && i < max - 1 ; i++)
  {
    char c = in[i] ;
    if (c >= 'A' && c <= 'Z') c += 32 ;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) break ;
    out[i] = c ;
  }
  if (in[i]) i = 0 ;
  out[i] = 0 ;
}

/* ---- the policy: a key pair chosen by the client's server name ---- */

/* BearSSL 0.6 has single-chain policies only; this one, called once the
   ClientHello is parsed, picks the pair for the server name, installs
   BearSSL's own single-chain policy for it (br_ssl_server_set_single_*,
   which also points the server context's policy_vtable at it: from there
   on the engine calls that policy directly) and lets it choose. */
typedef struct policy_s policy ;
struct policy_s
{
  br_ssl_server_policy_class const *vtable ;
  br_ssl_server_context *sc ;
  keypair const *chosen ;
  char sni[256] ;
} ;

static keypair const *pick (char const *name)
{
  keypair *const *p = genalloc_s(keypair *, &pairs) ;
  size_t n = genalloc_len(keypair *, &pairs) ;
  keypair const *def = 0 ;
  char const *dot = strchr(name, '.') ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if (!p[i]->name[0]) { if (!def) def = p[i] ; }
    else if (name[0] && !strcasecmp(p[i]->name, name)) return p[i] ;
  }
  /* "*.example.com" for one label more */
  if (name[0] && dot && dot[1])
    for (size_t i = 0 ; i < n ; i++)
      if (p[i]->name[0] == '*' && p[i]->name[1] == '.' && !strcasecmp(p[i]->name + 1, dot)) return p[i] ;
  return def ;
}

static int policy_choose (br_ssl_server_policy_class const **pctx, br_ssl_server_context const *cc, br_ssl_server_choices *choices)
{
  policy *pol = (policy *)pctx ;
  keypair const *k ;
  sni_clean(br_ssl_engine_get_server_name(&cc->eng), pol->sni, sizeof(pol->sni)) ;
  k = pick(pol->sni) ;
  if (!k) return 0 ;
  pol->chosen = k ;
  if (k->keytype == BR_KEYTYPE_RSA)
    br_ssl_server_set_single_rsa(pol->sc, k->chain, k->chainlen, br_skey_decoder_get_rsa(&k->key),
      BR_KEYTYPE_SIGN, br_rsa_private_get_default(), br_rsa_pkcs1_sign_get_default()) ;
  else
    br_ssl_server_set_single_ec(pol->sc, k->chain, k->chainlen, br_skey_decoder_get_ec(&k->key),
      BR_KEYTYPE_SIGN, k->issuer, br_ec_get_default(), br_ecdsa_sign_asn1_get_default()) ;
  return (*pol->sc->policy_vtable)->choose(pol->sc->policy_vtable, cc, choices) ;
}

/* never called: the single-chain policy has taken over by then */
static uint32_t policy_keyx (br_ssl_server_policy_class const **pctx, unsigned char *data, size_t *len) { return 0 ; }
static size_t policy_sign (br_ssl_server_policy_class const **pctx, unsigned int algo, unsigned char *data, size_t hvlen, size_t len) { return 0 ; }

static br_ssl_server_policy_class const policy_vtable =
{
  .context_size = sizeof(policy),
  .choose = &policy_choose,
  .do_keyx = &policy_keyx,
  .do_sign = &policy_sign
} ;

/* ---- the engine ---- */

static br_ssl_server_context sc ;
static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI] ;
static policy pol ;

static void engine_init (void)
{
  br_ssl_engine_context *eng = &sc.eng ;
  char seed[32] ;
  br_ssl_server_zero(&sc) ;
  br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12) ;
  br_ssl_engine_set_suites(eng, suites, sizeof(suites) / sizeof(suites[0])) ;
  /* handshake hashes and ServerKeyExchange signatures; no MD5, no SHA-1 */
  br_ssl_engine_set_hash(eng, br_sha224_ID, &br_sha224_vtable) ;
  br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable) ;
  br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable) ;
  br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable) ;
  br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf) ;
  br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf) ;
  br_ssl_engine_set_default_aes_gcm(eng) ;
  br_ssl_engine_set_default_chapol(eng) ;
  br_ssl_engine_set_default_ec(eng) ;
  br_ssl_engine_add_flags(eng, BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION) ;
  pol.vtable = &policy_vtable ;
  pol.sc = &sc ;
  sc.policy_vtable = &pol.vtable ;   /* no setter in BearSSL 0.6 */
  br_ssl_engine_set_buffer(eng, iobuf, sizeof(iobuf), 1) ;
  random_buf(seed, sizeof(seed)) ;
  br_ssl_engine_inject_entropy(eng, seed, sizeof(seed)) ;
  byte_zzero(seed, sizeof(seed)) ;
  if (!br_ssl_server_reset(&sc))
    strerr_dief(E_SETUP, "unable to start the TLS engine: ", error_name(br_ssl_engine_last_error(eng))) ;
}

/* The block the application gets after the handshake (s6-tlsd-io's -d):
   VAR=value or VAR (unset) entries, NUL-terminated, an empty one last. */
static size_t ssl_block (char *s, char const *proto, char const *cipher, char const *sni)
{
  size_t n = 0 ;
  n += strlen(strcpy(s + n, "SSL_PROTOCOL=")) ;
  n += strlen(strcpy(s + n, proto)) + 1 ;
  n += strlen(strcpy(s + n, "SSL_CIPHER=")) ;
  n += strlen(strcpy(s + n, cipher)) + 1 ;
  n += strlen(strcpy(s + n, "SSL_TLS_SNI_SERVERNAME")) ;
  if (sni[0])
  {
    s[n++] = '=' ;
    n += strlen(strcpy(s + n, sni)) ;
  }
  n++ ;
  /* no client certificates: these are never set */
  n += strlen(strcpy(s + n, "SSL_PEER_CERT_HASH")) + 1 ;
  n += strlen(strcpy(s + n, "SSL_PEER_CERT_SUBJECT")) + 1 ;
  s[n++] = 0 ;
  return n ;
}

static void handshake_done (int notif)
{
  br_ssl_session_parameters sp ;
  char block[512] ;
  char const *proto = br_ssl_engine_get_version(&sc.eng) == BR_TLS12 ? "TLSv1.2" : "unknown" ;
  char const *cipher ;
  size_t n ;
  br_ssl_engine_get_session_parameters(&sc.eng, &sp) ;
  cipher = suite_name(sp.cipher_suite) ;
  byte_zzero((char *)sp.master_secret, sizeof(sp.master_secret)) ;
  n = ssl_block(block, proto, cipher, pol.sni) ;
  if (verbosity)
    strerr_warni("handshake ip=", remoteip, " protocol=", proto, " cipher=", cipher,
      " sni=", pol.sni[0] ? pol.sni : "-", " cert=", pol.chosen && pol.chosen->name[0] ? pol.chosen->name : "default") ;
  if (notif >= 0)
  {
    if (allwrite(notif, block, n) < n) strerr_diefu1sys(111, "send the SSL_* block to the application") ;
    fd_close(notif) ;
  }
  /* the handshake went deep into the stack and the heap (keys, chains):
     an engine that now only moves records for a long session gives that
     memory back, and the stack pages that held the key exchange's
     secrets read as zeros from now on */
  tern_mem_trim() ;
}

typedef struct conf_s conf ;
struct conf_s
{
  tain hstimeout ;     /* relative; infinite for 0 */
  tain idletimeout ;
  int closenotify ;    /* -S */
} ;

static void end (char const *reason, uint64_t in, uint64_t out, int e)
{
  if (verbosity >= 2)
  {
    char fin[UINT64_FMT], fout[UINT64_FMT] ;
    fin[uint64_fmt(fin, in)] = 0 ;
    fout[uint64_fmt(fout, out)] = 0 ;
    strerr_warni("end ip=", remoteip, " reason=", reason, " in=", fin, " out=", fout) ;
  }
  _exit(e) ;
}

static void tls_fail (int hsdone, char const *reason, char const *detail)
{
  if (verbosity)
    strerr_warnw(hsdone ? "connection failed" : "handshake failed", " ip=", remoteip, " reason=", reason, detail ? " alert=" : "", detail ? detail : "") ;
  _exit(E_TLS) ;
}

/* fds: the network's 0 and 1, appin (plaintext from the application),
   appout (to it); notif gets the SSL_* block once, then is closed. */
/* An engine between records holds none in iobuf, either way: the input
   side waits for a header from its start (BearSSL's ixa = 0, ixc = 5),
   nothing decrypted waits for the application, no record waits for the
   network, and the output side has room for a whole record (nothing
   accumulated: run() flushes what it gives the engine at once). Then
   iobuf's content is dead and its pages can go back to the kernel: a
   session idle for hours keeps its keys, not 33 KiB of old records. */
static size_t outroom = 0 ;

static int iobuf_dead (br_ssl_engine_context *eng, unsigned int st)
{
  size_t len ;
  unsigned char const *p ;
  if ((st & (BR_SSL_SENDREC | BR_SSL_RECVAPP | BR_SSL_CLOSED)) || !(st & BR_SSL_RECVREC) || !(st & BR_SSL_SENDAPP)) return 0 ;
  p = br_ssl_engine_recvrec_buf(eng, &len) ;
  if (p != iobuf || len != 5) return 0 ;
  if (!br_ssl_engine_sendapp_buf(eng, &len)) return 0 ;
  if (len > outroom) outroom = len ;
  return len == outroom ;
}

static void iobuf_give_back (void)
{
  uintptr_t a = ((uintptr_t)iobuf + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)iobuf + sizeof(iobuf)) & ~(uintptr_t)4095 ;
  if (e > a) madvise((void *)a, e - a, MADV_DONTNEED) ;
  tern_mem_trim() ;
}

#define IDLEGIVE 1   /* seconds without traffic before iobuf's pages go */

static void run (conf const *cf, int appin, int appout, int notif)
{
  int used = 0 ;      /* iobuf was written since its pages last went back */
  br_ssl_engine_context *eng = &sc.eng ;
  int netin = 0, netout = 1 ;
  int hsdone = 0 ;
  int closing = 0 ;   /* 1: the application sent EOF, its data goes out; 2: close_notify sent */
  int halfclosed = 0 ;
  uint64_t in = 0, out = 0 ;   /* plaintext octets: from the client, to it */
  tain deadline ;

  if (ndelay_on(netin) < 0 || ndelay_on(netout) < 0 || ndelay_on(appin) < 0 || ndelay_on(appout) < 0)
    strerr_diefu1sys(111, "set fds non-blocking") ;
  tain_now_g() ;
  tain_add_g(&deadline, &cf->hstimeout) ;

  for (;;)
  {
    iopause_fd x[4] ;
    unsigned int n = 0 ;
    int inet = -1, onet = -1, iapp = -1, oapp = -1 ;
    unsigned int st = br_ssl_engine_current_state(eng) ;
    int r ;

    if (st & BR_SSL_CLOSED)
    {
      int err = br_ssl_engine_last_error(eng) ;
      if (err & BR_ERR_SEND_FATAL_ALERT) tls_fail(hsdone, "sent-alert", alert_name(err & 255)) ;
      if (err & BR_ERR_RECV_FATAL_ALERT) tls_fail(hsdone, "received-alert", alert_name(err & 255)) ;
      if (err) tls_fail(hsdone, error_name(err), 0) ;
      end(hsdone ? "close-notify" : "closed-during-handshake", in, out, hsdone ? 0 : E_TLS) ;
    }
    if (!hsdone && st & BR_SSL_SENDAPP)
    {
      hsdone = 1 ;
      handshake_done(notif) ;
      notif = -1 ;
      tain_add_g(&deadline, &cf->idletimeout) ;
    }

    /* the application sent EOF: its last data goes out, then the end */
    if (closing == 1 && !(st & BR_SSL_SENDREC))
    {
      if (cf->closenotify) { br_ssl_engine_close(eng) ; closing = 2 ; continue ; }
      fd_shutdown(netout, 1) ;
      halfclosed = 1 ;
      closing = 3 ;
    }
    if (closing == 2 && !(st & BR_SSL_SENDREC)) end("local-eof", in, out, 0) ;

    /* the client sent EOF: the application gets what is left, then EOF */
    if (netin < 0 && appout >= 0 && !(st & BR_SSL_RECVAPP))
    {
      fd_close(appout) ;
      appout = -1 ;
    }
    if (netin < 0 && appout < 0 && (appin < 0 || closing) && !(st & BR_SSL_SENDREC)) end("eof", in, out, 0) ;

    if (netin >= 0 && st & BR_SSL_RECVREC)
    {
      x[n].fd = netin ; x[n].events = IOPAUSE_READ ; inet = n++ ;
    }
    if (!halfclosed && st & BR_SSL_SENDREC)
    {
      x[n].fd = netout ; x[n].events = IOPAUSE_WRITE ; onet = n++ ;
    }
    if (appin >= 0 && !closing && hsdone && st & BR_SSL_SENDAPP)
    {
      x[n].fd = appin ; x[n].events = IOPAUSE_READ ; iapp = n++ ;
    }
    if (st & BR_SSL_RECVAPP)
    {
      if (appout < 0)
      {
        /* nobody to give it to */
        size_t len ;
        br_ssl_engine_recvapp_buf(eng, &len) ;
        br_ssl_engine_recvapp_ack(eng, len) ;
        continue ;
      }
      x[n].fd = appout ; x[n].events = IOPAUSE_WRITE ; oapp = n++ ;
    }
    if (!n) end(hsdone ? "done" : "closed-during-handshake", in, out, hsdone ? 0 : E_TLS) ;

    {
      tain d = deadline ;
      int give = 0 ;
      if (used && hsdone && iobuf_dead(eng, st))
      {
        tain t ;
        tain_addsec_g(&t, IDLEGIVE) ;
        if (tain_less(&t, &deadline)) { d = t ; give = 1 ; }
      }
      r = iopause_g(x, n, &d) ;
      if (r < 0) strerr_diefu1sys(111, "iopause") ;
      if (!r && give)
      {
        iobuf_give_back() ;
        used = 0 ;
        continue ;
      }
      if (r) used = 1 ;
    }
    if (!r)
    {
      if (!hsdone) tls_fail(0, "timeout", 0) ;
      if (verbosity) strerr_warnw("idle timeout ip=", remoteip) ;
      /* a close_notify, best effort: the client learns it was an end, not a cut */
      br_ssl_engine_close(eng) ;
      if (!halfclosed && br_ssl_engine_current_state(eng) & BR_SSL_SENDREC)
      {
        size_t len ;
        unsigned char const *s = br_ssl_engine_sendrec_buf(eng, &len) ;
        if (write(netout, s, len) < 0) { }
      }
      end("idle-timeout", in, out, E_TLS) ;
    }
    for (unsigned int i = 0 ; i < n ; i++)
      if (x[i].revents & IOPAUSE_EXCEPT) x[i].revents |= x[i].events ;
    if (hsdone) tain_add_g(&deadline, &cf->idletimeout) ;

    /* decrypted data to the application */
    if (oapp >= 0 && x[oapp].revents & IOPAUSE_WRITE)
    {
      size_t len ;
      unsigned char const *s = br_ssl_engine_recvapp_buf(eng, &len) ;
      ssize_t w = write(appout, s, len) ;
      if (w > 0) { br_ssl_engine_recvapp_ack(eng, w) ; in += w ; }
      else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      {
        /* the application is gone (EPIPE): what comes is dropped */
        fd_close(appout) ;
        appout = -1 ;
      }
    }

    /* records to the network */
    if (onet >= 0 && x[onet].revents & IOPAUSE_WRITE)
    {
      size_t len ;
      unsigned char const *s = br_ssl_engine_sendrec_buf(eng, &len) ;
      ssize_t w = write(netout, s, len) ;
      if (w > 0) br_ssl_engine_sendrec_ack(eng, w) ;
      else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      {
        if (!hsdone) tls_fail(0, "network-write", strerror(errno)) ;
        end("client-gone", in, out, 0) ;
      }
    }

    /* plaintext from the application: as much as the pipe has, up to a
       full record (which BearSSL sends by itself); then what there is
       goes out, instead of a record per write of the application */
    if (iapp >= 0 && x[iapp].revents & IOPAUSE_READ)
    {
      for (;;)
      {
        size_t len ;
        unsigned char *s = br_ssl_engine_sendapp_buf(eng, &len) ;
        ssize_t w ;
        if (!len) break ;
        w = read(appin, s, len) ;
        if (w > 0)
        {
          br_ssl_engine_sendapp_ack(eng, w) ;
          out += w ;
          if ((size_t)w < len) continue ;
          break ;
        }
        if (w < 0 && errno == EINTR) continue ;
        br_ssl_engine_flush(eng, 0) ;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break ;
        fd_close(appin) ;
        appin = -1 ;
        closing = 1 ;
        break ;
      }
    }

    /* records from the network */
    if (inet >= 0 && x[inet].revents & IOPAUSE_READ)
    {
      size_t len ;
      unsigned char *s = br_ssl_engine_recvrec_buf(eng, &len) ;
      ssize_t w = read(netin, s, len) ;
      if (w > 0) br_ssl_engine_recvrec_ack(eng, w) ;
      else if (!w || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      {
        if (!hsdone) tls_fail(0, w ? "network-read" : "eof", w ? strerror(errno) : 0) ;
        netin = -1 ;
      }
    }
  }
}

/* The engine, tlsd's child: keys, privileges, then (-u) the command,
   then TLS. */
static void engine (conf const *cf, unsigned int snilevel, int appin, int appout, int notif, int ctl) gccattr_noreturn ;
static void engine (conf const *cf, unsigned int snilevel, int appin, int appout, int notif, int ctl)
{
  if (sig_ignore(SIGPIPE) < 0) strerr_diefu1sys(111, "ignore SIGPIPE") ;
  load_pairs(snilevel) ;
  drop() ;
  if (ctl >= 0)
  {
    /* UCSPI-TLS: tell the parent the keys are in (it offers STARTTLS
       only then), and wait for the application's command; the network is
       the application's until then. EOF: it ended without STARTTLS. */
    char c = 'k' ;
    ssize_t r ;
    if (allwrite(ctl, &c, 1) < 1) strerr_diefu1sys(111, "write to the control socket") ;
    do r = read(ctl, &c, 1) ;
    while (r < 0 && errno == EINTR) ;
    if (r < 0) strerr_diefu1sys(111, "read the control socket") ;
    if (!r) _exit(0) ;
    if (c == 'Y') { fd_shutdown(ctl, 0) ; notif = ctl ; }
    else if (c == 'y') { fd_close(ctl) ; notif = -1 ; }
    else strerr_dief(100, "unknown command on the control socket") ;
  }
  engine_init() ;
  run(cf, appin, appout, notif) ;
  _exit(0) ;
}

/* ---- the application side ---- */

/* The parent trusts nothing from the engine but these entries, with
   printable values of a bounded length: the engine parsed the client's
   handshake, and the application may run as root. */
static int filter_block (char const *s, size_t len, stralloc *modif)
{
  static char const *const ok[] = { "SSL_PROTOCOL", "SSL_CIPHER", "SSL_TLS_SNI_SERVERNAME", "SSL_PEER_CERT_HASH", "SSL_PEER_CERT_SUBJECT", 0 } ;
  size_t pos = 0 ;
  while (pos < len && s[pos])
  {
    char const *e = s + pos ;
    size_t elen = strlen(e) ;
    size_t nlen = str_chr(e, '=') ;
    char const *const *p = ok ;
    for (; *p ; p++) if (strlen(*p) == nlen && !memcmp(*p, e, nlen)) break ;
    if (!*p || elen > 300) return 0 ;
    for (size_t i = nlen ; i < elen ; i++)
      if ((unsigned char)e[i] < 32 || (unsigned char)e[i] > 126) return 0 ;
    if (!stralloc_catb(modif, e, elen + 1)) return 0 ;
    pos += elen + 1 ;
  }
  return 1 ;
}

/* Unless -Z: the engine's variables are not the application's business. */
static int clean_env (stralloc *modif)
{
  if (!catlist(modif, "CERTFILE\0KEYFILE\0TLS_UID\0TLS_GID\0")) return 0 ;
  for (char **e = environ ; *e ; e++)
    if (!strncmp(*e, "CERTFILE:", 9) || !strncmp(*e, "KEYFILE:", 8))
      if (!stralloc_catb(modif, *e, str_chr(*e, '=')) || !stralloc_0(modif)) return 0 ;
  return 1 ;
}

int main (int argc, char const *const *argv)
{
  conf cf = { .closenotify = 1 } ;
  unsigned int snilevel = 0 ;
  unsigned int kimeout = 60000, idle = 1800000 ;
  int ucspi = 0, clean = 1 ;
  int app2eng[2], eng2app[2], notif[2] = { -1, -1 }, ctl[2] = { -1, -1 } ;
  stralloc modif = STRALLOC_ZERO ;
  pid_t pid ;
  PROG = "tlsd" ;
  {
    subgetopt l = SUBGETOPT_ZERO ;
    for (;;)
    {
      int opt = subgetopt_r(argc, argv, "uSsZzv:K:T:k:", &l) ;
      if (opt == -1) break ;
      switch (opt)
      {
        case 'u' : ucspi = 1 ; break ;
        case 'S' : cf.closenotify = 1 ; break ;
        case 's' : cf.closenotify = 0 ; break ;
        case 'Z' : clean = 0 ; break ;
        case 'z' : clean = 1 ; break ;
        case 'v' : if (!uint0_scan(l.arg, &verbosity)) dieusage() ; break ;
        case 'K' : if (!uint0_scan(l.arg, &kimeout)) dieusage() ; break ;
        case 'T' : if (!uint0_scan(l.arg, &idle)) dieusage() ; break ;
        case 'k' : if (!uint0_scan(l.arg, &snilevel)) dieusage() ; break ;
        default : dieusage() ;
      }
    }
    argc -= l.ind ; argv += l.ind ;
  }
  if (!argc) dieusage() ;
  if (kimeout) tain_from_millisecs(&cf.hstimeout, kimeout) ; else cf.hstimeout = tain_infinite_relative ;
  if (idle) tain_from_millisecs(&cf.idletimeout, idle) ; else cf.idletimeout = tain_infinite_relative ;
  {
    uid_t u ;
    gid_t g ;
    char const *x = getenv("TLS_UID") ;
    char const *y = getenv("TLS_GID") ;
    if (x && !uid0_scan(x, &u)) strerr_dief(100, "invalid TLS_UID") ;
    if (y && !gid0_scan(y, &g)) strerr_dief(100, "invalid TLS_GID") ;
    if (!x != !y) strerr_dief(100, "TLS_UID and TLS_GID go together") ;
    /* the engine parses the network: never as root by omission */
    if (!x && !geteuid()) strerr_dief(100, "refusing to run the TLS engine as root: set TLS_UID and TLS_GID") ;
  }
  {
    static char ipbuf[64] ;
    char const *x = getenv("TCPREMOTEIP") ;
    if (x)
    {
      size_t i = 0 ;
      for (; x[i] && i < sizeof(ipbuf) - 1 ; i++) ipbuf[i] = (x[i] > 32 && x[i] < 127) ? x[i] : '?' ;
      ipbuf[i] = 0 ;
      remoteip = ipbuf ;
    }
  }
  tain_now_set_stopwatch_g() ;

  if (pipe(app2eng) < 0 || pipe(eng2app) < 0) strerr_diefu1sys(111, "pipe") ;
  if (ucspi ? ipc_pair_b(ctl) < 0 : pipe(notif) < 0) strerr_diefu1sys(111, ucspi ? "socketpair" : "pipe") ;
  pid = fork() ;
  if (pid < 0) strerr_diefu1sys(111, "fork") ;
  if (!pid)
  {
    fd_close(app2eng[1]) ;
    fd_close(eng2app[0]) ;
    if (ucspi) fd_close(ctl[0]) ; else fd_close(notif[0]) ;
    engine(&cf, snilevel, app2eng[0], eng2app[1], ucspi ? -1 : notif[1], ucspi ? ctl[1] : -1) ;
  }
  fd_close(app2eng[0]) ;
  fd_close(eng2app[1]) ;

  if (ucspi)
  {
    /* the application starts now, on the network; the engine waits */
    char fmt[UINT_FMT] ;
    char c ;
    ssize_t r ;
    fd_close(ctl[1]) ;
    do r = read(ctl[0], &c, 1) ;
    while (r < 0 && errno == EINTR) ;
    if (r < 1)
    {
      /* No engine (bad keys, most likely): the application runs without
         the UCSPI-TLS variables, so it offers no STARTTLS, and mail still
         flows (RFC 3207 4: a public server must not require TLS). */
      int wstat ;
      if (wait_pid(pid, &wstat) < 0) strerr_diefu1sys(111, "wait for the TLS engine") ;
      fmt[uint_fmt(fmt, WIFEXITED(wstat) ? WEXITSTATUS(wstat) : 111)] = 0 ;
      strerr_warnw("TLS engine failed ip=", remoteip, " exit=", fmt, " action=no-starttls") ;
      fd_close(ctl[0]) ;
      fd_close(eng2app[0]) ;
      fd_close(app2eng[1]) ;
      if (!catlist(&modif, "SSLCTLFD\0SSLREADFD\0SSLWRITEFD\0SSL_PROTOCOL\0SSL_CIPHER\0SSL_TLS_SNI_SERVERNAME\0SSL_PEER_CERT_HASH\0SSL_PEER_CERT_SUBJECT\0"))
        strerr_diefu1sys(111, "allocate") ;
      if (clean && !clean_env(&modif)) strerr_diefu1sys(111, "allocate") ;
      xmexec_m(argv, modif.s, modif.len) ;
    }
    if (!stralloc_cats(&modif, "SSLCTLFD=")
     || !stralloc_catb(&modif, fmt, uint_fmt(fmt, ctl[0])) || !stralloc_0(&modif)
     || !stralloc_cats(&modif, "SSLREADFD=")
     || !stralloc_catb(&modif, fmt, uint_fmt(fmt, eng2app[0])) || !stralloc_0(&modif)
     || !stralloc_cats(&modif, "SSLWRITEFD=")
     || !stralloc_catb(&modif, fmt, uint_fmt(fmt, app2eng[1])) || !stralloc_0(&modif)
     /* TLS is not on yet, whatever the environment said */
     || !catlist(&modif, "SSL_PROTOCOL\0SSL_CIPHER\0SSL_TLS_SNI_SERVERNAME\0SSL_PEER_CERT_HASH\0SSL_PEER_CERT_SUBJECT\0"))
      strerr_diefu1sys(111, "allocate") ;
  }
  else
  {
    /* the handshake first: the engine sends the SSL_* block, or dies */
    char buf[BLOCKMAX] ;
    size_t len = 0 ;
    fd_close(notif[1]) ;
    for (;;)
    {
      ssize_t r = read(notif[0], buf + len, sizeof(buf) - len) ;
      if (r < 0 && errno == EINTR) continue ;
      if (r < 0) strerr_diefu1sys(111, "read from the TLS engine") ;
      if (!r)
      {
        int wstat ;
        if (wait_pid(pid, &wstat) < 0) strerr_diefu1sys(111, "wait for the TLS engine") ;
        _exit(WIFEXITED(wstat) ? WEXITSTATUS(wstat) : 111) ;
      }
      len += r ;
      if (len >= 2 && !buf[len-1] && !buf[len-2]) break ;
      if (len == sizeof(buf)) strerr_dief(111, "SSL_* block too long from the TLS engine") ;
    }
    fd_close(notif[0]) ;
    if (!filter_block(buf, len, &modif)) strerr_dief(111, "invalid SSL_* block from the TLS engine") ;
    if (!catlist(&modif, "SSLCTLFD\0SSLREADFD\0SSLWRITEFD\0")) strerr_diefu1sys(111, "allocate") ;
    if (fd_move(0, eng2app[0]) < 0 || fd_move(1, app2eng[1]) < 0) strerr_diefu1sys(111, "move fds") ;
  }
  if (clean && !clean_env(&modif)) strerr_diefu1sys(111, "allocate") ;
  xmexec_m(argv, modif.s, modif.len) ;
}
