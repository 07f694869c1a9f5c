// MailDomain end to end against a real kube-apiserver + etcd and a real nats-server, the operator
// running as a process under its own RBAC-limited ServiceAccount.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type DkimKeyValue, type DomainConfigValue, writeDomainStatus } from '@hermod/domain-config';
import { repositoryRoot } from '@hermod/local-infra';
import { DnsTestServer } from '../../harness/index.js';
import { run } from '../../harness/tools.js';
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

describe('MailDomain lifecycle', () => {
  let env: OperatorEnv;
  let operator: OperatorProcess;
  const dns = new DnsTestServer();

  before(async () => {
    await dns.start();
    env = await startOperatorEnv();
    operator = await env.startOperator({
      env: { DNS_VERIFY: 'true', DNS_SERVERS: dns.address, DNS_RECHECK_MS: '1000' },
    });
  });
  after(async () => {
    await env?.stop();
    await dns.stop();
  });

  const get = (name: string) => env.cp.getJson<MailDomainJson>(['maildomain', name, '-n', 'default']);

  test('kubectl apply -f examples/ then kubectl wait --for=condition=Ready', async () => {
    await env.cp.kubectlOk(['apply', '-n', 'default', '-f', 'examples/']);
    await env.cp.kubectlOk(
      [
        'wait',
        '-n',
        'default',
        '--for=condition=Ready',
        '--timeout=90s',
        'maildomain/example-com',
        'maildomain/example-org',
        'maildomain/example-net',
        'maildomain/example-info',
      ],
      { timeoutMs: 100_000 },
    );
    const local = await kvJson<DomainConfigValue>(env.buckets.domains, 'example.com');
    assert.ok(local, 'example.com is in the live config bucket');
    assert.equal(local.exchanger, 'local');
    assert.equal(local.source, 'operator:default/example-com');
    assert.deepEqual(local.aliases.find((a) => a.source === 'sales')?.destinations, [
      'alice@example.com',
      'bob@example.com',
    ]);
    assert.equal(local.catchAll, 'admin@example.com');
    assert.equal(local.limits.maxMessageBytes, 25 * 1024 * 1024);
    assert.equal(local.tls.mtaSts, 'testing');
    const remote = await kvJson<DomainConfigValue>(env.buckets.domains, 'example.org');
    assert.equal(remote?.exchanger, 'remote');
    assert.deepEqual(remote?.remoteHosts, [
      { host: 'smtp.example-suite.net', port: 25, preference: 10, requireTls: true },
    ]);
    const backup = await kvJson<DomainConfigValue>(env.buckets.domains, 'example.net');
    assert.equal(backup?.exchanger, 'backup');
    assert.equal(backup?.backup?.maxHoldSeconds, 120 * 3600);
    assert.equal(backup?.dkim, undefined, 'DKIM is disabled for example.net');

    const md = await get('example-com');
    assert.equal(md.status?.observedGeneration, md.metadata.generation);
    assert.equal(md.status?.effectiveExchanger, 'local');
    assert.ok(md.metadata.finalizers?.includes('mail.hermod.dev/cleanup'));
    for (const type of ['Ready', 'ConfigApplied', 'DkimKeyReady'])
      assert.equal(condition(md, type)?.status, 'True', type);
    assert.equal(condition(md, 'DnsVerified')?.status, 'False', 'nothing is published yet');
    assert.equal(condition(md, 'DnsVerified')?.reason, 'RecordsMissing');
    const purposes = new Set(md.status?.dnsRecords?.map((r) => r.purpose));
    assert.deepEqual([...purposes].sort(), ['ClientSRV', 'DKIM', 'DMARC', 'MTA-STS', 'MX', 'SPF', 'TLS-RPT']);
    const table = await env.cp.kubectlOk(['get', 'mdom', '-n', 'default']);
    assert.match(table, /example-com\s+example\.com\s+local\s+local\s+True/);
  });

  test('the DKIM key is in a Secret owned by the MailDomain and reaches the key bucket', async () => {
    const md = await get('example-com');
    const selector = md.status?.dkim?.activeSelector;
    assert.ok(selector);
    const secret = await env.cp.getJson<{
      metadata: { ownerReferences: Array<{ uid: string; kind: string; controller: boolean }> };
      data: Record<string, string>;
    }>(['secret', 'example-com-dkim', '-n', 'default']);
    assert.deepEqual(
      secret.metadata.ownerReferences.map((r) => [r.kind, r.uid, r.controller]),
      [['MailDomain', md.metadata.uid, true]],
    );
    const pem = Buffer.from(secret.data[`${selector}.private.pem`] ?? '', 'base64').toString('utf8');
    assert.equal(createPrivateKey(pem).asymmetricKeyType, 'ed25519');
    const config = await kvJson<DomainConfigValue>(env.buckets.domains, 'example.com');
    assert.equal(config?.dkim?.selector, selector);
    assert.equal(config?.dkim?.algorithm, 'ed25519-sha256');
    const key = await kvJson<DkimKeyValue>(env.buckets.dkimKeys, config?.dkim?.keyRef ?? '');
    assert.equal(key?.privateKeyPem, pem);
    // The DNS record in status carries the public half of that very key.
    const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    const dkimRecord = md.status?.dnsRecords?.find((r) => r.purpose === 'DKIM');
    assert.equal(dkimRecord?.name, `${selector}._domainkey.example.com`);
    assert.ok(dkimRecord?.value.endsWith(`p=${spki.subarray(spki.length - 32).toString('base64')}`));
  });

  test('DnsVerified turns True once the resolver sees every record listed in status', async () => {
    const md = await get('example-com');
    // Client autoconfiguration records (CNAME, SRV) are listed but not verified.
    const mailRecords = (md.status?.dnsRecords ?? []).filter((r) => r.type === 'MX' || r.type === 'TXT');
    for (const r of mailRecords) {
      if (r.purpose === 'MX') {
        const [preference, exchange] = r.value.split(' ');
        dns.add({ type: 'MX', name: r.name, exchange: exchange ?? '', preference: Number(preference) });
      } else {
        dns.add({ type: 'TXT', name: r.name, text: r.value });
      }
    }
    const verified = await waitFor(
      'DnsVerified=True',
      async () => {
        const m = await get('example-com');
        return condition(m, 'DnsVerified')?.status === 'True' ? m : undefined;
      },
      15_000,
      250,
    );
    const records = verified.status?.dnsRecords ?? [];
    assert.ok(records.filter((r) => r.type === 'MX' || r.type === 'TXT').every((r) => r.visible === true));
    assert.ok(records.filter((r) => r.type === 'SRV').every((r) => r.visible === undefined));
  });

  test('DKIM rotation: the new selector is published first, signing switches only once DNS shows it, the old one retires later', async () => {
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('rotating', {
        domain: 'rotating.example',
        dkim: { algorithm: 'ed25519', rotationPeriod: '14s', publishLeadTime: '6s' },
      }),
    });
    const first = await waitFor(
      'the first selector',
      async () => (await get('rotating')).status?.dkim?.activeSelector,
      10_000,
    );
    const pending = await waitFor(
      'a pending selector',
      async () => {
        const m = await get('rotating');
        return m.status?.dkim?.pendingSelector;
      },
      20_000,
      250,
    );
    let config = await kvJson<DomainConfigValue>(env.buckets.domains, 'rotating.example');
    assert.equal(config?.dkim?.selector, first, 'still signing with the old selector');
    assert.ok(
      await kvJson(env.buckets.dkimKeys, `rotating.example.${pending}`),
      'the new key is already in the bucket',
    );
    const published = await get('rotating');
    const pendingRecord = published.status?.dnsRecords?.find(
      (r) => r.name === `${pending}._domainkey.rotating.example`,
    );
    assert.ok(pendingRecord);
    // The switch is due after 6 s, but nobody published the new record: signing holds.
    const held = await waitFor(
      'the rotation to hold',
      async () => {
        const m = await get('rotating');
        return condition(m, 'DkimRotation')?.reason === 'WaitingForDns' ? m : undefined;
      },
      15_000,
      250,
    );
    assert.equal(condition(held, 'DkimRotation')?.status, 'False');
    assert.equal(held.status?.dkim?.activeSelector, first);
    assert.equal(condition(held, 'Ready')?.status, 'True', 'still signing with a visible key');
    config = await kvJson<DomainConfigValue>(env.buckets.domains, 'rotating.example');
    assert.equal(config?.dkim?.selector, first, 'signing did not switch to an invisible selector');
    const warnings = await env.cp.getJson<{ items: Array<{ type: string }> }>([
      'events',
      '-n',
      'default',
      '--field-selector=involvedObject.name=rotating,reason=DkimRotationHeld',
    ]);
    assert.equal(warnings.items.length, 1);
    assert.equal(warnings.items[0]?.type, 'Warning');
    // Published: the next DNS re-check lets the switch through.
    dns.add({ type: 'TXT', name: pendingRecord.name, text: pendingRecord.value });
    const switched = await waitFor(
      'the switch',
      async () => {
        const m = await get('rotating');
        return m.status?.dkim?.activeSelector === pending ? m : undefined;
      },
      15_000,
      250,
    );
    config = await kvJson<DomainConfigValue>(env.buckets.domains, 'rotating.example');
    assert.equal(config?.dkim?.selector, pending);
    // The old selector is kept (key and record) while mail signed with it may still be checked.
    assert.equal(switched.status?.dkim?.retiringSelector, first);
    assert.ok(switched.status?.dnsRecords?.some((r) => r.name === `${first}._domainkey.rotating.example`));
    await waitFor(
      'the old selector to retire',
      async () => (await get('rotating')).status?.dkim?.retiringSelector === undefined,
      15_000,
      250,
    );
    assert.equal(
      await kvJson(env.buckets.dkimKeys, `rotating.example.${first}`),
      undefined,
      'the retired key is gone',
    );
    const secret = await env.cp.getJson<{ data: Record<string, string> }>([
      'secret',
      'rotating-dkim',
      '-n',
      'default',
    ]);
    assert.ok(Object.keys(secret.data).every((k) => !k.startsWith(`${first}.`)));
    // It would go on rotating every 14 s; later tests count writes.
    await env.cp.kubectlOk(['delete', 'maildomain', 'rotating', '-n', 'default', '--timeout=30s']);
  });

  test('a new MailDomain reaches the live config bucket within 5 seconds of kubectl apply', async () => {
    const started = Date.now();
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('fast', { domain: 'fast.example', dkim: { algorithm: 'ed25519' } }),
    });
    await waitFor('fast.example in the bucket', () => kvJson(env.buckets.domains, 'fast.example'), 5_000, 50);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5_000, `took ${elapsed} ms`);
  });

  test('patching to remote changes the live config and status within 5 seconds', async () => {
    const started = Date.now();
    await env.cp.kubectlOk([
      'patch',
      'maildomain',
      'fast',
      '-n',
      'default',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { exchanger: 'remote', remote: { hosts: [{ host: '127.0.0.1', port: 10025 }] } },
      }),
    ]);
    const config = await waitFor(
      'fast.example to become remote',
      async () => {
        const c = await kvJson<DomainConfigValue>(env.buckets.domains, 'fast.example');
        return c?.exchanger === 'remote' ? c : undefined;
      },
      5_000,
      50,
    );
    assert.ok(Date.now() - started < 5_000);
    assert.deepEqual(config.remoteHosts, [
      { host: '127.0.0.1', port: 10025, preference: 10, requireTls: false },
    ]);
    const md = await waitFor(
      'status to converge',
      async () => {
        const m = await get('fast');
        return m.status?.observedGeneration === m.metadata.generation ? m : undefined;
      },
      5_000,
    );
    assert.equal(md.status?.effectiveExchanger, 'remote');
    assert.equal(config.generation, md.metadata.generation);
  });

  test('auto mode shows the effective mode the routing service decided', async () => {
    let md = await get('example-info');
    assert.equal(md.status?.effectiveExchanger, undefined);
    assert.match(md.status?.effectiveExchangerReason ?? '', /waiting for the routing service/);
    await writeDomainStatus(env.buckets.domainStatus, 'example.info', {
      effectiveExchanger: 'remote',
      reason: 'no MX of example.info points at us (mx.elsewhere.test)',
      observedAt: new Date().toISOString(),
    });
    md = await waitFor(
      'effective mode in status',
      async () => {
        const m = await get('example-info');
        return m.status?.effectiveExchanger === 'remote' ? m : undefined;
      },
      5_000,
    );
    assert.match(md.status?.effectiveExchangerReason ?? '', /mx\.elsewhere\.test/);
    const table = await env.cp.kubectlOk(['get', 'mdom', 'example-info', '-n', 'default']);
    assert.match(table, /example\.info\s+auto\s+remote\s+True/);
  });

  test('a second reconcile at the same generation writes nothing', async () => {
    const md = await get('example-com');
    const secretBefore = await env.cp.getJson<{ metadata: { resourceVersion: string } }>([
      'secret',
      'example-com-dkim',
      '-n',
      'default',
    ]);
    const kvBefore = (await env.buckets.domains.get('example.com'))?.revision;
    const reconcilesBefore = metricValue(await operator.metrics(), 'hermod_operator_reconcile_total', {
      controller: 'maildomain',
    });
    const writesBefore = metricValue(await operator.metrics(), 'hermod_operator_config_writes_total');
    // A metadata-only change: an event (so a reconcile) but no new generation.
    await env.cp.kubectlOk(['annotate', 'maildomain', 'example-com', '-n', 'default', 'test/poke=1']);
    const poked = await get('example-com');
    assert.equal(poked.metadata.generation, md.metadata.generation);
    await waitFor(
      'a reconcile after the poke',
      async () =>
        metricValue(await operator.metrics(), 'hermod_operator_reconcile_total', {
          controller: 'maildomain',
        }) > reconcilesBefore,
    );
    // The counter moves when a reconcile has returned, after any write it made: none.
    const afterMd = await get('example-com');
    assert.equal(
      afterMd.metadata.resourceVersion,
      poked.metadata.resourceVersion,
      'no status or finalizer write',
    );
    const secretAfter = await env.cp.getJson<{ metadata: { resourceVersion: string } }>([
      'secret',
      'example-com-dkim',
      '-n',
      'default',
    ]);
    assert.equal(
      secretAfter.metadata.resourceVersion,
      secretBefore.metadata.resourceVersion,
      'no Secret write',
    );
    assert.equal((await env.buckets.domains.get('example.com'))?.revision, kvBefore, 'no KV write');
    assert.equal(metricValue(await operator.metrics(), 'hermod_operator_config_writes_total'), writesBefore);
  });

  test('invalid specs are refused by the API server with messages naming the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ domain: 'Not_A_Domain' }, /spec\.domain/],
      [{ domain: 'x.example', exchanger: 'sideways' }, /spec\.exchanger.*Unsupported value: "sideways"/],
      [{ domain: 'x.example', exchanger: 'backup' }, /spec\.backup.*required when exchanger is backup/],
      [
        { domain: 'x.example', dkim: { rotationPeriod: '1h', publishLeadTime: '2h' } },
        /spec\.dkim\.publishLeadTime.*shorter than rotationPeriod/,
      ],
      [
        { domain: 'x.example', remote: { hosts: [{ host: 'h.example', port: 70000 }] } },
        /spec\.remote\.hosts\[0\]\.port/,
      ],
      [{ domain: 'x.example', limits: { maxMessageSize: 'lots' } }, /spec\.limits\.maxMessageSize/],
      // Sizes the operator could not use are refused at apply time (CEL quantity functions).
      [
        { domain: 'x.example', limits: { maxMessageSize: '0' } },
        /spec\.limits\.maxMessageSize.*between 1Ki and 2Gi/,
      ],
      [
        { domain: 'x.example', limits: { maxMessageSize: '999999Ti' } },
        /spec\.limits\.maxMessageSize.*between 1Ki and 2Gi/,
      ],
      [
        { domain: 'x.example', limits: { defaultQuota: '999999Ti' } },
        /spec\.limits\.defaultQuota.*between 1Mi and 1024Ti/,
      ],
    ];
    for (const [spec, expected] of cases) {
      const result = await env.cp.kubectl(['apply', '-f', '-'], { input: manifest('invalid', spec) });
      assert.notEqual(result.code, 0, JSON.stringify(spec));
      assert.match(result.stderr, expected);
    }
    // The bounds themselves are accepted.
    await env.cp.kubectlOk(['apply', '--dry-run=server', '-f', '-'], {
      input: manifest('bounds', {
        domain: 'x.example',
        limits: { maxMessageSize: '2Gi', defaultQuota: '1024Ti' },
      }),
    });
    await env.cp.kubectlOk(['apply', '--dry-run=server', '-f', '-'], {
      input: manifest('bounds', {
        domain: 'x.example',
        limits: { maxMessageSize: '1Ki', defaultQuota: '1Mi' },
      }),
    });
    const immutable = await env.cp.kubectl([
      'patch',
      'mdom',
      'fast',
      '-n',
      'default',
      '--type=merge',
      '-p',
      '{"spec":{"domain":"other.example"}}',
    ]);
    assert.match(immutable.stderr, /spec\.domain.*immutable/);
  });

  test('deleting cleans up the live config, the keys and the Secret, then the finalizer', async () => {
    const md = await get('example-com');
    const keyRef = (await kvJson<DomainConfigValue>(env.buckets.domains, 'example.com'))?.dkim?.keyRef ?? '';
    assert.ok(await kvJson(env.buckets.dkimKeys, keyRef));
    await env.cp.kubectlOk(['delete', 'maildomain', 'example-com', '-n', 'default', '--timeout=30s'], {
      timeoutMs: 40_000,
    });
    assert.equal(await kvJson(env.buckets.domains, 'example.com'), undefined);
    assert.equal(await kvJson(env.buckets.dkimKeys, keyRef), undefined);
    const secret = await env.cp.kubectl(['get', 'secret', 'example-com-dkim', '-n', 'default']);
    assert.match(secret.stderr, /NotFound/);
    const events = await env.cp.kubectlOk([
      'get',
      'events',
      '-n',
      'default',
      '--field-selector',
      `involvedObject.uid=${md.metadata.uid}`,
      '-o',
      'json',
    ]);
    const reasons = (JSON.parse(events) as { items: Array<{ reason: string }> }).items.map((e) => e.reason);
    for (const reason of ['DkimKeyCreated', 'ConfigApplied', 'Ready', 'CleanedUp'])
      assert.ok(reasons.includes(reason), `event ${reason} in ${reasons}`);
  });

  test('deleting when the live config is already gone does not get stuck', async () => {
    await env.buckets.domains.delete('example.org');
    await env.cp.kubectlOk(['delete', 'maildomain', 'example-org', '-n', 'default', '--timeout=30s'], {
      timeoutMs: 40_000,
    });
    const gone = await env.cp.kubectl(['get', 'maildomain', 'example-org', '-n', 'default']);
    assert.match(gone.stderr, /NotFound/);
  });

  test('two MailDomains for one domain: the older serves it, the newer reports the conflict', async () => {
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('dup', { domain: 'fast.example', dkim: { enabled: false } }),
    });
    const dup = await waitFor('conflict in status', async () => {
      const m = await get('dup');
      return condition(m, 'Ready')?.reason === 'DomainConflict' ? m : undefined;
    });
    assert.equal(condition(dup, 'Ready')?.status, 'False');
    assert.match(
      condition(dup, 'ConfigApplied')?.message ?? '',
      /already served by MailDomain default\/fast/,
    );
    assert.equal(
      (await kvJson<DomainConfigValue>(env.buckets.domains, 'fast.example'))?.source,
      'operator:default/fast',
    );
    // The older one goes: the newer takes the domain over.
    await env.cp.kubectlOk(['delete', 'maildomain', 'fast', '-n', 'default', '--timeout=30s'], {
      timeoutMs: 40_000,
    });
    await waitFor(
      'dup to serve fast.example',
      async () => {
        const c = await kvJson<DomainConfigValue>(env.buckets.domains, 'fast.example');
        return c?.source === 'operator:default/dup';
      },
      10_000,
    );
  });

  test('a domain made with the CLI is not taken over by a MailDomain unless it says adopt', async () => {
    const cli = await run(
      process.execPath,
      ['--import', 'tsx', 'services/cli/src/main.ts', 'domain', 'add', 'handmade.example', '--mode', 'local'],
      { env: { ...process.env, NATS_URL: env.nats.url }, timeoutMs: 60_000, cwd: repositoryRoot },
    );
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((await kvJson<DomainConfigValue>(env.buckets.domains, 'handmade.example'))?.source, 'cli');
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('handmade', { domain: 'handmade.example', exchanger: 'remote' }),
    });
    const refused = await waitFor(
      'the conflict to be reported',
      async () => {
        const m = await get('handmade');
        return condition(m, 'Ready')?.reason === 'DomainConflict' ? m : undefined;
      },
      15_000,
      200,
    );
    assert.match(condition(refused, 'ConfigApplied')?.message ?? '', /cli.*mail\.hermod\.dev\/adopt/);
    const events = await env.cp.getJson<{ items: Array<{ type: string }> }>([
      'events',
      '-n',
      'default',
      '--field-selector=involvedObject.name=handmade,reason=DomainConflict',
    ]);
    assert.equal(events.items[0]?.type, 'Warning');
    let record = await kvJson<DomainConfigValue>(env.buckets.domains, 'handmade.example');
    assert.equal(record?.source, 'cli', 'the CLI record is untouched');
    assert.equal(record?.exchanger, 'local');
    // Deleting the refused MailDomain leaves the CLI's domain alone.
    await env.cp.kubectlOk(['delete', 'maildomain', 'handmade', '-n', 'default', '--timeout=30s']);
    record = await kvJson<DomainConfigValue>(env.buckets.domains, 'handmade.example');
    assert.equal(record?.source, 'cli');
    // Asked to adopt, it takes the record over (and would delete it with itself).
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'mail.hermod.dev/v1alpha1',
        kind: 'MailDomain',
        metadata: {
          name: 'handmade',
          namespace: 'default',
          annotations: { 'mail.hermod.dev/adopt': 'true' },
        },
        spec: { domain: 'handmade.example', exchanger: 'remote' },
      }),
    });
    await waitFor(
      'the adopted record',
      async () => {
        const r = await kvJson<DomainConfigValue>(env.buckets.domains, 'handmade.example');
        return r?.source === 'operator:default/handmade' && r.exchanger === 'remote';
      },
      15_000,
      200,
    );
    await waitFor('handmade Ready', async () => condition(await get('handmade'), 'Ready')?.status === 'True');
  });

  test('a DKIM Secret deleted by hand is made again with a new key, and the old key leaves the bucket', async () => {
    const old = (await get('example-info')).status?.dkim?.activeSelector;
    assert.ok(old);
    await env.cp.kubectlOk(['delete', 'secret', 'example-info-dkim', '-n', 'default']);
    const fresh = await waitFor(
      'a new selector',
      async () => {
        const s = (await get('example-info')).status?.dkim?.activeSelector;
        return s && s !== old ? s : undefined;
      },
      20_000,
      250,
    );
    const secret = await env.cp.getJson<{ data: Record<string, string> }>([
      'secret',
      'example-info-dkim',
      '-n',
      'default',
    ]);
    assert.ok(secret.data[`${fresh}.private.pem`]);
    await waitFor(
      'the config to point at the new key',
      async () =>
        (await kvJson<DomainConfigValue>(env.buckets.domains, 'example.info'))?.dkim?.selector === fresh,
    );
    assert.ok(await kvJson(env.buckets.dkimKeys, `example.info.${fresh}`));
    assert.equal(await kvJson(env.buckets.dkimKeys, `example.info.${old}`), undefined);
  });

  test('the operator runs with its own RBAC, not as admin, and exports metrics', async () => {
    const canPods = await env.cp.kubectl(['auth', 'can-i', 'list', 'pods', '--all-namespaces'], {
      kubeconfig: env.operatorKubeconfig,
    });
    assert.equal(canPods.stdout.trim(), 'no');
    const canDomains = await env.cp.kubectl(
      ['auth', 'can-i', 'watch', 'maildomains.mail.hermod.dev', '--all-namespaces'],
      {
        kubeconfig: env.operatorKubeconfig,
      },
    );
    assert.equal(canDomains.stdout.trim(), 'yes');
    const metrics = await operator.metrics();
    assert.ok(metricValue(metrics, 'hermod_operator_reconcile_total') > 0);
    assert.equal(
      metricValue(metrics, 'hermod_operator_api_requests_total', { code: '403' }),
      0,
      'no request was forbidden',
    );
    assert.equal(metricValue(metrics, 'hermod_operator_leader'), 1);
    assert.match(metrics, /hermod_operator_reconcile_duration_seconds_bucket/);
    assert.match(metrics, /hermod_operator_workqueue_depth/);
    const ready = await fetch(`http://127.0.0.1:${operator.opsPort}/readyz`);
    assert.equal(ready.status, 200);
    // Domain health agrees with what kubectl shows.
    await waitFor('the health gauges to match kubectl', async () => {
      const list = await env.cp.getJson<{ items: MailDomainJson[] }>(['maildomains', '-A']);
      const m = await operator.metrics();
      const notReady = list.items.filter((d) => condition(d, 'Ready')?.status !== 'True').length;
      const dnsMissing = list.items.filter((d) => condition(d, 'DnsVerified')?.status === 'False').length;
      return (
        metricValue(m, 'hermod_operator_maildomains') === list.items.length &&
        metricValue(m, 'hermod_operator_maildomains_not_ready') === notReady &&
        metricValue(m, 'hermod_operator_maildomains_dns_not_verified') === dnsMissing &&
        dnsMissing > 0 &&
        m.includes('hermod_operator_dkim_rotations_pending') &&
        m.includes('hermod_operator_dkim_rotations_held')
      );
    });
  });
});
