// The quarantine store against PostgreSQL: an entry with its recipients and a notice for them, the
// recipient filter, concurrent releases making exactly one spool message, deletion and the expiry
// sweep (with audit entries), and the bodies of deleted entries collected by storage retention.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '@hermod/logging';
import {
  auditOf,
  deleteQuarantined,
  expireQuarantine,
  listQuarantine,
  noticeSpoolId,
  QuarantineNotFoundError,
  quarantineMessage,
  recipientReleaseSpoolId,
  releaseQuarantined,
  releaseSpoolId,
} from '@hermod/quarantine';
import { StorageRetention } from '@hermod/spool';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';
import { heldMessage } from './quarantine-helpers.js';

let db: TestDatabase;

before(async () => {
  db = await testDatabase();
});

after(async () => {
  await db?.pool.end();
});

const request = heldMessage;

const options = { retentionMs: 86_400_000, host: 'mx.example.test' };

test('an entry, its notice to every recipient, and the recipient filter', async () => {
  const r = request(['Alice@example.test', 'bob@example.test'], 'for two');
  const { spoolIds } = await quarantineMessage(db.pool, r, options);
  assert.deepEqual(spoolIds, [noticeSpoolId(r.spoolId)]);
  const notice = await db.pool.query<{ mail_from: string; addresses: string[] }>(
    `SELECT s.mail_from, array_agg(r.address ORDER BY r.rcpt_index) AS addresses
     FROM spool_messages s JOIN spool_recipients r ON r.spool_id = s.id WHERE s.id = $1 GROUP BY s.id`,
    [spoolIds[0]],
  );
  assert.deepEqual(notice.rows, [{ mail_from: '', addresses: ['Alice@example.test', 'bob@example.test'] }]);
  const forAlice = await listQuarantine(db.pool, { recipient: 'alice@EXAMPLE.test' });
  assert.ok(
    forAlice.some(
      (e) => e.id === r.spoolId && e.subject === 'for two' && e.headerFrom === 'Eve <eve@remote.example>',
    ),
  );
  assert.equal((await listQuarantine(db.pool, { recipient: 'carol@example.test' })).length, 0);
});

test('concurrent releases make one spool message; every release is audited once', async () => {
  const r = request(['alice@example.test']);
  await quarantineMessage(db.pool, r, { ...options, notify: false });
  const results = await Promise.all(
    [1, 2, 3].map((i) => releaseQuarantined(db.pool, r.spoolId, `admin${i}`)),
  );
  assert.equal(new Set(results.map((x) => x.spoolId)).size, 1);
  assert.equal(results.filter((x) => !x.alreadyReleased).length, 1);
  const spool = await db.pool.query('SELECT 1 FROM spool_messages WHERE id = $1', [results[0]!.spoolId]);
  assert.equal(spool.rowCount, 1);
  const actions = (await auditOf(db.pool, r.spoolId)).map((a) => a.action);
  assert.deepEqual(actions, ['quarantine', 'release']);
  assert.equal(
    (await listQuarantine(db.pool, { recipient: 'alice@example.test' })).some((e) => e.id === r.spoolId),
    false,
  );
  assert.ok(
    (await listQuarantine(db.pool, { recipient: 'alice@example.test', includeReleased: true })).some(
      (e) => e.id === r.spoolId && e.releasedBy?.startsWith('admin'),
    ),
  );
});

