import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { createSecureContext } from 'node:tls';
import { silentLogger } from '@hermod/logging';
import { Connection } from '../src/transport/connection.js';
import { LINE_TOO_LONG, LineReader } from '../src/transport/line-reader.js';

test('LineReader: lines across chunks without CRLF; a line over the cap ends the stream', () => {
  const reader = new LineReader(10);
  assert.deepEqual(reader.push(Buffer.from('US')), []);
  assert.deepEqual(reader.push(Buffer.from('ER a\r\nPASS b\r\n')), ['USER a', 'PASS b']);
  // A client's line that reads "too-long" is a line like any other, not the overflow marker.
  assert.deepEqual(reader.push(Buffer.from('too-long\r\n')), ['too-long']);
  assert.deepEqual(reader.push(Buffer.from('x'.repeat(11))), [LINE_TOO_LONG]);
});

/** A connected pair of loopback sockets: the server's end and the client's. */
async function socketPair(): Promise<{ server: Socket; client: Socket }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const address = listener.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  const accepted = once(listener, 'connection');
  const client = connect({ host: '127.0.0.1', port: address.port });
  const [server] = (await accepted) as [Socket];
  listener.close();
  client.on('error', () => {});
  return { server, client };
}

function lineConnection(socket: Socket, overrides: { idleTimeoutMs?: number; onIdle?: () => void } = {}) {
  const ends: string[] = [];
  const connection = new Connection(socket, {
    newReader: () => new LineReader(100),
    idleTimeoutMs: () => overrides.idleTimeoutMs ?? 60_000,
    onIdle: overrides.onIdle ?? (() => {}),
    onEnd: () => ends.push('end'),
    logger: () => silentLogger(),
  });
  return { connection, ends };
}

test('inputs are served one at a time in order; a command reads its continuation with next()', async () => {
  const { server, client } = await socketPair();
  const { connection, ends } = lineConnection(server);
  connection.start();
  const seen: string[] = [];
  let running = 0;
  const served = connection.serve(
    async (line) => {
      running++;
      assert.equal(running, 1, 'one command at a time');
      if (line === 'AUTH') {
        const continuation = await connection.next();
        seen.push(`AUTH ${String(continuation)}`);
      } else seen.push(String(line));
      connection.write(`done ${seen.length}\r\n`);
      running--;
    },
    (error) => assert.fail(String(error)),
  );
  let received = '';
  client.on('data', (d: Buffer) => {
    received += d.toString();
  });
  client.write('ONE\r\nAUTH\r\nsecret\r\nTWO\r\n');
  while (!received.includes('done 3\r\n')) await once(client, 'data');
  client.end();
  await served;
  assert.deepEqual(seen, ['ONE', 'AUTH secret', 'TWO']);
  assert.equal(await connection.next(), null, 'nothing more once the peer has gone');
  assert.deepEqual(ends, ['end']);
});

test('close(): what was written reaches the peer, then the end; onEnd runs once', async () => {
  const { server, client } = await socketPair();
  const { connection, ends } = lineConnection(server);
  connection.start();
  const pending = connection.next();
  let received = '';
  client.on('data', (d: Buffer) => {
    received += d.toString();
  });
  const clientEnded = once(client, 'end');
  connection.write('BYE\r\n');
  connection.close();
  assert.equal(await pending, null);
  await clientEnded;
  assert.equal(received, 'BYE\r\n');
  assert.equal(connection.write('late\r\n'), false);
  client.end();
  await once(server, 'close');
  assert.deepEqual(ends, ['end']);
});

test('corked writes keep their order across text and bytes, and writeAsync waits while the peer does not read', async () => {
  const { server, client } = await socketPair();
  const connection = new Connection(server, {
    newReader: () => new LineReader(100),
    idleTimeoutMs: () => 60_000,
    onIdle: () => {},
    onEnd: () => {},
    cork: true,
    logger: () => silentLogger(),
  });
  connection.start();
  client.pause();
  connection.hold();
  connection.write('* 1 FETCH (BODY[] {3}\r\n');
  connection.write(Buffer.from('abc'));
  connection.write(')\r\n');
  // Far more than the socket and the kernel take while nobody reads: writeAsync must wait for drain.
  const line = `* ${'x'.repeat(1000)}\r\n`;
  let waited = false;
  for (let i = 0; i < 20_000 && !waited; i++) {
    const write = connection.writeAsync(line);
    let settled = false;
    void write.then(() => {
      settled = true;
    });
    await Promise.resolve();
    await Promise.resolve();
    if (!settled) {
      waited = true;
      client.resume();
      await write;
    }
  }
  assert.ok(waited, 'backpressure reached the writer');
  connection.write('a OK done\r\n');
  connection.release();
  let received = '';
  client.setEncoding('latin1');
  client.on('data', (d: string) => {
    received += d;
  });
  while (!received.endsWith('a OK done\r\n')) await once(client, 'data');
  assert.ok(received.startsWith('* 1 FETCH (BODY[] {3}\r\nabc)\r\n* x'));
  connection.close();
  client.destroy();
});

test('the idle timer fires without input', async () => {
  const { server, client } = await socketPair();
  let idle!: () => void;
  const fired = new Promise<void>((resolve) => {
    idle = resolve;
  });
  const { connection } = lineConnection(server, { idleTimeoutMs: 20, onIdle: () => idle() });
  connection.start();
  await fired;
  connection.close();
  client.destroy();
});

test('a failed STARTTLS handshake ends the connection and keeps the listener’s own close handler', async () => {
  const { server, client } = await socketPair();
  // The listener frees the per-IP slot on the plain socket's close: the upgrade must not remove it.
  const listenerSawClose = once(server, 'close');
  const { connection, ends } = lineConnection(server);
  connection.start();
  client.write('STARTTLS\r\n');
  assert.equal(await connection.next(), 'STARTTLS');
  const upgraded = connection.startTls({ secureContext: createSecureContext({}) });
  client.write('this is not a TLS ClientHello\r\n\r\n');
  assert.equal(await upgraded, false);
  assert.equal(connection.isClosed, true);
  assert.deepEqual(ends, ['end']);
  client.destroy();
  await listenerSawClose;
});
