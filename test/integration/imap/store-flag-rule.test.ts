// STORE's flag rule in PostgreSQL (migration 082): imap_flags_change, the set test that decides
// whether a STORE changes a message (and so takes a modseq), and imap_next_flags, the flags after it,
// give the same answers as the rule they replaced (migration 011: the sorted, distinct flags before
// and after compared), over stored flags that are unsorted or repeated and given flags likewise.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { type PoolClient, withTransaction } from '@hermod/db';
import {
  appendManyToMailbox,
  expungeMessages,
  findMailbox,
  openMailbox,
  storeFlags,
  writeBody,
} from '@hermod/mail-store';
import { eventually, type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;

before(async () => {
  db = await testDatabase();
});

after(async () => {
  await db?.close();
});

/** Until the client's backend waits for a lock. */
async function waitingForLock(client: PoolClient, what: string): Promise<void> {
  const pid = (client as unknown as { processID: number }).processID;
  await eventually(what, async () => {
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid = $1',
      [pid],
    );
    return rows[0]!.n > 0 ? true : undefined;
  });
}

/** A new account's INBOX with one message per entry of flags, in that order. */
async function inboxWith(name: string, flags: string[][]) {
  const { id: account } = await new AccountStore(db.pool).create({
    address: `${name}@flags.test`,
    password: `pw-${name}`,
  });
  const inbox = (await findMailbox(db.pool, account, 'INBOX'))!.id;
  const messages = await withTransaction(db.pool, async (client) => {
    const body = await writeBody(client, [Buffer.from(`Subject: ${name}\r\n\r\nbody\r\n`)]);
    return appendManyToMailbox(
      client,
      inbox,
      flags.map((f) => ({ ...body, internalDate: new Date(), flags: f })),
    );
  });
  return { account, inbox, uids: messages.map((m) => m.uid) };
}

const arrays: string[][] = [
  [],
  ['\\Seen'],
  ['\\Flagged', '\\Seen'],
  ['\\Seen', '\\Flagged'],
  ['\\Seen', '\\Seen'],
  ['$Junk', '\\Answered', '\\Seen'],
  ['\\Answered'],
];

test('imap_flags_change and imap_next_flags agree with the sorted comparison they replaced', async () => {
  const { rows } = await db.pool.query<{
    current: string[];
    operation: string;
    given: string[];
    changes: boolean;
    reference_changes: boolean;
    next: string[];
    reference_next: string[];
  }>(
    `WITH cases AS (
       SELECT c.current, o.operation, g.given
       FROM jsonb_array_elements($1::jsonb) cj
       CROSS JOIN LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(cj)) AS current) c
       CROSS JOIN jsonb_array_elements($1::jsonb) gj
       CROSS JOIN LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(gj)) AS given) g
       CROSS JOIN unnest(ARRAY['set', 'add', 'remove']) o (operation)
     ), reference AS (
       SELECT current, operation, given,
         CASE operation
           WHEN 'set' THEN ARRAY(SELECT DISTINCT f FROM unnest(given) f ORDER BY f)
           WHEN 'add' THEN ARRAY(SELECT DISTINCT f FROM unnest(current || given) f ORDER BY f)
           ELSE ARRAY(SELECT DISTINCT f FROM unnest(current) f WHERE NOT (f = ANY (given)) ORDER BY f)
         END AS reference_next
       FROM cases
     )
     SELECT current, operation, given,
       imap_flags_change(current, operation, given) AS changes,
       ARRAY(SELECT DISTINCT f FROM unnest(current) f ORDER BY f) IS DISTINCT FROM reference_next
         AS reference_changes,
       imap_next_flags(current, operation, given) AS next, reference_next
     FROM reference`,
    [JSON.stringify(arrays)],
  );
  assert.equal(rows.length, arrays.length * arrays.length * 3);
  for (const r of rows) {
    const label = `${r.operation} ${JSON.stringify(r.given)} on ${JSON.stringify(r.current)}`;
    assert.equal(r.changes, r.reference_changes, `changes: ${label}`);
    assert.deepEqual(r.next, r.reference_next, `next flags: ${label}`);
  }
  // The grid holds both answers.
  assert.ok(rows.some((r) => r.changes) && rows.some((r) => !r.changes));
});

