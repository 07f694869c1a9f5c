// PostgreSQL round trips per IMAP command: the imap service's session and storage, built in this
// process on a pool whose every query is counted, driven by a plain client over loopback. Counting
// round trips (and this process's CPU per command) instead of timing keeps the figures meaningful
// on a loaded machine. Usage: node --import tsx bench/imap-queries.ts [--messages 100] [--repeat 20]
// Steady state under churn: --soak 240 --sample 20 [--statements] [--reindex-at 130].
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AccountStore, LoginGate, LoginThrottle, PostgresLoginFailureStore } from '@hermod/accounts';
import { createPool, migrate, type Pool, withTransaction } from '@hermod/db';
import { freePort, PostgresCluster } from '@hermod/local-infra';
import { silentLogger } from '@hermod/logging';
import { appendToMailbox, resolveMailbox, writeBody } from '@hermod/mail-store';
import { testWorkdir } from '@hermod/test/harness';
import pg from 'pg';
import { createCommandRegistry } from '../services/imap/src/commands/registry.js';
import { ConnectionLimiter } from '../services/imap/src/server.js';
import { ImapSession, type SessionDependencies } from '../services/imap/src/session/session.js';
import { MailBackend } from '../services/imap/src/store/mail-backend.js';
import { MIX_FETCH_FIELDS } from './lib/imap-mix.js';
import { preciseCpuOf } from './lib/process-cpu.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100' },
    repeat: { type: 'string', default: '20' },
    // Prints each statement as it is sent (to see which ones a command issues).
    show: { type: 'boolean', default: false },
    // Per command, the statements PostgreSQL ran for it (nested ones inside functions and triggers
    // too, from pg_stat_statements) with their calls and execution time per command.
    statements: { type: 'boolean', default: false },
    // Measures only the commands whose name contains this text.
    only: { type: 'string', default: '' },
    // Steady state under the mix's churn: runs only the mix round for this many seconds on one
    // database, printing PostgreSQL's CPU per command, dead rows, vacuums and sizes every --sample seconds.
    soak: { type: 'string', default: '0' },
    sample: { type: 'string', default: '30' },
    // With --soak: after this many seconds, REINDEX and VACUUM the mix's tables once (0: never),
    // to tell what vacuum leaves behind (index pages) from the rest.
    'reindex-at': { type: 'string', default: '0' },
  },
});
const MESSAGES = Number(values.messages);
const REPEAT = Number(values.repeat);
const SOAK_S = Number(values.soak);
const SAMPLE_S = Number(values.sample);
const PASSWORD = 'bench-password-1';
/** Commands in one round of the bench mix (below). */
const MIX_COMMANDS = 21;

function message(n: number): Buffer {
  return Buffer.from(
    `From: Sender ${n} <sender${n}@example.net>\r\nTo: bench@example.com\r\nSubject: bench message ${n}\r\n` +
      `Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b${n}@example.net>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${'line of text\r\n'.repeat(40)}`,
  );
}

/** One command at a time; resolves on the tagged reply (the commands here send no literal-heavy replies that matter). */
class Client {
  private buffer = '';
  private waiting: { tag: string; resolve: (line: string) => void } | undefined;
  private n = 0;
  readonly greeted: Promise<void>;

  constructor(private readonly socket: Socket) {
    this.greeted = new Promise((resolve) => {
      this.waiting = { tag: '*', resolve: () => resolve() };
    });
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      for (let lf = this.buffer.indexOf('\n'); lf >= 0; lf = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, lf);
        this.buffer = this.buffer.slice(lf + 1);
        const w = this.waiting;
        if (w && line.startsWith(`${w.tag} `)) {
          this.waiting = undefined;
          w.resolve(line);
        }
      }
    });
  }

  command(text: string, literal?: Buffer): Promise<string> {
    const tag = `q${++this.n}`;
    return new Promise((resolve) => {
      this.waiting = { tag, resolve };
      if (literal)
        this.socket.write(
          Buffer.concat([
            Buffer.from(`${tag} ${text} {${literal.length}+}\r\n`),
            literal,
            Buffer.from('\r\n'),
          ]),
        );
      else this.socket.write(`${tag} ${text}\r\n`);
    });
  }
}

