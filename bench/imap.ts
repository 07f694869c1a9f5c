// IMAP benchmark: an imaptest-like command mix (LOGIN, LIST, STATUS, SELECT, FETCH of random
// fields, FETCH BODY.PEEK[], STORE, EXPUNGE, APPEND, LOGOUT) from 10 clients with a fixed seed,
// against Hermod's imap service and Dovecot (Debian's package) on loopback with the same mailbox
// contents and duration; prints commands/s, latency p50/p99 and the ratios. Then memory with many
// idle IDLE connections. Usage:
//   node --import tsx bench/imap.ts [--clients 10] [--seconds 20] [--messages 100] [--idle 5000]
import { execFile, spawn } from 'node:child_process';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { AccountStore, hashPassword } from '@hermod/accounts';
import { createPool, migrate, withTransaction } from '@hermod/db';
import {
  ensureNatsServer,
  freePort,
  NatsServerProcess,
  NodeServiceProcess,
  PostgresCluster,
  waitForPort,
} from '@hermod/local-infra';
import { appendToMailbox, resolveMailbox, writeBody } from '@hermod/mail-store';
import { serviceCommands } from './lib/bundled-service.js';
import { MIX_FETCH_FIELDS } from './lib/imap-mix.js';
import { cpuByComponent } from './lib/process-cpu.js';
import { profileEnv } from './lib/profile-option.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '20' },
    messages: { type: 'string', default: '100' },
    idle: { type: 'string', default: '5000' },
    'dovecot-idle': { type: 'string', default: '1000' },
    // A V8 CPU profile of the imap service into this folder (bench/lib/profile-top.ts summarizes it).
    profile: { type: 'string' },
    // Run the service from TypeScript through tsx (as `npm start`) instead of the image's bundle.
    'from-source': { type: 'boolean', default: false },
  },
});
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const MESSAGES = Number(values.messages);
const IDLE = Number(values.idle);
const DOVECOT_IDLE = Number(values['dovecot-idle']);
const PASSWORD = 'bench-password-1';
const say = (line: string) => process.stdout.write(`[imap-bench] ${line}\n`);
const exec = promisify(execFile);

/** Deterministic PRNG (mulberry32), one per client, so both servers see the same command sequence. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function message(n: number): Buffer {
  const body = Array.from(
    { length: 60 },
    (_, i) => `line ${i} of message ${n}: ${'lorem ipsum dolor sit amet '.repeat(2)}`,
  ).join('\r\n');
  return Buffer.from(
    `From: Sender ${n} <sender${n}@example.net>\r\nTo: bench@example.com\r\nSubject: bench message ${n}\r\n` +
      `Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b${n}@example.net>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`,
  );
}

/** A bare IMAP client: one command at a time, literals in responses skipped over correctly. */
class LoadClient {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { tag: string; resolve: (line: string) => void; reject: (e: Error) => void } | undefined;
  private tag = 0;
  private greeted: Promise<void>;

