// Scale-down under load, as an SRE (or the HPA) does it: two outbound-mta workers share one queue
// and a remote that takes 200 ms per transaction; one worker gets SIGTERM in the middle of the
// deliveries. It finishes the transactions on the wire, hands back the leases of the rest and exits
// well within its grace; the other worker delivers the remainder. Every message arrives exactly once
// (counted at the remote by Message-ID) and the per-destination limit holds across both workers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { freePort, NodeServiceProcess } from '@hermod/local-infra';
import { releaseHeldOutbound, type SlowSink, seedHeldOutbound, startSlowSink } from '@hermod/test/harness';
import {
  addMx,
  crlf,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';

const from = `alice@${LOCAL_DOMAIN}`;
const address = '127.0.0.11';
const destinationConcurrency = 2;
const shutdownGraceMs = 20_000;
let bed: OutboundTestbed;
let sink: SlowSink;
let second: NodeServiceProcess;

before(async () => {
  bed = await startOutboundTestbed({
    outboundEnv: {
      OUTBOUND_DESTINATION_CONCURRENCY: String(destinationConcurrency),
      OUTBOUND_MESSAGES_PER_CONNECTION: '5',
      SHUTDOWN_GRACE_MS: String(shutdownGraceMs),
    },
  });
  sink = await startSlowSink({ delayMs: 200, host: address, port: bed.smtpPort });
  addMx(bed.dns, 'slow.test', address);
  second = new NodeServiceProcess({ ...bed.outbound().options, opsPort: await freePort() });
  await second.start(60_000);
});

after(async () => {
  await second?.stop();
  await sink?.stop();
  await bed?.stop();
});

test('a burst for one destination is shared by both workers, within the per-destination limit', async () => {
  // Due all at once, as after `hermod queue release` or a remote's outage.
  const count = 60;
  const spoolIds = await seedHeldOutbound(
    bed.hermod.db.pool,
    Array.from({ length: count }, (_, i) => ({
      from,
      to: `b${i}@slow.test`,
      body: Buffer.from(crlf(`From: ${from}`, `Message-ID: <burst-${i}@hermod.test>`, '', `burst ${i}`)),
    })),
    { host: address, port: bed.smtpPort },
  );
  sink.reset();
  await releaseHeldOutbound(bed.hermod.db.pool, bed.hermod.nc);
  for (const spoolId of spoolIds) await bed.settled(spoolId, 'delivered', 60_000);
  assert.deepEqual(sink.duplicates(), []);
  assert.equal(sink.received.length, count);
  // Both workers had sessions open at once: more than one worker's limit, never more than two.
  assert.ok(
    sink.sessions.max > destinationConcurrency && sink.sessions.max <= 2 * destinationConcurrency,
    `${sink.sessions.max} sessions at most for 2 workers x ${destinationConcurrency}`,
  );
});

test('SIGTERM to one of two workers mid-delivery: leases handed back, every message delivered once', async () => {
  const first = bed.outbound();
  sink.reset();
  {
    const count = 120;
    const ids = Array.from({ length: count }, (_, i) => `<scale-down-${i}@hermod.test>`);
    const spoolIds = await Promise.all(
      ids.map((id, i) =>
        bed.submit(
          from,
          [`r${i}@slow.test`],
          crlf(`From: ${from}`, `To: r${i}@slow.test`, `Message-ID: ${id}`, `Subject: ${i}`, '', `body ${i}`),
        ),
      ),
    );
    // In the middle: some delivered, and the worker about to stop holds leases on others.
    const owner = `:${first.pid}`;
    const held = await waitFor(
      'deliveries under way with leases held by the first worker',
      async () => {
        if (sink.received.length < 10) return undefined;
        const { rows } = await bed.hermod.db.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM outbound_queue WHERE lease_owner LIKE '%' || $1`,
          [owner],
        );
        return Number(rows[0]!.n) > 0 ? Number(rows[0]!.n) : undefined;
      },
      60_000,
    );
    const deliveredBefore = sink.received.length;
    const started = Date.now();
    await first.stop(shutdownGraceMs + 10_000);
    const stoppedIn = Date.now() - started;
    assert.ok(deliveredBefore < count, 'SIGTERM came before the last delivery');
    assert.ok(
      stoppedIn < shutdownGraceMs,
      `the worker took ${stoppedIn} ms to stop (grace ${shutdownGraceMs} ms)`,
    );
    assert.doesNotMatch(first.logs(), /grace period over/);
    // Nothing is left leased to the stopped worker: its leases were handed back, not left to expire.
    const { rows: orphaned } = await bed.hermod.db.pool.query(
      `SELECT spool_id FROM outbound_queue WHERE lease_owner LIKE '%' || $1`,
      [owner],
    );
    assert.deepEqual(orphaned, []);
    console.log(
      `worker stopped ${stoppedIn} ms after SIGTERM holding ${held} leases; ${deliveredBefore}/${count} delivered before`,
    );

    for (const spoolId of spoolIds) await bed.settled(spoolId, 'delivered', 60_000);
    assert.deepEqual(sink.duplicates(), [], 'messages delivered twice');
    assert.deepEqual(new Set(sink.received), new Set(ids), 'every message arrived');
    assert.equal(sink.received.length, count);
    assert.ok(
      sink.sessions.max <= 2 * destinationConcurrency,
      `${sink.sessions.max} sessions at once for 2 workers x ${destinationConcurrency}`,
    );
  }
});
