/* tern_imap_envelope: ENVELOPE (RFC 3501 7.4.2) of a header.

   Strings are as in the message (encoded-words are left alone): Date,
   In-Reply-To and Message-ID with their line ends dropped; Subject and
   display names cleaned for humans as Dovecot does (white space runs to
   one space, trimmed). As in Dovecot 2.3, a field given twice counts
   by its last copy for strings and by all of its copies for addresses;
   Sender and Reply-To default to From.

   Addresses (RFC 5322 3.4, with the obsolete forms of 4.4) go through
   a small tokenizer and one pass, linear in the field, that never fails:
   what cannot be read becomes MISSING_MAILBOX / MISSING_DOMAIN, as the
   common servers write it. Empty list members are skipped (RFC 5322
   4.4); a display name falls back on the last comment; the local part
   of "Name user@host" (no angle brackets) is the last word. */

#include <string.h>
#include <skalibs/genalloc.h>
#include "tern_mime.h"
#include "tern_mime_internal.h"

enum { T_ATOM, T_QUOTED, T_LITERAL, T_SPECIAL, T_END } ;

typedef struct tok_s tok ;
struct tok_s
{
  unsigned char type ;
  char c ;                 /* the special */
  size_t off, len ;        /* T_QUOTED: the content, without the quotes */
} ;

typedef struct lex_s lex ;
struct lex_s
{
  char const *s ;
  size_t n, i ;
  size_t com, comlen ;     /* the last comment's content */
  int hascom ;
} ;

static int atomchar (unsigned char c)
{
  if (c <= 32 || c == 127) return 0 ;
  switch (c)
  {
    case '(' : case ')' : case '<' : case '>' : case '[' : case ':' : case ';' :
    case '@' : case ',' : case '"' :
      return 0 ;
  }
  return 1 ;
}

static void next (lex *x, tok *t)
{
  char const *s = x->s ;
  size_t n = x->n, i = x->i ;
  for (;;)
  {
    while (i < n && tmi_wsp((unsigned char)s[i])) i++ ;
    if (i < n && s[i] == '(')
    {
      size_t j = i, depth = 0 ;
      int closed = 0 ;
      for (; j < n ; j++)
      {
        if (s[j] == '\\') { j++ ; continue ; }
        if (s[j] == '(') depth++ ;
        else if (s[j] == ')' && !--depth) { closed = 1 ; break ; }
      }
      if (j > n) j = n ;
      x->com = i + 1 ;
      x->comlen = j - i - 1 ;
      x->hascom = 1 ;
      i = closed ? j + 1 : n ;
      continue ;
    }
    break ;
  }
  if (i >= n) { t->type = T_END ; x->i = n ; return ; }
  if (s[i] == '"')
  {
    size_t j = i + 1 ;
    while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1 ;
    if (j > n) j = n ;
    t->type = T_QUOTED ; t->off = i + 1 ; t->len = j - i - 1 ;
    x->i = j < n ? j + 1 : n ;
    return ;
  }
  if (s[i] == '[')
  {
    size_t j = i + 1 ;
    while (j < n && s[j] != ']') j += s[j] == '\\' ? 2 : 1 ;
    if (j > n) j = n ;
    t->type = T_LITERAL ; t->off = i ; t->len = (j < n ? j + 1 : n) - i ;
    x->i = i + t->len ;
    return ;
  }
  if (!atomchar(s[i]))
  {
    t->type = T_SPECIAL ; t->c = s[i] ; t->off = i ; t->len = 1 ;
    x->i = i + 1 ;
    return ;
  }
  {
    size_t j = i ;
    while (j < n && atomchar(s[j])) j++ ;
    t->type = T_ATOM ; t->off = i ; t->len = j - i ;
    x->i = j ;
  }
}

/* ---- output ---- */

/* white space runs to one space, trimmed (Dovecot's "for humans") */
static int humans (stralloc *out, char const *s, size_t n)
{
  size_t start ;
  int sp = 0 ;
  char *w ;
  if (!stralloc_readyplus(out, n)) return 0 ;
  start = out->len ;
  w = out->s + start ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if (tmi_wsp((unsigned char)s[i])) { sp = 1 ; continue ; }
    if (sp && w > out->s + start) *w++ = ' ' ;
    sp = 0 ;
    *w++ = s[i] ;
  }
  out->len = w - out->s ;
  return 1 ;
}

/* CR and LF dropped */
static int nolf (stralloc *out, char const *s, size_t n)
{
  char *w ;
  if (!stralloc_readyplus(out, n)) return 0 ;
  w = out->s + out->len ;
  for (size_t i = 0 ; i < n ; i++) if (s[i] != '\r' && s[i] != '\n') *w++ = s[i] ;
  out->len = w - out->s ;
  return 1 ;
}

