import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpooledBody } from '@hermod/spool';
import { BareLineEndingError, prepareMessage } from '../src/prepare-message.js';

async function prepare(
  chunks: string[],
  bareLineEndings: 'normalise' | 'reject' = 'normalise',
  maxHeaderBytes?: number,
) {
  const sink = new SpooledBody(1024 * 1024);
  const result = await prepareMessage(
    (async function* () {
      for (const c of chunks) yield Buffer.from(c, 'latin1');
    })(),
    sink,
    {
      bareLineEndings,
      prepend: 'Received: test\r\n',
      append: (s) => (s.names.has('message-id') ? '' : 'Message-ID: <new@x>\r\n'),
      ...(maxHeaderBytes ? { maxHeaderBytes } : {}),
    },
  );
  await sink.end();
  const parts: Buffer[] = [];
  for await (const b of sink.source()) parts.push(b);
  return { result, text: Buffer.concat(parts).toString('latin1') };
}

test('prepends trace fields and appends missing ones at the end of the header block', async () => {
  const { text, result } = await prepare(['From: a@b.c\r\nSubj', 'ect: hi\r\n\r\nbody\r\n']);
  assert.equal(text, 'Received: test\r\nFrom: a@b.c\r\nSubject: hi\r\nMessage-ID: <new@x>\r\n\r\nbody\r\n');
  assert.deepEqual(result.values.get('subject'), ['hi']);
  assert.equal(result.size, Buffer.byteLength(text));
});

test('keeps an existing Message-ID and counts Received fields', async () => {
  const { text, result } = await prepare(['Received: x\r\nReceived: y\r\nMessage-ID: <a@b>\r\n\r\nx']);
  assert.equal(text, 'Received: test\r\nReceived: x\r\nReceived: y\r\nMessage-ID: <a@b>\r\n\r\nx');
  assert.equal(result.receivedCount, 2);
});

test('bare LF and bare CR become CRLF, also across chunk boundaries', async () => {
  const { text, result } = await prepare(['Subject: a\n\nline1\r', '\nline2\rline3\n', 'end\r']);
  assert.equal(
    text,
    'Received: test\r\nSubject: a\r\nMessage-ID: <new@x>\r\n\r\nline1\r\nline2\r\nline3\r\nend\r\n',
  );
  assert.equal(result.sawBareLineEnding, true);
  assert.doesNotMatch(text.replace(/\r\n/g, ''), /[\r\n]/);
});

test('reject mode refuses bare line endings', async () => {
  await assert.rejects(prepare(['Subject: a\r\n\r\nx\ny'], 'reject'), BareLineEndingError);
  await assert.rejects(prepare(['Subject: a\r\n\r\nx\ry\r\n'], 'reject'), BareLineEndingError);
});

test('folded header values are unfolded in the summary', async () => {
  const { result } = await prepare(['From: "A"\r\n <a@example.com>\r\n\r\n']);
  assert.deepEqual(result.values.get('from'), ['"A" <a@example.com>']);
});

test('an oversized header block is stored whole but gets no additions', async () => {
  const long = `X-Long: ${'a'.repeat(500)}\r\n`.repeat(4);
  const { text } = await prepare([long, 'X: y\r\n\r\nbody'], 'normalise', 1000);
  assert.equal(text, `Received: test\r\n${long}X: y\r\n\r\nbody`);
});
