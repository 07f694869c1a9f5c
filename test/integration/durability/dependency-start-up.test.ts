// Readiness and start-up without dependencies: a service started while PostgreSQL or nats-server is
// down waits for them (live, not ready, /readyz naming the dependency and why) and becomes ready
// by itself once they are back; an established service that loses one reports not-ready with the
// reason while /healthz stays 200, and recovers.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  ensureSelfSignedCertificate,
  freePort,
  type NatsServerProcess,
  NodeServiceProcess,
  type PostgresCluster,
} from '@hermod/local-infra';
import { eventually, startOwnInfrastructure } from '@hermod/test/harness';

let pg: PostgresCluster;
let nats: NatsServerProcess;
let databaseUrl = '';
let tls: { certFile: string; keyFile: string };
const started: NodeServiceProcess[] = [];

before(async () => {
  const own = await startOwnInfrastructure('start-up');
  ({ pg, nats, databaseUrl } = own);
  await pg.stop();
  await nats.stop();
  tls = await ensureSelfSignedCertificate(join(own.work, 'tls'));
});

after(async () => {
  nats?.resume();
  await pg?.resume();
  for (const s of started) await s.stop().catch(() => {});
  await nats?.kill().catch(() => {});
  await pg?.kill().catch(() => {});
});

/** A service process (msa needs PostgreSQL and NATS to start), spawned without waiting for it. */
async function spawnService(
  service: 'msa' | 'mda',
  extraEnv: Record<string, string> = {},
): Promise<NodeServiceProcess> {
  const own: Record<string, string> =
    service === 'msa'
      ? {
          ...extraEnv,
          ROUTING_GRPC_ADDRESS: `127.0.0.1:${await freePort()}`,
          TLS_CERT_FILE: tls.certFile,
          TLS_KEY_FILE: tls.keyFile,
          MSA_HOST: '127.0.0.1',
          MSA_SUBMISSION_PORT: String(await freePort()),
          MSA_SUBMISSIONS_PORT: String(await freePort()),
        }
      : {};
  const proc = new NodeServiceProcess({
    service,
    opsPort: await freePort(),
    env: {
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      OPS_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: '3000',
      ...own,
    },
  });
  proc.spawn();
  started.push(proc);
  return proc;
}

interface Probe {
  live: number;
  ready: number;
  reasons: Record<string, string>;
  degraded: Record<string, string>;
}

async function probe(proc: NodeServiceProcess): Promise<Probe> {
  const base = `http://127.0.0.1:${proc.options.opsPort}`;
  const live = (await fetch(`${base}/healthz`)).status;
  const res = await fetch(`${base}/readyz`);
  const body = (await res.json()) as {
    reasons?: Record<string, string>;
    degraded?: Record<string, string>;
  };
  return { live, ready: res.status, reasons: body.reasons ?? {}, degraded: body.degraded ?? {} };
}

/** Waits until the service is live and not ready because of dependency, and returns the reason. */
async function notReadyBecauseOf(proc: NodeServiceProcess, dependency: string): Promise<string> {
  return eventually(`${proc.name} to be live and not ready because of ${dependency}`, async () => {
    const p = await probe(proc);
    return p.live === 200 && p.ready === 503 ? p.reasons[dependency] : undefined;
  }).catch((error: Error) => {
    throw new Error(`${error.message} (${proc.running ? 'running' : 'exited'}):\n${proc.logs()}`);
  });
}

/** Waits until the service is live and ready while reporting dependency as degraded; the reason. */
async function degradedBecauseOf(proc: NodeServiceProcess, dependency: string): Promise<string> {
  return eventually(`${proc.name} to be ready and degraded because of ${dependency}`, async () => {
    const p = await probe(proc);
    return p.live === 200 && p.ready === 200 ? p.degraded[dependency] : undefined;
  });
}

test('a service started while PostgreSQL is down stays live, names postgres in /readyz and becomes ready once it is back', async () => {
  await nats.start();
  const msa = await spawnService('msa');
  const reason = await notReadyBecauseOf(msa, 'postgres');
  assert.match(reason, /ECONNREFUSED|connect/i);
  await pg.start();
  await msa.waitReady(30_000);
  assert.ok(msa.running);
});

test('a service started while nats-server is down stays live, names nats in /readyz and becomes ready once it is back', async () => {
  await nats.stop();
  const msa = await spawnService('msa');
  assert.match(await notReadyBecauseOf(msa, 'nats'), /connecting/);
  await nats.start();
  await msa.waitReady(30_000);
  assert.ok(msa.running);
});

