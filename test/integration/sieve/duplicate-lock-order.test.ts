// A delivery batch records the `duplicate` ids (RFC 7352) its messages carried in one upsert, which
// locks each id's row. Two batches at once (mda replicas, or MDA_CONCURRENCY above 1) that lock the
// same rows in different orders deadlock, and PostgreSQL then aborts one of them. The rows must be
// locked in one order, by account and id: here a record of many ids is stopped at the last one
// (another session holds its row) and every earlier one must already be locked by then.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { recordDuplicatesOf } from '@hermod/sieve-store';
import { rowsNotLocked, type TestDatabase, testDatabase, untilWaitingOnLock } from '@hermod/test/harness';

let db: TestDatabase;
let accountId: number;

before(async () => {
  db = await testDatabase();
  const accounts = new AccountStore(db.pool);
  accountId = (await accounts.create({ address: 'dee@example.test', password: 'dee-password-1' })).id;
});

after(async () => {
  await db?.close();
});

test('recording duplicate ids locks their rows in account and id order', async () => {
  const ids = Array.from({ length: 12 }, (_, i) => `<id-${String(i).padStart(2, '0')}@example.test>`);
  // Rows that exist already: the upsert then locks each on conflict.
  await recordDuplicatesOf(
    db.pool,
    ids.map((id) => ({ accountId, id, seconds: 3600 })),
  );
  const last = ids.at(-1)!;
  const holder = await db.pool.connect();
  const writer = await db.pool.connect();
  const prober = await db.pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(
      `SELECT 1 FROM sieve_tracking WHERE account_id = $1 AND kind = 'duplicate' AND key = $2 FOR UPDATE`,
      [accountId, last],
    );
    const writerPid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await writer.query('BEGIN');
    // The batch's ids in an order that is not theirs (the statement must sort them itself).
    const recorded = recordDuplicatesOf(
      writer,
      [...ids].reverse().map((id) => ({ accountId, id, seconds: 7200 })),
    );
    recorded.catch(() => {});
    await untilWaitingOnLock(prober, writerPid, 'the record waiting for the last id');
    const notLocked = await rowsNotLocked(
      prober,
      `SELECT 1 FROM sieve_tracking WHERE account_id = $1 AND kind = 'duplicate' AND key = $2
       FOR UPDATE NOWAIT`,
      ids.slice(0, -1),
      [accountId],
    );
    assert.deepEqual(notLocked, [], 'ids before the last one not yet locked when it was reached');
    await holder.query('ROLLBACK');
    await recorded;
    await writer.query('COMMIT');
    const { rows } = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM sieve_tracking
       WHERE account_id = $1 AND kind = 'duplicate' AND expires_at > now() + interval '1 hour'`,
      [accountId],
    );
    assert.equal(Number(rows[0]!.n), ids.length);
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await writer.query('ROLLBACK').catch(() => {});
    holder.release();
    writer.release();
    prober.release();
  }
});
