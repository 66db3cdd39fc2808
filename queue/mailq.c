/* mailq: list the messages in the queue, with each recipient's state.
   -j prints one JSON object per message (schema in mailq(8)). Reads
   $TERN_ROOT/queue directly, so it runs as root or ternq. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include <skalibs/types.h>
#include <skalibs/bytestr.h>
#include <skalibs/sgetopt.h>
#include <skalibs/strerr.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include <skalibs/buffer.h>
#include <skalibs/djbunix.h>
#include <skalibs/direntry.h>

#include "tern.h"

#define USAGE "mailq [-j]"
#define dienomem() strerr_diefusys(111, "allocate memory")

enum { S_QUEUED, S_DEFERRED, S_DELIVERED, S_FAILED } ;
static char const *const statename[4] = { "queued", "deferred", "delivered", "failed" } ;

static int json = 0 ;
static uint64_t total_bytes = 0 ;
static unsigned int total_msgs = 0 ;

static void put (char const *s, size_t n)
{
  if (n && buffer_put(buffer_1, s, n) < 0) strerr_diefusys(111, "write to stdout") ;
}

static void puts_ (char const *s) { put(s, strlen(s)) ; }

/* The length of a valid UTF-8 sequence at s (RFC 3629 4), or 0. */
static size_t utf8_len (unsigned char const *s)
{
  unsigned char c = s[0] ;
  size_t n ;
  if (c >= 0xc2 && c <= 0xdf) n = 2 ;
  else if (c >= 0xe0 && c <= 0xef) n = 3 ;
  else if (c >= 0xf0 && c <= 0xf4) n = 4 ;
  else return 0 ;
  for (size_t i = 1 ; i < n ; i++) if ((s[i] & 0xc0) != 0x80) return 0 ;
  if (c == 0xe0 && s[1] < 0xa0) return 0 ;   /* overlong */
  if (c == 0xed && s[1] >= 0xa0) return 0 ;  /* surrogates */
  if (c == 0xf0 && s[1] < 0x90) return 0 ;   /* overlong */
  if (c == 0xf4 && s[1] >= 0x90) return 0 ;  /* past U+10FFFF */
  return n ;
}

/* A JSON string: control characters escaped, and octets that are not
   UTF-8 (a remote reply in Latin-1, a reply cut mid-character) replaced
   by U+FFFD so that the output always parses. */
static void putjson (char const *s)
{
  static char const hex[] = "0123456789abcdef" ;
  put("\"", 1) ;
  while (*s)
  {
    unsigned char c = *s ;
    if (c == '"' || c == '\\') { put("\\", 1) ; put((char *)&c, 1) ; s++ ; }
    else if (c < 32 || c == 127)
    {
      char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] } ;
      put(e, 6) ;
      s++ ;
    }
    else if (c < 128) { put((char *)&c, 1) ; s++ ; }
    else
    {
      size_t n = utf8_len((unsigned char const *)s) ;
      if (n) { put(s, n) ; s += n ; }
      else { put("\\ufffd", 6) ; s++ ; }
    }
  }
  put("\"", 1) ;
}

static void putnum (uint64_t n)
{
  char fmt[UINT64_FMT] ;
  put(fmt, uint64_fmt(fmt, n)) ;
}

/* Pads to width w (human output). */
static void putpad (char const *s, size_t w)
{
  size_t n = strlen(s) ;
  puts_(s) ;
  while (n++ < w) put(" ", 1) ;
}

