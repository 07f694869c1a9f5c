// clamd on its own, with its TemporaryDirectory on a disk and on memory (a tmpfs): the scanner
// (@hermod/content-scan's sessions and INSTREAM, as mx uses them) sends 4 KiB messages of the
// mx benches' shape from 20 concurrent sessions to a clamd the harness starts with the test
// signature database. clamd writes every stream to a temporary file and makes a directory per
// scan, so where that directory lives sets much of its CPU per scan. The two alternate round by
// round (clamd restarted with the other setting), so a busy neighbour weighs on both.
// Every message differs (its Message-Id), as received mail does: clamd keeps the hashes of clean
// files and answers a file it has seen from that cache without scanning it, so a bench that sent
// one message over and over measured the cache (0.14-0.16 ms of clamd CPU per scan against
// 0.33-0.43 for distinct messages, docs/performance.md). `--identical` sends one message again
// and again, to see that difference.
// Usage: npm run bench -- clamd-scan [--scans N] [--rounds R] [--sessions S] [--identical]

import { ClamdSessionPool, ClamdStream } from '@hermod/content-scan';
import { ClamdPeer } from '@hermod/test/harness';
import { numberArg } from './lib/args.js';
import { cpuByComponent } from './lib/process-cpu.js';

const scans = numberArg('scans', 4000);
const rounds = numberArg('rounds', 2);
const sessions = numberArg('sessions', 20);
const warmUp = 400;

const identical = process.argv.includes('--identical');

// What mx streams to clamd under the mx benches' load (bench/lib/mx-load.ts): its Received field,
// smtp-source's header and lines of text, about 4.4 KiB. The Message-Id makes each one distinct.
const RECEIVED =
  'Received: from vm ([127.0.0.1])\r\n\tby mx.hermod.test (Hermod) with ESMTP id 26f1ae8d-c58a-4a77-8b3c-e3597f2340a3\r\n\tfor <box@bench.test>;\r\n\tMon, 7 Dec 2026 09:33:51 +0000\r\n';
let body = '\r\n';
for (let i = 1; body.length < 4096; i++) body += `${i % 10}${'X'.repeat(78)}\r\n`;
let sent = 0;
const nextMessage = (): Buffer =>
  Buffer.from(
    `${RECEIVED}From: <load@client.test>\r\nTo: <box@bench.test>\r\nDate: Mon, 7 Dec 2026 09:33:40 +0000\r\nMessage-Id: <${identical ? 0 : ++sent}.load@vm>\r\n${body}`,
  );
const messageBytes = nextMessage().length;

type Mode = 'disk' | 'memory';
const results: Array<{
  round: number;
  mode: Mode;
  perSecond: number;
  cpuMs: number;
  clientMs: number;
  waitMs: number;
}> = [];

/** `n` scans over `sessions` concurrent sessions; the mean wait from the end of a message to its verdict. */
async function scanAll(pool: ClamdSessionPool, n: number): Promise<{ seconds: number; waitMs: number }> {
  let waited = 0;
  const started = process.hrtime.bigint();
  const worker = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const stream = new ClamdStream(pool.take(), 10_000);
      await stream.write(nextMessage());
      const end = process.hrtime.bigint();
      const reply = await stream.end();
      waited += Number(process.hrtime.bigint() - end) / 1e6;
      if (reply.status !== 'clean') throw new Error(`clamd: ${JSON.stringify(reply)}`);
      pool.give(stream.session);
    }
  };
  await Promise.all(Array.from({ length: sessions }, () => worker(Math.ceil(n / sessions))));
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, waitMs: waited / n };
}

for (let round = 1; round <= rounds; round++) {
  const order: Mode[] = round % 2 === 1 ? ['disk', 'memory'] : ['memory', 'disk'];
  for (const mode of order) {
    const clamd = new ClamdPeer();
    await clamd.start({ temporaryDirectory: mode });
    const pool = new ClamdSessionPool({ host: '127.0.0.1', port: clamd.port }, sessions, 10_000);
    try {
      await scanAll(pool, warmUp);
      // /proc/<pid>/stat: all of clamd's threads, also those that ended (10 ms ticks).
      const before = cpuByComponent().get('clamd') ?? 0;
      // This process is the scanner's client, as in mx: its CPU per scan is what a scan costs mx.
      const clientBefore = process.cpuUsage();
      const n = Math.ceil(scans / sessions) * sessions;
      const { seconds, waitMs } = await scanAll(pool, n);
      const client = process.cpuUsage(clientBefore);
      const cpuMs = (((cpuByComponent().get('clamd') ?? 0) - before) * 1000) / n;
      const clientMs = (client.user + client.system) / 1000 / n;
      results.push({ round, mode, perSecond: n / seconds, cpuMs, clientMs, waitMs });
    } finally {
      pool.close();
      await clamd.stop();
    }
  }
}

console.log(
  `\nclamd scan benchmark: ${scans} scans x ${rounds} rounds per mode, ${messageBytes} B, ${sessions} sessions, ${identical ? 'one message again and again' : 'distinct messages'}`,
);
console.log(
  'round  TemporaryDirectory  scans/s  clamd CPU ms per scan  client CPU ms per scan  verdict wait ms',
);
for (const r of results)
  console.log(
    `${String(r.round).padStart(5)}  ${r.mode.padEnd(18)}  ${r.perSecond.toFixed(0).padStart(7)}  ${r.cpuMs.toFixed(3).padStart(21)}  ${r.clientMs.toFixed(3).padStart(22)}  ${r.waitMs.toFixed(2).padStart(15)}`,
  );
process.exit(0);
