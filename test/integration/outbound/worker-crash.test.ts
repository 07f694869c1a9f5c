// outbound-mta workers that die or restart: a worker killed with SIGKILL in the middle of a
// transaction leaves the message leased, and after the lease runs out it is delivered (a duplicate
// is tolerated, a loss is not); a remote slower than the lease still has only one attempt in
// flight; the retry schedule (attempts, next attempt time) survives a restart of the worker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, NodeServiceProcess } from '@hermod/local-infra';
import { type SmtpSink, startSmtpSink, testWorkdir } from '@hermod/test/harness';
import {
  addMx,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  simpleMessage,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';

let bed: OutboundTestbed;
const sinks: SmtpSink[] = [];
const from = `alice@${LOCAL_DOMAIN}`;

async function sink(address: string, options: Parameters<typeof startSmtpSink>[0] = {}) {
  const started = await startSmtpSink({ host: address, port: bed.smtpPort, ...options });
  sinks.push(started);
  return started;
}

const mx = (domain: string, address: string) => addMx(bed.dns, domain, address);
const message = (to: string, subject: string) => simpleMessage(from, to, subject);

const leased = (spoolId: string) =>
  waitFor(`a lease on ${spoolId}`, async () => {
    const [row] = await bed.queue(spoolId);
    return row?.lease_owner ? row : undefined;
  });

before(async () => {
  bed = await startOutboundTestbed({
    // The retry wait is longer than a worker restart takes, even on a loaded machine.
    outboundEnv: { OUTBOUND_LEASE: '3s', OUTBOUND_RETRY_SCHEDULE: '12s' },
  });
});

after(async () => {
  for (const s of sinks) await s.stop().catch(() => {});
  await bed?.stop();
});

describe('worker crashes and restarts', () => {
  test('SIGKILL in the middle of a transaction: the message stays queued and is delivered after restart', async () => {
    const address = '127.0.0.7';
    mx('crash.test', address);
    // The remote takes a minute to answer DATA: the worker is killed while it waits.
    const slow = await sink(address, { dataDelaySeconds: 60, logCommands: true });
    const spoolId = await bed.submit(from, ['nina@crash.test'], message('nina@crash.test', 'kill me'));
    await leased(spoolId);
    await waitFor('the worker to send DATA', async () => slow.commandCount('DATA') >= 1, 20_000);
    const dumps = join(await testWorkdir('crash-sink'), 'dumps');
    let fast: SmtpSink | undefined;
    await bed.restartOutbound({
      kill: true,
      whileStopped: async () => {
        const [row] = await bed.queue(spoolId);
        assert.ok(row, 'the queue row survived the kill');
        assert.ok(row.lease_owner, 'the killed worker’s lease is still there');
        assert.equal(row.attempts, 0);
        assert.equal((await bed.recipients(spoolId))[0]!.state, 'outbound');
        await slow.stop();
        fast = await sink(address, { dumpDirectory: dumps });
      },
    });
    const [row] = await bed.settled(spoolId, 'delivered', 30_000);
    assert.match(row!.destination?.outcome?.reply ?? '', /^250 /);
    const received = await fast!.dumps();
    assert.ok(received.length >= 1);
    assert.match(received[0]!.toString('latin1'), /body of kill me/);
  });

  test('a remote slower than the lease: still one attempt in flight, one copy delivered', async () => {
    const address = '127.0.0.8';
    mx('slow.test', address);
    const dumps = join(await testWorkdir('slow-sink'), 'dumps');
    const slow = await sink(address, { dataDelaySeconds: 8, dumpDirectory: dumps });
    const spoolId = await bed.submit(from, ['omar@slow.test'], message('omar@slow.test', 'slow remote'));
    const attempts = new Set<number>();
    await waitFor(
      'delivery through the slow remote',
      async () => {
        const [row] = await bed.queue(spoolId);
        if (row?.last_attempt_at) attempts.add(row.last_attempt_at.getTime());
        return (await bed.recipients(spoolId))[0]?.state === 'delivered';
      },
      30_000,
    );
    assert.equal(attempts.size, 1, `the message was leased ${attempts.size} times while its attempt ran`);
    // A later message through the same remote is delivered, and the first still arrived once.
    const marker = await bed.submit(from, ['omar@slow.test'], message('omar@slow.test', 'marker'));
    await bed.settled(marker, 'delivered', 30_000);
    const bodies = (await slow.dumps()).map(
      (d) => /body of (slow remote|marker)/.exec(d.toString('latin1'))?.[1],
    );
    assert.deepEqual(bodies.sort(), ['marker', 'slow remote']);
  });

  test('the retry schedule survives a restart of the worker', async () => {
    const address = '127.0.0.9';
    mx('restart.test', address);
    let deferring = await sink(address, { softReject: ['rcpt'] });
    const spoolId = await bed.submit(from, ['pia@restart.test'], message('pia@restart.test', 'restart'));
    const first = await waitFor('the first deferral', async () => {
      const [row] = await bed.queue(spoolId);
      return row && row.attempts === 1 && !row.lease_owner ? row : undefined;
    });
    await bed.restartOutbound();
    const [afterRestart] = await bed.queue(spoolId);
    assert.equal(afterRestart!.attempts, 1);
    assert.equal(afterRestart!.state, 'deferred');
    assert.equal(afterRestart!.next_attempt_at.getTime(), first.next_attempt_at.getTime());
    const second = await waitFor(
      'the second attempt, by the restarted worker',
      async () => {
        const [row] = await bed.queue(spoolId);
        return row && row.attempts === 2 && !row.lease_owner ? row : undefined;
      },
      30_000,
    );
    // Not earlier than the time stored before the restart.
    assert.ok(
      second.last_attempt_at!.getTime() >= first.next_attempt_at.getTime() - 50,
      `second attempt at ${second.last_attempt_at?.toISOString()}, due ${first.next_attempt_at.toISOString()}`,
    );
    await deferring.stop();
    deferring = await sink(address);
    await bed.settled(spoolId, 'delivered', 20_000);
  });

  test('two replicas share the queue: every message delivered exactly once', async () => {
    const address = '127.0.0.10';
    mx('shared.test', address);
    const dumps = join(await testWorkdir('shared-sink'), 'dumps');
    const shared = await sink(address, { dumpDirectory: dumps });
    const first = bed.outbound();
    const second = new NodeServiceProcess({ ...first.options, opsPort: await freePort() });
    await second.start(60_000);
    try {
      const count = 40;
      const spoolIds = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          bed.submit(from, [`r${i}@shared.test`], message(`r${i}@shared.test`, `shared ${i}`)),
        ),
      );
      for (const spoolId of spoolIds) await bed.settled(spoolId, 'delivered', 30_000);
      // A later message is delivered too: by then a second copy of any of the forty would be there.
      const marker = await bed.submit(from, ['marker@shared.test'], message('marker@shared.test', 'marker'));
      await bed.settled(marker, 'delivered', 30_000);
      const received = (await shared.dumps())
        .map((d) => /body of (shared \d+|marker)/.exec(d.toString('latin1'))?.[1])
        .filter((body) => body !== 'marker');
      assert.equal(received.length, count, `${received.length} transactions for ${count} messages`);
      assert.equal(new Set(received).size, count);
    } finally {
      await second.stop();
    }
  });
});