typedef struct addr_s addr ;
struct addr_s
{
  stralloc *out ;          /* the rendered addresses of this field */
  stralloc name, route, mbox, host, tmp ;
  genalloc words ;         /* tok: the phrase so far */
  unsigned int flags ;
  int ingroup ;
  int text ;               /* search text (tern_imap_addrtext), not IMAP */
  size_t base ;            /* where this field's text begins in out */
} ;

/* The search text of one address: "name <mailbox@host>", or
   "mailbox@host", names' encoded-words decoded; a group begins with
   "name:" and ends with ";". Entries are separated by ", ". */
static int puttext (addr *a, char const *name, size_t nl, char const *mb, size_t ml, char const *host, size_t hl)
{
  stralloc *o = a->out ;
  if (!mb && !host) return stralloc_catb(o, ";", 1) ;
  if (o->len > a->base && !stralloc_cats(o, o->s[o->len - 1] == ':' ? " " : ", ")) return 0 ;
  if (!host) return stralloc_catb(o, mb, ml) && stralloc_catb(o, ":", 1) ;
  if (nl && !(tern_hdr_decode(o, name, nl) && stralloc_catb(o, " <", 2))) return 0 ;
  if (!stralloc_catb(o, mb, ml)) return 0 ;
  if (hl && !(stralloc_catb(o, "@", 1) && stralloc_catb(o, host, hl))) return 0 ;
  return !nl || stralloc_catb(o, ">", 1) ;
}

static int put (addr *a, char const *name, size_t nl, char const *route, size_t rl, char const *mb, size_t ml, char const *host, size_t hl)
{
  stralloc *o = a->out ;
  if (a->text) return puttext(a, name, nl, mb, ml, host, hl) ;
  /* room for all of it: a string takes at most 2n + 2 octets quoted, n + 24 as a literal */
  if (!stralloc_readyplus(o, 2 * (nl + rl + ml + hl) + 4 * 24 + 5)) return 0 ;
  o->s[o->len++] = '(' ;
  if (!tern_imap_string(o, name, nl, a->flags)) return 0 ;
  o->s[o->len++] = ' ' ;
  if (!tern_imap_string(o, route, rl, a->flags)) return 0 ;
  o->s[o->len++] = ' ' ;
  if (!tern_imap_string(o, mb, ml, a->flags)) return 0 ;
  o->s[o->len++] = ' ' ;
  if (!tern_imap_string(o, host, hl, a->flags)) return 0 ;
  o->s[o->len++] = ')' ;
  return 1 ;
}

/* a token's text appended: quoted strings unquoted, a domain literal
   unfolded (the only other token that can hold a line end) */
static int cattok (stralloc *sa, char const *s, tok const *t)
{
  if (t->type == T_QUOTED) return tmi_unquote(sa, s + t->off, t->len) ;
  if (t->type == T_LITERAL) return nolf(sa, s + t->off, t->len) ;
  return stralloc_catb(sa, s + t->off, t->len) ;
}

/* the display name from words [0, nw), else from the last comment */
static int mkname (addr *a, lex const *x, size_t nw)
{
  tok const *w = genalloc_s(tok, &a->words) ;
  a->tmp.len = 0 ;
  for (size_t i = 0 ; i < nw ; i++)
  {
    if (i && !stralloc_catb(&a->tmp, " ", 1)) return 0 ;
    if (!cattok(&a->tmp, x->s, w + i)) return 0 ;
  }
  if (!nw && x->hascom)
  {
    for (size_t i = 0 ; i < x->comlen ; i++)
    {
      char c = x->s[x->com + i] ;
      if (c == '\\' && i + 1 < x->comlen) c = x->s[x->com + ++i] ;
      if (!stralloc_catb(&a->tmp, &c, 1)) return 0 ;
    }
  }
  a->name.len = 0 ;
  return humans(&a->name, a->tmp.s, a->tmp.len) ;
}

static int emit (addr *a)
{
  if (a->text) return puttext(a, a->name.s, a->name.len, a->mbox.s ? a->mbox.s : "", a->mbox.len, a->host.s ? a->host.s : "", a->host.len) ;
  return put(a, a->name.len ? a->name.s : 0, a->name.len,
    a->route.len ? a->route.s : 0, a->route.len,
    a->mbox.len ? a->mbox.s : "MISSING_MAILBOX", a->mbox.len ? a->mbox.len : 15,
    a->host.len ? a->host.s : "MISSING_DOMAIN", a->host.len ? a->host.len : 14) ;
}

