// Where an SMTP transaction waits in Hermod's accept path (no peer): msa (trusted network, as the
// submission bench) or mx (SPF/DKIM/DMARC/ARC, as the mx bench) under smtp-source's closed loop
// (4 KiB, 20 sessions), with routing and mda delivering meanwhile. Prints, per phase of the
// service's hermod_<service>_phase_seconds histogram, the count per message and the mean wait, and
// the CPU seconds per 1,000 messages per component.
// Usage: npm run bench -- accept-phases [--service msa|mx] [--messages N] [--rounds R] [--set KEY=VALUE ...] [--pg KEY=VALUE ...] [--waits]
// (--set adds to the service's environment, e.g. --set MSA_ACCEPT_TRANSACTIONS=8; --waits samples what
// PostgreSQL's busy backends wait for, which adds its own queries; --profile DIR as in the other benches)
import { setTimeout as samplingPause } from 'node:timers/promises';
import { AccountStore } from '@hermod/accounts';
import { startHermod } from '@hermod/test/harness';
import { serviceCommands } from './lib/bundled-service.js';
import { startMxUnderLoad } from './lib/mx-load.js';
import { cpuByComponent, cpuPerThousand, formatCpu } from './lib/process-cpu.js';
import { profileEnv } from './lib/profile-option.js';
import { smtpSource, waitUntil } from './lib/smtp-source.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const service = arg('service', 'msa') as 'msa' | 'mx';
const messages = Number(arg('messages', '3000'));
const rounds = Number(arg('rounds', '2'));
const warmUp = 1000;
const settings = {
  ...Object.fromEntries(
    process.argv.flatMap((a, i) => (process.argv[i - 1] === '--set' ? [a.split(/=(.*)/s).slice(0, 2)] : [])),
  ),
  ...profileEnv(),
} as Record<string, string>;

interface Sums {
  count: Map<string, number>;
  sum: Map<string, number>;
  /** The event loop's delay since the previous scrape (prom-client resets it on every scrape), ms. */
  lag: { mean: number; p99: number };
}

