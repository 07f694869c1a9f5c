// The clamd client and scanner against a real clamd (Debian's clamav-daemon) loaded with the
// harness' test signatures: the EICAR test file found as a body, base64 MIME part, in a zip and in
// a nested message/rfc822; the .ndb pattern; clean mail; both socket kinds; the size limits (ours
// and clamd's StreamMaxLength); clamd down, clamd stopped mid-scan (timeout); the concurrency limit;
// sessions reused between messages, and a new one after clamd closed an idle one.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { MalwareScanner, type MalwareVerdict, parseClamdAddress } from '@hermod/content-scan';
import { freePort } from '@hermod/local-infra';
import {
  ClamdPeer,
  EICAR,
  EICAR_SIGNATURES,
  eventually,
  TEST_PATTERN,
  TEST_PATTERN_SIGNATURE,
} from '@hermod/test/harness';
import { Registry } from 'prom-client';
import { base64Eicar, clean, crlf, header, nestedEicar, plainEicar, zippedEicar } from './malware-samples.js';

let clamd: ClamdPeer;
const registry = new Registry();

function scanner(overrides: Partial<ConstructorParameters<typeof MalwareScanner>[0]> = {}) {
  return new MalwareScanner({
    address: parseClamdAddress(clamd.address),
    timeoutMs: 10_000,
    maxConcurrent: 4,
    maxScanBytes: 512 * 1024,
    registry,
    ...overrides,
  });
}

/** Streams the message in small chunks as DATA would, then asks for the verdict. */
async function scan(s: MalwareScanner, message: string | Buffer, chunk = 1000): Promise<MalwareVerdict> {
  const data = Buffer.from(message);
  const run = s.begin();
  for (let at = 0; at < data.length; at += chunk) {
    await run.write(data.subarray(at, at + chunk));
    // As chunks arrive from a client: the event loop turns between them.
    await new Promise((resolve) => (chunk > 1000 ? setTimeout(resolve, 5) : setImmediate(resolve)));
  }
  return run.finish(async function* () {
    yield data;
  });
}

function assertEicar(verdict: MalwareVerdict, what = ''): void {
  assert.equal(verdict.status, 'infected', what);
  assert.ok(verdict.status === 'infected' && EICAR_SIGNATURES.includes(verdict.signature), what);
}

before(async () => {
  clamd = new ClamdPeer();
  await clamd.start({ streamMaxLength: '1M' });
  console.log(`clamd ready after ${clamd.startupMs} ms with the test database`);
});

after(async () => {
  await clamd?.stop();
});