static void show (char const *qdir, char const *sub, char const *id)
{
  stralloc path = STRALLOC_ZERO, rec = STRALLOC_ZERO, info = STRALLOC_ZERO ;
  genalloc rcpts = GENALLOC_ZERO ;   /* size_t offsets into rec */
  genalloc state = GENALLOC_ZERO ;   /* unsigned int */
  genalloc why = GENALLOC_ZERO ;     /* char const * into info, or 0 */
  struct stat st ;
  uint32_t bodyoff ;
  uint64_t arrival = 0, size ;
  char const *sender = "" ;
  int fd ;
  if (!stralloc_cats(&path, qdir) || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, sub)
   || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, id) || !stralloc_0(&path)) dienomem() ;
  fd = open(path.s, O_RDONLY | O_CLOEXEC) ;
  if (fd < 0) { if (errno != ENOENT) strerr_warnwusys("open ", path.s) ; goto end ; }
  if (fstat(fd, &st) < 0 || !tern_qfile_header(fd, &rec, &bodyoff))
  {
    strerr_warnwusys("read ", path.s) ;
    fd_close(fd) ;
    goto end ;
  }
  fd_close(fd) ;
  size = st.st_size > (off_t)bodyoff ? st.st_size - bodyoff : 0 ;
  for (size_t i = 0 ; i < rec.len && rec.s[i] ; i += strlen(rec.s + i) + 1)
  {
    if (rec.s[i] == 'A') uint640_scan(rec.s + i + 1, &arrival) ;
    else if (rec.s[i] == 'F') sender = rec.s + i + 1 ;
    else if (rec.s[i] == 'T')
    {
      size_t off = i + 1 ;
      unsigned int s0 = S_QUEUED ;
      char const *w0 = 0 ;
      if (!genalloc_append(size_t, &rcpts, &off) || !genalloc_append(unsigned int, &state, &s0)
       || !genalloc_append(char const *, &why, &w0)) dienomem() ;
    }
  }
  /* queue-run's outcome log */
  path.len = 0 ;
  if (!stralloc_cats(&path, qdir) || !stralloc_cats(&path, "/info/") || !stralloc_cats(&path, id) || !stralloc_0(&path)) dienomem() ;
  if (openslurpclose(&info, path.s))
  {
    size_t i = 0 ;
    while (i < info.len)
    {
      size_t e = byte_chr(info.s + i, info.len - i, '\n') ;
      char *line = info.s + i ;
      unsigned int idx ;
      size_t n ;
      if (i + e == info.len) break ;
      line[e] = 0 ;
      i += e + 1 ;
      if ((line[0] == 'D' || line[0] == 'F' || line[0] == 'Z') && line[1] == ' '
       && (n = uint_scan(line + 2, &idx)) && idx < genalloc_len(size_t, &rcpts))
      {
        unsigned int *stp = genalloc_s(unsigned int, &state) + idx ;
        char const **wp = genalloc_s(char const *, &why) + idx ;
        if (line[0] == 'D') *stp = S_DELIVERED ;
        else if (line[0] == 'F') { *stp = S_FAILED ; *wp = line[2 + n] ? line + 3 + n : "" ; }
        else if (*stp == S_QUEUED || *stp == S_DEFERRED) { *stp = S_DEFERRED ; *wp = line[2 + n] ? line + 3 + n : "" ; }
      }
    }
  }
  total_msgs++ ;
  total_bytes += size ;
  if (json)
  {
    puts_("{\"id\":") ; putjson(id) ;
    puts_(",\"directory\":") ; putjson(sub) ;
    puts_(",\"arrival\":") ; putnum(arrival) ;
    puts_(",\"size\":") ; putnum(size) ;
    puts_(",\"sender\":") ; putjson(sender) ;
    puts_(",\"recipients\":[") ;
    for (size_t k = 0 ; k < genalloc_len(size_t, &rcpts) ; k++)
    {
      char const *w = genalloc_s(char const *, &why)[k] ;
      if (k) put(",", 1) ;
      puts_("{\"address\":") ; putjson(rec.s + genalloc_s(size_t, &rcpts)[k]) ;
      puts_(",\"status\":") ; putjson(statename[genalloc_s(unsigned int, &state)[k]]) ;
      if (w) { puts_(",\"reason\":") ; putjson(w) ; }
      put("}", 1) ;
    }
    puts_("]}\n") ;
  }
  else
  {
    char date[TERN_DATE822_LEN] ;
    char fmt[UINT64_FMT] ;
    date[tern_date822(date, (time_t)arrival)] = 0 ;
    putpad(id, 26) ;
    fmt[uint64_fmt(fmt, size)] = 0 ;
    { size_t n = strlen(fmt) ; while (n++ < 9) put(" ", 1) ; }
    puts_(fmt) ; puts_("  ") ; puts_(date) ; puts_("  <") ; puts_(sender) ; puts_(">\n") ;
    for (size_t k = 0 ; k < genalloc_len(size_t, &rcpts) ; k++)
    {
      char const *w = genalloc_s(char const *, &why)[k] ;
      puts_("    <") ; puts_(rec.s + genalloc_s(size_t, &rcpts)[k]) ; puts_("> ") ;
      puts_(statename[genalloc_s(unsigned int, &state)[k]]) ;
      if (w && *w) { puts_(": ") ; puts_(w) ; }
      put("\n", 1) ;
    }
  }
 end:
  stralloc_free(&path) ;
  stralloc_free(&rec) ;
  stralloc_free(&info) ;
  genalloc_free(size_t, &rcpts) ;
  genalloc_free(unsigned int, &state) ;
  genalloc_free(char const *, &why) ;
}

