// mda's batch delivery against PostgreSQL: several jobs, accounts and target folders in one batch
// (consecutive UIDs per mailbox, one change event per mailbox), a job twice in one batch and a job
// delivered again later (one copy), a missing spool message (dropped), a recipient over quota
// (retried, nothing stored), and message completion only once no recipient is left open.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { createLogger } from '@hermod/logging';
import { deliverBatch, writeDeliveries } from '@hermod/mda';
import type { LocalDeliveryJobPayload, MailboxChangeEventPayload } from '@hermod/pipeline';
import { acceptMessage } from '@hermod/spool';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
const ids: Record<string, number> = {};
const events: MailboxChangeEventPayload[] = [];

const deliver = (jobs: LocalDeliveryJobPayload[]) =>
  deliverBatch(
    {
      pool: db.pool,
      logger: createLogger('mda-test', 'silent'),
      quotaRetryMs: 60_000,
      announce: (e) => events.push(e),
    },
    jobs,
  );

/** An accepted message whose recipients routing sent to mda (state 'local'), except those listed as outbound. */
async function routedMessage(recipients: string[], outbound: string[] = [], size = 200): Promise<string> {
  const body = Buffer.from(`Subject: mda test\r\n\r\n${'x'.repeat(size)}\r\n`);
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'sender@remote.example',
    recipients: [...recipients, ...outbound].map((address) => ({ address })),
    source: 'mx',
    body: [body],
  });
  await db.pool.query(
    `UPDATE spool_recipients SET state = CASE WHEN rcpt_index < $2 THEN 'local' ELSE 'outbound' END
     WHERE spool_id = $1`,
    [spoolId, recipients.length],
  );
  return spoolId;
}

async function mailbox(address: string, name: string) {
  const { rows } = await db.pool.query<{ uid: number; body_id: number }>(
    `SELECT m.uid, m.body_id FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
     JOIN accounts a ON a.id = b.account_id WHERE a.address = $1 AND b.name = $2 ORDER BY m.uid`,
    [address, name],
  );
  return rows;
}

async function recipientStates(spoolId: string) {
  const { rows } = await db.pool.query<{ state: string; destination: Record<string, unknown> | null }>(
    'SELECT state, destination FROM spool_recipients WHERE spool_id = $1 ORDER BY rcpt_index',
    [spoolId],
  );
  return rows;
}

const completed = async (spoolId: string) =>
  (await db.pool.query('SELECT 1 FROM spool_messages WHERE id = $1 AND completed_at IS NOT NULL', [spoolId]))
    .rowCount === 1;

before(async () => {
  db = await testDatabase();
  const accounts = new AccountStore(db.pool);
  for (const user of ['alice', 'bob', 'carol'])
    ids[user] = (await accounts.create({ address: `${user}@example.test`, password: `${user}-password` })).id;
  await accounts.create({ address: 'tiny@example.test', password: 'tiny-password', quotaBytes: 100 });
  ids.tiny = (await accounts.findByAddress('tiny@example.test'))!.id;
});

after(async () => {
  await db?.close();
});

test('one batch: several accounts and folders, a job twice, consecutive UIDs, one event per mailbox', async () => {
  const first = await routedMessage(['alice@example.test', 'bob@example.test']);
  const second = await routedMessage(['alice@example.test']);
  const jobs: LocalDeliveryJobPayload[] = [
    {
      spoolId: first,
      recipients: [
        { rcptIndex: 0, accountId: ids.alice!, mailbox: 'INBOX' },
        { rcptIndex: 1, accountId: ids.bob!, mailbox: '\\Junk' },
      ],
    },
    { spoolId: second, recipients: [{ rcptIndex: 0, accountId: ids.alice!, mailbox: 'INBOX' }] },
    { spoolId: second, recipients: [{ rcptIndex: 0, accountId: ids.alice!, mailbox: 'INBOX' }] },
  ];
  events.length = 0;
  const outcomes = await deliver(jobs);
  assert.deepEqual(
    outcomes.map((o) => o.kind),
    ['ack', 'ack', 'ack'],
  );
  assert.deepEqual(
    (await mailbox('alice@example.test', 'INBOX')).map((m) => m.uid),
    [1, 2],
  );
  assert.equal((await mailbox('bob@example.test', 'Junk')).length, 1);
  assert.equal((await mailbox('bob@example.test', 'INBOX')).length, 0);
  assert.equal(events.length, 2);
  assert.deepEqual(events.find((e) => e.accountId === ids.alice)?.uids, [1, 2]);
  const states = await recipientStates(first);
  assert.deepEqual(
    states.map((s) => s.state),
    ['delivered', 'delivered'],
  );
  assert.equal(states[1]!.destination?.mailbox, 'Junk');
  assert.ok((await completed(first)) && (await completed(second)), 'both messages completed');
});