  constructor(private readonly socket: Socket) {
    let greet: () => void;
    this.greeted = new Promise((r) => {
      greet = r;
    });
    let sawGreeting = false;
    socket.on('data', (d: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, d]) : d;
      if (!sawGreeting && this.buffer.indexOf(0x0a) >= 0) {
        sawGreeting = true;
        this.buffer = this.buffer.subarray(this.buffer.indexOf(0x0a) + 1);
        greet();
      }
      this.scan();
    });
    socket.on('error', (e) => this.waiting?.reject(e));
    socket.on('close', () => this.waiting?.reject(new Error('closed')));
  }

  static async open(port: number): Promise<LoadClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    socket.setNoDelay(true);
    const client = new LoadClient(socket);
    await client.greeted;
    return client;
  }

  private scan(): void {
    if (!this.waiting) return;
    let offset = 0;
    for (;;) {
      const lf = this.buffer.indexOf(0x0a, offset);
      if (lf < 0) break;
      const literal = /\{(\d+)\}\r$/.exec(this.buffer.toString('latin1', Math.max(offset, lf - 20), lf));
      if (literal) {
        const end = lf + 1 + Number(literal[1]);
        if (end > this.buffer.length) break;
        offset = end;
        continue;
      }
      const line = this.buffer.toString('latin1', offset, lf);
      offset = lf + 1;
      if (line.startsWith(`${this.waiting.tag} `)) {
        const w = this.waiting;
        this.waiting = undefined;
        this.buffer = this.buffer.subarray(offset);
        w.resolve(line);
        return;
      }
    }
    this.buffer = this.buffer.subarray(offset);
  }

  command(text: string | Buffer, literal?: Buffer): Promise<string> {
    const tag = `b${++this.tag}`;
    return new Promise((resolve, reject) => {
      this.waiting = { tag, resolve, reject };
      if (literal) {
        this.socket.write(`${tag} ${text} {${literal.length}+}\r\n`);
        this.socket.write(literal);
        this.socket.write('\r\n');
      } else {
        this.socket.write(`${tag} ${text}\r\n`);
      }
    });
  }

  send(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Result {
  commands: number;
  latencies: number[];
  byVerb: Map<string, number[]>;
  errors: number;
}

/**
 * The mix, per client in a loop. With relogin (the imaptest-like default) every round is a new
 * connection with LOGIN ... LOGOUT, so the password hash (argon2id on both sides) weighs heavily;
 * without it each client logs in once and repeats the rest, which measures the mailbox commands alone.
 */
async function runMix(port: number, users: string[], seconds = SECONDS, relogin = true): Promise<Result> {
  const result: Result = { commands: 0, latencies: [], byVerb: new Map(), errors: 0 };
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    users.map(async (user, index) => {
      const random = prng(1000 + index);
      const timed = async (client: LoadClient, text: string, literal?: Buffer) => {
        const started = process.hrtime.bigint();
        const line = await client.command(text, literal);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        result.latencies.push(ms);
        const verb = text.toString().split(' ')[0]!;
        const byVerb = result.byVerb.get(verb);
        if (byVerb) byVerb.push(ms);
        else result.byVerb.set(verb, [ms]);
        result.commands++;
        if (!/^\S+ OK/.test(line)) result.errors++;
        return line;
      };
      let client: LoadClient | undefined;
      while (Date.now() < deadline) {
        if (!client) {
          client = await LoadClient.open(port);
          await timed(client, `LOGIN ${user} ${PASSWORD}`);
        }
        await timed(client, 'LIST "" "*"');
        await timed(client, 'STATUS INBOX (MESSAGES UNSEEN UIDNEXT)');
        const select = await timed(client, 'SELECT INBOX');
        void select;
        for (let i = 0; i < 5 && Date.now() < deadline; i++) {
          const n = 1 + random(MESSAGES - 10);
          const fields = MIX_FETCH_FIELDS.filter(() => random(2) === 0);
          await timed(client, `FETCH ${n}:${n + random(10)} (${['UID', ...fields].join(' ')})`);
          await timed(client, `FETCH ${1 + random(MESSAGES - 10)} BODY.PEEK[]`);
          await timed(client, `STORE ${1 + random(MESSAGES - 10)} ${random(2) ? '+' : '-'}FLAGS (\\Seen)`);
        }
        // Keep the mailbox size stable: append one, delete the oldest.
        await timed(client, 'APPEND INBOX (\\Seen)', message(10_000 + random(1000)));
        await timed(client, 'STORE 1 +FLAGS.SILENT (\\Deleted)');
        await timed(client, 'EXPUNGE');
        if (relogin || Date.now() >= deadline) {
          await timed(client, 'LOGOUT');
          client.close();
          client = undefined;
        }
      }
    }),
  );
  return result;
}

/**
 * The mix against one server with the CPU each component spent on it per command (microseconds):
 * Hermod's imap service, PostgreSQL and nats-server; all of Dovecot's processes as one.
 */
async function measuredMix(
  name: string,
  port: number,
  users: string[],
  relogin: boolean,
): Promise<ReturnType<typeof summary>> {
  const before = cpuByComponent();
  const result = await runMix(port, users, SECONDS, relogin);
  const after = cpuByComponent();
  const s = summary(name, result);
  const parts = [...after]
    .map(([component, seconds]) => ({
      component,
      us: ((seconds - (before.get(component) ?? 0)) * 1e6) / Math.max(1, result.commands),
    }))
    .filter((p) => p.us >= 1)
    .sort((a, b) => b.us - a.us);
  say(
    `${name}: CPU per command ${parts.reduce((sum, p) => sum + p.us, 0).toFixed(0)} µs (${parts.map((p) => `${p.component} ${p.us.toFixed(0)}`).join(', ')})`,
  );
  return s;
}

