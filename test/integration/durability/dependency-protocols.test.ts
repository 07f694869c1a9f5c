// What clients are told while PostgreSQL is away, over real sockets to real service processes:
// IMAP, POP3 and ManageSieve logins get their protocol's temporary reply (RFC 9051 UNAVAILABLE,
// RFC 3206 SYS/TEMP, RFC 5804 TRYLATER), never "invalid credentials", and the login throttle counts
// nothing; SMTP gets 4xx, never 5xx; an open IMAP session (selected, IDLE) gets NO [UNAVAILABLE] for
// what needs the store and carries on; everything works again, on the same connections where the
// protocol keeps them, once PostgreSQL is back. Frozen (SIGSTOP), the same replies while it is
// frozen (the pools' client-side query timeout; 4xx for a submission), and answers after SIGCONT.
// While only nats-server is down, IMAP reads from the database, mx answers 250 and hands the
// message over as soon as its connection is back (not at the sweeper's first look, 30 s later),
// once, and an IDLE session hears of it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { AccountStore } from '@hermod/accounts';
import { createPool } from '@hermod/db';
import type { NatsServerProcess, NodeServiceProcess, PostgresCluster } from '@hermod/local-infra';
import {
  DnsTestServer,
  eventually,
  type HermodPlatform,
  startHermod,
  startOwnInfrastructure,
} from '@hermod/test/harness';
import { RawImapClient } from '../imap/imap-fixture.js';
import { RawPop3 } from '../imap/pop3-client.js';
import { mailboxCopies, sendAcknowledged } from './acknowledged-mail.js';

const USER = 'reader@outage.test';
const PASSWORD = 'reader-password';
const plain = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');

let pg: PostgresCluster;
let nats: NatsServerProcess;
let dns: DnsTestServer;
let hermod: HermodPlatform;
const pids = new Map<string, number | undefined>();

before(async () => {
  const own = await startOwnInfrastructure('outage');
  ({ pg, nats } = own);
  const pool = createPool({ connectionString: own.databaseUrl, max: 4 });
  dns = new DnsTestServer();
  await dns.start();
  // Small statement and query timeouts, so a frozen PostgreSQL is given up on within seconds.
  const database = { DATABASE_STATEMENT_TIMEOUT_MS: '2000', DATABASE_QUERY_TIMEOUT_MS: '3000' };
  hermod = await startHermod({
    services: ['routing', 'mda', 'imap', 'msa', 'mx'],
    db: { url: own.databaseUrl, pool, close: () => pool.end() },
    nats: { url: nats.url, server: nats, stop: () => nats.stop() },
    env: {
      imap: { ...database, IMAP_ALLOW_PLAINTEXT_AUTH: 'true' },
      // Stalled local deliveries are published again quickly.
      routing: { ...database, SPOOL_SWEEP_INTERVAL_MS: '500', SPOOL_STALL_AFTER_MS: '2000' },
      mx: { ...database, MX_DNS_SERVERS: dns.address, MX_AUTH_CHECKS: 'false' },
      msa: database,
      mda: database,
    },
  });
  await hermod.addDomain('outage.test');
  await new AccountStore(pool).create({ address: USER, password: PASSWORD });
  for (const [name, proc] of hermod.services) pids.set(name, proc.pid);
  await eventually('a first message delivered', async () => (await deliver('first')) ?? undefined, 30_000);
  await eventually('the first message in INBOX', async () => ((await inboxCount()) >= 1 ? true : undefined));
});

after(async () => {
  nats?.resume();
  await pg?.resume();
  await hermod?.stop().catch(() => {});
  await dns?.stop();
  await pg?.kill().catch(() => {});
});

function deliver(subject: string): Promise<string | undefined> {
  return sendAcknowledged(hermod.ports.mx, {
    from: 'someone@remote.example',
    to: USER,
    subject,
    text: `${subject}\n`,
  });
}