static int cmpstr (void const *a, void const *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b) ;
}

static void list (char const *qdir, char const *sub)
{
  stralloc path = STRALLOC_ZERO, names = STRALLOC_ZERO ;
  genalloc idx = GENALLOC_ZERO ; /* char * */
  DIR *dir ;
  if (!stralloc_cats(&path, qdir) || !stralloc_catb(&path, "/", 1) || !stralloc_cats(&path, sub) || !stralloc_0(&path)) dienomem() ;
  dir = opendir(path.s) ;
  if (!dir)
    strerr_diefusys(111, "open ", path.s, errno == EACCES ? " (mailq runs as root or as the queue's owner)" : "") ;
  for (;;)
  {
    direntry *d ;
    errno = 0 ;
    d = readdir(dir) ;
    if (!d) break ;
    if (d->d_name[0] == '.') continue ;
    if (!stralloc_cats(&names, d->d_name) || !stralloc_0(&names)) dienomem() ;
  }
  if (errno) strerr_diefusys(111, "read ", path.s) ;
  dir_close(dir) ;
  for (size_t i = 0 ; i < names.len ; i += strlen(names.s + i) + 1)
  {
    char *p = names.s + i ;
    if (!genalloc_append(char *, &idx, &p)) dienomem() ;
  }
  /* ids start with the arrival time: sorted, oldest first */
  if (genalloc_len(char *, &idx))
    qsort(genalloc_s(char *, &idx), genalloc_len(char *, &idx), sizeof(char *), &cmpstr) ;
  for (size_t i = 0 ; i < genalloc_len(char *, &idx) ; i++) show(qdir, sub, genalloc_s(char *, &idx)[i]) ;
  genalloc_free(char *, &idx) ;
  stralloc_free(&names) ;
  stralloc_free(&path) ;
}

int main (int argc, char const *const *argv)
{
  subgetopt l = SUBGETOPT_ZERO ;
  stralloc qdir = STRALLOC_ZERO ;
  PROG = "mailq" ;
  for (;;)
  {
    int opt = subgetopt_r(argc, argv, "j", &l) ;
    if (opt == -1) break ;
    switch (opt)
    {
      case 'j' : json = 1 ; break ;
      default : strerr_dieusage(100, USAGE) ;
    }
  }
  if (argc > l.ind) strerr_dieusage(100, USAGE) ;
  if (!tern_path(&qdir, tern_root(), "queue")) dienomem() ;
  list(qdir.s, "mess") ;
  list(qdir.s, "incoming") ;
  if (!json)
  {
    if (!total_msgs) puts_("Mail queue is empty\n") ;
    else
    {
      puts_("-- ") ; putnum((total_bytes + 1023) / 1024) ; puts_(" KiB in ") ;
      putnum(total_msgs) ; puts_(total_msgs == 1 ? " message.\n" : " messages.\n") ;
    }
  }
  if (!buffer_flush(buffer_1)) strerr_diefusys(111, "write to stdout") ;
  stralloc_free(&qdir) ;
  return 0 ;
}