function summary(name: string, r: Result) {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const perSecond = r.commands / SECONDS;
  const verbs = [...r.byVerb].map(
    ([verb, l]) => `${verb} ${[...l].sort((a, b) => a - b)[Math.floor(l.length / 2)]?.toFixed(1)}`,
  );
  say(`${name}: p50 by command (ms): ${verbs.join(', ')}`);
  say(
    `${name}: ${r.commands} commands in ${SECONDS}s = ${perSecond.toFixed(0)} cmd/s, p50 ${pct(50).toFixed(2)} ms, p99 ${pct(99).toFixed(2)} ms, non-OK ${r.errors}`,
  );
  return { perSecond, p50: pct(50), p99: pct(99) };
}

/**
 * Memory of a set of processes in KiB: the sum of their PSS (shared pages divided among the
 * processes sharing them), so Dovecot's process per session does not count its libraries once per
 * process; VmRSS where smaps_rollup is not readable. For one process PSS is about its RSS.
 */
async function rssKiB(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) {
    try {
      const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
      const pss = /^Pss:\s+(\d+)/m.exec(rollup)?.[1];
      if (pss !== undefined) total += Number(pss);
      else {
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      }
    } catch {
      // process gone
    }
  }
  return total;
}

/** The Dovecot master and its children (imap-login, imap, auth, ...). */
async function dovecotPids(master: number): Promise<number[]> {
  const { stdout } = await exec('pgrep', ['-P', String(master)]).catch(() => ({ stdout: '' }));
  return [master, ...stdout.split('\n').filter(Boolean).map(Number)];
}

/** Opens n connections, logs each in, selects INBOX and enters IDLE; returns them. */
async function openIdlers(port: number, users: string[], n: number): Promise<LoadClient[]> {
  const clients: LoadClient[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async (_, j) => {
        const c = await LoadClient.open(port);
        await c.command(`LOGIN ${users[(i + j) % users.length]} ${PASSWORD}`);
        await c.command('SELECT INBOX');
        c.send('idle IDLE\r\n');
        return c;
      }),
    );
    clients.push(...batch);
  }
  await new Promise((r) => setTimeout(r, 2000));
  return clients;
}