async function inboxCount(): Promise<number> {
  const { rows } = await hermod.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
     JOIN accounts a ON a.id = b.account_id WHERE a.address = $1 AND b.name = 'INBOX'`,
    [USER],
  );
  return rows[0]?.n ?? 0;
}

async function readiness(proc: NodeServiceProcess): Promise<{ status: number; failing: string[] }> {
  const res = await fetch(`http://127.0.0.1:${proc.options.opsPort}/readyz`);
  const body = (await res.json()) as { failing?: string[] };
  return { status: res.status, failing: body.failing ?? [] };
}

function assertNoServiceExited(when: string): void {
  for (const [name, proc] of hermod.services)
    assert.ok(
      proc.running && proc.pid === pids.get(name),
      `${name} exited ${when}:\n${proc.logs().slice(-3_000)}`,
    );
}

/** A plain-TCP line client for SMTP and ManageSieve. */
class Lines {
  private buffer = '';
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.buffer += data;
      for (let i = this.buffer.indexOf('\r\n'); i >= 0; i = this.buffer.indexOf('\r\n')) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 2);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }
  /** Plain TCP, or implicit TLS. */
  static open(port: number, tls = false): Promise<Lines> {
    return new Promise((resolve, reject) => {
      const s = tls
        ? connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(new Lines(s)))
        : connect({ host: '127.0.0.1', port }, () => resolve(new Lines(s)));
      s.once('error', reject);
    });
  }
  /** The next line; a server that never answers fails the test at the runner's per-test timeout. */
  async line(): Promise<string> {
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.lines.shift()!;
  }
  /** Lines up to the first that matches `last` (included). */
  async until(last: RegExp): Promise<string[]> {
    const seen: string[] = [];
    for (;;) {
      const l = await this.line();
      seen.push(l);
      if (last.test(l)) return seen;
    }
  }
  /** An SMTP reply: its lines up to the one without a dash; the last line. */
  async reply(): Promise<string> {
    return (await this.until(/^\d{3} /)).at(-1)!;
  }
  async smtp(command: string): Promise<string> {
    this.socket.write(`${command}\r\n`);
    return this.reply();
  }
  /** A ManageSieve command's final response line (OK, NO or BYE). */
  async sieve(command: string): Promise<string> {
    this.socket.write(`${command}\r\n`);
    return (await this.until(/^(OK|NO|BYE)\b/)).at(-1)!;
  }
  close(): void {
    this.socket.destroy();
  }
}