test('a job delivered again later stores nothing new', async () => {
  const spoolId = await routedMessage(['carol@example.test']);
  const job = { spoolId, recipients: [{ rcptIndex: 0, accountId: ids.carol!, mailbox: 'INBOX' }] };
  await deliver([job]);
  events.length = 0;
  assert.deepEqual(
    (await deliver([job])).map((o) => o.kind),
    ['ack'],
  );
  assert.equal((await mailbox('carol@example.test', 'INBOX')).length, 1);
  assert.equal(events.length, 0, 'no change announced for a duplicate');
});

test('a missing spool message is dropped; the rest of the batch is delivered', async () => {
  const spoolId = await routedMessage(['carol@example.test']);
  const outcomes = await deliver([
    {
      spoolId: '00000000-0000-4000-8000-000000000000',
      recipients: [{ rcptIndex: 0, accountId: ids.carol!, mailbox: 'INBOX' }],
    },
    { spoolId, recipients: [{ rcptIndex: 0, accountId: ids.carol!, mailbox: 'INBOX' }] },
  ]);
  assert.deepEqual(
    outcomes.map((o) => o.kind),
    ['drop', 'ack'],
  );
  assert.equal((await mailbox('carol@example.test', 'INBOX')).length, 2);
});

test('over quota: retried later, nothing stored, the message stays open', async () => {
  const spoolId = await routedMessage(['tiny@example.test'], [], 500);
  const [outcome] = await deliver([
    { spoolId, recipients: [{ rcptIndex: 0, accountId: ids.tiny!, mailbox: 'INBOX' }] },
  ]);
  assert.equal(outcome?.kind, 'retry');
  assert.match((outcome as { reason: string }).reason, /quota/);
  assert.equal((await mailbox('tiny@example.test', 'INBOX')).length, 0);
  assert.deepEqual(
    (await recipientStates(spoolId)).map((s) => s.state),
    ['local'],
  );
  assert.equal(await completed(spoolId), false);
});

test('a message with a recipient still on its way out is not completed', async () => {
  const spoolId = await routedMessage(['alice@example.test'], ['someone@remote.example']);
  await deliver([{ spoolId, recipients: [{ rcptIndex: 0, accountId: ids.alice!, mailbox: 'INBOX' }] }]);
  assert.deepEqual(
    (await recipientStates(spoolId)).map((s) => s.state),
    ['delivered', 'outbound'],
  );
  assert.equal(await completed(spoolId), false);
});

test('routed at accept (the streaming accept path): written local with its destinations, then delivered', async () => {
  const local = (accountId: number) => ({
    kind: 'local' as const,
    accountId,
    mailbox: 'INBOX',
    rule: 'account',
  });
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'sender@remote.example',
    recipients: [
      { address: 'alice@example.test', local: local(ids.alice!) },
      { address: 'bob@example.test', local: local(ids.bob!) },
    ],
    source: 'mx',
    body: [Buffer.from('Subject: routed at accept\r\n\r\nbody\r\n')],
  });
  const { rows } = await db.pool.query<{ same: boolean }>(
    'SELECT routed_at = received_at AS same FROM spool_messages WHERE id = $1',
    [spoolId],
  );
  assert.equal(rows[0]?.same, true, 'routed in the accept transaction');
  assert.deepEqual(
    (await recipientStates(spoolId)).map((s) => [s.state, s.destination]),
    [
      ['local', local(ids.alice!)],
      ['local', local(ids.bob!)],
    ],
  );
  const before = (await mailbox('bob@example.test', 'INBOX')).length;
  await deliver([
    {
      spoolId,
      recipients: [
        { rcptIndex: 0, accountId: ids.alice!, mailbox: 'INBOX' },
        { rcptIndex: 1, accountId: ids.bob!, mailbox: 'INBOX' },
      ],
    },
  ]);
  assert.equal((await mailbox('bob@example.test', 'INBOX')).length, before + 1);
  assert.equal(await completed(spoolId), true);

  // Not every recipient has a destination: nothing is routed at accept, routing decides them all.
  const mixed = await acceptMessage(db.pool, {
    mailFrom: 'sender@remote.example',
    recipients: [
      { address: 'alice@example.test', local: local(ids.alice!) },
      { address: 'team@example.test' },
    ],
    source: 'mx',
    body: [Buffer.from('Subject: mixed\r\n\r\nbody\r\n')],
  });
  assert.deepEqual(
    (await recipientStates(mixed.spoolId)).map((s) => [s.state, s.destination]),
    [
      ['pending', null],
      ['pending', null],
    ],
  );
});

