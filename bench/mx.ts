// MX accept rate, Hermod's mx against Postfix, side by side in one run: same box, same load
// (smtp-source, 4 KiB messages, 20 sessions, connections reused), durability on in both (Postfix
// fsyncs its queue file; Hermod commits with synchronous_commit=on before 250). Hermod runs with its
// authentication checks on (SPF, DKIM, DMARC, ARC against a DNS server on loopback), Rspamd off.
// The default policy rules are on (as in production); --no-rules turns them off, for the cost of
// the rules (docs/filtering.md, "Policy rules").
// Usage: npm run bench -- mx [--messages N] [--rounds R] [--no-mda] [--no-auth] [--no-rules] [--warmup N] [--profile DIR]
//        [--from-source] (services through tsx instead of bundles, bench/lib/bundled-service.ts)
import { AccountStore } from '@hermod/accounts';
import { DnsTestServer, requireTool, startHermod, startPostfixPeer } from '@hermod/test/harness';
import { numberArg } from './lib/args.js';
import { serviceCommands } from './lib/bundled-service.js';
import { cpuByComponent, cpuPerThousand, formatCpu } from './lib/process-cpu.js';
import { profileEnv } from './lib/profile-option.js';
import { formatRatios, roundRatios } from './lib/round-ratios.js';
import { smtpSource, waitUntil } from './lib/smtp-source.js';
import { warmUpMessages } from './lib/warm-up.js';

const messages = numberArg('messages', 3000);
const rounds = numberArg('rounds', 6);
const sessions = 20;
const bytes = 4096;
const warmUp = warmUpMessages();
const profiled = profileEnv();

await requireTool('smtp-source', 'apt-get install postfix');
await requireTool('postfix', 'apt-get install postfix');

const dns = new DnsTestServer();
await dns.start();
dns.set([
  { type: 'TXT', name: 'client.test', text: 'v=spf1 ip4:127.0.0.1 -all' },
  { type: 'TXT', name: '_dmarc.client.test', text: 'v=DMARC1; p=quarantine' },
]);
const postfix = await startPostfixPeer({ domains: ['example.net'], hostname: 'postfix.bench.test' });
const hermodServices = process.argv.includes('--no-mda')
  ? (['routing', 'mx'] as const)
  : (['routing', 'mda', 'mx'] as const);
const hermod = await startHermod({
  services: [...hermodServices],
  commands: await serviceCommands(hermodServices),
  env: {
    mx: {
      DATABASE_POOL_SIZE: '40',
      MX_DNS_SERVERS: dns.address,
      MX_AUTH_CHECKS: process.argv.includes('--no-auth') ? 'false' : 'true',
      POLICY_DEFAULT_RULES: process.argv.includes('--no-rules') ? 'false' : 'true',
      MX_RATE_LIMIT_PER_MINUTE: '10000000',
      MX_MAX_CONNECTIONS_PER_IP: '1000',
      ...profiled,
    },
    routing: profiled,
  },
});
await hermod.addDomain('bench.test');
await new AccountStore(hermod.db.pool).create({ address: 'box@bench.test', password: 'bench-password' });
await new Promise((r) => setTimeout(r, 500));