async function metricsOf(proc: NodeServiceProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${proc.options.opsPort}/metrics`)).text();
}

/** The sum of a metric's samples that carry the given labels (0 when none). */
function metricValue(metrics: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

async function loginFailuresCounted(): Promise<number> {
  const { rows } = await hermod.db.pool.query<{ n: number }>(
    'SELECT coalesce(sum(failures), 0)::int AS n FROM login_failures',
  );
  return rows[0]?.n ?? 0;
}

test('while PostgreSQL is down: temporary replies for every protocol, open IMAP sessions (selected, IDLE) carry on, and all works again after', async () => {
  const imap = hermod.services.get('imap')!;
  // Sessions open before the outage: one with INBOX selected, one in IDLE.
  const selected = await RawImapClient.connect(hermod.ports.imap, false);
  await selected.readLine();
  await selected.login(USER, PASSWORD);
  assert.equal((await selected.command('SELECT INBOX')).status, 'OK');
  const idling = await RawImapClient.connect(hermod.ports.imap, false);
  await idling.readLine();
  await idling.login(USER, PASSWORD);
  assert.equal((await idling.command('SELECT INBOX')).status, 'OK');
  idling.send('idle1 IDLE\r\n');
  assert.match(await idling.readLine(), /^\+ /);
  // Connections opened before the outage, not yet logged in.
  const imapLogin = await RawImapClient.connect(hermod.ports.imap, false);
  await imapLogin.readLine();
  const pop3 = await RawPop3.connectPlain(hermod.ports.pop3);
  const sieve = await Lines.open(hermod.ports.managesieve);
  await sieve.until(/^OK\b/);
  const failuresBefore = await loginFailuresCounted();

  await pg.crashPostmaster();
  for (const [name, proc] of hermod.services)
    await eventually(`${name} not ready because of postgres`, async () => {
      const r = await readiness(proc);
      return r.status === 503 && r.failing.includes('postgres') ? true : undefined;
    });

  // RFC 9051 7.1: UNAVAILABLE, "a subsystem is down"; not AUTHENTICATIONFAILED.
  const login = await imapLogin.command(`LOGIN ${USER} "${PASSWORD}"`);
  assert.match(
    login.tagged,
    /^t\d+ NO \[UNAVAILABLE\]/,
    `IMAP LOGIN while PostgreSQL is down: ${login.tagged}`,
  );
  assert.equal(imapLogin.closed, false, 'the IMAP connection stays open for a later LOGIN');
  // RFC 3206 SYS/TEMP, not AUTH.
  assert.match(await pop3.cmd(`USER ${USER}`), /^\+OK/);
  assert.match(await pop3.cmd(`PASS ${PASSWORD}`), /^-ERR \[SYS\/TEMP\]/);
  // As after any failure of the store during login (pop3-rfc.test.ts): the session ends.
  await pop3.closedByServer();
  // RFC 5804 TRYLATER.
  assert.match(await sieve.sieve(`AUTHENTICATE "PLAIN" "${plain}"`), /^NO \(TRYLATER\)/);

  // The selected session: a command that needs the store gets NO [UNAVAILABLE], and the session
  // goes on.
  const flags = await selected.command('UID FETCH 1:* (FLAGS)');
  assert.match(flags.tagged, /^t\d+ NO \[UNAVAILABLE\]/, flags.tagged);

  // SMTP: mx defers the recipient or the data, msa defers AUTH: 4xx, never 5xx, never 250.
  const mx = await Lines.open(hermod.ports.mx);
  assert.match(await mx.reply(), /^220 /);
  assert.match(await mx.smtp('EHLO client.remote.example'), /^250 /);
  assert.match(await mx.smtp('MAIL FROM:<someone@remote.example>'), /^[24]\d\d /);
  const rcpt = await mx.smtp(`RCPT TO:<${USER}>`);
  assert.match(rcpt, /^(250|4\d\d) /, `mx RCPT while PostgreSQL is down: ${rcpt}`);
  if (rcpt.startsWith('250')) {
    assert.match(await mx.smtp('DATA'), /^354 /);
    const dot = await mx.smtp('Subject: during the outage\r\n\r\nbody\r\n.');
    assert.match(dot, /^4\d\d /, `mx end of DATA while PostgreSQL is down: ${dot}`);
  }
  mx.close();
  // RFC 4954 6: 454 4.7.0 temporary authentication failure, not 535; counted as the store's
  // outage, not as a failed AUTH.
  const msaProc = hermod.services.get('msa')!;
  const authFailuresBefore = metricValue(await metricsOf(msaProc), 'hermod_msa_auth_failures_total');
  const msa = await Lines.open(hermod.ports.submissions, true);
  assert.match(await msa.reply(), /^220 /);
  assert.match(await msa.smtp('EHLO client.example'), /^250 /);
  assert.match(await msa.smtp(`AUTH PLAIN ${plain}`), /^454 4\.7\.0 /);
  msa.close();
  const msaMetrics = await metricsOf(msaProc);
  assert.ok(
    metricValue(msaMetrics, 'hermod_msa_rejections_total', { reason: 'storage-unavailable', code: '454' }) >=
      1,
    'msa did not count the AUTH refused for the store as storage-unavailable',
  );
  assert.equal(
    metricValue(msaMetrics, 'hermod_msa_auth_failures_total'),
    authFailuresBefore,
    "msa counted the store's outage as a failed AUTH",
  );

  assertNoServiceExited('while PostgreSQL was down');
  await pg.start();
  const back = Date.now();
  for (const [name, proc] of hermod.services)
    await eventually(`${name} ready again`, async () =>
      (await readiness(proc)).status === 200 ? true : undefined,
    );
  assert.ok(Date.now() - back < 10_000, `ready again ${Date.now() - back} ms after PostgreSQL was back`);

  // The same connections log in now; the outage counted as no failed login.
  assert.equal((await imapLogin.command(`LOGIN ${USER} "${PASSWORD}"`)).status, 'OK');
  assert.equal(await loginFailuresCounted(), failuresBefore, 'the outage was counted as failed logins');
  const pop3Again = await RawPop3.connectPlain(hermod.ports.pop3);
  assert.match(await pop3Again.cmd(`USER ${USER}`), /^\+OK/);
  assert.match(await pop3Again.cmd(`PASS ${PASSWORD}`), /^\+OK/);
  assert.match(await sieve.sieve(`AUTHENTICATE "PLAIN" "${plain}"`), /^OK\b/);

  // New mail reaches the IDLE session (or a fresh one, if it said BYE), and the selected session
  // (if it stayed) sees it too.
  const before = await inboxCount();
  await eventually('a message accepted after the outage', async () => (await deliver('after')) ?? undefined);
  await eventually('the message in INBOX', async () => ((await inboxCount()) > before ? true : undefined));
  // The sessions open through the outage are told of it without a new SELECT.
  const exists = new RegExp(`^\\* ${before + 1} EXISTS`);
  for (let l = await idling.readLine(15_000); !exists.test(l); l = await idling.readLine(15_000));
  idling.send('DONE\r\n');
  assert.match((await idling.until('idle1')).tagged, /^idle1 OK/);
  const noop = await selected.command('NOOP');
  assert.equal(noop.status, 'OK');
  assert.ok(
    noop.untagged.some((l) => exists.test(l)),
    noop.untagged.join('\n'),
  );
  // Each refusal for the store was counted.
  const metrics = await (await fetch(`http://127.0.0.1:${imap.options.opsPort}/metrics`)).text();
  assert.ok(
    /hermod_imap_rejections_total\{protocol="imap",reason="storage-unavailable",code="UNAVAILABLE"[^}]*\} [1-9]/.test(
      metrics,
    ),
    'the refusals for the store are not counted',
  );
  const fresh = await RawImapClient.connect(hermod.ports.imap, false);
  await fresh.readLine();
  await fresh.login(USER, PASSWORD);
  const status = await fresh.command('STATUS INBOX (MESSAGES)');
  assert.match(status.untagged.join('\n'), new RegExp(`MESSAGES ${before + 1}\\)`));
  for (const c of [selected, idling, imapLogin, fresh]) c.close();
  pop3Again.close();
  sieve.close();
  assertNoServiceExited('after PostgreSQL came back');
});

