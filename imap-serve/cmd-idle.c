/* cmd-idle.c: IDLE (RFC 2177). The session waits for the client's DONE
   and, with a folder selected, for the inotify events of its new/ and
   cur/ (tern_store_watch): each wakes it to tell the client what changed
   (EXISTS, EXPUNGE, FETCH), within a second of another program's change.
   Without inotify it looks every two seconds. The autologout timer runs
   as for any wait (IMAP_TIMEOUT). */

#include <string.h>
#include <strings.h>
#include <skalibs/stralloc.h>
#include <skalibs/tai.h>
#include "imap-serve.h"

#define POLL 2   /* seconds between looks without inotify */

void cmd_idle (tern_imap_p *p)
{
  stralloc line = STRALLOC_ZERO ;
  tain deadline, next ;
  if (!tern_imap_p_eol(p)) { o_bad(p, 0) ; return ; }
  if (S.selected) view_sync(1) ;
  o_str("+ idling\r\n") ;
  tain_now_g() ;
  tain_addsec_g(&deadline, S.timeout) ;
  for (;;)
  {
    int r ;
    tain_now_g() ;
    tain_addsec_g(&next, POLL) ;
    if (tain_less(&deadline, &next) || (S.selected && S.watchfd >= 0)) next = deadline ;
    r = imap_wait(S.selected ? S.watchfd : -1, &next) ;
    if (r == 1) break ;
    if (!r)
    {
      tain_now_g() ;
      if (!tain_less(&STAMP, &deadline))
      {
        o_str("* BYE Autologout: idle for too long\r\n") ;
        o_flush() ;
        die_io("timeout") ;
      }
    }
    if (S.selected && !notify_on()) view_sync(1) ;   /* else NOTIFY's events (RFC 5465 4) */
  }
  if (imap_getline(&line) == 4 && !strncasecmp(line.s, "DONE", 4)) o_tagged("OK Idle completed") ;
  else o_bad(0, "Expected DONE") ;
  stralloc_free(&line) ;
}
