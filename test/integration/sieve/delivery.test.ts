// Sieve in mda's batch delivery against PostgreSQL: fileinto with flags (existing mailbox, :create,
// and a missing mailbox without :create falls back to keep), discard (delivered with no copy, the
// message completed), a broken compiled script (kept and logged, never lost), the domain's global
// before script, vacation (one reply per sender per period with RFC 3834 headers, none for a list
// message or the null sender) and redirect (SRS sender, Delivered-To, no local copy), with the
// deterministic outgoing ids that make a redelivered job send nothing twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { srsForward } from '@hermod/address';
import { createLogger } from '@hermod/logging';
import { createMailbox, readBody } from '@hermod/mail-store';
import { type DeliveryDeps, deliverBatch } from '@hermod/mda';
import { recordMissingScriptInputs, SieveScripts } from '@hermod/sieve-store';
import { acceptMessage } from '@hermod/spool';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let scripts: SieveScripts;
const published: string[] = [];
const users: Record<string, { id: number; domain: string }> = {};
let autoRepliesPerHour = 100;

const deliveryDeps = (): DeliveryDeps => ({
  pool: db.pool,
  logger: createLogger('mda-sieve-test', 'silent'),
  quotaRetryMs: 60_000,
  announce: () => {},
  sieve: {
    timeBudgetMs: 200,
    maxActions: 32,
    maxRedirects: 4,
    hostname: 'mail.sieve.example',
    autoRepliesPerHour,
    subaddressSeparator: () => '+',
    rewriteSender: (sender, domain) => srsForward(sender, domain, 'test-secret'),
  },
  publishRouting: async (ids) => {
    published.push(...ids);
  },
});
const deliver = (spoolId: string, accountId: number, mailbox = 'INBOX') =>
  deliverBatch(deliveryDeps(), [{ spoolId, recipients: [{ rcptIndex: 0, accountId, mailbox }] }]);

