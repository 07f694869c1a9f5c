// Storage retention against PostgreSQL: completed spool messages go after the retention time (with
// recipients and delivery keys), open or recent ones stay; a body goes once nothing refers to it
// (expunge, mailbox deletion, spool expiry), never while a mailbox copy or spool message still does.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { createLogger } from '@hermod/logging';
import { copyMessages, createMailbox, deleteMailbox, expungeMessages, findMailbox } from '@hermod/mail-store';
import { deliverBatch } from '@hermod/mda';
import { acceptMessage, StorageRetention } from '@hermod/spool';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let accountId = 0;
const logger = createLogger('retention-test', 'silent');
const hours = (n: number) => n * 3_600_000;
const retention = (spoolRetentionMs = hours(168)) =>
  new StorageRetention({ pool: db.pool, logger, spoolRetentionMs, batchSize: 2 });

before(async () => {
  db = await testDatabase();
  accountId = (
    await new AccountStore(db.pool).create({ address: 'keep@retention.test', password: 'pw-retention' })
  ).id;
});

after(async () => {
  await db?.close();
});

/** A message accepted and delivered to keep@'s INBOX by mda: completed, its body shared with the mailbox. */
async function delivered(): Promise<{ spoolId: string; bodyId: number; uid: number }> {
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'a@remote.example',
    recipients: [{ address: 'keep@retention.test' }],
    source: 'mx',
    body: [Buffer.from(`Subject: retention\r\n\r\n${'r'.repeat(300)}\r\n`)],
  });
  await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE spool_id = $1`, [spoolId]);
  const [outcome] = await deliverBatch({ pool: db.pool, logger, quotaRetryMs: 1_000, announce: () => {} }, [
    { spoolId, recipients: [{ rcptIndex: 0, accountId, mailbox: 'INBOX' }] },
  ]);
  assert.deepEqual(outcome, { kind: 'ack' });
  const { rows } = await db.pool.query<{ body_id: string; uid: string; done: boolean }>(
    `SELECT s.body_id, m.uid, s.completed_at IS NOT NULL AS done FROM spool_messages s
     JOIN mailbox_messages m ON m.body_id = s.body_id WHERE s.id = $1`,
    [spoolId],
  );
  assert.ok(rows[0]?.done, 'completed by the delivery');
  return { spoolId, bodyId: Number(rows[0].body_id), uid: Number(rows[0].uid) };
}

const ageCompleted = (spoolId: string, hoursAgo: number) =>
  db.pool.query(`UPDATE spool_messages SET completed_at = now() - make_interval(hours => $2) WHERE id = $1`, [
    spoolId,
    hoursAgo,
  ]);
const count = async (sql: string, value: unknown) =>
  Number((await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, [value])).rows[0]!.n);
const bodyExists = async (bodyId: number) =>
  (await count('message_bodies WHERE id = $1', bodyId)) +
  (await count('message_body_chunks WHERE body_id = $1', bodyId));

test('expired completed spool messages go with their recipients and keys; recent and open ones stay', async () => {
  const old = await delivered();
  const recent = await delivered();
  const open = await acceptMessage(db.pool, {
    mailFrom: 'b@remote.example',
    recipients: [{ address: 'keep@retention.test' }],
    source: 'mx',
    body: [Buffer.from('Subject: open\r\n\r\nstill on its way\r\n')],
  });
  await db.pool.query(`UPDATE spool_messages SET received_at = now() - interval '400 hours' WHERE id = $1`, [
    open.spoolId,
  ]);
  await ageCompleted(old.spoolId, 200);
  await ageCompleted(recent.spoolId, 100);

  const pass = await retention().runOnce();
  assert.equal(pass.spoolMessages, 1);
  assert.equal(await count('spool_messages WHERE id = $1', old.spoolId), 0);
  assert.equal(await count('spool_recipients WHERE spool_id = $1', old.spoolId), 0);
  assert.equal(await count('deliveries WHERE delivery_key = $1', `${old.spoolId}/0`), 0);
  assert.equal(await count('spool_messages WHERE id = $1', recent.spoolId), 1);
  assert.equal(await count('deliveries WHERE delivery_key = $1', `${recent.spoolId}/0`), 1);
  assert.equal(await count('spool_messages WHERE id = $1', open.spoolId), 1);
  // The expired message's body is still in the mailbox: kept.
  assert.equal(pass.bodies, 0);
  assert.equal(await bodyExists(old.bodyId), 2);
  // Retention 0 keeps spool history forever.
  await ageCompleted(recent.spoolId, 10_000);
  assert.equal((await retention(0).runOnce()).spoolMessages, 0);
  assert.equal(await count('spool_messages WHERE id = $1', recent.spoolId), 1);
});

test('a body goes once its last reference does: expunge keeps a copied one, deleting the mailbox of the copy frees it', async () => {
  const message = await delivered();
  await ageCompleted(message.spoolId, 200);
  await retention().runOnce();
  const inbox = (await findMailbox(db.pool, accountId, 'INBOX'))!;
  await createMailbox(db.pool, accountId, 'Kept copies');
  const kept = (await findMailbox(db.pool, accountId, 'Kept copies'))!;
  const client = await db.pool.connect();
  try {
    await copyMessages(client, inbox.id, [message.uid], kept.id);
  } finally {
    client.release();
  }
  await db.pool.query(
    `UPDATE mailbox_messages SET flags = array_append(flags, '\\Deleted') WHERE mailbox_id = $1 AND uid = $2`,
    [inbox.id, message.uid],
  );
  assert.deepEqual((await expungeMessages(db.pool, inbox.id, [message.uid])).uids, [message.uid]);
  assert.equal((await retention().runOnce()).bodies, 0, 'the copy in Kept copies still refers to it');
  assert.equal(await bodyExists(message.bodyId), 2);

  await deleteMailbox(db.pool, accountId, 'Kept copies');
  const pass = await retention().runOnce();
  assert.ok(pass.bodies >= 1);
  assert.ok(pass.bodyBytes > 300);
  assert.equal(await bodyExists(message.bodyId), 0, 'body and chunks deleted');
  assert.equal(await count('message_body_gc WHERE body_id = $1', message.bodyId), 0);
});

test('a spool-only message (relayed, never in a mailbox) loses its body with its spool row', async () => {
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'c@retention.test',
    recipients: [{ address: 'far@remote.example' }],
    source: 'msa',
    body: [Buffer.from('Subject: relayed\r\n\r\nbye\r\n')],
  });
  const bodyId = Number(
    (await db.pool.query<{ body_id: string }>('SELECT body_id FROM spool_messages WHERE id = $1', [spoolId]))
      .rows[0]!.body_id,
  );
  await db.pool.query(`UPDATE spool_recipients SET state = 'delivered' WHERE spool_id = $1`, [spoolId]);
  await db.pool.query("UPDATE spool_messages SET completed_at = now() - interval '300 hours' WHERE id = $1", [
    spoolId,
  ]);
  const pass = await retention().runOnce();
  assert.ok(pass.spoolMessages >= 1);
  assert.ok(pass.bodies >= 1);
  assert.equal(await bodyExists(bodyId), 0);
});

test('a body something refers to is never deleted, even when listed as a candidate', async () => {
  const message = await delivered();
  // As if a deletion elsewhere had listed it: the mailbox and the spool still refer to it.
  await db.pool.query('INSERT INTO message_body_gc (body_id) VALUES ($1)', [message.bodyId]);
  const pass = await retention().runOnce();
  assert.equal(pass.bodies, 0);
  assert.equal(await bodyExists(message.bodyId), 2);
  assert.equal(await count('message_body_gc WHERE body_id = $1', message.bodyId), 0, 'dropped from the list');
});
