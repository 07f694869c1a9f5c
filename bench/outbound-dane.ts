// The cost of DANE (RFC 7672) and TLS-RPT bookkeeping (RFC 8460) in outbound-mta, in one run on
// one box: the same backlog (N messages of 4 KiB, one recipient each) delivered by MX lookup to a
// Postfix receiver offering STARTTLS, through a validating resolver on loopback (Debian's unbound
// over a zone signed with ldns-signzone, test/harness startValidatingResolver) whose zone publishes
// a DANE-EE TLSA record for the MX and a `_smtp._tls` reporting policy. Three modes:
// - plain: OUTBOUND_DANE off, no TLS-RPT (opportunistic TLS, as before DANE);
// - dane: OUTBOUND_DANE on (TLSA lookups, DNSSEC status, certificate pinned), no TLS-RPT;
// - dane+tlsrpt: as dane, and every TLS session result counted for TLS reports (OUTBOUND_TLSRPT_FROM).
// The modes alternate round by round (outbound-mta restarted with the mode's settings, then warmed
// up, before each measured round), so a busy neighbour weighs on all of them. The figure to read is
// CPU per 1,000 messages of outbound-mta, PostgreSQL, nats-server and unbound; rates are noisy on a
// shared machine. The goal (issue: DANE and reports) is an extra cost under 5%.
// Usage: npm run bench -- outbound-dane [--messages N] [--rounds R]
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { ensureSelfSignedCertificate, freePort } from '@hermod/local-infra';
import { enqueueRecipients, OUTBOUND_WAKE_SUBJECT } from '@hermod/outbound-mta';
import { acceptMessage } from '@hermod/spool';
import {
  requireTool,
  startHermod,
  startPostfixPeer,
  startValidatingResolver,
  testWorkdir,
} from '@hermod/test/harness';
import { numberArg } from './lib/args.js';
import { serviceCommands } from './lib/bundled-service.js';
import { cpuByComponent, cpuPerThousand, formatCpu } from './lib/process-cpu.js';
import { smtpSource, waitUntil } from './lib/smtp-source.js';

const messages = numberArg('messages', 2000);
const rounds = numberArg('rounds', 2);
const bytes = 4096;
const warmUp = 300;
const domain = 'ok.dane.test';
const sender = 'load@bench.test';

await requireTool('postfix', 'apt-get install postfix');
await requireTool('smtp-source', 'apt-get install postfix');
const dir = await testWorkdir('bench-outbound-dane');
const smtpPort = await freePort();
const cert = await ensureSelfSignedCertificate(dir, `mx.${domain}`, { name: 'mx' });
const leafSpki = createHash('sha256')
  .update(
    new X509Certificate(await readFile(cert.certFile, 'utf8')).publicKey.export({
      type: 'spki',
      format: 'der',
    }) as Buffer,
  )
  .digest('hex');
const resolver = await startValidatingResolver([
  {
    name: 'dane.test',
    signed: true,
    records: [
      'ok IN MX 10 mx.ok',
      'mx.ok IN A 127.0.0.1',
      `_${smtpPort}._tcp.mx.ok IN TLSA 3 1 1 ${leafSpki}`,
      '_smtp._tls.ok IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@bench.test"',
    ],
  },
]);
const postfix = await startPostfixPeer({
  domains: [domain],
  port: smtpPort,
  hostname: `mx.${domain}`,
  tls: { certFile: cert.certFile, keyFile: cert.keyFile },
});

const modes = {
  plain: { OUTBOUND_DANE: 'false' },
  dane: { OUTBOUND_DANE: 'true' },
  'dane+tlsrpt': { OUTBOUND_DANE: 'true', OUTBOUND_TLSRPT_FROM: 'tlsrpt-sender@bench.test' },
} as const;
type Mode = keyof typeof modes;