async function accepted(to: string, headers: string, from = 'sender@remote.example'): Promise<string> {
  const body = Buffer.from(`${headers.trim().replace(/\n/g, '\r\n')}\r\n\r\nHello.\r\n`);
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: from,
    recipients: [{ address: to }],
    source: 'mx',
    body: [body],
  });
  await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE spool_id = $1`, [spoolId]);
  return spoolId;
}

/** A new account `name@domain` whose active script is `source`. */
async function accountWithScript(name: string, domain: string, source: string): Promise<number> {
  const { id } = await new AccountStore(db.pool).create({
    address: `${name}@${domain}`,
    password: 'correct horse battery',
  });
  await scripts.put({ id, domain }, 'main', source);
  await scripts.activate({ id, domain }, 'main');
  return id;
}

async function mailbox(accountId: number, name: string) {
  const { rows } = await db.pool.query<{ uid: number; flags: string[] }>(
    `SELECT m.uid, m.flags FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
     WHERE b.account_id = $1 AND b.name = $2 ORDER BY m.uid`,
    [accountId, name],
  );
  return rows;
}

async function recipient(spoolId: string) {
  const { rows } = await db.pool.query<{ state: string; destination: Record<string, unknown> }>(
    'SELECT r.state, r.destination FROM spool_recipients r WHERE r.spool_id = $1 AND r.rcpt_index = 0',
    [spoolId],
  );
  return rows[0]!;
}

async function sentBy(kind: string) {
  const { rows } = await db.pool.query<{ id: string; mail_from: string; body_id: number; address: string }>(
    `SELECT s.id, s.mail_from, s.body_id, r.address FROM spool_messages s JOIN spool_recipients r ON r.spool_id = s.id
     WHERE s.envelope->>'sieve' = $1 ORDER BY s.received_at, s.id`,
    [kind],
  );
  const out = [];
  for (const r of rows) {
    const chunks: Buffer[] = [];
    for await (const c of readBody(db.pool, r.body_id)) chunks.push(c);
    out.push({ ...r, text: Buffer.concat(chunks).toString('utf8') });
  }
  return out;
}

before(async () => {
  db = await testDatabase();
  scripts = new SieveScripts(db.pool, { maxScriptBytes: 65_536, maxScripts: 10, maxNesting: 32 });
  const accounts = new AccountStore(db.pool);
  for (const name of [
    'filer',
    'discarder',
    'broken',
    'away',
    'forwarder',
    'plain',
    'rejecter',
    'busy',
    'hostile',
    'deduper',
    'notifier',
  ])
    users[name] = {
      id: (await accounts.create({ address: `${name}@sieve.example`, password: 'correct horse battery' })).id,
      domain: 'sieve.example',
    };
  await db.pool.query(
    `INSERT INTO mailboxes (account_id, name, uidvalidity) VALUES ($1, 'Reports', nextval('mailbox_uidvalidity'))`,
    [users.filer!.id],
  );
});
after(() => db.close());

async function activate(user: string, source: string) {
  const owner = users[user]!;
  await scripts.put(owner, 'main', source);
  await scripts.activate(owner, 'main');
}

test('fileinto with flags: an existing mailbox, :create, and a missing mailbox falls back to keep', async () => {
  await activate(
    'filer',
    `require ["fileinto", "imap4flags", "mailbox"];
     if header :contains "subject" "report" { fileinto :flags ["\\\\Flagged", "$Work"] "Reports"; stop; }
     if header :contains "subject" "news" { fileinto :create "News"; stop; }
     if header :contains "subject" "lost" { fileinto "Nowhere"; stop; }`,
  );
  const id = users.filer!.id;
  const report = await accepted('filer@sieve.example', 'Subject: weekly report');
  assert.deepEqual(await deliver(report, id), [{ kind: 'ack' }]);
  assert.deepEqual(await mailbox(id, 'Reports'), [{ uid: 1, flags: ['\\Flagged', '$Work'] }]);
  assert.equal((await recipient(report)).destination.mailbox, 'Reports');

  const news = await accepted('filer@sieve.example', 'Subject: news of the day');
  await deliver(news, id);
  assert.equal((await mailbox(id, 'News')).length, 1);

  const lost = await accepted('filer@sieve.example', 'Subject: lost');
  await deliver(lost, id);
  assert.equal((await mailbox(id, 'Nowhere')).length, 0);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);

  // Delivered again (a redelivered job): nothing more is stored.
  await deliver(report, id);
  assert.equal((await mailbox(id, 'Reports')).length, 1);
});

test('discard: the recipient is delivered with no copy and the message completes', async () => {
  await activate('discarder', 'if header :contains "subject" "spam" { discard; }');
  const id = users.discarder!.id;
  const spoolId = await accepted('discarder@sieve.example', 'Subject: cheap spam');
  assert.deepEqual(await deliver(spoolId, id), [{ kind: 'ack' }]);
  assert.equal((await mailbox(id, 'INBOX')).length, 0);
  const r = await recipient(spoolId);
  assert.equal(r.state, 'delivered');
  assert.match(String(r.destination.filtered), /discard/);
  const { rows } = await db.pool.query('SELECT completed_at FROM spool_messages WHERE id = $1', [spoolId]);
  assert.notEqual(rows[0].completed_at, null);
});

test('a script that cannot run keeps the message', async () => {
  await activate('broken', 'discard;');
  await db.pool.query(`UPDATE sieve_scripts SET compiled = 'not a compiled script' WHERE account_id = $1`, [
    users.broken!.id,
  ]);
  const spoolId = await accepted('broken@sieve.example', 'Subject: anything');
  assert.deepEqual(await deliver(spoolId, users.broken!.id), [{ kind: 'ack' }]);
  assert.equal((await mailbox(users.broken!.id, 'INBOX')).length, 1);
});

test("the domain's global before script runs for users without their own script", async () => {
  await scripts.putGlobal(
    'sieve.example',
    'junk',
    'before',
    'require ["fileinto"]; if header :contains "x-spam-flag" "yes" { fileinto "Junk"; stop; }',
  );
  const id = users.plain!.id;
  const spam = await accepted('plain@sieve.example', 'Subject: buy\nX-Spam-Flag: YES');
  await deliver(spam, id);
  assert.equal((await mailbox(id, 'Junk')).length, 1);
  const ham = await accepted('plain@sieve.example', 'Subject: hello');
  await deliver(ham, id);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);
});

test('vacation: one reply per sender within :days, RFC 3834 headers, none to lists or the null sender', async () => {
  await activate(
    'away',
    'require ["vacation"]; vacation :days 7 :subject "Out of office" "I am away until Monday.";',
  );
  const id = users.away!.id;
  const first = await accepted(
    'away@sieve.example',
    'To: away@sieve.example\nSubject: hi\nMessage-ID: <m1@remote.example>',
  );
  await deliver(first, id);
  const second = await accepted(
    'away@sieve.example',
    'To: away@sieve.example\nSubject: again\nMessage-ID: <m2@remote.example>',
  );
  await deliver(second, id);
  const list = await accepted(
    'away@sieve.example',
    'To: away@sieve.example\nSubject: digest\nList-Id: <news.lists.example>',
    'news@lists.example',
  );
  await deliver(list, id);
  const bounce = await accepted('away@sieve.example', 'To: away@sieve.example\nSubject: failure', '');
  await deliver(bounce, id);
  const other = await accepted(
    'away@sieve.example',
    'To: away@sieve.example\nSubject: hello',
    'other@remote.example',
  );
  await deliver(other, id);
  // Every message was still delivered.
  assert.equal((await mailbox(id, 'INBOX')).length, 5);
  const replies = await sentBy('vacation');
  assert.deepEqual(
    replies.map((r) => [r.mail_from, r.address]),
    [
      ['', 'sender@remote.example'],
      ['', 'other@remote.example'],
    ],
  );
  const reply = replies[0]!.text;
  assert.match(reply, /^From: away@sieve\.example\r$/m);
  assert.match(reply, /^To: sender@remote\.example\r$/m);
  assert.match(reply, /^Subject: Out of office\r$/m);
  assert.match(reply, /^In-Reply-To: <m1@remote\.example>\r$/m);
  assert.match(reply, /^References: <m1@remote\.example>\r$/m);
  assert.match(reply, /^Auto-Submitted: auto-replied/m);
  assert.match(reply, /I am away until Monday\./);
  assert.ok(published.includes(replies[0]!.id));
  // The first delivery redelivered: no second reply.
  await deliver(first, id);
  assert.equal((await sentBy('vacation')).length, 2);
});

test("vacation: the account's aliases are the user's addresses (RFC 5230 4.5); lookalikes, robots and the user's own mail get none", async () => {
  const id = await accountWithScript(
    'holiday',
    'sieve.example',
    'require ["vacation", "vacation-seconds"]; vacation :seconds 0 "Back next week.";',
  );
  await new AccountStore(db.pool).addAlias('holiday@sieve.example', 'h.oliday@sieve.example');
  const before = (await sentBy('vacation')).length;
  const cases: Array<[string, string, string]> = [
    // [envelope sender, header section, what the case shows]
    [
      'lookalike@remote.example',
      'To: not.h.oliday@sieve.example.evil\nSubject: x',
      'a name containing the alias',
    ],
    ['owner-list@remote.example', 'To: h.oliday@sieve.example\nSubject: x', 'owner-*'],
    ['list-request@remote.example', 'To: h.oliday@sieve.example\nSubject: x', '*-request'],
    ['MAILER-DAEMON@remote.example', 'To: h.oliday@sieve.example\nSubject: x', 'MAILER-DAEMON'],
    [
      'auto@remote.example',
      'To: h.oliday@sieve.example\nAuto-Submitted: auto-generated\nSubject: x',
      'Auto-Submitted',
    ],
    ['bulk@remote.example', 'To: h.oliday@sieve.example\nPrecedence: junk\nSubject: x', 'Precedence junk'],
    [
      'list@remote.example',
      'To: h.oliday@sieve.example\nList-Unsubscribe: <mailto:u@remote.example>\nSubject: x',
      'List-*',
    ],
    ['h.oliday@sieve.example', 'To: h.oliday@sieve.example\nSubject: x', "the user's own alias"],
    // the one that is answered: the alias is named, the envelope names the account's address
    [
      'friend@remote.example',
      'To: "H. Oliday" <H.Oliday@sieve.example>\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\nMessage-ID: <a1@remote.example>',
      'answered',
    ],
  ];
  for (const [from, headers] of cases)
    await deliver(await accepted('holiday@sieve.example', headers, from), id);
  assert.equal((await mailbox(id, 'INBOX')).length, cases.length, 'every message is delivered');
  const replies = (await sentBy('vacation')).slice(before);
  assert.deepEqual(
    replies.map((r) => [r.mail_from, r.address]),
    [['', 'friend@remote.example']],
  );
  const reply = replies[0]!.text;
  assert.match(reply, /^From: H\.Oliday@sieve\.example\r$/m, 'from the address the message named');
  // "Auto: " and the original subject, decoded and encoded again (RFC 2047)
  const subject = /^Subject: (.*)\r$/m.exec(reply)?.[1] ?? '';
  const decoded = subject.replace(/=\?UTF-8\?B\?([^?]*)\?=/g, (_, b64: string) =>
    Buffer.from(b64, 'base64').toString('utf8'),
  );
  assert.equal(decoded, 'Auto: Grüße');
  assert.match(reply, /^In-Reply-To: <a1@remote\.example>\r$/m);
});

test('vacation: a delivery that fails after its reply was accepted sends no second reply on retry, and hands the first one over', async () => {
  const id = await accountWithScript(
    'crashy',
    'sieve.example',
    'require "vacation"; vacation :days 1 "Away.";',
  );
  const spoolId = await accepted(
    'crashy@sieve.example',
    'To: crashy@sieve.example\nSubject: hi\nMessage-ID: <c1@remote.example>',
  );
  // the delivery statement fails once the reply is durable (as a crash between the two would leave it)
  await db.pool.query(`CREATE FUNCTION fail_delivery() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'simulated failure of the delivery statement'; END $$`);
  await db.pool.query(
    'CREATE TRIGGER fail_delivery BEFORE INSERT ON mailbox_messages FOR EACH ROW EXECUTE FUNCTION fail_delivery()',
  );
  const before = published.length;
  try {
    const [outcome] = await deliver(spoolId, id);
    assert.equal(outcome?.kind, 'retry');
  } finally {
    await db.pool.query('DROP TRIGGER fail_delivery ON mailbox_messages; DROP FUNCTION fail_delivery()');
  }
  const replies = () =>
    sentBy('vacation').then((all) =>
      all.filter((r) => r.address === 'sender@remote.example' && r.text.includes('<c1@remote.example>')),
    );
  assert.equal((await replies()).length, 1, 'the reply was accepted before the delivery failed');
  assert.equal((await mailbox(id, 'INBOX')).length, 0);
  assert.equal(published.length, before, 'not handed over: the attempt failed before that');
  // the retry stores the message once, sends no second reply, and hands over the one accepted
  await deliver(spoolId, id);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);
  const after = await replies();
  assert.equal(after.length, 1);
  assert.ok(published.slice(before).includes(after[0]!.id), 'the reply of the failed attempt is handed over');
});

test('redirect: SRS sender, Delivered-To, no local copy; a redirect loop is broken', async () => {
  await activate('forwarder', 'redirect "elsewhere@remote.example";');
  const id = users.forwarder!.id;
  const spoolId = await accepted('forwarder@sieve.example', 'Subject: pass it on');
  await deliver(spoolId, id);
  assert.equal((await mailbox(id, 'INBOX')).length, 0);
  const [copy] = await sentBy('redirect');
  assert.ok(copy);
  assert.equal(copy.address, 'elsewhere@remote.example');
  assert.match(copy.mail_from, /^SRS0=[^=]+=[A-Z2-7]{2}=remote\.example=sender@sieve\.example$/);
  assert.match(copy.text, /^Delivered-To: forwarder@sieve\.example\r\nSubject: pass it on/);
  // The redirecting domain is recorded: outbound-mta ARC-seals the copy with its key.
  const { rows } = await db.pool.query<{ forwarded_from: string }>(
    `SELECT envelope->>'forwardedFrom' AS forwarded_from FROM spool_messages WHERE id = $1`,
    [copy.id],
  );
  assert.equal(rows[0]?.forwarded_from, 'sieve.example');
  assert.equal((await recipient(spoolId)).state, 'delivered');
  // The same message coming back (it already passed this recipient) is kept, not redirected again.
  const looped = await accepted(
    'forwarder@sieve.example',
    'Delivered-To: forwarder@sieve.example\nSubject: loop',
  );
  await deliver(looped, id);
  assert.equal((await sentBy('redirect')).length, 1);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);
});

test('reject: no copy, a notice to the sender with the reason, none to the null sender', async () => {
  await activate('rejecter', 'require ["reject"]; reject "I do not accept attachments.";');
  const id = users.rejecter!.id;
  const spoolId = await accepted(
    'rejecter@sieve.example',
    'Subject: with attachment\nMessage-ID: <r1@remote.example>',
  );
  await deliver(spoolId, id);
  const bounce = await accepted('rejecter@sieve.example', 'Subject: a bounce', '');
  await deliver(bounce, id);
  assert.equal((await mailbox(id, 'INBOX')).length, 0);
  const notices = await sentBy('reject');
  assert.deepEqual(
    notices.map((n) => [n.mail_from, n.address]),
    [['', 'sender@remote.example']],
  );
  assert.match(notices[0]!.text, /^Auto-Submitted: auto-replied/m);
  assert.match(notices[0]!.text, /I do not accept attachments\./);
  assert.match(notices[0]!.text, /Message-ID: <r1@remote\.example>/);
  assert.match(String((await recipient(spoolId)).destination.filtered), /reject/);
});

test("automatic replies beyond the account's hourly limit are not sent; the messages are still delivered", async () => {
  autoRepliesPerHour = 1;
  try {
    await activate('busy', 'require ["vacation"]; vacation :days 1 "Busy.";');
    const id = users.busy!.id;
    const before = (await sentBy('vacation')).length;
    for (const from of ['one@remote.example', 'two@remote.example'])
      await deliver(await accepted('busy@sieve.example', 'To: busy@sieve.example\nSubject: hi', from), id);
    assert.equal((await mailbox(id, 'INBOX')).length, 2);
    const replies = (await sentBy('vacation')).slice(before);
    assert.deepEqual(
      replies.map((r) => r.address),
      ['one@remote.example'],
    );
  } finally {
    autoRepliesPerHour = 100;
  }
});

test('a pathological regex or too many actions: bounded time, the message kept', async () => {
  const id = users.hostile!.id;
  await activate(
    'hostile',
    'require ["regex", "fileinto", "copy"]; if header :regex "subject" "^(a+)+$" { discard; }',
  );
  const started = Date.now();
  await deliver(await accepted('hostile@sieve.example', `Subject: ${'a'.repeat(40)}!`), id);
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);
  const many = Array.from({ length: 40 }, (_, i) => `fileinto :copy :create "F${i}";`).join(' ');
  await activate('hostile', `require ["fileinto", "copy", "mailbox"]; ${many}`);
  await deliver(await accepted('hostile@sieve.example', 'Subject: many'), id);
  // Over SIEVE_MAX_ACTIONS (32): the run fails, nothing is filed, the message is kept.
  assert.equal((await mailbox(id, 'INBOX')).length, 2);
  assert.equal((await mailbox(id, 'F0')).length, 0);
});

test('duplicate: the second copy of a Message-ID is discarded, the first was stored', async () => {
  await activate('deduper', 'require ["duplicate"]; if duplicate { discard; stop; }');
  const id = users.deduper!.id;
  const first = await accepted('deduper@sieve.example', 'Subject: once\nMessage-ID: <same@remote.example>');
  await deliver(first, id);
  // Delivered again (a redelivered job): its delivery key is known, nothing more is stored.
  await deliver(first, id);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);
  const second = await accepted('deduper@sieve.example', 'Subject: twice\nMessage-ID: <same@remote.example>');
  await deliver(second, id);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);
  assert.match(String((await recipient(second)).destination.filtered), /discard/);
  const third = await accepted('deduper@sieve.example', 'Subject: other\nMessage-ID: <other@remote.example>');
  await deliver(third, id);
  assert.equal((await mailbox(id, 'INBOX')).length, 2);
});

test('duplicate: two copies of a Message-ID in one delivery batch, the second is discarded', async () => {
  // Two copies of one message arriving together (a list cross-post, two aliases) are delivered in the
  // same batch: the first copy's id counts as seen for the runs after it, not only for later batches.
  const id = users.deduper!.id;
  const before = (await mailbox(id, 'INBOX')).length;
  const copies = [
    await accepted('deduper@sieve.example', 'Subject: together 1\nMessage-ID: <together@remote.example>'),
    await accepted('deduper@sieve.example', 'Subject: together 2\nMessage-ID: <together@remote.example>'),
  ];
  const outcomes = await deliverBatch(
    deliveryDeps(),
    copies.map((spoolId) => ({ spoolId, recipients: [{ rcptIndex: 0, accountId: id, mailbox: 'INBOX' }] })),
  );
  assert.deepEqual(
    outcomes.map((o) => o.kind),
    ['ack', 'ack'],
  );
  assert.equal((await mailbox(id, 'INBOX')).length, before + 1);
  assert.match(String((await recipient(copies[1]!)).destination.filtered), /discard/);
});

test('enotify mailto: a notification to the URI address, the message kept', async () => {
  await activate(
    'notifier',
    'require ["enotify"]; notify :message "New mail" "mailto:pager@remote.example?subject=Alert";',
  );
  const id = users.notifier!.id;
  await deliver(await accepted('notifier@sieve.example', 'Subject: important'), id);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);
  const [notice, extra] = await sentBy('notify');
  assert.equal(extra, undefined);
  assert.deepEqual([notice!.mail_from, notice!.address], ['', 'pager@remote.example']);
  assert.match(notice!.text, /^From: notifier@sieve\.example\r$/m);
  assert.match(notice!.text, /^Subject: Alert\r$/m);
  assert.match(notice!.text, /^Auto-Submitted: auto-notified\r$/m);
  assert.match(notice!.text, /New mail/);
});

test('spam placement is the default after-script: MX-judged spam to Junk unless a filter filed it, or the domain replaced it', async () => {
  const accounts = new AccountStore(db.pool);
  const make = async (address: string) =>
    (await accounts.create({ address, password: 'correct horse battery' })).id;
  const [junked, sorter, keeper] = [
    await make('junked@spam.example'),
    await make('sorter@spam.example'),
    await make('keeper@nojunk.example'),
  ];
  const spamFor = async (to: string, subject: string) => {
    const { spoolId } = await acceptMessage(db.pool, {
      mailFrom: 'sender@remote.example',
      recipients: [{ address: to }],
      source: 'mx',
      envelope: { placement: 'junk' },
      body: [
        Buffer.from(`Subject: ${subject}\r\nX-Spam-Status: Yes, score=9.00 required=15.00\r\n\r\nBuy.\r\n`),
      ],
    });
    await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE spool_id = $1`, [spoolId]);
    return spoolId;
  };
  // No script of its own: routing's target is INBOX, the default after-script files it to Junk.
  await deliver(await spamFor('junked@spam.example', 'offer'), junked);
  assert.equal((await mailbox(junked, 'Junk')).length, 1);
  assert.equal((await mailbox(junked, 'INBOX')).length, 0);
  // A clean message stays in INBOX.
  await deliver(await accepted('junked@spam.example', 'Subject: hello'), junked);
  assert.equal((await mailbox(junked, 'INBOX')).length, 1);
  // The user's own fileinto wins: the after-script runs only while the implicit keep is in effect.
  await scripts.put(
    { id: sorter, domain: 'spam.example' },
    'main',
    'require ["fileinto", "mailbox"];\nfileinto :create "Offers";\n',
  );
  await scripts.activate({ id: sorter, domain: 'spam.example' }, 'main');
  await deliver(await spamFor('sorter@spam.example', 'offer'), sorter);
  assert.equal((await mailbox(sorter, 'Offers')).length, 1);
  assert.equal((await mailbox(sorter, 'Junk')).length, 0);
  // A domain with an after-script of its own (here an empty one) has no spam placement.
  await scripts.putGlobal('nojunk.example', 'none', 'after', '');
  await deliver(await spamFor('keeper@nojunk.example', 'offer'), keeper);
  assert.equal((await mailbox(keeper, 'INBOX')).length, 1);
  assert.equal((await mailbox(keeper, 'Junk')).length, 0);
});

