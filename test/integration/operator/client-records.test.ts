// Client autoconfiguration in MailDomain status: spec.clients reaches the live config (which the
// routing service serves as autoconfiguration), and status lists the autoconfig/autodiscover CNAMEs
// and RFC 6186 SRV records - listed, not verified, so they never hold DnsVerified back. Real
// kube-apiserver, real nats-server, the operator as a process under its RBAC, a real DNS server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DomainConfigValue } from '@hermod/domain-config';
import { DnsTestServer } from '../../harness/index.js';
import {
  condition,
  kvJson,
  type MailDomainJson,
  manifest,
  type OperatorEnv,
  startOperatorEnv,
  waitFor,
} from './operator-env.js';

describe('client autoconfiguration records', () => {
  let env: OperatorEnv;
  const dns = new DnsTestServer();

  before(async () => {
    await dns.start();
    env = await startOperatorEnv();
    await env.startOperator({
      env: {
        DNS_VERIFY: 'true',
        DNS_SERVERS: dns.address,
        DNS_RECHECK_MS: '1000',
        HERMOD_AUTOCONFIG_HOST: 'web.hermod.example',
        HERMOD_MX_HOSTS: 'mx.hermod.example',
      },
    });
  });
  after(async () => {
    await env?.stop();
    await dns.stop();
  });

  const get = (name: string) => env.cp.getJson<MailDomainJson>(['maildomain', name, '-n', 'default']);

  test('status lists the CNAMEs and one SRV per offered service; the live config carries spec.clients', async () => {
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('clients-example', {
        domain: 'clients.example',
        dkim: { enabled: false },
        clients: { host: 'imap.provider.example', ports: { pop3s: 0, imap: 0, submission: 2587 } },
      }),
    });
    const md = await waitFor('status.dnsRecords', async () => {
      const m = await get('clients-example');
      return m.status?.dnsRecords?.some((r) => r.type === 'SRV') ? m : undefined;
    });
    const client = (md.status?.dnsRecords ?? []).filter((r) => r.type === 'CNAME' || r.type === 'SRV');
    assert.deepEqual(
      client.map((r) => `${r.purpose} ${r.type} ${r.name} ${r.value}`),
      [
        'Autoconfig CNAME autoconfig.clients.example web.hermod.example.',
        'Autodiscover CNAME autodiscover.clients.example web.hermod.example.',
        'ClientSRV SRV _submission._tcp.clients.example 0 1 2587 imap.provider.example.',
        'ClientSRV SRV _submissions._tcp.clients.example 0 1 465 imap.provider.example.',
        'ClientSRV SRV _imaps._tcp.clients.example 0 1 993 imap.provider.example.',
      ],
    );
    assert.ok(
      client.every((r) => r.visible === undefined),
      'client records are not verified',
    );
    const config = await kvJson<DomainConfigValue>(env.buckets.domains, 'clients.example');
    assert.deepEqual(config?.clients, {
      host: 'imap.provider.example',
      ports: { pop3s: 0, imap: 0, submission: 2587 },
    });

    // Publishing only the mail records turns DnsVerified True: the client records do not gate it.
    for (const r of md.status?.dnsRecords ?? []) {
      if (r.type === 'MX') {
        const [preference, exchange] = r.value.split(' ');
        dns.add({ type: 'MX', name: r.name, exchange: exchange ?? '', preference: Number(preference) });
      } else if (r.type === 'TXT') {
        dns.add({ type: 'TXT', name: r.name, text: r.value });
      }
    }
    await waitFor(
      'DnsVerified=True',
      async () => condition(await get('clients-example'), 'DnsVerified')?.status === 'True' || undefined,
      15_000,
      250,
    );
  });

  test('a domain without spec.clients: mail.<domain> on the well-known ports', async () => {
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('plain-example', { domain: 'plain.example', dkim: { enabled: false } }),
    });
    const md = await waitFor('status.dnsRecords', async () => {
      const m = await get('plain-example');
      return m.status?.dnsRecords?.some((r) => r.type === 'SRV') ? m : undefined;
    });
    assert.deepEqual(
      (md.status?.dnsRecords ?? []).filter((r) => r.type === 'SRV').map((r) => `${r.name} ${r.value}`),
      [
        '_submission._tcp.plain.example 0 1 587 mail.plain.example.',
        '_submissions._tcp.plain.example 0 1 465 mail.plain.example.',
        '_imap._tcp.plain.example 0 1 143 mail.plain.example.',
        '_imaps._tcp.plain.example 0 1 993 mail.plain.example.',
        '_pop3s._tcp.plain.example 0 1 995 mail.plain.example.',
      ],
    );
    const config = await kvJson<DomainConfigValue>(env.buckets.domains, 'plain.example');
    assert.equal(config?.clients, undefined);
  });
});
