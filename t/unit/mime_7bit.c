/* mime_7bit: unit tests of tern_mime_7bit (the 8BITMIME downgrade, RFC 6152 3,
   RFC 2045 6.7) and tern_base64_encode (RFC 4648 10's test vectors). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <skalibs/stralloc.h>
#include "tern.h"
#include "tap.h"

static int sink (void *ctx, char const *s, size_t n)
{
  return stralloc_catb((stralloc *)ctx, s, n) ;
}

/* scan then emit, as smtp-send does; out is NUL-terminated */
static int run (char const *in, size_t len, stralloc *flags, stralloc *out)
{
  FILE *f = tmpfile() ;
  int fd ;
  if (!f) return 0 ;
  fd = fileno(f) ;
  if (write(fd, in, len) != (ssize_t)len) return 0 ;
  out->len = 0 ;
  if (lseek(fd, 0, SEEK_SET) < 0 || !tern_mime_7bit(fd, flags, TERN_MIME_SCAN, 0, 0)) return 0 ;
  if (lseek(fd, 0, SEEK_SET) < 0 || !tern_mime_7bit(fd, flags, TERN_MIME_EMIT, &sink, out)) return 0 ;
  fclose(f) ;
  return stralloc_0(out) ;
}

static void conv (char const *in, char const *want, char const *name)
{
  stralloc flags = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  if (!run(in, strlen(in), &flags, &out)) { tap_ok(0, name) ; return ; }
  tap_is_str(out.s, want, name) ;
  stralloc_free(&flags) ;
  stralloc_free(&out) ;
}

static void b64 (char const *in, char const *want)
{
  stralloc sa = STRALLOC_ZERO ;
  char name[64] ;
  snprintf(name, sizeof name, "base64 \"%s\"", in) ;
  if (!tern_base64_encode(&sa, in, strlen(in)) || !stralloc_0(&sa)) { tap_ok(0, name) ; return ; }
  tap_is_str(sa.s, want, name) ;
  stralloc_free(&sa) ;
}

