// spec.dns.provider externalDNS end to end: the operator writes the DNSEndpoint, external-dns itself
// (built from Go modules, cached like kube-apiserver) publishes it with its RFC 2136 provider into a
// real BIND on loopback (dynamic updates signed with a TSIG key made here), and the operator's DNS
// verification, pointed at that BIND, turns DnsVerified True.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, test } from 'node:test';
import { ensureExternalDns, stopChild } from '@hermod/local-infra';
import { type BindServer, startBindServer } from '../../harness/bind-server.js';
import { installDnsEndpointCrd } from './dns-endpoint-crd.js';
import {
  type MailDomainJson,
  manifest,
  type OperatorEnv,
  startOperatorEnv,
  waitFor,
} from './operator-env.js';

const DOMAIN = 'edns.example';

describe('external-dns (RFC 2136 provider) publishes the DNSEndpoint into BIND', () => {
  let env: OperatorEnv;
  let bind: BindServer;
  let externalDns: ChildProcess | undefined;
  let externalDnsLog = '';
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });

  before(async () => {
    const binary = await ensureExternalDns((line) => console.log(line));
    bind = await startBindServer(DOMAIN);
    resolver.setServers([bind.address]);
    env = await startOperatorEnv();
    await installDnsEndpointCrd(env.cp);
    await env.startOperator({
      env: {
        DNS_VERIFY: 'true',
        DNS_SERVERS: bind.address,
        DNS_RECHECK_MS: '1000',
        HERMOD_MX_HOSTS: 'mx1.hermod.example,mx2.hermod.example',
      },
    });
    externalDns = spawn(
      binary,
      [
        `--kubeconfig=${env.cp.kubeconfig}`,
        '--source=crd',
        '--crd-source-apiversion=externaldns.k8s.io/v1alpha1',
        '--crd-source-kind=DNSEndpoint',
        '--provider=rfc2136',
        `--rfc2136-host=${bind.host}`,
        `--rfc2136-port=${bind.port}`,
        `--rfc2136-zone=${DOMAIN}`,
        `--rfc2136-tsig-keyname=${bind.tsig.name}`,
        `--rfc2136-tsig-secret=${bind.tsig.secret}`,
        `--rfc2136-tsig-secret-alg=${bind.tsig.algorithm}`,
        '--rfc2136-tsig-axfr',
        `--domain-filter=${DOMAIN}`,
        ...['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'SRV'].map((t) => `--managed-record-types=${t}`),
        '--registry=txt',
        '--txt-owner-id=hermod',
        '--interval=1s',
        '--log-level=info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // The first syncs say what it made of each record: keep the head of its log.
    const keep = (c: Buffer) => {
      if (externalDnsLog.length < 24_000) externalDnsLog += c.toString('utf8');
    };
    externalDns.stdout?.on('data', keep);
    externalDns.stderr?.on('data', keep);
  });
  after(async () => {
    if (externalDns) await stopChild(externalDns, 'SIGTERM', 10_000).catch(() => {});
    await env?.stop();
    await bind?.stop();
  });

  test('DnsVerified turns True and BIND serves the MX, SPF, DKIM and DMARC records of status', async () => {
    await env.cp.kubectlOk(['apply', '-f', '-'], {
      input: manifest('edns', {
        domain: DOMAIN,
        // RSA-2048 (the default): its DKIM record is longer than one 255-octet TXT string.
        dkim: { algorithm: 'rsa-2048' },
        dns: { provider: 'externalDNS', verify: true },
      }),
    });
    const md = await waitFor(
      'DnsVerified=True',
      async () => {
        const m = await env.cp.getJson<MailDomainJson>(['maildomain', 'edns', '-n', 'default']);
        return m.status?.conditions?.some((c) => c.type === 'DnsVerified' && c.status === 'True')
          ? m
          : undefined;
      },
      120_000,
      500,
    ).catch(async (error: unknown) => {
      const m = await env.cp.getJson<MailDomainJson>(['maildomain', 'edns', '-n', 'default']);
      throw new Error(
        `${(error as Error).message}\n${JSON.stringify(m.status, null, 1)}\nexternal-dns:\n${externalDnsLog}`,
      );
    });
    const records = md.status?.dnsRecords ?? [];
    const purposes = new Set(records.map((r) => r.purpose));
    for (const p of ['MX', 'SPF', 'DKIM', 'DMARC']) assert.ok(purposes.has(p), `status lists ${p}`);
    const dkim = records.find((r) => r.purpose === 'DKIM');
    assert.ok(dkim && dkim.value.length > 255, 'an RSA DKIM record longer than one TXT string');
    const dkimStrings = await resolver.resolveTxt(dkim.name);
    // (external-dns's registry TXT record shares the name.)
    assert.deepEqual(
      dkimStrings
        .filter((parts) => parts[0]?.startsWith('v=DKIM1'))
        .map((parts) => parts.map((p) => p.length)),
      [[255, dkim.value.length - 255]],
    );
    // What BIND itself answers, record by record as status lists it.
    for (const record of records.filter((r) => r.type === 'MX' || r.type === 'TXT')) {
      const served =
        record.type === 'MX'
          ? (await resolver.resolveMx(record.name)).map((r) => `${r.priority} ${r.exchange}`)
          : (await resolver.resolveTxt(record.name)).map((parts) => parts.join(''));
      assert.ok(
        served.includes(record.value.replace(/\.$/, '')),
        `${record.type} ${record.name}: status ${record.value}, BIND serves ${served.join(' | ')}`,
      );
    }
  });
});
