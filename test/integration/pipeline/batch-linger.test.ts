// consumeJobs' linger against a real nats-server: under load (the last batch held several jobs and
// more were waiting when it ended) a short batch waits to fill, and starts the moment it is full;
// a job that finds the consumer idle starts at once. The linger is a minute here, so a batch that
// waited for it instead of starting would fail the test's wait for the condition.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '@hermod/logging';
import { consumeJobs, ensureConsumer, ensureStream, publishJob } from '@hermod/nats';
import { eventually, startTestNats, type TestNats } from '@hermod/test/harness';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { z } from 'zod';

const Job = z.object({ n: z.number().int() });

let nats: TestNats;
let nc: NatsConnection;
let js: JetStreamClient;

before(async () => {
  nats = await startTestNats();
  nc = await connect({ servers: nats.url });
  js = nc.jetstream();
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});

test('under load a short batch waits to fill and starts once full; an idle consumer starts a job at once', async () => {
  const name = 'LINGER';
  const jsm = await nc.jetstreamManager();
  await ensureStream(jsm, { name, subjects: [`${name}.jobs`], retention: 'workqueue' });
  await ensureConsumer(jsm, { stream: name, durable: 'worker', ackWaitMs: 120_000 });
  const batches: number[][] = [];
  // Each batch is held until the test releases it, so jobs published meanwhile wait for the next.
  const releases: Array<() => void> = [];
  const consumer = consumeJobs({
    js,
    stream: name,
    durable: 'worker',
    parse: (data) => Job.parse(data),
    handleBatch: async (jobs) => {
      batches.push(jobs.map((j) => j.payload.n));
      await new Promise<void>((resolve) => releases.push(resolve));
      return jobs.map(() => ({ kind: 'ack' as const }));
    },
    logger: silentLogger(),
    maxBatch: 10,
    lingerMs: 60_000,
  });
  const publish = async (...ns: number[]) => {
    for (const n of ns) await publishJob(js, `${name}.jobs`, { n });
  };
  const batchCount = (count: number) =>
    eventually(`${count} batches`, async () => (batches.length >= count ? true : undefined), 20_000);
  const release = () => releases.shift()!();
  try {
    await publish(1);
    await batchCount(1);
    // Jobs 2 and 3 wait while batch 1 runs; batch 1 held one job, so they start at once after it.
    await publish(2, 3);
    await eventually('jobs 2 and 3 pulled', async () => (consumer.inFlight >= 3 ? true : undefined), 20_000);
    release();
    await batchCount(2);
    // Batch 2 held two jobs and 4, 5 were waiting when it ended: load, so they wait to fill...
    await publish(4, 5);
    await eventually('jobs 4 and 5 pulled', async () => (consumer.inFlight >= 3 ? true : undefined), 20_000);
    release();
    // ...and the batch starts the moment it holds MDA_BATCH_SIZE (here 10) jobs, long before the minute.
    await publish(6, 7, 8, 9, 10, 11, 12, 13);
    await batchCount(3);
    assert.deepEqual(batches, [[1], [2, 3], [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]]);
    // Batch 3 ends with nothing waiting: the consumer is idle, and a lone job starts at once.
    release();
    await eventually('batch 3 settled', async () => (consumer.inFlight === 0 ? true : undefined), 20_000);
    await publish(14);
    await batchCount(4);
    assert.deepEqual(batches[3], [14]);
    release();
  } finally {
    for (const r of releases.splice(0)) r();
    await consumer.stop();
  }
});
