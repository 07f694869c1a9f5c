// The sending suspension of @hermod/accounts against a real PostgreSQL, with a chosen clock: limit
// hits count within their window only, the threshold suspends once (one notice in the spool, to the
// account's own address, with a null sender), suspendSending is idempotent, resumeSending forgets the
// hits, and overrides resolve account, then domain, then the global setting.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AccountStore,
  recordLimitHit,
  resumeSending,
  sendingPolicy,
  setAccountLimitOverrides,
  setDomainLimitOverrides,
  suspendSending,
} from '@hermod/accounts';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let store: AccountStore;

const global = { messagesPerHour: 100, recipientsPerHour: 500, maxSessions: 0, autoSuspend: true };
const HOUR = 3_600_000;

before(async () => {
  db = await testDatabase();
  store = new AccountStore(db.pool);
});

after(async () => {
  await db?.close();
});

async function notices(accountId: number) {
  const { rows } = await db.pool.query<{ mail_from: string; address: string }>(
    `SELECT m.mail_from, r.address FROM spool_messages m JOIN spool_recipients r ON r.spool_id = m.id
     WHERE m.account_id = $1 AND m.source = 'local' AND m.envelope->>'notice' = 'sending-suspended'`,
    [accountId],
  );
  return rows;
}

test('hits within the window suspend at the threshold, once; older hits do not count', async () => {
  const { id } = await store.create({ address: 'hit@example.com', password: 'a-long-password' });
  const hit = (now: number) =>
    recordLimitHit(db.pool, id, { threshold: 3, windowMs: HOUR, now, reason: 'limit hit repeatedly' });
  const t0 = 10 * HOUR;
  assert.deepEqual(await hit(t0), { suspended: false, hits: 1 });
  assert.deepEqual(await hit(t0 + 1_000), { suspended: false, hits: 2 });
  // An hour and more later the first two are outside the window: this is hit 1 again.
  assert.deepEqual(await hit(t0 + HOUR + 1_000), { suspended: false, hits: 1 });
  assert.equal((await hit(t0 + HOUR + 2_000)).suspended, false);
  const third = await hit(t0 + HOUR + 3_000);
  assert.equal(third.suspended, true);
  assert.equal(third.hits, 3);
  assert.equal(third.address, 'hit@example.com');
  // Already suspended: more hits change nothing and write no second notice.
  assert.equal((await hit(t0 + HOUR + 4_000)).suspended, false);
  assert.deepEqual(await notices(id), [{ mail_from: '', address: 'hit@example.com' }]);
  const policy = await sendingPolicy(db.pool, id, global);
  assert.equal(policy.suspension?.reason, 'limit hit repeatedly');

  // Lifted: the hits are forgotten, so the next one is hit 1.
  assert.equal(await resumeSending(db.pool, id), true);
  assert.equal(await resumeSending(db.pool, id), false);
  assert.equal((await sendingPolicy(db.pool, id, global)).suspension, undefined);
  assert.deepEqual(await hit(t0 + HOUR + 5_000), { suspended: false, hits: 1 });
});

test('suspendSending is idempotent and spools one notice per suspension', async () => {
  const { id } = await store.create({ address: 'malware@example.com', password: 'a-long-password' });
  const first = await suspendSending(db.pool, id, 'sent malware');
  assert.equal(first.suspended, true);
  assert.ok(first.noticeSpoolId);
  assert.deepEqual(await suspendSending(db.pool, id, 'sent malware again'), { suspended: false });
  assert.equal((await sendingPolicy(db.pool, id, global)).suspension?.reason, 'sent malware');
  assert.equal((await notices(id)).length, 1);
  await resumeSending(db.pool, id);
  assert.equal((await suspendSending(db.pool, id, 'and again')).suspended, true);
  assert.equal((await notices(id)).length, 2, 'a new suspension notifies again');
  // An unknown account: nothing happens.
  assert.deepEqual(await suspendSending(db.pool, 987_654, 'nobody'), { suspended: false });
});

test('limits: the account override, else the domain override, else the global setting', async () => {
  const a = await store.create({ address: 'a@limits.example', password: 'a-long-password' });
  const b = await store.create({ address: 'b@limits.example', password: 'a-long-password' });
  assert.deepEqual((await sendingPolicy(db.pool, a.id, global)).limits, {
    messagesPerHour: 100,
    recipientsPerHour: 500,
    maxSessions: 0,
  });
  await setDomainLimitOverrides(db.pool, 'limits.example', { recipientsPerHour: 50, autoSuspend: false });
  await setAccountLimitOverrides(db.pool, a.id, { recipientsPerHour: 0, maxSessions: 3 });
  const pa = await sendingPolicy(db.pool, a.id, global);
  const pb = await sendingPolicy(db.pool, b.id, global);
  assert.deepEqual(pa.limits, { messagesPerHour: 100, recipientsPerHour: 0, maxSessions: 3 });
  assert.deepEqual(pb.limits, { messagesPerHour: 100, recipientsPerHour: 50, maxSessions: 0 });
  assert.equal(pa.autoSuspend, false, "the domain's exemption");
  // null clears one override and leaves the others.
  assert.deepEqual(await setAccountLimitOverrides(db.pool, a.id, { recipientsPerHour: null }), {
    messagesPerHour: null,
    recipientsPerHour: null,
    maxSessions: 3,
    autoSuspend: null,
  });
  assert.equal((await sendingPolicy(db.pool, a.id, global)).limits.recipientsPerHour, 50);
  await assert.rejects(setAccountLimitOverrides(db.pool, a.id, { messagesPerHour: -1 }), RangeError);
});
