// `hermod queue list|show|retry|hold|release|delete|bounce` run as a child process against a real
// outbound-mta (PostgreSQL, nats-server) delivering to Postfix's smtp-sink: one sink defers every
// recipient (4xx), one accepts. The workers poll only every 10 minutes, so anything they do after a
// retry or release comes from the CLI's wake-up. The service's /metrics is scraped along the way.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { enqueueRecipients } from '@hermod/outbound-mta';
import { streams } from '@hermod/pipeline';
import { acceptMessage } from '@hermod/spool';
import { type HermodPlatform, run, type SmtpSink, startHermod, startSmtpSink } from '@hermod/test/harness';

let hermod: HermodPlatform;
let deferring: SmtpSink;
let accepting: SmtpSink;
const ids: Record<'m1' | 'm2' | 'm3', string> = { m1: '', m2: '', m3: '' };

async function hermodCli(args: string[], expectCode = 0) {
  const result = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: { ...process.env, NATS_URL: hermod.nats.url, DATABASE_URL: hermod.db.url },
    timeoutMs: 30_000,
  });
  assert.equal(result.code, expectCode, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result;
}
const cliJson = async <T>(args: string[]): Promise<T> =>
  JSON.parse((await hermodCli([...args, '--json'])).stdout) as T;

/** A message accepted and routed to outbound: recipients scheduled to the given sink port. */
async function seed(
  mailFrom: string,
  recipients: string[],
  port: number,
  acceptedAgoMs = 0,
): Promise<string> {
  const pool = hermod.db.pool;
  const body = `From: <${mailFrom}>\r\nTo: <${recipients[0]}>\r\nSubject: queue test\r\nMessage-ID: <${Math.random()}@sender.test>\r\n\r\nhello\r\n`;
  const { spoolId } = await acceptMessage(pool, {
    mailFrom,
    recipients: recipients.map((address) => ({ address })),
    source: 'msa',
    body: [Buffer.from(body)],
  });
  if (acceptedAgoMs > 0)
    await pool.query(
      `UPDATE spool_messages SET received_at = now() - make_interval(secs => $2) WHERE id = $1`,
      [spoolId, acceptedAgoMs / 1000],
    );
  await pool.query(`UPDATE spool_recipients SET state = 'outbound', destination = $2 WHERE spool_id = $1`, [
    spoolId,
    JSON.stringify({ relayHosts: [{ host: '127.0.0.1', port }] }),
  ]);
  await enqueueRecipients(
    pool,
    spoolId,
    recipients.map((_, i) => i),
    5 * 86_400_000,
  );
  return spoolId;
}

interface Row {
  spool_id: string;
  rcpt_index: number;
  state: string;
  attempts: number;
  next_attempt_at: Date;
}
const queueRows = async (spoolId: string): Promise<Row[]> =>
  (
    await hermod.db.pool.query<Row>(
      'SELECT spool_id, rcpt_index, state, attempts, next_attempt_at FROM outbound_queue WHERE spool_id = $1 ORDER BY rcpt_index',
      [spoolId],
    )
  ).rows;
