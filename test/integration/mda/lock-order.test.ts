// mda's deliveries write reserves the UIDs of every mailbox a batch files into, locking each
// mailbox's row. Two batches at once (mda replicas, or MDA_CONCURRENCY above 1) that lock the same
// mailboxes in different orders deadlock, and PostgreSQL then aborts one of them. The rows must be
// locked in one order, by mailbox id: here a batch into many mailboxes is stopped at the highest one
// (another session holds its row) and every lower mailbox must already be locked by then.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { writeDeliveries } from '@hermod/mda';
import { acceptMessage } from '@hermod/spool';
import { rowsNotLocked, type TestDatabase, testDatabase, untilWaitingOnLock } from '@hermod/test/harness';

let db: TestDatabase;
const accountIds: number[] = [];

before(async () => {
  db = await testDatabase();
  const accounts = new AccountStore(db.pool);
  for (const user of ['ann', 'ben', 'cat', 'dan'])
    accountIds.push(
      (await accounts.create({ address: `${user}@example.test`, password: `${user}-password` })).id,
    );
});

after(async () => {
  await db?.close();
});

test('a batch locks the mailboxes it files into in mailbox id order', async () => {
  const { rows: boxes } = await db.pool.query<{ id: string; account_id: string }>(
    'SELECT id, account_id FROM mailboxes WHERE account_id = ANY($1::bigint[]) ORDER BY id',
    [accountIds],
  );
  assert.ok(boxes.length >= 12, `only ${boxes.length} mailboxes`);
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'sender@remote.example',
    recipients: boxes.map((_, i) => ({ address: `ann+${i}@example.test` })),
    source: 'mx',
    body: [Buffer.from('Subject: lock order\r\n\r\nbody\r\n')],
  });
  await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE spool_id = $1`, [spoolId]);
  const { rows: bodies } = await db.pool.query<{ body_id: string }>(
    'SELECT body_id FROM spool_messages WHERE id = $1',
    [spoolId],
  );
  // The batch's rows in an order that is not the mailboxes' (the statement must sort them itself).
  const rows = boxes
    .map((box, rcptIndex) => ({
      mailboxId: Number(box.id),
      bodyId: Number(bodies[0]!.body_id),
      size: 10,
      internalDate: new Date(),
      key: `${spoolId}/${rcptIndex}`,
      accountId: Number(box.account_id),
      spoolId,
      rcptIndex,
    }))
    .reverse();
  const highest = Number(boxes.at(-1)!.id);

  const holder = await db.pool.connect();
  const writer = await db.pool.connect();
  const prober = await db.pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE', [highest]);
    const writerPid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const written = writeDeliveries(writer, rows, [], [spoolId]);
    written.catch(() => {});
    await untilWaitingOnLock(prober, writerPid, 'the batch waiting for the highest mailbox');
    const notLocked = await rowsNotLocked(
      prober,
      'SELECT 1 FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE NOWAIT',
      boxes.slice(0, -1).map((box) => Number(box.id)),
    );
    assert.deepEqual(notLocked, [], 'mailboxes below the highest one not yet locked when it was reached');
    await holder.query('ROLLBACK');
    const appended = await written;
    assert.equal(appended.length, boxes.length);
    assert.ok(appended.every((a) => a.count === 1));
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    holder.release();
    writer.release();
    prober.release();
  }
});
