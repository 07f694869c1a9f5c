// Group commit of accepted messages against a real PostgreSQL: batches commit together, and one
// message that cannot be stored fails alone while the rest of its batch is kept.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { readBody } from '@hermod/mail-store';
import { AcceptBatcher, loadSpoolMessage } from '@hermod/spool';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(async () => {
  await db?.close();
});

const input = (spoolId: string) => ({
  spoolId,
  mailFrom: 'a@remote.example',
  recipients: [{ address: 'b@example.test' }],
  source: 'mx' as const,
  body: () =>
    (async function* () {
      yield Buffer.from(`Subject: ${spoolId}\r\n\r\nbody\r\n`);
    })(),
});

/** The batches afterCommit was given (what the services hand to routing as one job each). */
const handedOver = () => {
  const batches: string[][] = [];
  return {
    batches,
    afterCommit: (committed: Array<{ spoolId?: string }>) => batches.push(committed.map((c) => c.spoolId!)),
  };
};

test('concurrent accepts are committed in batches and every one is durable when its promise resolves', async () => {
  const handOver = handedOver();
  const batcher = new AcceptBatcher(db.pool, {
    maxBatch: 8,
    maxTransactions: 1,
    afterCommit: handOver.afterCommit,
  });
  const ids = Array.from({ length: 20 }, () => randomUUID());
  await Promise.all(ids.map((id) => batcher.accept(input(id))));
  // Every message handed over once, after its commit, one hand-over per committed batch.
  assert.deepEqual(handOver.batches.flat().sort(), [...ids].sort());
  assert.ok(handOver.batches.length < 20, `hand-overs: ${handOver.batches.length}`);
  const { rows } = await db.pool.query<{ id: string; xmin: string }>(
    'SELECT id, xmin::text AS xmin FROM spool_messages WHERE id = ANY($1::uuid[])',
    [ids],
  );
  assert.equal(rows.length, 20);
  // Fewer transactions than messages: group commit happened.
  assert.ok(
    new Set(rows.map((r) => r.xmin)).size < 20,
    `transactions: ${new Set(rows.map((r) => r.xmin)).size}`,
  );
});

test('a message that cannot be stored fails alone; the rest of its batch is committed', async () => {
  const handOver = handedOver();
  const batcher = new AcceptBatcher(db.pool, {
    maxBatch: 8,
    maxTransactions: 1,
    afterCommit: handOver.afterCommit,
  });
  const existing = randomUUID();
  await batcher.accept(input(existing));
  const good = Array.from({ length: 5 }, () => randomUUID());
  const results = await Promise.allSettled([
    batcher.accept(input(randomUUID())),
    ...good.map((id) => batcher.accept(input(id))),
    batcher.accept(input(existing)), // duplicate key
  ]);
  assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
  assert.equal(results.at(-1)?.status, 'rejected');
  // Only what was committed is handed over: the first store and the retried survivors, not the duplicate.
  const handed = handOver.batches.flat();
  assert.equal(handed.filter((id) => id === existing).length, 1, 'the duplicate is not handed over again');
  for (const id of good) assert.equal(handed.filter((h) => h === id).length, 1, `${id} handed over once`);
  // Stored whole although the first attempt (the failed batch) had already read each body once.
  const { rows } = await db.pool.query<{ size: number }>(
    'SELECT b.size FROM spool_messages s JOIN message_bodies b ON b.id = s.body_id WHERE s.id = ANY($1::uuid[])',
    [good],
  );
  assert.equal(rows.length, 5);
  for (const r of rows) assert.equal(r.size, 'Subject: '.length + 36 + '\r\n\r\nbody\r\n'.length);
});

test('small and large messages in one batch are stored exactly as acceptMessage stores them', async () => {
  const batcher = new AcceptBatcher(db.pool, { maxBatch: 8, maxTransactions: 1 });
  const large = Buffer.alloc(300 * 1024, 'x');
  const small = Buffer.from('Subject: small\r\n\r\nbody\r\n');
  // Small bodies of different sizes and bytes around an empty one: they travel in one parameter,
  // cut apart by offset, so each must come back exactly.
  const binary = Buffer.from([0, 255, 13, 10, 0x5c, 0x78, 0x27, 0x22, 128, 1]);
  const third = Buffer.from(`Subject: third\r\n\r\n${'z'.repeat(5000)}\r\n`);
  const bodies = [small, large, Buffer.alloc(0), binary, third, small];
  const ids = bodies.map(() => randomUUID());
  await Promise.all(
    ids.map((id, i) =>
      batcher.accept({
        ...input(id),
        recipients: [
          { address: 'one@example.test' },
          { address: 'two@example.test', parameters: { NOTIFY: 'NEVER' } },
        ],
        envelope: { placement: 'junk' },
        body: () => [bodies[i]!],
      }),
    ),
  );
  for (const [i, id] of ids.entries()) {
    const message = await loadSpoolMessage(db.pool, id);
    assert.ok(message);
    assert.equal(message.size, bodies[i]!.length);
    assert.deepEqual(message.envelope, { placement: 'junk' });
    assert.deepEqual(
      message.recipients.map((r) => [r.rcptIndex, r.address, r.parameters]),
      [
        [0, 'one@example.test', {}],
        [1, 'two@example.test', { NOTIFY: 'NEVER' }],
      ],
    );
    const parts: Buffer[] = [];
    for await (const chunk of readBody(db.pool, message.bodyId)) parts.push(chunk);
    assert.ok(Buffer.concat(parts).equals(bodies[i]!));
    const { rows } = await db.pool.query<{ sha256: Buffer }>(
      'SELECT sha256 FROM message_bodies WHERE id = $1',
      [message.bodyId],
    );
    assert.ok(rows[0]?.sha256.equals(createHash('sha256').update(bodies[i]!).digest()));
  }
});
