// Under load every turn of mx's event loop lasts as long as the work of all the connections that
// were ready together (milliseconds), so a message that waits for a later turn waits that long.
// The authentication checks of a message whose DNS answers are cached finish in the turn they
// start in: a buffer handed to mailauth was written with one setImmediate per chunk and another
// before the end (two turns per message, seen as most of the DATA reply's time under load).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authenticateMessage } from '../src/policy/authentication.js';

const message = Buffer.from(
  'Received: from client.test\r\nFrom: <load@client.test>\r\nTo: <box@bench.test>\r\nSubject: hi\r\n' +
    `Date: Mon, 7 Dec 2026 00:00:00 +0000\r\nMessage-ID: <a@client.test>\r\n\r\n${'La de da de da 1.\r\n'.repeat(200)}`,
);
const records: Record<string, string[][]> = {
  'TXT client.test': [['v=spf1 ip4:192.0.2.1 -all']],
  'TXT _dmarc.client.test': [['v=DMARC1; p=none']],
};
const resolve = async (name: string, rrtype: string) => {
  const answer = records[`${rrtype} ${name}`];
  if (answer) return answer;
  throw Object.assign(new Error(`no ${rrtype} ${name}`), { code: 'ENOTFOUND' });
};

test('an unsigned message is authenticated within the turn it starts in (DNS answered at once)', async () => {
  let turns = 0;
  let done = false;
  const tick = () => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const outcome = await authenticateMessage(
    {
      message: (async function* () {
        yield message;
      })(),
      fieldNames: new Set(['received', 'from', 'to', 'subject', 'date', 'message-id']),
      ip: '192.0.2.1',
      helo: 'client.test',
      mailFrom: 'load@client.test',
      authservId: 'mx.hermod.test',
    },
    resolve,
  );
  done = true;
  assert.equal(outcome.spf, 'pass');
  assert.equal(outcome.dmarc, 'pass');
  assert.equal(turns, 0, 'no later turn of the event loop was waited for');
});
