/* unit test: the mailbox store (lib/tern_store_*.c): building the index
   from a Maildir, UIDs that survive reopening, the loss of the index, of
   the uidlist, of both; our own changes and other programs' (renames,
   removals, new files), expunges, appends, copies, a torn uidlist line;
   tern_store_check after each step. Runs as nobody when started as root
   (the store refuses root). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <skalibs/stralloc.h>
#include <skalibs/genalloc.h>
#include "tern_store.h"
#include "tap.h"

static char root[256] ;

static void put (char const *rel, char const *text)
{
  char p[512] ;
  FILE *f ;
  snprintf(p, sizeof(p), "%s/%s", root, rel) ;
  f = fopen(p, "w") ;
  if (!f) { perror(p) ; exit(1) ; }
  fputs(text, f) ;
  fclose(f) ;
}

static int present (char const *rel)
{
  char p[512] ;
  struct stat s ;
  snprintf(p, sizeof(p), "%s/%s", root, rel) ;
  return stat(p, &s) == 0 ;
}

static void rm_rf (char const *rel)
{
  char cmd[600] ;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", root, rel) ;
  if (system(cmd)) {}
}

static int consistent (tern_store *st, char const *name)
{
  stralloc rep = STRALLOC_ZERO ;
  int r = tern_store_check(st, &rep) ;
  tap_ok(r == 1, name) ;
  if (r != 1 && rep.len) { stralloc_0(&rep) ; printf("# %s", rep.s) ; }
  stralloc_free(&rep) ;
  return r == 1 ;
}

static tern_store_info info (tern_store *st)
{
  tern_store_info in ;
  memset(&in, 0, sizeof(in)) ;
  if (tern_store_rbegin(st)) { tern_store_info_get(st, &in) ; tern_store_rend(st) ; }
  return in ;
}

/* the UID of the message whose file name starts with prefix, 0 if none */
static uint32_t uid_of (tern_store *st, char const *prefix)
{
  tern_store_iter it ;
  tern_msg m ;
  uint32_t uid = 0 ;
  if (!tern_store_rbegin(st)) return 0 ;
  tern_store_iter_start(st, &it, 1) ;
  while (tern_store_next(&it, &m) == 1)
    if (m.namelen >= strlen(prefix) && !memcmp(m.name, prefix, strlen(prefix))) { uid = m.uid ; break ; }
  tern_store_iter_end(&it) ;
  tern_store_rend(st) ;
  return uid ;
}

static tern_msg getmsg (tern_store *st, uint32_t uid, char *name)
{
  tern_msg m ;
  memset(&m, 0, sizeof(m)) ;
  if (tern_store_rbegin(st))
  {
    if (tern_store_get(st, uid, &m) == 1 && name) { memcpy(name, m.name, m.namelen) ; name[m.namelen] = 0 ; }
    tern_store_rend(st) ;
  }
  return m ;
}

static int count_changes_f (void *data, uint64_t ms, uint32_t uid, int exp)
{
  uint32_t *c = data ;
  c[exp]++ ;
  if (exp) c[2] = uid ;
  return 1 ;
}

