// Job bundles against a real nats-server: several jobs in one queue message (publishJobs) reach
// the handler one by one with their own trace, the message is acknowledged once all of them are
// finished, comes back whole while one of them wants a retry, and a bad entry does not sink the rest.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '@hermod/logging';
// The W3C propagator, as every service preloads it.
import '@hermod/telemetry/register';
import {
  consumeJobs,
  ensureConsumer,
  ensureStream,
  type JobConsumer,
  type JobOutcome,
  publishJob,
  publishJobs,
  type ReceivedJob,
} from '@hermod/nats';
import { eventually, startTestNats, type TestNats } from '@hermod/test/harness';
import { trace } from '@opentelemetry/api';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import { z } from 'zod';

const Job = z.object({ n: z.number().int() });
type Job = z.infer<typeof Job>;

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

/** A fresh work-queue stream and consumer; the handler's batches are recorded. */
async function queue(name: string, decide: (job: Job, seen: number) => JobOutcome, maxBatch = 64) {
  const jsm = await nc.jetstreamManager();
  await ensureStream(jsm, { name, subjects: [`${name}.jobs`], retention: 'workqueue' });
  await ensureConsumer(jsm, { stream: name, durable: 'worker', ackWaitMs: 30_000 });
  const batches: ReceivedJob<Job>[][] = [];
  const seen = new Map<number, number>();
  const consumer: JobConsumer = consumeJobs({
    js,
    stream: name,
    durable: 'worker',
    parse: (data) => Job.parse(data),
    handleBatch: async (jobs) => {
      batches.push(jobs);
      return jobs.map((j) => {
        const count = (seen.get(j.payload.n) ?? 0) + 1;
        seen.set(j.payload.n, count);
        return decide(j.payload, count);
      });
    },
    logger: silentLogger(),
    maxBatch,
  });
  const remaining = async () => (await jsm.streams.info(name)).state.messages;
  return { subject: `${name}.jobs`, batches, seen, consumer, remaining };
}

const until = async (check: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> => {
  await eventually(what, async () => ((await check()) ? true : undefined), ms);
};

const traceparent = (span: string) => `00-${'a'.repeat(32)}-${span}-01`;

test('a bundle reaches the handler as its jobs, each with its own trace, and is acknowledged once', async () => {
  const q = await queue('BUNDLE_ACK', () => ({ kind: 'ack' }));
  await publishJobs(js, q.subject, [
    { payload: { n: 1 }, trace: { traceparent: traceparent('1'.repeat(16)) } },
    { payload: { n: 2 }, trace: { traceparent: traceparent('2'.repeat(16)) } },
    { payload: { n: 3 }, trace: {} },
  ]);
  await publishJob(js, q.subject, { n: 4 });
  await until(() => q.seen.size === 4, 'four jobs');
  await until(async () => (await q.remaining()) === 0, 'both queue messages acknowledged');
  const jobs = q.batches.flat();
  assert.deepEqual(
    jobs.map((j) => j.payload.n),
    [1, 2, 3, 4],
  );
  assert.equal(trace.getSpanContext(jobs[0]!.traceContext)?.spanId, '1'.repeat(16));
  assert.equal(trace.getSpanContext(jobs[1]!.traceContext)?.spanId, '2'.repeat(16));
  assert.equal(trace.getSpanContext(jobs[2]!.traceContext), undefined);
  assert.deepEqual([...q.seen.values()], [1, 1, 1, 1], 'nothing was redelivered');
  await q.consumer.stop();
});

test('one job of a bundle asking for a retry brings the whole bundle back, then it is acknowledged', async () => {
  // Job 2 fails the first time only; jobs 1 and 3 succeed every time (handlers are idempotent).
  const q = await queue('BUNDLE_RETRY', (job, seen) =>
    job.n === 2 && seen === 1 ? { kind: 'retry', delayMs: 100, reason: 'not yet' } : { kind: 'ack' },
  );
  await publishJobs(
    js,
    q.subject,
    [1, 2, 3].map((n) => ({ payload: { n }, trace: {} })),
  );
  await until(() => q.seen.get(2) === 2, 'the retried bundle');
  await until(async () => (await q.remaining()) === 0, 'the bundle acknowledged after the retry');
  assert.deepEqual(Object.fromEntries(q.seen), { 1: 2, 2: 2, 3: 2 });
  const redelivered = q.batches.flat().filter((j) => j.deliveryCount > 1);
  assert.deepEqual(
    redelivered.map((j) => j.payload.n),
    [1, 2, 3],
  );
  await q.consumer.stop();
});

test('a bad entry is skipped and the rest of its bundle still runs', async () => {
  const q = await queue('BUNDLE_BAD', () => ({ kind: 'ack' }));
  await publishJobs(js, q.subject, [
    { payload: { n: 1 }, trace: {} },
    { payload: { n: 'two' }, trace: {} },
    { payload: { n: 3 }, trace: {} },
  ]);
  await until(() => q.seen.size === 2, 'the two good jobs');
  await until(async () => (await q.remaining()) === 0, 'the bundle settled');
  assert.deepEqual(
    q.batches.flat().map((j) => j.payload.n),
    [1, 3],
  );
  await q.consumer.stop();
});

test('a queue message that is not a list of jobs is terminated without reaching the handler', async () => {
  const q = await queue('BUNDLE_MALFORMED', () => ({ kind: 'ack' }));
  const { headers } = await import('nats');
  const h = headers();
  h.set('Hermod-Jobs', '1');
  await js.publish(q.subject, Buffer.from('{"payload":{"n":1}}'), { headers: h });
  await publishJob(js, q.subject, { n: 9 });
  await until(() => q.seen.get(9) === 1, 'the job after it');
  await until(async () => (await q.remaining()) === 0, 'the malformed message terminated');
  assert.deepEqual(
    q.batches.flat().map((j) => j.payload.n),
    [9],
  );
  await q.consumer.stop();
});

test('batches are cut by jobs, not by queue messages', async () => {
  const q = await queue('BUNDLE_SIZE', () => ({ kind: 'ack' }), 4);
  // Published before the consumer pulls: every bundle is waiting when the batches form.
  await q.consumer.stop();
  for (let b = 0; b < 5; b++)
    await publishJobs(
      js,
      q.subject,
      [0, 1, 2].map((i) => ({ payload: { n: b * 3 + i }, trace: {} })),
    );
  const resumed = await queue('BUNDLE_SIZE', () => ({ kind: 'ack' }), 4);
  await until(() => resumed.seen.size === 15, 'fifteen jobs');
  // A bundle is never split, and a batch takes another bundle only while it stays within 4 jobs.
  for (const batch of resumed.batches) assert.equal(batch.length, 3, `batch of ${batch.length}`);
  await resumed.consumer.stop();
});
