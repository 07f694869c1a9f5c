import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageMeta } from '@hermod/mail-store';
import { ArgumentCursor } from '../src/protocol/arguments.js';
import { BadArgumentsError } from '../src/protocol/errors.js';
import { tokenize } from '../src/protocol/parser.js';
import { type Candidate, matches } from '../src/search/evaluate.js';
import { parseSearch } from '../src/search/search-query.js';

interface Fixture {
  uid: number;
  flags: string[];
  size: number;
  internal: string;
  recent?: boolean;
  modseq: number;
  headers: Record<string, string>;
  body: string;
}

// Three messages at UIDs 4, 7, 9 (sequence numbers 1, 2, 3), each key's answer differing.
const fixtures: Fixture[] = [
  {
    uid: 4,
    flags: ['\\Seen', '\\Answered', '$Work'],
    size: 500,
    internal: '2026-01-10T12:00:00Z',
    modseq: 10,
    headers: {
      from: 'Alice <alice@example.org>',
      to: 'bob@example.net',
      cc: 'carol@example.com',
      subject: 'Quarterly report',
      date: 'Sat, 10 Jan 2026 09:00:00 +0000',
      'x-priority': '1',
    },
    body: 'numbers attached\r\n',
  },
  {
    uid: 7,
    flags: ['\\Deleted', '\\Draft'],
    size: 2_000,
    internal: '2026-02-01T00:30:00Z',
    recent: true,
    modseq: 20,
    headers: {
      from: 'bob@example.net',
      to: 'alice@example.org',
      bcc: 'audit@example.org',
      subject: 'Re: lunch',
      // 23:30 on the 31st in New York is 1 February in UTC: SENT* must see the 31st.
      date: 'Sat, 31 Jan 2026 23:30:00 -0500',
    },
    body: 'See you at noon\r\n',
  },
  {
    uid: 9,
    flags: ['\\Flagged', '\\Seen'],
    size: 9_000,
    internal: '2026-03-05T08:00:00Z',
    recent: true,
    modseq: 30,
    headers: {
      from: 'carol@example.com',
      to: 'alice@example.org',
      subject: 'Invoice',
      date: '5 Mar 26 08:00 GMT',
    },
    body: 'Please pay the QUARTERLY invoice\r\n',
  },
];

const candidates: Candidate[] = fixtures.map((f, i) => {
  const headerText = Object.entries(f.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const meta: MessageMeta = {
    uid: f.uid,
    bodyId: i + 1,
    size: f.size,
    internalDate: new Date(f.internal),
    internalDateZone: null,
    savedDate: new Date(f.internal),
    flags: f.flags,
    modseq: f.modseq,
    chunkSize: 65_536,
  };
  return {
    meta,
    seq: i + 1,
    recent: f.recent ?? false,
    headers: Object.entries(f.headers).map(([name, value]) => ({ name, value })),
    body: f.body.toLowerCase(),
    whole: `${headerText}\r\n${f.body}`.toLowerCase(),
  } as Candidate;
});

/** UIDs of the fixtures matching `criteria` (the arguments of a SEARCH command). */
function search(criteria: string, saved: number[] = []): number[] {
  const program = parseSearch(new ArgumentCursor(tokenize([Buffer.from(criteria)], [], 10)));
  return candidates
    .filter((c) => matches(program.key, c, { maxSeq: 3, maxUid: 9, saved, now: Date.now() }))
    .map((c) => c.meta.uid);
}

describe('SEARCH keys (RFC 3501 6.4.4, RFC 9051 6.4.4)', () => {
  const cases: Array<[string, number[]]> = [
    ['ALL', [4, 7, 9]],
    ['ANSWERED', [4]],
    ['UNANSWERED', [7, 9]],
    ['DELETED', [7]],
    ['UNDELETED', [4, 9]],
    ['DRAFT', [7]],
    ['UNDRAFT', [4, 9]],
    ['FLAGGED', [9]],
    ['UNFLAGGED', [4, 7]],
    ['SEEN', [4, 9]],
    ['UNSEEN', [7]],
    ['KEYWORD $Work', [4]],
    ['UNKEYWORD $Work', [7, 9]],
    ['RECENT', [7, 9]],
    ['OLD', [4]],
    ['NEW', [7]],
    ['FROM alice', [4]],
    ['TO ALICE@EXAMPLE.ORG', [7, 9]],
    ['CC carol', [4]],
    ['BCC audit', [7]],
    ['SUBJECT "re: LUNCH"', [7]],
    ['HEADER X-Priority 1', [4]],
    ['HEADER X-Priority ""', [4]],
    ['BODY quarterly', [9]],
    ['TEXT quarterly', [4, 9]],
    ['LARGER 500', [7, 9]],
    ['SMALLER 2000', [4]],
    ['BEFORE 1-Feb-2026', [4]],
    ['ON 1-Feb-2026', [7]],
    ['SINCE 1-Feb-2026', [7, 9]],
    ['SENTBEFORE 1-Feb-2026', [4, 7]],
    ['SENTON 31-Jan-2026', [7]],
    ['SENTSINCE 1-Mar-2026', [9]],
    ['2:3', [7, 9]],
    ['*', [9]],
    ['UID 5:8', [7]],
    ['UID 8:*', [9]],
    ['MODSEQ 20', [7, 9]],
    ['MODSEQ "/flags/\\\\seen" all 25', [9]],
    ['NOT SEEN', [7]],
    ['OR FLAGGED DRAFT', [7, 9]],
    ['(SEEN LARGER 1000)', [9]],
    ['SEEN SINCE 1-Jan-2026 NOT FROM carol', [4]],
    ['OR (FROM bob) (SUBJECT invoice) UNDELETED', [9]],
    ['CHARSET UTF-8 SUBJECT report', [4]],
  ];
  for (const [criteria, expected] of cases)
    it(`${criteria} -> ${expected.join(' ') || '(none)'}`, () =>
      assert.deepEqual(search(criteria), expected));

  it('$ is the saved result (SEARCHRES), as a sequence set and after UID', () => {
    assert.deepEqual(search('$', [4, 9]), [4, 9]);
    assert.deepEqual(search('UID $ SEEN', [7, 9]), [9]);
    assert.deepEqual(search('$'), []);
  });

  it('RETURN options and CHARSET are parsed for ESEARCH', () => {
    const program = parseSearch(
      new ArgumentCursor(tokenize([Buffer.from('RETURN (MIN COUNT) CHARSET utf-8 ALL')], [], 10)),
    );
    assert.deepEqual(program.returns, { names: new Set(['MIN', 'COUNT']) });
    assert.equal(program.charset, 'UTF-8');
    const empty = parseSearch(new ArgumentCursor(tokenize([Buffer.from('RETURN () ALL')], [], 10)));
    assert.deepEqual(empty.returns, { names: new Set(['ALL']) }, 'RETURN () means ALL');
  });

  for (const bad of [
    '',
    'FROM',
    'LARGER x',
    'SINCE 2026-01-01',
    'BOGUS',
    'OR SEEN',
    'RETURN (FIRST) ALL',
    '()',
  ])
    it(`"${bad}" is a BAD argument, not a crash`, () => assert.throws(() => search(bad), BadArgumentsError));
});
