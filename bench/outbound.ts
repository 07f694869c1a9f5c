// Outbound delivery rate, Hermod's outbound-mta against Postfix, side by side in one run: the same
// backlog (N messages of 4 KiB, one recipient each) relayed to the same Postfix smtp-sink.
// - Postfix: smtp-source fills its queue while `defer_transports = smtp` keeps it from delivering;
//   then the setting is cleared, Postfix reloaded and the queue flushed (postqueue -f). Timed until
//   its queue is empty.
// - Hermod: messages are accepted into the spool and scheduled in the outbound queue as held (no
//   worker touches them); then released, due now, and the workers woken (as `hermod queue release`
//   does). Timed until the outbound queue is empty.
// Usage: npm run bench -- outbound [--messages N] [--rounds R] [--destination-concurrency C]
//        [--profile DIR] (a V8 CPU profile of outbound-mta, written when it stops; bench/lib/profile-top.ts)
import { readdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { enqueueRecipients, OUTBOUND_WAKE_SUBJECT } from '@hermod/outbound-mta';
import { acceptMessage } from '@hermod/spool';
import { requireTool, run, startHermod, startPostfixPeer, startSmtpSink } from '@hermod/test/harness';
import { numberArg } from './lib/args.js';
import { serviceCommands } from './lib/bundled-service.js';
import { cpuByComponent, cpuPerThousand, formatCpu } from './lib/process-cpu.js';
import { profileEnv } from './lib/profile-option.js';
import { roundRatios } from './lib/round-ratios.js';
import { smtpSource, waitUntil } from './lib/smtp-source.js';

const messages = numberArg('messages', 3000);
const rounds = numberArg('rounds', 3);
const destinationConcurrency = numberArg('destination-concurrency', 20);
const bytes = 4096;
const sinkDomain = 'sink.test';

await requireTool('smtp-source', 'apt-get install postfix');
await requireTool('postfix', 'apt-get install postfix');

const sink = await startSmtpSink({ backlog: 1024 });
const postfix = await startPostfixPeer({
  domains: ['postfix.local.test'],
  hostname: 'postfix.bench.test',
  relayHost: `127.0.0.1:${sink.port}`,
  settings: { defer_transports: 'smtp' },
});
const postfixConfig = join(postfix.dir, 'etc');
const hermod = await startHermod({
  services: ['outbound-mta'],
  commands: await serviceCommands(['outbound-mta']),
  env: {
    'outbound-mta': {
      DATABASE_POOL_SIZE: '20',
      // Postfix's default_destination_concurrency_limit is 20.
      OUTBOUND_DESTINATION_CONCURRENCY: String(destinationConcurrency),
      LOG_LEVEL: 'warn',
      ...profileEnv(),
    },
  },
});

/** Files in Postfix's queues (one per message not yet delivered). */
async function postfixQueued(): Promise<number> {
  let n = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => []))
      if (e.isDirectory()) await walk(join(dir, e.name));
      else n++;
  };
  for (const q of ['maildrop', 'incoming', 'active', 'deferred']) await walk(join(postfix.dir, 'queue', q));
  return n;
}