describe('clamd INSTREAM', () => {
  test('clean mail is clean', async () => {
    assert.deepEqual(await scan(scanner(), clean()), { status: 'clean' });
  });

  test('EICAR as the body, base64 part, in a zip and in a nested message/rfc822', async () => {
    const s = scanner();
    const samples = {
      plain: plainEicar(),
      base64: base64Eicar(),
      zip: await zippedEicar(),
      nested: nestedEicar(),
    };
    for (const [name, message] of Object.entries(samples)) {
      assertEicar(await scan(s, message), name);
    }
  });

  test('the .ndb test pattern anywhere in a large body, over the unix socket', async () => {
    const body = `${'filler line of text\r\n'.repeat(5000)}${TEST_PATTERN}\r\n`;
    const s = scanner({ address: { path: clamd.socketPath } });
    assert.deepEqual(await scan(s, [...header('pattern'), '', body].join('\r\n')), {
      status: 'infected',
      signature: TEST_PATTERN_SIGNATURE,
    });
  });

  test('past our scan size limit: unscanned, not an error', async () => {
    const big = Buffer.alloc(600 * 1024, 'a');
    assert.deepEqual(await scan(scanner(), big), { status: 'unscanned', reason: 'too-large' });
  });

  test("past clamd's StreamMaxLength: a size-limit error", async () => {
    const big = Buffer.alloc(1200 * 1024, 'a');
    const verdict = await scan(scanner({ maxScanBytes: 4 * 1024 * 1024 }), big, 64 * 1024);
    assert.equal(verdict.status, 'failed');
    assert.equal(
      verdict.status === 'failed' && verdict.error.kind,
      'size-limit',
      verdict.status === 'failed' ? verdict.error.message : '',
    );
  });

  test('nothing listening: unavailable', async () => {
    const verdict = await scan(scanner({ address: { host: '127.0.0.1', port: await freePort() } }), clean());
    assert.equal(verdict.status === 'failed' && verdict.error.kind, 'unavailable');
  });

  test('clamd stopped mid-scan: a timeout within the limit, then scanning again once it resumes', async () => {
    clamd.pause();
    try {
      const started = Date.now();
      const verdict = await scan(scanner({ timeoutMs: 500 }), clean());
      assert.equal(verdict.status === 'failed' && verdict.error.kind, 'timeout');
      assert.ok(Date.now() - started < 5_000);
    } finally {
      clamd.resume();
    }
    assertEicar(await scan(scanner(), base64Eicar()));
  });

  test('a slow client does not count against the timeout', async () => {
    const s = scanner({ timeoutMs: 300 });
    const run = s.begin();
    const message = Buffer.from(base64Eicar());
    await run.write(message.subarray(0, 100));
    // The client pauses longer than the timeout between two chunks (its pace, not a wait for us).
    await new Promise((resolve) => setTimeout(resolve, 700));
    await run.write(message.subarray(100));
    // Past the timeout the stream was given up: the verdict comes from the spooled copy.
    assertEicar(
      await run.finish(async function* () {
        yield message;
      }),
    );
  });

  test('a client that stalls gives its stream up: others are scanned meanwhile, it from its spooled copy', async () => {
    const s = scanner({ maxConcurrent: 1, timeoutMs: 400 });
    const infected = Buffer.from(base64Eicar());
    const stalled = s.begin();
    await stalled.write(infected.subarray(0, 100));
    // The stalled client holds the only stream; another message waits for one (within the
    // timeout) and gets the stream the stalled one gave up, instead of failing as busy.
    const other = s.begin();
    await other.write(Buffer.from(clean()));
    const otherVerdict = await other.finish(async function* () {
      yield Buffer.from(clean());
    });
    assert.deepEqual(otherVerdict, { status: 'clean' });
    await stalled.write(infected.subarray(100));
    assertEicar(
      await stalled.finish(async function* () {
        yield infected;
      }),
    );
    s.close();
  });

  test('beyond the concurrency limit a message is scanned from its spooled copy', async () => {
    const s = scanner({ maxConcurrent: 1 });
    const first = s.begin();
    const second = s.begin(); // no stream free: nothing is sent while DATA goes on
    const infected = Buffer.from(base64Eicar());
    await second.write(infected);
    await first.write(Buffer.from(clean()));
    const [a, b] = await Promise.all([
      first.finish(async function* () {}),
      second.finish(async function* () {
        yield infected;
      }),
    ]);
    assert.deepEqual(a, { status: 'clean' });
    assertEicar(b);
  });

  test('metrics: scans by result, infections by signature, errors by kind, scan time', async () => {
    const text = await registry.metrics();
    assert.match(text, /hermod_malware_scans_total\{result="infected"\} [1-9]/);
    assert.match(text, /hermod_malware_infected_total\{signature="Hermod.Test.EICAR[^"]*"\} [1-9]/);
    assert.match(text, /hermod_malware_scan_errors_total\{kind="timeout"\} 1/);
    assert.match(text, /hermod_malware_scan_seconds_count [1-9]/);
  });
});

/**
 * A TCP relay in front of clamd that counts the connections clients open and close.
 * `closeAsClamd()` closes them as clamd's idle timeout does; `breakSilently()` closes the connections to clamd without telling the clients (as when clamd's
 * close is still on its way): a client's next bytes on such a connection get it reset.
 */
class CountingRelay {
  private server: Server | undefined;
  private readonly pairs: Array<{ client: Socket; upstream: Socket; broken: boolean }> = [];
  opened = 0;
  clientsClosed = 0;
  port = 0;

  async start(target: number): Promise<void> {
    this.server = createServer((client) => {
      this.opened++;
      const upstream = connect(target, '127.0.0.1');
      const pair = { client, upstream, broken: false };
      this.pairs.push(pair);
      client.on('data', (d) => (pair.broken ? client.resetAndDestroy() : upstream.write(d)));
      upstream.on('data', (d) => client.write(d));
      upstream.on('end', () => client.end());
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => {
        this.clientsClosed++;
        upstream.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Closes every connection as clamd does at its idle timeout: the client gets the close. */
  closeAsClamd(): void {
    for (const pair of this.pairs) {
      pair.broken = true;
      pair.upstream.destroy();
      pair.client.end();
    }
  }

  breakSilently(): void {
    for (const pair of this.pairs) {
      pair.broken = true;
      pair.upstream.destroy();
    }
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) pair.client.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('clamd sessions (IDSESSION)', () => {
  test('messages one after another go over one connection', async () => {
    const relay = new CountingRelay();
    await relay.start(clamd.port);
    try {
      const s = scanner({ address: { host: '127.0.0.1', port: relay.port } });
      for (let i = 0; i < 5; i++) assert.deepEqual(await scan(s, clean()), { status: 'clean' });
      assertEicar(await scan(s, base64Eicar()));
      assert.deepEqual(await scan(s, clean()), { status: 'clean' });
      assert.equal(relay.opened, 1);
      s.close();
    } finally {
      await relay.stop();
    }
  });

  test('clamd closes an idle session: dropped when the close arrives, the next message opens a new one', async () => {
    const relay = new CountingRelay();
    await relay.start(clamd.port);
    try {
      const s = scanner({ address: { host: '127.0.0.1', port: relay.port } });
      assert.deepEqual(await scan(s, clean()), { status: 'clean' });
      relay.closeAsClamd();
      await eventually(
        'the idle session closed on our side',
        async () => relay.clientsClosed === 1 || undefined,
      );
      assertEicar(await scan(s, base64Eicar()));
      assert.equal(relay.opened, 2);
      s.close();
    } finally {
      await relay.stop();
    }
  });

  test('a session closed before its close arrived: the message goes again over a new connection', async () => {
    const relay = new CountingRelay();
    await relay.start(clamd.port);
    try {
      const s = scanner({ address: { host: '127.0.0.1', port: relay.port } });
      assert.deepEqual(await scan(s, clean()), { status: 'clean' });
      relay.breakSilently();
      assertEicar(await scan(s, base64Eicar()));
      assert.deepEqual(await scan(s, clean()), { status: 'clean' });
      assert.equal(relay.opened, 2);
      s.close();
    } finally {
      await relay.stop();
    }
  });

  test('clamd restarted: the idle sessions are dropped and scanning goes on', async () => {
    const s = scanner();
    assert.deepEqual(await scan(s, clean()), { status: 'clean' });
    await clamd.stop();
    await clamd.start({ streamMaxLength: '1M' });
    assertEicar(await scan(s, base64Eicar()));
    s.close();
  });
});

describe("a slow client against clamd's own timeouts", () => {
  // clamd ends a stream whose next chunk is later than its ReadTimeout, and a session that sends
  // no command within CommandReadTimeout (Debian: 180 s and 30 s; 1 s here). A client may pause
  // longer than that within RFC 5321's data timeouts: the message must still get its verdict.
  const strict = new ClamdPeer();
  before(() => strict.start({ readTimeout: 1, commandReadTimeout: 1, idleTimeout: 1 }));
  after(() => strict.stop());

  test('clamd ends the stream while the client pauses: the message is scanned from its spooled copy', async () => {
    const relay = new CountingRelay();
    await relay.start(strict.port);
    try {
      const s = scanner({ address: { host: '127.0.0.1', port: relay.port } });
      const start = Buffer.from(crlf([...header('slow sender'), '', ...Array(1500).fill('x'.repeat(60))]));
      const rest = Buffer.from(crlf([EICAR]));
      assert.ok(start.length > 64 * 1024, 'more than one write: clamd has the INSTREAM command');
      const run = s.begin();
      await run.write(start);
      await eventually('clamd ended the stream', async () => relay.clientsClosed === 1 || undefined);
      await run.write(rest);
      assertEicar(
        await run.finish(async function* () {
          yield start;
          yield rest;
        }),
        'verdict after the pause',
      );
      s.close();
    } finally {
      await relay.stop();
    }
  });

  test('clamd ends a new session before the first write: the message is scanned from its spooled copy', async () => {
    const relay = new CountingRelay();
    await relay.start(strict.port);
    try {
      const s = scanner({ address: { host: '127.0.0.1', port: relay.port } });
      const message = Buffer.from(base64Eicar('paused before its first write'));
      const run = s.begin();
      await run.write(message.subarray(0, 100));
      await eventually('clamd ended the session', async () => relay.clientsClosed === 1 || undefined);
      await run.write(message.subarray(100));
      assertEicar(
        await run.finish(async function* () {
          yield message;
        }),
      );
      s.close();
    } finally {
      await relay.stop();
    }
  });
});
