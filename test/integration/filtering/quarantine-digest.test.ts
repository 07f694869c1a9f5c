// The quarantine digest against PostgreSQL, with an injected clock: recipients told by the digest
// get no notice per message; a period's digest lists what was held for them before its end, once,
// however many replicas run the pass at the same time; an entry held later goes into the next
// period's digest; an entry released before the digest is not listed; the schedule's periods.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool, type Pool } from '@hermod/db';
import { readBody } from '@hermod/mail-store';
import {
  digestPeriodEnd,
  digestSpoolId,
  noticeSpoolId,
  quarantineMessage,
  releaseQuarantined,
  sendQuarantineDigests,
} from '@hermod/quarantine';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';
import { heldMessage } from './quarantine-helpers.js';

let db: TestDatabase;
let replica: Pool;

before(async () => {
  db = await testDatabase();
  replica = createPool({ connectionString: db.url, max: 4 });
});

after(async () => {
  await replica?.end();
  await db?.pool.end();
});

const request = heldMessage;

const DAY = 86_400_000;
const schedule = { intervalMs: DAY, offsetMs: 7 * 3_600_000 };
const digestTo = (r: string) => r.toLowerCase().endsWith('@digest.example');
const hold = (r: ReturnType<typeof heldMessage>) =>
  quarantineMessage(db.pool, r, {
    retentionMs: 30 * DAY,
    host: 'mx.example.test',
    userReleaseKinds: () => ['policy'],
    digest: digestTo,
  });
const pass = (pool: Pool, now: Date) =>
  sendQuarantineDigests(pool, {
    ...schedule,
    now,
    host: 'mx.example.test',
    userReleaseKinds: () => ['policy'],
  });

async function bodyOf(spoolId: string): Promise<string> {
  const { rows } = await db.pool.query<{ body_id: number }>(
    'SELECT body_id FROM spool_messages WHERE id = $1',
    [spoolId],
  );
  const chunks: Buffer[] = [];
  for await (const chunk of readBody(db.pool, rows[0]?.body_id ?? 0)) chunks.push(chunk);
  return Buffer.concat(chunks).toString('latin1');
}

async function recipientsOf(spoolId: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ address: string }>(
    'SELECT address FROM spool_recipients WHERE spool_id = $1 ORDER BY rcpt_index',
    [spoolId],
  );
  return rows.map((r) => r.address);
}

test('periods end at the offset, every interval', () => {
  const at = (s: string) => digestPeriodEnd(new Date(s), schedule).toISOString();
  assert.equal(at('2026-12-07T06:59:59Z'), '2026-12-06T07:00:00.000Z');
  assert.equal(at('2026-12-07T07:00:00Z'), '2026-12-07T07:00:00.000Z');
  assert.equal(at('2026-12-07T23:00:00Z'), '2026-12-07T07:00:00.000Z');
  assert.equal(
    digestPeriodEnd(new Date('2026-12-07T10:00:01Z'), { intervalMs: 3_600_000, offsetMs: 0 }).toISOString(),
    '2026-12-07T10:00:00.000Z',
  );
});

test('a digest instead of notices, once per period across replicas; later entries in the next one', async () => {
  const first = request(['Ann@digest.example', 'bob@notice.example'], 'first held');
  const second = request(['ann@digest.example'], 'second held', 'malware');
  const released = request(['ann@digest.example'], 'released before the digest');
  // bob (no digest) gets the notice; ann is left for the digest.
  assert.deepEqual((await hold(first)).spoolIds, [noticeSpoolId(first.spoolId)]);
  assert.deepEqual(await recipientsOf(noticeSpoolId(first.spoolId)), ['bob@notice.example']);
  assert.deepEqual((await hold(second)).spoolIds, []);
  assert.deepEqual((await hold(released)).spoolIds, []);
  await releaseQuarantined(db.pool, released.spoolId, 'admin');

  // Within the period they were held in, nothing is due.
  const now = Date.now();
  assert.deepEqual(await pass(db.pool, new Date(now)), []);

  // The period has ended: two replicas run the pass at the same time; one digest is written.
  const next = new Date(digestPeriodEnd(new Date(now), schedule).getTime() + DAY + 60_000);
  const [a, b] = await Promise.all([pass(db.pool, next), pass(replica, next)]);
  const sent = [...(a ?? []), ...(b ?? [])];
  assert.equal(sent.length, 1, JSON.stringify(sent));
  const digest = sent[0];
  assert.ok(digest?.spoolId);
  assert.equal(digest.spoolId, digestSpoolId('ann@digest.example', digestPeriodEnd(next, schedule)));
  assert.deepEqual(digest.entryIds, [first.spoolId, second.spoolId]);
  assert.deepEqual(await recipientsOf(digest.spoolId), ['ann@digest.example']);
  const text = await bodyOf(digest.spoolId);
  assert.match(text, /^Subject: Quarantine digest: 2 messages held for you\r$/m);
  assert.match(text, /^X-Hermod-Quarantine-Id: .*\r$/m);
  assert.match(text, /first held/);
  assert.match(text, new RegExp(`Id: +${second.spoolId} \\(only your administrator can release it\\)`));
  assert.doesNotMatch(text, /released before the digest/);
  assert.match(text, /mark this digest with the keyword\r\n\$QuarantineRelease or move \(or copy\) it/);
  // Run again in the same period: nothing more.
  assert.deepEqual(await pass(replica, new Date(next.getTime() + 3_600_000)), []);

  // Held later in the same period (after that period's digest went): in the next period's digest.
  const third = request(['ann@digest.example'], 'third held');
  await hold(third);
  assert.deepEqual(await pass(db.pool, new Date(next.getTime() + 7_200_000)), []);
  const later = await pass(db.pool, new Date(next.getTime() + DAY));
  assert.deepEqual(
    later.map((d) => d.entryIds),
    [[third.spoolId]],
  );
  assert.match(
    await bodyOf(later[0]?.spoolId ?? ''),
    /^Subject: Quarantine digest: 1 message held for you\r$/m,
  );
});
