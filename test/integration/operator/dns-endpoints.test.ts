// spec.dns.provider externalDNS: the operator writes a DNSEndpoint (external-dns's CRD,
// externaldns.k8s.io/v1alpha1, installed here from the schema below) with every record status
// lists, owned by the MailDomain, level-based: it follows spec changes, is rewritten when deleted
// by hand, and goes away when the provider is switched off. Real kube-apiserver, the operator as a
// process under the RBAC of operator/config/rbac.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { installDnsEndpointCrd } from './dns-endpoint-crd.js';
import {
  type MailDomainJson,
  manifest,
  metricValue,
  type OperatorEnv,
  type OperatorProcess,
  startOperatorEnv,
  waitFor,
} from './operator-env.js';

interface DnsEndpointJson {
  metadata: {
    name: string;
    uid: string;
    resourceVersion: string;
    generation: number;
    ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }>;
  };
  spec: { endpoints: Array<{ dnsName: string; recordType: string; targets: string[]; recordTTL?: number }> };
}

describe('DNSEndpoint for external-dns', () => {
  let env: OperatorEnv;
  let operator: OperatorProcess;

  before(async () => {
    env = await startOperatorEnv();
    await installDnsEndpointCrd(env.cp);
    operator = await env.startOperator({
      env: {
        DNS_VERIFY: 'false',
        HERMOD_MX_HOSTS: 'mx1.hermod.example,mx2.hermod.example',
        HERMOD_AUTOCONFIG_HOST: 'web.hermod.example',
      },
    });
  });
  after(async () => {
    await env?.stop();
  });

  const getMd = (name: string) => env.cp.getJson<MailDomainJson>(['maildomain', name, '-n', 'default']);
  const getEndpoint = async (name: string) => {
    const result = await env.cp.kubectl(['get', 'dnsendpoint', name, '-n', 'default', '-o', 'json']);
    return result.code === 0 ? (JSON.parse(result.stdout) as DnsEndpointJson) : undefined;
  };
  const summary = (e: DnsEndpointJson) =>
    e.spec.endpoints.map((x) => `${x.recordType} ${x.dnsName} ${x.targets.join(' | ')}`);

  test('every record of status, grouped by name and type, owned by the MailDomain', async () => {
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('ext-example', {
        domain: 'ext.example',
        dkim: { algorithm: 'ed25519' },
        tls: { mtaSts: 'enforce' },
        dns: { provider: 'externalDNS' },
      }),
    });
    const md = await waitFor('status with a DKIM record', async () => {
      const m = await getMd('ext-example');
      return m.status?.dnsRecords?.some((r) => r.purpose === 'DKIM') ? m : undefined;
    });
    const endpoint = await waitFor('DNSEndpoint ext-example-dns with the DKIM record', async () => {
      const e = await getEndpoint('ext-example-dns');
      return e?.spec.endpoints.some((x) => x.dnsName.includes('._domainkey.')) ? e : undefined;
    });
    assert.deepEqual(
      endpoint.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]),
      [['MailDomain', 'ext-example', md.metadata.uid, true]],
    );
    // Exactly the records of status: each (name, type, value) appears as a target, TXT quoted as a
    // zone-file character-string (all of these are shorter than 255 octets).
    const listed = new Set(
      (md.status?.dnsRecords ?? []).map(
        (r) => `${r.type} ${r.name} ${r.type === 'TXT' ? `"${r.value}"` : r.value.replace(/\.$/, '')}`,
      ),
    );
    const written = new Set(
      endpoint.spec.endpoints.flatMap((e) => e.targets.map((t) => `${e.recordType} ${e.dnsName} ${t}`)),
    );
    assert.deepEqual([...written].sort(), [...listed].sort());
    const lines = summary(endpoint);
    assert.ok(
      lines.includes('MX ext.example 10 mx1.hermod.example | 10 mx2.hermod.example'),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /^TXT hermod-[a-z0-9]+\._domainkey\.ext\.example "v=DKIM1; k=ed25519; p=/.test(l)),
    );
    assert.ok(
      lines.includes('TXT _dmarc.ext.example "v=DMARC1; p=quarantine; rua=mailto:postmaster@ext.example"'),
    );
    assert.ok(lines.some((l) => l.startsWith('TXT _mta-sts.ext.example "v=STSv1; id=')));
    assert.ok(lines.includes('TXT _smtp._tls.ext.example "v=TLSRPTv1; rua=mailto:postmaster@ext.example"'));
    assert.ok(lines.includes('CNAME autoconfig.ext.example web.hermod.example'));
    assert.ok(lines.includes('SRV _imaps._tcp.ext.example 0 1 993 mail.ext.example'));
    assert.ok(endpoint.spec.endpoints.every((e) => e.recordTTL === 300));
  });

  test('level-based and idempotent: follows the spec, comes back when deleted, no rewrite when unchanged', async () => {
    const before = await waitFor('DNSEndpoint', () => getEndpoint('ext-example-dns'));
    // A resync of an unchanged MailDomain (an annotation bump) leaves the object as it is.
    await env.cp.kubectlOk([
      'annotate',
      'maildomain',
      'ext-example',
      '-n',
      'default',
      'touch=1',
      '--overwrite',
    ]);
    await env.cp.kubectlOk([
      'patch',
      'maildomain',
      'ext-example',
      '-n',
      'default',
      '--type=merge',
      '-p',
      '{"spec":{"dns":{"dmarcPolicy":"reject"}}}',
    ]);
    const changed = await waitFor('DMARC p=reject in the DNSEndpoint', async () => {
      const e = await getEndpoint('ext-example-dns');
      return e && summary(e).some((l) => l.startsWith('TXT _dmarc.ext.example "v=DMARC1; p=reject'))
        ? e
        : undefined;
    });
    // The resync alone did not change it: one spec change since before, one generation.
    assert.equal(changed.metadata.generation, before.metadata.generation + 1);
    // Deleted by hand: written again.
    await env.cp.kubectlOk(['delete', 'dnsendpoint', 'ext-example-dns', '-n', 'default']);
    await env.cp.kubectlOk([
      'annotate',
      'maildomain',
      'ext-example',
      '-n',
      'default',
      'touch=2',
      '--overwrite',
    ]);
    const again = await waitFor('DNSEndpoint written again', async () => {
      const e = await getEndpoint('ext-example-dns');
      return e && e.metadata.uid !== changed.metadata.uid ? e : undefined;
    });
    assert.deepEqual(summary(again), summary(changed));
  });

  test('provider none: the DNSEndpoint is deleted', async () => {
    await env.cp.kubectlOk([
      'patch',
      'maildomain',
      'ext-example',
      '-n',
      'default',
      '--type=merge',
      '-p',
      '{"spec":{"dns":{"provider":"none"}}}',
    ]);
    await waitFor('DNSEndpoint gone', async () =>
      (await getEndpoint('ext-example-dns')) === undefined ? true : undefined,
    );
  });

  test('provider none on new domains: no DELETE for a DNSEndpoint that was never written', async () => {
    const deletes = async (code: string) =>
      metricValue(await operator.metrics(), 'hermod_operator_api_requests_total', {
        verb: 'delete',
        resource: 'dnsendpoints',
        code,
      });
    const before = await deletes('404');
    const names = ['plain-one', 'plain-two', 'plain-three'];
    for (const name of names)
      await env.cp.kubectlOk(['apply', '-f', '-'], {
        input: manifest(name, { domain: `${name}.example`, dns: { provider: 'none' } }),
      });
    // The marker: each domain reconciled (its records in status), so its DNSEndpoint was decided.
    for (const name of names)
      await waitFor(`${name} reconciled`, async () =>
        (await getMd(name)).status?.dnsRecords?.length ? true : undefined,
      );
    assert.equal(await deletes('404'), before, 'a DELETE for a DNSEndpoint that never existed');
    for (const name of names) assert.equal(await getEndpoint(`${name}-dns`), undefined);
  });

  test('a new operator process learns which DNSEndpoints exist: it deletes the one written before, and sends no DELETE for the others', async () => {
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('before-restart', {
        domain: 'before-restart.example',
        dns: { provider: 'externalDNS' },
      }),
    });
    await waitFor('DNSEndpoint before-restart-dns', async () => await getEndpoint('before-restart-dns'));
    await operator.process.stop();
    operator = await env.startOperator({
      env: {
        DNS_VERIFY: 'false',
        HERMOD_MX_HOSTS: 'mx1.hermod.example,mx2.hermod.example',
        HERMOD_AUTOCONFIG_HOST: 'web.hermod.example',
      },
    });
    await env.cp.kubectlOk([
      'patch',
      'maildomain',
      'before-restart',
      '-n',
      'default',
      '--type=merge',
      '-p',
      '{"spec":{"dns":{"provider":"none"}}}',
    ]);
    await waitFor('DNSEndpoint before-restart-dns gone', async () =>
      (await getEndpoint('before-restart-dns')) === undefined ? true : undefined,
    );
    // Every domain reconciled by the new process (the marker), none of them with a DELETE that 404s.
    const count = (await env.cp.getJson<{ items: unknown[] }>(['maildomains', '-n', 'default'])).items.length;
    await waitFor('every domain reconciled by the new operator', async () =>
      metricValue(await operator.metrics(), 'hermod_operator_reconcile_total', {
        controller: 'maildomain',
      }) >= count
        ? true
        : undefined,
    );
    const metrics = await operator.metrics();
    const deletes = (code: string) =>
      metricValue(metrics, 'hermod_operator_api_requests_total', {
        verb: 'delete',
        resource: 'dnsendpoints',
        code,
      });
    assert.equal(deletes('404'), 0, 'a DELETE for a DNSEndpoint that did not exist');
    assert.equal(deletes('200'), 1, 'the DNSEndpoint written before the restart deleted once');
  });
});
