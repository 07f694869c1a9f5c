// The bytes of one INSTREAM request as clamd receives them: the session command, the request, each
// chunk after its 4-byte big-endian length, the zero-length terminator; a message beyond the flush
// size goes out in more than one write with the same framing. A peer on loopback stands in for
// clamd (the real one is in test/integration/filtering/clamd-scanner.test.ts).
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { ClamdSession, ClamdStream } from '../src/clamd-client.js';

/** What one session sends, cut into requests: each INSTREAM's chunks up to its terminator. */
function parseSession(bytes: Buffer): { prefix: string; requests: Buffer[][] } {
  const session = 'zIDSESSION\0';
  assert.equal(bytes.subarray(0, session.length).toString('latin1'), session);
  const requests: Buffer[][] = [];
  let at = session.length;
  while (at < bytes.length) {
    assert.equal(bytes.subarray(at, at + 10).toString('latin1'), 'zINSTREAM\0');
    at += 10;
    const chunks: Buffer[] = [];
    for (;;) {
      const length = bytes.readUInt32BE(at);
      at += 4;
      if (length === 0) break;
      chunks.push(bytes.subarray(at, at + length));
      at += length;
    }
    requests.push(chunks);
  }
  return { prefix: session, requests };
}

async function withPeer(run: (port: number, received: () => Buffer, reply: () => void) => Promise<void>) {
  const data: Buffer[] = [];
  let peer: Socket | undefined;
  let answered = 0;
  const server = createServer((socket) => {
    peer = socket;
    socket.on('data', (d) => data.push(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    await run(
      port,
      () => Buffer.concat(data),
      () => peer!.write(`${++answered}: stream: OK\0`),
    );
  } finally {
    peer?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
};

test('a small message: command, length-prefixed chunks and terminator, two requests on one session', async () => {
  await withPeer(async (port, received, reply) => {
    const session = new ClamdSession({ host: '127.0.0.1', port });
    const chunks = [
      Buffer.from('Received: x\r\n'),
      Buffer.from('Subject: y\r\n\r\n'),
      Buffer.from('body\r\n'),
    ];
    const first = new ClamdStream(session, 5_000);
    for (const chunk of chunks) assert.equal(first.write(chunk), undefined, 'a small chunk never waits');
    first.write(Buffer.alloc(0));
    const verdict = first.end();
    await until(() => received().length >= 11 + 10 + 3 * 4 + 33 + 4);
    reply();
    assert.deepEqual(await verdict, { status: 'clean' });
    const second = new ClamdStream(session, 5_000);
    second.write(Buffer.from('again'));
    const again = second.end();
    await until(() => parseSessionSafe(received())?.requests.length === 2);
    reply();
    assert.deepEqual(await again, { status: 'clean' });
    const { requests } = parseSession(received());
    assert.deepEqual(
      requests.map((r) => r.map((c) => c.toString('latin1'))),
      [chunks.map((c) => c.toString('latin1')), ['again']],
    );
    session.close();
  });
});

test('a message beyond the flush size: the same chunks, in order, whole', async () => {
  await withPeer(async (port, received, reply) => {
    const session = new ClamdSession({ host: '127.0.0.1', port });
    const stream = new ClamdStream(session, 5_000);
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(7_000 + i, 97 + (i % 26)));
    for (const chunk of chunks) await stream.write(chunk);
    const verdict = stream.end();
    await until(() => parseSessionSafe(received())?.requests.length === 1);
    reply();
    assert.deepEqual(await verdict, { status: 'clean' });
    const [request] = parseSession(received()).requests;
    assert.deepEqual(request, chunks);
    session.close();
  });
});

/** parseSession on what arrived so far, undefined while a request is incomplete. */
function parseSessionSafe(bytes: Buffer): ReturnType<typeof parseSession> | undefined {
  try {
    return parseSession(bytes);
  } catch {
    return undefined;
  }
}
