// One allocation rule for every write into a mailbox: mda's delivery batch (writeDeliveries) and
// IMAP's APPEND (mail-store's appendManyToMailbox) both reserve through mailbox_reserve (migration
// 064). Run concurrently against one mailbox, the UIDs they get are 1..n with no gap and no
// repeat, each writer's own UIDs are consecutive, and modseqs rise with UIDs. MOVE removes its
// originals by the expunge rule: one new modseq of the source for all of them, none for nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { createPool, type Pool, withClient, withTransaction } from '@hermod/db';
import { appendManyToMailbox, findMailbox, moveMessages, writeBody } from '@hermod/mail-store';
import { writeDeliveries } from '@hermod/mda';
import { acceptMessage } from '@hermod/spool';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let pool: Pool;
let accountId: number;
let inbox: number;
let archive: number;

before(async () => {
  db = await testDatabase();
  pool = createPool({ connectionString: db.url, max: 12 });
  accountId = (
    await new AccountStore(db.pool).create({ address: 'uids@example.test', password: 'uids-password' })
  ).id;
  inbox = (await findMailbox(db.pool, accountId, 'INBOX'))!.id;
  archive = (await findMailbox(db.pool, accountId, 'Archive'))?.id ?? 0;
  if (!archive) {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO mailboxes (account_id, name, uidvalidity) VALUES ($1, 'Archive', 1) RETURNING id`,
      [accountId],
    );
    archive = rows[0]!.id;
  }
});

after(async () => {
  await pool?.end();
  await db?.close();
});

/** A spool message for the account, delivered by mda as `copies` copies into INBOX in one batch. */
async function deliver(copies: number): Promise<number[]> {
  const { spoolId } = await acceptMessage(pool, {
    mailFrom: 'sender@remote.example',
    recipients: Array.from({ length: copies }, () => ({ address: 'uids@example.test' })),
    source: 'mx',
    body: [Buffer.from('Subject: delivered\r\n\r\nbody\r\n')],
  });
  const { rows } = await pool.query<{ body_id: number }>('SELECT body_id FROM spool_messages WHERE id = $1', [
    spoolId,
  ]);
  const bodyId = rows[0]!.body_id;
  const appended = await withClient(pool, (client) =>
    writeDeliveries(
      client,
      Array.from({ length: copies }, (_, i) => ({
        mailboxId: inbox,
        bodyId,
        size: 30,
        internalDate: new Date(),
        key: `${spoolId}/${i}`,
        accountId,
        spoolId,
        rcptIndex: i,
      })),
      [],
      [spoolId],
    ),
  );
  const mine = appended.find((a) => a.mailboxId === inbox)!;
  return Array.from({ length: mine.count }, (_, i) => mine.firstUid + i);
}

/** An IMAP APPEND of `count` messages into INBOX (MULTIAPPEND: one transaction). */
async function append(count: number): Promise<number[]> {
  const results = await withTransaction(pool, async (client) => {
    const body = await writeBody(client, [Buffer.from('Subject: appended\r\n\r\nbody\r\n')]);
    return appendManyToMailbox(
      client,
      inbox,
      Array.from({ length: count }, () => ({ bodyId: body.bodyId, size: 30, internalDate: new Date() })),
    );
  });
  return results.map((r) => r.uid);
}

test('concurrent deliveries and APPENDs allocate one UID sequence with no gap and rising modseqs', async () => {
  const writers: Array<Promise<number[]>> = [];
  for (let i = 0; i < 12; i++) writers.push(i % 2 === 0 ? deliver(1 + (i % 3)) : append(1 + (i % 4)));
  const allocated = await Promise.all(writers);
  for (const uids of allocated)
    assert.deepEqual(
      uids,
      uids.map((_, i) => uids[0]! + i),
      'a writer gets consecutive UIDs',
    );
  const total = allocated.reduce((n, uids) => n + uids.length, 0);
  const { rows } = await pool.query<{ uid: number; modseq: number }>(
    'SELECT uid, modseq FROM mailbox_messages WHERE mailbox_id = $1 ORDER BY uid',
    [inbox],
  );
  assert.deepEqual(
    rows.map((r) => r.uid),
    Array.from({ length: total }, (_, i) => i + 1),
    'UIDs 1..n: no gap, no repeat',
  );
  assert.deepEqual(
    allocated.flat().sort((a, b) => a - b),
    rows.map((r) => r.uid),
  );
  for (let i = 1; i < rows.length; i++)
    assert.ok(rows[i]!.modseq > rows[i - 1]!.modseq, `modseq rises with UID at uid ${rows[i]!.uid}`);
  const { rows: box } = await pool.query<{ uidnext: number; highestmodseq: number }>(
    'SELECT uidnext, highestmodseq FROM mailboxes WHERE id = $1',
    [inbox],
  );
  assert.equal(box[0]!.uidnext, total + 1);
  assert.equal(box[0]!.highestmodseq, rows[rows.length - 1]!.modseq);
});

test('MOVE removes its originals with one new modseq of the source, logged; nothing moved takes none', async () => {
  const uids = await append(3);
  const moved = await withTransaction(pool, (client) => moveMessages(client, inbox, uids, archive));
  const { rows: box } = await pool.query<{ highestmodseq: number }>(
    'SELECT highestmodseq FROM mailboxes WHERE id = $1',
    [inbox],
  );
  assert.equal(moved.expungeModseq, box[0]!.highestmodseq, 'the expunge took the source mailbox next modseq');
  const { rows: log } = await pool.query<{ uid: number; modseq: number }>(
    'SELECT uid, modseq FROM mailbox_expunges WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[]) ORDER BY uid',
    [inbox, uids],
  );
  assert.deepEqual(
    log.map((r) => [r.uid, r.modseq]),
    uids.map((u) => [u, moved.expungeModseq]),
  );
  const none = await withTransaction(pool, (client) => moveMessages(client, inbox, uids, archive));
  assert.equal(none.pairs.length, 0);
  const { rows: after } = await pool.query<{ highestmodseq: number }>(
    'SELECT highestmodseq FROM mailboxes WHERE id = $1',
    [inbox],
  );
  assert.equal(after[0]!.highestmodseq, box[0]!.highestmodseq, 'moving nothing takes no modseq');
});
