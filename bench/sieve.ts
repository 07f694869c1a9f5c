// Sieve at delivery: mda's delivery path (deliverBatch, batches of 64 as MDA_BATCH_SIZE, against
// PostgreSQL, in process: no SMTP, no NATS) three ways side by side in one run, the same messages to
// each mode's accounts, the modes taking turns batch by batch (so that the box's other load falls on
// all three alike), after a warm-up:
//   off      Sieve disabled (MDA_SIEVE_ENABLED=false): the delivery path without any filter;
//   default  Sieve on, recipients without scripts of their own: only the default after-script
//            (spam to Junk) runs, which is what every deployment now does;
//   sieve    a typical 20-rule personal script active for every recipient plus the domain's
//            global before-script (and the default after-script).
// Then script evaluation alone (the engine, compiled scripts, no I/O): p50 / p99 per recipient.
// It runs as mda runs in the image: bundled by esbuild (docker/bundle.ts) and started with plain node
// after the tracing setup (bench/lib/bundled-service.ts); --from-source runs it through tsx, whose
// loader names every closure it makes (a defineProperty each), which the image does not pay.
// Usage: npm run bench -- sieve [--messages N] [--rounds R] [--warmup N] [--evaluations N] [--evaluation-only]
//        [--modes off,default,sieve] [--concurrency N] [--profile DIR] [--from-source]
// --concurrency N delivers N batches at once, as mda's consumer does with MDA_CONCURRENCY N (default:
// mda's default): the modes then take turns by segments of 4 x N batches, within which a new batch
// starts whenever fewer than N are running (consumeJobs' pump, with a backlog); with 1, by single
// batches as before.
// --modes runs only the modes named (the others report nothing); --profile DIR writes a V8 CPU profile
// of each measured round's deliveries (not their preparation) to DIR/round-N.cpuprofile
// (bench/lib/profile-top.ts summarizes it).

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AccountStore } from '@hermod/accounts';
import { createPool } from '@hermod/db';
import { repositoryRoot } from '@hermod/local-infra';
import { createLogger } from '@hermod/logging';
import { type DeliveryDeps, deliverBatch, mdaEnv, mdaSessionSettings } from '@hermod/mda';
import { type CompiledScript, compileSieve, deserializeCompiled, runSieveScripts } from '@hermod/sieve';
import { defaultAfterScript, SieveScripts } from '@hermod/sieve-store';
import { insertSmallMessages } from '@hermod/spool';
import { testDatabase } from '@hermod/test/harness';
import { fromSource, numberArg } from './lib/args.js';
import { cpuReaderOf } from './lib/process-cpu.js';
import { profileDir } from './lib/profile-option.js';
import { formatRatios, roundRatios } from './lib/round-ratios.js';
import {
  beforeScript as before,
  messageFor,
  personalScript as personal,
  spamStatus,
} from './lib/sieve-load.js';

if (!fromSource() && process.env.HERMOD_SIEVE_BENCH_BUNDLE !== '1') {
  // This file, bundled (its assets where they are: the bundle only runs from this checkout). Imported
  // here only: docker/bundle.ts, bundled into the child, would take the child's arguments for its own.
  const { bundleEntry } = await import('../docker/bundle.js');
  const { tracingPreload } = await import('./lib/bundled-service.js');
  const bundle = join(repositoryRoot, 'dist', 'bench', 'sieve-bench.js');
  await bundleEntry(fileURLToPath(import.meta.url), bundle, { assetsInPlace: true });
  const run = spawnSync(
    process.execPath,
    [
      '--enable-source-maps',
      '--import',
      pathToFileURL(await tracingPreload()).href,
      bundle,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env: { ...process.env, HERMOD_SIEVE_BENCH_BUNDLE: '1' } },
  );
  process.exit(run.status ?? 1);
}

