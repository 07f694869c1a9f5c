import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDomainConfig } from '@hermod/domain-config';
import { type RoutingLookups, routeRecipient } from '../src/route-recipient.js';

const lookups: RoutingLookups = {
  domain: (name) =>
    ({
      'example.com': parseDomainConfig({ domain: 'example.com', exchanger: 'local' }),
      'hosted.example': parseDomainConfig({ domain: 'hosted.example', exchanger: 'remote' }),
    })[name],
  accountFor: async (address) => (address === 'alice@example.com' ? { id: 7, address } : undefined),
};

test('a known local user is delivered to INBOX, case-insensitively', async () => {
  const d = await routeRecipient('Alice@EXAMPLE.com', 'inbound', lookups);
  assert.deepEqual(d, {
    kind: 'local',
    canonical: 'alice@example.com',
    accountId: 7,
    mailbox: 'INBOX',
    rule: 'account',
  });
});

test('an unknown user of a local domain is refused with 550 5.1.1', async () => {
  const d = await routeRecipient('bob@example.com', 'submission', lookups);
  assert.equal(d.kind, 'reject');
  assert.equal(d.kind === 'reject' && `${d.code} ${d.enhanced}`, '550 5.1.1');
});

test('a domain we do not serve is relayed for submission and refused inbound (no open relay)', async () => {
  assert.equal((await routeRecipient('x@elsewhere.org', 'submission', lookups)).kind, 'remote');
  const inbound = await routeRecipient('x@elsewhere.org', 'inbound', lookups);
  assert.equal(inbound.kind === 'reject' && `${inbound.code} ${inbound.enhanced}`, '550 5.7.1');
});

test('a remote-mode domain goes out even from local senders', async () => {
  const d = await routeRecipient('team@hosted.example', 'submission', lookups);
  assert.deepEqual(d, {
    kind: 'remote',
    canonical: 'team@hosted.example',
    domain: 'hosted.example',
    rule: 'remote-domain',
  });
});

test('relay hacks are refused with 5.7.1, bad syntax with 5.1.3', async () => {
  for (const hack of [
    'user%elsewhere.org@example.com',
    'a!b@example.com',
    '@relay.org:x@example.com',
    'x@[127.0.0.1]',
  ]) {
    const d = await routeRecipient(hack, 'inbound', lookups);
    assert.equal(d.kind === 'reject' && d.enhanced, '5.7.1', hack);
  }
  const bad = await routeRecipient('no-at-sign', 'inbound', lookups);
  assert.equal(bad.kind === 'reject' && bad.enhanced, '5.1.3');
});
