// Status that tells the truth, and an operator that stays quiet, against a real kube-apiserver +
// etcd and nats-server with the operator under its own RBAC: a spec the API server accepts but the
// operator cannot use, a DKIM Secret corrupted by hand, a Secret of the DKIM name that someone
// else owns, and no write at all while every domain (in every mode and failure state) is
// reconciled again and again.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { DkimKeyValue, DomainConfigValue } from '@hermod/domain-config';
import {
  condition,
  kvJson,
  type MailDomainJson,
  manifest,
  metricValue,
  type OperatorEnv,
  type OperatorProcess,
  startOperatorEnv,
  waitFor,
} from './operator-env.js';

interface SecretJson {
  metadata: { resourceVersion: string; ownerReferences?: Array<{ uid: string }> };
  data: Record<string, string>;
}

const RESYNC_MS = 1_500;

describe('MailDomain status tells the truth; a quiet world gets no writes', () => {
  let env: OperatorEnv;
  let operator: OperatorProcess;

  before(async () => {
    env = await startOperatorEnv();
    // A short resync: every domain is reconciled again every 1.5 s, which the quiet test counts on.
    operator = await env.startOperator({
      env: { RESYNC_PERIOD_MS: String(RESYNC_MS), DKIM_KEY_MIN_INTERVAL_MS: '500' },
    });
  });
  after(async () => {
    await env?.stop();
  });

  const get = (name: string) => env.cp.getJson<MailDomainJson>(['maildomain', name, '-n', 'default']);
  const apply = (name: string, spec: Record<string, unknown>) =>
    env.cp.kubectlOk(['apply', '-f', '-'], { input: manifest(name, spec) });
  const readyAtGeneration = async (name: string) => {
    const md = await get(name);
    return condition(md, 'Ready')?.status === 'True' &&
      md.status?.observedGeneration === md.metadata.generation
      ? md
      : undefined;
  };
  const secret = (name: string) => env.cp.getJson<SecretJson>(['secret', name, '-n', 'default']);

  test('a spec the API server accepts but the operator cannot use is Ready=False InvalidSpec naming the field', async () => {
    // The schema cannot express "a regex that compiles": the API server takes it, the operator not.
    const badRule = {
      name: 'bad',
      all: [{ subject: { regex: ['(unclosed'] } }],
      action: { reject: 'not today' },
    };
    await apply('badrule', { domain: 'badrule.example', dkim: { enabled: false } });
    await waitFor('badrule Ready', () => readyAtGeneration('badrule'), 20_000);
    await apply('badrule', { domain: 'badrule.example', dkim: { enabled: false }, policyRules: [badRule] });
    const refused = await waitFor(
      'InvalidSpec in status',
      async () => {
        const md = await get('badrule');
        const r = condition(md, 'Ready');
        return r?.reason === 'InvalidSpec' && r.observedGeneration === md.metadata.generation
          ? md
          : undefined;
      },
      20_000,
    );
    const ready = condition(refused, 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /spec\.policyRules/);
    assert.equal(condition(refused, 'ConfigApplied')?.status, 'False');
    assert.equal(condition(refused, 'ConfigApplied')?.reason, 'InvalidSpec');
    // Decided for this generation (only a spec change can help), as for InvalidSieveScript.
    assert.equal(refused.status?.observedGeneration, refused.metadata.generation);
    // The record in force stays as it was (without the rule).
    assert.deepEqual(
      (await kvJson<DomainConfigValue>(env.buckets.domains, 'badrule.example'))?.policyRules,
      [],
    );
    const warnings = await env.cp.getJson<{ items: Array<{ type: string; message: string }> }>([
      'events',
      '-n',
      'default',
      '--field-selector=involvedObject.name=badrule,reason=InvalidSpec',
    ]);
    assert.equal(warnings.items[0]?.type, 'Warning');
    // Fixed: Ready again at the new generation.
    await apply('badrule', {
      domain: 'badrule.example',
      dkim: { enabled: false },
      policyRules: [{ ...badRule, all: [{ subject: { regex: ['(closed)'] } }] }],
    });
    await waitFor('badrule Ready again', () => readyAtGeneration('badrule'), 20_000);
    assert.equal(
      (await kvJson<DomainConfigValue>(env.buckets.domains, 'badrule.example'))?.policyRules?.length,
      1,
    );
  });

  test('a corrupted DKIM key in the Secret is replaced by a new key; nothing broken reaches the key bucket', async () => {
    await apply('corrupt', { domain: 'corrupt.example', dkim: { algorithm: 'ed25519' } });
    const first = await waitFor('corrupt Ready', () => readyAtGeneration('corrupt'), 20_000);
    const old = first.status?.dkim?.activeSelector;
    assert.ok(old);
    const before = await secret('corrupt-dkim');
    // Someone pastes garbage over the private key (a bad copy from a backup, say).
    await env.cp.kubectlOk([
      'patch',
      'secret',
      'corrupt-dkim',
      '-n',
      'default',
      '--type=merge',
      '-p',
      JSON.stringify({
        data: {
          [`${old}.private.pem`]: Buffer.from('-----BEGIN PRIVATE KEY-----\nbroken\n').toString('base64'),
        },
      }),
    ]);
    const fresh = await waitFor(
      'a new selector',
      async () => {
        const md = await readyAtGeneration('corrupt');
        const s = md?.status?.dkim?.activeSelector;
        return s && s !== old ? s : undefined;
      },
      20_000,
    );
    const config = await kvJson<DomainConfigValue>(env.buckets.domains, 'corrupt.example');
    assert.equal(config?.dkim?.selector, fresh);
    const key = await kvJson<DkimKeyValue>(env.buckets.dkimKeys, config?.dkim?.keyRef ?? '');
    assert.ok(key);
    const spki = createPublicKey(createPrivateKey(key.privateKeyPem)).export({ type: 'spki', format: 'der' });
    assert.equal(key.publicKey, spki.subarray(spki.length - 32).toString('base64'), 'public half matches');
    assert.equal(await kvJson(env.buckets.dkimKeys, `corrupt.example.${old}`), undefined);
    const after = await secret('corrupt-dkim');
    assert.notEqual(after.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.equal(after.data[`${old}.private.pem`], undefined, 'the broken key is gone from the Secret');
  });

  test('a Secret of the DKIM name that the MailDomain does not own is left alone and reported', async () => {
    await env.cp.kubectlOk([
      'create',
      'secret',
      'generic',
      'taken-dkim',
      '-n',
      'default',
      '--from-literal=mine=yes',
    ]);
    const theirs = await secret('taken-dkim');
    await apply('taken', { domain: 'taken.example' });
    const refused = await waitFor(
      'the Secret conflict in status',
      async () => {
        const md = await get('taken');
        return condition(md, 'DkimKeyReady')?.reason === 'SecretConflict' ? md : undefined;
      },
      20_000,
    );
    assert.equal(condition(refused, 'DkimKeyReady')?.status, 'False');
    assert.match(condition(refused, 'DkimKeyReady')?.message ?? '', /taken-dkim/);
    assert.equal(condition(refused, 'Ready')?.status, 'False');
    assert.equal(condition(refused, 'Ready')?.reason, 'SecretConflict');
    const untouched = await secret('taken-dkim');
    assert.equal(untouched.metadata.resourceVersion, theirs.metadata.resourceVersion, 'not written');
    assert.deepEqual(untouched.data, { mine: Buffer.from('yes').toString('base64') });
    // Deleting the MailDomain does not delete someone else's Secret either.
    await env.cp.kubectlOk(['delete', 'maildomain', 'taken', '-n', 'default', '--timeout=30s'], {
      timeoutMs: 40_000,
    });
    assert.equal((await secret('taken-dkim')).metadata.resourceVersion, theirs.metadata.resourceVersion);
    await env.cp.kubectlOk(['delete', 'secret', 'taken-dkim', '-n', 'default']);
  });

  test('every mode and failure state reconciled again and again writes nothing', async () => {
    await env.cp.kubectlOk([
      'create',
      'secret',
      'generic',
      'held-dkim',
      '-n',
      'default',
      '--from-literal=x=y',
    ]);
    await apply('q-local', {
      domain: 'q-local.example',
      aliases: [{ source: 'sales', destinations: ['a@q-local.example'] }],
      catchAll: 'a@q-local.example',
      limits: { maxMessageSize: '10Mi', defaultQuota: '1Gi', outboundPerMinute: 100 },
      tls: { mtaSts: 'enforce' },
    });
    await apply('q-remote', {
      domain: 'q-remote.example',
      exchanger: 'remote',
      remote: { hosts: [{ host: 'mx.elsewhere.example', requireTls: true }] },
      dkim: { algorithm: 'rsa-2048' },
    });
    await apply('q-backup', {
      domain: 'q-backup.example',
      exchanger: 'backup',
      backup: { primary: [{ host: 'primary.example' }] },
      dkim: { enabled: false },
    });
    await apply('q-auto', { domain: 'q-auto.example', exchanger: 'auto' });
    await apply('q-dup', { domain: 'q-local.example', dkim: { enabled: false } });
    await apply('held', { domain: 'held.example' });
    // Served first (so it carries the finalizer), then given a spec the operator cannot use.
    await apply('q-invalid', { domain: 'q-invalid.example' });
    await waitFor('q-invalid Ready', () => readyAtGeneration('q-invalid'), 30_000);
    await apply('q-invalid', {
      domain: 'q-invalid.example',
      policyRules: [{ name: 'bad', all: [{ subject: { regex: ['['] } }], action: { reject: 'no' } }],
    });
    for (const name of ['q-local', 'q-remote', 'q-backup', 'q-auto'])
      await waitFor(`${name} Ready`, () => readyAtGeneration(name), 60_000);
    await waitFor(
      'q-dup in conflict',
      async () => condition(await get('q-dup'), 'Ready')?.reason === 'DomainConflict',
    );
    await waitFor(
      'held in conflict',
      async () => condition(await get('held'), 'Ready')?.reason === 'SecretConflict',
    );

    await waitFor(
      'q-invalid refused',
      async () => condition(await get('q-invalid'), 'Ready')?.reason === 'InvalidSpec',
    );

    const snapshot = async () => {
      const domains = await env.cp.getJson<{ items: MailDomainJson[] }>(['maildomains', '-n', 'default']);
      const secrets = await env.cp.getJson<{
        items: Array<{ metadata: { name: string; resourceVersion: string } }>;
      }>(['secrets', '-n', 'default']);
      const events = await env.cp.getJson<{ items: Array<{ metadata: { name: string }; count?: number }> }>([
        'events',
        '-n',
        'default',
      ]);
      const kv: Record<string, number | undefined> = {};
      for (const d of domains.items)
        kv[d.spec.domain] = (await env.buckets.domains.get(d.spec.domain))?.revision;
      return {
        domains: Object.fromEntries(domains.items.map((d) => [d.metadata.name, d.metadata.resourceVersion])),
        secrets: Object.fromEntries(secrets.items.map((s) => [s.metadata.name, s.metadata.resourceVersion])),
        events: Object.fromEntries(events.items.map((e) => [e.metadata.name, e.count ?? 1])),
        kv,
      };
    };
    // Every write but the leader's Lease renewals (which go on by design).
    const writes = (text: string) =>
      ['post', 'patch', 'put', 'delete'].reduce(
        (sum, verb) =>
          sum +
          metricValue(text, 'hermod_operator_api_requests_total', { verb }) -
          metricValue(text, 'hermod_operator_api_requests_total', { verb, resource: 'leases' }),
        0,
      ) + metricValue(text, 'hermod_operator_config_writes_total');
    const count = (await env.cp.getJson<{ items: unknown[] }>(['maildomains', '-n', 'default'])).items.length;
    const reconciles = (text: string) =>
      metricValue(text, 'hermod_operator_reconcile_total', { controller: 'maildomain' });

    const before = await snapshot();
    const metricsBefore = await operator.metrics();
    // The marker: every domain reconciled three more times over (by the resync), which also
    // outlasts any requeue timer the failure states set (1 s).
    await waitFor(
      'three resyncs of every domain',
      async () => reconciles(await operator.metrics()) >= reconciles(metricsBefore) + 3 * count,
      30_000,
      200,
    );
    const metricsAfter = await operator.metrics();
    const afterSnapshot = await snapshot();
    assert.deepEqual(afterSnapshot, before, 'no object, Secret, Event or config record changed');
    const writeLines = (text: string) =>
      text
        .split('\n')
        .filter(
          (l) =>
            /^hermod_operator_(api_requests_total\{verb="(post|patch|put|delete)"|config_writes_total)/.test(
              l,
            ) && !l.includes('resource="leases"'),
        );
    assert.equal(
      writes(metricsAfter),
      writes(metricsBefore),
      `no API or config write:\n${writeLines(metricsBefore).join('\n')}\n---\n${writeLines(metricsAfter).join('\n')}`,
    );
    assert.equal(
      metricValue(metricsAfter, 'hermod_operator_dkim_keys_generated_total'),
      metricValue(metricsBefore, 'hermod_operator_dkim_keys_generated_total'),
    );
    // Deleting never gets stuck, whatever state a domain is in (an unusable spec included).
    await env.cp.kubectlOk(['delete', 'maildomain', '--all', '-n', 'default', '--timeout=60s'], {
      timeoutMs: 70_000,
    });
    for (const domain of [
      'q-local.example',
      'q-remote.example',
      'q-backup.example',
      'q-auto.example',
      'q-invalid.example',
    ])
      assert.equal(await kvJson(env.buckets.domains, domain), undefined, `${domain} removed`);
    assert.deepEqual(
      await env.buckets.dkimKeys.keys().then(async (it) => {
        const keys: string[] = [];
        for await (const k of it) keys.push(k);
        return keys.filter((k) => k.startsWith('q-'));
      }),
      [],
    );
    assert.equal((await secret('held-dkim')).data.x, Buffer.from('y').toString('base64'), 'not ours: kept');
  });
});