const messages = numberArg('messages', 1000);
const rounds = numberArg('rounds', 3);
const batch = 64;
const concurrency = numberArg('concurrency', mdaEnv.shape.MDA_CONCURRENCY.parse(undefined));
if (!Number.isInteger(concurrency) || concurrency < 1)
  throw new Error('--concurrency takes a whole number from 1');
/** Batches one mode delivers per turn: one at a time as before, or enough to keep N in flight. */
const segment = concurrency === 1 ? 1 : 4 * concurrency;
const accountsPerMode = 50;
const evaluations = numberArg('evaluations', 5000);
const warmup = numberArg('warmup', 5000);
const evaluationOnly = process.argv.includes('--evaluation-only');
const allModes = ['off', 'default', 'sieve'] as const;
type Mode = (typeof allModes)[number];
const modesArg = process.argv.indexOf('--modes');
const modes: readonly Mode[] =
  modesArg > 0 ? allModes.filter((m) => process.argv[modesArg + 1]!.split(',').includes(m)) : allModes;
const profiling = profileDir();
const profiler = profiling ? new Session() : undefined;
if (profiler && profiling) {
  mkdirSync(profiling, { recursive: true });
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
}

const db = await testDatabase();
// Delivery runs on sessions set up as mda's are (mdaSessionSettings: plans cached per session).
const mdaPool = createPool({
  connectionString: db.url,
  max: Math.max(5, concurrency + 3),
  settings: mdaSessionSettings,
});
// Statements mda sends per delivered message, and the wall time it waits on them, by mode: every
// session the pool hands out counts its queries while `counting` is set.
const statements = { count: 0, waitNs: 0n, byText: new Map<string, { n: number; ns: bigint }>() };
const breakdown = process.argv.includes('--statements');
let counting = false;
const wrapped = new WeakSet<object>();
mdaPool.on('acquire', (client) => {
  if (wrapped.has(client)) return;
  wrapped.add(client);
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const result = query(...args);
    if (!counting || !(result instanceof Promise)) return result;
    statements.count++;
    const started = process.hrtime.bigint();
    return result.finally(() => {
      const took = process.hrtime.bigint() - started;
      statements.waitNs += took;
      if (!breakdown) return;
      const first = args[0] as string | { text: string };
      const text = (typeof first === 'string' ? first : first.text).replace(/\s+/g, ' ').slice(0, 70);
      const entry = statements.byText.get(text) ?? { n: 0, ns: 0n };
      entry.n++;
      entry.ns += took;
      statements.byText.set(text, entry);
    });
  };
});
const logger = createLogger('bench-sieve', 'silent');
// Batches whose one statement failed (deliverBatch then delivers their jobs one by one), by error
// code: with several batches in flight, a deadlock between them (40P01) shows here.
const batchFailures = new Map<string, number>();
const silentWarn = logger.warn.bind(logger);
logger.warn = ((obj: unknown, msg?: string, ...rest: unknown[]) => {
  if (typeof msg === 'string' && msg.startsWith('batch delivery failed')) {
    const code = (obj as { err?: { code?: string } }).err?.code ?? 'other';
    batchFailures.set(code, (batchFailures.get(code) ?? 0) + 1);
  }
  return silentWarn(obj as object, msg, ...rest);
}) as typeof logger.warn;
const accounts = new AccountStore(db.pool);
const scripts = new SieveScripts(db.pool, { maxScriptBytes: 65_536, maxScripts: 16, maxNesting: 32 });
const ids: Record<Mode, Array<{ id: number; address: string }>> = { off: [], default: [], sieve: [] };
for (const mode of modes)
  for (let i = 0; i < accountsPerMode; i++) {
    const address = `u${i}@${mode}.bench.test`;
    ids[mode].push({ id: (await accounts.create({ address, password: 'bench-password-1' })).id, address });
  }
await scripts.putGlobal('sieve.bench.test', 'admin', 'before', before);
for (const { id } of ids.sieve) {
  await scripts.put({ id, domain: 'sieve.bench.test' }, 'main', personal);
  await scripts.activate({ id, domain: 'sieve.bench.test' }, 'main');
}