test("spamtest takes the MX's verdict from the spool envelope when it is there, else from the header", async () => {
  const scorer = await accountWithScript(
    'scorer',
    'score.example',
    `require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto", "mailbox"];
     if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto :create "Spammy"; }`,
  );
  // The script reads the spam verdict and nothing of the message itself.
  const { rows } = await db.pool.query('SELECT inputs FROM sieve_scripts WHERE account_id = $1', [scorer]);
  assert.equal(rows[0].inputs, 16 | 8);
  const send = async (header: string, envelope?: { spamStatus: string }) => {
    const { spoolId } = await acceptMessage(db.pool, {
      mailFrom: 'sender@remote.example',
      recipients: [{ address: 'scorer@score.example' }],
      source: 'mx',
      ...(envelope ? { envelope } : {}),
      body: [Buffer.from(`Subject: scored\r\n${header}\r\nHello.\r\n`)],
    });
    await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE spool_id = $1`, [spoolId]);
    return { spoolId, recipients: [{ rcptIndex: 0, accountId: scorer, mailbox: 'INBOX' }] };
  };
  const outcomes = await deliverBatch(deliveryDeps(), [
    // The MX's verdict in the envelope, none in the header: spam.
    await send('', { spamStatus: 'Yes, score=20.00 required=5.00' }),
    // The envelope's verdict wins over a field in the header: clean.
    await send('X-Spam-Status: Yes, score=20.00 required=5.00\r\n', {
      spamStatus: 'No, score=0.10 required=5.00',
    }),
    // Accepted before the MX kept it in the envelope: the header's first X-Spam-Status.
    await send(
      'X-Spam-Status: Yes, score=20.00 required=5.00\r\nX-Spam-Status: No, score=0.00 required=5.00\r\n',
    ),
  ]);
  assert.deepEqual(outcomes, [{ kind: 'ack' }, { kind: 'ack' }, { kind: 'ack' }]);
  assert.equal((await mailbox(scorer, 'Spammy')).length, 2);
  assert.equal((await mailbox(scorer, 'INBOX')).length, 1);
});

test("the recipients of one message share its parse; one's editheader changes only its own copy", async () => {
  const owner = (name: string, source: string) => accountWithScript(name, 'share.example', source);
  const editor = await owner(
    'editor',
    'require "editheader"; addheader "X-Tag" "edited"; deleteheader "subject";',
  );
  const reader = await owner(
    'reader',
    'require ["fileinto", "mailbox"]; if allof (header :is "subject" "shared", not exists "x-tag") { fileinto :create "Untouched"; }',
  );
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'sender@remote.example',
    recipients: [
      { address: 'editor@share.example' },
      { address: 'reader@share.example' },
      { address: 'reader@share.example' },
    ],
    source: 'mx',
    body: [Buffer.from('Subject: shared\r\nFrom: <a@remote.example>\r\n\r\nHello.\r\n')],
  });
  await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE spool_id = $1`, [spoolId]);
  const outcomes = await deliverBatch(deliveryDeps(), [
    {
      spoolId,
      recipients: [
        { rcptIndex: 0, accountId: editor, mailbox: 'INBOX' },
        { rcptIndex: 1, accountId: reader, mailbox: 'INBOX' },
        { rcptIndex: 2, accountId: reader, mailbox: 'INBOX' },
      ],
    },
  ]);
  assert.deepEqual(outcomes, [{ kind: 'ack' }]);
  // The reader's runs after the editor's saw the message as received.
  assert.equal((await mailbox(reader, 'Untouched')).length, 2);
  const { rows } = await db.pool.query<{ text: string }>(
    `SELECT convert_from(string_agg(c.data, ''::bytea ORDER BY c.seq), 'UTF8') AS text
       FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
       JOIN message_body_chunks c ON c.body_id = m.body_id
      WHERE b.account_id = ANY($1) GROUP BY m.mailbox_id, m.uid, b.account_id ORDER BY b.account_id, m.uid`,
    [[editor, reader]],
  );
  assert.equal(rows.length, 3);
  assert.match(rows[0]!.text, /^X-Tag: edited\r\nFrom:/);
  assert.match(rows[1]!.text, /^Subject: shared\r\nFrom:/);
  assert.match(rows[2]!.text, /^Subject: shared\r\nFrom:/);
});

