// Delivery throughput as users see it, Sieve off against Sieve on: mail arriving over SMTP at the MX
// (smtp-source, 4 KiB, 20 sessions, connections reused, as bench/mx.ts) and delivered by mda into
// the mailboxes, counted as messages stored per second, from the first message sent until the last
// one is in its mailbox (bench/sieve.ts measures mda's delivery path alone, in process: the strict
// figure; this one adds what a message costs on its way there: SMTP, the MX's checks, the spool,
// routing, NATS, job decoding, change events, tracing).
// Two Hermod platforms as bench/lib/mx-load.ts sets one up (routing, mda, mx, each bundled as the
// image runs it, the MX's auth checks against DNS on loopback; their own nats-server, their own
// database in one PostgreSQL), the same in every way but mda's MDA_SIEVE_ENABLED:
//   off    false: delivery without any filter;
//   sieve  true: bench/lib/sieve-load.ts's 20-rule personal script active for every recipient
//          account plus the domain's global before-script (and the default after-script).
// Both have the same accounts with the same scripts stored (the off platform's mda ignores them) and
// get the same message mix (bench/lib/sieve-load.ts's messageFor 0..19, one per SMTP session, to 20
// accounts: lists, invoices, newsletters filed, half the mail matching no rule). Each is warmed up
// (the JIT, the mailboxes the script creates), then the two take turns round by round, the order
// alternating, so the box's other load falls on both alike; the idle platform costs both modes the
// same. CPU per message by component (cpuByComponent) over each mode's rounds.
// Usage: npm run bench -- delivery [--messages N] [--rounds R] [--warmup N] [--no-auth] [--from-source]
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { AccountStore } from '@hermod/accounts';
import { SieveScripts } from '@hermod/sieve-store';
import { requireTool, testWorkdir } from '@hermod/test/harness';
import { numberArg } from './lib/args.js';
import { type MxUnderLoad, startMxUnderLoad } from './lib/mx-load.js';
import { cpuByComponent } from './lib/process-cpu.js';
import { formatRatios, roundRatios } from './lib/round-ratios.js';
import { beforeScript, messageFor, personalScript } from './lib/sieve-load.js';
import { smtpSource, waitUntil } from './lib/smtp-source.js';
import { warmUpMessages } from './lib/warm-up.js';

const sessions = 20;
/** Messages per round and mode: a whole number per session. */
const messages = Math.ceil(numberArg('messages', 3000) / sessions) * sessions;
const rounds = numberArg('rounds', 6);
const warmUp = Math.ceil(warmUpMessages() / sessions) * sessions;
const modes = ['off', 'sieve'] as const;
type Mode = (typeof modes)[number];
const components = ['mx', 'routing', 'mda', 'postgres', 'nats-server'];
const domain = 'bench.test';

await requireTool('smtp-source', 'apt-get install postfix');

// One message file per session: session i always sends message i of the mix to account i.
const dir = await testWorkdir('delivery-bench');
const files: string[] = [];
for (let i = 0; i < sessions; i++) {
  const file = join(dir, `message-${i}.eml`);
  // smtp-source appends CRLF to every line it reads.
  await writeFile(file, messageFor(i, `u${i}@${domain}`).toString('latin1').replaceAll('\r\n', '\n'));
  files.push(file);
}

const platforms = {} as Record<Mode, MxUnderLoad>;
const stored = (mode: Mode) => () => platforms[mode].delivered();

/** Every session's messages to its account, at once; resolves when the last 250 came. */
async function send(mode: Mode, perSession: number): Promise<void> {
  await Promise.all(
    files.map((file, i) =>
      smtpSource({
        port: platforms[mode].hermod.ports.mx,
        messages: perSession,
        sessions: 1,
        from: 'load@client.test',
        to: `u${i}@${domain}`,
        file,
      }),
    ),
  );
}

