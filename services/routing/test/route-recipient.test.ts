import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDomainConfig } from '@hermod/domain-config';
import { type RouteDecision, type RoutingLookups, routeRecipient } from '../src/route-recipient.js';
import { srsForward } from '../src/srs.js';

const accounts: Record<string, number> = {
  'alice@example.com': 7,
  'bob@example.com': 8,
  'carol@other.example': 9,
};
const configs = {
  'example.com': parseDomainConfig({
    domain: 'example.com',
    exchanger: 'local',
    aliases: [
      { source: 'team', destinations: ['alice@example.com', 'Bob@example.com', 'friend@gmail.example'] },
      { source: 'sales', destinations: ['team@example.com', 'carol@other.example'] },
      { source: 'loop1', destinations: ['loop2@example.com'] },
      { source: 'loop2', destinations: ['alice@example.com', 'loop1@example.com'] },
      { source: 'ghost', destinations: ['nobody@example.com'] },
    ],
  }),
  'other.example': parseDomainConfig({
    domain: 'other.example',
    catchAll: 'carol@other.example',
    subaddressSeparator: '-',
  }),
  'hosted.example': parseDomainConfig({
    domain: 'hosted.example',
    exchanger: 'remote',
    remoteHosts: [{ host: 'mx.hosted.example', port: 2525 }],
  }),
  'backup.example': parseDomainConfig({
    domain: 'backup.example',
    exchanger: 'backup',
    backup: { maxHoldSeconds: 3600, recipients: ['info', 'sales@backup.example'] },
  }),
  'auto.example': parseDomainConfig({ domain: 'auto.example', exchanger: 'auto' }),
};
let autoDecision: { effective: 'local' | 'remote' | 'backup'; reason: string } | undefined;
const lookups: RoutingLookups = {
  domain: (name) => (configs as Record<string, (typeof configs)['example.com']>)[name],
  accountFor: async (address) => (accounts[address] ? { id: accounts[address], address } : undefined),
  autoExchanger: () => autoDecision,
  srsSecret: 'test-secret',
};

const refusal = (d: RouteDecision) => (d.kind === 'reject' ? `${d.code} ${d.enhanced}` : 'accepted');

test('a known local user is delivered to INBOX, case-insensitively', async () => {
  const d = await routeRecipient('Alice@EXAMPLE.com', 'inbound', lookups);
  assert.equal(d.kind, 'deliver');
  assert.deepEqual(d.kind === 'deliver' && d.targets, [
    { kind: 'local', address: 'alice@example.com', accountId: 7, mailbox: 'INBOX' },
  ]);
  assert.equal(d.rule, 'account');
});

test('an unknown user of a local domain is refused with 550 5.1.1', async () => {
  assert.equal(refusal(await routeRecipient('nobody@example.com', 'submission', lookups)), '550 5.1.1');
});

test('a domain we do not serve is relayed for submission and refused inbound (no open relay)', async () => {
  const out = await routeRecipient('x@elsewhere.org', 'submission', lookups);
  assert.equal(out.kind === 'deliver' && out.targets[0]?.kind, 'remote');
  assert.equal(refusal(await routeRecipient('x@elsewhere.org', 'inbound', lookups)), '550 5.7.1');
});

test('a remote-mode domain goes out to its configured hosts even from local senders', async () => {
  const d = await routeRecipient('team@hosted.example', 'submission', lookups);
  assert.equal(d.rule, 'remote-domain');
  assert.deepEqual(d.kind === 'deliver' && d.targets, [
    {
      kind: 'remote',
      address: 'team@hosted.example',
      domain: 'hosted.example',
      relayHosts: [{ host: 'mx.hosted.example', port: 2525, preference: 10, requireTls: false }],
      forwarded: false,
    },
  ]);
  assert.equal(refusal(await routeRecipient('team@hosted.example', 'inbound', lookups)), '550 5.7.1');
});

