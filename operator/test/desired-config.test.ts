import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDomainConfig } from '@hermod/domain-config';
import { MailDomain } from '../src/api/v1alpha1/maildomain.js';
import { desiredDomainConfig, sameConfig } from '../src/controller/desired-config.js';
import { expectedRecords, verifyRecords } from '../src/controller/dns-records.js';

const md = (spec: Record<string, unknown>) =>
  MailDomain.parse({ metadata: { name: 'd', namespace: 'ns', generation: 3 }, spec });

test('a MailDomain becomes a valid live config record; equal records compare equal whatever updatedAt', () => {
  const desired = desiredDomainConfig(
    md({
      domain: 'example.com',
      exchanger: 'backup',
      backup: { primary: [{ host: 'mx1.example.com' }], maxHoldDuration: '1h30m' },
      limits: { maxMessageSize: '10Mi' },
    }),
    { selector: 's1', algorithm: 'ed25519-sha256', keyRef: 'example.com.s1' },
  );
  const stored = parseDomainConfig({ ...desired, updatedAt: '2026-01-01T00:00:00Z' });
  assert.equal(stored.backup?.maxHoldSeconds, 5400);
  assert.deepEqual(stored.remoteHosts, [
    { host: 'mx1.example.com', port: 25, preference: 10, requireTls: false },
  ]);
  assert.equal(stored.limits.maxMessageBytes, 10 * 1024 * 1024);
  assert.equal(stored.source, 'operator:ns/d');
  assert.equal(stored.generation, 3);
  assert.ok(sameConfig(desired, stored));
  assert.ok(!sameConfig({ ...desired, exchanger: 'local' }, stored));
});

test('spec.sieve becomes the live config sieve scripts; absent, the record carries none', () => {
  const withSieve = desiredDomainConfig(
    md({
      domain: 'example.com',
      sieve: { before: 'keep;\n', library: [{ name: 'common', script: 'discard;\n' }] },
    }),
    undefined,
  );
  const stored = parseDomainConfig({ ...withSieve, updatedAt: '' });
  assert.deepEqual(stored.sieve, { before: 'keep;\n', library: [{ name: 'common', source: 'discard;\n' }] });
  assert.ok(sameConfig(withSieve, stored));
  assert.equal(desiredDomainConfig(md({ domain: 'example.com' }), undefined).sieve, undefined);
  // An empty spec.sieve still says "the MailDomain sets the global scripts: none".
  assert.deepEqual(desiredDomainConfig(md({ domain: 'example.com', sieve: {} }), undefined).sieve, {
    library: [],
  });
});

test('DNS verification says which records the resolver sees', async () => {
  const domain = md({ domain: 'example.com', dns: { mxHosts: ['mx.hermod.test'] } });
  const records = expectedRecords(
    domain,
    [{ selector: 's1', algorithm: 'rsa-sha256', publicKey: 'QUJD' }],
    [],
  );
  const verified = await verifyRecords(records, {
    resolveMx: async () => [{ exchange: 'mx.hermod.test.', priority: 10 }],
    resolveTxt: async (name) => {
      if (name === 'example.com') return [['v=spf1 mx ~all']];
      if (name === 's1._domainkey.example.com') return [['v=DKIM1; k=rsa; ', 'p=QUJD']];
      throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
    },
  });
  const seen = Object.fromEntries(verified.map((r) => [r.purpose, r.visible]));
  assert.deepEqual(seen, { MX: true, SPF: true, DKIM: true, DMARC: false });
  assert.match(verified.find((r) => r.purpose === 'DMARC')?.detail ?? '', /ENOTFOUND/);
});

test('an SPF record whose terms run together is not our SPF (RFC 7208: strings join without spaces)', async () => {
  const records = expectedRecords(
    md({ domain: 'example.com', dns: { mxHosts: ['mx.hermod.test'] } }),
    [{ selector: 's1', algorithm: 'rsa-sha256', publicKey: 'QUJD' }],
    [],
  );
  const spfSeen = async (strings: string[]) =>
    (
      await verifyRecords(records, {
        resolveMx: async () => [],
        resolveTxt: async (name) => (name === 'example.com' ? [strings] : []),
      })
    ).find((r) => r.purpose === 'SPF')?.visible;
  // What an unquoted zone-file line publishes: one string per word, read back as "v=spf1mx~all".
  assert.equal(await spfSeen(['v=spf1', 'mx', '~all']), false);
  assert.equal(await spfSeen(['v=spf1 mx ', '~all']), true);
  assert.equal(await spfSeen(['v=spf1  MX ~all']), true);
});

test('the parser refuses the sizes the CRD refuses, and takes the bounds', () => {
  for (const maxMessageSize of ['0', '1023', '999999Ti', '3Gi'])
    assert.equal(
      MailDomain.safeParse({
        metadata: { name: 'd' },
        spec: { domain: 'example.com', limits: { maxMessageSize } },
      }).success,
      false,
      maxMessageSize,
    );
  const ok = md({ domain: 'example.com', limits: { maxMessageSize: '2Gi', defaultQuota: '1024Ti' } });
  const config = desiredDomainConfig(ok, undefined);
  assert.equal(config.limits.maxMessageBytes, 2 * 1024 ** 3);
  assert.equal(
    parseDomainConfig({ ...config, updatedAt: '2026-01-01T00:00:00Z' }).limits.defaultQuotaBytes,
    1024 ** 5,
  );
});

test('MTA-STS on: the published MX hosts go into the live config for the served policy', () => {
  const withHosts = desiredDomainConfig(
    md({ domain: 'example.com', tls: { mtaSts: 'enforce' }, dns: { mxHosts: ['mx.hermod.test'] } }),
    undefined,
  );
  assert.deepEqual(parseDomainConfig(withHosts).tls, {
    requireOutbound: false,
    mtaSts: 'enforce',
    mtaStsMx: ['mx.hermod.test'],
  });
  // Without dns.mxHosts the serving side's default MX names apply; with MTA-STS off nothing is carried.
  const defaults = desiredDomainConfig(md({ domain: 'example.com', tls: { mtaSts: 'testing' } }), undefined);
  assert.equal(parseDomainConfig(defaults).tls.mtaStsMx, undefined);
  const off = desiredDomainConfig(
    md({ domain: 'example.com', dns: { mxHosts: ['mx.hermod.test'] } }),
    undefined,
  );
  assert.equal(parseDomainConfig(off).tls.mtaStsMx, undefined);
});

test('spec.policyRules flows into the live config record (defaults filled) and is validated like everywhere', () => {
  const rules = [
    {
      name: 'newsletters',
      all: [{ headerFrom: { glob: ['*@news.*'] } }],
      action: { folder: 'Newsletters' },
    },
  ];
  const desired = desiredDomainConfig(md({ domain: 'example.com', policyRules: rules }), undefined);
  const stored = parseDomainConfig({ ...desired, updatedAt: '2026-01-01T00:00:00Z' });
  assert.deepEqual(stored.policyRules, [{ ...rules[0], enabled: true, direction: 'inbound' }]);
  assert.ok(sameConfig(desired, stored));
  const bad = MailDomain.safeParse({
    metadata: { name: 'd' },
    spec: {
      domain: 'example.com',
      policyRules: [{ name: 'x', all: [{ subject: { regex: ['(x'] } }], action: { reject: 'no' } }],
    },
  });
  assert.equal(bad.success, false);
});