test('fileinto :create follows the mailbox-name rule of IMAP CREATE: an empty level is not created, the message is kept', async () => {
  const id = (
    await new AccountStore(db.pool).create({
      address: 'levels@sieve.example',
      password: 'correct horse battery',
    })
  ).id;
  await scripts.put(
    { id, domain: 'sieve.example' },
    'main',
    'require ["fileinto", "mailbox"];\nfileinto :create "foo//bar";\n',
  );
  await scripts.activate({ id, domain: 'sieve.example' }, 'main');
  await deliver(await accepted('levels@sieve.example', 'Subject: levels'), id);
  const { rows } = await db.pool.query<{ name: string }>(
    'SELECT name FROM mailboxes WHERE account_id = $1 ORDER BY name',
    [id],
  );
  assert.ok(!rows.some((r) => r.name.includes('//')), `created: ${rows.map((r) => r.name).join(', ')}`);
  assert.equal((await mailbox(id, 'INBOX')).length, 1);
});

test("several scripts: a before script's copy stands when the user's script fails or rejects; keep goes on to the after script", async () => {
  const owner = {
    id: (
      await new AccountStore(db.pool).create({
        address: 'multi@multi.example',
        password: 'correct horse battery',
      })
    ).id,
    domain: 'multi.example',
  };
  await scripts.putGlobal(
    'multi.example',
    'archive',
    'before',
    'require ["fileinto", "copy", "mailbox"]; fileinto :copy :create "Archive";',
  );
  await scripts.putGlobal(
    'multi.example',
    'last',
    'after',
    'require ["fileinto", "mailbox"]; fileinto :create "After";',
  );
  const put = async (source: string) => {
    await scripts.put(owner, 'main', source);
    await scripts.activate(owner, 'main');
  };
  // The user's script fails at run time (over the 4 redirects): the before script's copy stands, the
  // message is kept, the after script does not run.
  const redirects = Array.from({ length: 5 }, (_, i) => `redirect "r${i}@remote.example";`).join(' ');
  await put(`require ["fileinto", "copy"]; fileinto :copy "Archive"; ${redirects}`);
  await deliver(await accepted('multi@multi.example', 'Subject: failing'), owner.id);
  assert.equal((await mailbox(owner.id, 'Archive')).length, 1);
  assert.equal((await mailbox(owner.id, 'INBOX')).length, 1);
  assert.equal((await mailbox(owner.id, 'After')).length, 0);
  // A reject after the before script's copy is not a conflict: no copy in INBOX, the Archive copy stays.
  await put('require "reject"; reject "not here";');
  await deliver(await accepted('multi@multi.example', 'Subject: rejected'), owner.id);
  assert.equal((await mailbox(owner.id, 'Archive')).length, 2);
  assert.equal((await mailbox(owner.id, 'INBOX')).length, 1);
  // An explicit keep goes on to the after script, whose fileinto adds its copy.
  await put('keep;');
  await deliver(await accepted('multi@multi.example', 'Subject: kept'), owner.id);
  assert.equal((await mailbox(owner.id, 'INBOX')).length, 2);
  assert.equal((await mailbox(owner.id, 'After')).length, 1);
});

