// The per-mailbox usage counters (what quota checks read) against PostgreSQL: after every kind of
// change to an account's messages (append, batch append as mda does, copy, move, expunge, RENAME
// INBOX, mailbox deletion) they equal the sums over the messages themselves.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { withTransaction } from '@hermod/db';
import {
  accountUsage,
  appendManyToMailbox,
  appendToMailbox,
  copyMessages,
  createMailbox,
  deleteMailbox,
  expungeMessages,
  findMailbox,
  moveMessages,
  renameMailbox,
  writeBody,
} from '@hermod/mail-store';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let accountId = 0;

before(async () => {
  db = await testDatabase();
  accountId = (await new AccountStore(db.pool).create({ address: 'usage@quota.test', password: 'pw-usage' }))
    .id;
});

after(async () => {
  await db?.close();
});

const box = async (name: string) => (await findMailbox(db.pool, accountId, name))!.id;

/** Counters and the truth, mailbox by mailbox, for the whole account. */
async function assertCountersTrue(step: string): Promise<void> {
  const { rows } = await db.pool.query<{
    name: string;
    count: string;
    bytes: string;
    n: string;
    sum: string;
  }>(
    `SELECT b.name, b.message_count AS count, b.message_bytes AS bytes,
            count(m.uid) AS n, coalesce(sum(m.size), 0) AS sum
     FROM mailboxes b LEFT JOIN mailbox_messages m ON m.mailbox_id = b.id
     WHERE b.account_id = $1 GROUP BY b.id ORDER BY b.name`,
    [accountId],
  );
  for (const r of rows)
    assert.deepEqual([r.count, r.bytes], [r.n, r.sum], `${step}: counters of ${r.name} (count, bytes)`);
  const usage = await accountUsage(db.pool, accountId);
  const total = rows.reduce((t, r) => t + Number(r.sum), 0);
  assert.equal(Number(usage.bytes), total, `${step}: account bytes`);
}

async function stored(size: number): Promise<{ bodyId: number; size: number }> {
  return withTransaction(db.pool, async (client) => {
    const body = await writeBody(client, [Buffer.from(`Subject: usage\r\n\r\n${'u'.repeat(size)}\r\n`)]);
    return { bodyId: body.bodyId, size: body.size };
  });
}

const markDeleted = (mailboxId: number, uids: number[]) =>
  db.pool.query(
    `UPDATE mailbox_messages SET flags = array_append(flags, '\\Deleted') WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])`,
    [mailboxId, uids],
  );

test('usage counters stay equal to the messages through every kind of change', async () => {
  const inbox = await box('INBOX');
  const bodies = await Promise.all([100, 2_000, 30_000, 7].map(stored));
  const appended = await withTransaction(db.pool, (client) =>
    appendToMailbox(client, { mailboxId: inbox, ...bodies[0]!, internalDate: new Date() }),
  );
  await assertCountersTrue('append');
  const batch = await withTransaction(db.pool, (client) =>
    appendManyToMailbox(
      client,
      inbox,
      bodies.slice(1).map((b) => ({ ...b, internalDate: new Date() })),
    ),
  );
  await assertCountersTrue('batch append');
  await createMailbox(db.pool, accountId, 'Projects');
  const projects = await box('Projects');
  await withTransaction(db.pool, (client) =>
    copyMessages(client, inbox, [appended.uid, batch[0]!.uid], projects),
  );
  await assertCountersTrue('copy');
  await withTransaction(db.pool, (client) => moveMessages(client, inbox, [batch[1]!.uid], projects));
  await assertCountersTrue('move');
  await markDeleted(inbox, [appended.uid]);
  await expungeMessages(db.pool, inbox, [appended.uid]);
  await assertCountersTrue('expunge');
  await withTransaction(db.pool, (client) => renameMailbox(client, accountId, 'INBOX', 'Old inbox'));
  await assertCountersTrue('rename INBOX');
  assert.equal(
    Number(
      (await db.pool.query('SELECT message_count FROM mailboxes WHERE id = $1', [inbox])).rows[0]
        .message_count,
    ),
    0,
    'INBOX is empty after RENAME INBOX',
  );
  await deleteMailbox(db.pool, accountId, 'Projects');
  await assertCountersTrue('delete mailbox');
  const usage = await accountUsage(db.pool, accountId);
  assert.equal(Number(usage.messages), 2, 'batch[0] and batch[2] remain, in Old inbox');
  assert.equal(Number(usage.bytes), bodies[1]!.size + bodies[3]!.size);
});