test('relay hacks are refused with 5.7.1, bad syntax with 5.1.3', async () => {
  for (const hack of [
    'user%elsewhere.org@example.com',
    'a!b@example.com',
    '@relay.org:x@example.com',
    'x@[127.0.0.1]',
    '"x@evil.org"@example.com',
  ]) {
    const d = await routeRecipient(hack, 'inbound', lookups);
    assert.equal(d.kind === 'reject' && d.enhanced, '5.7.1', hack);
  }
  assert.equal(refusal(await routeRecipient('no-at-sign', 'inbound', lookups)), '501 5.1.3');
});

test('a domain alias fans out to local accounts and forwards to external addresses', async () => {
  const d = await routeRecipient('TEAM@example.com', 'inbound', lookups);
  assert.equal(d.rule, 'domain-alias');
  assert.deepEqual(
    d.kind === 'deliver' &&
      d.targets.map((t) => `${t.kind}:${t.address}${t.kind === 'remote' ? `:${t.forwarded}` : ''}`),
    ['local:alice@example.com', 'local:bob@example.com', 'remote:friend@gmail.example:true'],
  );
});

test('nested aliases across domains resolve, with one copy per destination', async () => {
  const d = await routeRecipient('sales@example.com', 'inbound', lookups);
  assert.deepEqual(d.kind === 'deliver' && d.targets.map((t) => t.address), [
    'alice@example.com',
    'bob@example.com',
    'friend@gmail.example',
    'carol@other.example',
  ]);
});

test('an alias loop is refused with 554 5.4.6', async () => {
  const d = await routeRecipient('loop1@example.com', 'inbound', lookups);
  assert.equal(refusal(d), '554 5.4.6');
  assert.equal(d.rule, 'alias-loop');
});

test('an alias whose every destination is unknown is refused; sub-addressing keeps the tag', async () => {
  assert.equal(refusal(await routeRecipient('ghost@example.com', 'inbound', lookups)), '550 5.1.1');
  const d = await routeRecipient('alice+news@example.com', 'inbound', lookups);
  assert.equal(d.rule, 'subaddress');
  assert.deepEqual(d.kind === 'deliver' && d.targets, [
    { kind: 'local', address: 'alice@example.com', accountId: 7, mailbox: 'INBOX', tag: 'news' },
  ]);
  const viaAlias = await routeRecipient('team+x@example.com', 'inbound', lookups);
  assert.equal(viaAlias.kind === 'deliver' && viaAlias.targets.length, 3);
});

test('catch-all takes unknown users; the domain separator is honoured', async () => {
  const d = await routeRecipient('anything@other.example', 'inbound', lookups);
  assert.equal(d.rule, 'catch-all');
  assert.equal(d.kind === 'deliver' && d.targets[0]?.address, 'carol@other.example');
  const sub = await routeRecipient('carol-lists@other.example', 'inbound', lookups);
  assert.equal(sub.rule, 'subaddress');
});

test('backup mode accepts listed recipients for hold and relay, refuses others; submission goes to the primary', async () => {
  const d = await routeRecipient('info@backup.example', 'inbound', lookups);
  assert.deepEqual(d.kind === 'deliver' && d.targets, [
    {
      kind: 'backup',
      address: 'info@backup.example',
      domain: 'backup.example',
      relayHosts: [],
      maxHoldSeconds: 3600,
    },
  ]);
  assert.equal((await routeRecipient('sales@backup.example', 'inbound', lookups)).kind, 'deliver');
  assert.equal(refusal(await routeRecipient('random@backup.example', 'inbound', lookups)), '550 5.1.1');
  const out = await routeRecipient('random@backup.example', 'submission', lookups);
  assert.equal(out.kind === 'deliver' && out.targets[0]?.kind, 'remote');
});

