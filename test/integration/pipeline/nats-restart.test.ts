// What a nats-server restart does to the pipeline's work-queue streams: under load (jobs published
// and acknowledged), nats-server is stopped (SIGTERM) or killed (SIGKILL) and started again on the
// same store. The stream state must add up afterwards: every job published and not acknowledged is
// still there, in order, and the consumer still owns it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureNatsServer, freePort, NatsServerProcess } from '@hermod/local-infra';
import { consumers, setupPipeline, streams, subjects } from '@hermod/pipeline';
import { testWorkdir } from '@hermod/test/harness';
import { connect, type JetStreamClient, type NatsConnection } from 'nats';

let nats: NatsServerProcess;

before(async () => {
  nats = new NatsServerProcess({
    binary: process.env.NATS_SERVER_BIN ?? (await ensureNatsServer()),
    port: await freePort(),
    storeDir: join(await testWorkdir('nats-restart'), 'jetstream'),
  });
  await nats.start();
});
after(async () => {
  await nats?.kill();
});

/** Publishes count jobs and acknowledges the first `acked` of them through the routing consumer. */
async function load(js: JetStreamClient, nc: NatsConnection, count: number, acked: number): Promise<void> {
  for (let i = 0; i < count; i += 100)
    await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, (_, j) =>
        // 1 KiB jobs: the stream spans several 4 MiB blocks, and acknowledging empties (removes) some.
        js.publish(subjects.routing, JSON.stringify({ job: i + j, pad: 'x'.repeat(1_000) })),
      ),
    );
  const consumer = await js.consumers.get(streams.routing.name, consumers.routing.durable);
  let done = 0;
  while (done < acked) {
    const batch = await consumer.fetch({ max_messages: Math.min(500, acked - done), expires: 2_000 });
    for await (const m of batch) {
      await m.ackAck();
      done++;
    }
  }
  await nc.flush();
}

for (const how of ['SIGTERM', 'SIGKILL'] as const) {
  test(`after a ${how} restart under load the work-queue stream keeps exactly the unacknowledged jobs`, async () => {
    let nc = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await setupPipeline(jsm);
    // The stream is empty here: the previous test (if any) took every job. No purge, which would
    // also delete the stream index the last clean stop wrote.
    assert.equal((await jsm.streams.info(streams.routing.name)).state.messages, 0);
    await load(nc.jetstream(), nc, 20_000, 15_000);
    const before = await jsm.streams.info(streams.routing.name);
    assert.equal(before.state.messages, 5_000);
    await nc.close();

    if (how === 'SIGTERM') await nats.stop();
    else await nats.kill();
    await nats.start();

    nc = await connect({ servers: nats.url });
    const info = await (await nc.jetstreamManager()).streams.info(streams.routing.name);
    assert.equal(info.state.messages, 5_000, `messages after restart\n${nats.logs()}`);
    assert.equal(info.state.last_seq, before.state.last_seq);
    assert.equal(info.state.first_seq, before.state.first_seq);
    // Exactly the unacknowledged jobs come next, in order.
    const consumer = await nc.jetstream().consumers.get(streams.routing.name, consumers.routing.durable);
    assert.equal((await consumer.info()).num_pending, 5_000);
    const jobs: number[] = [];
    while (jobs.length < 5_000) {
      const batch = await consumer.fetch({ max_messages: 1_000, expires: 2_000 });
      for await (const m of batch) {
        jobs.push((m.json() as { job: number }).job);
        m.ack();
      }
    }
    assert.deepEqual(
      jobs,
      Array.from({ length: 5_000 }, (_, i) => 15_000 + i),
    );
    const warnings = nats
      .logs()
      .split('\n')
      .filter((l) => /\[WRN\].*(Stream state|prior state)/.test(l));
    // A clean stop writes the stream index (index.db); only after a kill does the server find it
    // stale and rebuild from the message blocks (docs/durability.md, "nats-server restarts").
    if (how === 'SIGTERM') assert.deepEqual(warnings, [], 'a clean restart rebuilt stream state');
    else console.log(`after SIGKILL:\n${warnings.join('\n')}`);
    await nc.close();
  });
}