int main (void)
{
  b64("", "") ;
  b64("f", "Zg==") ;
  b64("fo", "Zm8=") ;
  b64("foo", "Zm9v") ;
  b64("foob", "Zm9vYg==") ;
  b64("fooba", "Zm9vYmE=") ;
  b64("foobar", "Zm9vYmFy") ;

  conv("Subject: a\n\nplain ascii\n", "Subject: a\n\nplain ascii\n", "7-bit message: unchanged") ;
  conv("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9 = ok\n",
       "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9 =3D ok\n",
       "8bit text: quoted-printable, '=' encoded, CTE replaced") ;
  conv("Subject: x\n\n\xe9t\xe9\n",
       "Subject: x\nMIME-Version: 1.0\nContent-Type: text/plain; charset=unknown-8bit\nContent-Transfer-Encoding: quoted-printable\n\n=E9t=E9\n",
       "no MIME header: MIME-Version, Content-Type unknown-8bit (RFC 1428) added") ;
  conv("Content-Type: text/plain\n\n\xff trailing space \nand tab\t\n",
       "Content-Type: text/plain\nMIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n=FF trailing space=20\nand tab=09\n",
       "whitespace ending a line is encoded (RFC 2045 6.7 (3))") ;
  conv("Content-Type: text/plain\n\n\xe9\r\nx\ry\n",
       "Content-Type: text/plain\nMIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n=E9\nx=0Dy\n",
       "CRLF is a line end, a bare CR is encoded") ;
  {
    char in[400], want[600] ;
    char *w ;
    strcpy(in, "Content-Type: text/plain\n\n\xe9") ;
    memset(in + strlen(in), 'a', 200) ;
    strcpy(in + 27 + 200, "\n") ;
    strcpy(want, "Content-Type: text/plain\nMIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n=E9") ;
    w = want + strlen(want) ;
    memset(w, 'a', 72) ; w += 72 ; memcpy(w, "=\n", 2) ; w += 2 ;
    memset(w, 'a', 75) ; w += 75 ; memcpy(w, "=\n", 2) ; w += 2 ;
    memset(w, 'a', 53) ; w += 53 ; strcpy(w, "\n") ;
    conv(in, want, "long line: soft line breaks, 76 octets at most") ;
  }
  conv("MIME-Version: 1.0\n"
       "Content-Type: multipart/mixed; boundary=\"b1\"\n"
       "Content-Transfer-Encoding: 8bit\n"
       "\n"
       "preamble\n"
       "--b1\n"
       "Content-Type: text/plain; charset=iso-8859-1\n"
       "\n"
       "\xe9t\xe9\n"
       "--b1\n"
       "Content-Type: text/plain\n"
       "Content-Transfer-Encoding: 8bit\n"
       "\n"
       "ascii only\n"
       "--b1\n"
       "Content-Type: application/octet-stream\n"
       "Content-Transfer-Encoding: base64\n"
       "\n"
       "AAEC\n"
       "--b1\n"
       "Content-Type: message/rfc822\n"
       "\n"
       "Subject: inner\n"
       "Content-Type: multipart/alternative; boundary=b2\n"
       "\n"
       "--b2\n"
       "Content-Type: text/plain; charset=utf-8\n"
       "\n"
       "\xc3\xa0 la\n"
       "--b2--\n"
       "\n"
       "--b1--\n"
       "epilogue\n",
       "MIME-Version: 1.0\n"
       "Content-Type: multipart/mixed; boundary=\"b1\"\n"
       "Content-Transfer-Encoding: 7bit\n"
       "\n"
       "preamble\n"
       "--b1\n"
       "Content-Type: text/plain; charset=iso-8859-1\n"
       "Content-Transfer-Encoding: quoted-printable\n"
       "\n"
       "=E9t=E9\n"
       "--b1\n"
       "Content-Type: text/plain\n"
       "Content-Transfer-Encoding: 7bit\n"
       "\n"
       "ascii only\n"
       "--b1\n"
       "Content-Type: application/octet-stream\n"
       "Content-Transfer-Encoding: base64\n"
       "\n"
       "AAEC\n"
       "--b1\n"
       "Content-Type: message/rfc822\n"
       "\n"
       "Subject: inner\n"
       "Content-Type: multipart/alternative; boundary=b2\n"
       "\n"
       "--b2\n"
       "Content-Type: text/plain; charset=utf-8\n"
       "Content-Transfer-Encoding: quoted-printable\n"
       "\n"
       "=C3=A0 la\n"
       "--b2--\n"
       "\n"
       "--b1--\n"
       "epilogue\n",
       "multipart, message/rfc822 inside: each 8-bit leaf converted, labels fixed, base64 left alone") ;
  conv("Content-Type: multipart/mixed;\n boundary=\"x y\"\n\n--x y\n\n\xe9\n--x y--",
       "Content-Type: multipart/mixed;\n boundary=\"x y\"\n\n--x y\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n--x y--",
       "folded Content-Type, quoted boundary, last line without LF") ;
  conv("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: digest part\n\n\xe9\n--d--\n",
       "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: digest part\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n--d--\n",
       "multipart/digest: parts are message/rfc822 by default (RFC 2046 5.1.5)") ;
  {
    /* a 100,000-octet line, 8-bit: linear, and split into 76-octet lines */
    size_t n = 100000 ;
    char *in = malloc(n + 40) ;
    stralloc flags = STRALLOC_ZERO, out = STRALLOC_ZERO ;
    size_t maxline = 0, cur = 0 ;
    strcpy(in, "Content-Type: text/plain\n\n") ;
    memset(in + 26, 0xe9, n) ;
    in[26 + n] = '\n' ;
    if (run(in, 27 + n, &flags, &out))
    {
      for (size_t i = 0 ; i < out.len ; i++)
      {
        if (out.s[i] == '\n') { if (cur > maxline) maxline = cur ; cur = 0 ; }
        else cur++ ;
      }
      tap_ok(maxline <= 76 && out.len > 3 * n, "a 100,000-octet 8-bit line: encoded lines of 76 octets at most") ;
    }
    else tap_ok(0, "a 100,000-octet 8-bit line") ;
    free(in) ;
    stralloc_free(&flags) ;
    stralloc_free(&out) ;
  }
  return tap_done() ;
}
