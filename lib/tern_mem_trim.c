/* tern_mem_trim: gives back to the kernel what a process that is about
   to wait a long time no longer uses: the heap's free memory
   (malloc_trim) and the pages of its stack below the current frame (a
   handshake or a big command went deep once; an idle connection need
   not keep those pages). A page below the stack pointer is kept for the
   call that releases the rest; a signal frame later gets fresh pages;
   what is released reads back as zeros,
   which nothing below the stack pointer may rely on. Linux only, best
   effort: any failure is ignored. */

#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "tern.h"

static uintptr_t stack_low (void)
{
  char buf[4096] ;
  uintptr_t low = 0 ;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC) ;
  size_t have = 0 ;
  if (fd < 0) return 0 ;
  for (;;)
  {
    ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have) ;
    char *nl, *line ;
    if (r <= 0) break ;
    have += r ;
    buf[have] = 0 ;
    line = buf ;
    while ((nl = strchr(line, '\n')))
    {
      *nl = 0 ;
      if (strstr(line, "[stack]"))
      {
        uintptr_t v = 0 ;
        for (char *p = line ; *p && *p != '-' ; p++)
          v = v * 16 + (*p >= 'a' ? *p - 'a' + 10 : *p - '0') ;
        low = v ;
        close(fd) ;
        return low ;
      }
      line = nl + 1 ;
    }
    have = buf + have - line ;
    memmove(buf, line, have) ;
  }
  close(fd) ;
  return low ;
}

void tern_mem_trim (void)
{
  char here ;
  uintptr_t low = stack_low() ;
  /* kept: the page of this frame and the one below it, where the
     madvise call's own frame and return address are */
  uintptr_t top = ((uintptr_t)&here & ~(uintptr_t)4095) - 4096 ;
  malloc_trim(0) ;
  if (low && top > low) madvise((void *)low, top - low, MADV_DONTNEED) ;
}
