import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Envelope } from '../src/mime/parse-mime.js';
import { baseSubject } from '../src/search/base-subject.js';
import {
  formatThreads,
  sortMessages,
  type ThreadInput,
  threadOrderedSubject,
  threadReferences,
} from '../src/search/sort-thread.js';

const envelope = (subject: string, date: string, messageId: string, from = 'a'): Envelope => ({
  date,
  subject,
  from: [{ name: null, mailbox: from, host: 'example.com' }],
  sender: [],
  replyTo: [],
  to: [],
  cc: [],
  bcc: [],
  inReplyTo: null,
  messageId,
});

const input = (
  seq: number,
  subject: string,
  day: number,
  id: string,
  references: string[] = [],
  from = 'a',
): ThreadInput => ({
  uid: seq * 10,
  seq,
  size: 100 * (7 - seq),
  internalDate: new Date(Date.UTC(2026, 0, 10 - seq)),
  envelope: envelope(subject, `Mon, ${day} Jan 2026 10:00:00 +0000`, id, from),
  references,
});

const messages = [
  input(1, 'hello', 1, '<a>'),
  input(2, 'Re: hello', 2, '<b>', ['<a>'], 'c'),
  input(3, 'Re: hello', 3, '<c>', ['<a>', '<b>'], 'b'),
  input(4, 'RE: [list] hello', 4, '<d>', ['<a>']),
  input(5, 'other', 5, '<e>'),
  input(6, 'Re: other', 6, '<f>'),
];

describe('RFC 5256 base subject, SORT and THREAD', () => {
  it('extracts base subjects', () => {
    assert.equal(baseSubject('Re: [list] Fwd: hello (fwd)'), 'HELLO');
    assert.equal(baseSubject('[fwd: Re: test]'), 'TEST');
    assert.equal(baseSubject('Re: Re:  re:   spaced   out'), 'SPACED OUT');
    assert.equal(baseSubject('=?UTF-8?B?R3LDvMOfZQ==?='), 'GRÜSSE');
    assert.equal(baseSubject('[only a blob]'), '[ONLY A BLOB]');
  });

  it('sorts by several keys with REVERSE, ties by sequence number', () => {
    const ids = (list: ThreadInput[]) => list.map((m) => m.seq);
    assert.deepEqual(ids(sortMessages(messages, [{ key: 'SUBJECT', reverse: false }])), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(ids(sortMessages(messages, [{ key: 'ARRIVAL', reverse: false }])), [6, 5, 4, 3, 2, 1]);
    assert.deepEqual(
      ids(
        sortMessages(messages, [
          { key: 'FROM', reverse: true },
          { key: 'DATE', reverse: false },
        ]),
      ),
      [2, 3, 1, 4, 5, 6],
    );
    assert.deepEqual(ids(sortMessages(messages, [{ key: 'SIZE', reverse: false }])), [6, 5, 4, 3, 2, 1]);
  });

  it('threads by ORDEREDSUBJECT and by REFERENCES', () => {
    const bySeq = (m: ThreadInput) => m.seq;
    assert.equal(formatThreads(threadOrderedSubject(messages, bySeq)), '(1 (2)(3)(4))(5 6)');
    assert.equal(formatThreads(threadReferences(messages, bySeq)), '(1 (2 3)(4))(5 6)');
  });

  it('keeps a missing parent as an empty container and survives reference loops', () => {
    const orphans = [input(1, 'x', 1, '<m1>', ['<gone>']), input(2, 'y', 2, '<m2>', ['<gone>'])];
    assert.equal(formatThreads(threadReferences(orphans, (m) => m.seq)), '((1)(2))');
    const loop = [input(1, 'x', 1, '<a>', ['<b>']), input(2, 'x', 2, '<b>', ['<a>'])];
    assert.doesNotThrow(() => threadReferences(loop, (m) => m.seq));
  });

  it('REFERENCES step 5 merges by subject only by its rules; ties in sent date go by mailbox order', () => {
    const bySeq = (m: ThreadInput) => m.seq;
    const list = [
      input(1, 'Re-org', 1, '<1>'),
      input(2, 'Re-org', 2, '<2>'),
      input(3, 'Re: foo', 3, '<3>'),
      input(4, '[list] foo (fwd)', 4, '<4>'),
      input(5, 'foo', 5, '<5>'),
      input(6, 'b', 6, '<6>'),
      input(7, 'a', 6, '<7>'),
    ];
    assert.equal(formatThreads(threadReferences(list, bySeq)), '((1)(2))(5 (3)(4))(6)(7)');
    assert.equal(formatThreads(threadOrderedSubject(list, bySeq)), '(1 2)(3 (4)(5))(6)(7)');
  });
});
