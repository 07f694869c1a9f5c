// Scale-out of delivery workers: outbound-mta throughput with 1, 2, 4 and 8 worker processes sharing
// one queue, against a remote that takes 200 ms per transaction (so the remote, not our CPU, is
// what one worker waits on, as with real MXes). Each round seeds N messages for one destination,
// held; releases them at once and wakes the workers; times until the queue is empty. Checks at the
// sink (by Message-ID) that no message was sent twice or lost, and that the sessions open at once
// never exceed workers x OUTBOUND_DESTINATION_CONCURRENCY (the per-destination limit is per worker).
// With --curve mda (or both): mda replicas (default 1, 2, 4) on one local-delivery queue. Each round
// writes N routed messages to the spool (one per account, over many accounts, as accept does), then
// publishes their delivery jobs at once in bundles of 8 (an accept batch) and times until every copy
// is in its mailbox; checks that each was delivered exactly once, and prints the CPU each component
// spent per 1,000 messages (PostgreSQL is where it flattens on a small machine).
// Usage: npm run bench -- scale [--curve outbound|mda|both] [--messages N] [--workers 1,2,4,8]
//        [--delay-ms 200] [--destination-concurrency C] [--mda-messages N] [--mda-replicas 1,2,4]
import { parseArgs } from 'node:util';
import { AccountStore } from '@hermod/accounts';
import { freePort, NodeServiceProcess } from '@hermod/local-infra';
import { localDestination, publishSpoolJobs, subjects } from '@hermod/pipeline';
import { insertSmallMessages } from '@hermod/spool';
import {
  type HermodPlatform,
  releaseHeldOutbound,
  seedHeldOutbound,
  startHermod,
  startSlowSink,
} from '@hermod/test/harness';
import { serviceCommands } from './lib/bundled-service.js';
import { cpuByComponent, cpuPerThousand, formatCpu } from './lib/process-cpu.js';
import { waitUntil } from './lib/smtp-source.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '240' },
    workers: { type: 'string', default: '1,2,4,8' },
    'delay-ms': { type: 'string', default: '200' },
    'destination-concurrency': { type: 'string', default: '2' },
    curve: { type: 'string', default: 'outbound' },
    'mda-messages': { type: 'string', default: '3000' },
    'mda-replicas': { type: 'string', default: '1,2,4' },
    // Run the services from TypeScript through tsx instead of bundles (bench/lib/bundled-service.ts).
    'from-source': { type: 'boolean', default: false },
  },
});
if (!['outbound', 'mda', 'both'].includes(values.curve)) throw new Error('--curve is outbound, mda or both');
const messages = Number(values.messages);
const workerCounts = values.workers.split(',').map(Number);
const delayMs = Number(values['delay-ms']);
const destinationConcurrency = Number(values['destination-concurrency']);
const domain = 'slow.bench.test';

let failed = false;
if (values.curve !== 'mda') failed = (await outboundCurve()) || failed;
if (values.curve !== 'outbound') failed = (await mdaCurve()) || failed;
process.exit(failed ? 1 : 0);

