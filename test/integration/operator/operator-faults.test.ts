// The operator under injected faults, against a real kube-apiserver + etcd and nats-server: a
// Secret watch the API server refuses while the MailDomain watch works (what an API-server
// crash looks like when the watches come back in the wrong order).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  condition,
  type MailDomainJson,
  manifest,
  metricValue,
  type OperatorEnv,
  type OperatorProcess,
  rbacDir,
  startOperatorEnv,
  waitFor,
} from './operator-env.js';

interface EventList {
  items: Array<{ reason: string; involvedObject: { name: string } }>;
}

describe('operator under injected faults', () => {
  let env: OperatorEnv;

  before(async () => {
    env = await startOperatorEnv();
  });
  after(async () => {
    await env?.stop();
  });

  const get = (name: string) => env.cp.getJson<MailDomainJson>(['maildomain', name, '-n', 'default']);
  const ready = async (name: string) => {
    const md = await get(name);
    return condition(md, 'Ready')?.status === 'True' &&
      md.status?.observedGeneration === md.metadata.generation
      ? md
      : undefined;
  };
  const events = async (name: string, reason: string) =>
    (
      await env.cp.getJson<EventList>([
        'events',
        '-n',
        'default',
        `--field-selector=involvedObject.name=${name},reason=${reason}`,
      ])
    ).items.length;

  /** The operator's ClusterRole with the verbs on Secrets replaced. */
  const setSecretVerbs = async (verbs: string[]) => {
    const role = await readFile(join(rbacDir, 'role.yaml'), 'utf8');
    const rule = 'verbs: [get, list, watch, create, patch, delete]';
    assert.ok(role.includes(rule), 'the Secret rule of role.yaml was found');
    const changed = role.replace(rule, `verbs: [${verbs.join(', ')}]`);
    await env.cp.kubectlOk(['apply', '-f', '-'], { input: changed });
  };

  test('Secret watch refused, MailDomain watch working: exactly one DKIM key, bounded writes', async () => {
    // The Secret informer lists (empty) and then never gets a watch: its cache stays behind.
    await setSecretVerbs(['get', 'list', 'create', 'patch', 'delete']);
    let operator: OperatorProcess | undefined;
    try {
      operator = await env.startOperator({ env: { LEADER_ELECTION: 'false' } });
      const running = operator;
      await waitFor(
        'the Secret watch to be refused',
        async () =>
          metricValue(await running.metrics(), 'hermod_operator_watch_restarts_total', {
            resource: 'secrets',
            reason: 'error',
          }) >= 1,
      );
      await env.cp.kubectlOk(['apply', '-f', '-'], {
        input: manifest('loop-a', { domain: 'loop-a.example', dkim: { algorithm: 'ed25519' } }),
      });
      const md = await waitFor('loop-a Ready', () => ready('loop-a'), 30_000, 200);
      // A later domain converging shows the first one's reconciles have settled.
      await env.cp.kubectlOk(['apply', '-f', '-'], {
        input: manifest('loop-b', { domain: 'loop-b.example', dkim: { algorithm: 'ed25519' } }),
      });
      const mdB = await waitFor('loop-b Ready', () => ready('loop-b'), 30_000, 200);
      const selector = md.status?.dkim?.activeSelector;
      const secret = await env.cp.getJson<{ data: Record<string, string> }>([
        'secret',
        'loop-a-dkim',
        '-n',
        'default',
      ]);
      assert.deepEqual(Object.keys(secret.data).sort(), [
        `${selector}.private.pem`,
        `${selector}.public.txt`,
      ]);
      assert.equal((await get('loop-a')).status?.dkim?.activeSelector, selector, 'the selector held');
      assert.ok(mdB.status?.dkim?.activeSelector);
      const metrics = await running.metrics();
      assert.equal(
        metricValue(metrics, 'hermod_operator_dkim_keys_generated_total'),
        2,
        'one key per domain',
      );
      assert.equal(
        metricValue(metrics, 'hermod_operator_config_writes_total', {
          bucket: 'dkim-keys',
          operation: 'put',
        }),
        2,
      );
      assert.equal(
        metricValue(metrics, 'hermod_operator_config_writes_total', { bucket: 'domains', operation: 'put' }),
        2,
      );
      // One Secret write per domain: a create, no overwrite.
      assert.equal(
        metricValue(metrics, 'hermod_operator_api_requests_total', { verb: 'post', resource: 'secrets' }),
        2,
      );
      assert.equal(
        metricValue(metrics, 'hermod_operator_api_requests_total', { verb: 'patch', resource: 'secrets' }),
        0,
      );
      assert.equal(await events('loop-a', 'DkimKeyCreated'), 1);
      assert.equal(await events('loop-a', 'ConfigApplied'), 1);
    } finally {
      await operator?.process.kill();
      await setSecretVerbs(['get', 'list', 'watch', 'create', 'patch', 'delete']);
    }
  });

  test('after the API server was away, a new domain is Ready within seconds of its return', async (t) => {
    const operator = await env.startOperator();
    try {
      await waitFor(
        'a leader',
        async () => metricValue(await operator.metrics(), 'hermod_operator_leader') === 1,
        30_000,
        200,
      );
      // Away long enough for the watches' retry backoff to grow past 10 s.
      await env.cp.plane.restartApiServer({ downMs: 12_000 });
      const back = Date.now();
      await env.cp.kubectlOk(['apply', '-f', '-'], {
        input: manifest('returned', { domain: 'returned.example', dkim: { algorithm: 'ed25519' } }),
      });
      await waitFor('returned Ready', () => ready('returned'), 30_000, 100);
      const took = Date.now() - back;
      t.diagnostic(`Ready ${took} ms after the API server was back`);
      assert.ok(took < 5_000, `Ready ${took} ms after the API server was back`);
    } finally {
      await operator.process.kill();
    }
  });
});
