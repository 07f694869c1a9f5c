import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpooledBody } from '../src/spooled-body.js';

async function chunksOf(body: SpooledBody): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of body.source()) chunks.push(chunk);
  return chunks;
}

test('a message held in memory is read back as one chunk with the same bytes', async () => {
  const body = new SpooledBody(1024 * 1024);
  const parts = ['Received: x\r\n', 'Subject: s\r\n', 'X-Added: y\r\n', '\r\nbody line\r\n'];
  for (const part of parts) await body.write(Buffer.from(part, 'latin1'));
  await body.end();
  const chunks = await chunksOf(body);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.toString('latin1'), parts.join(''));
  assert.equal(body.buffered()!.toString('latin1'), parts.join(''));
  await body.discard();
});

test('a message beyond the memory limit is read back from its file with the same bytes', async () => {
  const body = new SpooledBody(1024 * 1024, 16);
  const parts = ['Subject: a longer header\r\n', '\r\n', 'x'.repeat(100), '\r\n'];
  for (const part of parts) await body.write(Buffer.from(part, 'latin1'));
  await body.end();
  assert.equal(body.buffered(), undefined);
  assert.equal(Buffer.concat(await chunksOf(body)).toString('latin1'), parts.join(''));
  await body.discard();
});