const withMda = !process.argv.includes('--no-mda');
const results: Array<{ system: string; accept: number; cpu: string }> = [];
// CPU seconds per 1,000 messages from the first byte until the last message is in its mailbox
// (with --no-mda: until the last 250).
const postfixParts = ['postfix'];
const hermodParts = ['mx', 'routing', 'mda', 'postgres', 'nats-server'];
const delivered = async () =>
  Number((await hermod.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM deliveries')).rows[0]!.n);
let latencies: number[] = [];
const metric = async (): Promise<number[]> => {
  const text = await (
    await fetch(`http://127.0.0.1:${hermod.services.get('mx')!.options.opsPort}/metrics`)
  ).text();
  return [...text.matchAll(/^hermod_mx_accept_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)/gm)].map((m) =>
    Number(m[2]),
  );
};
try {
  // Warm-up, not measured: a long-running Node service is measured after its JIT has compiled the
  // hot paths, as Postfix (compiled C) is from the first message.
  await smtpSource({
    port: hermod.ports.mx,
    messages: warmUp,
    sessions,
    bytes,
    from: 'load@client.test',
    to: 'box@bench.test',
  });
  if (withMda) await waitUntil(delivered, warmUp, process.hrtime.bigint());
  for (let round = 1; round <= rounds; round++) {
    const postfixBefore = await postfix.delivered();
    let cpu = cpuByComponent();
    const pf = await smtpSource({
      port: postfix.port,
      messages,
      sessions,
      bytes,
      from: 'load@client.test',
      to: 'user@example.net',
    });
    await waitUntil(
      async () => (await postfix.delivered()) - postfixBefore,
      messages,
      process.hrtime.bigint(),
    );
    results.push({
      system: 'postfix',
      accept: pf.perSecond,
      cpu: formatCpu(cpuPerThousand(cpu, cpuByComponent(), messages, postfixParts)),
    });
    const hermodBefore = await delivered();
    cpu = cpuByComponent();
    const before = await metric();
    const hm = await smtpSource({
      port: hermod.ports.mx,
      messages,
      sessions,
      bytes,
      from: 'load@client.test',
      to: 'box@bench.test',
    });
    const after = await metric();
    if (withMda)
      await waitUntil(async () => (await delivered()) - hermodBefore, messages, process.hrtime.bigint());
    results.push({
      system: 'hermod',
      accept: hm.perSecond,
      cpu: formatCpu(cpuPerThousand(cpu, cpuByComponent(), messages, hermodParts)),
    });
    latencies = after.map((n, i) => n - (before[i] ?? 0));
  }
  const { rows } = await hermod.db.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM spool_messages WHERE source = 'mx'`,
  );
  // Every message of every round (and of the warm-up) was accepted with 250 and is in the spool.
  if (Number(rows[0]!.n) !== warmUp + messages * rounds)
    throw new Error(`hermod spooled ${rows[0]!.n}, expected ${warmUp + messages * rounds}`);
} finally {
  await hermod.stop();
  await postfix.stop();
  await dns.stop();
}

const best = (system: string) => Math.max(...results.filter((r) => r.system === system).map((r) => r.accept));
const f = (n: number) => n.toFixed(0).padStart(7);
console.log(
  `\nmx benchmark: ${messages} messages x ${rounds} rounds after a warm-up of ${warmUp}, ${bytes} B, ${sessions} sessions, durability on, auth checks on, Rspamd off`,
);
console.log('round  system    accepted msg/s  CPU s per 1,000 messages');
for (const [i, r] of results.entries())
  console.log(
    `${String(Math.floor(i / 2) + 1).padStart(5)}  ${r.system.padEnd(8)}  ${f(r.accept)}         ${r.cpu}`,
  );
console.log(
  `\nbest accepted msg/s: hermod ${f(best('hermod'))}, postfix ${f(best('postfix'))}, ratio ${(best('hermod') / best('postfix')).toFixed(2)}`,
);
const rates = (system: string) => results.filter((r) => r.system === system).map((r) => r.accept);
console.log(`accept ratio hermod/postfix: ${formatRatios(roundRatios(rates('hermod'), rates('postfix')))}`);
// The histogram's cumulative buckets of the last round: the bound at which p50 / p99 are reached.
const bounds = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, Number.POSITIVE_INFINITY];
const total = latencies[latencies.length - 1] ?? 0;
const at = (p: number) => bounds[latencies.findIndex((n) => n >= (p / 100) * total)] ?? Number.NaN;
console.log(
  `hermod end-of-data to 250 (last round, histogram bound): p50 <= ${at(50) * 1000} ms, p99 <= ${at(99) * 1000} ms`,
);
process.exit(0);
