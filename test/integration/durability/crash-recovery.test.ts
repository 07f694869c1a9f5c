// "A 250 after DATA means the message survives kill -9 of any one process." Messages are submitted
// while routing, mda, msa, nats-server and PostgreSQL are SIGKILLed at random moments and restarted;
// afterwards every message whose client saw 250 is in its mailbox exactly once.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { createPool, type Pool } from '@hermod/db';
import { openDomainBucket, parseDomainConfig, writeDomainConfig } from '@hermod/domain-config';
import {
  ensureSelfSignedCertificate,
  freePort,
  type NatsServerProcess,
  NodeServiceProcess,
  type PostgresCluster,
} from '@hermod/local-infra';
import { domainWatchersCaughtUp, eventually, startOwnInfrastructure } from '@hermod/test/harness';
import { connect } from 'nats';
import nodemailer from 'nodemailer';
import { mailboxCopies, seededRandom, sendAcknowledged } from './acknowledged-mail.js';

const MESSAGES = Number(process.env.HERMOD_CRASH_MESSAGES ?? 300);
const CONCURRENCY = 6;

let pg: PostgresCluster;
let nats: NatsServerProcess;
let pool: Pool;
const services = new Map<string, NodeServiceProcess>();
let submissionPort = 0;

// A seeded generator, so a failing run can be replayed with HERMOD_CRASH_SEED.
const seed = Number(process.env.HERMOD_CRASH_SEED ?? Date.now() % 100_000);
const random = seededRandom(seed);

before(async () => {
  const own = await startOwnInfrastructure('crash');
  ({ pg, nats } = own);
  const dbUrl = own.databaseUrl;
  pool = createPool({ connectionString: dbUrl, max: 4 });
  const tls = await ensureSelfSignedCertificate(join(own.work, 'tls'));
  submissionPort = await freePort();
  const routingPort = await freePort();
  const common = {
    DATABASE_URL: dbUrl,
    NATS_URL: nats.url,
    ROUTING_GRPC_ADDRESS: `127.0.0.1:${routingPort}`,
    OPS_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '3000',
  };
  const env: Record<string, Record<string, string>> = {
    routing: {
      ROUTING_GRPC_HOST: '127.0.0.1',
      ROUTING_GRPC_PORT: String(routingPort),
      ROUTING_MTA_STS_PORT: '0',
      SPOOL_SWEEP_INTERVAL_MS: '1000',
      SPOOL_STALL_AFTER_MS: '3000',
    },
    mda: {},
    msa: {
      TLS_CERT_FILE: tls.certFile,
      TLS_KEY_FILE: tls.keyFile,
      MSA_HOST: '127.0.0.1',
      MSA_SUBMISSION_PORT: String(submissionPort),
      MSA_SUBMISSIONS_PORT: String(await freePort()),
      MSA_TRUSTED_NETWORKS: '127.0.0.1/32',
      MSA_HOSTNAME: 'crash.hermod.test',
    },
  };
  for (const name of ['routing', 'mda', 'msa']) {
    const proc = new NodeServiceProcess({
      service: name,
      opsPort: await freePort(),
      env: { ...common, ...env[name] },
    });
    await proc.start(60_000);
    services.set(name, proc);
  }
  const nc = await connect({ servers: nats.url });
  await writeDomainConfig(
    await openDomainBucket(nc.jetstream()),
    parseDomainConfig({ domain: 'crash.test' }),
  );
  // Routing and msa see the domain through their KV watches: wait until they have been sent it.
  await domainWatchersCaughtUp(nc);
  await nc.close();
  await new AccountStore(pool).create({ address: 'target@crash.test', password: 'target-password' });
});

after(async () => {
  for (const s of services.values()) await s.kill().catch(() => {});
  await pool?.end().catch(() => {});
  await nats?.kill().catch(() => {});
  await pg?.kill().catch(() => {});
});

/** Sends one message; resolves with the spool id from the 250 reply, or undefined when not acknowledged. */
function submit(i: number): Promise<string | undefined> {
  return sendAcknowledged(submissionPort, {
    from: 'sender@crash.test',
    to: 'target@crash.test',
    subject: `crash test ${i}`,
    text: `message ${i}\n`,
  });
}

