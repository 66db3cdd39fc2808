/* pop3-load: the POP3 client of bench/pop3, in C so that the client is
   not what is measured. Two modes, each printing one JSON object:

     pop3-load -p PORT -u USER -w PASS retr [-n N]
       one session: USER/PASS, STAT, UIDL, LIST, then RETR i and DELE i
       for i = 1..N (each command waits for its reply, as an ordinary
       client does), QUIT. Times the login, UIDL, and RETR+DELE+QUIT.

     pop3-load -p PORT -u USER -w PASS login [-n N]
       N sessions one after the other: connect, USER/PASS, QUIT; the
       latency from connect to the +OK after PASS.

     pop3-load -p PORT -u USER -w PASS idle -n K
       K sessions logged in and left idle; prints when they are all in,
       then waits for a line on stdin and QUITs them (the driver measures
       the servers' memory meanwhile). USER may contain %d (1..K).

   Loopback only, bounded by -T seconds. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double deadline ;
static char buf[1 << 20] ;
static size_t blen = 0 ;

static double now (void)
{
  struct timespec ts ;
  clock_gettime(CLOCK_MONOTONIC, &ts) ;
  return ts.tv_sec + ts.tv_nsec / 1e9 ;
}

static void die (char const *what)
{
  fprintf(stderr, "pop3-load: %s\n", what) ;
  exit(1) ;
}

static int dial (int port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) } ;
  int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0) ;
  struct timeval tv = { .tv_sec = 60 } ;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK) ;
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect") ;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ;
  return fd ;
}

static void fill (int fd)
{
  ssize_t r ;
  if (now() > deadline) die("time limit reached") ;
  if (blen == sizeof buf) die("reply too long") ;
  r = read(fd, buf + blen, sizeof buf - blen) ;
  if (r <= 0) die("connection closed or timed out") ;
  blen += r ;
}

/* One reply line; dies unless it starts with +OK. */
static void line (int fd, char const *cmd)
{
  for (;;)
  {
    char *e = memmem(buf, blen, "\r\n", 2) ;
    if (e)
    {
      size_t n = e + 2 - buf ;
      if (blen < 3 || memcmp(buf, "+OK", 3))
      {
        fprintf(stderr, "pop3-load: %s -> %.*s\n", cmd, (int)(e - buf), buf) ;
        exit(1) ;
      }
      memmove(buf, buf + n, blen - n) ;
      blen -= n ;
      return ;
    }
    fill(fd) ;
  }
}

/* A multi-line body through CRLF.CRLF: its length (stuffed). */
static size_t multi (int fd)
{
  size_t from = 0 ;
  for (;;)
  {
    char *e ;
    if (blen >= 3 && !memcmp(buf, ".\r\n", 3)) { memmove(buf, buf + 3, blen - 3) ; blen -= 3 ; return 0 ; }
    e = memmem(buf + from, blen - from, "\r\n.\r\n", 5) ;
    if (e)
    {
      size_t n = e + 5 - buf ;
      memmove(buf, buf + n, blen - n) ;
      blen -= n ;
      return n - 3 ;
    }
    from = blen > 4 ? blen - 4 : 0 ;
    fill(fd) ;
  }
}

static void cmd (int fd, char const *s)
{
  size_t n = strlen(s) ;
  if (write(fd, s, n) != (ssize_t)n) die("write") ;
}

static void login (int fd, char const *user, char const *pass)
{
  char c[1024] ;
  line(fd, "greeting") ;
  snprintf(c, sizeof c, "USER %s\r\n", user) ;
  cmd(fd, c) ;
  line(fd, "USER") ;
  snprintf(c, sizeof c, "PASS %s\r\n", pass) ;
  cmd(fd, c) ;
  line(fd, "PASS") ;
}

static int cmpd (void const *a, void const *b)
{
  double x = *(double const *)a, y = *(double const *)b ;
  return x < y ? -1 : x > y ;
}

