import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { silentLogger } from '@hermod/logging';
import { Registry } from 'prom-client';
import { type OpsServer, type ReadinessCheck, startOpsServer } from '../src/ops-server.js';

const servers: OpsServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function readyz(checks: ReadinessCheck[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const ops = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    checks,
    logger: silentLogger(),
  });
  servers.push(ops);
  const res = await fetch(`http://127.0.0.1:${ops.port}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('/readyz names every failing check with its reason: a string, a throw, false, or no answer in time', async () => {
  const { status, body } = await readyz([
    { name: 'ok', check: () => true },
    { name: 'postgres', check: async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) },
    { name: 'start-up', check: () => 'starting: waiting for dependencies' },
    { name: 'plain', check: () => false },
    { name: 'frozen', check: () => new Promise<boolean>(() => {}) },
  ]);
  assert.equal(status, 503);
  assert.deepEqual(body, {
    ready: false,
    failing: ['postgres', 'start-up', 'plain', 'frozen'],
    reasons: {
      postgres: 'connect ECONNREFUSED 127.0.0.1:5432',
      'start-up': 'starting: waiting for dependencies',
      plain: 'not ready',
      frozen: 'no answer within 2000 ms',
    },
  });
});

test('a failing check that only degrades the service is reported without turning /readyz 503', async () => {
  const { status, body } = await readyz([
    { name: 'postgres', check: () => true },
    { name: 'nats', check: () => 'disconnected; reconnecting to nats-server', degradesOnly: true },
  ]);
  assert.equal(status, 200);
  assert.deepEqual(body, {
    ready: true,
    failing: [],
    reasons: {},
    degraded: { nats: 'disconnected; reconnecting to nats-server' },
  });
});
