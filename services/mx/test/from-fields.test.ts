// An unsigned message is authenticated from its From fields alone (prepareMessage's summary), not
// from its header block: the results must be the ones the whole header block gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prepareMessage } from '@hermod/smtp';
import { authenticateMessage } from '../src/policy/authentication.js';

const records: Record<string, string[][]> = {
  'TXT client.test': [['v=spf1 ip4:192.0.2.1 -all']],
  'TXT _dmarc.client.test': [['v=DMARC1; p=reject; rua=mailto:dmarc@client.test']],
  'TXT _dmarc.other.test': [['v=DMARC1; p=quarantine']],
};
const resolve = async (name: string, rrtype: string) => {
  const answer = records[`${rrtype} ${name}`];
  if (answer) return answer;
  throw Object.assign(new Error(`no ${rrtype} ${name}`), { code: 'ENOTFOUND' });
};

const body = 'Date: Mon, 7 Dec 2026 00:00:00 +0000\r\nSubject: hi\r\n\r\nbody\r\n';
const messages: Record<string, string> = {
  'one From after a Received chain':
    'Received: from a.test by b.test; Mon, 7 Dec 2026 00:00:00 +0000\r\n' +
    'Received: from c.test\r\n by d.test; Mon, 7 Dec 2026 00:00:00 +0000\r\n' +
    `From: Load <load@client.test>\r\n${body}`,
  'a folded From with a display name': `From: "Sender, The"\r\n\t<load@client.test>\r\n${body}`,
  'a From of another domain (DMARC fails)': `from: <someone@other.test>\r\n${body}`,
  'two From fields': `From: <load@client.test>\r\nFrom: <someone@other.test>\r\n${body}`,
  'two addresses in one From': `From: <load@client.test>, <someone@other.test>\r\n${body}`,
  'no From': body,
  'a UTF-8 display name': `From: =?utf-8?q?J=C3=BCrgen?= <load@client.test>\r\nTo: Jürgen <x@bench.test>\r\n${body}`,
};

test('the From fields of the summary give the results of the whole header block', async () => {
  for (const [name, text] of Object.entries(messages)) {
    const raw = Buffer.from(text, 'utf8');
    const prepared = await prepareMessage(
      (async function* () {
        yield raw;
      })(),
      { write: async () => {} },
      { bareLineEndings: 'reject', prepend: 'Received: from client.test by mx.hermod.test\r\n' },
    );
    assert.ok(prepared.headerComplete, name);
    const input = {
      fieldNames: prepared.names,
      ip: '192.0.2.1',
      helo: 'client.test',
      mailFrom: 'load@client.test',
      authservId: 'mx.hermod.test',
    };
    const whole = await authenticateMessage(
      {
        ...input,
        message: (async function* () {
          yield raw;
        })(),
      },
      resolve,
    );
    const fromFields = await authenticateMessage(
      {
        ...input,
        from: prepared.values.get('from') ?? [],
        message: (async function* () {
          yield* [];
          throw new Error('the message is not read');
        })(),
      },
      resolve,
    );
    assert.deepEqual(fromFields, whole, name);
  }
  // The cases differ among themselves: the comparison is not between two empty results.
  assert.equal(
    (
      await authenticateMessage(
        {
          fieldNames: new Set(['from']),
          from: ['<someone@other.test>'],
          ip: '192.0.2.1',
          helo: 'client.test',
          mailFrom: 'load@client.test',
          authservId: 'mx.hermod.test',
          message: (async function* () {})(),
        },
        resolve,
      )
    ).dmarc,
    'fail',
  );
});
