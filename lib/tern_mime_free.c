/* tern_mime_free: what tern_mime_parse allocated (the parts, the scratch). */

#include <stdlib.h>
#include "tern_mime.h"

void tern_mime_free (tern_mime *m)
{
  genalloc_free(tern_mime_part, &m->parts) ;
  free(m->work) ;
  m->work = 0 ;
  m->msg = 0 ;
  m->len = 0 ;
}