/** The outbound-mta worker curve; true when a message was sent twice or lost, or a limit exceeded. */
async function outboundCurve(): Promise<boolean> {
  let failed = false;
  const sink = await startSlowSink({ delayMs });
  const hermod = await startHermod({
    services: ['outbound-mta'],
    commands: await serviceCommands(['outbound-mta']),
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
  for (const r of results) {
    const limit = r.workers * destinationConcurrency;
    console.log(
      `${String(r.workers).padStart(7)}  ${r.rate.toFixed(1).padStart(15)}  ${(r.rate / base).toFixed(2).padStart(10)}` +
        `  ${`${r.maxSessions} (${limit})`.padStart(20)}  ${String(r.duplicates).padStart(10)}  ${String(r.missing).padStart(7)}`,
    );
    if (r.duplicates > 0 || r.missing > 0 || r.maxSessions > limit) failed = true;
  }
  if (failed) console.log('\nFAILED: a message sent twice or lost, or the per-destination limit exceeded');
  return failed;
}

/**
 * The mda replica curve: delivered msg/s with 1, 2, 4 ... replicas consuming one local-delivery
 * queue; true when a copy was delivered twice or not at all.
 */
async function mdaCurve(): Promise<boolean> {
  const replicaCounts = values['mda-replicas'].split(',').map(Number);
  const count = Number(values['mda-messages']);
  const accounts = 200;
  const hermod: HermodPlatform = await startHermod({
    services: ['mda'],
    commands: await serviceCommands(['mda']),
    env: { mda: { LOG_LEVEL: 'warn' } },
  });
  const pool = hermod.db.pool;
  const js = hermod.nc.jetstream();
  await hermod.addDomain('bench.test');
  const store = new AccountStore(pool);
  const ids: number[] = [];
  for (let i = 0; i < accounts; i++)
    ids.push((await store.create({ address: `box${i}@bench.test`, password: 'bench-password' })).id);
  const first = hermod.services.get('mda')!;
  const extra: NodeServiceProcess[] = [];
  const body = Buffer.from(
    `From: <load@client.test>\r\nSubject: scale\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(50),
  );
  const delivered = async () =>
    Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM deliveries')).rows[0]!.n);
  const rows: Array<{ replicas: number; rate: number; twice: number; missing: number; cpu: string }> = [];
  try {
    for (const n of replicaCounts) {
      while (extra.length < n - 1) {
        const w = new NodeServiceProcess({ ...first.options, opsPort: await freePort() });
        await w.start(120_000);
        extra.push(w);
      }
      while (extra.length > n - 1) await extra.pop()!.stop();
      // Routed at accept, as mx and msa write them; the jobs are published only once all are in.
      const jobs: Array<{
        payload: { spoolId: string; recipients: object[] };
        trace: Record<string, string>;
      }> = [];
      for (let at = 0; at < count; at += 100) {
        const inputs = Array.from({ length: Math.min(100, count - at) }, (_, i) => {
          const accountId = ids[(at + i) % accounts]!;
          return {
            mailFrom: 'load@client.test',
            source: 'mx' as const,
            recipients: [
              {
                address: `box${(at + i) % accounts}@bench.test`,
                local: localDestination({ accountId, mailbox: 'INBOX', rule: 'account' }),
              },
            ],
            body,
          };
        });
        const spoolIds = await insertSmallMessages(pool, inputs);
        for (const [i, spoolId] of spoolIds.entries()) {
          const accountId = inputs[i]!.recipients[0]!.local.accountId;
          jobs.push({
            payload: { spoolId, recipients: [{ rcptIndex: 0, accountId, mailbox: 'INBOX' }] },
            trace: {},
          });
        }
      }
      const before = await delivered();
      const cpu = cpuByComponent();
      const started = process.hrtime.bigint();
      for (let at = 0; at < jobs.length; at += 8)
        await publishSpoolJobs(js, subjects.localDelivery, 'local', jobs.slice(at, at + 8));
      const seconds = await waitUntil(async () => (await delivered()) - before, count, started);
      // A copy stored twice is a second mailbox row for one delivery key (mda's idempotence).
      const { rows: check } = await pool.query<{ twice: string; missing: string }>(
        `SELECT (SELECT count(*) FROM mailbox_messages) - (SELECT count(*) FROM deliveries) AS twice,
                (SELECT count(*) FROM spool_recipients WHERE state <> 'delivered') AS missing`,
      );
      rows.push({
        replicas: n,
        rate: count / seconds,
        twice: Number(check[0]!.twice),
        missing: Number(check[0]!.missing),
        cpu: formatCpu(cpuPerThousand(cpu, cpuByComponent(), count, ['mda', 'postgres', 'nats-server'])),
      });
      console.log(`${n} mda replica(s): ${(count / seconds).toFixed(0)} msg/s`);
    }
  } finally {
    for (const w of extra) await w.stop();
    await hermod.stop();
  }
  const base = rows[0]?.rate ?? Number.NaN;
  console.log(`\nmda scale: ${count} messages per round over ${accounts} mailboxes, jobs in bundles of 8`);
  console.log('replicas  delivered msg/s  ratio to 1  twice  missing  CPU s per 1,000 messages');
  let failed = false;
  for (const r of rows) {
    console.log(
      `${String(r.replicas).padStart(8)}  ${r.rate.toFixed(0).padStart(15)}  ${(r.rate / base).toFixed(2).padStart(10)}` +
        `  ${String(r.twice).padStart(5)}  ${String(r.missing).padStart(7)}  ${r.cpu}`,
    );
    if (r.twice > 0 || r.missing > 0) failed = true;
  }
  if (failed) console.log('\nFAILED: a copy delivered twice or not at all');
  return failed;
}
