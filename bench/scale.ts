// Scale-out of delivery workers: outbound-mta throughput with 1, 2, 4 and 8 worker processes sharing
// one queue, against a remote that takes 200 ms per transaction (so the remote, not our CPU, is
// what one worker waits on, as with real MXes). Each round seeds N messages for one destination,
// held; releases them at once and wakes the workers; times until the queue is empty. Checks at the
// sink (by Message-ID) that no message was sent twice or lost, and that the sessions open at once
// never exceed workers x OUTBOUND_DESTINATION_CONCURRENCY (the per-destination limit is per worker).
// Usage: npm run bench -- scale [--messages N] [--workers 1,2,4,8] [--delay-ms 200]
//        [--destination-concurrency C]
import { parseArgs } from 'node:util';
import { freePort, NodeServiceProcess } from '@hermod/local-infra';
import { releaseHeldOutbound, seedHeldOutbound, startHermod, startSlowSink } from '@hermod/test/harness';
import { waitUntil } from './lib/smtp-source.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '240' },
    workers: { type: 'string', default: '1,2,4,8' },
    'delay-ms': { type: 'string', default: '200' },
    'destination-concurrency': { type: 'string', default: '2' },
  },
});
const messages = Number(values.messages);
const workerCounts = values.workers.split(',').map(Number);
const delayMs = Number(values['delay-ms']);
const destinationConcurrency = Number(values['destination-concurrency']);
const domain = 'slow.bench.test';

const sink = await startSlowSink({ delayMs });
const hermod = await startHermod({
  services: ['outbound-mta'],
  env: {
    'outbound-mta': {
      OUTBOUND_DESTINATION_CONCURRENCY: String(destinationConcurrency),
      OUTBOUND_POLL_INTERVAL: '250ms',
      DATABASE_POOL_SIZE: '5',
      LOG_LEVEL: 'warn',
    },
  },
});
const pool = hermod.db.pool;
const firstWorker = hermod.services.get('outbound-mta')!;
const extraWorkers: NodeServiceProcess[] = [];

let seeded = 0;
/** N messages to the slow destination, queued held (no worker touches them yet); their Message-IDs. */
async function seed(count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `<${seeded + i}.scale@bench.test>`);
  seeded += count;
  await seedHeldOutbound(
    pool,
    ids.map((id) => ({
      from: 'load@bench.test',
      to: `user@${domain}`,
      body: Buffer.from(
        `From: <load@bench.test>\r\nMessage-ID: ${id}\r\nSubject: scale\r\n\r\nscale bench\r\n`,
      ),
    })),
    { host: '127.0.0.1', port: sink.port },
  );
  return ids;
}

/** Starts or stops extra workers until `n` worker processes run. */
async function workers(n: number): Promise<void> {
  while (extraWorkers.length < n - 1) {
    const w = new NodeServiceProcess({ ...firstWorker.options, opsPort: await freePort() });
    await w.start(120_000);
    extraWorkers.push(w);
  }
  while (extraWorkers.length > n - 1) await extraWorkers.pop()!.stop();
}

interface Result {
  workers: number;
  rate: number;
  maxSessions: number;
  duplicates: number;
  missing: number;
}
const results: Result[] = [];
try {
  for (const n of workerCounts) {
    await workers(n);
    const ids = await seed(messages);
    sink.reset();
    const started = process.hrtime.bigint();
    await releaseHeldOutbound(pool, hermod.nc);
    const seconds = await waitUntil(
      async () => {
        const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbound_queue');
        return messages - Number(rows[0]!.n);
      },
      messages,
      started,
    );
    // The last 250 is recorded at the sink before the worker records it; both are in by now.
    const received = new Set(sink.received);
    const result: Result = {
      workers: n,
      rate: messages / seconds,
      maxSessions: sink.sessions.max,
      duplicates: sink.duplicates().length,
      missing: ids.filter((id) => !received.has(id)).length,
    };
    results.push(result);
    console.log(
      `${n} worker(s): ${result.rate.toFixed(1)} msg/s, ${result.maxSessions} sessions at most, ` +
        `${result.duplicates} sent twice, ${result.missing} missing`,
    );
  }
} finally {
  for (const w of extraWorkers) await w.stop();
  await hermod.stop();
  await sink.stop();
}

const base = results[0]?.rate ?? Number.NaN;
console.log(
  `\nscale bench: ${messages} messages per round, one destination, remote ${delayMs} ms per transaction, ` +
    `OUTBOUND_DESTINATION_CONCURRENCY ${destinationConcurrency} per worker`,
);
console.log('workers  delivered msg/s  ratio to 1  sessions max (limit)  sent twice  missing');
let failed = false;
for (const r of results) {
  const limit = r.workers * destinationConcurrency;
  console.log(
    `${String(r.workers).padStart(7)}  ${r.rate.toFixed(1).padStart(15)}  ${(r.rate / base).toFixed(2).padStart(10)}` +
      `  ${`${r.maxSessions} (${limit})`.padStart(20)}  ${String(r.duplicates).padStart(10)}  ${String(r.missing).padStart(7)}`,
  );
  if (r.duplicates > 0 || r.missing > 0 || r.maxSessions > limit) failed = true;
}
if (failed) console.log('\nFAILED: a message sent twice or lost, or the per-destination limit exceeded');
process.exit(failed ? 1 : 0);