// A non-silent STORE reports every named message (imap_store_flags, migrations 081 and 090): the
// changed ones with the new modseq, the others as they are, a UID without a message not at all;
// also when every named message changed (090 then reads nothing more) or none did.
test('imap_store_flags reports changed and unchanged messages apart', async () => {
  const { id: account } = await new AccountStore(db.pool).create({
    address: 'store-report@flags.test',
    password: 'pw-store-report',
  });
  const inbox = (await findMailbox(db.pool, account, 'INBOX'))!.id;
  const [a, b, c] = await withTransaction(db.pool, async (client) => {
    const body = await writeBody(client, [Buffer.from('Subject: store\r\n\r\nbody\r\n')]);
    return appendManyToMailbox(
      client,
      inbox,
      [[], ['\\Seen'], ['\\Seen']].map((flags) => ({ ...body, internalDate: new Date(), flags })),
    );
  });
  const uids = [a!.uid, b!.uid, c!.uid];
  const shape = (r: Awaited<ReturnType<typeof storeFlags>>) => ({
    changed: r.changed
      .map((m) => [Number(m.uid), m.flags.join(' '), m.modseq === r.modseq])
      .sort((x, y) => Number(x[0]) - Number(y[0])),
    unchanged: r.unchanged.map((m) => [
      Number(m.uid),
      m.flags.join(' '),
      m.modseq < r.modseq || r.modseq === 0,
    ]),
  });
  // One changes, one is left alone, one UID has no message.
  const some = await storeFlags(db.pool, inbox, [a!.uid, b!.uid, 999], 'add', ['\\Seen'], true);
  assert.deepEqual(shape(some), {
    changed: [[a!.uid, '\\Seen', true]],
    unchanged: [[b!.uid, '\\Seen', true]],
  });
  // Every named message changes.
  const all = await storeFlags(db.pool, inbox, uids, 'remove', ['\\Seen'], true);
  assert.deepEqual(shape(all), {
    changed: uids.map((u) => [u, '', true]),
    unchanged: [],
  });
  assert.ok(all.modseq > some.modseq);
  // None does: no modseq taken, all reported in UID order.
  const none = await storeFlags(db.pool, inbox, [c!.uid, a!.uid], 'remove', ['\\Seen'], true);
  assert.deepEqual(shape(none), { changed: [], unchanged: [a!.uid, c!.uid].map((u) => [u, '', true]) });
});

// SELECT's keywords (mailbox_open, migrations 076 and 091): every stored flag that does not start
// with a backslash, sorted and distinct, whatever other flags the same message carries; messages
// with system flags only give none (091 skips them before unnesting).
test('mailbox_open lists the keywords of every message and nothing else', async () => {
  const { id: account } = await new AccountStore(db.pool).create({
    address: 'open-keywords@flags.test',
    password: 'pw-open-keywords',
  });
  const inbox = (await findMailbox(db.pool, account, 'INBOX'))!.id;
  const open = async () =>
    (await openMailbox(db.pool, account, 'INBOX', { claimRecent: false, firstUnseen: true }))!;
  assert.deepEqual((await open()).keywords, []);
  await withTransaction(db.pool, async (client) => {
    const body = await writeBody(client, [Buffer.from('Subject: keywords\r\n\r\nbody\r\n')]);
    return appendManyToMailbox(
      client,
      inbox,
      [
        ['\\Seen', '\\Flagged', '\\Answered', '\\Deleted', '\\Draft'],
        ['\\Seen', '$Work', 'todo'],
        ['$Work', '\\Recent'],
        ['\\Important'],
        [],
        ['\\Seen'],
      ].map((flags) => ({ ...body, internalDate: new Date(), flags })),
    );
  });
  const opened = await open();
  assert.deepEqual(opened.keywords, ['$Work', 'todo']);
  assert.equal(opened.snapshot.uids.length, 6);
  assert.equal(opened.firstUnseen, opened.snapshot.uids[2]);
});

