// The hand-over after an accept commit, against a real nats-server: messages routed at accept go to
// mda's stream as delivery jobs, the others to routing's; batches committed while a publish is in
// flight leave together as the next bundle (fewer queue messages than batches), and every message
// is handed over exactly once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { JOB_BUNDLE_HEADER } from '@hermod/nats';
import {
  BusUnavailableError,
  handOverAccepted,
  type LocalDestination,
  setupPipeline,
  streams,
} from '@hermod/pipeline';
import { eventually, startTestNats, type TestNats } from '@hermod/test/harness';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';

let nats: TestNats;
let nc: NatsConnection;
let jsm: JetStreamManager;

before(async () => {
  nats = await startTestNats();
  nc = await connect({ servers: nats.url });
  jsm = await nc.jetstreamManager();
  await setupPipeline(jsm);
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});

/** Every queue message of a stream: the jobs it carries. */
async function queued(stream: string): Promise<unknown[][]> {
  const info = await jsm.streams.info(stream);
  const out: unknown[][] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    const body = JSON.parse(new TextDecoder().decode(m.data)) as unknown;
    out.push(
      m.header?.get(JOB_BUNDLE_HEADER) ? (body as Array<{ payload: unknown }>).map((e) => e.payload) : [body],
    );
  }
  return out;
}

async function settle(stream: string, count: number): Promise<unknown[][]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const messages = await queued(stream);
    if (messages.flat().length >= count || Date.now() > deadline) return messages;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const local = (accountId: number): LocalDestination => ({
  kind: 'local',
  accountId,
  mailbox: 'INBOX',
  rule: 'account',
});

test('routed messages go to mda, the rest to routing; batches committed meanwhile share a bundle', async () => {
  const failures: string[][] = [];
  const handOver = handOverAccepted(nc.jetstream(), (_error, ids) => failures.push(ids));
  const routed: string[] = [];
  const unrouted: string[] = [];
  // 20 commits in a row, each of one routed and one unrouted message (one of whose recipients has
  // no local destination): the first publish per stream leaves at once, the rest wait for it.
  for (let i = 0; i < 20; i++) {
    const r = randomUUID();
    const u = randomUUID();
    routed.push(r);
    unrouted.push(u);
    handOver([
      { spoolId: r, recipients: [{ local: local(1) }, { local: local(2) }] },
      { spoolId: u, recipients: [{ local: local(1) }, {}] },
      { recipients: [{ local: local(1) }] }, // no spool id yet: left to the sweeper
    ]);
  }
  const toMda = await settle(streams.localDelivery.name, 20);
  const toRouting = await settle(streams.routing.name, 20);
  assert.deepEqual(failures, []);
  assert.deepEqual(
    toMda.flat(),
    routed.map((spoolId) => ({
      spoolId,
      recipients: [
        { rcptIndex: 0, accountId: 1, mailbox: 'INBOX' },
        { rcptIndex: 1, accountId: 2, mailbox: 'INBOX' },
      ],
    })),
  );
  assert.deepEqual(
    toRouting.flat(),
    unrouted.map((spoolId) => ({ spoolId })),
  );
  assert.ok(
    toMda.length < 20 && toRouting.length < 20,
    `queue messages: ${toMda.length}, ${toRouting.length}`,
  );
});

test('without a server the hand-over reports the jobs at once (set aside) and publishes new ones once it has one', async () => {
  let up = false;
  const failures: Array<{ error: unknown; ids: string[] }> = [];
  const handOver = handOverAccepted(nc.jetstream(), (error, ids) => failures.push({ error, ids }), {
    connected: () => up,
  });
  const before = (await queued(streams.routing.name)).flat().length;
  const lost = randomUUID();
  handOver([{ spoolId: lost, recipients: [{}] }]);
  await eventually('the job to be reported', async () => (failures.length > 0 ? true : undefined));
  assert.deepEqual(failures[0]?.ids, [lost]);
  assert.ok(failures[0]?.error instanceof BusUnavailableError);
  up = true;
  const next = randomUUID();
  handOver([{ spoolId: next, recipients: [{}] }]);
  const after = await settle(streams.routing.name, before + 1);
  assert.deepEqual(after.flat().slice(before), [{ spoolId: next }]);
  assert.equal(failures.length, 1);
});

test('jobs set aside while there is no server are published as soon as the connection is back, each once', async () => {
  let up = false;
  const listeners: Array<() => void> = [];
  const failures: string[][] = [];
  const handOver = handOverAccepted(nc.jetstream(), (_error, ids) => failures.push(ids), {
    connected: () => up,
    reconnected: (listener) => listeners.push(listener),
  });
  const before = (await queued(streams.routing.name)).flat().length;
  const lost = [randomUUID(), randomUUID()];
  handOver(lost.map((spoolId) => ({ spoolId, recipients: [{}] })));
  handOver([{ spoolId: lost[0]!, recipients: [{}] }]);
  await eventually('the jobs to be reported', async () => (failures.flat().length >= 3 ? true : undefined));
  up = true;
  for (const listener of listeners) listener();
  await settle(streams.routing.name, before + 2);
  // A job handed over after them comes next: nothing of the set-aside ones is published twice.
  const marker = randomUUID();
  handOver([{ spoolId: marker, recipients: [{}] }]);
  const after = await settle(streams.routing.name, before + 3);
  const published = after
    .flat()
    .slice(before)
    .map((j) => (j as { spoolId: string }).spoolId);
  assert.equal(published.at(-1), marker);
  assert.deepEqual(published.slice(0, -1).sort(), [...lost].sort());
});
