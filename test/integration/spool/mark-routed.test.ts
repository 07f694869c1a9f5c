// markRouted against PostgreSQL: routing's decisions in one statement, which also completes a
// message exactly when no recipient is left open, counting the recipients the same statement moves
// to a final state (a statement does not see its own changes).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { acceptMessage, loadSpoolMessage, markRouted } from '@hermod/spool';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;

before(async () => {
  db = await testDatabase();
});

after(async () => {
  await db?.close();
});

const accepted = async (recipients: string[]) =>
  (
    await acceptMessage(db.pool, {
      mailFrom: 'sender@example.test',
      recipients: recipients.map((address) => ({ address })),
      source: 'msa',
      body: [Buffer.from('Subject: routed\r\n\r\nhello\r\n')],
    })
  ).spoolId;

test('every recipient failed: routed and completed in the same statement', async () => {
  const spoolId = await accepted(['a@nowhere.test', 'b@nowhere.test']);
  await markRouted(
    db.pool,
    [0, 1].map((rcptIndex) => ({
      spoolId,
      rcptIndex,
      state: 'failed' as const,
      error: '550 5.1.1 no such user',
    })),
    [spoolId],
  );
  const message = await loadSpoolMessage(db.pool, spoolId);
  assert.ok(message?.routedAt, 'routed');
  assert.ok(message?.completedAt, 'completed');
  assert.deepEqual(
    message.recipients.map((r) => r.state),
    ['failed', 'failed'],
  );
});

test('one recipient still on its way: routed, not completed', async () => {
  const spoolId = await accepted(['a@nowhere.test', 'b@local.test']);
  const other = await accepted(['c@nowhere.test']);
  await markRouted(
    db.pool,
    [
      { spoolId, rcptIndex: 0, state: 'failed', error: '550 5.1.1 no such user' },
      { spoolId, rcptIndex: 1, state: 'local', destination: { kind: 'local', accountId: 1 } },
      { spoolId: other, rcptIndex: 0, state: 'failed', error: '550 5.1.1 no such user' },
    ],
    [spoolId, other],
  );
  const open = await loadSpoolMessage(db.pool, spoolId);
  assert.ok(open?.routedAt);
  assert.equal(open.completedAt, null);
  assert.deepEqual(open.recipients[1]?.destination, { kind: 'local', accountId: 1 });
  assert.ok(
    (await loadSpoolMessage(db.pool, other))?.completedAt,
    'the other message of the batch completed',
  );
});

test('final states never change, and an unrouted message of the list is only marked routed', async () => {
  const spoolId = await accepted(['a@nowhere.test']);
  await markRouted(db.pool, [{ spoolId, rcptIndex: 0, state: 'failed', error: 'first' }], [spoolId]);
  await markRouted(db.pool, [{ spoolId, rcptIndex: 0, state: 'local' }], [spoolId]);
  const message = await loadSpoolMessage(db.pool, spoolId);
  assert.equal(message?.recipients[0]?.state, 'failed');
  const untouched = await accepted(['d@local.test']);
  await markRouted(db.pool, [], [untouched]);
  const routedOnly = await loadSpoolMessage(db.pool, untouched);
  assert.ok(routedOnly?.routedAt);
  assert.equal(routedOnly.completedAt, null);
  assert.equal(routedOnly.recipients[0]?.state, 'pending');
});