// STORE writes its mailbox's row once (migration 097): the modseq is read under the row's lock and
// written by the counter trigger with the counters (two row versions before, the second with a
// foreign key check). The mailbox's highestmodseq is the changed messages' modseq, for a counted
// flag and for a keyword that moves no counter, and each STORE takes a higher one.
test('STORE updates the mailbox row once, highestmodseq and counters together', async () => {
  const {
    inbox,
    uids: [a, b],
  } = await inboxWith('store-one-write', [[], []]);
  const mailbox = async () =>
    (
      await db.pool.query<{ highestmodseq: number; unseen: number; deleted: number }>(
        'SELECT highestmodseq, unseen_count AS unseen, deleted_count AS deleted FROM mailboxes WHERE id = $1',
        [inbox],
      )
    ).rows[0]!;
  let last = (await mailbox()).highestmodseq;
  const cases: Array<[string[], 'add' | 'remove', string[], number, number]> = [
    [[a!, b!], 'add', ['\\Seen'], 0, 0],
    [[a!], 'add', ['$Important'], 0, 0],
    [[b!], 'add', ['\\Deleted', 'Work'], 0, 1],
    [[a!], 'remove', ['\\Seen'], 1, 1],
  ].map(([uids, op, flags, unseen, deleted]) => [
    (uids as number[]).map(String),
    op as 'add' | 'remove',
    flags as string[],
    unseen as number,
    deleted as number,
  ]);
  for (const [uids, operation, flags, unseen, deleted] of cases) {
    const updates = await withTransaction(db.pool, async (client) => {
      // The backend's counts not yet reported, so a difference within the transaction.
      const count = async () =>
        Number(
          (
            await client.query<{ updates: string }>(
              `SELECT n_tup_upd AS updates FROM pg_stat_xact_user_tables WHERE relid = 'mailboxes'::regclass`,
            )
          ).rows[0]?.updates ?? 0,
        );
      const before = await count();
      const result = await storeFlags(client, inbox, uids.map(Number), operation, flags);
      return { result, updates: (await count()) - before };
    });
    assert.equal(updates.updates, 1, `${operation} ${flags.join(' ')}: one update of the mailbox row`);
    assert.ok(updates.result.modseq > last, 'a higher modseq per STORE');
    assert.deepEqual(await mailbox(), { highestmodseq: updates.result.modseq, unseen, deleted });
    last = updates.result.modseq;
  }
});

// STORE in one statement (migration 099): the mailbox row's lock, and with it the next modseq, is
// taken by the UPDATE when it forms the first row it changes. A STORE that changes nothing takes no
// lock (it does not wait for another writer), and one that waited for a writer's lock reads the
// modseq that writer committed and takes the next.
test('STORE locks its mailbox only when it changes something, and takes a modseq above the writer it waited for', async () => {
  const {
    inbox,
    uids: [a, b],
  } = await inboxWith('store-lock', [[], ['\\Seen']]);
  const holder = await db.pool.connect();
  const other = await db.pool.connect();
  try {
    await holder.query('BEGIN');
    const first = await storeFlags(holder, inbox, [a!], 'add', ['\\Seen'], true);
    assert.equal(first.changed.length, 1);
    // The holder keeps the mailbox row locked until it commits: a STORE that would wait for it
    // fails after lock_timeout.
    await other.query("SET lock_timeout = '5s'");
    const noop = await storeFlags(other, inbox, [b!], 'add', ['\\Seen'], true);
    assert.deepEqual(noop.changed, []);
    assert.deepEqual(
      noop.unchanged.map((m) => [Number(m.uid), m.flags]),
      [[b!, ['\\Seen']]],
    );
    const waiting = storeFlags(other, inbox, [b!], 'remove', ['\\Seen'], true);
    await waitingForLock(other, 'the second STORE waiting for the lock');
    await holder.query('COMMIT');
    const second = await waiting;
    assert.equal(second.changed.length, 1);
    assert.equal(second.modseq, first.modseq + 1);
    const { rows } = await db.pool.query<{ highestmodseq: number }>(
      'SELECT highestmodseq FROM mailboxes WHERE id = $1',
      [inbox],
    );
    assert.equal(rows[0]!.highestmodseq, second.modseq);
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await other.query('RESET lock_timeout').catch(() => {});
    holder.release();
    other.release();
  }
});