int main (int argc, char **argv)
{
  int port = 0, n = 0, opt ;
  double limit = 600 ;
  char const *user = 0, *pass = 0, *mode ;
  while ((opt = getopt(argc, argv, "p:u:w:n:T:")) != -1)
  {
    switch (opt)
    {
      case 'p' : port = atoi(optarg) ; break ;
      case 'u' : user = optarg ; break ;
      case 'w' : pass = optarg ; break ;
      case 'n' : n = atoi(optarg) ; break ;
      case 'T' : limit = atof(optarg) ; break ;
      default : die("usage: pop3-load -p port -u user -w pass [-n N] [-T secs] retr|login|idle") ;
    }
  }
  if (optind != argc - 1 || !port || !user || !pass || n < 0 || n > 200000) die("usage: pop3-load -p port -u user -w pass [-n N] [-T secs] retr|login|idle") ;
  mode = argv[optind] ;
  deadline = now() + limit ;

  if (!strcmp(mode, "retr"))
  {
    double t0, t1, t2, t3 ;
    unsigned long count, octets ;
    unsigned long long got = 0 ;
    char c[64] ;
    int fd ;
    t0 = now() ;
    fd = dial(port) ;
    login(fd, user, pass) ;
    t1 = now() ;
    cmd(fd, "STAT\r\n") ;
    for (;;)
    {
      char *e = memmem(buf, blen, "\r\n", 2) ;
      if (e) break ;
      fill(fd) ;
    }
    if (sscanf(buf, "+OK %lu %lu", &count, &octets) != 2) die("STAT") ;
    line(fd, "STAT") ;
    if (!n || (unsigned long)n > count) n = count ;
    t2 = now() ;
    cmd(fd, "UIDL\r\n") ; line(fd, "UIDL") ; multi(fd) ;
    t3 = now() ;
    cmd(fd, "LIST\r\n") ; line(fd, "LIST") ; multi(fd) ;
    {
      double t4 = now(), t5 ;
      for (int i = 1 ; i <= n ; i++)
      {
        snprintf(c, sizeof c, "RETR %d\r\n", i) ;
        cmd(fd, c) ; line(fd, "RETR") ; got += multi(fd) ;
        snprintf(c, sizeof c, "DELE %d\r\n", i) ;
        cmd(fd, c) ; line(fd, "DELE") ;
      }
      cmd(fd, "QUIT\r\n") ; line(fd, "QUIT") ;
      t5 = now() ;
      close(fd) ;
      printf("{\"messages\": %d, \"stat_octets\": %lu, \"bytes\": %llu, \"login_ms\": %.2f, \"uidl_ms\": %.2f, "
             "\"retr_dele_quit_s\": %.4f, \"msg_s\": %.1f, \"MB_s\": %.2f}\n",
             n, octets, got, (t1 - t0) * 1000, (t3 - t2) * 1000, t5 - t4, n / (t5 - t4), got / (t5 - t4) / 1e6) ;
    }
    return 0 ;
  }
  if (!strcmp(mode, "login"))
  {
    double *lat ;
    if (!n) n = 20 ;
    lat = calloc(n, sizeof(double)) ;
    if (!lat) die("calloc") ;
    for (int i = 0 ; i < n ; i++)
    {
      double t0 = now() ;
      int fd = dial(port) ;
      login(fd, user, pass) ;
      lat[i] = (now() - t0) * 1000 ;
      cmd(fd, "QUIT\r\n") ;
      line(fd, "QUIT") ;
      close(fd) ;
      blen = 0 ;
    }
    qsort(lat, n, sizeof(double), &cmpd) ;
    printf("{\"logins\": %d, \"p50_ms\": %.2f, \"p90_ms\": %.2f, \"min_ms\": %.2f, \"max_ms\": %.2f}\n",
           n, lat[n / 2], lat[n * 9 / 10], lat[0], lat[n - 1]) ;
    return 0 ;
  }
  if (!strcmp(mode, "idle"))
  {
    int *fds = calloc(n ? n : 1, sizeof(int)) ;
    char u[512], l[16] ;
    if (!fds || !n) die("idle needs -n") ;
    for (int i = 0 ; i < n ; i++)
    {
      snprintf(u, sizeof u, user, i + 1) ;
      fds[i] = dial(port) ;
      blen = 0 ;
      login(fds[i], u, pass) ;
    }
    printf("{\"idle\": %d}\n", n) ;
    fflush(stdout) ;
    if (!fgets(l, sizeof l, stdin)) {}
    for (int i = 0 ; i < n ; i++)
    {
      cmd(fds[i], "QUIT\r\n") ;
      close(fds[i]) ;
    }
    return 0 ;
  }
  die("mode: retr, login or idle") ;
}