/** MAIL, RCPT and DATA on an authenticated submission session: the first refusal, or the reply to the final dot. */
async function submitOne(msa: Lines, subject: string): Promise<string> {
  for (const command of [`MAIL FROM:<${USER}>`, `RCPT TO:<${USER}>`]) {
    const reply = await msa.smtp(command);
    if (!reply.startsWith('250')) return reply;
  }
  const data = await msa.smtp('DATA');
  if (!data.startsWith('354')) return data;
  return msa.smtp(`From: <${USER}>\r\nTo: <${USER}>\r\nSubject: ${subject}\r\n\r\nbody\r\n.`);
}

test("while PostgreSQL is frozen (SIGSTOP): logins, commands and a submission get their temporary reply while it is frozen (the pool's query timeout), and all work again after SIGCONT", async () => {
  const imap = hermod.services.get('imap')!;
  const selected = await RawImapClient.connect(hermod.ports.imap, false);
  await selected.readLine();
  await selected.login(USER, PASSWORD);
  assert.equal((await selected.command('SELECT INBOX')).status, 'OK');
  const fresh = await RawImapClient.connect(hermod.ports.imap, false);
  await fresh.readLine();
  const pop3 = await RawPop3.connectPlain(hermod.ports.pop3);
  assert.match(await pop3.cmd(`USER ${USER}`), /^\+OK/);
  const sieve = await Lines.open(hermod.ports.managesieve);
  await sieve.until(/^OK\b/);
  // A submission session authenticated before the freeze, so its next step that needs the store
  // is the accept itself (or the recipient check).
  const msa = await Lines.open(hermod.ports.submissions, true);
  assert.match(await msa.reply(), /^220 /);
  assert.match(await msa.smtp('EHLO client.example'), /^250 /);
  assert.match(await msa.smtp(`AUTH PLAIN ${plain}`), /^235 /);
  const failuresBefore = await loginFailuresCounted();

  await pg.pause();
  const { answeredWhileFrozen, answers } = await (async () => {
    try {
      await eventually('imap not ready because of postgres', async () => {
        const r = await readiness(imap);
        return r.status === 503 && r.failing.includes('postgres') ? true : undefined;
      });
      // Sent while PostgreSQL is frozen: a query on an open pooled session gives up after the
      // pool's query timeout (DATABASE_QUERY_TIMEOUT_MS, 3 s here), a new session after the 5 s
      // connect timeout; the server's statement_timeout cannot fire in a stopped process.
      const pending = Promise.all([
        fresh.command(`LOGIN ${USER} "${PASSWORD}"`, 60_000),
        selected.command('UID FETCH 1:* (FLAGS)', 60_000),
        (async () => {
          pop3.send(`PASS ${PASSWORD}`);
          return pop3.line(60_000);
        })(),
        sieve.sieve(`AUTHENTICATE "PLAIN" "${plain}"`),
        submitOne(msa, 'during the freeze'),
      ]);
      // The freeze's length: until all are answered, at most 20 s (part of the fault, not a wait for
      // something to happen); answered only after SIGCONT means a reply waited for the server.
      const first = await Promise.race([
        pending.then(() => 'answered' as const),
        once(AbortSignal.timeout(20_000), 'abort').then(() => 'still frozen' as const),
      ]);
      await pg.resume();
      return { answeredWhileFrozen: first === 'answered', answers: await pending };
    } finally {
      await pg.resume();
    }
  })();
  const [login, flags, pass, authenticate, accept] = answers;
  assert.ok(
    answeredWhileFrozen,
    `not every client was answered while PostgreSQL was frozen: ${JSON.stringify(answers.map((a) => (typeof a === 'string' ? a : a.tagged)))}`,
  );
  // Each is the protocol's temporary reply: never a credentials failure, never a dropped
  // connection, and never 250 for a message whose commit is not known done.
  assert.match(login.tagged, /^t\d+ NO \[UNAVAILABLE\]/);
  assert.match(flags.tagged, /^t\d+ NO \[UNAVAILABLE\]/);
  assert.match(pass, /^-ERR \[SYS\/TEMP\]/);
  assert.match(authenticate, /^NO \(TRYLATER\)/);
  assert.match(accept, /^4\d\d /, `msa while PostgreSQL was frozen: ${accept}`);
  assert.equal(await loginFailuresCounted(), failuresBefore, 'the freeze was counted as failed logins');
  await eventually('imap ready again', async () =>
    (await readiness(imap)).status === 200 ? true : undefined,
  );
  // The sessions whose queries timed out were discarded, not handed out with an answer still due:
  // every statement after the freeze gets its own answer.
  assert.equal((await fresh.command(`LOGIN ${USER} "${PASSWORD}"`)).status, 'OK');
  for (let i = 0; i < 3; i++) {
    const again = await selected.command('UID FETCH 1:* (FLAGS)');
    assert.equal(again.status, 'OK');
    assert.ok(
      again.untagged.some((l) => /FLAGS/.test(l)),
      again.untagged.join('\n'),
    );
  }
  assert.match(await sieve.sieve(`AUTHENTICATE "PLAIN" "${plain}"`), /^OK\b/);
  assert.match(await msa.smtp('RSET'), /^250 /);
  assert.match(await submitOne(msa, 'after the freeze'), /^250 /);
  for (const c of [selected, fresh]) c.close();
  pop3.close();
  sieve.close();
  msa.close();
  assertNoServiceExited('after PostgreSQL was frozen');
});