/** The phase histogram's _count and _sum per phase, from the service's /metrics. */
async function phaseSums(opsPort: number): Promise<Sums> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const gauge = (name: string) =>
    1000 *
    Number(
      new RegExp(`^hermod_nodejs_eventloop_lag_${name}_seconds\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1],
    );
  const sums: Sums = { count: new Map(), sum: new Map(), lag: { mean: gauge('mean'), p99: gauge('p99') } };
  const pattern = new RegExp(
    `^hermod_${service}_phase_seconds_(count|sum)\\{[^}]*phase="([a-z-]+)"[^}]*\\} (\\S+)$`,
    'gm',
  );
  for (const m of text.matchAll(pattern)) sums[m[1] as 'count' | 'sum'].set(m[2]!, Number(m[3]));
  return sums;
}

const platform =
  service === 'mx'
    ? await startMxUnderLoad({ dmarc: 'v=DMARC1; p=none', env: { mx: settings } })
    : await (async () => {
        const hermod = await startHermod({
          services: ['routing', 'mda', 'msa'],
          commands: await serviceCommands(['routing', 'mda', 'msa']),
          env: { msa: { MSA_TRUSTED_NETWORKS: '127.0.0.1/32', DATABASE_POOL_SIZE: '40', ...settings } },
        });
        await hermod.addDomain('bench.test');
        await new AccountStore(hermod.db.pool).create({
          address: 'box@bench.test',
          password: 'bench-password',
        });
        const delivered = async () =>
          Number(
            (await hermod.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM deliveries')).rows[0]!.n,
          );
        return {
          hermod,
          delivered,
          load: (n: number) =>
            smtpSource({
              port: hermod.ports.submission,
              messages: n,
              sessions: 20,
              bytes: 4096,
              from: 'load@bench.test',
              to: 'box@bench.test',
            }),
          stop: () => hermod.stop(),
        };
      })();
const opsPort = platform.hermod.services.get(service)!.options.opsPort;
/** Commits of the database, and WAL bytes and flushes (fsyncs) of the whole cluster, so far. */
const pgCounters = async () => {
  const { rows } = await platform.hermod.db.pool.query<Record<string, string>>(
    `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
            wal_bytes AS bytes, wal_fpi AS fpi, wal_sync AS syncs, wal_sync_time AS "syncMs" FROM pg_stat_wal`,
  );
  const row = rows[0]!;
  return {
    commits: Number(row.commits),
    bytes: Number(row.bytes),
    fpi: Number(row.fpi),
    syncs: Number(row.syncs),
    syncMs: Number(row.syncMs),
  };
};
// The bench's own cluster: time the WAL flushes (pg_stat_wal.wal_sync_time), and --pg KEY=VALUE
// settings that take effect on reload (e.g. --pg wal_sync_method=open_datasync).
await platform.hermod.db.pool.query('ALTER SYSTEM SET track_wal_io_timing = on');
for (const [i, a] of process.argv.entries()) {
  if (process.argv[i - 1] !== '--pg') continue;
  const [key, value] = a.split(/=(.*)/s) as [string, string];
  if (!/^[a-z_]+$/.test(key)) throw new Error(`not a setting: ${key}`);
  await platform.hermod.db.pool.query(`ALTER SYSTEM SET ${key} = '${value.replaceAll("'", "''")}'`);
}
await platform.hermod.db.pool.query('SELECT pg_reload_conf()');
try {
  await platform.load(warmUp);
  await waitUntil(platform.delivered, warmUp, process.hrtime.bigint());
  for (let round = 1; round <= rounds; round++) {
    const before = await phaseSums(opsPort);
    const delivered = await platform.delivered();
    const cpu = cpuByComponent();
    const pgBefore = await pgCounters();
    const since = process.hrtime.bigint();
    // What PostgreSQL's busy backends wait for, sampled while the load runs.
    const waits = new Map<string, number>();
    let sampling = process.argv.includes('--waits');
    const sampler = (async () => {
      const client = await platform.hermod.db.pool.connect();
      try {
        while (sampling) {
          const { rows } = await client.query<{ w: string; q: string }>(
            `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, left(query, 30) AS q
             FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()`,
          );
          for (const r of rows) {
            const key = `${r.w.padEnd(24)} ${r.q.replace(/\s+/g, ' ')}`;
            waits.set(key, (waits.get(key) ?? 0) + 1);
          }
          await samplingPause(2); // the sampling interval while the load runs
        }
      } finally {
        client.release();
      }
    })();
    const load = await platform.load(messages);
    sampling = false;
    await sampler;
    await waitUntil(async () => (await platform.delivered()) - delivered, messages, since);
    const after = await phaseSums(opsPort);
    const cpuText = formatCpu(
      cpuPerThousand(cpu, cpuByComponent(), messages, [service, 'routing', 'mda', 'postgres', 'nats-server']),
    );
    const pgAfter = await pgCounters();
    const perThousand = (key: 'commits' | 'bytes' | 'fpi' | 'syncs' | 'syncMs') =>
      (pgAfter[key] - pgBefore[key]) / (messages / 1000);
    console.log(
      `\n${service} round ${round}: ${messages} messages, accepted ${load.perSecond.toFixed(0)} msg/s; per 1,000 messages ` +
        `${perThousand('commits').toFixed(0)} commits, ${perThousand('syncs').toFixed(0)} WAL flushes, ` +
        `${(perThousand('bytes') / 1e6).toFixed(1)} MB of WAL (${perThousand('fpi').toFixed(0)} full-page images); a WAL flush takes ` +
        `${((pgAfter.syncMs - pgBefore.syncMs) / (pgAfter.syncs - pgBefore.syncs)).toFixed(2)} ms`,
    );
    console.log(`CPU s per 1,000 messages: ${cpuText}`);
    console.log(
      `${service} event-loop delay: mean ${after.lag.mean.toFixed(2)} ms, p99 ${after.lag.p99.toFixed(2)} ms`,
    );
    if (waits.size > 0) console.log('PostgreSQL active backends sampled (wait, statement): count');
    for (const [key, n] of [...waits].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${key}: ${n}`);
    console.log('phase          per message   mean ms');
    for (const [phase, count] of after.count) {
      const n = count - (before.count.get(phase) ?? 0);
      const sum = (after.sum.get(phase) ?? 0) - (before.sum.get(phase) ?? 0);
      if (n === 0) continue;
      console.log(
        `${phase.padEnd(14)} ${(n / messages).toFixed(2).padStart(11)}   ${((sum / n) * 1000).toFixed(2).padStart(7)}`,
      );
    }
  }
} finally {
  await platform.stop();
}
process.exit(0);