const hermod = await startHermod({
  services: ['outbound-mta'],
  commands: await serviceCommands(['outbound-mta']),
  env: {
    'outbound-mta': {
      DATABASE_POOL_SIZE: '20',
      OUTBOUND_DESTINATION_CONCURRENCY: '20',
      OUTBOUND_DNS_SERVERS: resolver.address,
      OUTBOUND_SMTP_PORT: String(smtpPort),
      LOG_LEVEL: 'warn',
    },
  },
});
const pool = hermod.db.pool;

const body = (i: number) => {
  const head = `From: <${sender}>\r\nTo: <user@${domain}>\r\nSubject: outbound dane bench ${i}\r\nMessage-ID: <${i}.${Date.now()}@bench.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\n`;
  const line = `${'x'.repeat(76)}\r\n`;
  return Buffer.from(head + line.repeat(Math.ceil((bytes - head.length) / line.length))).subarray(0, bytes);
};

/** N accepted messages, each with one recipient held in the outbound queue (routed by MX lookup). */
async function seed(count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const { spoolId } = await acceptMessage(pool, {
        mailFrom: sender,
        recipients: [{ address: `user@${domain}` }],
        source: 'msa',
        body: [body(i)],
      });
      // One transaction: no worker sees the row before it is held (it would be delivered unmeasured).
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `UPDATE spool_recipients SET state = 'outbound', destination = '{}' WHERE spool_id = $1`,
          [spoolId],
        );
        await enqueueRecipients(client, spoolId, [0], 5 * 86_400_000);
        await client.query(`UPDATE outbound_queue SET state = 'held' WHERE spool_id = $1`, [spoolId]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** Recipients delivered so far, by the TLS they went over ("TLSv1.3 dane-verified", "TLSv1.3"). */
async function deliveredByTls(): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ tls: string | null; n: string }>(
    `SELECT destination->'outcome'->>'tls' AS tls, count(*) AS n FROM spool_recipients
     WHERE state = 'delivered' GROUP BY 1`,
  );
  return new Map(rows.map((r) => [r.tls ?? 'none', Number(r.n)]));
}

/** Releases the held backlog and waits until the outbound queue is empty; seconds taken. */
async function deliver(count: number): Promise<number> {
  const started = process.hrtime.bigint();
  await pool.query(
    `UPDATE outbound_queue SET state = 'queued', next_attempt_at = now() WHERE state = 'held'`,
  );
  hermod.nc.publish(OUTBOUND_WAKE_SUBJECT);
  return waitUntil(
    async () =>
      count -
      Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM outbound_queue')).rows[0]!.n),
    count,
    started,
  );
}

async function useMode(mode: Mode): Promise<void> {
  const outbound = hermod.services.get('outbound-mta')!;
  await outbound.stop();
  delete outbound.options.env.OUTBOUND_TLSRPT_FROM;
  Object.assign(outbound.options.env, modes[mode]);
  await outbound.start(60_000);
  // Warm-up, not measured: the JIT compiles this mode's hot paths, unbound's cache is filled.
  await seed(warmUp);
  await deliver(warmUp);
}

const parts = ['outbound-mta', 'postgres', 'nats-server', 'unbound'];
const sessions = async () =>
  Number(
    (await pool.query<{ n: string | null }>('SELECT sum(sessions) AS n FROM tls_report_counts')).rows[0]!.n ??
      0,
  );
