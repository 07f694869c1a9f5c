import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MailDomain, type MailDomainStatus } from '../src/api/v1alpha1/maildomain.js';
import type { DkimState } from '../src/controller/dkim.js';
import { desiredStatus, type StatusFacts } from '../src/controller/status.js';

const md = (status?: MailDomainStatus) =>
  MailDomain.parse({
    metadata: { name: 'd', namespace: 'ns', generation: 2 },
    spec: { domain: 'example.com' },
    ...(status ? { status } : {}),
  });
const now = new Date('2026-03-01T00:00:00Z');
const applied = { status: 'True', reason: 'Applied', message: 'in the bucket' } as const;
const key = (selector: string) =>
  ({ selector, algorithm: 'ed25519-sha256', since: '2026-01-01T00:00:00.000Z' }) as const;
const facts = (state: DkimState, over: Partial<StatusFacts['dkim']> = {}): StatusFacts => ({
  configApplied: applied,
  dkim: { state, secretName: 'd-dkim', ...over },
  dnsRecords: undefined,
  effective: { mode: 'local', reason: 'set in spec.exchanger' },
});
const cond = (status: MailDomainStatus, type: string) => status.conditions?.find((c) => c.type === type);

test('a held rotation keeps the domain Ready, says why in DkimRotation, and warns once', () => {
  const state: DkimState = { active: key('old'), pending: key('new') };
  const first = desiredStatus(md(), facts(state, { held: true }), now);
  assert.equal(cond(first.status, 'Ready')?.status, 'True', 'still signing with a visible key');
  assert.equal(cond(first.status, 'DkimRotation')?.status, 'False');
  assert.equal(cond(first.status, 'DkimRotation')?.reason, 'WaitingForDns');
  assert.match(cond(first.status, 'DkimRotation')?.message ?? '', /new\._domainkey\.example\.com/);
  assert.equal(first.status.dkim?.activeSelector, 'old');
  assert.equal(first.status.dkim?.pendingSelector, 'new');
  assert.deepEqual(
    first.events.map((e) => [e.type, e.reason]),
    [
      ['Normal', 'Ready'],
      ['Warning', 'DkimRotationHeld'],
    ],
  );
  // The next reconcile, still held: same status, no new events.
  const again = desiredStatus(
    md(first.status),
    facts(state, { held: true }),
    new Date('2026-03-01T00:05:00Z'),
  );
  assert.deepEqual(again.status, first.status);
  assert.deepEqual(again.events, []);
});

test('after the switch the old selector is listed as retiring until it may go', () => {
  const out = desiredStatus(md(), facts({ active: key('new'), retiring: key('old') }), now);
  assert.equal(out.status.dkim?.retiringSelector, 'old');
  assert.equal(cond(out.status, 'DkimRotation')?.reason, 'Retiring');
  assert.equal(out.status.dkim?.nextRotation, undefined);
});

test('a deferred first key is Ready=False KeyPending; a conflict names the owner', () => {
  const deferred = desiredStatus(md(), facts({}, { deferred: 'a key was made 10 ms ago' }), now);
  assert.equal(cond(deferred.status, 'Ready')?.reason, 'KeyPending');
  assert.equal(deferred.events[0]?.type, 'Warning');
  const conflict = desiredStatus(
    md(),
    {
      configApplied: { status: 'False', reason: 'DomainConflict', message: 'served by ns/other' },
      dkim: undefined,
      dnsRecords: undefined,
      effective: undefined,
    },
    now,
  );
  assert.equal(cond(conflict.status, 'Ready')?.reason, 'DomainConflict');
  assert.equal(cond(conflict.status, 'DkimRotation'), undefined);
  assert.equal(conflict.status.dkim, undefined);
});

test('lastTransitionTime moves only when a condition changes status', () => {
  const first = desiredStatus(md(), facts({ active: key('a') }), now);
  const later = desiredStatus(
    md(first.status),
    facts({ active: key('a'), pending: key('b') }),
    new Date('2026-03-02T00:00:00Z'),
  );
  assert.equal(
    cond(later.status, 'Ready')?.lastTransitionTime,
    cond(first.status, 'Ready')?.lastTransitionTime,
  );
  assert.equal(cond(later.status, 'DkimRotation')?.reason, 'Publishing');
});

test("a DKIM Secret name taken by someone else's Secret is Ready=False SecretConflict, saying so", () => {
  const taken = desiredStatus(
    md(),
    facts({}, { conflict: 'Secret d-dkim already exists and is not ours' }),
    now,
  );
  assert.equal(cond(taken.status, 'DkimKeyReady')?.status, 'False');
  assert.equal(cond(taken.status, 'DkimKeyReady')?.reason, 'SecretConflict');
  assert.equal(cond(taken.status, 'Ready')?.reason, 'SecretConflict');
  assert.match(cond(taken.status, 'Ready')?.message ?? '', /d-dkim/);
  assert.deepEqual(
    taken.events.map((e) => [e.type, e.reason]),
    [['Warning', 'SecretConflict']],
  );
});
