// The response checker must catch what it is there for, or the clean runs prove nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LITERAL, type ReceivedResponse, ResponseChecker } from './response-checker.js';

const plain = (text: string): ReceivedResponse => ({ text, literals: [] });
const withLiteral = (text: string, bytes: Buffer, eight = false): ReceivedResponse => ({
  text: text.replace(/~?\{\}/, LITERAL),
  literals: [{ bytes, eight }],
});

describe('IMAP response checker', () => {
  it('accepts well-formed responses', () => {
    const sink: string[] = [];
    const c = new ResponseChecker(sink);
    c.sent('t1', 'SELECT INBOX (CONDSTORE)');
    for (const line of [
      '* OK [CAPABILITY IMAP4rev1 IMAP4rev2 CONDSTORE] Hermod IMAP ready',
      '* FLAGS (\\Answered \\Seen $Work)',
      '* OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Flags permitted',
      '* 3 EXISTS',
      '* OK [HIGHESTMODSEQ 7] Highest',
      '* LIST (\\HasNoChildren \\Subscribed) "/" "box[1" ("CHILDINFO" ("SUBSCRIBED"))',
      '* STATUS INBOX (MESSAGES 3 HIGHESTMODSEQ 7)',
      '* ESEARCH (TAG "t2") UID MIN 1 MAX 4 ALL 1:2,4 MODSEQ 9',
      '* SEARCH 1 2 (MODSEQ 5)',
      '* THREAD ((1)(2))(4 3)(5 (6)(7))',
      '* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (8))',
      '* 1 FETCH (ENVELOPE (NIL "s" ((NIL NIL "a" "x.org")(NIL NIL "g" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1)("TEXT" "HTML" NIL NIL NIL "7BIT" 1 1) "ALTERNATIVE") INTERNALDATE " 1-Nov-2026 07:00:00 +0000")',
      '* OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok',
      '* STATUS foo (MAILBOXID (M1_a) MESSAGES 0)',
      '* 1 FETCH (EMAILID (M6d99ac3275bb4e) THREADID (T64b478a75b7ea9) SAVEDATE " 1-Nov-2026 07:00:00 +0000")',
      '* 2 FETCH (THREADID NIL SAVEDATE NIL)',
      '* ESEARCH (TAG "B01") UID ADDTO (0 32768:32769) REMOVEFROM (2 5 2 7)',
      '* ESEARCH (TAG "C01") UID ADDTO (1 2733) ADDTO (1 2731:2732)',
      '* ESEARCH (TAG "P1") COUNT 3 PARTIAL (1:500 NIL)',
      '* ESEARCH (TAG "P2") PARTIAL (2:3 5,1)',
      '* NO [NOUPDATE "B02"] Too many contexts',
      't0 NO [BADURL /INBOX;UIDVALIDITY=785799047/;UID=113330;section=1.5.9] CATENATE append has failed',
      't0 NO [TOOBIG] Too big',
      '* METADATA "" (/shared/comment "Shared comment" /private/x NIL)',
      '* METADATA INBOX /shared/comment /private/filters/values/small',
      't0 OK [METADATA LONGENTRIES 10] done',
      't0 NO [METADATA MAXSIZE 1024] too long',
      't0 NO [METADATA TOOMANY] too many',
      '* ACL Team alice@acl.example lrswipkxteacd anyone ""',
      '* LISTRIGHTS Team bob@acl.example "" l r s w i p k x t e a c d',
      '* MYRIGHTS "Shared/alice@acl.example/My Box" lrs',
      't0 NO [NOPERM] Permission denied',
      '* LIST (\\HasChildren) "/" Plans ("OLDNAME" (Projects))',
      '* LIST (\\NonExistent) "/" "a b" ("OLDNAME" ("old name"))',
      't0 NO [BADEVENT (MessageNew MessageExpunge FlagChange)] Unsupported event',
      '* OK [NOTIFICATIONOVERFLOW] Too many notifications',
      't1 OK [READ-WRITE] SELECT completed',
    ])
      c.received(plain(line));
    c.received(withLiteral('* 1 FETCH (UID 1 BINARY[1] ~{})', Buffer.from([0, 1]), true));
    c.received(withLiteral('* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<0> {})', Buffer.from('Subject: x\r\n')));
    assert.deepEqual(sink, []);
  });

  it('reports ACL responses that break the RFC 4314 grammar', () => {
    const sink: string[] = [];
    const c = new ResponseChecker(sink);
    for (const line of [
      '* MYRIGHTS INBOX lrz',
      '* MYRIGHTS INBOX llr',
      '* MYRIGHTS INBOX',
      '* ACL INBOX alice@acl.example',
      '* LISTRIGHTS INBOX bob@acl.example',
    ])
      c.received(plain(line));
    assert.equal(sink.length, 5, sink.join('\n'));
  });

  it('reports NUL in a literal, literal8 outside BINARY, bad strings and unknown responses', () => {
    const sink: string[] = [];
    const c = new ResponseChecker(sink);
    c.received(withLiteral('* 1 FETCH (BODY[1] {})', Buffer.from([0x41, 0])));
    c.received(withLiteral('* 1 FETCH (BODY[1] ~{})', Buffer.from('x'), true));
    c.received(plain('* 1 FETCH (ENVELOPE (NIL "a\rb" NIL NIL NIL NIL NIL NIL NIL NIL))'));
    c.received(plain('* LIST () "/" box]x trailing'));
    c.received(plain('* WHATEVER 1'));
    c.received(plain('* 0 EXPUNGE'));
    c.received(plain('* OK [MAILBOXID (a.b)] Ok'));
    c.received(plain('* 1 FETCH (EMAILID NIL)'));
    c.received(plain('* 1 FETCH (SAVEDATE "2026-11-01")'));
    c.received(plain('* ESEARCH (TAG "B01") ADDTO (0)'));
    c.received(plain('* ESEARCH (TAG "B01") PARTIAL (1:* 3)'));
    c.received(plain('* NO [NOUPDATE B02] Too many contexts'));
    c.received(plain('t1 NO [BADURL] nothing'));
    c.received(plain('* METADATA INBOX (/shared//x "v")'));
    c.received(plain('t1 NO [METADATA TOOFEW] nothing'));
    c.received(plain('* 5 UIDFETCH (FLAGS (\\Seen))'));
    c.received(plain('* VANISHED 3'));
    c.received(plain('* LIST () "/" Plans ("OLDNAME" Projects)'));
    c.received(plain('t1 NO [BADEVENT ()] none'));
    assert.equal(sink.length, 19, sink.join('\n'));
    c.received(plain('* ENABLED UIDONLY'));
    c.received(plain('* 5 UIDFETCH (FLAGS (\\Seen) MODSEQ (4))'));
    c.received(plain('* VANISHED 3'));
    c.received(plain('t2 BAD [UIDREQUIRED] Use UID commands'));
    assert.equal(sink.length, 19, sink.join('\n'));
    c.received(plain('* 5 FETCH (FLAGS (\\Seen))'));
    c.received(plain('* 4 EXPUNGE'));
    assert.equal(sink.length, 21, sink.join('\n'));
  });

  it('reports flag-change FETCHes without UID and MODSEQ under CONDSTORE, and EXPUNGE under QRESYNC', () => {
    const sink: string[] = [];
    const c = new ResponseChecker(sink);
    c.received(plain('* 1 FETCH (FLAGS (\\Seen))'));
    assert.deepEqual(sink, [], 'no rule before CONDSTORE');
    c.received(plain('* ENABLED QRESYNC'));
    c.sent('t1', 'STORE 1 +FLAGS.SILENT (\\Seen)');
    c.received(plain('* 1 FETCH (MODSEQ (5))'));
    c.received(plain('t1 OK done'));
    c.sent('t2', 'FETCH 1 BODY[]');
    c.received(plain('* 1 FETCH (BODY[] NIL FLAGS (\\Seen))'));
    c.received(plain('t2 OK done'));
    c.sent('t3', 'NOOP');
    c.received(plain('* 1 FETCH (UID 1 FLAGS (\\Seen))'));
    c.received(plain('* 2 EXPUNGE'));
    c.received(plain('t3 OK done'));
    assert.equal(sink.length, 4, sink.join('\n'));
    c.sent('t4', 'FETCH 1 (FLAGS)');
    c.received(plain('* 1 FETCH (FLAGS (\\Seen))'));
    assert.equal(sink.length, 4, 'a FETCH that asked for FLAGS is no flag change');
  });
});