const results: Array<{
  round: number;
  mode: Mode;
  rate: number;
  load: number;
  cpu: number;
  detail: string;
  tls: string;
}> = [];
try {
  // A short SMTP exchange first so Postfix's daemons are up before the first timed round.
  await smtpSource({
    port: postfix.port,
    messages: 10,
    sessions: 1,
    bytes,
    from: sender,
    to: `user@${domain}`,
  });
  for (let round = 1; round <= rounds; round++) {
    const order = (Object.keys(modes) as Mode[]).slice();
    if (round % 2 === 0) order.reverse();
    for (const mode of order) {
      await useMode(mode);
      await seed(messages);
      const tlsBefore = await deliveredByTls();
      const cpu = cpuByComponent();
      const seconds = await deliver(messages);
      const used = cpuPerThousand(cpu, cpuByComponent(), messages, parts);
      const tlsAfter = await deliveredByTls();
      const tls = [...tlsAfter]
        .map(([kind, n]) => [kind, n - (tlsBefore.get(kind) ?? 0)] as const)
        .filter(([, n]) => n > 0);
      // Every message delivered, over DANE-verified TLS exactly when DANE is on.
      const dane = tls.find(([kind]) => kind.includes('dane-verified'))?.[1] ?? 0;
      const total = tls.reduce((sum, [, n]) => sum + n, 0);
      if (total !== messages || dane !== (modes[mode].OUTBOUND_DANE === 'true' ? messages : 0))
        throw new Error(
          `${mode}: delivered ${JSON.stringify(tls)}, expected ${messages}; all recipients: ${JSON.stringify(
            (
              await pool.query(
                `SELECT state, destination->'outcome'->>'tls' AS tls, left(last_error, 120) AS error, count(*) AS n FROM spool_recipients GROUP BY 1, 2, 3`,
              )
            ).rows,
          )}`,
        );
      results.push({
        round,
        mode,
        rate: messages / seconds,
        load: loadavg()[0]!,
        cpu: used.reduce((sum, c) => sum + c.seconds, 0),
        detail: formatCpu(used),
        tls: tls.map(([kind, n]) => `${kind}: ${n}`).join(', '),
      });
      console.log(`round ${round} ${mode}: ${(messages / seconds).toFixed(0)} msg/s, ${formatCpu(used)}`);
    }
  }
  // TLS-RPT counts sessions (RFC 8460 section 4.4), not messages: a session carries several
  // messages. outbound-mta adds its counts on stop; the dane+tlsrpt rounds' sessions are there.
  await hermod.services.get('outbound-mta')!.stop();
  const recorded = await sessions();
  if (recorded <= 0) throw new Error('no TLS session recorded in tls_report_counts');
  console.log(`TLS-RPT sessions recorded in the dane+tlsrpt rounds: ${recorded}`);
} finally {
  await hermod.stop();
  await postfix.stop();
  await resolver.stop();
}

const f = (n: number) => n.toFixed(0).padStart(7);
console.log(
  `\noutbound DANE benchmark: ${messages} messages x ${rounds} rounds per mode, ${bytes} B, one recipient each, by MX lookup to Postfix over STARTTLS, unbound validating`,
);
console.log('round  mode          delivered msg/s  load(1m)  CPU s per 1,000 messages');
for (const r of results)
  console.log(
    `${String(r.round).padStart(5)}  ${r.mode.padEnd(12)}  ${f(r.rate)}          ${r.load.toFixed(1).padStart(4)}      ${r.detail}  [${r.tls}]`,
  );
const mean = (mode: Mode, key: 'rate' | 'cpu') => {
  const v = results.filter((r) => r.mode === mode).map((r) => r[key]);
  return v.reduce((a, b) => a + b, 0) / v.length;
};
// Side by side within a round too: the modes ran back to back, so a load spike weighs less.
const inRound = (round: number, mode: Mode) => results.find((r) => r.round === round && r.mode === mode)!;
for (const mode of ['dane', 'dane+tlsrpt'] as const)
  console.log(
    `${mode} / plain: CPU per 1,000 messages ${mean(mode, 'cpu').toFixed(2)} s / ${mean('plain', 'cpu').toFixed(2)} s = ` +
      `${((mean(mode, 'cpu') / mean('plain', 'cpu') - 1) * 100).toFixed(1)}% extra; ` +
      `delivered msg/s ratio ${(mean(mode, 'rate') / mean('plain', 'rate')).toFixed(2)} (noisy; goal: under 5% extra); ` +
      `extra CPU per round ${Array.from({ length: rounds }, (_, i) => `${((inRound(i + 1, mode).cpu / inRound(i + 1, 'plain').cpu - 1) * 100).toFixed(1)}%`).join(', ')}`,
  );
process.exit(0);