/* the domain after "@": an atom or a literal, and more of them joined by dots */
static int domain (addr *a, lex *x, tok *t)
{
  int wantmore = 1 ;
  a->host.len = 0 ;
  next(x, t) ;
  while (t->type == T_ATOM || t->type == T_LITERAL)
  {
    char const *s = x->s + t->off ;
    if (!wantmore && s[0] != '.') break ;
    if (!cattok(&a->host, x->s, t)) return 0 ;
    wantmore = s[t->len - 1] == '.' ;
    next(x, t) ;
  }
  return 1 ;
}

/* a whole address list */
static int parse (addr *a, char const *s, size_t n)
{
  lex x = { .s = s, .n = n, .i = 0, .hascom = 0 } ;
  tok t ;
  next(&x, &t) ;
  for (;;)
  {
    size_t nw ;
    genalloc_setlen(tok, &a->words, 0) ;
    x.hascom = 0 ;
    a->route.len = a->mbox.len = a->host.len = 0 ;

    /* the words before a special */
    while (t.type == T_ATOM || t.type == T_QUOTED || t.type == T_LITERAL)
    {
      if (!genalloc_append(tok, &a->words, &t)) return 0 ;
      next(&x, &t) ;
    }
    nw = genalloc_len(tok, &a->words) ;

    if (t.type == T_SPECIAL && t.c == ':')
    {
      /* a group (RFC 5322 3.4): its name, then its members, then ";" */
      if (a->ingroup && !put(a, 0, 0, 0, 0, 0, 0, 0, 0)) return 0 ;
      x.hascom = 0 ;
      if (!mkname(a, &x, nw)) return 0 ;
      if (!put(a, 0, 0, 0, 0, a->name.s ? a->name.s : "", a->name.len, 0, 0)) return 0 ;
      a->ingroup = 1 ;
      next(&x, &t) ;
      continue ;
    }

    if (t.type == T_SPECIAL && t.c == '<')
    {
      /* name-addr: [phrase] "<" [route ":"] addr-spec ">" */
      int sawat = 0, routing ;
      if (!mkname(a, &x, nw)) return 0 ;
      next(&x, &t) ;
      routing = t.type == T_SPECIAL && t.c == '@' ;
      if (routing)
      {
        /* obs-route: "@" domain *("," "@" domain) ":" (RFC 5322 4.4) */
        size_t save = x.i ;
        tok st = t ;
        while (t.type != T_END && !(t.type == T_SPECIAL && (t.c == ':' || t.c == '>')))
        {
          if (!cattok(&a->route, s, &t)) return 0 ;
          next(&x, &t) ;
        }
        if (t.type == T_SPECIAL && t.c == ':') next(&x, &t) ;
        else { a->route.len = 0 ; x.i = save ; t = st ; }
      }
      while (t.type != T_END && !(t.type == T_SPECIAL && (t.c == '>' || t.c == ',' || t.c == ';')))
      {
        if (t.type == T_SPECIAL && t.c == '@')
        {
          sawat = 1 ;
          if (!domain(a, &x, &t)) return 0 ;
          continue ;
        }
        if (!sawat && t.type != T_SPECIAL && !cattok(&a->mbox, s, &t)) return 0 ;
        next(&x, &t) ;
      }
      if (t.type == T_SPECIAL && t.c == '>') next(&x, &t) ;
      x.hascom = 0 ;  /* comments inside the brackets name nothing */
    }
    else if (t.type == T_SPECIAL && t.c == '@')
    {
      /* addr-spec: the local part is the last word, and those joined to it by dots */
      tok const *w = genalloc_s(tok, &a->words) ;
      size_t first = nw ;
      while (first > 0)
      {
        first-- ;
        if (!first) break ;
        if (w[first].type == T_ATOM && s[w[first].off] == '.') continue ;
        if (w[first-1].type == T_ATOM && s[w[first-1].off + w[first-1].len - 1] == '.') continue ;
        break ;
      }
      for (size_t i = first ; i < nw ; i++) if (!cattok(&a->mbox, s, w + i)) return 0 ;
      if (!domain(a, &x, &t)) return 0 ;
      if (!mkname(a, &x, first)) return 0 ;
    }
    else
    {
      /* no address in this member: a lone word is a mailbox, more words a name */
      if (!nw)
      {
        if (t.type == T_END) break ;
        if (t.c == ';' && a->ingroup)
        {
          if (!put(a, 0, 0, 0, 0, 0, 0, 0, 0)) return 0 ;
          a->ingroup = 0 ;
        }
        next(&x, &t) ;
        continue ;
      }
      if (nw == 1 && genalloc_s(tok, &a->words)[0].type == T_ATOM)
      {
        if (!cattok(&a->mbox, s, genalloc_s(tok, &a->words))) return 0 ;
        if (!mkname(a, &x, 0)) return 0 ;
      }
      else if (!mkname(a, &x, nw)) return 0 ;
      if (!emit(a)) return 0 ;
      continue ;
    }

    /* junk up to the end of this member; a comment there may be the name */
    while (t.type != T_END && !(t.type == T_SPECIAL && (t.c == ',' || t.c == ';'))) next(&x, &t) ;
    if (!a->name.len && !nw && x.hascom && !mkname(a, &x, 0)) return 0 ;
    if (!emit(a)) return 0 ;
  }
  return 1 ;
}