async function main(): Promise<void> {
  const dir = join(tmpdir(), `hermod-imap-bench-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const cleanup: Array<() => Promise<void>> = [];
  try {
    const users = Array.from({ length: CLIENTS }, (_, i) => `bench${i + 1}@example.com`);

    // Hermod: PostgreSQL, nats-server, the imap service.
    const pg = new PostgresCluster({ dataDir: join(dir, 'pg'), port: await freePort() });
    await pg.init();
    await pg.start();
    cleanup.push(() => pg.stop());
    const url = await pg.createDatabase('hermod');
    const pool = createPool({ connectionString: url, max: 4 });
    cleanup.push(() => pool.end());
    await migrate(pool);
    const nats = new NatsServerProcess({
      binary: await ensureNatsServer(),
      port: await freePort(),
      storeDir: join(dir, 'nats'),
    });
    await nats.start();
    cleanup.push(() => nats.stop());
    const accounts = new AccountStore(pool);
    for (const user of users) {
      const account = await accounts.create({ address: user, password: PASSWORD });
      await withTransaction(pool, async (client) => {
        const box = await resolveMailbox(client, account.id, 'INBOX');
        for (let n = 1; n <= MESSAGES; n++) {
          const body = await writeBody(client, [message(n)]);
          await appendToMailbox(client, {
            mailboxId: box.id,
            bodyId: body.bodyId,
            size: body.size,
            internalDate: new Date(),
            flags: [],
          });
        }
      });
    }
    const hermodPort = await freePort();
    const hermodEnv = {
      DATABASE_URL: url,
      NATS_URL: nats.url,
      IMAP_HOST: '127.0.0.1',
      OPS_HOST: '127.0.0.1',
      IMAP_PORT: String(hermodPort),
      IMAP_LISTENERS: 'imap',
      IMAP_ALLOW_PLAINTEXT_AUTH: 'true',
      IMAP_MAX_CONNECTIONS_PER_IP: '100000',
      IMAP_MAX_CONNECTIONS_PER_USER: '100000',
      LOG_LEVEL: 'warn',
      ...profileEnv(),
    };
    const { imap: command } = await serviceCommands(['imap']);
    const hermod = new NodeServiceProcess({
      service: 'imap',
      opsPort: await freePort(),
      env: hermodEnv,
      ...(command ? { command } : {}),
    });
    await hermod.start();
    cleanup.push(() => hermod.stop());

    // Dovecot: Maildir with the same messages, passwd-file users with the same argon2id cost as Hermod's, no TLS (as Hermod here).
    const dovecotPort = await freePort();
    const mailRoot = join(dir, 'dovecot-mail');
    for (const user of users) {
      for (const folder of ['', '.Drafts', '.Sent', '.Trash', '.Junk', '.Archive']) {
        for (const sub of ['cur', 'new', 'tmp'])
          await mkdir(join(mailRoot, user, folder, sub), { recursive: true });
      }
      for (let n = 1; n <= MESSAGES; n++)
        await writeFile(
          join(mailRoot, user, 'cur', `${1700000000 + n}.M${n}P1.bench,S=${message(n).length}:2,`),
          message(n),
        );
    }
    await exec('chown', ['-R', '65534:65534', mailRoot]);
    await writeFile(
      join(dir, 'passwd'),
      (
        await Promise.all(users.map(async (u) => `${u}:{ARGON2ID}${await hashPassword(PASSWORD)}::::::`))
      ).join('\n') + '\n',
    );
    for (const d of ['run', 'state']) await mkdir(join(dir, 'dovecot', d), { recursive: true });
    await chown(join(dir, 'dovecot', 'state'), 0, 0);
    const conf = join(dir, 'dovecot.conf');
    await writeFile(
      conf,
      `base_dir = ${dir}/dovecot/run
state_dir = ${dir}/dovecot/state
log_path = ${dir}/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:${mailRoot}/%u
mail_fsync = optimized
mail_max_userip_connections = 100000
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=${mailRoot}/%u
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Junk {
    special_use = \\Junk
  }
  mailbox Archive {
    special_use = \\Archive
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${dovecotPort}
  }
  inet_listener imaps {
    port = 0
  }
  process_limit = 10000
  client_limit = 10000
}
service imap {
  process_limit = 10000
}
default_process_limit = 10000
default_client_limit = 20000
`,
    );
    const dovecot = spawn('dovecot', ['-F', '-c', conf], { stdio: 'ignore' });
    cleanup.push(async () => {
      dovecot.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
    });
    await waitForPort(dovecotPort, 15_000, '127.0.0.1');

    say(`mix: ${CLIENTS} clients, ${SECONDS}s each, ${MESSAGES} messages per INBOX (4 KiB), fixed seed`);
    // A short warm-up first (Dovecot builds its indexes, Hermod caches MIME structures).
    await runMix(dovecotPort, users, 3);
    await runMix(hermodPort, users, 3);
    const d = await measuredMix('dovecot', dovecotPort, users, true);
    const h = await measuredMix('hermod ', hermodPort, users, true);
    say(
      `ratio hermod/dovecot: throughput ${(h.perSecond / d.perSecond).toFixed(2)}, p50 ${(h.p50 / d.p50).toFixed(2)}x, p99 ${(h.p99 / d.p99).toFixed(2)}x`,
    );
    say('same mix, one LOGIN per client for the whole run (mailbox commands without password hashing):');
    const d1 = await measuredMix('dovecot', dovecotPort, users, false);
    const h1 = await measuredMix('hermod ', hermodPort, users, false);
    say(
      `ratio hermod/dovecot (one login): throughput ${(h1.perSecond / d1.perSecond).toFixed(2)}, p50 ${(h1.p50 / d1.p50).toFixed(2)}x, p99 ${(h1.p99 / d1.p99).toFixed(2)}x`,
    );

    const hermodBase = await rssKiB([hermod.pid!]);
    const idlers = await openIdlers(hermodPort, users, IDLE);
    const hermodIdle = await rssKiB([hermod.pid!]);
    say(
      `hermod: ${IDLE} IDLE sessions, PSS ${(hermodBase / 1024).toFixed(0)} MiB -> ${(hermodIdle / 1024).toFixed(0)} MiB (${(((hermodIdle - hermodBase) * 1024) / IDLE / 1024).toFixed(1)} KiB per session)`,
    );
    for (const c of idlers) c.close();
    const dovecotBase = await rssKiB(await dovecotPids(dovecot.pid!));
    const dIdlers = await openIdlers(dovecotPort, users, DOVECOT_IDLE);
    const dovecotIdle = await rssKiB(await dovecotPids(dovecot.pid!));
    say(
      `dovecot: ${DOVECOT_IDLE} IDLE sessions, PSS (all processes) ${(dovecotBase / 1024).toFixed(0)} MiB -> ${(dovecotIdle / 1024).toFixed(0)} MiB (${(((dovecotIdle - dovecotBase) * 1024) / DOVECOT_IDLE / 1024).toFixed(1)} KiB per session)`,
    );
    for (const c of dIdlers) c.close();
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

await main();