test(`every acknowledged message survives SIGKILL of routing, mda, msa, nats-server and PostgreSQL (seed ${seed})`, async () => {
  const acknowledged = new Set<string>();
  let next = 0;
  let sending = true;
  const kills: string[] = [];

  const chaos = (async () => {
    const victims = ['routing', 'mda', 'msa', 'nats', 'postgres'];
    // Each round kills every process once, in a random order, at random moments (the seeded pauses
    // below are the chaos schedule and the downtimes, not waits for a condition).
    let round: string[] = [];
    while (sending) {
      await new Promise((r) => setTimeout(r, 300 + random() * 700));
      if (!sending) break;
      if (round.length === 0) round = [...victims].sort(() => random() - 0.5);
      const victim = round.pop()!;
      kills.push(victim);
      if (victim === 'nats') {
        await nats.kill();
        await new Promise((r) => setTimeout(r, 200 + random() * 500));
        await nats.start();
      } else if (victim === 'postgres') {
        await pg.kill();
        await new Promise((r) => setTimeout(r, 200 + random() * 500));
        await pg.start();
      } else {
        const proc = services.get(victim)!;
        await proc.kill();
        await new Promise((r) => setTimeout(r, 100 + random() * 400));
        await proc.start(60_000);
      }
    }
  })();

  // Submission goes on past MESSAGES until every process has been killed at least once: a fast
  // pipeline must not finish before the chaos loop got round to all of them (bounded at 4x).
  const everyoneKilled = () => new Set(kills).size === 5;
  const senders = Array.from({ length: CONCURRENCY }, async () => {
    while (next < MESSAGES || (!everyoneKilled() && next < MESSAGES * 4)) {
      const i = next++;
      // Retry until acknowledged: a failed attempt may still have been stored (a duplicate is allowed).
      for (let attempt = 0; attempt < 40; attempt++) {
        const id = await submit(i);
        if (id) {
          acknowledged.add(id);
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  });
  await Promise.all(senders);
  sending = false;
  await chaos;
  // Everything back up (a restart inside the chaos loop may have raced a kill).
  for (const proc of services.values()) if (!proc.running) await proc.start(60_000);

  assert.ok(
    acknowledged.size >= MESSAGES * 0.9,
    `only ${acknowledged.size} of ${MESSAGES} messages were acknowledged`,
  );
  assert.deepEqual(
    new Set(kills),
    new Set(['routing', 'mda', 'msa', 'nats', 'postgres']),
    `not every process was killed: ${kills.join(',')}`,
  );

  // Every acknowledged message reaches the mailbox: exactly one mailbox row for its body.
  const ids = [...acknowledged];
  const deadline = Date.now() + 90_000;
  let missing: string[] = ids;
  let counts = new Map<string, number>();
  while (Date.now() < deadline) {
    counts = await mailboxCopies(pool, ids);
    missing = ids.filter((id) => (counts.get(id) ?? 0) === 0);
    if (missing.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(
    missing,
    [],
    `${missing.length} acknowledged message(s) never reached the mailbox (kills: ${kills.join(',')})`,
  );
  const duplicated = ids.filter((id) => (counts.get(id) ?? 0) > 1);
  assert.deepEqual(duplicated, [], 'a message was stored twice in the mailbox');

  // UIDs are unique and strictly increasing in storage order, with no gaps reused.
  const { rows: uids } = await pool.query<{ uid: number }>(
    `SELECT m.uid FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.name = 'INBOX' ORDER BY m.uid`,
  );
  const { rows: box } = await pool.query<{ uidnext: number }>(
    `SELECT uidnext FROM mailboxes WHERE name = 'INBOX' AND account_id = (SELECT id FROM accounts WHERE address = 'target@crash.test')`,
  );
  assert.ok(uids.every((u, i) => i === 0 || u.uid > uids[i - 1]!.uid));
  assert.ok(box[0]!.uidnext > (uids.at(-1)?.uid ?? 0));
  console.log(`acknowledged ${acknowledged.size} of ${next} submitted, kills: ${kills.join(',')}`);
});

test('with PostgreSQL down the end of DATA gets 451 4.3.0, never 250, and readiness turns false', async () => {
  const msa = services.get('msa')!;
  const ready = async () => (await fetch(`http://127.0.0.1:${msa.options.opsPort}/readyz`)).status;
  assert.equal(await ready(), 200);
  await pg.stop();
  try {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: submissionPort,
      secure: false,
      tls: { rejectUnauthorized: false },
    });
    await assert.rejects(
      transport.sendMail({
        from: 'sender@crash.test',
        to: 'target@crash.test',
        subject: 'db down',
        text: 'x\n',
      }),
      (error: Error & { responseCode?: number; response?: string }) =>
        // RCPT may already fail (routing cannot look the user up) or the end of DATA does: both are 4xx.
        (error.responseCode ?? 0) >= 400 &&
        (error.responseCode ?? 0) < 500 &&
        /4\.\d\.\d/.test(error.response ?? ''),
    );
    transport.close();
    assert.equal(await ready(), 503);
  } finally {
    await pg.start();
  }
  await eventually('msa ready again', async () => ((await ready()) === 200 ? true : undefined), 20_000);
  assert.ok(await submit(-1), 'accepting again once PostgreSQL is back');
});
