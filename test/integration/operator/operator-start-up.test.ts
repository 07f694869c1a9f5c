// The operator started while PostgreSQL is down (DATABASE_URL set): its ops endpoint answers at
// once, /healthz live and /readyz 503 naming postgres, and it becomes ready by itself once
// PostgreSQL is up and migrated, like the services do (issue 13).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { PostgresCluster } from '@hermod/local-infra';
import { eventually, startOwnInfrastructure } from '../../harness/index.js';
import { type OperatorEnv, startOperatorEnv } from './operator-env.js';

let env: OperatorEnv;
let pg: PostgresCluster;
let databaseUrl = '';

before(async () => {
  const own = await startOwnInfrastructure('operator-start-up');
  ({ pg, databaseUrl } = own);
  await own.nats.kill();
  await pg.stop();
  env = await startOperatorEnv();
});

after(async () => {
  await env?.stop();
  await pg?.kill().catch(() => {});
});

async function probe(port: number) {
  const live = (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await res.json()) as { failing?: string[]; reasons?: Record<string, string> };
  return { live, ready: res.status, failing: body.failing ?? [], reasons: body.reasons ?? {} };
}

test('started while PostgreSQL is down, the operator is live, names postgres in /readyz and becomes ready once it is up', async () => {
  const operator = await env.startOperator({ env: { DATABASE_URL: databaseUrl }, wait: false });
  const reason = await eventually(
    '/healthz 200 and /readyz 503 naming postgres',
    async () => {
      if (!operator.process.running) throw new Error(`operator exited:\n${operator.process.logs()}`);
      const p = await probe(operator.opsPort);
      return p.live === 200 && p.ready === 503 && p.failing.includes('postgres')
        ? p.reasons.postgres
        : undefined;
    },
    60_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}:\n${operator.process.logs()}`);
  });
  assert.match(reason ?? '', /ECONNREFUSED|connect/i);

  await pg.start();
  await operator.process.waitReady(60_000);
  const p = await probe(operator.opsPort);
  assert.equal(p.live, 200);
  assert.equal(p.ready, 200);
  assert.ok(operator.process.running);
});