test('an established service reports the lost dependency and why, stays live, and recovers by itself', async () => {
  const msa = started.at(-1)!;
  await msa.waitReady();
  const mda = await spawnService('mda');
  await mda.waitReady(30_000);

  await pg.crashPostmaster();
  assert.ok((await notReadyBecauseOf(msa, 'postgres')).length > 0);
  assert.ok((await notReadyBecauseOf(mda, 'postgres')).length > 0);
  await pg.start();
  await msa.waitReady(15_000);
  await mda.waitReady(15_000);

  await pg.pause();
  assert.match(await notReadyBecauseOf(msa, 'postgres'), /no answer within/);
  await pg.resume();
  await msa.waitReady(15_000);

  // Without the bus every service reports not-ready with the reason (msa still accepts into the
  // spool meanwhile); an msa with READY_WITHOUT_NATS stays ready and reports the loss as degraded.
  const msaReadyWithoutBus = await spawnService('msa', { READY_WITHOUT_NATS: 'true' });
  await msaReadyWithoutBus.waitReady(30_000);
  await nats.kill();
  assert.match(await notReadyBecauseOf(mda, 'nats'), /reconnecting|closed/);
  assert.match(await notReadyBecauseOf(msa, 'nats'), /reconnecting|closed/);
  assert.match(await degradedBecauseOf(msaReadyWithoutBus, 'nats'), /reconnecting|closed/);
  await nats.start();
  await mda.waitReady(15_000);
  await msa.waitReady(15_000);
  await eventually('msa with READY_WITHOUT_NATS no longer degraded', async () =>
    (await probe(msaReadyWithoutBus)).degraded.nats === undefined ? true : undefined,
  );

  nats.pause();
  assert.match(await notReadyBecauseOf(mda, 'nats'), /no answer within|reconnecting/);
  nats.resume();
  await mda.waitReady(15_000);
  for (const proc of started) assert.ok(proc.running, `${proc.name} exited:\n${proc.logs()}`);
});

test('every service started while PostgreSQL and nats-server are both down waits, live, and becomes ready once they are back', async () => {
  await pg.stop();
  await nats.stop();
  const port = async () => String(await freePort());
  const routingGrpc = await port();
  const common = {
    ROUTING_GRPC_ADDRESS: `127.0.0.1:${routingGrpc}`,
    TLS_CERT_FILE: tls.certFile,
    TLS_KEY_FILE: tls.keyFile,
  };
  const own: Record<string, Record<string, string>> = {
    routing: {
      ROUTING_GRPC_HOST: '127.0.0.1',
      ROUTING_GRPC_PORT: routingGrpc,
      ROUTING_MTA_STS_HOST: '127.0.0.1',
      ROUTING_MTA_STS_PORT: await port(),
    },
    mda: {},
    'outbound-mta': { OUTBOUND_HELO_NAME: 'mail.hermod.test' },
    imap: {
      IMAP_HOST: '127.0.0.1',
      IMAP_PORT: await port(),
      IMAPS_PORT: await port(),
      POP3_PORT: await port(),
      POP3S_PORT: await port(),
      MANAGESIEVE_PORT: await port(),
    },
    msa: { MSA_HOST: '127.0.0.1', MSA_SUBMISSION_PORT: await port(), MSA_SUBMISSIONS_PORT: await port() },
    mx: { MX_HOST: '127.0.0.1', MX_SMTP_PORT: await port() },
  };
  const procs: NodeServiceProcess[] = [];
  for (const [service, env] of Object.entries(own)) {
    const proc = new NodeServiceProcess({
      service,
      opsPort: await freePort(),
      env: {
        DATABASE_URL: databaseUrl,
        NATS_URL: nats.url,
        OPS_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        SHUTDOWN_GRACE_MS: '3000',
        ...common,
        ...env,
      },
    });
    proc.spawn();
    started.push(proc);
    procs.push(proc);
  }
  for (const proc of procs) assert.ok((await notReadyBecauseOf(proc, 'postgres')).length > 0);
  await pg.start();
  // PostgreSQL alone is not enough: each says it waits for the bus.
  for (const proc of procs)
    assert.match(await notReadyBecauseOf(proc, 'nats'), /connecting|reconnecting|closed/);
  await nats.start();
  for (const proc of procs) await proc.waitReady(30_000);
  for (const proc of procs) assert.ok(proc.running, `${proc.name} exited:\n${proc.logs()}`);
});
