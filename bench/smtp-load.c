/* smtp-load: a bounded SMTP load generator for bench/smtp-in.
   Sends N messages of about SIZE octets over C concurrent connections (one
   message per connection, or -r to reuse), records when each 250 after DATA
   arrived, and watches the Maildir new/ directory with inotify to record
   when each message landed. Prints one JSON line:
   accepted count, seconds until the last 250, until the last delivery,
   and the 250-to-Maildir latency percentiles.
   Not part of tern: a measuring tool, plain POSIX + pthreads + inotify. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/inotify.h>
#include <sys/socket.h>

static char const *host = "127.0.0.1" ;
static int port = 25 ;
static int nmsg = 1000, conc = 10, size = 4096, reuse = 0 ;
static double timeout_s = 300 ;
static char const *from = "load@bench.test", *rcpt = "demo@example.test", *watch = 0 ;

static double *t250 ;              /* per message, 0 if not accepted */
static int next_msg = 0, accepted = 0, failed = 0 ;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER ;
static double tstart, tend_accept ;

static double now (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_REALTIME, &ts) ;
  return ts.tv_sec + ts.tv_nsec / 1e9 ;
}

typedef struct { int fd ; char buf[8192] ; int len ; } conn ;

static int readreply (conn *c)
{
  /* returns the code of the last line of a reply, -1 on error */
  for (;;)
  {
    char *nl ;
    while (!(nl = memchr(c->buf, '\n', c->len)))
    {
      ssize_t r ;
      if (c->len == sizeof c->buf) return -1 ;
      r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len) ;
      if (r <= 0) return -1 ;
      c->len += r ;
    }
    {
      int linelen = nl - c->buf + 1 ;
      int code = atoi(c->buf) ;
      int more = linelen > 3 && c->buf[3] == '-' ;
      memmove(c->buf, nl + 1, c->len - linelen) ;
      c->len -= linelen ;
      if (!more) return code ;
    }
  }
}

static int sendall (int fd, char const *s, size_t n)
{
  while (n)
  {
    ssize_t r = write(fd, s, n) ;
    if (r < 0) { if (errno == EINTR) continue ; return 0 ; }
    s += r ; n -= r ;
  }
  return 1 ;
}

static int cmd (conn *c, char const *s, int want)
{
  if (s && !sendall(c->fd, s, strlen(s))) return 0 ;
  return readreply(c) / 100 == want ;
}

static int dial (conn *c)
{
  struct sockaddr_in sa ;
  int one = 1 ;
  c->len = 0 ;
  c->fd = socket(AF_INET, SOCK_STREAM, 0) ;
  if (c->fd < 0) return 0 ;
  memset(&sa, 0, sizeof sa) ;
  sa.sin_family = AF_INET ;
  sa.sin_port = htons(port) ;
  inet_pton(AF_INET, host, &sa.sin_addr) ;
  if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(c->fd) ; return 0 ; }
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ;
  if (!cmd(c, 0, 2) || !cmd(c, "EHLO load.bench.test\r\n", 2)) { close(c->fd) ; return 0 ; }
  return 1 ;
}

static char *body ;
static size_t bodylen ;

static void *worker (void *arg)
{
  conn c = { .fd = -1 } ;
  char line[512] ;
  (void)arg ;
  for (;;)
  {
    int i ;
    pthread_mutex_lock(&mu) ;
    i = next_msg < nmsg && now() - tstart < timeout_s ? next_msg++ : -1 ;
    pthread_mutex_unlock(&mu) ;
    if (i < 0) break ;
    if (c.fd < 0 && !dial(&c)) goto fail ;
    snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", from) ;
    if (!cmd(&c, line, 2)) goto fail ;
    snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", rcpt) ;
    if (!cmd(&c, line, 2)) goto fail ;
    if (!cmd(&c, "DATA\r\n", 3)) goto fail ;
    snprintf(line, sizeof line, "From: <%s>\r\nTo: <%s>\r\nSubject: bench %d\r\nX-Bench: %d\r\n\r\n", from, rcpt, i, i) ;
    if (!sendall(c.fd, line, strlen(line)) || !sendall(c.fd, body, bodylen) || !sendall(c.fd, ".\r\n", 3)) goto fail ;
    if (readreply(&c) != 250) goto fail ;
    {
      double t = now() ;
      pthread_mutex_lock(&mu) ;
      t250[i] = t ;
      accepted++ ;
      if (t > tend_accept) tend_accept = t ;
      pthread_mutex_unlock(&mu) ;
    }
    if (!reuse)
    {
      cmd(&c, "QUIT\r\n", 2) ;
      close(c.fd) ;
      c.fd = -1 ;
    }
    continue ;
   fail:
    pthread_mutex_lock(&mu) ;
    failed++ ;
    pthread_mutex_unlock(&mu) ;
    if (c.fd >= 0) close(c.fd) ;
    c.fd = -1 ;
  }
  if (c.fd >= 0) { cmd(&c, "QUIT\r\n", 2) ; close(c.fd) ; }
  return 0 ;
}

typedef struct { char name[NAME_MAX + 1] ; double t ; } seen ;

static int cmpd (void const *a, void const *b)
{
  double x = *(double const *)a, y = *(double const *)b ;
  return x < y ? -1 : x > y ;
}