const recipientStates = async (spoolId: string): Promise<string[]> =>
  (
    await hermod.db.pool.query<{ state: string }>(
      'SELECT state FROM spool_recipients WHERE spool_id = $1 ORDER BY rcpt_index',
      [spoolId],
    )
  ).rows.map((r) => r.state);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function metrics(): Promise<string> {
  const port = hermod.services.get('outbound-mta')!.options.opsPort;
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}
/** The value of the sample of `name` carrying all of `labels` (others, such as service, ignored). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const m of text.matchAll(/^([a-z_]+)(?:\{(.*)\})? (\S+)$/gm)) {
    if (m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

before(async () => {
  deferring = await startSmtpSink({ softReject: ['rcpt'] });
  accepting = await startSmtpSink();
  hermod = await startHermod({
    services: ['outbound-mta'],
    env: { 'outbound-mta': { OUTBOUND_POLL_INTERVAL: '10m', OUTBOUND_RETRY_SCHEDULE: '1h' } },
  });
  ids.m1 = await seed('alice@sender.test', ['a@defer.test', 'b@defer.test'], deferring.port);
  ids.m2 = await seed('bob@sender.test', ['c@ok.test'], accepting.port);
  ids.m3 = await seed('carol@other.test', ['d@ok.test'], accepting.port, 3 * 3_600_000);
});

after(async () => {
  await hermod?.stop();
  await deferring?.stop();
  await accepting?.stop();
});

test('hold stops delivery, list and show filter and render the queue', async () => {
  // Held before any worker looks (the workers were not woken since the rows appeared).
  const held = await cliJson<{ count: number }>(['queue', 'hold', '--domain', 'ok.test']);
  assert.equal(held.count, 2);
  assert.deepEqual(
    [...(await queueRows(ids.m2)), ...(await queueRows(ids.m3))].map((r) => r.state),
    ['held', 'held'],
  );

  const all = await cliJson<Array<{ spoolId: string; rcptIndex: number; state: string }>>(['queue', 'list']);
  assert.equal(all.length, 4);
  assert.equal(all[0]!.spoolId, ids.m3, 'oldest first');
  const count = async (...filters: string[]) =>
    (await cliJson<unknown[]>(['queue', 'list', ...filters])).length;
  assert.equal(await count('--domain', 'defer.test'), 2);
  assert.equal(await count('--sender', 'BOB@*'), 1);
  assert.equal(await count('--recipient', 'd@ok.test'), 1);
  assert.equal(await count('--older-than', '2h'), 1);
  assert.equal(await count('--state', 'held'), 2);
  assert.equal(await count('--state', 'queued', '--domain', 'defer.test'), 2);
  assert.equal(await count('--state', 'deferred'), 0);

  const table = (await hermodCli(['queue', 'list'])).stdout;
  assert.match(table, /^QUEUE-ID\s+STATE\s+TRIES\s+AGE\s+NEXT\s+SENDER\s+RECIPIENT\s+LAST REPLY$/m);
  assert.match(
    table,
    new RegExp(`^${ids.m3}:0\\s+held\\s+0\\s+3h\\s+-\\s+carol@other.test\\s+d@ok.test$`, 'm'),
  );
  assert.match(table, /4 recipient\(s\) in 3 message\(s\)/);
  const shown = (await hermodCli(['queue', 'show', ids.m1])).stdout;
  assert.match(shown, /sender:\s+alice@sender.test/);
  assert.match(shown, /recipient 0: a@defer.test\n\s+state:\s+queued/);
  assert.match(shown, /recipient 1: b@defer.test/);
  await hermodCli(['queue', 'show', '00000000-0000-4000-8000-000000000000'], 1);
  await hermodCli(['queue', 'hold'], 2); // no selection: refused
  await hermodCli(['queue', 'list', '--state', 'lost'], 2);

  const m = await metrics();
  assert.equal(metric(m, 'hermod_outbound_queue_depth', { state: 'held', domain: 'ok.test' }), 2);
  assert.equal(metric(m, 'hermod_outbound_queue_depth', { state: 'queued', domain: 'defer.test' }), 2);
  assert.ok((metric(m, 'hermod_outbound_queue_oldest_seconds') ?? 0) >= 3 * 3600 - 60);
});

test('retry wakes the workers; held messages stay untouched', async () => {
  const retried = await cliJson<{ count: number }>(['queue', 'retry', '--all']);
  assert.equal(retried.count, 2, 'held recipients are not retried');
  const rows = await waitFor('the deferring sink to be tried', async () => {
    const r = await queueRows(ids.m1);
    return r.every((x) => x.state === 'deferred' && x.attempts === 1) && r;
  });
  assert.ok(
    rows.every((r) => r.next_attempt_at.getTime() > Date.now() + 50 * 60_000),
    'next try in 1h',
  );
  // One recipient of a message: only that one is tried again.
  await hermodCli(['queue', 'retry', `${ids.m1}:0`]);
  await waitFor('recipient 0 tried twice', async () => (await queueRows(ids.m1))[0]?.attempts === 2);
  assert.equal((await queueRows(ids.m1))[1]!.attempts, 1);
  // Two wakes of the workers later, the held recipients are still untouched.
  assert.deepEqual(
    [...(await queueRows(ids.m2)), ...(await queueRows(ids.m3))].map((r) => [r.state, r.attempts]),
    [
      ['held', 0],
      ['held', 0],
    ],
  );
  const shown = (await hermodCli(['queue', 'show', `${ids.m1}:0`])).stdout;
  assert.match(shown, /state:\s+deferred/);
  assert.match(shown, /last reply:\s+4\d\d /);
  assert.match(shown, /last host:\s+127\.0\.0\.1/);
  assert.doesNotMatch(shown, /recipient 1:/);

  // A long reply is shown whole in the table's last column, not cut mid-word.
  const long =
    '452 4.2.2 The mailbox of this recipient is over its storage quota; please ask them to delete some mail';
  await hermod.db.pool.query('UPDATE outbound_queue SET last_reply = $2 WHERE spool_id = $1', [ids.m1, long]);
  const table = (await hermodCli(['queue', 'list', '--domain', 'defer.test'])).stdout;
  assert.match(table, new RegExp(`a@defer\\.test\\s+${long.replace(/[.;]/g, '\\$&')}$`, 'm'));
});

test('release resumes delivery', async () => {
  const released = await cliJson<{ count: number }>(['queue', 'release', ids.m2]);
  assert.equal(released.count, 1);
  await waitFor('m2 delivered', async () => (await queueRows(ids.m2)).length === 0);
  assert.deepEqual(await recipientStates(ids.m2), ['delivered']);
  assert.equal((await queueRows(ids.m3))[0]!.state, 'held', 'only the named message was released');

  const m = await metrics();
  assert.equal(metric(m, 'hermod_outbound_results_total', { result: 'delivered' }), 1);
  assert.equal(metric(m, 'hermod_outbound_results_total', { result: 'deferred' }), 3);
  assert.equal(metric(m, 'hermod_outbound_delivery_latency_seconds_count'), 1);
  assert.equal(metric(m, 'hermod_outbound_attempt_seconds_count'), 3);
  assert.equal(metric(m, 'hermod_outbound_queue_depth', { state: 'deferred', domain: 'defer.test' }), 2);
  assert.equal(metric(m, 'hermod_outbound_queue_depth', { state: 'held', domain: 'ok.test' }), 1);
});

test('bounce returns the message to its sender with a DSN built by the service code', async () => {
  const { stdout } = await hermodCli(['queue', 'bounce', ids.m1, '--reason', 'mailbox moved away']);
  assert.match(stdout, /2 recipient\(s\) bounced to their senders/);
  assert.deepEqual(await queueRows(ids.m1), []);
  assert.deepEqual(await recipientStates(ids.m1), ['failed', 'failed']);
  const { rows } = await hermod.db.pool.query<{ id: string; body: Buffer }>(
    `SELECT m.id, c.data AS body FROM spool_messages m
     JOIN spool_recipients r ON r.spool_id = m.id
     JOIN message_body_chunks c ON c.body_id = m.body_id
     WHERE m.mail_from = '' AND r.address = 'alice@sender.test' ORDER BY c.seq`,
  );
  const dsn = Buffer.concat(rows.map((r) => r.body)).toString('latin1');
  assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
  assert.match(dsn, /Final-Recipient: rfc822; a@defer.test\r\nAction: failed\r\nStatus: 5\.0\.0/);
  assert.match(dsn, /Final-Recipient: rfc822; b@defer.test/);
  assert.match(dsn, /Diagnostic-Code: x-hermod; mailbox moved away/);
  assert.match(dsn, /Content-Type: text\/rfc822-headers[\s\S]*Subject: queue test/);
  // Handed to routing like any other new message.
  const jsm = await hermod.nc.jetstreamManager();
  const info = await jsm.streams.info(streams.routing.name);
  assert.equal(info.state.messages, 1);
});

test('delete drops the message without a notice', async () => {
  const result = await cliJson<{ count: number; items: Array<{ recipient: string }> }>([
    'queue',
    'delete',
    '--state',
    'held',
  ]);
  assert.deepEqual(
    result.items.map((i) => i.recipient),
    ['d@ok.test'],
  );
  assert.deepEqual(await queueRows(ids.m3), []);
  assert.deepEqual(await recipientStates(ids.m3), ['failed']);
  const { rows } = await hermod.db.pool.query(
    `SELECT 1 FROM spool_recipients WHERE address = 'carol@other.test'`,
  );
  assert.equal(rows.length, 0, 'no DSN for a deleted message');
  assert.match((await hermodCli(['queue', 'list'])).stdout, /queue is empty/);
  const m = await metrics();
  assert.equal(metric(m, 'hermod_outbound_queue_oldest_seconds'), 0);
  assert.equal(metric(m, 'hermod_outbound_queue_depth'), undefined);
});
