/* mime: unit tests of the MIME parser and the IMAP views of a message
   (tern_mime_parse, tern_imap_bodystructure, tern_imap_envelope,
   tern_imap_string, tern_mime_section, tern_mime_find, tern_hdr_find,
   tern_hdr_fields). The expected BODY, BODYSTRUCTURE and ENVELOPE strings
   follow RFC 3501 7.4.2 and were checked against Dovecot 2.3.19 (the
   rows marked otherwise are where tern follows the RFC instead); the
   imaptest-* messages are those of Dovecot's imaptest scripts. Every
   message is also parsed with CRLF line ends, which must change
   nothing. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <skalibs/stralloc.h>
#include "tern_mime.h"
#include "tap.h"

typedef struct row_s row ;
struct row_s
{
  char const *name ;
  char const *msg ;
  size_t len ;
  char const *body ;
  char const *bodystructure ;
  char const *envelope ;
} ;

#define M(s) s, sizeof(s) - 1

static row const rows[] =
{
  { "8bit-content-id",
    M("Content-Type: text/plain\n"
    "Content-ID: a\xc3""\xa4""b\n"
    "Content-Description: =?utf-8?q?hi?=\n"
    "\n"
    "xx\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") {4}\r\n"
    "a\xc3""\xa4""b \"=?utf-8?q?hi?=\" \"7bit\" 4 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") {4}\r\n"
    "a\xc3""\xa4""b \"=?utf-8?q?hi?=\" \"7bit\" 4 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "all-extension-fields",
    M("Content-Type: TEXT/HTML; CHARSET=\"UTF-8\"; Format=Flowed\n"
    "Content-Transfer-Encoding: QUOTED-PRINTABLE\n"
    "Content-ID: <abc@def>\n"
    "Content-Description: a  desc\n"
    "\tfolded\n"
    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
    "Content-Disposition: INLINE; FileName=\"a b.txt\"; size=3\n"
    "Content-Language: en-US, DE\n"
    "Content-Location: http://x/y\n"
    "\n"
    "hi\n"),
    "(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\" \"Format\" \"Flowed\") \"<abc@def>\" \"a  desc\tfolded\" \"QUOTED-PRINTABLE\" 4 1)",
    "(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\" \"Format\" \"Flowed\") \"<abc@def>\" \"a  desc\tfolded\" \"QUOTED-PRINTABLE\" 4 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"INLINE\" (\"FileName\" \"a b.txt\" \"size\" \"3\")) (\"en-US\" \"DE\") \"http://x/y\")",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "application-no-params",
    M("Content-Type: application/octet-stream\n"
    "\n"
    "xx\n"),
    "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 4)",
    "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 4 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "binary-junk",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "Content-Type: text/plain\n"
    "\n"
    "\x00""bin\xff""\xfe""\n"
    "--x--\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "boundary-inner-longer",
    M("Content-Type: multipart/mixed; boundary=foo\n"
    "\n"
    "--foo\n"
    "Content-Type: multipart/mixed; boundary=foobar\n"
    "\n"
    "--foobar\n"
    "\n"
    "in1\n"
    "--foo\n"
    "\n"
    "out2\n"
    "--foo--\n"),
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"mixed\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) \"mixed\")",
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foobar\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "boundary-longest-wins",
    M("Content-Type: multipart/mixed; boundary=foo\n"
    "\n"
    "--foo\n"
    "Content-Type: multipart/mixed; boundary=fo\n"
    "\n"
    "--fo\n"
    "\n"
    "in1\n"
    "--foo\n"
    "\n"
    "out2\n"
    "--foo--\n"),
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"mixed\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) \"mixed\")",
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"fo\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "boundary-over-80",
    M("Content-Type: multipart/mixed;\n"
    " boundary=\"very-long-boundary-0123456789012345678901234567890123456789012345678901234567890123456789\"\n"
    "\n"
    "--very-long-boundary-0123456789012345678901234567890123456789012345678901234567890123456789\n"
    "\n"
    "A\n"
    "--very-long-boundary-0123456789012345678901234567890123456789012345678901234567890123456789--\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"very-long-boundary-0123456789012345678901234567890123456789012345678901234567890123456789\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "boundary-padding-and-junk",
    M("Content-Type: multipart/mixed; boundary=foo\n"
    "\n"
    "pre\n"
    " --foo\n"
    "\n"
    "A\n"
    "--foo  \t\n"
    "\n"
    "B\n"
    "--foo--junk\n"
    "X\n"
    "--foo\n"
    "\n"
    "C\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "boundary-prefix",
    M("Content-Type: multipart/mixed; boundary=foo\n"
    "\n"
    "pre\n"
    "--foobar\n"
    "Content-Type: text/plain\n"
    "\n"
    "A\n"
    "--foo\n"
    "\n"
    "B\n"
    "--foo--\n"
    "epi\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "boundary-rfc2231",
    M("Content-Type: multipart/mixed; boundary*0=ab; boundary*1=\"cd\"\n"
    "\n"
    "--abcd\n"
    "\n"
    "A\n"
    "--abcd--\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"abcd\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "broken-header-lines",
    M("Content-Type: text/plain\n"
    "broken header line\n"
    ": no name\n"
    "Content-ID: <x>\n"
    "\n"
    "b\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<x>\" NIL \"7bit\" 3 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") \"<x>\" NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "crlf-quoted-boundary",
    M("Content-Type: multipart/mixed; boundary=\"x y\"\r\n"
    "\r\n"
    "--x y\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "line1\r\n"
    "line2\r\n"
    "--x y\r\n"
    "\r\n"
    "--x y--\r\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x y\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "cte-with-mime-version",
    M("MIME-Version: 1.0\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "aGk=\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 6 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 6 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "cte-without-mime",
    M("Content-Transfer-Encoding: base64\n"
    "Content-Disposition: inline\n"
    "\n"
    "aGk=\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  /* Dovecot writes the third part as ("foo" "" ...); RFC 2045 5.2 makes an invalid Content-Type the default, message/rfc822 in a digest */
  { "digest-defaults",
    M("Content-Type: multipart/digest; boundary=d\n"
    "\n"
    "--d\n"
    "\n"
    "From: a@b\n"
    "Subject: one\n"
    "\n"
    "body1\n"
    "--d\n"
    "Content-Type: text/plain\n"
    "\n"
    "not a message\n"
    "--d\n"
    "Content-Type: foo\n"
    "\n"
    "From: x\n"
    "\n"
    "--d--\n"),
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 32 (NIL \"one\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) 3)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 11 (NIL NIL ((NIL NIL \"x\" \"MISSING_DOMAIN\")) ((NIL NIL \"x\" \"MISSING_DOMAIN\")) ((NIL NIL \"x\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 2) \"digest\")",
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 32 (NIL \"one\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 11 (NIL NIL ((NIL NIL \"x\" \"MISSING_DOMAIN\")) ((NIL NIL \"x\" \"MISSING_DOMAIN\")) ((NIL NIL \"x\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "disposition-2231",
    M("Content-Type: image/png; name=x.png\n"
    "Content-Transfer-Encoding: x-uuencode\n"
    "Content-Disposition: attachment; filename*=iso-8859-1''%E4.png\n"
    "\n"
    "xx\n"),
    "(\"image\" \"png\" (\"name\" \"x.png\") NIL NIL \"x-uuencode\" 4)",
    "(\"image\" \"png\" (\"name\" \"x.png\") NIL NIL \"x-uuencode\" 4 NIL (\"attachment\" (\"filename*\" \"iso-8859-1''%E4.png\")) NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "disposition-no-params",
    M("Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Disposition: attachment\n"
    "\n"
    "xx\n"),
    "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"7bit\" 4 1)",
    "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"7bit\" 4 1 NIL (\"attachment\" NIL) NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "empty-body",
    M("From: a\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL)" },
  /* boundary="" is no boundary (RFC 2046 5.1.1: 1 to 70 characters); Dovecot takes every "--" line for a delimiter */
  { "empty-boundary",
    M("Content-Type: multipart/mixed; boundary=\"\"\n"
    "\n"
    "--\n"
    "\n"
    "A\n"
    "----\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "empty-header",
    M("\n"
    "body only\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "empty-parts",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "\n"
    "\n"
    "--x\n"
    "\n"
    "--x\n"
    "--x--\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  /* empty list members skipped (RFC 5322 4.4); Dovecot writes MISSING_MAILBOX for each */
  { "envelope-8bit-empty-members",
    M("From: \xff""\xfe"" <a@b>\n"
    "To: a\x01""b@c\n"
    "Subject: \x7f"" del\n"
    "Cc: x@y, , , z@w\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL \"\x7f"" del\" (({2}\r\n"
    "\xff""\xfe"" NIL \"a\" \"b\")) (({2}\r\n"
    "\xff""\xfe"" NIL \"a\" \"b\")) (({2}\r\n"
    "\xff""\xfe"" NIL \"a\" \"b\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")(NIL NIL \"b\" \"c\")) ((NIL NIL \"x\" \"y\")(NIL NIL \"z\" \"w\")) NIL NIL NIL)" },
  { "envelope-comments",
    M("from: a@b\n"
    "SUBJECT: s\n"
    "sender:\n"
    "reply-to: <>\n"
    "To: a@b (Comment), c@d (Another (nested))\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL \"s\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"Comment\" NIL \"a\" \"b\")(\"Another (nested)\" NIL \"c\" \"d\")) NIL NIL NIL NIL)" },
  { "envelope-crlf-empty",
    M("From: a@b\r\n"
    "Subject:\r\n"
    "Date: \r\n"
    "Message-ID:\r\n"
    "  <x@y>\r\n"
    "\r\n"
    "body\r\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)",
    "(\"\" \"\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL \"  <x@y>\")" },
  { "envelope-dots",
    M("To: undisclosed-recipients: ;\n"
    "Bcc: \"a\" \"b\" <c@d>\n"
    "From: a.b.@c, .x@y, a..b@c\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"a.b.\" \"c\")(NIL NIL \".x\" \"y\")(NIL NIL \"a..b\" \"c\")) ((NIL NIL \"a.b.\" \"c\")(NIL NIL \".x\" \"y\")(NIL NIL \"a..b\" \"c\")) ((NIL NIL \"a.b.\" \"c\")(NIL NIL \".x\" \"y\")(NIL NIL \"a..b\" \"c\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL ((\"a b\" NIL \"c\" \"d\")) NIL NIL)" },
  { "envelope-duplicates",
    M("Subject: first\n"
    "Subject: second\n"
    "From: a@b\n"
    "From: c@d\n"
    "Date: x\n"
    "Date: y\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(\"y\" \"second\" ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) NIL NIL NIL NIL NIL)" },
  { "envelope-encoded-words",
    M("From: =?utf-8?b?w6Q=?= <a@b>\n"
    "To: \"=?utf-8?b?w6Q=?=\" <a@b>\n"
    "Cc: a@b (c1) (c2)\n"
    "Bcc: (c1) a@b (c2)\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((\"=?utf-8?b?w6Q=?=\" NIL \"a\" \"b\")) ((\"=?utf-8?b?w6Q=?=\" NIL \"a\" \"b\")) ((\"=?utf-8?b?w6Q=?=\" NIL \"a\" \"b\")) ((\"=?utf-8?b?w6Q=?=\" NIL \"a\" \"b\")) ((\"c2\" NIL \"a\" \"b\")) ((\"c2\" NIL \"a\" \"b\")) NIL NIL)" },
  { "envelope-groups-junk",
    M("From: Mary <mary@x>\n"
    " (comment)\n"
    "To: g:a@b;\n"
    "Cc: g:<a@b>\n"
    "Bcc: x@y;\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((\"Mary\" NIL \"mary\" \"x\")) ((\"Mary\" NIL \"mary\" \"x\")) ((\"Mary\" NIL \"mary\" \"x\")) ((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)) ((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)) ((NIL NIL \"x\" \"y\")) NIL NIL)" },
  { "envelope-no-address",
    M("Subject: \t \n"
    "From: (comment only)\n"
    "To: \"quoted only\"\n"
    "Cc: <a@b> trailing\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL \"\" NIL NIL NIL ((\"quoted only\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL)" },
  { "envelope-odd-names",
    M("From: \"\" <a@b>\n"
    "Cc: \"a@b\" <c@d>\n"
    "Bcc: a@b <c@d>\n"
    "In-Reply-To: (comment)\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL ((\"a@b\" NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")) \"(comment)\" NIL)" },
  { "envelope-quoted-names",
    M("From: \"Joe \\\"Q\\\" Public\" <joe@x.org>, \"a\\\\b\" <c@d>\n"
    "To: Undisclosed recipients:;\n"
    "Cc: =?utf-8?q?J=C3=B6rg?= <j@x>, J\xc3""\xb6""rg <k@x>\n"
    "Subject: =?utf-8?q?hi?= there\n"
    "  folded\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL \"=?utf-8?q?hi?= there folded\" ((\"Joe \\\"Q\\\" Public\" NIL \"joe\" \"x.org\")(\"a\\\\b\" NIL \"c\" \"d\")) ((\"Joe \\\"Q\\\" Public\" NIL \"joe\" \"x.org\")(\"a\\\\b\" NIL \"c\" \"d\")) ((\"Joe \\\"Q\\\" Public\" NIL \"joe\" \"x.org\")(\"a\\\\b\" NIL \"c\" \"d\")) ((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")({5}\r\n"
    "J\xc3""\xb6""rg NIL \"k\" \"x\")) NIL NIL NIL)" },
  { "envelope-rfc5322-a1",
    M("To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\n"
    "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\n"
    "Message-ID:   <1234@local.machine.example>  \n"
    "In-Reply-To: <a@b> <c@d>\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")(\"Who?\" NIL \"one\" \"y.test\")) ((NIL NIL \"boss\" \"nil.test\")(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\")) NIL \"<a@b> <c@d>\" \"<1234@local.machine.example>  \")" },
  { "envelope-rfc5322-a5",
    M("From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
    "To:A Group(Some people)\n"
    "     :Chris Jones <c@(Chris's host.)public.example>,\n"
    "         joe@example.org,\n"
    "  John <jdoe@one.test> (my dear friend); (the end of the group)\n"
    "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) ((NIL NIL \"A Group\" NIL)(\"Chris Jones\" NIL \"c\" \"public.example\")(NIL NIL \"joe\" \"example.org\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) ((NIL NIL \"Hidden recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)" },
  { "envelope-route-missing",
    M("From: <@a.b,@c.d:user@dom>\n"
    "To: user\n"
    "Cc: @dom\n"
    "Bcc: <>, a@, @b, \"q u\"@x, a.b.c@[1.2.3.4]\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL \"@a.b,@c.d\" \"user\" \"dom\")) ((NIL \"@a.b,@c.d\" \"user\" \"dom\")) ((NIL \"@a.b,@c.d\" \"user\" \"dom\")) ((NIL NIL \"user\" \"MISSING_DOMAIN\")) ((NIL NIL \"MISSING_MAILBOX\" \"dom\")) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"a\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" \"b\")(NIL NIL \"q u\" \"x\")(NIL NIL \"a.b.c\" \"[1.2.3.4]\")) NIL NIL)" },
  { "envelope-tab",
    M("Subject: tab\there\n"
    "From: a\t<b@c>\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL \"tab here\" ((\"a\" NIL \"b\" \"c\")) ((\"a\" NIL \"b\" \"c\")) ((\"a\" NIL \"b\" \"c\")) NIL NIL NIL NIL NIL)" },
  /* Dovecot drops the name of an address that does not parse */
  { "envelope-unterminated",
    M("From: group: a@b, c@d\n"
    "To: g1: ;, g2: x@y\n"
    "Cc: \"unterminated <a@b>\n"
    "Bcc: (unterminated comment a@b\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"group\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)) ((NIL NIL \"group\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)) ((NIL NIL \"group\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)) ((NIL NIL \"g1\" NIL)(NIL NIL NIL NIL)(NIL NIL \"g2\" NIL)(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL)) ((\"unterminated <a@b>\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL NIL)" },
  { "envelope-whitespace",
    M("Date:  Thu,\t15 Feb  2007 \n"
    "Subject:   lead and trail   \n"
    "Message-ID: <a\tb>\n"
    "From: \"  spaced\t name  \" <a@b>, Joe    Q.   Public <c@d>\n"
    "To: a@b,\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(\"Thu,\t15 Feb  2007 \" \"lead and trail\" ((\"spaced name\" NIL \"a\" \"b\")(\"Joe Q. Public\" NIL \"c\" \"d\")) ((\"spaced name\" NIL \"a\" \"b\")(\"Joe Q. Public\" NIL \"c\" \"d\")) ((\"spaced name\" NIL \"a\" \"b\")(\"Joe Q. Public\" NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL \"<a\tb>\")" },
  { "folded-params",
    M("Content-Type: text/plain; charset=us-ascii; charset=utf-8; x\n"
    "\t=\n"
    "\t\"folded\n"
    "\tvalue\"\n"
    "Content-Transfer-Encoding: base64 junk\n"
    "\n"
    "xx\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"charset\" \"utf-8\" \"x\" \"folded\tvalue\") NIL NIL \"7bit\" 4 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"charset\" \"utf-8\" \"x\" \"folded\tvalue\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "header-no-newline",
    M("From: a"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL)" },
  { "header-only",
    M("From: a\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL)" },
  { "headers-cut-by-delimiters",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "Content-Type: text/plain\n"
    "--x\n"
    "Content-Type: message/rfc822\n"
    "--x\n"
    "\n"
    "last\n"
    "--x--\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "imaptest-addresses-1",
    M("From: user-from@domain.org\n"
    "To: user-to@domain.org\n"
    "Cc: user-cc@domain.org\n"
    "Bcc: user-bcc@domain.org\n"
    "\n"
    "body\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-to\" \"domain.org\")) ((NIL NIL \"user-cc\" \"domain.org\")) ((NIL NIL \"user-bcc\" \"domain.org\")) NIL NIL)" },
  { "imaptest-addresses-2",
    M("From: RealFrom <user-from@domain.org>\n"
    "To: RealTo <user-to@domain.org>\n"
    "Cc: RealCc <user-cc@domain.org>\n"
    "Bcc: RealBcc <user-bcc@domain.org>\n"
    "\n"
    "body2\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2 NIL NIL NIL NIL)",
    "(NIL NIL ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealTo\" NIL \"user-to\" \"domain.org\")) ((\"RealCc\" NIL \"user-cc\" \"domain.org\")) ((\"RealBcc\" NIL \"user-bcc\" \"domain.org\")) NIL NIL)" },
  { "imaptest-addresses-3",
    M("From: <user-from (comment)@ (comment) domain.org>\n"
    "To: <user-to@domain.org>\n"
    "Cc: <user-cc@domain.org>\n"
    "Bcc: <user-bcc@domain.org>\n"
    "\n"
    "body3\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-to\" \"domain.org\")) ((NIL NIL \"user-cc\" \"domain.org\")) ((NIL NIL \"user-bcc\" \"domain.org\")) NIL NIL)" },
  { "imaptest-addresses-4",
    M("From: user-from@domain.org (RealFrom)\n"
    "To: user-to@domain.org (RealTo)\n"
    "Cc: user-cc@domain.org (RealCc)\n"
    "Bcc: user-bcc@domain.org (RealBcc)\n"
    "\n"
    "body4\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2 NIL NIL NIL NIL)",
    "(NIL NIL ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealTo\" NIL \"user-to\" \"domain.org\")) ((\"RealCc\" NIL \"user-cc\" \"domain.org\")) ((\"RealBcc\" NIL \"user-bcc\" \"domain.org\")) NIL NIL)" },
  { "imaptest-addresses-5",
    M("From: user-from1@domain.org, user-from2@domain.org\n"
    "Cc: user-cc@domain.org\n"
    "\n"
    "body5\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"user-from1\" \"domain.org\")(NIL NIL \"user-from2\" \"domain.org\")) ((NIL NIL \"user-from1\" \"domain.org\")(NIL NIL \"user-from2\" \"domain.org\")) ((NIL NIL \"user-from1\" \"domain.org\")(NIL NIL \"user-from2\" \"domain.org\")) NIL ((NIL NIL \"user-cc\" \"domain.org\")) NIL NIL NIL)" },
  { "imaptest-addresses-6",
    M("From: RealFrom <user-from@domain.org>\n"
    "To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\n"
    "  groupname2: groupuser3@domain.org;\n"
    "\n"
    "body6\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 2 NIL NIL NIL NIL)",
    "(NIL NIL ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((NIL NIL \"groupname\" NIL)(NIL NIL \"groupuser1\" \"domain.org\")(NIL NIL \"groupuser2\" \"domain.org\")(NIL NIL NIL NIL)(NIL NIL \"groupname2\" NIL)(NIL NIL \"groupuser3\" \"domain.org\")(NIL NIL NIL NIL)) NIL NIL NIL NIL)" },
  { "imaptest-addresses-7",
    M("From: RealFrom <user-from@domain.org>\n"
    "To: groupname:;\n"
    "\n"
    "body7\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL)",
    "(NIL NIL ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((\"RealFrom\" NIL \"user-from\" \"domain.org\")) ((NIL NIL \"groupname\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)" },
  { "imaptest-binary-base64",
    M("From: user@domain.org\n"
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
    "Mime-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"foo\n"
    " bar\"\n"
    "\n"
    "Root MIME prologue\n"
    "\n"
    "--foo bar\n"
    "Content-Type: text/x-myown; charset=us-ascii\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "\n"
    "aGVs\n"
    "bG8gd29y\n"
    "bGQ=\n"
    "\n"
    "--foo bar\n"
    "Content-Type: text/x-myown; charset=us-ascii\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "  aGVs    \n"
    " bG8g  \n"
    "   d29y  \t \n"
    "    bGQ= \n"
    "\n"
    "\n"
    "--foo bar\n"
    "Content-Type: text/x-myown; charset=us-ascii\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "aGVsbG8g\n"
    "dG8geW91IHRv\n"
    "bw==\n"
    "\n"
    "--foo bar\n"
    "Content-Type: text/x-myown; charset=us-ascii\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "aGVsbG8gdG8gZXZlcnlvbmUh\n"
    "--foo bar\n"
    "Content-Type: text/x-myown; charset=us-ascii\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "YWJjZGVmZw1oaWprbA0KbW5vCnBxcnN0dXZxeHl6\n"
    "\n"
    "--foo bar--\n"
    "Root MIME epilogue\n"),
    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 24 4)(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 47 5)(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 30 3)(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 24 0)(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 42 1) \"mixed\")",
    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 24 4 NIL NIL NIL NIL)(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 47 5 NIL NIL NIL NIL)(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 30 3 NIL NIL NIL NIL)(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 24 0 NIL NIL NIL NIL)(\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 42 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)",
    "(\"Sat, 24 Mar 2007 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-binary-qp",
    M("From: user@domain.org\n"
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
    "Mime-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"foo\n"
    " bar\"\n"
    "\n"
    "Root MIME prologue\n"
    "\n"
    "--foo bar\n"
    "Content-Type: text/x-myown; charset=us-ascii\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "hello  \n"
    "bar=\n"
    "\n"
    "foo\t=\n"
    "bar\n"
    "foo\t \t= \n"
    "=62\n"
    "foo = \t\n"
    "bar\n"
    "foo =\n"
    "=62\n"
    "foo  \n"
    "bar=\n"
    "\n"
    "foo_bar\n"
    "\n"
    "--foo bar--\n"
    "Root MIME epilogue\n"),
    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"quoted-printable\" 94 15) \"mixed\")",
    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"quoted-printable\" 94 15 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)",
    "(\"Sat, 24 Mar 2007 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-envelope-1",
    M("Message-ID: <msg@id>\n"
    "In-Reply-To: <reply@to.id>\n"
    "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
    "Subject: subject header\n"
    "From: From Real <fromuser@fromdomain.org>\n"
    "To: To Real <touser@todomain.org>\n"
    "Cc: Cc Real <ccuser@ccdomain.org>\n"
    "Bcc: Bcc Real <bccuser@bccdomain.org>\n"
    "Sender: Sender Real <senderuser@senderdomain.org>\n"
    "Reply-To: ReplyTo Real <replytouser@replytodomain.org>\n"
    "\n"
    "body\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2 NIL NIL NIL NIL)",
    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" \"subject header\" ((\"From Real\" NIL \"fromuser\" \"fromdomain.org\")) ((\"Sender Real\" NIL \"senderuser\" \"senderdomain.org\")) ((\"ReplyTo Real\" NIL \"replytouser\" \"replytodomain.org\")) ((\"To Real\" NIL \"touser\" \"todomain.org\")) ((\"Cc Real\" NIL \"ccuser\" \"ccdomain.org\")) ((\"Bcc Real\" NIL \"bccuser\" \"bccdomain.org\")) \"<reply@to.id>\" \"<msg@id>\")" },
  { "imaptest-envelope-2",
    M("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
    "From: user@domain\n"
    "\n"
    "body\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2 NIL NIL NIL NIL)",
    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((NIL NIL \"user\" \"domain\")) ((NIL NIL \"user\" \"domain\")) ((NIL NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-envelope-3",
    M("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
    "From: user@domain\n"
    "\n"
    "body\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2 NIL NIL NIL NIL)",
    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((NIL NIL \"user\" \"domain\")) ((NIL NIL \"user\" \"domain\")) ((NIL NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-envelope-4",
    M("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
    "From: user@domain (Real Name)\n"
    "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\n"
    "Cc: group:;, group2: (foo) ;\n"
    "\n"
    "body\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2 NIL NIL NIL NIL)",
    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) ((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")(NIL NIL \"g2\" \"d2.org\")(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")(NIL NIL NIL NIL)) ((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)" },
  { "imaptest-envelope-5",
    M("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
    "From: user@domain (Real Name)\n"
    "Sender: \n"
    "Reply-To: \n"
    "\n"
    "body\n"
    "\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 2 NIL NIL NIL NIL)",
    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-envelope-6",
    M("Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
    "From: <@route:user@domain>\n"
    "\n"
    "body\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)",
    "(\"Thu, 15 Feb 2007 01:02:03 +0200\" NIL ((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-fetch-body-mime",
    M("From: user@domain.org\n"
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
    "Mime-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"foo\n"
    " bar\"\n"
    "\n"
    "Root MIME prologue\n"
    "\n"
    "--foo bar\n"
    "Content-Type: text/x-myown; charset=us-ascii\n"
    "\n"
    "hello\n"
    "\n"
    "--foo bar\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: sub@domain.org\n"
    "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
    "Subject: submsg\n"
    "Content-Type: multipart/alternative; boundary=\"sub1\"\n"
    "\n"
    "Sub MIME prologue\n"
    "--sub1\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>Hello world</p>\n"
    "\n"
    "--sub1\n"
    "Content-Type: text/plain\n"
    "\n"
    "Hello another world\n"
    "\n"
    "--sub1--\n"
    "Sub MIME epilogue\n"
    "\n"
    "--foo bar--\n"
    "Root MIME epilogue\n"),
    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 298 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 1)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1) \"alternative\") 18) \"mixed\")",
    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 298 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) ((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 1 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 21 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"sub1\") NIL NIL NIL) 18 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)",
    "(\"Sat, 24 Mar 2007 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-fetch-bodystructure",
    M("From: user@domain.org\n"
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
    "Mime-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"foo\n"
    " bar\"\n"
    "\n"
    "--foo bar\n"
    "Content-Type: text/x-myown; charset=us-ascii\n"
    "\n"
    "hello\n"
    "\n"
    "--foo bar--\n"),
    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1) \"mixed\")",
    "((\"text\" \"x-myown\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"foo bar\") NIL NIL NIL)",
    "(\"Sat, 24 Mar 2007 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-rfc822",
    M("From: user@domain.org\n"
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
    "Mime-Version: 1.0\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: sub@domain.org\n"
    "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
    "Subject: submsg\n"
    "\n"
    "Hello world\n"),
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 93 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1) 5)",
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 93 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL)",
    "(\"Sat, 24 Mar 2007 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-rfc822-digest",
    M("From: user@domain.org\n"
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
    "Mime-Version: 1.0\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: sub@domain.org\n"
    "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
    "Subject: submsg\n"
    "Content-Type: multipart/digest; boundary=\"foo\"\n"
    "\n"
    "prologue\n"
    "\n"
    "--foo \n"
    "\n"
    "From: m1@example.com\n"
    "Subject: m1\n"
    "\n"
    "m1 body\n"
    "\n"
    "--foo \n"
    "X-Mime: m2 header\n"
    "\n"
    "From: m2@example.com\n"
    "Subject: m2\n"
    "\n"
    "m2 body\n"
    "\n"
    "--foo--\n"
    "\n"
    "epilogue\n"),
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 296 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) ((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 46 (NIL \"m1\" ((NIL NIL \"m1\" \"example.com\")) ((NIL NIL \"m1\" \"example.com\")) ((NIL NIL \"m1\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1) 4)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 46 (NIL \"m2\" ((NIL NIL \"m2\" \"example.com\")) ((NIL NIL \"m2\" \"example.com\")) ((NIL NIL \"m2\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1) 4) \"digest\") 25)",
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 296 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) ((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 46 (NIL \"m1\" ((NIL NIL \"m1\" \"example.com\")) ((NIL NIL \"m1\" \"example.com\")) ((NIL NIL \"m1\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 46 (NIL \"m2\" ((NIL NIL \"m2\" \"example.com\")) ((NIL NIL \"m2\" \"example.com\")) ((NIL NIL \"m2\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"foo\") NIL NIL NIL) 25 NIL NIL NIL NIL)",
    "(\"Sat, 24 Mar 2007 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)" },
  { "imaptest-rfc822-x2",
    M("From: user@domain.org\n"
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
    "Mime-Version: 1.0\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: user2@domain.org\n"
    "Date: Fri, 23 Mar 2007 11:22:33 +0200\n"
    "Mime-Version: 1.0\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: sub@domain.org\n"
    "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
    "Subject: submsg\n"
    "\n"
    "Hello world\n"),
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 207 (\"Fri, 23 Mar 2007 11:22:33 +0200\" NIL ((NIL NIL \"user2\" \"domain.org\")) ((NIL NIL \"user2\" \"domain.org\")) ((NIL NIL \"user2\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 93 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1) 5) 10)",
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 207 (\"Fri, 23 Mar 2007 11:22:33 +0200\" NIL ((NIL NIL \"user2\" \"domain.org\")) ((NIL NIL \"user2\" \"domain.org\")) ((NIL NIL \"user2\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 93 (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL) 10 NIL NIL NIL NIL)",
    "(\"Sat, 24 Mar 2007 23:00:00 +0200\" NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) NIL NIL NIL NIL NIL)" },
  { "missing-close-delimiter",
    M("Content-Type: multipart/mixed; boundary=o\n"
    "\n"
    "--o\n"
    "Content-Type: multipart/alternative; boundary=i\n"
    "\n"
    "--i\n"
    "\n"
    "inner1\n"
    "--i\n"
    "\n"
    "inner2\n"
    "--o\n"
    "\n"
    "outer2\n"),
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0) \"alternative\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1) \"mixed\")",
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"i\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"o\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "mixed-line-ends",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\r\n"
    "Content-Type: text/plain\n"
    "\n"
    "mixed\r\n"
    "ends\n"
    "\r\n"
    "--x--"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 2) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 2 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "multipart-extensions",
    M("Content-Type: multipart/mixed; boundary=b\n"
    "Content-Disposition: inline\n"
    "Content-Language: fr\n"
    "Content-Location: loc\n"
    "\n"
    "--b\n"
    "\n"
    "A\n"
    "--b--\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") (\"inline\" NIL) (\"fr\") \"loc\")",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "multipart-no-boundary",
    M("Content-Type: multipart/mixed\n"
    "\n"
    "xx\n"
    "--foo\n"
    "\n"
    "yy\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "no-final-newline",
    M("From: a\n"
    "\n"
    "hello"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL)" },
  { "one-line-body",
    M("From: a\n"
    "\n"
    "hello\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1 NIL NIL NIL NIL)",
    "(NIL NIL ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL)" },
  { "param-comments",
    M("Content-Type: text/plain; charset=utf-8 (comment); format = flowed\n"
    "\n"
    "xx\n"),
    "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"7bit\" 4 1)",
    "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  /* an unquoted value runs to ";" (Dovecot stops at "/"); an empty disposition type is NIL (Dovecot: "") */
  { "param-junk",
    M("Content-Type: text/plain; type=text/html; junk; =; ;;x=1\n"
    "Content-Disposition: ;x=1\n"
    "Content-Language: ,en\n"
    "\n"
    "xx\n"),
    "(\"text\" \"plain\" (\"type\" \"text/html\" \"x\" \"1\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)",
    "(\"text\" \"plain\" (\"type\" \"text/html\" \"x\" \"1\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  /* "title*": Dovecot writes "title*1*" (its section index is not reset) */
  { "rfc2231-params",
    M("Content-Type: text/plain; name*0=\"long\"; name*1=\" name\"; title*=utf-8'en'%E2%82%AC%20x; q=\"a\\\\\\\"b\"\n"
    "\n"
    "xx\n"),
    "(\"text\" \"plain\" (\"q\" \"a\\\\\\\"b\" \"name\" \"long name\" \"title*\" \"utf-8'en'%E2%82%AC%20x\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)",
    "(\"text\" \"plain\" (\"q\" \"a\\\\\\\"b\" \"name\" \"long name\" \"title*\" \"utf-8'en'%E2%82%AC%20x\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "rfc2231-sections",
    M("Content-Type: text/plain; a*1=x; a*0=y; b*0*=us-ascii''%41; b*1=100%; c*1=only\n"
    "\n"
    "xx\n"),
    "(\"text\" \"plain\" (\"a\" \"yx\" \"b*\" \"us-ascii''%41100%25\" \"c*1\" \"only\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)",
    "(\"text\" \"plain\" (\"a\" \"yx\" \"b*\" \"us-ascii''%41100%25\" \"c*1\" \"only\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "rfc822-base64",
    M("Content-Type: message/rfc822\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "RnJvbTogYQoKaGkK\n"),
    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 18 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 1)",
    "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 18 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "rfc822-empty",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "--x--\n"),
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0) \"mixed\")",
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "rfc822-multipart-rfc822",
    M("Content-Type: message/rfc822\n"
    "\n"
    "Content-Type: multipart/mixed; boundary=z\n"
    "Subject: inner\n"
    "\n"
    "--z\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: deepest\n"
    "From: d@e\n"
    "\n"
    "deep body\n"
    "--z--\n"),
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 147 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 40 (NIL \"deepest\" ((NIL NIL \"d\" \"e\")) ((NIL NIL \"d\" \"e\")) ((NIL NIL \"d\" \"e\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0) 3) \"mixed\") 11)",
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 147 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) ((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 40 (NIL \"deepest\" ((NIL NIL \"d\" \"e\")) ((NIL NIL \"d\" \"e\")) ((NIL NIL \"d\" \"e\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"z\") NIL NIL NIL) 11 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "rfc822-uppercase",
    M("Content-Type: Message/RFC822\n"
    "\n"
    "Subject: s\n"
    "\n"
    "x\n"),
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 17 (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1) 3)",
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 17 (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "same-boundary-nested",
    M("Content-Type: multipart/mixed; boundary=a\n"
    "\n"
    "--a\n"
    "Content-Type: multipart/mixed; boundary=a\n"
    "\n"
    "--a\n"
    "\n"
    "X\n"
    "--a--\n"
    "--a--\n"),
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\") \"mixed\")",
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "two-content-types",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "Content-Type: text/plain\n"
    "\n"
    "--x\n"
    "\n"
    "A\n"
    "--x--\n"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "whitespace-line-in-header",
    M("From: a\n"
    " \n"
    "Subject: after ws line\n"
    "\n"
    "body\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)",
    "(NIL \"after ws line\" ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) ((NIL NIL \"a\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL)" },
  { "empty-part-before-outer-delimiter",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "Content-Type: multipart/mixed; boundary=a\n"
    "\n"
    "--a\n"
    "\n"
    "--x\n"
    "\n"
    "B\n"
    "--x--\n"),
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"a\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "rfc822-empty-body-at-delimiter",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: x\n"
    "\n"
    "--x--\n"),
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 11 (NIL NIL ((NIL NIL \"x\" \"MISSING_DOMAIN\")) ((NIL NIL \"x\" \"MISSING_DOMAIN\")) ((NIL NIL \"x\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 2) \"mixed\")",
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 11 (NIL NIL ((NIL NIL \"x\" \"MISSING_DOMAIN\")) ((NIL NIL \"x\" \"MISSING_DOMAIN\")) ((NIL NIL \"x\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "inner-multipart-closed-at-once",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "Content-Type: multipart/mixed; boundary=y\n"
    "\n"
    "--y\n"
    "\n"
    "--x--\n"),
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\") \"mixed\")",
    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"y\") NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "rfc822-multipart-closed-at-once",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Content-Type: multipart/mixed; boundary=y\n"
    "\n"
    "--y\n"
    "\n"
    "--x--\n"),
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 52 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\") 4) \"mixed\")",
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 52 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"y\") NIL NIL NIL) 4 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  /* junk after the subtype makes the field invalid, as for Dovecot; then RFC 2045 5.2 (Dovecot writes "" "") */
  { "content-type-junk-after-subtype",
    M("Content-Type: message/rfc822 junk\n"
    "\n"
    "Subject: not enclosed\n"
    "\n"
    "x\n"),
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 28 3)",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 28 3 NIL NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "delimiter-at-end-without-newline",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "\n"
    "A\n"
    "--x"),
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"mixed\")",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
  { "rfc822-header-cut-by-delimiter",
    M("Content-Type: multipart/mixed; boundary=x\n"
    "\n"
    "--x\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: cut\n"
    "--x--\n"),
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 14 (NIL \"cut\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 1) \"mixed\")",
    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 14 (NIL \"cut\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
} ;

static void crlf (stralloc *out, char const *s, size_t n)
{
  out->len = 0 ;
  for (size_t i = 0 ; i < n ; i++)
  {
    if (s[i] == '\n' && (!i || s[i-1] != '\r')) stralloc_catb(out, "\r", 1) ;
    stralloc_catb(out, s + i, 1) ;
  }
}

static void views (char const *name, char const *how, char const *msg, size_t len, row const *r)
{
  tern_mime m = TERN_MIME_ZERO ;
  stralloc out = STRALLOC_ZERO ;
  char tn[256] ;
  tern_mime_part const *p ;
  if (!tern_mime_parse(&m, msg, len)) { tap_ok(0, name) ; return ; }
  p = tern_mime_getpart(&m, 0) ;
  snprintf(tn, sizeof tn, "%s (%s): BODY", name, how) ;
  tern_imap_bodystructure(&out, &m, 0, 0, 0) ; stralloc_0(&out) ;
  tap_is_str(out.s, r->body, tn) ;
  snprintf(tn, sizeof tn, "%s (%s): BODYSTRUCTURE", name, how) ;
  out.len = 0 ; tern_imap_bodystructure(&out, &m, 0, 1, 0) ; stralloc_0(&out) ;
  tap_is_str(out.s, r->bodystructure, tn) ;
  snprintf(tn, sizeof tn, "%s (%s): ENVELOPE", name, how) ;
  out.len = 0 ; tern_imap_envelope(&out, msg + p->hdr, p->hdrlen, 0) ; stralloc_0(&out) ;
  tap_is_str(out.s, r->envelope, tn) ;
  stralloc_free(&out) ;
  tern_mime_free(&m) ;
}

static void table (void)
{
  stralloc c = STRALLOC_ZERO ;
  for (size_t i = 0 ; i < sizeof rows / sizeof *rows ; i++)
  {
    size_t len = rows[i].len ;
    views(rows[i].name, "LF", rows[i].msg, len, rows + i) ;
    crlf(&c, rows[i].msg, len) ;
    views(rows[i].name, "CRLF", c.s, c.len, rows + i) ;
  }
  stralloc_free(&c) ;
}


/* ---- the part tree ---- */

/* "index:parent:depth:flags hdr+hdrlen body+bodylen hdrsize/bodysize/lines" for every part */
static void tree (stralloc *out, tern_mime const *m)
{
  char buf[256] ;
  out->len = 0 ;
  for (uint32_t i = 0 ; i < tern_mime_nparts(m) ; i++)
  {
    tern_mime_part const *p = tern_mime_getpart(m, i) ;
    int n = snprintf(buf, sizeof buf, "%s%u:%d:%u:%x %zu+%zu %zu+%zu %llu/%llu/%llu", i ? " | " : "", i,
      p->parent == TERN_MIME_NONE ? -1 : (int)p->parent, p->depth, p->flags, p->hdr, p->hdrlen, p->body, p->bodylen,
      (unsigned long long)p->hdrsize, (unsigned long long)p->bodysize, (unsigned long long)p->bodylines) ;
    stralloc_catb(out, buf, n) ;
  }
  stralloc_0(out) ;
}

static void is_tree (char const *msg, char const *want, char const *name)
{
  tern_mime m = TERN_MIME_ZERO ;
  stralloc out = STRALLOC_ZERO ;
  if (!tern_mime_parse(&m, msg, strlen(msg))) { tap_ok(0, name) ; return ; }
  tree(&out, &m) ;
  tap_is_str(out.s, want, name) ;
  stralloc_free(&out) ;
  tern_mime_free(&m) ;
}

static void trees (void)
{
  /* flags: 1 multipart, 2 rfc822, 4 text, 8 defaulted, 10 digest, 20 global, 40 capped */
  is_tree("", "0:-1:0:c 0+0 0+0 0/0/0", "empty message") ;
  is_tree("Subject: x", "0:-1:0:c 0+10 10+0 10/0/0", "header without line end") ;
  is_tree("\n\nbody", "0:-1:0:c 0+1 1+5 2/6/1", "empty header, body without line end") ;
  is_tree("A: b\r\n\r\nx\ny\r\n", "0:-1:0:c 0+8 8+5 8/6/2", "mixed line ends: a bare LF counts two") ;
  is_tree("Content-Type: multipart/mixed; boundary=b\n\npre\n--b\n\none\n--b\nContent-Type: text/html\n\ntwo\n--b--\nepi\n",
    "0:-1:0:1 0+43 43+56 45/66/10 | 1:0:1:c 51+1 52+3 2/3/0 | 2:0:1:4 60+25 85+3 27/3/0",
    "multipart: the line end before a delimiter belongs to it") ;
  is_tree("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b\n",
    "0:-1:0:1 0+43 43+9 45/12/3 | 1:0:1:c 47+0 47+0 0/0/0 | 2:0:1:c 52+0 52+0 0/0/0",
    "an empty line then a delimiter: the line end is the delimiter's, the header empty (as Dovecot)") ;
  is_tree("Content-Type: multipart/mixed; boundary=b\n\n--b\nA: 1\n\n--b\n\nbody\n--b--\n",
    "0:-1:0:1 0+43 43+26 45/33/7 | 1:0:1:c 47+5 52+0 6/0/0 | 2:0:1:c 57+1 58+4 2/4/0",
    "a header then a delimiter: the header ends with its last field") ;
  is_tree("Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\nx\n--i--\n--o--\n",
    "0:-1:0:1 0+43 43+72 45/80/8 | 1:0:1:1 47+49 96+13 51/17/4 | 2:1:2:c 100+1 101+1 2/1/0",
    "\"--i--\" then \"--o--\": the inner multipart keeps its last line end (as Dovecot)") ;
  is_tree("Content-Type: message/global\n\nSubject: s\n\nhi\n",
    "0:-1:0:22 0+30 30+15 32/18/3 | 1:0:1:c 30+12 42+3 14/4/1",
    "message/global holds a message (RFC 6532 3.5)") ;
  is_tree("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b--\n",
    "0:-1:0:1 0+43 43+35 45/38/3 | 1:0:1:4 47+24 71+0 24/0/0",
    "a part header ended by a delimiter, without its empty line") ;
}

static void caps (void)
{
  tern_mime m = TERN_MIME_ZERO ;
  stralloc s = STRALLOC_ZERO, out = STRALLOC_ZERO ;
  uint32_t deepest = 0 ;
  /* 105 nested message/rfc822: Dovecot keeps 99 and shows the 100th as application/octet-stream */
  for (int i = 0 ; i < 105 ; i++) stralloc_cats(&s, "Content-Type: message/rfc822\n\n") ;
  stralloc_cats(&s, "Subject: leaf\n\nhello\n") ;
  tap_ok(tern_mime_parse(&m, s.s, s.len), "105 nested messages: parsed") ;
  for (uint32_t i = 0 ; i < tern_mime_nparts(&m) ; i++) if (tern_mime_getpart(&m, i)->depth > deepest) deepest = tern_mime_getpart(&m, i)->depth ;
  tap_is_int(deepest, TERN_MIME_DEPTH - 1, "105 nested messages: depth capped") ;
  tap_ok(m.capped && tern_mime_getpart(&m, tern_mime_nparts(&m) - 1)->flags == TERN_MIME_CAPPED, "105 nested messages: the last is opaque") ;
  tern_imap_bodystructure(&out, &m, 0, 0, 0) ;
  stralloc_0(&out) ;
  tap_ok(strstr(out.s, "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" ") != 0, "105 nested messages: shown as application/octet-stream") ;

  /* 105 nested multiparts */
  s.len = 0 ;
  for (int i = 0 ; i < 105 ; i++)
  {
    char b[80] ;
    int n = snprintf(b, sizeof b, "Content-Type: multipart/mixed; boundary=b%03d-\n\n--b%03d-\n", i, i) ;
    stralloc_catb(&s, b, n) ;
  }
  stralloc_cats(&s, "hello\n") ;
  tap_ok(tern_mime_parse(&m, s.s, s.len), "105 nested multiparts: parsed") ;
  tap_is_int(tern_mime_nparts(&m), TERN_MIME_DEPTH, "105 nested multiparts: 100 levels") ;
  out.len = 0 ;
  tern_imap_bodystructure(&out, &m, 0, 1, 0) ;
  stralloc_0(&out) ;
  tap_ok(strstr(out.s, "(\"application\" \"octet-stream\" (\"boundary\" \"b099-\") NIL NIL \"7bit\" ") != 0, "105 nested multiparts: the last is opaque") ;

  /* 10005 parts: Dovecot keeps 10000 (the message and 9999 parts) */
  s.len = 0 ;
  stralloc_cats(&s, "Content-Type: multipart/mixed; boundary=b\n\n") ;
  for (int i = 0 ; i < 10005 ; i++) { char b[32] ; int n = snprintf(b, sizeof b, "--b\n\np%d\n", i) ; stralloc_catb(&s, b, n) ; }
  stralloc_cats(&s, "--b--\n") ;
  tap_ok(tern_mime_parse(&m, s.s, s.len), "10005 parts: parsed") ;
  tap_is_int(tern_mime_nparts(&m), TERN_MIME_PARTS, "10005 parts: capped") ;
  {
    tern_mime_part const *last = tern_mime_getpart(&m, TERN_MIME_PARTS - 1) ;
    tap_ok(m.capped && last->body + last->bodylen == s.len, "10005 parts: the rest is the last part's body") ;
    tap_is_int(last->bodysize, 103, "10005 parts: its size as Dovecot has it") ;
  }

  /* a header over TERN_MIME_HDRMAX: its fields past the cap are not looked at */
  s.len = 0 ;
  for (int i = 0 ; i < 30000 ; i++) stralloc_cats(&s, "X-Filler: 0123456789012345678901234567890123456789\n") ;
  stralloc_cats(&s, "Content-Type: text/html\n\nbody\n") ;
  tap_ok(tern_mime_parse(&m, s.s, s.len), "huge header: parsed") ;
  tap_ok(m.capped && tern_mime_getpart(&m, 0)->flags & TERN_MIME_DEFAULTED && tern_mime_getpart(&m, 0)->bodylen == 5, "huge header: capped, its end still found") ;

  stralloc_free(&s) ;
  stralloc_free(&out) ;
  tern_mime_free(&m) ;
}

/* the worst case for boundaries: 99 nested multiparts with boundaries
   that share a long prefix, then lines that all start with "--" and
   that prefix. Bounded work per line keeps this linear. */
static void linear (void)
{
  tern_mime m = TERN_MIME_ZERO ;
  stralloc s = STRALLOC_ZERO ;
  char prefix[80] ;
  clock_t t0 ;
  double small = 0, big = 0 ;
  memset(prefix, 'a', 77) ;
  prefix[77] = 0 ;
  for (int pass = 0 ; pass < 2 ; pass++)
  {
    size_t lines = pass ? 400000 : 40000 ;
    s.len = 0 ;
    for (int i = 0 ; i < 98 ; i++)
    {
      char b[400] ;
      int n = snprintf(b, sizeof b, "Content-Type: multipart/mixed; boundary=\"%s%02d\"\n\n--%s%02d\n", prefix, i, prefix, i) ;
      stralloc_catb(&s, b, n) ;
    }
    for (size_t i = 0 ; i < lines ; i++) { stralloc_cats(&s, "--") ; stralloc_cats(&s, prefix) ; stralloc_cats(&s, "~x\n") ; }
    t0 = clock() ;
    if (!tern_mime_parse(&m, s.s, s.len)) { tap_ok(0, "adversarial boundaries") ; return ; }
    if (pass) big = (double)(clock() - t0) ; else small = (double)(clock() - t0) ;
  }
  tap_is_int(tern_mime_nparts(&m), 99, "adversarial boundaries: 99 levels") ;
  printf("# adversarial boundaries: %.0f and %.0f clock ticks for 1x and 10x\n", small, big) ;
  tap_ok(big < 30 * (small + CLOCKS_PER_SEC / 1000), "adversarial boundaries: linear") ;
  stralloc_free(&s) ;
  tern_mime_free(&m) ;
}

/* ---- sections ---- */

static void is_section (tern_mime const *m, char const *spec, unsigned int kind, char const *want, char const *name)
{
  uint32_t path[16] ;
  unsigned int n = 0 ;
  size_t off, len ;
  char *got ;
  for (char const *p = spec ; *p ; )
  {
    path[n++] = strtoul(p, (char **)&p, 10) ;
    if (*p == '.') p++ ;
  }
  if (!tern_mime_section(m, path, n, kind, &off, &len)) { tap_ok(!want, name) ; if (want) printf("# no such section\n") ; return ; }
  if (!want) { tap_ok(0, name) ; printf("# got %zu octets\n", len) ; return ; }
  got = malloc(len + 1) ;
  memcpy(got, m->msg + off, len) ;
  got[len] = 0 ;
  tap_is_str(got, want, name) ;
  free(got) ;
}

static void sections (void)
{
  tern_mime m = TERN_MIME_ZERO ;
  stralloc f = STRALLOC_ZERO ;
  char const *const fieldsx[2] = { "from", "subject" } ;
  row const *mime = 0, *r822 = 0, *digest = 0, *x2 = 0, *body1 = 0 ;
  for (size_t i = 0 ; i < sizeof rows / sizeof *rows ; i++)
  {
    if (!strcmp(rows[i].name, "imaptest-fetch-body-mime")) mime = rows + i ;
    if (!strcmp(rows[i].name, "imaptest-rfc822")) r822 = rows + i ;
    if (!strcmp(rows[i].name, "imaptest-rfc822-digest")) digest = rows + i ;
    if (!strcmp(rows[i].name, "imaptest-rfc822-x2")) x2 = rows + i ;
    if (!strcmp(rows[i].name, "imaptest-envelope-1")) body1 = rows + i ;
  }

  /* imaptest fetch-body-mime */
  tern_mime_parse(&m, mime->msg, mime->len) ;
  is_section(&m, "", TERN_SEC_ALL, mime->msg, "[]") ;
  is_section(&m, "1", TERN_SEC_ALL, "hello\n", "[1]") ;
  is_section(&m, "1", TERN_SEC_MIME, "Content-Type: text/x-myown; charset=us-ascii\n\n", "[1.MIME]") ;
  is_section(&m, "2", TERN_SEC_MIME, "Content-Type: message/rfc822\n\n", "[2.MIME]") ;
  is_section(&m, "2", TERN_SEC_HEADER, "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\nContent-Type: multipart/alternative; boundary=\"sub1\"\n\n", "[2.HEADER]") ;
  is_section(&m, "2", TERN_SEC_TEXT, "Sub MIME prologue\n--sub1\nContent-Type: text/html\n\n<p>Hello world</p>\n\n--sub1\nContent-Type: text/plain\n\nHello another world\n\n--sub1--\nSub MIME epilogue\n", "[2.TEXT]") ;
  is_section(&m, "2.1", TERN_SEC_ALL, "<p>Hello world</p>\n", "[2.1]") ;
  is_section(&m, "2.1", TERN_SEC_MIME, "Content-Type: text/html\n\n", "[2.1.MIME]") ;
  is_section(&m, "2.2", TERN_SEC_ALL, "Hello another world\n", "[2.2]") ;
  is_section(&m, "1", TERN_SEC_HEADER, 0, "[1.HEADER] of a text part: nothing (RFC 3501 6.4.5)") ;
  is_section(&m, "3", TERN_SEC_ALL, 0, "[3]: out of range") ;
  is_section(&m, "1.1", TERN_SEC_ALL, "hello\n", "[1.1] below a leaf: the leaf (as Dovecot)") ;
  is_section(&m, "1.1", TERN_SEC_MIME, "Content-Type: text/x-myown; charset=us-ascii\n\n", "[1.1.MIME]: the leaf's") ;
  is_section(&m, "1.1.1", TERN_SEC_ALL, 0, "[1.1.1]: nothing") ;
  is_section(&m, "2.1.1", TERN_SEC_ALL, "<p>Hello world</p>\n", "[2.1.1]: the leaf") ;
  is_section(&m, "0", TERN_SEC_ALL, 0, "[0]: nothing") ;
  is_section(&m, "2.3", TERN_SEC_ALL, 0, "[2.3]: out of range") ;
  is_section(&m, "", TERN_SEC_MIME, 0, "[MIME] alone: nothing") ;
  {
    uint32_t p2[1] = { 2 }, p21[2] = { 2, 1 }, p9[1] = { 9 } ;
    tap_is_int(tern_mime_find(&m, p2, 1), 2, "find 2: the message/rfc822 part") ;
    tap_is_int(tern_mime_find(&m, p21, 2), 4, "find 2.1: in the enclosed message") ;
    tap_is_int(tern_mime_find(&m, p9, 1), TERN_MIME_NONE, "find 9: none") ;
    tap_is_int(tern_mime_find(&m, 0, 0), 0, "find (): the message") ;
  }
  {
    size_t off, len ;
    uint32_t p2[1] = { 2 } ;
    tern_mime_section(&m, p2, 1, TERN_SEC_FIELDS, &off, &len) ;
    f.len = 0 ;
    tern_hdr_fields(&f, m.msg + off, len, fieldsx, 2, 0) ;
    stralloc_0(&f) ;
    tap_is_str(f.s, "From: sub@domain.org\nSubject: submsg\n\n", "[2.HEADER.FIELDS (from subject)]") ;
    f.len = 0 ;
    tern_hdr_fields(&f, m.msg + off, len, fieldsx, 2, 1) ;
    stralloc_0(&f) ;
    tap_is_str(f.s, "Date: Sun, 12 Aug 2012 12:34:56 +0300\nContent-Type: multipart/alternative; boundary=\"sub1\"\n\n", "[2.HEADER.FIELDS.NOT (from subject)]") ;
    tap_ok(tern_mime_section(&m, p2, 1, TERN_SEC_FIELDS_NOT, &off, &len) && off == tern_mime_getpart(&m, 3)->hdr, "[2.HEADER.FIELDS.NOT]: the enclosed header") ;
    tap_ok(tern_mime_section(&m, 0, 0, TERN_SEC_FIELDS, &off, &len) && !off && len == tern_mime_getpart(&m, 0)->hdrlen, "[HEADER.FIELDS]: the message's header") ;
    tap_ok(!tern_mime_section(&m, p2 - 0, 0, TERN_SEC_MIME, &off, &len), "[MIME] needs a part") ;
  }
  {
    /* a tern_mime parsed again forgets the first message */
    tern_mime_part const *p ;
    tern_mime_parse(&m, "Subject: x\n\ny\n", 14) ;
    p = tern_mime_getpart(&m, 0) ;
    tap_ok(tern_mime_nparts(&m) == 1 && p->hdrlen == 12 && p->bodylen == 2 && !m.capped, "parsed again: the new message only") ;
  }

  /* imaptest fetch-body-message-rfc822: the message is message/rfc822 */
  tern_mime_parse(&m, r822->msg, r822->len) ;
  is_section(&m, "", TERN_SEC_TEXT, "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\nHello world\n", "rfc822: [TEXT]") ;
  is_section(&m, "1", TERN_SEC_ALL, "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\nHello world\n", "rfc822: [1]") ;
  is_section(&m, "1.1", TERN_SEC_ALL, "Hello world\n", "rfc822: [1.1]") ;
  is_section(&m, "1", TERN_SEC_HEADER, "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\n", "rfc822: [1.HEADER]") ;
  is_section(&m, "1", TERN_SEC_TEXT, "Hello world\n", "rfc822: [1.TEXT]") ;

  /* imaptest fetch-body-message-rfc822-mime: a digest in a message/rfc822 */
  tern_mime_parse(&m, digest->msg, digest->len) ;
  is_section(&m, "1.1", TERN_SEC_ALL, "From: m1@example.com\nSubject: m1\n\nm1 body\n", "digest: [1.1]") ;
  is_section(&m, "1.1", TERN_SEC_MIME, "\n", "digest: [1.1.MIME] is the empty line") ;
  is_section(&m, "1.1", TERN_SEC_HEADER, "From: m1@example.com\nSubject: m1\n\n", "digest: [1.1.HEADER]") ;
  is_section(&m, "1.1", TERN_SEC_TEXT, "m1 body\n", "digest: [1.1.TEXT]") ;
  is_section(&m, "1.2", TERN_SEC_MIME, "X-Mime: m2 header\n\n", "digest: [1.2.MIME]") ;
  is_section(&m, "1.2", TERN_SEC_TEXT, "m2 body\n", "digest: [1.2.TEXT]") ;
  is_section(&m, "1", TERN_SEC_TEXT, "prologue\n\n--foo \n\nFrom: m1@example.com\nSubject: m1\n\nm1 body\n\n--foo \nX-Mime: m2 header\n\nFrom: m2@example.com\nSubject: m2\n\nm2 body\n\n--foo--\n\nepilogue\n", "digest: [1.TEXT]") ;

  /* imaptest fetch-body-message-rfc822-x2 */
  tern_mime_parse(&m, x2->msg, x2->len) ;
  is_section(&m, "1.1.1", TERN_SEC_ALL, "Hello world\n", "x2: [1.1.1]") ;
  is_section(&m, "1.1", TERN_SEC_HEADER, "From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\n\n", "x2: [1.1.HEADER]") ;
  is_section(&m, "1", TERN_SEC_HEADER, "From: user2@domain.org\nDate: Fri, 23 Mar 2007 11:22:33 +0200\nMime-Version: 1.0\nContent-Type: message/rfc822\n\n", "x2: [1.HEADER]") ;

  /* a message that is not multipart: part 1 is its body, 1.MIME its header */
  tern_mime_parse(&m, body1->msg, body1->len) ;
  is_section(&m, "1", TERN_SEC_ALL, "body\n\n", "single part: [1]") ;
  {
    tern_mime_part const *p = tern_mime_getpart(&m, 0) ;
    size_t off, len ;
    uint32_t one = 1 ;
    tap_ok(tern_mime_section(&m, &one, 1, TERN_SEC_MIME, &off, &len) && off == 0 && len == p->hdrlen, "single part: [1.MIME] is the header, as Dovecot") ;
  }
  is_section(&m, "1", TERN_SEC_TEXT, 0, "single part: [1.TEXT]: nothing") ;
  is_section(&m, "2", TERN_SEC_ALL, 0, "single part: [2]: nothing") ;
  tern_mime_free(&m) ;
  stralloc_free(&f) ;
}

/* ---- header fields ---- */

static void headers (void)
{
  static char const hdr[] = "From: User1 <user1@domain.org>\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nSubject: s1\r\nX-Long: a\r\n\tb\r\nsubject : again\r\nno colon here\r\n\r\n" ;
  char const *const from[2] = { "from", "FROM" } ;
  char const *const subj[2] = { "subject", "xyz" } ;
  char const *const date[1] = { "date" } ;
  char const *v ;
  size_t vl ;
  stralloc f = STRALLOC_ZERO ;
  tap_ok(tern_hdr_find(hdr, sizeof hdr - 1, "x-long", 0, &v, &vl) && vl == 6 && !memcmp(v, " a\r\n\tb", 6), "hdr_find: folded value, raw") ;
  tap_ok(tern_hdr_find(hdr, sizeof hdr - 1, "Subject", 1, &v, &vl) && vl == 6 && !memcmp(v, " again", 6), "hdr_find: the second one, space before the colon") ;
  tap_ok(!tern_hdr_find(hdr, sizeof hdr - 1, "Subject", 2, &v, &vl), "hdr_find: no third one") ;
  tap_ok(!tern_hdr_find(hdr, sizeof hdr - 1, "no colon here", 0, &v, &vl) || vl == 0, "hdr_find: a line without a colon has no value") ;
  tern_hdr_fields(&f, hdr, sizeof hdr - 1, from, 2, 0) ; stralloc_0(&f) ;
  tap_is_str(f.s, "From: User1 <user1@domain.org>\r\n\r\n", "HEADER.FIELDS (from from)") ;
  f.len = 0 ; tern_hdr_fields(&f, hdr, sizeof hdr - 1, subj, 2, 0) ; stralloc_0(&f) ;
  tap_is_str(f.s, "Subject: s1\r\nsubject : again\r\n\r\n", "HEADER.FIELDS (subject xyz)") ;
  f.len = 0 ; tern_hdr_fields(&f, hdr, sizeof hdr - 1, date, 1, 1) ; stralloc_0(&f) ;
  tap_is_str(f.s, "From: User1 <user1@domain.org>\r\nSubject: s1\r\nX-Long: a\r\n\tb\r\nsubject : again\r\nno colon here\r\n\r\n", "HEADER.FIELDS.NOT (date)") ;
  f.len = 0 ; tern_hdr_fields(&f, hdr, sizeof hdr - 1, subj + 1, 1, 0) ; stralloc_0(&f) ;
  tap_is_str(f.s, "\r\n", "HEADER.FIELDS (xyz): the empty line only") ;
  f.len = 0 ; tern_hdr_fields(&f, "A: 1\nB: 2", 9, subj, 0, 1) ; stralloc_0(&f) ;
  tap_is_str(f.s, "A: 1\nB: 2\n\n", "HEADER.FIELDS.NOT (): a last field gets its line end") ;
  stralloc_free(&f) ;
}

/* ---- IMAP strings ---- */

static void is_istr (char const *s, size_t n, unsigned int flags, char const *want, size_t wantlen, char const *name)
{
  stralloc out = STRALLOC_ZERO ;
  tern_imap_string(&out, s, n, flags) ;
  tap_ok(out.len == wantlen && !memcmp(out.s, want, wantlen), name) ;
  if (out.len != wantlen || memcmp(out.s, want, wantlen)) printf("# got: '%.*s'\n", (int)out.len, out.s) ;
  stralloc_free(&out) ;
}

static void strings (void)
{
  is_istr(0, 0, 0, "NIL", 3, "NIL for none") ;
  is_istr("", 0, 0, "\"\"", 2, "empty") ;
  is_istr("a \"b\" \\c\t", 9, 0, "\"a \\\"b\\\" \\\\c\t\"", 14, "quoted, escapes") ;
  is_istr("a\r\nb", 4, 0, "{4}\r\na\r\nb", 9, "CR LF: literal") ;
  is_istr("J\xc3\xb6rg", 5, 0, "{5}\r\nJ\xc3\xb6rg", 10, "8-bit: literal") ;
  is_istr("J\xc3\xb6rg", 5, TERN_ISTR_UTF8, "\"J\xc3\xb6rg\"", 7, "UTF-8 quoted with TERN_ISTR_UTF8") ;
  is_istr("J\xf6rg", 4, TERN_ISTR_UTF8, "{4}\r\nJ\xf6rg", 9, "invalid UTF-8: literal even so") ;
  is_istr("a\0b", 3, 0, "{2}\r\nab", 7, "NUL dropped from a literal") ;
}

/* tern_imap_addrtext: what SEARCH FROM/TO/CC/BCC match (imaptest's
   search-addresses: comments are no part of an address, a trailing
   comment names it, groups keep their names) */
static void addrtext (void)
{
  static struct { char const *in ; char const *want ; } const t[] =
  {
    { "user-from@domain.org", "user-from@domain.org" },
    { "RealFrom <user-from@domain.org>", "RealFrom <user-from@domain.org>" },
    { "<user-from (comment)@ (comment) domain.org>", "user-from@domain.org" },
    { "user-from@domain.org (RealFrom)", "RealFrom <user-from@domain.org>" },
    { "a@b.example, \"Last, First\" <c@d.example>", "a@b.example, Last, First <c@d.example>" },
    { "groupname: g1@domain.org, g2@domain.org;,\r\n  groupname2: g3@domain.org;", "groupname: g1@domain.org, g2@domain.org;, groupname2: g3@domain.org;" },
    { "groupname:;", "groupname:;" },
    { "=?utf-8?q?Andr=C3=A9?= <andre@example.org>", "Andr\xc3\xa9 <andre@example.org>" },
    { "<@route.example:x@y.example>", "x@y.example" },
    { "undisclosed", "undisclosed" },
    { "", "" },
  } ;
  stralloc out = STRALLOC_ZERO ;
  for (unsigned int i = 0 ; i < sizeof(t) / sizeof(t[0]) ; i++)
  {
    char tn[160] ;
    out.len = 0 ;
    snprintf(tn, sizeof tn, "addrtext: %s", t[i].in) ;
    for (char *c = tn ; *c ; c++) if (*c == '\r' || *c == '\n') *c = ' ' ;
    if (!tern_imap_addrtext(&out, t[i].in, strlen(t[i].in)) || !stralloc_0(&out)) { tap_ok(0, tn) ; continue ; }
    tap_is_str(out.s, t[i].want, tn) ;
  }
  stralloc_free(&out) ;
}

int main (void)
{
  table() ;
  trees() ;
  caps() ;
  linear() ;
  sections() ;
  headers() ;
  strings() ;
  addrtext() ;
  return tap_done() ;
}
