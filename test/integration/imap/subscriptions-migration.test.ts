// Migration 033 turns the old per-mailbox `subscribed` column into the subscription list: every
// mailbox that was subscribed is on the list afterwards, no other, and the column is gone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { migrate } from '@hermod/db';
import { type TestDatabase, testDatabase } from '../../harness/index.js';

const MIGRATION = '033_mailbox_subscriptions.sql';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(async () => {
  await db?.close();
});

test('migration 033 copies subscribed mailboxes to the subscription list and drops the column', async () => {
  const account = await new AccountStore(db.pool).create({
    address: 'old@example.com',
    password: 'pw pw pw pw',
  });
  // Back to the schema before 033: the column, all subscribed by default, one unsubscribed.
  await db.pool.query(`DROP TABLE mailbox_subscriptions;
    ALTER TABLE mailboxes ADD COLUMN subscribed boolean NOT NULL DEFAULT true;
    DELETE FROM schema_migrations WHERE name = '${MIGRATION}'`);
  await db.pool.query(`UPDATE mailboxes SET subscribed = false WHERE account_id = $1 AND name = 'Junk'`, [
    account.id,
  ]);
  assert.deepEqual(await migrate(db.pool), [MIGRATION]);
  const { rows } = await db.pool.query<{ name: string }>(
    'SELECT name FROM mailbox_subscriptions WHERE account_id = $1 ORDER BY name',
    [account.id],
  );
  assert.deepEqual(
    rows.map((r) => r.name),
    ['Archive', 'Drafts', 'INBOX', 'Sent', 'Trash'],
  );
  const column = await db.pool.query(
    `SELECT 1 FROM information_schema.columns WHERE table_name = 'mailboxes' AND column_name = 'subscribed'`,
  );
  assert.equal(column.rowCount, 0);
});