// EXPUNGE by the mailbox's \Deleted count (migration 100): with none, nothing is taken or written;
// with some, the modseq is taken by an UPDATE that rechecks the count under the mailbox row's lock,
// so an EXPUNGE that meets a STORE clearing the last \Deleted waits for it and then takes nothing
// (before, a probe of the messages outside the lock had already decided to take a modseq).
test('EXPUNGE takes a modseq only while the \\Deleted count, read under the lock, is above zero', async () => {
  const {
    inbox,
    uids: [a, b],
  } = await inboxWith('expunge-count', [[], ['\\Deleted']]);
  const highest = async () =>
    Number(
      (await db.pool.query<{ m: string }>('SELECT highestmodseq AS m FROM mailboxes WHERE id = $1', [inbox]))
        .rows[0]!.m,
    );
  const holder = await db.pool.connect();
  const other = await db.pool.connect();
  try {
    await holder.query('BEGIN');
    const store = await storeFlags(holder, inbox, [b!], 'remove', ['\\Deleted']);
    const expunge = expungeMessages(other, inbox);
    await waitingForLock(other, 'the EXPUNGE waiting for the STORE');
    await holder.query('COMMIT');
    assert.deepEqual(await expunge, { modseq: 0, uids: [] });
    assert.equal(await highest(), store.modseq, 'nothing removed: no modseq taken');
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    holder.release();
    other.release();
  }
  const marked = await storeFlags(db.pool, inbox, [a!], 'add', ['\\Deleted']);
  const expunged = await expungeMessages(db.pool, inbox);
  assert.deepEqual(expunged, { modseq: marked.modseq + 1, uids: [a!] });
  assert.equal(await highest(), expunged.modseq);
  assert.deepEqual(await expungeMessages(db.pool, inbox), { modseq: 0, uids: [] });
  assert.equal(await highest(), expunged.modseq, 'nothing left to remove: no modseq taken');
  const { rows } = await db.pool.query<{ uid: string; deleted: number }>(
    `SELECT mm.uid, m.deleted_count AS deleted FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id
     WHERE mm.mailbox_id = $1`,
    [inbox],
  );
  assert.deepEqual(
    rows.map((r) => [Number(r.uid), Number(r.deleted)]),
    [[b!, 0]],
  );
});

// EXPUNGE and UID EXPUNGE read the messages they remove by index (migration 101): the rows of
// mailbox_messages read in the expunge's transaction do not grow with the mailbox (before, the
// probe and the DELETE each read all of its messages).
test('EXPUNGE and UID EXPUNGE read only the messages they remove', async () => {
  const flags = Array.from({ length: 200 }, (_, i) => (i === 150 || i === 170 ? ['\\Deleted'] : []));
  const { inbox, uids } = await inboxWith('expunge-index', flags);
  const rowsRead = async (expunge: (client: PoolClient) => Promise<{ uids: number[] }>) =>
    withTransaction(db.pool, async (client) => {
      const read = async () => {
        const { rows } = await client.query<{ n: string }>(
          `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
           FROM pg_stat_xact_user_tables WHERE relid = 'mailbox_messages'::regclass`,
        );
        return Number(rows[0]?.n ?? 0);
      };
      const before = await read();
      const result = await expunge(client);
      return { removed: result.uids.map(Number), read: (await read()) - before };
    });
  const all = await rowsRead((client) => expungeMessages(client, inbox));
  assert.deepEqual(all.removed, [uids[150], uids[170]]);
  assert.ok(all.read <= 10, `EXPUNGE read ${all.read} message rows`);
  const named = await rowsRead((client) => expungeMessages(client, inbox, [uids[10]!, uids[20]!]));
  assert.deepEqual(named.removed, []);
  await storeFlags(db.pool, inbox, [uids[20]!], 'add', ['\\Deleted']);
  const some = await rowsRead((client) => expungeMessages(client, inbox, [uids[10]!, uids[20]!]));
  assert.deepEqual(some.removed, [uids[20]]);
  assert.ok(
    named.read <= 10 && some.read <= 10,
    `UID EXPUNGE read ${named.read} and ${some.read} message rows`,
  );
});
