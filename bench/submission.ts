// Submission accept rate and submit-to-mailbox latency, Hermod's msa against Postfix, side by side in
// one run: same box, same load (smtp-source, 4 KiB messages, 20 sessions, connections reused),
// durability on in both (Postfix fsyncs its queue file; Hermod commits with synchronous_commit=on).
// Usage: npm run bench -- submission [--messages N] [--rounds R] [--warmup N] [--profile DIR] (V8 CPU profiles of
// msa, routing and mda; bench/lib/profile-top.ts summarizes them) [--from-source] (services through
// tsx instead of bundles, bench/lib/bundled-service.ts)
import { AccountStore } from '@hermod/accounts';
import { requireTool, startHermod, startPostfixPeer } from '@hermod/test/harness';
import { numberArg } from './lib/args.js';
import { serviceCommands } from './lib/bundled-service.js';
import { cpuByComponent, cpuPerThousand, formatCpu } from './lib/process-cpu.js';
import { profileEnv } from './lib/profile-option.js';
import { formatRatios, roundRatios } from './lib/round-ratios.js';
import { percentile, smtpSource, waitUntil } from './lib/smtp-source.js';
import { warmUpMessages } from './lib/warm-up.js';

const messages = numberArg('messages', 3000);
const rounds = numberArg('rounds', 6);
const sessions = 20;
const bytes = 4096;
const warmUp = warmUpMessages();

await requireTool('smtp-source', 'apt-get install postfix');
await requireTool('postfix', 'apt-get install postfix');

const postfix = await startPostfixPeer({ domains: ['example.net'], hostname: 'postfix.bench.test' });
const hermod = await startHermod({
  services: ['routing', 'mda', 'msa'],
  commands: await serviceCommands(['routing', 'mda', 'msa']),
  env: {
    msa: { MSA_TRUSTED_NETWORKS: '127.0.0.1/32', DATABASE_POOL_SIZE: '40', ...profileEnv() },
    routing: profileEnv(),
    mda: profileEnv(),
  },
});
await hermod.addDomain('bench.test');
await new AccountStore(hermod.db.pool).create({ address: 'box@bench.test', password: 'bench-password' });
await new Promise((r) => setTimeout(r, 500));

const delivered = async () =>
  Number((await hermod.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM deliveries')).rows[0]!.n);

type Row = { system: string; accept: number; endToEnd: number; cpu: string };
// CPU seconds per 1,000 messages from the first byte until the last message is in its mailbox.
const postfixParts = ['postfix'];
const hermodParts = ['msa', 'routing', 'mda', 'postgres', 'nats-server'];
const results: Row[] = [];
let hermodLatencies: number[] = [];
try {
  // Warm-up, not measured: a long-running Node service is measured after its JIT has compiled the
  // hot paths, as Postfix (compiled C) is from the first message.
  await smtpSource({
    port: hermod.ports.submission,
    messages: warmUp,
    sessions,
    bytes,
    from: 'load@bench.test',
    to: 'box@bench.test',
  });
  await waitUntil(delivered, warmUp, process.hrtime.bigint());
  for (let round = 1; round <= rounds; round++) {
    {
      const before = await postfix.delivered();
      const cpu = cpuByComponent();
      const since = process.hrtime.bigint();
      const load = await smtpSource({
        port: postfix.port,
        messages,
        sessions,
        bytes,
        from: 'load@client.test',
        to: 'user@example.net',
      });
      const e2e = await waitUntil(async () => (await postfix.delivered()) - before, messages, since);
      results.push({
        system: 'postfix',
        accept: load.perSecond,
        endToEnd: messages / e2e,
        cpu: formatCpu(cpuPerThousand(cpu, cpuByComponent(), messages, postfixParts)),
      });
    }
    {
      const before = await delivered();
      const cpu = cpuByComponent();
      const since = process.hrtime.bigint();
      const started = new Date();
      const load = await smtpSource({
        port: hermod.ports.submission,
        messages,
        sessions,
        bytes,
        from: 'load@bench.test',
        to: 'box@bench.test',
      });
      const e2e = await waitUntil(async () => (await delivered()) - before, messages, since);
      results.push({
        system: 'hermod',
        accept: load.perSecond,
        endToEnd: messages / e2e,
        cpu: formatCpu(cpuPerThousand(cpu, cpuByComponent(), messages, hermodParts)),
      });
      const { rows } = await hermod.db.pool.query<{ ms: number }>(
        `SELECT extract(epoch FROM d.delivered_at - s.received_at) * 1000 AS ms FROM deliveries d
         JOIN spool_messages s ON s.id = split_part(d.delivery_key, '/', 1)::uuid WHERE s.received_at >= $1`,
        [started],
      );
      hermodLatencies = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
    }
  }
} finally {
  await hermod.stop();
  await postfix.stop();
}

const best = (system: string, key: 'accept' | 'endToEnd') =>
  Math.max(...results.filter((r) => r.system === system).map((r) => r[key]));
const f = (n: number) => n.toFixed(0).padStart(7);
console.log(
  `\nsubmission benchmark: ${messages} messages x ${rounds} rounds after a warm-up of ${warmUp}, ${bytes} B, ${sessions} sessions, durability on`,
);
console.log('round  system    accepted msg/s  end-to-end msg/s  CPU s per 1,000 messages');
for (const [i, r] of results.entries()) {
  console.log(
    `${String(Math.floor(i / 2) + 1).padStart(5)}  ${r.system.padEnd(8)}  ${f(r.accept)}         ${f(r.endToEnd)}           ${r.cpu}`,
  );
}
console.log(
  `\nbest accepted msg/s: hermod ${f(best('hermod', 'accept'))}, postfix ${f(best('postfix', 'accept'))}, ratio ${(best('hermod', 'accept') / best('postfix', 'accept')).toFixed(2)}`,
);
console.log(
  `best end-to-end msg/s: hermod ${f(best('hermod', 'endToEnd'))}, postfix ${f(best('postfix', 'endToEnd'))}, ratio ${(best('hermod', 'endToEnd') / best('postfix', 'endToEnd')).toFixed(2)}`,
);
const rates = (system: string, key: 'accept' | 'endToEnd') =>
  results.filter((r) => r.system === system).map((r) => r[key]);
for (const key of ['accept', 'endToEnd'] as const)
  console.log(
    `${key === 'accept' ? 'accept' : 'end-to-end'} ratio hermod/postfix: ${formatRatios(roundRatios(rates('hermod', key), rates('postfix', key)))}`,
  );
console.log(
  `hermod submit-to-mailbox latency (last round): p50 ${percentile(hermodLatencies, 50).toFixed(1)} ms, p99 ${percentile(hermodLatencies, 99).toFixed(1)} ms`,
);
process.exit(0);