enum { F_DATE, F_SUBJECT, F_FROM, F_SENDER, F_REPLYTO, F_TO, F_CC, F_BCC, F_INREPLYTO, F_MSGID, F_N } ;

static int field (tern_hdr_field const *f)
{
  static char const *const names[F_N] =
    { "date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id" } ;
  for (unsigned int i = 0 ; i < F_N ; i++) if (tmi_is(f->name, f->namelen, names[i])) return i ;
  return -1 ;
}

static int putlist (stralloc *out, stralloc const *l)
{
  if (!l->len) return stralloc_catb(out, "NIL", 3) ;
  return stralloc_catb(out, "(", 1) && stralloc_catb(out, l->s, l->len) && stralloc_catb(out, ")", 1) ;
}

static void addr_free (addr *a)
{
  stralloc_free(&a->name) ; stralloc_free(&a->route) ; stralloc_free(&a->mbox) ;
  stralloc_free(&a->host) ; stralloc_free(&a->tmp) ;
  genalloc_free(tok, &a->words) ;
}

int tern_imap_addrtext (stralloc *out, char const *v, size_t n)
{
  addr a = { .out = out, .name = STRALLOC_ZERO, .route = STRALLOC_ZERO, .mbox = STRALLOC_ZERO, .host = STRALLOC_ZERO, .tmp = STRALLOC_ZERO, .words = GENALLOC_ZERO, .text = 1, .base = out->len } ;
  int ok = parse(&a, v, n) && (!a.ingroup || puttext(&a, 0, 0, 0, 0, 0, 0)) ;
  addr_free(&a) ;
  return ok ;
}

int tern_imap_envelope (stralloc *out, char const *hdr, size_t len, unsigned int flags)
{
  stralloc lists[6] = { STRALLOC_ZERO, STRALLOC_ZERO, STRALLOC_ZERO, STRALLOC_ZERO, STRALLOC_ZERO, STRALLOC_ZERO } ;
  stralloc str = STRALLOC_ZERO ;
  addr a = { .name = STRALLOC_ZERO, .route = STRALLOC_ZERO, .mbox = STRALLOC_ZERO, .host = STRALLOC_ZERO, .tmp = STRALLOC_ZERO, .words = GENALLOC_ZERO, .flags = flags } ;
  char const *sv[F_N] = { 0 } ;
  size_t sl[F_N] = { 0 } ;
  tern_hdr_field f ;
  size_t pos = 0 ;
  int ok = 0 ;
  while (tern_hdr_next(hdr, len, &pos, &f))
  {
    int k = field(&f) ;
    char const *v = f.val ;
    size_t vl = f.vallen ;
    if (k < 0) continue ;
    while (vl && (*v == ' ' || *v == '\t')) { v++ ; vl-- ; }
    if (k >= F_FROM && k <= F_BCC)
    {
      a.out = lists + (k - F_FROM) ;
      a.ingroup = 0 ;
      if (!parse(&a, v, vl)) goto end ;
      if (a.ingroup && !put(&a, 0, 0, 0, 0, 0, 0, 0, 0)) goto end ;
    }
    else { sv[k] = v ; sl[k] = vl ; }
  }
  if (!stralloc_catb(out, "(", 1)) goto end ;
  for (unsigned int k = 0 ; k < F_N ; k++)
  {
    if (k && !stralloc_catb(out, " ", 1)) goto end ;
    if (k >= F_FROM && k <= F_BCC)
    {
      stralloc const *l = lists + (k - F_FROM) ;
      if ((k == F_SENDER || k == F_REPLYTO) && !l->len) l = lists ;
      if (!putlist(out, l)) goto end ;
      continue ;
    }
    if (!sv[k]) { if (!stralloc_catb(out, "NIL", 3)) goto end ; continue ; }
    str.len = 0 ;
    if (!(k == F_SUBJECT ? humans(&str, sv[k], sl[k]) : nolf(&str, sv[k], sl[k]))) goto end ;
    if (!tern_imap_string(out, str.s ? str.s : "", str.len, flags)) goto end ;
  }
  ok = stralloc_catb(out, ")", 1) ;
 end:
  for (unsigned int i = 0 ; i < 6 ; i++) stralloc_free(lists + i) ;
  stralloc_free(&str) ;
  addr_free(&a) ;
  return ok ;
}
