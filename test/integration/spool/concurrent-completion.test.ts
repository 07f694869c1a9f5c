// The spool's completion rule (spool_mark_recipients) under concurrency: two transactions that each
// finish the last open recipient of one message (two destinations of one message, or a local and a
// remote recipient, finishing at the same moment) must leave the message completed. Each statement
// alone sees the other's recipient still open; the rule has to serialise them on the message.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { acceptMessage, loadSpoolMessage, markRecipientsAndComplete, markRouted } from '@hermod/spool';
import { eventually, type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;

before(async () => {
  db = await testDatabase();
});

after(async () => {
  await db?.close();
});

test('two transactions finishing the last two recipients of one message complete it', async () => {
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'sender@example.test',
    recipients: [{ address: 'a@one.test' }, { address: 'b@two.test' }],
    source: 'msa',
    body: [Buffer.from('Subject: two destinations\r\n\r\nhello\r\n')],
  });
  await markRouted(
    db.pool,
    [0, 1].map((rcptIndex) => ({ spoolId, rcptIndex, state: 'outbound' as const })),
    [spoolId],
  );
  const first = await db.pool.connect();
  const second = await db.pool.connect();
  try {
    const secondPid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await first.query('BEGIN');
    await second.query('BEGIN');
    await markRecipientsAndComplete(first, [{ spoolId, rcptIndex: 0, state: 'delivered' }], [spoolId]);
    let secondReturned = false;
    const secondDone = markRecipientsAndComplete(
      second,
      [{ spoolId, rcptIndex: 1, state: 'delivered' }],
      [spoolId],
    ).finally(() => {
      secondReturned = true;
    });
    // The second statement either returned already (it did not wait for the first) or waits on a lock.
    await eventually('the second statement to return or wait for the first', async () => {
      if (secondReturned) return true;
      const { rows } = await db.pool.query<{ waiting: boolean }>(
        "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1",
        [secondPid],
      );
      return rows[0]?.waiting ? true : undefined;
    });
    await first.query('COMMIT');
    await secondDone;
    await second.query('COMMIT');
  } finally {
    first.release();
    second.release();
  }
  const message = await loadSpoolMessage(db.pool, spoolId);
  assert.deepEqual(
    message?.recipients.map((r) => r.state),
    ['delivered', 'delivered'],
  );
  assert.ok(message?.completedAt, 'no recipient is open, so the message is completed');
});
