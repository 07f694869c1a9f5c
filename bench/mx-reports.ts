// The cost of report bookkeeping at the MX, in one run on one box: Hermod's mx accepting the same
// load (smtp-source, 4 KiB messages, 20 sessions, connections reused, durability on, SPF/DKIM/DMARC/
// ARC on against a DNS server on loopback, Rspamd off) from a domain whose DMARC record carries a
// rua, once with report bookkeeping on ("reports": every DMARC evaluation recorded in
// dmarc_evaluations for the aggregate reports, MX_DMARC_REPORTS; mda reading mail to the report
// addresses, MDA_REPORT_ADDRESSES=postmaster, the default) and once with it off ("off":
// MX_DMARC_REPORTS=false, MDA_REPORT_ADDRESSES empty). TLS-RPT bookkeeping is outbound-mta's (the
// sending side; bench/outbound-dane.ts). The two alternate round by round (mx and mda restarted
// with the other settings, then warmed up, before each measured round), so a busy neighbour on a
// shared machine weighs on both. The figure to read is CPU per 1,000 messages until the last
// message is in its mailbox; rates are noisy on a shared machine. The goal (issue: DANE and
// reports) is an extra cost under 5%.
// Usage: npm run bench -- mx-reports [--messages N] [--rounds R] [--warmup N] (bench/lib/warm-up.ts)
import { requireTool } from '@hermod/test/harness';
import { numberArg } from './lib/args.js';
import { MX_LOAD, startMxUnderLoad } from './lib/mx-load.js';
import { cpuByComponent, cpuPerThousand, formatCpu } from './lib/process-cpu.js';
import { waitUntil } from './lib/smtp-source.js';
import { warmUpMessages } from './lib/warm-up.js';

const messages = numberArg('messages', 2000);
const rounds = numberArg('rounds', 2);
const warmUp = warmUpMessages();

const modes = {
  off: { mx: { MX_DMARC_REPORTS: 'false' }, mda: { MDA_REPORT_ADDRESSES: '' } },
  reports: { mx: { MX_DMARC_REPORTS: 'true' }, mda: { MDA_REPORT_ADDRESSES: 'postmaster' } },
} as const;
type Mode = keyof typeof modes;

await requireTool('smtp-source', 'apt-get install postfix');
const mx = await startMxUnderLoad({
  dmarc: 'v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@client.test',
  env: modes.off,
});
const { hermod, delivered, load } = mx;

const parts = ['mx', 'routing', 'mda', 'postgres', 'nats-server'];
const count = (table: string) => async () =>
  Number((await hermod.db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
const evaluations = count('dmarc_evaluations');

const results: Array<{
  round: number;
  mode: Mode;
  accept: number;
  cpu: number;
  detail: string;
  recorded: number;
}> = [];
let sent = 0;
try {
  for (let round = 1; round <= rounds; round++) {
    const order: Mode[] = round % 2 === 1 ? ['off', 'reports'] : ['reports', 'off'];
    for (const mode of order) {
      await mx.restartWith(modes[mode], warmUp);
      sent += warmUp;
      const before = await delivered();
      const recordedBefore = await evaluations();
      const cpu = cpuByComponent();
      const r = await load(messages);
      await waitUntil(async () => (await delivered()) - before, messages, process.hrtime.bigint());
      // The recorder writes in batches (at most a second apart): wait for this round's rows.
      if (mode === 'reports')
        await waitUntil(
          async () => (await evaluations()) - recordedBefore,
          messages,
          process.hrtime.bigint(),
          30_000,
        );
      const used = cpuPerThousand(cpu, cpuByComponent(), messages, parts);
      sent += messages;
      const recorded = (await evaluations()) - recordedBefore;
      console.log(
        `round ${round} ${mode}: ${r.perSecond.toFixed(0)} msg/s, ${formatCpu(used)}, recorded ${recorded}`,
      );
      results.push({
        round,
        mode,
        accept: r.perSecond,
        cpu: used.reduce((sum, c) => sum + c.seconds, 0),
        detail: formatCpu(used),
        recorded,
      });
    }
  }
  const spooled = await count(`spool_messages WHERE source = 'mx'`)();
  // Every message was accepted with 250 and is in the spool, in both modes; evaluations recorded
  // exactly when recording is on (its warm-up messages included).
  if (spooled !== sent) throw new Error(`hermod spooled ${spooled}, expected ${sent}`);
  for (const r of results)
    if (r.mode === 'off' ? r.recorded !== 0 : r.recorded < messages)
      throw new Error(`${r.mode} round ${r.round}: ${r.recorded} DMARC evaluations recorded`);
} finally {
  await mx.stop();
}

const f = (n: number) => n.toFixed(0).padStart(7);
console.log(
  `\nmx report bookkeeping benchmark: ${messages} messages x ${rounds} rounds per mode (each after a warm-up of ${warmUp}), ${MX_LOAD.bytes} B, ${MX_LOAD.sessions} sessions, durability on, auth checks on, Rspamd off`,
);
console.log('round  mode      accepted msg/s  recorded  CPU s per 1,000 messages (to the mailbox)');
for (const r of results)
  console.log(
    `${String(r.round).padStart(5)}  ${r.mode.padEnd(8)}  ${f(r.accept)}         ${String(r.recorded).padStart(8)}  ${r.detail}`,
  );
const mean = (mode: Mode, key: 'accept' | 'cpu') => {
  const v = results.filter((r) => r.mode === mode).map((r) => r[key]);
  return v.reduce((a, b) => a + b, 0) / v.length;
};
console.log(
  `\nreports / off: CPU per 1,000 messages ${mean('reports', 'cpu').toFixed(2)} s / ${mean('off', 'cpu').toFixed(2)} s = ` +
    `${((mean('reports', 'cpu') / mean('off', 'cpu') - 1) * 100).toFixed(1)}% extra; ` +
    `accepted msg/s ratio ${(mean('reports', 'accept') / mean('off', 'accept')).toFixed(2)} (noisy; goal: under 5% extra)`,
);
// Side by side within a round: the two modes ran back to back, so a load spike weighs less.
const inRound = (round: number, mode: Mode) => results.find((r) => r.round === round && r.mode === mode)!;
console.log(
  `extra CPU per round: ${Array.from({ length: rounds }, (_, i) => `${((inRound(i + 1, 'reports').cpu / inRound(i + 1, 'off').cpu - 1) * 100).toFixed(1)}%`).join(', ')}`,
);
process.exit(0);