test('an account removed after routing chose it: that recipient fails, the others are delivered', async () => {
  const accounts = new AccountStore(db.pool);
  const gone = (await accounts.create({ address: 'gone@example.test', password: 'gone-password' })).id;
  const spoolId = await routedMessage(['gone@example.test', 'carol@example.test']);
  await accounts.remove('gone@example.test');
  const before = (await mailbox('carol@example.test', 'INBOX')).length;
  const outcomes = await deliver([
    {
      spoolId,
      recipients: [
        { rcptIndex: 0, accountId: gone, mailbox: 'INBOX' },
        { rcptIndex: 1, accountId: ids.carol!, mailbox: 'INBOX' },
      ],
    },
  ]);
  assert.deepEqual(outcomes, [{ kind: 'ack' }]);
  assert.equal((await mailbox('carol@example.test', 'INBOX')).length, before + 1);
  const { rows } = await db.pool.query<{ state: string; last_error: string | null }>(
    'SELECT state, last_error FROM spool_recipients WHERE spool_id = $1 ORDER BY rcpt_index',
    [spoolId],
  );
  assert.equal(rows[0]?.state, 'failed');
  assert.match(rows[0]?.last_error ?? '', /^550 5\.1\.1 account \d+ no longer exists/);
  assert.equal(rows[1]?.state, 'delivered');
  assert.equal(await completed(spoolId), true);
});

test('the write statement: a mailbox gone since the facts were read gets nothing, the others their rows', async () => {
  const spoolId = await routedMessage(['alice@example.test', 'bob@example.test']);
  const { rows: boxes } = await db.pool.query<{ id: string }>(
    `SELECT b.id FROM mailboxes b JOIN accounts a ON a.id = b.account_id
     WHERE a.address = 'alice@example.test' AND b.name = 'INBOX'`,
  );
  const inbox = Number(boxes[0]!.id);
  const { rows: bodies } = await db.pool.query<{ body_id: string }>(
    'SELECT body_id FROM spool_messages WHERE id = $1',
    [spoolId],
  );
  const row = (mailboxId: number, rcptIndex: number, accountId: number) => ({
    mailboxId,
    bodyId: Number(bodies[0]!.body_id),
    size: 10,
    internalDate: new Date(),
    key: `${spoolId}/${rcptIndex}`,
    accountId,
    spoolId,
    rcptIndex,
  });
  const before = await mailbox('alice@example.test', 'INBOX');
  const client = await db.pool.connect();
  try {
    const appended = await writeDeliveries(
      client,
      [row(inbox, 0, ids.alice!), row(2_000_000_000, 1, ids.bob!)],
      [],
      [spoolId],
    );
    assert.deepEqual(
      appended.map((a) => [a.mailboxId, a.count]),
      [[inbox, 1]],
    );
    assert.equal(appended[0]!.firstUid, (before.at(-1)?.uid ?? 0) + 1);
  } finally {
    client.release();
  }
  assert.equal((await mailbox('alice@example.test', 'INBOX')).length, before.length + 1);
  assert.deepEqual(
    (await recipientStates(spoolId)).map((s) => s.state),
    ['delivered', 'local'],
  );
  assert.equal(await completed(spoolId), false);
  const { rows: keys } = await db.pool.query(
    'SELECT delivery_key FROM deliveries WHERE delivery_key LIKE $1',
    [`${spoolId}/%`],
  );
  assert.deepEqual(
    keys.map((k) => k.delivery_key),
    [`${spoolId}/0`],
  );
});