const rates: Record<Mode, number[]> = { off: [], sieve: [] };
/** Messages accepted (250) per second while the round was sent: mda delivers behind. */
const accepted: Record<Mode, number[]> = { off: [], sieve: [] };
const cpu: Record<Mode, Array<Map<string, number>>> = { off: [], sieve: [] };
const mailboxes = {} as Record<Mode, Array<{ name: string; n: string }>>;
try {
  for (const mode of modes) {
    platforms[mode] = await startMxUnderLoad({
      dmarc: 'v=DMARC1; p=quarantine',
      env: {
        mx: process.argv.includes('--no-auth') ? { MX_AUTH_CHECKS: 'false' } : {},
        mda: { MDA_SIEVE_ENABLED: mode === 'sieve' ? 'true' : 'false' },
      },
    });
    const { hermod } = platforms[mode];
    const accounts = new AccountStore(hermod.db.pool);
    const scripts = new SieveScripts(hermod.db.pool, {
      maxScriptBytes: 65_536,
      maxScripts: 16,
      maxNesting: 32,
    });
    await scripts.putGlobal(domain, 'admin', 'before', beforeScript);
    for (let i = 0; i < sessions; i++) {
      const { id } = await accounts.create({ address: `u${i}@${domain}`, password: 'bench-password-1' });
      await scripts.put({ id, domain }, 'main', personalScript);
      await scripts.activate({ id, domain }, 'main');
    }
  }
  // Warm-up, not measured: each platform's JIT, plan caches, and the mailboxes fileinto :create makes.
  for (const mode of modes) {
    const started = process.hrtime.bigint();
    await send(mode, warmUp / sessions);
    await waitUntil(stored(mode), warmUp, started);
  }
  for (let round = 1; round <= rounds; round++)
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(round + k) % modes.length]!;
      const before = await stored(mode)();
      const cpuBefore = cpuByComponent();
      const started = process.hrtime.bigint();
      await send(mode, messages / sessions);
      accepted[mode].push(messages / (Number(process.hrtime.bigint() - started) / 1e9));
      const seconds = await waitUntil(async () => (await stored(mode)()) - before, messages, started);
      const cpuAfter = cpuByComponent();
      rates[mode].push(messages / seconds);
      cpu[mode].push(
        new Map(components.map((c) => [c, ((cpuAfter.get(c) ?? 0) - (cpuBefore.get(c) ?? 0)) / messages])),
      );
    }
  for (const mode of modes) {
    const total = await stored(mode)();
    // Every message of every round was stored once (a message Sieve files is stored in one mailbox).
    if (total !== warmUp + messages * rounds)
      throw new Error(`${mode}: ${total} stored, expected ${warmUp + messages * rounds}`);
    mailboxes[mode] = (
      await platforms[mode].hermod.db.pool.query<{ name: string; n: string }>(
        `SELECT b.name, count(*) AS n FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
          GROUP BY b.name ORDER BY count(*) DESC, b.name`,
      )
    ).rows;
  }
} finally {
  for (const mode of modes) await platforms[mode]?.stop();
}

const median = (values: number[]) => {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const f = (n: number | undefined) => (n ?? Number.NaN).toFixed(0).padStart(7);
console.log(
  `\ndelivery benchmark: ${messages} messages x ${rounds} rounds per mode after a warm-up of ${warmUp}, 4 KiB, ${sessions} SMTP sessions to ${sessions} accounts, auth checks ${process.argv.includes('--no-auth') ? 'off' : 'on'}, Rspamd off`,
);
console.log('round  off delivered msg/s (accepted)  sieve delivered msg/s (accepted)');
for (let r = 0; r < rounds; r++)
  console.log(
    `${String(r + 1).padStart(5)}  ${f(rates.off[r])} (${f(accepted.off[r])})             ${f(rates.sieve[r])} (${f(accepted.sieve[r])})`,
  );
console.log(`sieve/off: ${formatRatios(roundRatios(rates.sieve, rates.off))}`);
const cpuTotal = {} as Record<Mode, number>;
for (const mode of modes) {
  // Warm rounds (all but the first), as the ratio.
  const warm = cpu[mode].length > 1 ? cpu[mode].slice(1) : cpu[mode];
  const parts = components.map((c) => ({ c, us: median(warm.map((m) => m.get(c) ?? 0)) * 1e6 }));
  cpuTotal[mode] = parts.reduce((s, p) => s + p.us, 0);
  console.log(
    `${mode.padEnd(5)} CPU per message (median of warm rounds): ${cpuTotal[mode].toFixed(0)} us (${parts.map((p) => `${p.c} ${p.us.toFixed(0)}`).join(', ')})`,
  );
}
// What the rate ratio would be where these processes had the CPUs to themselves and nothing else
// limited them: the figure the box's other load disturbs least.
console.log(`CPU per message off/sieve: ${(cpuTotal.off / cpuTotal.sieve).toFixed(2)}`);
for (const mode of modes)
  console.log(
    `${mode.padEnd(5)} messages by mailbox: ${mailboxes[mode].map((m) => `${m.name} ${m.n}`).join(', ')}`,
  );
console.log(
  `load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
process.exit(0);