const runSeconds: number[] = [];
const counter = { inc: () => {} };
const sieveDeps = {
  timeBudgetMs: 100,
  maxActions: 32,
  maxRedirects: 4,
  hostname: 'mail.bench.test',
  autoRepliesPerHour: 100,
  subaddressSeparator: () => '+',
  rewriteSender: (sender: string) => sender,
  metrics: {
    runs: counter,
    actions: counter,
    failures: counter,
    seconds: { observe: (s: number) => runSeconds.push(s) },
  } as unknown as NonNullable<DeliveryDeps['sieve']>['metrics'],
};
const depsFor = (mode: Mode): DeliveryDeps => ({
  pool: mdaPool,
  logger,
  quotaRetryMs: 60_000,
  announce: () => {},
  ...(mode === 'off' ? {} : { sieve: sieveDeps }),
});

/** Messages accepted (and routed) before the clock starts: only delivery is measured. */
async function prepare(mode: Mode, count: number, offset: number) {
  const jobs: Array<{
    spoolId: string;
    recipients: Array<{ rcptIndex: number; accountId: number; mailbox: string }>;
  }> = [];
  for (let start = 0; start < count; start += 200) {
    const inputs = [];
    for (let n = start; n < Math.min(count, start + 200); n++) {
      const to = ids[mode][n % accountsPerMode]!;
      inputs.push({
        mailFrom: `sender${n % 13}@remote.example`,
        recipients: [{ address: to.address }],
        source: 'mx' as const,
        envelope: { spamStatus },
        body: messageFor(offset + n, to.address),
      });
    }
    const spoolIds = await insertSmallMessages(db.pool, inputs);
    for (const [k, spoolId] of spoolIds.entries())
      jobs.push({
        spoolId,
        recipients: [
          { rcptIndex: 0, accountId: ids[mode][(start + k) % accountsPerMode]!.id, mailbox: 'INBOX' },
        ],
      });
  }
  await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE state = 'pending'`);
  return jobs;
}

/** mda's own CPU (this process) per message, by mode: a figure the box's other load disturbs less. */
const cpuMicros: Record<Mode, number[]> = { off: [], default: [], sieve: [] };
/** PostgreSQL's CPU per message (its backends and background processes, from /proc), by mode. */
const pgCpuMicros: Record<Mode, number[]> = { off: [], default: [], sieve: [] };
const perMessage: Record<Mode, Array<{ statements: number; waitMicros: number }>> = {
  off: [],
  default: [],
  sieve: [],
};

/**
 * The batches delivered as mda's consumer (consumeJobs) delivers a backlog with MDA_CONCURRENCY
 * `concurrency`: a batch starts whenever fewer than that many are running, each on its own session.
 */
async function deliverConcurrently(deps: DeliveryDeps, batches: Array<Parameters<typeof deliverBatch>[1]>) {
  const outcomes: Awaited<ReturnType<typeof deliverBatch>> = [];
  let next = 0;
  const worker = async () => {
    while (next < batches.length) outcomes.push(...(await deliverBatch(deps, batches[next++]!)));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
  return outcomes;
}

/**
 * One round: the same messages (by position: same sender, subject, list headers) for each mode's
 * accounts, delivered batch by batch with the modes taking turns in a rotating order, so that the
 * box's other load and PostgreSQL's background work (WAL writes, autovacuum) fall on every mode
 * alike. Returns messages per second of delivery time, by mode.
 */
async function deliverRound(count: number, offset: number, round = 0): Promise<Record<Mode, number>> {
  const jobs = {} as Record<Mode, Awaited<ReturnType<typeof prepare>>>;
  for (const mode of modes) jobs[mode] = await prepare(mode, count, offset);
  // PostgreSQL's processes found once for the round: reading every process of the box around each
  // batch made garbage that mda's collector paid for inside the measured time.
  const pgSeconds = cpuReaderOf('postgres');
  if (profiler && round > 0) await profiler.post('Profiler.start');
  const spent = Object.fromEntries(
    modes.map((m) => [m, { wallNs: 0n, cpuMicros: 0, pgSeconds: 0, statements: 0, waitNs: 0n }]),
  ) as Record<
    Mode,
    { wallNs: bigint; cpuMicros: number; pgSeconds: number; statements: number; waitNs: bigint }
  >;
  statements.byText.clear();
  for (let i = 0, turn = 0; i < count; i += batch * segment, turn++)
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(turn + k) % modes.length]!;
      const deps = depsFor(mode);
      const batches: Array<(typeof jobs)[Mode]> = [];
      for (let b = i; b < Math.min(count, i + batch * segment); b += batch)
        batches.push(jobs[mode].slice(b, Math.min(count, b + batch)));
      statements.count = 0;
      statements.waitNs = 0n;
      const pgBefore = pgSeconds();
      counting = true;
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      const outcomes = await deliverConcurrently(deps, batches);
      const took = process.hrtime.bigint() - started;
      const used = process.cpuUsage(cpu);
      counting = false;
      const pgUsed = pgSeconds() - pgBefore;
      const bad = outcomes.find((o) => o.kind !== 'ack');
      if (bad) throw new Error(`${mode}: delivery ${bad.kind}`);
      const t = spent[mode];
      t.wallNs += took;
      t.cpuMicros += used.user + used.system;
      t.pgSeconds += pgUsed;
      t.statements += statements.count;
      t.waitNs += statements.waitNs;
    }
  if (profiler && profiling && round > 0) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(join(profiling, `round-${round}.cpuprofile`), JSON.stringify(profile));
  }
  const rates = {} as Record<Mode, number>;
  for (const mode of modes) {
    const t = spent[mode];
    cpuMicros[mode].push(t.cpuMicros / count);
    pgCpuMicros[mode].push((t.pgSeconds * 1e6) / count);
    perMessage[mode].push({ statements: t.statements / count, waitMicros: Number(t.waitNs) / 1e3 / count });
    rates[mode] = count / (Number(t.wallNs) / 1e9);
  }
  if (breakdown)
    for (const [text, { n, ns }] of statements.byText)
      console.log(
        `  ${String(n).padStart(4)} x ${(Number(ns) / 1e3 / n).toFixed(0).padStart(6)} us  ${text}`,
      );
  return rates;
}

class SkipDelivery extends Error {}
const rates: Record<Mode, number[]> = { off: [], default: [], sieve: [] };
const sieveRunSeconds: number[] = [];
let offset = 0;
try {
  if (evaluationOnly) throw new SkipDelivery();
  // Warm-up, not measured: the JIT (mda runs for months; its filter path takes some 6,000 recipients,
  // about 100 batches, to reach its steady CPU cost, and costs up to ten times as much before), plan
  // caches, and the mailboxes the personal script's fileinto :create makes on first use.
  await deliverRound(warmup, offset);
  offset += warmup;
  for (let round = 1; round <= rounds; round++) {
    runSeconds.length = 0;
    const r = await deliverRound(messages, offset, round);
    offset += messages;
    for (const mode of modes) rates[mode].push(r[mode]);
    sieveRunSeconds.push(...runSeconds);
  }
} catch (error) {
  if (!(error instanceof SkipDelivery)) throw error;
} finally {
  await mdaPool.end();
  await db.close();
}

// Evaluation alone: the three compiled scripts on the same messages, no database.
const compile = (source: string): CompiledScript => {
  const result = compileSieve(source);
  if (!result.ok) throw new Error(result.errors[0]?.message);
  return result.script;
};
const chain = [compile(before), compile(personal), deserializeCompiled(defaultAfterScript())];
const evalSeconds: number[] = [];
// CPU time of each evaluation as well: on a shared box, wall time also counts the moments this
// process was not scheduled.
const evalCpuSeconds: number[] = [];
const samples = Array.from({ length: 64 }, (_, n) => messageFor(n, 'u1@sieve.bench.test'));
for (let i = 0; i < evaluations; i++) {
  const raw = samples[i % samples.length]!;
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await runSieveScripts(
    chain,
    { raw, envelopeFrom: 'sender@remote.example', envelopeTo: 'u1+shop@sieve.bench.test' },
    {
      now: new Date(),
      domain: 'sieve.bench.test',
      subaddressSeparator: '+',
      host: 'mail.bench.test',
      spamScore: 2,
      mailboxExists: async () => true,
      timeBudgetMs: 100,
    },
  );
  const used = process.cpuUsage(cpu);
  if (i >= 500) {
    evalSeconds.push(Number(process.hrtime.bigint() - started) / 1e9);
    evalCpuSeconds.push((used.user + used.system) / 1e6);
  }
}

const pct = (values: number[], p: number) => {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const ms = (s: number) => `${(s * 1000).toFixed(3)} ms`;
const f = (n: number | undefined) => (n ?? Number.NaN).toFixed(0).padStart(7);
if (!evaluationOnly) {
  console.log(
    `\nsieve benchmark: ${messages} messages x ${rounds} rounds per mode, 4 KiB, one recipient each, batches of ${batch} (${concurrency} in flight), ${accountsPerMode} accounts per mode`,
  );
  console.log('round  off msg/s  default msg/s  sieve msg/s');
  for (let r = 0; r < rounds; r++)
    console.log(
      `${String(r + 1).padStart(5)}  ${f(rates.off[r])}    ${f(rates.default[r])}        ${f(rates.sieve[r])}`,
    );
  const median = (v: number[]) => pct(v, 50);
  console.log(
    `mda CPU per message (median of rounds): off ${median(cpuMicros.off).toFixed(0)} us, default ${median(cpuMicros.default).toFixed(0)} us, sieve ${median(cpuMicros.sieve).toFixed(0)} us`,
  );
  console.log(
    `PostgreSQL CPU per message (median of rounds): off ${median(pgCpuMicros.off).toFixed(0)} us, default ${median(pgCpuMicros.default).toFixed(0)} us, sieve ${median(pgCpuMicros.sieve).toFixed(0)} us`,
  );
  for (const mode of modes) {
    const last = perMessage[mode].at(-1)!;
    console.log(
      `${mode.padEnd(7)} statements per message ${last.statements.toFixed(2)}, wall waiting on PostgreSQL ${last.waitMicros.toFixed(0)} us per message (last round)`,
    );
  }
  console.log(`sieve/off:     ${formatRatios(roundRatios(rates.sieve, rates.off))}`);
  console.log(`default/off:   ${formatRatios(roundRatios(rates.default, rates.off))}`);
  console.log(`sieve/default: ${formatRatios(roundRatios(rates.sieve, rates.default))}`);
  console.log(
    `batches failed and delivered one by one: ${[...batchFailures].map(([code, n]) => `${code} x ${n}`).join(', ') || 'none'}`,
  );
  console.log(
    `per-recipient filter time in mda (run + actions + mailbox lookups): p50 ${ms(pct(sieveRunSeconds, 50))}, p99 ${ms(pct(sieveRunSeconds, 99))} (${sieveRunSeconds.length} runs)`,
  );
}
console.log(
  `script evaluation (before + 20-rule personal + default after, engine only): p50 ${ms(pct(evalSeconds, 50))}, p99 ${ms(pct(evalSeconds, 99))} wall; p50 ${ms(pct(evalCpuSeconds, 50))}, p99 ${ms(pct(evalCpuSeconds, 99))} CPU (${evalSeconds.length} runs)`,
);
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
process.exit(0);