test('a batch reads of each message only what the scripts test, and each script still sees all of it', async () => {
  const owner = (name: string, source: string) => accountWithScript(name, 'reads.example', source);
  // Header fields and size only: the header section is read, size is the whole message's.
  const sizer = await owner(
    'sizer',
    'require ["fileinto", "mailbox"]; if allof (size :over 2K, header :contains "subject" "big") { fileinto :create "Big"; }',
  );
  // The body: the whole message is read.
  const finder = await owner(
    'finder',
    'require ["body", "fileinto", "mailbox"]; if body :contains "needle" { fileinto :create "Found"; }',
  );
  // Compiled before inputs were recorded: read whole.
  const old = await owner(
    'old',
    'require ["body", "fileinto", "mailbox"]; if body :contains "needle" { fileinto :create "Found"; }',
  );
  await db.pool.query(
    `UPDATE sieve_scripts SET compiled = regexp_replace(compiled, '"inputs":[0-9]+,', '') WHERE account_id = $1`,
    [old],
  );
  const { rows } = await db.pool.query(
    'SELECT inputs FROM sieve_scripts WHERE account_id = ANY($1) ORDER BY account_id',
    [[sizer, finder, old]],
  );
  assert.deepEqual(
    rows.map((r) => r.inputs),
    [1 | 8, 2 | 8, null],
  );
  const text = `Subject: a big one\r\nFrom: <a@remote.example>\r\n\r\n${'filler line\r\n'.repeat(200)}the needle\r\n`;
  const send = async (to: string[]) => {
    const { spoolId } = await acceptMessage(db.pool, {
      mailFrom: 'sender@remote.example',
      recipients: to.map((address) => ({ address })),
      source: 'mx',
      body: [Buffer.from(text)],
    });
    await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE spool_id = $1`, [spoolId]);
    return spoolId;
  };
  const both = await send(['sizer@reads.example', 'finder@reads.example']);
  const alone = await send(['sizer@reads.example']);
  const older = await send(['old@reads.example']);
  const outcomes = await deliverBatch(deliveryDeps(), [
    {
      spoolId: both,
      recipients: [
        { rcptIndex: 0, accountId: sizer, mailbox: 'INBOX' },
        { rcptIndex: 1, accountId: finder, mailbox: 'INBOX' },
      ],
    },
    { spoolId: alone, recipients: [{ rcptIndex: 0, accountId: sizer, mailbox: 'INBOX' }] },
    { spoolId: older, recipients: [{ rcptIndex: 0, accountId: old, mailbox: 'INBOX' }] },
  ]);
  assert.deepEqual(outcomes, [{ kind: 'ack' }, { kind: 'ack' }, { kind: 'ack' }]);
  assert.equal((await mailbox(sizer, 'Big')).length, 2);
  assert.equal((await mailbox(finder, 'Found')).length, 1);
  assert.equal((await mailbox(old, 'Found')).length, 1);
  // mda records what such a script reads, from its compiled form; it runs as before.
  assert.equal(await recordMissingScriptInputs(db.pool), 1);
  assert.equal(await recordMissingScriptInputs(db.pool), 0);
  const { rows: recorded } = await db.pool.query('SELECT inputs FROM sieve_scripts WHERE account_id = $1', [
    old,
  ]);
  assert.equal(recorded[0].inputs, 2 | 8);
  assert.deepEqual(await deliver(await send(['old@reads.example']), old), [{ kind: 'ack' }]);
  assert.equal((await mailbox(old, 'Found')).length, 2);
  // What is stored is the whole message.
  const { rows: stored } = await db.pool.query<{ size: number }>(
    `SELECT m.size FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = $1`,
    [sizer],
  );
  assert.deepEqual(
    stored.map((s) => s.size),
    [text.length, text.length],
  );
});

test('fileinto lookups an account made before are read with the batch; what they find is always current', async () => {
  const accounts = new AccountStore(db.pool);
  const id = (await accounts.create({ address: 'hinted@hints.example', password: 'correct horse battery' }))
    .id;
  await scripts.put({ id, domain: 'hints.example' }, 'main', 'require ["fileinto"]; fileinto "Lists";');
  await scripts.activate({ id, domain: 'hints.example' }, 'main');
  await createMailbox(db.pool, id, 'Lists');
  // The named statements the batches send.
  const statements: string[] = [];
  let recording = true;
  const patched = new WeakSet<object>();
  const hook = (client: { query: (...args: unknown[]) => unknown }) => {
    if (patched.has(client)) return;
    patched.add(client);
    const query = client.query.bind(client);
    client.query = (...args: unknown[]) => {
      const config = args[0] as { name?: string } | string;
      if (recording && typeof config === 'object' && config.name) statements.push(config.name);
      return query(...args);
    };
  };
  db.pool.on('acquire', hook as never);
  try {
    const lookup = 'mail-store-find-mailboxes-for';
    const send = async () => deliver(await accepted('hinted@hints.example', 'Subject: list mail'), id);
    assert.deepEqual(await send(), [{ kind: 'ack' }]);
    assert.ok(statements.includes(lookup), 'the first batch looks the mailbox up after the runs');
    statements.length = 0;
    assert.deepEqual(await send(), [{ kind: 'ack' }]);
    assert.equal((await mailbox(id, 'Lists')).length, 2);
    assert.ok(statements.includes('mda-batch-facts-sieve'));
    assert.ok(!statements.includes(lookup), 'the next batch read it with its facts');
    // Renamed: the name finds nothing now, and without :create the message is kept.
    await db.pool.query(`UPDATE mailboxes SET name = 'Old' WHERE account_id = $1 AND name = 'Lists'`, [id]);
    assert.deepEqual(await send(), [{ kind: 'ack' }]);
    assert.equal((await mailbox(id, 'INBOX')).length, 1);
    assert.equal((await mailbox(id, 'Old')).length, 2);
    // A new mailbox of that name is the one filed into, not the one that had the name before.
    await createMailbox(db.pool, id, 'Lists');
    assert.deepEqual(await send(), [{ kind: 'ack' }]);
    assert.equal((await mailbox(id, 'Lists')).length, 1);
    assert.equal((await mailbox(id, 'Old')).length, 2);
  } finally {
    recording = false;
    db.pool.off('acquire', hook as never);
  }
});
