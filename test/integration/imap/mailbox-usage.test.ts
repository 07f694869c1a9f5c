// The per-mailbox counters (what quota checks, STATUS and SELECT read) against PostgreSQL: after
// every kind of change to an account's messages (append, batch append as mda does, flag changes,
// copy, move, expunge, RENAME INBOX, mailbox deletion), and after two writers raced on one mailbox,
// they equal counts and sums over the messages themselves.
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
  mailboxStatus,
  moveMessages,
  renameMailbox,
  storeFlags,
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
  const { rows } = await db.pool.query<{ id: number; name: string; counters: string; truth: string }>(
    `SELECT b.id, b.name,
       concat_ws(' ', b.message_count, b.message_bytes, b.unseen_count, b.deleted_count, b.deleted_bytes) AS counters,
       concat_ws(' ', count(m.uid), coalesce(sum(m.size), 0),
         count(m.uid) FILTER (WHERE NOT ('\\Seen' = ANY (m.flags))),
         count(m.uid) FILTER (WHERE '\\Deleted' = ANY (m.flags)),
         coalesce(sum(m.size) FILTER (WHERE '\\Deleted' = ANY (m.flags)), 0)) AS truth
     FROM mailboxes b LEFT JOIN mailbox_messages m ON m.mailbox_id = b.id
     WHERE b.account_id = $1 GROUP BY b.id ORDER BY b.name`,
    [accountId],
  );
  for (const r of rows) {
    assert.equal(
      r.counters,
      r.truth,
      `${step}: counters of ${r.name} (messages, bytes, unseen, deleted, deleted bytes)`,
    );
    // STATUS reads the counters.
    const status = await mailboxStatus(db.pool, r.id);
    assert.equal(
      [status.messages, status.size, status.unseen, status.deleted, status.deletedSize].join(' '),
      r.truth,
      `${step}: STATUS of ${r.name}`,
    );
  }
  const usage = await accountUsage(db.pool, accountId);
  const total = rows.reduce((t, r) => t + Number(r.truth.split(' ')[1]), 0);
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
  await storeFlags(db.pool, inbox, [appended.uid, batch[0]!.uid], 'add', ['\\Seen', '\\Flagged']);
  await assertCountersTrue('store +FLAGS');
  await storeFlags(db.pool, inbox, [batch[0]!.uid], 'set', ['\\Deleted']);
  await assertCountersTrue('store FLAGS');
  await storeFlags(db.pool, inbox, [batch[0]!.uid], 'remove', ['\\Deleted']);
  await assertCountersTrue('store -FLAGS');
  // A change no counter follows (migration 090 then leaves the mailbox row alone).
  await storeFlags(db.pool, inbox, [appended.uid], 'add', ['\\Flagged', '$Label1']);
  await assertCountersTrue('store of flags no counter follows');
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

test('counters stay exact when two writers append, store, expunge and move in one mailbox at once', async () => {
  await createMailbox(db.pool, accountId, 'Race');
  await createMailbox(db.pool, accountId, 'Race/out');
  const race = await box('Race');
  const out = await box('Race/out');
  const bodies = await Promise.all([10, 500, 4_000].map(stored));
  const flags = ['\\Seen', '\\Deleted', '\\Flagged'];
  // A fixed seed per writer: the same interleaving of operation kinds every run.
  const writer = async (seed: number) => {
    let state = seed;
    const next = (n: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    for (let i = 0; i < 60; i++) {
      const uids = [1 + next(40), 1 + next(40), 1 + next(40)];
      const kind = next(6);
      if (kind <= 1) {
        const body = bodies[next(bodies.length)]!;
        await withTransaction(db.pool, (client) =>
          appendManyToMailbox(client, race, [
            { ...body, internalDate: new Date(), flags: next(2) ? ['\\Seen'] : [] },
            { ...body, internalDate: new Date(), flags: next(2) ? ['\\Deleted'] : [] },
          ]),
        );
      } else if (kind === 2) await storeFlags(db.pool, race, uids, 'add', [flags[next(3)]!]);
      else if (kind === 3) await storeFlags(db.pool, race, uids, 'remove', [flags[next(3)]!]);
      else if (kind === 4) await expungeMessages(db.pool, race, next(2) ? uids : undefined);
      else await withTransaction(db.pool, (client) => moveMessages(client, race, uids.slice(0, 1), out));
    }
  };
  await Promise.all([writer(7), writer(11)]);
  const { rows } = await db.pool.query(
    'SELECT count(*)::int AS n FROM mailbox_messages WHERE mailbox_id = $1',
    [race],
  );
  assert.ok(rows[0].n > 0, 'the race left messages to count');
  await assertCountersTrue('two concurrent writers');
});