test('auto mode follows the decided effective mode; undecided is a temporary failure', async () => {
  autoDecision = undefined;
  assert.equal(refusal(await routeRecipient('x@auto.example', 'inbound', lookups)), '451 4.4.3');
  autoDecision = { effective: 'remote', reason: 'no MX points at us' };
  const remote = await routeRecipient('x@auto.example', 'inbound', lookups);
  assert.equal(refusal(remote), '550 5.7.1');
  assert.equal(remote.effectiveExchanger, 'remote');
  autoDecision = { effective: 'backup', reason: 'secondary' };
  const backup = await routeRecipient('x@auto.example', 'inbound', lookups);
  assert.equal(backup.kind === 'deliver' && backup.targets[0]?.kind, 'backup');
  assert.equal(backup.exchanger, 'auto');
});

test('a bounce to an SRS address we issued goes back to the original sender; a forged one is refused', async () => {
  const srs = srsForward('orig@sender.example', 'example.com', 'test-secret');
  const d = await routeRecipient(srs, 'inbound', lookups);
  assert.equal(d.rule, 'srs-reverse');
  assert.equal(d.kind === 'deliver' && d.targets[0]?.address, 'orig@sender.example');
  const forged = srsForward('orig@sender.example', 'example.com', 'other-secret');
  assert.equal(refusal(await routeRecipient(forged, 'inbound', lookups)), '550 5.1.1');
});

// Groups (MailGroup) and forwarding (MailUser spec.forwarding).
const groupLookups = (senderPolicy: 'anyone' | 'members' | 'listed' | 'domain'): RoutingLookups => ({
  ...lookups,
  accountFor: async (address) =>
    address === 'fwd@example.com'
      ? { id: 11, address, forwardTo: ['far@gmail.example'], forwardKeepCopy: false }
      : lookups.accountFor(address),
  groupFor: async (address) =>
    address === 'crew@example.com'
      ? {
          address,
          domain: 'example.com',
          displayName: null,
          members: ['alice@example.com', 'bob@example.com', 'friend@gmail.example'],
          senderPolicy,
          allowedSenders: ['boss@partner.example', 'trusted.example'],
          managedBy: 'MailGroup default/crew',
        }
      : undefined,
});

test('a group expands to its members, local and external', async () => {
  const d = await routeRecipient('crew@example.com', 'inbound', groupLookups('anyone'), 'x@far.example');
  assert.equal(d.kind, 'deliver');
  assert.equal(d.rule, 'group');
  assert.deepEqual(d.kind === 'deliver' && d.targets.map((t) => `${t.kind} ${t.address}`), [
    'local alice@example.com',
    'local bob@example.com',
    'remote friend@gmail.example',
  ]);
  assert.equal(
    d.kind === 'deliver' && d.senderDependent,
    undefined,
    'an open group answers every sender alike',
  );
});

test("a group's sender policy refuses other senders with 550 5.7.2 and accepts its own", async () => {
  const cases: Array<[Parameters<typeof groupLookups>[0], string, string]> = [
    ['members', 'bob@example.com', 'accepted'],
    ['members', 'x@far.example', '550 5.7.2'],
    ['members', '', '550 5.7.2'],
    ['domain', 'carol@example.com', 'accepted'],
    ['domain', 'carol@other.example', '550 5.7.2'],
    ['listed', 'boss@partner.example', 'accepted'],
    ['listed', 'anyone@trusted.example', 'accepted'],
    ['listed', 'bob@example.com', '550 5.7.2'],
  ];
  for (const [policy, sender, expected] of cases) {
    const d = await routeRecipient('crew@example.com', 'inbound', groupLookups(policy), sender);
    assert.equal(refusal(d), expected, `${policy} / ${sender || '<>'}`);
    if (d.kind === 'deliver') assert.equal(d.senderDependent, true);
    else assert.match(d.message, /may not send to the group crew@example\.com/);
  }
});

test('forwarding without a kept copy sends only to the forward address, with SRS', async () => {
  const d = await routeRecipient('fwd@example.com', 'inbound', groupLookups('anyone'), 'x@far.example');
  assert.deepEqual(d.kind === 'deliver' && d.targets.map((t) => `${t.kind} ${t.address}`), [
    'remote far@gmail.example',
  ]);
  assert.equal(d.kind === 'deliver' && d.targets[0]?.kind === 'remote' && d.targets[0].forwarded, true);
});