int main (void)
{
  tern_store st = TERN_STORE_ZERO ;
  tern_store_info in, in2 ;
  uint32_t u1, u2, u3, u4, u5 ;
  char name[512] ;

  if (!geteuid() && (setgid(65534) < 0 || setuid(65534) < 0)) { perror("setuid") ; return 1 ; }
  snprintf(root, sizeof(root), "/tmp/tern-store-XXXXXX") ;
  if (!mkdtemp(root)) { perror("mkdtemp") ; return 1 ; }
  mkdir(strcat(strcpy(name, root), "/cur"), 0700) ;
  mkdir(strcat(strcpy(name, root), "/new"), 0700) ;
  mkdir(strcat(strcpy(name, root), "/tmp"), 0700) ;
  put("new/1000.M1P1Q1.host,S=20", "Subject: one\n\nbody\n") ;
  put("new/1001.M1P1Q1.host,S=20,W=22", "Subject: two\n\nbody\n") ;
  put("cur/999.M1P1Q1.host:2,S", "Subject: zero\n\nbody\n") ;
  put("cur/1002.M1P1Q1.host:2,FS", "Subject: three\n\nbody\n") ;
  put("cur/1003.M1P1Q1.host:2,", "Subject: four\n\nbody\n") ;

  /* ---- build ---- */
  tap_ok(!tern_store_open(&st, root, 0) && errno == ENOENT, "no index and no CREATE: ENOENT") ;
  if (!tap_ok(tern_store_open(&st, root, TERN_STORE_CREATE), "the index is built")) { printf("# %s\n", strerror(errno)) ; return 1 ; }
  in = info(&st) ;
  tap_is_int(in.messages, 5, "five messages") ;
  tap_is_int(in.uidnext, 6, "UIDNEXT 6") ;
  tap_is_int(in.unseen, 3, "three without \\Seen") ;
  tap_ok(in.uidvalidity > 0, "a UIDVALIDITY") ;
  u1 = uid_of(&st, "999.") ; u2 = uid_of(&st, "1000.") ; u3 = uid_of(&st, "1001.") ; u4 = uid_of(&st, "1002.") ; u5 = uid_of(&st, "1003.") ;
  tap_ok(u1 == 1 && u2 == 2 && u3 == 3 && u4 == 4 && u5 == 5, "UIDs in the order the names say the messages came") ;
  {
    tern_msg m = getmsg(&st, u4, name) ;
    tap_ok(m.flags == (TERN_F_FLAGGED | TERN_F_SEEN) && m.incur, "flags from the name") ;
    m = getmsg(&st, u3, 0) ;
    tap_is_int(m.size, 22, "RFC822.SIZE from W=") ;
    tap_ok(!m.incur, "in new/") ;
  }
  tap_is_int(in.firstunseen, u2, "the first unseen message") ;
  consistent(&st, "check: consistent after the build") ;

  /* ---- STATUS SIZE's figures: known sizes, and the octets of the rest ---- */
  tap_is_int(in.size, 22, "the sum of the sizes known (W=)") ;
  tap_is_int(in.unsized, 19 + 20 + 21 + 20, "the octets on disk of the others") ;
  {
    /* an index made before M_UNSIZED: the figure absent */
    MDB_txn *txn ;
    MDB_val k = { .mv_size = 7, .mv_data = "unsized" } ;
    tap_ok(!mdb_txn_begin(st.env, 0, 0, &txn) && !mdb_del(txn, st.dmeta, &k, 0) && !mdb_txn_commit(txn), "an old index: its figure gone") ;
  }
  in2 = info(&st) ;
  tap_ok(in2.unsized == UINT64_MAX && in2.size == 22, "an old index says it does not know") ;
  tap_ok(tern_store_cache_put(&st, u2, 0, 0, 21) && tern_store_cache_flush(&st), "a size learnt meanwhile") ;
  {
    uint32_t one = u1 ;
    uint64_t ms ;
    tap_ok(tern_store_setflags(&st, &one, 1, TERN_STORE_ADD, TERN_F_SEEN, 0, UINT64_MAX, 0, 0, &ms), "any write") ;
  }
  in2 = info(&st) ;
  tap_ok(in2.unsized == 20 + 21 + 20 && in2.size == 22 + 21, "counts it again from the records") ;
  tap_ok(tern_store_cache_put(&st, u1, 0, 0, 22) && tern_store_cache_flush(&st), "another size learnt") ;
  in2 = info(&st) ;
  tap_ok(in2.unsized == 21 + 20 && in2.size == 22 + 21 + 22, "moves its octets from one figure to the other") ;
  consistent(&st, "check: consistent after the sizes learnt") ;
  tern_store_close(&st) ;

  /* ---- reopen, lose the index, lose the uidlist, lose both ---- */
  tap_ok(tern_store_open(&st, root, TERN_STORE_CREATE), "reopened") ;
  in2 = info(&st) ;
  tap_ok(in2.uidvalidity == in.uidvalidity && in2.highestmodseq == in.highestmodseq, "same UIDVALIDITY and HIGHESTMODSEQ") ;
  tern_store_close(&st) ;
  rm_rf("tern-index") ;
  tap_ok(tern_store_open(&st, root, TERN_STORE_CREATE), "index deleted: built again") ;
  in2 = info(&st) ;
  tap_ok(in2.uidvalidity == in.uidvalidity, "the same UIDVALIDITY") ;
  tap_ok(uid_of(&st, "999.") == u1 && uid_of(&st, "1001.") == u3 && uid_of(&st, "1003.") == u5, "the same UIDs") ;
  tap_ok(in2.highestmodseq > in.highestmodseq, "HIGHESTMODSEQ above the lost index's") ;
  consistent(&st, "check: consistent after the rebuild") ;
  tern_store_close(&st) ;
  rm_rf("tern-uidlist") ;
  tap_ok(tern_store_open(&st, root, TERN_STORE_CREATE), "uidlist deleted: opened") ;
  tap_ok(present("tern-uidlist"), "the uidlist is written again from the index") ;
  tap_ok(info(&st).uidvalidity == in.uidvalidity && uid_of(&st, "1002.") == u4, "with the same UIDVALIDITY and UIDs") ;
  consistent(&st, "check: consistent") ;
  tern_store_close(&st) ;
  put("tern-index/data.mdb", "garbage that is no LMDB file") ;
  tap_ok(tern_store_open(&st, root, TERN_STORE_CREATE), "damaged index: built again") ;
  tap_ok(info(&st).uidvalidity == in.uidvalidity && uid_of(&st, "1000.") == u2, "same UIDVALIDITY and UIDs") ;
  tern_store_close(&st) ;
  rm_rf("tern-uidlist") ; rm_rf("tern-index") ;
  tap_ok(tern_store_open(&st, root, TERN_STORE_CREATE), "both deleted: built") ;
  in2 = info(&st) ;
  tap_ok(in2.uidvalidity != in.uidvalidity, "a new UIDVALIDITY, only now") ;
  in = in2 ;
  consistent(&st, "check: consistent") ;

  /* ---- our own changes ---- */
  {
    genalloc ch = GENALLOC_ZERO, fail = GENALLOC_ZERO ;
    uint64_t ms = 0 ;
    uint32_t uids[2] = { u2, u3 } ;
    uint32_t c[3] = { 0, 0, 0 } ;
    tap_ok(tern_store_setflags(&st, uids, 2, TERN_STORE_ADD, TERN_F_SEEN | TERN_F_ANSWERED, 0, UINT64_MAX, &ch, &fail, &ms), "STORE +FLAGS (\\Seen \\Answered)") ;
    tap_is_int(genalloc_len(uint32_t, &ch), 2, "two changed") ;
    tap_ok(ms > in.highestmodseq, "a new MODSEQ") ;
    getmsg(&st, u2, name) ;
    tap_ok(strstr(name, ":2,RS") != 0 && getmsg(&st, u2, 0).incur, "moved to cur/ with R and S in its name") ;
    tap_is_int(info(&st).unseen, 1, "one unseen left") ;
    tern_store_rbegin(&st) ;
    tern_store_changes(&st, in.highestmodseq, &count_changes_f, c) ;
    tern_store_rend(&st) ;
    tap_ok(c[0] == 2 && c[1] == 0, "the change log has the two") ;
    ch.len = 0 ;
    tap_ok(tern_store_setflags(&st, uids, 1, TERN_STORE_REMOVE, TERN_F_SEEN, 0, in.highestmodseq, &ch, &fail, &ms) && genalloc_len(uint32_t, &fail) == 1 && !genalloc_len(uint32_t, &ch),
           "UNCHANGEDSINCE below the message's MODSEQ: not changed, reported failed") ;
    genalloc_free(uint32_t, &ch) ; genalloc_free(uint32_t, &fail) ;
    consistent(&st, "check: consistent after STORE") ;
  }
  {
    int k = tern_store_keyword(&st, "$Forwarded", 10, 1) ;
    genalloc ch = GENALLOC_ZERO ;
    uint64_t ms ;
    tap_is_int(k, 0, "a first keyword") ;
    tap_ok(tern_store_keyword(&st, "$forwarded", 10, 0) == 0, "keywords are case-insensitive") ;
    tap_ok(tern_store_setflags(&st, &u5, 1, TERN_STORE_ADD, 0, 1u << k, UINT64_MAX, &ch, 0, &ms), "set it") ;
    getmsg(&st, u5, name) ;
    tap_ok(strstr(name, ":2,a") != 0, "as letter a in the name") ;
    genalloc_free(uint32_t, &ch) ;
  }

  /* ---- other programs' changes ---- */
  {
    char from[1200], to[1200], old[512] ;
    uint64_t hms = info(&st).highestmodseq ;
    uint32_t c[3] = { 0, 0, 0 } ;
    getmsg(&st, u1, old) ;
    snprintf(from, sizeof(from), "%s/cur/%s", root, old) ;
    snprintf(to, sizeof(to), "%s/cur/999.M1P1Q1.host:2,FS", root) ;
    tap_ok(!rename(from, to), "mutt flags message 1") ;
    getmsg(&st, u5, old) ;
    snprintf(from, sizeof(from), "%s/cur/%s", root, old) ;
    tap_ok(!unlink(from), "and removes message 5") ;
    put("new/2000.M1P1Q1.host", "Subject: later\n\nbody\n") ;
    tap_ok(tern_store_sync(&st) == 1, "sync: something changed") ;
    tap_ok(getmsg(&st, u1, 0).flags == (TERN_F_FLAGGED | TERN_F_SEEN), "the rename is seen: \\Flagged") ;
    tap_ok(getmsg(&st, u5, 0).uid == 0, "the removal: expunged") ;
    tap_ok(uid_of(&st, "2000.") == 6, "the new file: UID 6") ;
    tern_store_rbegin(&st) ;
    tern_store_changes(&st, hms, &count_changes_f, c) ;
    tern_store_rend(&st) ;
    tap_ok(c[1] == 1 && c[2] == u5 && c[0] == 2, "the change log: one expunge (5), two changed") ;
    consistent(&st, "check: consistent after outside changes") ;
  }

  /* ---- expunge, append, copy ---- */
  {
    uint32_t x = u2 ;
    tap_ok(tern_store_expunge(&st, &x, 1), "EXPUNGE of message 2") ;
    tap_ok(!getmsg(&st, u2, 0).uid && info(&st).messages == 4, "gone from the index") ;
    consistent(&st, "check: consistent after EXPUNGE") ;
  }
  {
    tern_store_new nm = { .tmpname = "append1", .tmpdirfd = -1, .flags = TERN_F_SEEN | TERN_F_DRAFT, .keywords = 0, .internaldate = 837593065, .size = 24, .filesize = 22 } ;
    char p[1200] ;
    struct stat s ;
    put("tmp/append1", "Subject: app\n\nhello!\n\n") ;
    tap_ok(tern_store_add(&st, &nm, 1), "APPEND") ;
    tap_is_int(nm.uid, 7, "UID 7") ;
    getmsg(&st, 7, name) ;
    snprintf(p, sizeof(p), "%s/cur/%s", root, name) ;
    tap_ok(stat(p, &s) == 0 && s.st_mtime == 837593065, "in cur/, mtime the INTERNALDATE") ;
    tap_ok(strstr(name, ",S=22,W=24:2,DS") != 0, "named with S=, W= and DS") ;
    tap_ok(!present("tmp/append1"), "its tmp/ file gone") ;
    consistent(&st, "check: consistent after APPEND") ;
  }
  {
    tern_store dst = TERN_STORE_ZERO ;
    char other[300] ;
    uint32_t uids[2] = { u1, 7 }, nu[2] = { 0, 0 } ;
    snprintf(other, sizeof(other), "%s/.Other", root) ;
    tap_ok(tern_folder_create(root, "Other", 5, 0), "CREATE Other") ;
    tap_ok(tern_store_open(&dst, other, TERN_STORE_CREATE), "opened") ;
    tap_ok(tern_store_copy(&st, &dst, uids, 2, 0, nu), "COPY two messages") ;
    tap_ok(nu[0] == 1 && nu[1] == 2, "UIDs 1 and 2 there") ;
    tap_ok(getmsg(&dst, 2, 0).internaldate == 837593065, "INTERNALDATE kept") ;
    tap_ok(getmsg(&dst, 1, 0).flags == (TERN_F_FLAGGED | TERN_F_SEEN), "flags kept") ;
    tap_ok(tern_store_copy(&st, &dst, uids, 1, 1, nu) && nu[0] == 3, "MOVE one: UID 3") ;
    tap_ok(!getmsg(&st, u1, 0).uid, "gone from the source") ;
    consistent(&st, "check: the source consistent") ;
    consistent(&dst, "check: the destination consistent") ;
    tern_store_close(&dst) ;
  }

  /* ---- a torn uidlist line ---- */
  {
    char p[1200] ;
    int fd ;
    snprintf(p, sizeof(p), "%s/tern-uidlist", root) ;
    fd = open(p, O_WRONLY | O_APPEND) ;
    if (fd >= 0) { if (write(fd, "8 torn", 6) < 0) {} close(fd) ; }
    put("new/3000.M1P1Q1.host", "Subject: after the tear\n\nbody\n") ;
    tap_ok(tern_store_sync(&st) == 1, "a new file after a torn line") ;
    tap_ok(uid_of(&st, "3000.") >= 8, "gets a UID past the torn one") ;
    consistent(&st, "check: consistent (the torn line is gone)") ;
  }
  /* ---- many messages: the sequence chunks split, shrink, stay in order ---- */
  {
    char nm[64] ;
    genalloc all = GENALLOC_ZERO, gone = GENALLOC_ZERO ;
    size_t before ;
    for (unsigned int i = 0 ; i < 5000 ; i++)
    {
      snprintf(nm, sizeof(nm), "new/%u.M%uP1Q1.bulk", 4000 + i, i) ;
      put(nm, "Subject: bulk\n\nb\n") ;
    }
    tap_ok(tern_store_sync(&st) == 1, "5,000 new files found") ;
    before = info(&st).messages ;
    tern_store_rbegin(&st) ;
    tern_store_uids(&st, &all) ;
    tern_store_rend(&st) ;
    /* every third one, then a run in the middle: chunks lose their first
       elements, empty out, are removed */
    for (size_t i = 0 ; i < genalloc_len(uint32_t, &all) ; i++)
      if (i % 3 == 0 || (i > 1500 && i < 3700)) genalloc_append(uint32_t, &gone, genalloc_s(uint32_t, &all) + i) ;
    tap_ok(tern_store_expunge(&st, genalloc_s(uint32_t, &gone), genalloc_len(uint32_t, &gone)), "expunge thousands") ;
    tap_is_int(info(&st).messages, before - genalloc_len(uint32_t, &gone), "the count follows") ;
    for (unsigned int i = 0 ; i < 300 ; i++)
    {
      snprintf(nm, sizeof(nm), "cur/%u.M%uP2Q1.bulk:2,S", 20000 + i, i) ;
      put(nm, "Subject: more\n\nb\n") ;
    }
    tap_ok(tern_store_sync(&st) == 1, "300 more") ;
    consistent(&st, "check: the sequence is in order and complete after it all") ;
    genalloc_free(uint32_t, &all) ;
    genalloc_free(uint32_t, &gone) ;
  }
  tern_store_close(&st) ;
  rm_rf("") ;
  return tap_done() ;
}