test('while nats-server is down: IMAP logins and commands work from the database, mail is accepted and handed over as soon as the bus is back, once, and an IDLE session hears of it', async () => {
  const imap = hermod.services.get('imap')!;
  const idling = await RawImapClient.connect(hermod.ports.imap, false);
  await idling.readLine();
  await idling.login(USER, PASSWORD);
  assert.equal((await idling.command('SELECT INBOX')).status, 'OK');
  idling.send('idle2 IDLE\r\n');
  assert.match(await idling.readLine(), /^\+ /);
  const before = await inboxCount();

  await nats.kill();
  await eventually('imap not ready because of nats', async () => {
    const r = await readiness(imap);
    return r.status === 503 && r.failing.includes('nats') ? true : undefined;
  });
  // The mailbox store is PostgreSQL: a new session logs in and reads.
  const reader = await RawImapClient.connect(hermod.ports.imap, false);
  await reader.readLine();
  await reader.login(USER, PASSWORD);
  const status = await reader.command('STATUS INBOX (MESSAGES)');
  assert.match(status.untagged.join('\n'), new RegExp(`MESSAGES ${before}\\)`));
  // The spool commits without the bus: 250.
  const spoolId = await deliver('while the bus is down');
  assert.ok(spoolId, 'mx refused mail while only nats-server was down');

  await nats.start();
  await eventually(
    'the message in INBOX',
    async () => (((await mailboxCopies(hermod.db.pool, [spoolId])).get(spoolId) ?? 0) > 0 ? true : undefined),
    60_000,
  );
  // Handed over by mx when its connection came back, not by the spool sweeper at the message's first
  // sweep time (30 s after the accept, docs/durability.md step 3): the sweeper moves next_sweep_at on
  // when it republishes, and never looks at a completed message.
  const { rows } = await hermod.db.pool.query<{ untouched: boolean; completed: boolean }>(
    `SELECT next_sweep_at = received_at + interval '30 seconds' AS untouched, completed_at IS NOT NULL AS completed
     FROM spool_messages WHERE id = $1`,
    [spoolId],
  );
  assert.deepEqual(rows[0], { untouched: true, completed: true }, 'the message waited for the spool sweeper');
  const exists = /^\* (\d+) EXISTS/;
  for (
    let l = await idling.readLine(15_000);
    Number(exists.exec(l)?.[1] ?? 0) <= before;
    l = await idling.readLine(15_000)
  );
  idling.send('DONE\r\n');
  assert.match((await idling.until('idle2')).tagged, /^idle2 OK/);
  await eventually('imap ready again', async () =>
    (await readiness(imap)).status === 200 ? true : undefined,
  );
  // Delivered once: a message sent after it has arrived, and the first still has one copy.
  const marker = await eventually(
    'a marker message accepted',
    async () => (await deliver('marker')) ?? undefined,
  );
  await eventually('the marker in INBOX', async () =>
    ((await mailboxCopies(hermod.db.pool, [marker])).get(marker) ?? 0) > 0 ? true : undefined,
  );
  assert.equal((await mailboxCopies(hermod.db.pool, [spoolId])).get(spoolId), 1);
  for (const c of [idling, reader]) c.close();
  assertNoServiceExited('after nats-server was down');
});