test('delete and expiry remove entries (audited) and their bodies are collected', async () => {
  const deleted = request(['alice@example.test']);
  const expired = request(['alice@example.test']);
  const kept = request(['alice@example.test']);
  await quarantineMessage(db.pool, deleted, { ...options, notify: false });
  await quarantineMessage(db.pool, expired, { ...options, retentionMs: -1000, notify: false });
  await quarantineMessage(db.pool, kept, { ...options, notify: false });
  const bodyOf = async (id: string) =>
    (await db.pool.query<{ body_id: string }>('SELECT body_id FROM quarantine_messages WHERE id = $1', [id]))
      .rows[0]!.body_id;
  const bodies = [await bodyOf(deleted.spoolId), await bodyOf(expired.spoolId)];

  await deleteQuarantined(db.pool, deleted.spoolId, 'admin');
  await assert.rejects(deleteQuarantined(db.pool, deleted.spoolId, 'admin'), QuarantineNotFoundError);
  assert.ok((await expireQuarantine(db.pool)) >= 1);
  assert.deepEqual(
    (await auditOf(db.pool, deleted.spoolId)).map((a) => `${a.action}:${a.actor}`),
    ['quarantine:mx', 'delete:admin'],
  );
  assert.deepEqual(
    (await auditOf(db.pool, expired.spoolId)).map((a) => `${a.action}:${a.actor}`),
    ['quarantine:mx', 'expire:system'],
  );
  const left = await listQuarantine(db.pool, { recipient: 'alice@example.test' });
  assert.ok(left.some((e) => e.id === kept.spoolId));
  assert.ok(!left.some((e) => e.id === deleted.spoolId || e.id === expired.spoolId));

  await new StorageRetention({
    pool: db.pool,
    logger: createLogger('quarantine-test', 'silent'),
    spoolRetentionMs: 0,
  }).runOnce();
  const remaining = await db.pool.query('SELECT id FROM message_bodies WHERE id = ANY($1::bigint[])', [
    bodies,
  ]);
  assert.equal(remaining.rowCount, 0);
  assert.ok(await bodyOf(kept.spoolId));
});

test("a recipient's own release delivers to them only; an admin release after it to the rest", async () => {
  const r = request(['Alice@example.test', 'bob@example.test', 'carol@example.test']);
  await quarantineMessage(db.pool, r, { ...options, notify: false });
  const recipientsOf = async (spoolId: string) =>
    (
      await db.pool.query<{ address: string }>(
        'SELECT address FROM spool_recipients WHERE spool_id = $1 ORDER BY rcpt_index',
        [spoolId],
      )
    ).rows.map((x) => x.address);
  await assert.rejects(
    releaseQuarantined(db.pool, r.spoolId, 'dave (imap)', { recipient: 'dave@example.test' }),
    QuarantineNotFoundError,
  );
  const results = await Promise.all(
    [1, 2].map(() =>
      releaseQuarantined(db.pool, r.spoolId, 'alice (imap)', { recipient: 'alice@EXAMPLE.test' }),
    ),
  );
  assert.deepEqual(results.map((x) => x.alreadyReleased).sort(), [false, true]);
  assert.equal(results[0]!.spoolId, recipientReleaseSpoolId(r.spoolId, 'alice@example.test'));
  assert.deepEqual(await recipientsOf(results[0]!.spoolId), ['Alice@example.test']);
  // Carol takes herself off; the admin's release goes to bob, the only one still held.
  await deleteQuarantined(db.pool, r.spoolId, 'carol (imap)', { recipient: 'carol@example.test' });
  assert.deepEqual(
    (await listQuarantine(db.pool, { recipient: 'bob@example.test' })).find((e) => e.id === r.spoolId)
      ?.recipients,
    ['Alice@example.test', 'bob@example.test'],
  );
  assert.equal(
    (await listQuarantine(db.pool, { recipient: 'alice@example.test' })).some((e) => e.id === r.spoolId),
    false,
  );
  const admin = await releaseQuarantined(db.pool, r.spoolId, 'admin');
  assert.deepEqual(admin, { spoolId: releaseSpoolId(r.spoolId), alreadyReleased: false });
  assert.deepEqual(await recipientsOf(admin.spoolId), ['bob@example.test']);
  assert.equal(
    (await releaseQuarantined(db.pool, r.spoolId, 'bob (imap)', { recipient: 'bob@example.test' }))
      .alreadyReleased,
    true,
  );
  assert.deepEqual(
    (await auditOf(db.pool, r.spoolId)).map((a) => `${a.action}:${a.actor}`),
    ['quarantine:mx', 'release:alice (imap)', 'delete:carol (imap)', 'release:admin'],
  );
});

test('one expiry pass removes every expired entry, however many batches that takes', async () => {
  const expired = [1, 2, 3, 4, 5].map(() => request(['carol@example.test']));
  for (const r of expired)
    await quarantineMessage(db.pool, r, { ...options, retentionMs: -1000, notify: false });
  // Batches of two: three statements for five entries (and whatever earlier tests left expired).
  assert.ok((await expireQuarantine(db.pool, 2)) >= 5);
  assert.equal((await listQuarantine(db.pool, { recipient: 'carol@example.test' })).length, 0);
});