async function main(): Promise<void> {
  // Its own PostgreSQL, stopped at the end (and its files removed).
  const dir = await testWorkdir('imap-queries');
  const cluster = new PostgresCluster({
    dataDir: join(dir, 'pg'),
    port: await freePort(),
    ...(values.statements
      ? {
          settings: {
            shared_preload_libraries: 'pg_stat_statements',
            'pg_stat_statements.track': 'all',
            'pg_stat_statements.track_planning': 'on',
          },
        }
      : {}),
  });
  await cluster.init();
  await cluster.start();
  const pool = createPool({ connectionString: await cluster.createDatabase('hermod'), max: 5 });
  await migrate(pool);
  if (values.statements) await pool.query('CREATE EXTENSION pg_stat_statements');
  const db = { pool };
  const stop = async () => {
    await pool.end().catch(() => {});
    await cluster.stop();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  try {
    await measureAll(db, cluster.pid);
  } finally {
    await stop();
  }
}

async function measureAll(db: { pool: Pool }, clusterPid: number | undefined): Promise<void> {
  const accounts = new AccountStore(db.pool);
  const account = await accounts.create({ address: 'bench@example.com', password: PASSWORD });
  await withTransaction(db.pool, async (client) => {
    const inbox = await resolveMailbox(client, account.id, 'INBOX');
    for (let i = 0; i < MESSAGES; i++) {
      const body = await writeBody(client, [message(i)]);
      await appendToMailbox(client, {
        mailboxId: inbox.id,
        bodyId: body.bodyId,
        size: body.size,
        internalDate: new Date(),
        flags: i % 3 === 0 ? ['\\Seen'] : [],
      });
    }
  });

  // Every statement any part of the service sends counts, BEGIN and COMMIT included.
  let queries = 0;
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    queries++;
    if (values.show) {
      const first = args[0] as string | { text?: string; name?: string };
      const text = typeof first === 'string' ? first : (first?.text ?? '');
      // Unnamed statements are parsed and planned by PostgreSQL on every execution.
      const named = typeof first !== 'string' && first?.name ? 'prepared' : 'unnamed ';
      process.stdout.write(`  sql ${named}: ${text.replace(/\s+/g, ' ').slice(0, 110)}\n`);
    }
    return query.apply(this, args);
  };
  const backend = new MailBackend(db.pool, { publish() {} });
  const limiter = new ConnectionLimiter(1000, 1000);
  const deps: SessionDependencies = {
    backend,
    commands: createCommandRegistry(),
    limits: {
      maxLineLength: 65_536,
      maxLiteralSize: 50 * 1024 * 1024,
      appendLimit: 50 * 1024 * 1024,
      metadataMaxSize: 65_536,
      metadataMaxEntries: 100,
      maxNonSyncLiteral: 50 * 1024 * 1024,
      nestingBeforeLogin: 10,
      nestingAfterLogin: 100,
      idleTimeoutMs: 30 * 60_000,
      idleCommandTimeoutMs: 60_000,
      maxAuthFailures: 3,
      maxQueuedCommands: 64,
      notifyMaxQueue: 1000,
    },
    logger: silentLogger(),
    serverTls: undefined,
    loginGuard: new LoginGate(
      accounts,
      new LoginThrottle(new PostgresLoginFailureStore(db.pool, () => {}), {
        threshold: 100,
        windowMs: 60_000,
        lockoutMs: 60_000,
        baseDelayMs: 0,
        maxDelayMs: 0,
      }),
    ),
    refused: () => {},
    userGuard: limiter,
    allowPlaintextAuth: true,
    literalMinus: true,
    hostname: 'bench.example.com',
    changes: { add() {}, remove() {} },
  };
  // System calls that send to a client (each costs far more than the JS around it on loopback).
  let clientWrites = 0;
  const server: Server = createServer((socket) => {
    const counted = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    for (const method of ['_write', '_writev'] as const) {
      const original = counted[method].bind(socket);
      counted[method] = (...args: unknown[]) => {
        clientWrites++;
        return original(...args);
      };
    }
    new ImapSession(socket, deps, { secure: false, remoteAddress: '127.0.0.1' }).start();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const open = async () => {
    const socket = await new Promise<Socket>((resolve) => {
      const s: Socket = connect(port, '127.0.0.1', () => resolve(s));
    });
    const client = new Client(socket);
    await client.greeted;
    return { client, socket };
  };

  const rows: Array<{ name: string; queries: number; writes: number; cpuUs: number; pgUs: number }> = [];
  const measure = async (name: string, run: () => Promise<unknown>) => {
    if (!name.includes(values.only) || SOAK_S > 0) return;
    if (values.show) process.stdout.write(`${name}\n`);
    await run(); // warm caches and prepared statements
    if (values.statements) await db.pool.query('SELECT pg_stat_statements_reset()');
    const tables0 = values.statements ? await tableWrites(db.pool) : undefined;
    const q0 = queries;
    const w0 = clientWrites;
    const pg0 = preciseCpuOf('postgres');
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < REPEAT; i++) await run();
    const cpu = process.cpuUsage(cpu0);
    const pgUs = ((preciseCpuOf('postgres') - pg0) * 1e6) / REPEAT;
    rows.push({
      name,
      queries: (queries - q0) / REPEAT,
      writes: (clientWrites - w0) / REPEAT,
      cpuUs: (cpu.user + cpu.system) / REPEAT,
      pgUs,
    });
    if (values.statements) await printStatements(db.pool, name);
    if (tables0) await printTableWrites(db.pool, tables0);
  };

  await measure('LOGIN + LOGOUT', async () => {
    const { client, socket } = await open();
    await client.command(`LOGIN bench@example.com "${PASSWORD}"`);
    await client.command('LOGOUT');
    socket.destroy();
  });
  const { client } = await open();
  const expect = async (text: string, literal?: Buffer) => {
    const line = await client.command(text, literal);
    if (!/^\S+ OK/.test(line)) throw new Error(`${text}: ${line}`);
  };
  await expect(`LOGIN bench@example.com "${PASSWORD}"`);
  await measure('STATUS (MESSAGES UNSEEN UIDNEXT)', () => expect('STATUS INBOX (MESSAGES UNSEEN UIDNEXT)'));
  await measure('STATUS (all items)', () =>
    expect('STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ DELETED)'),
  );
  await measure('LIST "" *', () => expect('LIST "" "*"'));
  await measure('EXAMINE', () => expect('EXAMINE INBOX'));
  await measure('SELECT', () => expect('SELECT INBOX'));
  await measure('NOOP', () => expect('NOOP'));
  // Caches cold: a new backend (as on a restarted or other replica) and a new session on it (a
  // session keeps the backend it started with); structures already stored in PostgreSQL by the
  // first pass, which parses every message once.
  const cold = async (name: string, text: string) => {
    deps.backend = new MailBackend(db.pool, { publish() {} });
    const fresh = await open();
    for (const setup of [`LOGIN bench@example.com "${PASSWORD}"`, 'SELECT INBOX'])
      if (!/^\S+ OK/.test(await fresh.client.command(setup))) throw new Error(setup);
    const q0 = queries;
    const line = await fresh.client.command(text);
    if (!/^\S+ OK/.test(line)) throw new Error(`${text}: ${line}`);
    fresh.socket.destroy();
    rows.push({
      name: `${name} (caches cold)`,
      queries: queries - q0,
      writes: Number.NaN,
      cpuUs: Number.NaN,
      pgUs: Number.NaN,
    });
  };
  await expect('SELECT INBOX'); // also when --only left the SELECT above out
  await expect('FETCH 1:* ENVELOPE');
  await cold('FETCH 1:* ENVELOPE', 'FETCH 1:* ENVELOPE');
  await cold('SEARCH SUBJECT "message 7"', 'SEARCH SUBJECT "message 7"');
  await measure('FETCH 1:10 FLAGS', () => expect('FETCH 1:10 FLAGS'));
  await measure('UID FETCH 1:* (UID FLAGS)', () => expect('UID FETCH 1:* (UID FLAGS)'));
  await measure('FETCH 1:10 ENVELOPE', () => expect('FETCH 1:10 ENVELOPE'));
  await measure('FETCH 1:10 BODYSTRUCTURE', () => expect('FETCH 1:10 BODYSTRUCTURE'));
  await measure('FETCH 1 BODY.PEEK[]', () => expect('FETCH 1 BODY.PEEK[]'));
  // Every item the mix's FETCH picks from (it asks for each with even odds).
  await measure('FETCH 1:10 (every mix item)', () => expect(`FETCH 1:10 (${MIX_FETCH_FIELDS.join(' ')})`));
  await measure('FETCH 1:10 BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]', () =>
    expect('FETCH 1:10 BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]'),
  );
  let flagged = false;
  await measure('STORE 1 +FLAGS / -FLAGS (\\Flagged), alternating', () => {
    flagged = !flagged;
    return expect(`STORE 1 ${flagged ? '+' : '-'}FLAGS (\\Flagged)`);
  });
  await measure('STORE 1 +FLAGS (\\Seen), no change', () => expect('STORE 1 +FLAGS (\\Seen)'));
  await measure('SEARCH FROM sender1', () => expect('SEARCH FROM sender1'));
  await measure('SEARCH UNSEEN', () => expect('SEARCH UNSEEN'));
  await measure('APPEND', () => expect('APPEND INBOX (\\Seen)', message(1)));
  await measure('UID COPY 1 Archive', () => expect('UID COPY 1 Archive'));
  await measure('STORE+EXPUNGE (last)', async () => {
    await expect('STORE * +FLAGS.SILENT (\\Deleted)');
    await expect('EXPUNGE');
  });
  await measure('APPEND + UID MOVE to Trash', async () => {
    await expect('APPEND INBOX () ', message(2));
    await expect('NOOP');
    await expect('MOVE * Trash');
  });

  // A message appended since the last FETCH has no stored structure yet: the first ENVELOPE parses it.
  await measure('APPEND, FETCH * ENVELOPE, STORE+EXPUNGE', async () => {
    await expect('APPEND INBOX () ', message(3));
    await expect('FETCH * ENVELOPE');
    await expect('STORE * +FLAGS.SILENT (\\Deleted)');
    await expect('EXPUNGE');
  });

  // One round of bench/imap.ts's one-LOGIN mix (same commands; its own seeded choices): what the
  // mix costs PostgreSQL per round, and with --statements which statements.
  let seed = 1;
  const random = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const mixRound = async () => {
    await expect('LIST "" "*"');
    await expect('STATUS INBOX (MESSAGES UNSEEN UIDNEXT)');
    await expect('SELECT INBOX');
    for (let i = 0; i < 5; i++) {
      const n = 1 + random(MESSAGES - 10);
      await expect(
        `FETCH ${n}:${n + random(10)} (${['UID', ...MIX_FETCH_FIELDS.filter(() => random(2) === 0)].join(' ')})`,
      );
      await expect(`FETCH ${1 + random(MESSAGES - 10)} BODY.PEEK[]`);
      await expect(`STORE ${1 + random(MESSAGES - 10)} ${random(2) ? '+' : '-'}FLAGS (\\Seen)`);
    }
    await expect('APPEND INBOX (\\Seen)', message(10_000 + random(1000)));
    await expect('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await expect('EXPUNGE');
  };
  if (SOAK_S > 0) await soak(db.pool, mixRound, clusterPid);
  else await measure(`bench imap mix, one round (${MIX_COMMANDS} commands)`, mixRound);

  process.stdout.write(`round trips to PostgreSQL per command (${MESSAGES} messages, ${REPEAT} runs each)\n`);
  process.stdout.write(`${'command'.padEnd(52)} queries  writes  CPU µs: imap+client  PostgreSQL\n`);
  const us = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(0));
  for (const r of rows)
    process.stdout.write(
      `${r.name.padEnd(52)} ${r.queries.toFixed(1).padStart(7)}  ${(Number.isNaN(r.writes) ? '-' : r.writes.toFixed(1)).padStart(6)}  ${us(r.cpuUs).padStart(16)}  ${us(r.pgUs).padStart(10)}\n`,
    );
  server.close();
}

/** Tables the mix writes, and what --soak samples of them. */
const SOAK_TABLES = [
  'mailbox_messages',
  'mailboxes',
  'mailbox_expunges',
  'message_bodies',
  'message_body_chunks',
];

/**
 * Runs the mix round for --soak seconds and prints, every --sample seconds, PostgreSQL's CPU per
 * command in that window (its backends, plus the autovacuum workers the postmaster reaped), and per
 * table the dead rows, updates (HOT), autovacuums and the size of the table and of its indexes.
 */
async function soak(pool: Pool, round: () => Promise<void>, clusterPid: number | undefined): Promise<void> {
  // Exited children (autovacuum workers) count in the postmaster's cutime + cstime, in clock ticks.
  const reaped = () => {
    if (!clusterPid) return 0;
    const stat = readFileSync(`/proc/${clusterPid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / 100;
  };
  const cpu = () => preciseCpuOf('postgres') + reaped();
  const started = Date.now();
  let rounds = 0;
  let last = { at: started, rounds: 0, cpu: cpu() };
  process.stdout.write(
    `soak: the mix round for ${SOAK_S} s; per window: rounds, PostgreSQL CPU µs per command; per table: dead rows, ` +
      'updates (HOT), autovacuums, table kB, indexes kB\n',
  );
  let reindexAt = Number(values['reindex-at']) * 1000 || Number.POSITIVE_INFINITY;
  while (Date.now() - started < SOAK_S * 1000) {
    if (Date.now() - started >= reindexAt) {
      reindexAt = Number.POSITIVE_INFINITY;
      for (const table of SOAK_TABLES) await pool.query(`REINDEX TABLE ${table}`);
      await pool.query(`VACUUM ${SOAK_TABLES.join(', ')}`);
      process.stdout.write('      reindexed and vacuumed\n');
    }
    await round();
    rounds++;
    if (Date.now() - last.at < SAMPLE_S * 1000) continue;
    const now = { at: Date.now(), rounds, cpu: cpu() };
    const perCommand = ((now.cpu - last.cpu) * 1e6) / ((now.rounds - last.rounds) * MIX_COMMANDS);
    const { rows } = await pool.query<{
      relname: string;
      dead: string;
      upd: string;
      hot: string;
      av: string;
      heap: string;
      idx: string;
    }>(
      `SELECT relname, n_dead_tup AS dead, n_tup_upd AS upd, n_tup_hot_upd AS hot, autovacuum_count AS av,
              pg_relation_size(relid) / 1024 AS heap, pg_indexes_size(relid) / 1024 AS idx
       FROM pg_stat_user_tables WHERE relname = ANY($1) ORDER BY relname`,
      [SOAK_TABLES],
    );
    const tables = rows
      .map((r) => `${r.relname} ${r.dead} ${r.upd} (${r.hot}) av${r.av} ${r.heap}/${r.idx}kB`)
      .join('; ');
    process.stdout.write(
      `${((now.at - started) / 1000).toFixed(0).padStart(5)} s ${String(now.rounds - last.rounds).padStart(5)} rounds ${perCommand.toFixed(0).padStart(5)} µs/cmd | ${tables}\n`,
    );
    if (values.statements) {
      // Which statements' execution time moved in this window (µs per round).
      const top = await pool.query<{ exec: number; calls: string; query: string }>(
        `SELECT total_exec_time AS exec, calls, query FROM pg_stat_statements
         WHERE query NOT LIKE '%pg_stat%' ORDER BY total_exec_time DESC LIMIT 6`,
      );
      for (const r of top.rows)
        process.stdout.write(
          `        ${((r.exec * 1000) / (now.rounds - last.rounds)).toFixed(1).padStart(8)} µs/round ${(Number(r.calls) / (now.rounds - last.rounds)).toFixed(2).padStart(6)} calls  ${r.query.replace(/\s+/g, ' ').slice(0, 100)}\n`,
        );
      await pool.query('SELECT pg_stat_statements_reset()');
    }
    last = now;
  }
}

/** The statements PostgreSQL ran since the last reset, the costliest first, per command. */
async function printStatements(pool: Pool, name: string): Promise<void> {
  const { rows } = await pool.query<{
    calls: string;
    exec: number;
    plan: number;
    wal_bytes: string;
    query: string;
  }>(
    `SELECT calls, total_exec_time AS exec, total_plan_time AS plan, wal_bytes, query FROM pg_stat_statements
     WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time + total_plan_time DESC LIMIT 60`,
  );
  process.stdout.write(
    `${name}\n       calls   exec µs   plan µs  WAL bytes  (per command; nested statements included in their caller)\n`,
  );
  const all = await pool.query<{ calls: string }>(
    `SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'
       AND query NOT LIKE '%pg_stat_wal%' AND query NOT LIKE '%pg_stat_user_tables%'`,
  );
  process.stdout.write(
    `  statements PostgreSQL ran per command, nested included: ${(Number(all.rows[0]!.calls) / REPEAT).toFixed(2)}\n`,
  );
  for (const r of rows)
    process.stdout.write(
      `  ${(Number(r.calls) / REPEAT).toFixed(2).padStart(10)} ${((r.exec * 1000) / REPEAT).toFixed(1).padStart(9)} ${((r.plan * 1000) / REPEAT).toFixed(1).padStart(9)} ${(Number(r.wal_bytes) / REPEAT).toFixed(0).padStart(10)}  ${r.query.replace(/\s+/g, ' ').slice(0, 120)}\n`,
    );
}

type TableWrites = Map<string, { upd: number; hot: number; ins: number; del: number }> & { wal?: WalStat };
type WalStat = { records: number; fpi: number; bytes: number };

/** Row writes per table (updates, of which HOT) and the cluster's WAL so far. */
async function tableWrites(pool: Pool): Promise<TableWrites> {
  // Backends report their counters to the statistics views at most once a second, and when idle
  // after a second: wait for the pool's idle backends to report.
  await new Promise<void>((resolve) => setTimeout(resolve, 1100));
  const { rows } = await pool.query<{ relname: string; upd: string; hot: string; ins: string; del: string }>(
    `SELECT relname, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_ins AS ins, n_tup_del AS del
     FROM pg_stat_user_tables`,
  );
  const map: TableWrites = new Map(
    rows.map((r) => [
      r.relname,
      { upd: Number(r.upd), hot: Number(r.hot), ins: Number(r.ins), del: Number(r.del) },
    ]),
  );
  const wal = await pool.query<{ records: string; fpi: string; bytes: string }>(
    'SELECT wal_records AS records, wal_fpi AS fpi, wal_bytes AS bytes FROM pg_stat_wal',
  );
  const w = wal.rows[0];
  if (w) map.wal = { records: Number(w.records), fpi: Number(w.fpi), bytes: Number(w.bytes) };
  return map;
}

async function printTableWrites(pool: Pool, before: TableWrites): Promise<void> {
  const after = await tableWrites(pool);
  process.stdout.write('  row writes per command: table  inserts  updates (HOT)  deletes\n');
  for (const [name, a] of after) {
    const b = before.get(name) ?? { upd: 0, hot: 0, ins: 0, del: 0 };
    const d = { upd: a.upd - b.upd, hot: a.hot - b.hot, ins: a.ins - b.ins, del: a.del - b.del };
    if (d.upd + d.ins + d.del === 0) continue;
    const f = (n: number) => (n / REPEAT).toFixed(2).padStart(7);
    process.stdout.write(`    ${name.padEnd(28)} ${f(d.ins)} ${f(d.upd)} (${f(d.hot)}) ${f(d.del)}\n`);
  }
  if (before.wal && after.wal) {
    const f = (n: number) => (n / REPEAT).toFixed(1);
    process.stdout.write(
      `  WAL per command: ${f(after.wal.records - before.wal.records)} records, ${f(after.wal.fpi - before.wal.fpi)} full pages, ${f(after.wal.bytes - before.wal.bytes)} bytes\n`,
    );
  }
}

await main();
// Sessions keep their inactivity timers; the database is stopped, nothing is left to finish.
process.exit(0);