int main (int argc, char **argv)
{
  int opt, ifd = -1, nseen = 0 ;
  seen *sv ;
  pthread_t *th ;
  while ((opt = getopt(argc, argv, "h:p:n:c:s:rf:t:w:T:")) != -1)
  {
    switch (opt)
    {
      case 'h' : host = optarg ; break ;
      case 'p' : port = atoi(optarg) ; break ;
      case 'n' : nmsg = atoi(optarg) ; break ;
      case 'c' : conc = atoi(optarg) ; break ;
      case 's' : size = atoi(optarg) ; break ;
      case 'r' : reuse = 1 ; break ;
      case 'f' : from = optarg ; break ;
      case 't' : rcpt = optarg ; break ;
      case 'w' : watch = optarg ; break ;
      case 'T' : timeout_s = atof(optarg) ; break ;
      default :
        fprintf(stderr, "usage: smtp-load [-h host] [-p port] [-n msgs] [-c conns] [-s size] [-r] [-f from] [-t rcpt] [-w maildir/new] [-T timeout]\n") ;
        return 100 ;
    }
  }
  if (nmsg < 1 || nmsg > 100000 || conc < 1 || conc > 500 || size < 100 || size > 50000000)
  {
    fprintf(stderr, "smtp-load: bounds: 1..100000 messages, 1..500 connections, 100..50000000 octets\n") ;
    return 100 ;
  }
  /* body: 76-character lines up to the size */
  bodylen = 0 ;
  body = malloc(size + 100) ;
  while (bodylen + 78 <= (size_t)size) { memset(body + bodylen, 'x', 76) ; memcpy(body + bodylen + 76, "\r\n", 2) ; bodylen += 78 ; }
  t250 = calloc(nmsg, sizeof(double)) ;
  sv = calloc(nmsg + 1000, sizeof(seen)) ;
  th = calloc(conc, sizeof(pthread_t)) ;
  if (watch)
  {
    ifd = inotify_init1(IN_NONBLOCK) ;
    if (ifd < 0 || inotify_add_watch(ifd, watch, IN_CREATE | IN_MOVED_TO) < 0) { perror("inotify") ; return 111 ; }
  }
  tstart = now() ;
  for (int i = 0 ; i < conc ; i++) pthread_create(th + i, 0, worker, 0) ;
  /* collect inotify events while the workers run, and after, until all are in */
  {
    int running = 1 ;
    double quiet_until = 0 ;
    while (ifd >= 0 || running)
    {
      char buf[65536] __attribute__((aligned(8))) ;
      if (running)
      {
        int all = 1 ;
        pthread_mutex_lock(&mu) ;
        all = next_msg >= nmsg || now() - tstart >= timeout_s ;
        pthread_mutex_unlock(&mu) ;
        if (all)
        {
          for (int i = 0 ; i < conc ; i++) pthread_join(th[i], 0) ;
          running = 0 ;
          quiet_until = now() + 60 ;
        }
      }
      if (ifd < 0) { if (!running) break ; usleep(1000) ; continue ; }
      {
        ssize_t r = read(ifd, buf, sizeof buf) ;
        double t = now() ;
        if (r > 0)
        {
          for (char *p = buf ; p < buf + r ; )
          {
            struct inotify_event *ev = (struct inotify_event *)p ;
            if (ev->len && nseen < nmsg + 1000)
            {
              strncpy(sv[nseen].name, ev->name, NAME_MAX) ;
              sv[nseen++].t = t ;
            }
            p += sizeof *ev + ev->len ;
          }
          continue ;
        }
      }
      if (!running && (nseen >= accepted || now() > quiet_until || now() - tstart > timeout_s)) break ;
      usleep(500) ;
    }
  }
  {
    double *lat = calloc(nmsg, sizeof(double)) ;
    int nlat = 0 ;
    double tlast = 0 ;
    for (int k = 0 ; k < nseen ; k++)
    {
      char path[PATH_MAX], data[4096] ;
      int fd, id ;
      ssize_t r ;
      char *x ;
      snprintf(path, sizeof path, "%s/%s", watch, sv[k].name) ;
      fd = open(path, O_RDONLY) ;
      if (fd < 0) continue ;
      r = read(fd, data, sizeof data - 1) ;
      close(fd) ;
      if (r <= 0) continue ;
      data[r] = 0 ;
      x = strstr(data, "\nX-Bench: ") ;
      if (!x) continue ;
      id = atoi(x + 10) ;
      if (id < 0 || id >= nmsg || !t250[id]) continue ;
      lat[nlat++] = (sv[k].t - t250[id]) * 1000 ;
      if (sv[k].t > tlast) tlast = sv[k].t ;
    }
    qsort(lat, nlat, sizeof(double), cmpd) ;
    printf("{\"messages\":%d,\"size\":%d,\"connections\":%d,\"accepted\":%d,\"failed\":%d,"
           "\"secs_accept\":%.3f,\"rate_accept\":%.1f,\"delivered\":%d,\"secs_deliver\":%.3f,\"rate_deliver\":%.1f,"
           "\"lat_p50_ms\":%.2f,\"lat_p99_ms\":%.2f,\"lat_max_ms\":%.2f}\n",
           nmsg, size, conc, accepted, failed,
           tend_accept - tstart, accepted / (tend_accept - tstart),
           nlat, nlat ? tlast - tstart : 0, nlat ? nlat / (tlast - tstart) : 0,
           nlat ? lat[nlat / 2] : 0, nlat ? lat[(nlat * 99) / 100 < nlat ? (nlat * 99) / 100 : nlat - 1] : 0,
           nlat ? lat[nlat - 1] : 0) ;
  }
  return failed ? 1 : 0 ;
}
