// markRouted against PostgreSQL: routing's decisions in one statement, which also completes a
// message exactly when no recipient is left open, counting the recipients the same statement moves
// to a final state (a statement does not see its own changes).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { acceptMessage, loadSpoolMessage, markRecipientsAndComplete, markRouted } from '@hermod/spool';
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

test('recipient state changes and the routed mark are HOT updates (no index insertions)', async () => {
  const ids = await Promise.all(Array.from({ length: 20 }, () => accepted(['x@local.test', 'y@local.test'])));
  const updates = async (table: string) => {
    await db.pool.query('SELECT pg_stat_force_next_flush()');
    const { rows } = await db.pool.query<{ upd: string; hot: string }>(
      'SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = $1',
      [table],
    );
    return { all: Number(rows[0]!.upd), hot: Number(rows[0]!.hot) };
  };
  const recipientsBefore = await updates('spool_recipients');
  const messagesBefore = await updates('spool_messages');
  // pending -> local (routing), then local -> delivered (mda), as a local delivery goes.
  const each = (state: 'local' | 'delivered') =>
    ids.flatMap((spoolId) => [0, 1].map((rcptIndex) => ({ spoolId, rcptIndex, state })));
  await markRouted(db.pool, each('local'), ids);
  await markRecipientsAndComplete(db.pool, each('delivered'), ids);
  const recipients = await updates('spool_recipients');
  const messages = await updates('spool_messages');
  assert.equal(recipients.all - recipientsBefore.all, 80);
  assert.equal(recipients.hot - recipientsBefore.hot, 80, 'every recipient update stayed on its page');
  // routed_at is HOT; completed_at changes the open-messages index's predicate, so it cannot be.
  assert.equal(messages.all - messagesBefore.all, 40);
  assert.ok(messages.hot - messagesBefore.hot >= 20, `${messages.hot - messagesBefore.hot} HOT of 40`);
});