async function postfixCommand(command: string, args: string[]): Promise<void> {
  const r = await run(command, ['-c', postfixConfig, ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')}: ${r.stderr}`);
}

/** Delivery time in seconds and CPU seconds per 1,000 messages of the delivering components. */
type RoundResult = { seconds: number; cpu: string };

async function postfixRound(count: number): Promise<RoundResult> {
  await postfixCommand('postconf', ['-e', 'defer_transports = smtp']);
  await postfixCommand('postfix', ['reload']);
  await smtpSource({
    port: postfix.port,
    messages: count,
    sessions: 20,
    bytes,
    from: 'load@bench.test',
    to: `user@${sinkDomain}`,
  });
  // Every message accepted and parked in the deferred queue.
  await waitUntil(
    async () =>
      (await postfixQueued()) === count && (await readdir(join(postfix.dir, 'queue', 'active'))).length === 0
        ? 1
        : 0,
    1,
    process.hrtime.bigint(),
  );
  const cpu = cpuByComponent();
  const started = process.hrtime.bigint();
  await postfixCommand('postconf', ['-e', 'defer_transports =']);
  await postfixCommand('postfix', ['reload']);
  await postfixCommand('postqueue', ['-f']);
  const seconds = await waitUntil(async () => count - (await postfixQueued()), count, started);
  return { seconds, cpu: formatCpu(cpuPerThousand(cpu, cpuByComponent(), count, ['postfix'])) };
}

const body = (i: number) => {
  const head = `From: <load@bench.test>\r\nTo: <user@${sinkDomain}>\r\nSubject: outbound bench ${i}\r\nMessage-ID: <${i}.${Date.now()}@bench.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\n`;
  const line = `${'x'.repeat(76)}\r\n`;
  return Buffer.from(head + line.repeat(Math.ceil((bytes - head.length) / line.length))).subarray(0, bytes);
};

/** N accepted messages, each with one recipient scheduled (held) in the outbound queue for the sink. */
async function seedHermod(count: number): Promise<void> {
  const pool = hermod.db.pool;
  const destination = JSON.stringify({ relayHosts: [{ host: '127.0.0.1', port: sink.port }] });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const { spoolId } = await acceptMessage(pool, {
        mailFrom: 'load@bench.test',
        recipients: [{ address: `user@${sinkDomain}` }],
        source: 'msa',
        body: [body(i)],
      });
      await pool.query(
        `UPDATE spool_recipients SET state = 'outbound', destination = $2 WHERE spool_id = $1`,
        [spoolId, destination],
      );
      await enqueueRecipients(pool, spoolId, [0], 5 * 86_400_000);
      await pool.query(`UPDATE outbound_queue SET state = 'held' WHERE spool_id = $1`, [spoolId]);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

let delivered = 0;
async function hermodRound(count: number): Promise<RoundResult> {
  await seedHermod(count);
  const pool = hermod.db.pool;
  const cpu = cpuByComponent();
  const started = process.hrtime.bigint();
  await pool.query(
    `UPDATE outbound_queue SET state = 'queued', next_attempt_at = now() WHERE state = 'held'`,
  );
  hermod.nc.publish(OUTBOUND_WAKE_SUBJECT);
  const seconds = await waitUntil(
    async () => {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbound_queue');
      return count - Number(rows[0]!.n);
    },
    count,
    started,
  );
  const used = cpuPerThousand(cpu, cpuByComponent(), count, ['outbound-mta', 'postgres', 'nats-server']);
  const { rows } = await pool.query<{ state: string; n: string }>(
    `SELECT state, count(*) AS n FROM spool_recipients r JOIN spool_messages m ON m.id = r.spool_id
     WHERE m.mail_from = 'load@bench.test' GROUP BY state`,
  );
  delivered += count;
  const states = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  const open = await pool.query(
    `SELECT 1 FROM spool_messages WHERE mail_from = 'load@bench.test' AND completed_at IS NULL LIMIT 1`,
  );
  if (states.delivered !== delivered || open.rows.length > 0)
    throw new Error(
      `hermod: ${JSON.stringify(states)}, expected ${delivered} delivered and every message completed`,
    );
  return { seconds, cpu: formatCpu(used) };
}

const results: Array<{ round: number; system: string; rate: number; load: number; cpu: string }> = [];
try {
  // Warm-up, not measured: both queues and Hermod's JIT see traffic before the first timed round.
  await postfixRound(300);
  await hermodRound(300);
  for (let round = 1; round <= rounds; round++) {
    const pf = await postfixRound(messages);
    results.push({ round, system: 'postfix', rate: messages / pf.seconds, load: loadavg()[0]!, cpu: pf.cpu });
    const hm = await hermodRound(messages);
    results.push({ round, system: 'hermod', rate: messages / hm.seconds, load: loadavg()[0]!, cpu: hm.cpu });
    console.log(
      `round ${round}: postfix ${(messages / pf.seconds).toFixed(0)} msg/s, hermod ${(messages / hm.seconds).toFixed(0)} msg/s`,
    );
  }
} finally {
  await hermod.stop();
  await postfix.stop();
  await sink.stop();
}

const f = (n: number) => n.toFixed(0).padStart(7);
console.log(
  `\noutbound benchmark: ${messages} messages x ${rounds} rounds, ${bytes} B, one recipient each, to smtp-sink; ` +
    `hermod destination concurrency ${destinationConcurrency}`,
);
console.log('round  system    delivered msg/s  load(1m)  CPU s per 1,000 messages');
for (const r of results)
  console.log(
    `${String(r.round).padStart(5)}  ${r.system.padEnd(8)}  ${f(r.rate)}          ${r.load.toFixed(1).padStart(4)}      ${r.cpu}`,
  );
const rates = (system: string) => results.filter((r) => r.system === system).map((r) => r.rate);
const median = (system: string) => {
  const v = rates(system).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)] ?? Number.NaN;
};
const ratios = roundRatios(rates('hermod'), rates('postfix')).perRound;
console.log(
  `\nmedian delivered msg/s: hermod ${f(median('hermod'))}, postfix ${f(median('postfix'))}, ` +
    `ratio ${(median('hermod') / median('postfix')).toFixed(2)} (per round: ${ratios.map((r) => r.toFixed(2)).join(', ')})`,
);
process.exit(0);
