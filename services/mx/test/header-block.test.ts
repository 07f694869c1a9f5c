import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bodyMatters, headerBlockOf } from '../src/policy/authentication.js';

const message = Buffer.from(
  'Received: from client.test\r\nFrom: <a@client.test>\r\nSubject: hi\r\n\r\nbody line 1\r\n\r\nbody line 2\r\n',
);
const headerEnd = message.indexOf('\r\n\r\n') + 4;

async function collect(chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of headerBlockOf(
    (async function* () {
      yield* chunks;
    })(),
  ))
    out.push(c);
  return Buffer.concat(out);
}

test('the header block and its blank line, whatever the chunking, never the body', async () => {
  for (let size = 1; size <= message.length; size++) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < message.length; i += size) chunks.push(message.subarray(i, i + size));
    assert.equal(
      (await collect(chunks)).toString('latin1'),
      message.subarray(0, headerEnd).toString('latin1'),
      `chunks of ${size}`,
    );
  }
});

test('a message without a body is passed on whole', async () => {
  const headerOnly = Buffer.from('From: <a@client.test>\r\nSubject: hi\r\n');
  assert.equal((await collect([headerOnly])).toString('latin1'), headerOnly.toString('latin1'));
});

test('the body matters only when the message carries a DKIM signature or an ARC set', () => {
  assert.equal(bodyMatters(new Set(['received', 'from', 'subject'])), false);
  assert.equal(bodyMatters(new Set(['from', 'dkim-signature'])), true);
  assert.equal(bodyMatters(new Set(['from', 'arc-seal'])), true);
  assert.equal(bodyMatters(new Set(['from', 'arc-message-signature'])), true);
});
