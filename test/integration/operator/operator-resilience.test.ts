// The operator under failure, against a real kube-apiserver + etcd and nats-server: kill -9 in the
// middle of reconciling, kube-apiserver restarted under its watches, watch expiry (410 Gone), and
// two replicas with one leader.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DomainConfigValue } from '@hermod/domain-config';
import { createLogger } from '@hermod/logging';
import { Informer } from '../../../operator/src/kube/informer.js';
import { KubeClient } from '../../../operator/src/kube/kube-client.js';
import {
  condition,
  kvJson,
  type MailDomainJson,
  metricValue,
  type OperatorEnv,
  type OperatorProcess,
  startOperatorEnv,
  waitFor,
} from './operator-env.js';

const manifests = (prefix: string, count: number, algorithm: 'rsa-2048' | 'ed25519') =>
  Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      apiVersion: 'mail.hermod.dev/v1alpha1',
      kind: 'MailDomain',
      metadata: { name: `${prefix}-${i}`, namespace: 'default' },
      spec: { domain: `${prefix}-${i}.example`, dkim: { algorithm } },
    }),
  ).join('\n');

interface MailDomainList {
  items: MailDomainJson[];
}

describe('operator resilience', () => {
  let env: OperatorEnv;
  /** The operator process that is running (and leads) after the first test. */
  let current: OperatorProcess | undefined;

  before(async () => {
    env = await startOperatorEnv();
  });
  after(async () => {
    await env?.stop();
  });

  const allConverged = async (prefix: string, count: number) => {
    const list = await env.cp.getJson<MailDomainList>(['maildomains', '-n', 'default']);
    const mine = list.items.filter((m) => m.metadata.name.startsWith(`${prefix}-`));
    if (mine.length !== count) return false;
    return mine.every(
      (m) =>
        condition(m, 'Ready')?.status === 'True' && m.status?.observedGeneration === m.metadata.generation,
    );
  };

  test('killed with SIGKILL mid-reconcile, the operator converges after restart', async () => {
    const first = await env.startOperator({ env: { WORKERS: '2' } });
    // RSA keys take a while to make: 24 of them keep the operator busy when the kill lands.
    await env.cp.kubectlOk(['apply', '-f', '-'], { input: manifests('crash', 24, 'rsa-2048') });
    await waitFor(
      'some reconciles to have happened',
      async () =>
        metricValue(await first.metrics(), 'hermod_operator_config_writes_total', { bucket: 'domains' }) >= 2,
    );
    await first.process.kill();
    const partial = (await env.cp.getJson<MailDomainList>(['maildomains', '-n', 'default'])).items.filter(
      (m) => condition(m, 'Ready')?.status === 'True',
    ).length;
    assert.ok(partial < 24, `the kill landed mid-way (${partial} of 24 were ready)`);
    // A fresh replica must wait for the dead one's lease to expire, then finish the job.
    current = await env.startOperator({ env: { WORKERS: '2' } });
    await waitFor('all 24 to converge', () => allConverged('crash', 24), 120_000, 500);
    // Exactly one key per domain, the one in its Secret, and the live config points at it.
    for (let i = 0; i < 24; i += 1) {
      const md = await env.cp.getJson<MailDomainJson>(['maildomain', `crash-${i}`, '-n', 'default']);
      const config = await kvJson<DomainConfigValue>(env.buckets.domains, `crash-${i}.example`);
      assert.equal(config?.dkim?.selector, md.status?.dkim?.activeSelector);
      const secret = await env.cp.getJson<{ data: Record<string, string> }>([
        'secret',
        `crash-${i}-dkim`,
        '-n',
        'default',
      ]);
      assert.deepEqual(Object.keys(secret.data).sort(), [
        `${md.status?.dkim?.activeSelector}.private.pem`,
        `${md.status?.dkim?.activeSelector}.public.txt`,
      ]);
      const keys: string[] = [];
      for await (const k of await env.buckets.dkimKeys.keys(`crash-${i}.example.*`)) keys.push(k);
      assert.deepEqual(keys, [config?.dkim?.keyRef]);
    }
  });

  test('kube-apiserver restarted under the watches: nothing missed', async () => {
    const operator = await waitForLeaderProcess();
    const restartsBefore = metricValue(await operator.metrics(), 'hermod_operator_watch_restarts_total', {
      resource: 'maildomains',
    });
    await env.cp.plane.restartApiServer();
    // Changes made the moment the API server is back, before the operator's watch has reconnected.
    await env.cp.kubectlOk(['apply', '-f', '-'], { input: manifests('after', 5, 'ed25519') });
    await env.cp.kubectlOk(['delete', 'maildomain', 'crash-0', '-n', 'default', '--wait=false']);
    await waitFor('the new ones to converge', () => allConverged('after', 5), 60_000, 500);
    await waitFor(
      'crash-0 cleaned up and gone',
      async () => {
        const gone = await env.cp.kubectl(['get', 'maildomain', 'crash-0', '-n', 'default']);
        return gone.code !== 0 && (await kvJson(env.buckets.domains, 'crash-0.example')) === undefined;
      },
      60_000,
      500,
    );
    const restartsAfter = metricValue(await operator.metrics(), 'hermod_operator_watch_restarts_total', {
      resource: 'maildomains',
    });
    assert.ok(restartsAfter > restartsBefore, 'the watch was re-established');
  });

  test('a watch that expires (410 Gone) relists, and changes in the gap are seen', async () => {
    const client = await KubeClient.load(env.operatorKubeconfig);
    const relists: string[] = [];
    const informer = new Informer({
      client,
      path: '/apis/mail.hermod.dev/v1alpha1/maildomains',
      kind: 'MailDomain',
      apiVersion: 'mail.hermod.dev/v1alpha1',
      logger: createLogger('test', 'silent'),
      onRelist: (reason) => relists.push(reason),
    });
    const deleted: string[] = [];
    informer.onChange((key, current) => {
      if (!current) deleted.push(key);
    });
    informer.start();
    try {
      await informer.waitForSync();
      assert.deepEqual(relists, ['initial']);
      // Stop the watch, change things, and resume from a resourceVersion long compacted away.
      informer.restartWatch('1');
      await env.cp.kubectlOk(['apply', '-f', '-'], { input: manifests('gap', 1, 'ed25519') });
      await env.cp.kubectlOk(['delete', 'maildomain', 'after-0', '-n', 'default', '--wait=false']);
      await waitFor('a relist after 410', async () => relists.includes('expired'), 20_000);
      await waitFor('the object created in the gap', async () => informer.get('default/gap-0'), 10_000);
      await waitFor(
        'the deletion in the gap (after the finalizer)',
        async () => deleted.includes('default/after-0'),
        20_000,
      );
    } finally {
      await informer.stop();
      client.close();
    }
  });

  test('two replicas: one leader, and a takeover within 15 seconds of killing it', async () => {
    const a = await waitForLeaderProcess();
    const b = await env.startOperator({ name: 'replica-b' });
    await campaignedTwice(b);
    assert.equal(metricValue(await a.metrics(), 'hermod_operator_leader'), 1);
    assert.equal(metricValue(await b.metrics(), 'hermod_operator_leader'), 0, 'one leader only');
    // The standby writes nothing: it made no config writes and no status patches.
    assert.equal(metricValue(await b.metrics(), 'hermod_operator_config_writes_total'), 0);
    assert.equal(metricValue(await b.metrics(), 'hermod_operator_api_requests_total', { verb: 'patch' }), 0);
    const killedAt = Date.now();
    await a.process.kill();
    await waitFor(
      'replica b to lead',
      async () => metricValue(await b.metrics(), 'hermod_operator_leader') === 1,
      20_000,
      200,
    );
    const takeover = Date.now() - killedAt;
    assert.ok(takeover < 15_000, `takeover took ${takeover} ms`);
    await env.cp.kubectlOk(['apply', '-f', '-'], { input: manifests('late', 1, 'ed25519') });
    await waitFor('the new leader to reconcile', () => allConverged('late', 1), 20_000, 200);
    const lease = await env.cp.getJson<{ spec: { holderIdentity: string } }>([
      'lease',
      'hermod-operator',
      '-n',
      'hermod-system',
    ]);
    assert.equal(lease.spec.holderIdentity, 'replica-b');
    current = b;
  });

  test('a leader stopped with SIGTERM hands the lease over at once', async () => {
    const leader = await waitForLeaderProcess();
    const standby = await env.startOperator({ name: 'replica-c' });
    await campaignedTwice(standby);
    assert.equal(metricValue(await standby.metrics(), 'hermod_operator_leader'), 0);
    const stoppedAt = Date.now();
    await leader.process.stop();
    await waitFor(
      'replica c to lead',
      async () => metricValue(await standby.metrics(), 'hermod_operator_leader') === 1,
      10_000,
      100,
    );
    const handover = Date.now() - stoppedAt;
    // The released lease is taken at the next retry (1.5 s), not after the 8 s expiry.
    assert.ok(handover < 5_000, `handover took ${handover} ms`);
  });

  async function waitForLeaderProcess(): Promise<OperatorProcess> {
    current ??= await env.startOperator({ name: 'replica-a' });
    const leader = current;
    await waitFor(
      'a leader',
      async () => metricValue(await leader.metrics(), 'hermod_operator_leader') === 1,
      30_000,
      200,
    );
    return leader;
  }

  /** A second replica has read the Lease twice (two campaign rounds), so it has seen the holder. */
  async function campaignedTwice(replica: OperatorProcess): Promise<void> {
    await waitFor(
      'the replica to campaign twice',
      async () =>
        metricValue(await replica.metrics(), 'hermod_operator_api_requests_total', {
          verb: 'get',
          resource: 'leases',
        }) >= 2,
      20_000,
      100,
    );
  }
});
