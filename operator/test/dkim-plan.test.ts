import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import type { MailDomainSpec } from '../src/api/v1alpha1/maildomain.js';
import { type DkimState, generateDkimKey, planDkim } from '../src/controller/dkim.js';

const spec = (over: Partial<MailDomainSpec['dkim']> = {}): MailDomainSpec['dkim'] => ({
  enabled: true,
  selectorPrefix: 'hermod',
  algorithm: 'ed25519',
  publishLeadTime: '48h',
  ...over,
});
const at = (iso: string) => new Date(iso);
let n = 0;
const next = () => {
  n += 1;
  return `sel-${n}`;
};

test('the first key is made at once; without a rotation period nothing else ever happens', () => {
  const first = planDkim({}, spec(), at('2026-01-01T00:00:00Z'), next);
  assert.equal(first.created.length, 1);
  assert.equal(first.state.active?.algorithm, 'ed25519-sha256');
  assert.equal(first.nextTransitionAt, undefined);
  const later = planDkim(first.state, spec(), at('2030-01-01T00:00:00Z'), next);
  assert.deepEqual(later.state, first.state);
  assert.deepEqual(later.created, []);
});

test('rotation: the new selector is published lead time before the switch, then replaces the old one', () => {
  const s = spec({ rotationPeriod: '720h', publishLeadTime: '48h' });
  const start: DkimState = {
    active: { selector: 'old', algorithm: 'ed25519-sha256', since: '2026-01-01T00:00:00.000Z' },
  };
  const early = planDkim(start, s, at('2026-01-20T00:00:00Z'), next);
  assert.equal(early.state.pending, undefined);
  assert.equal(early.nextTransitionAt?.toISOString(), '2026-01-29T00:00:00.000Z');
  const publish = planDkim(start, s, at('2026-01-29T00:00:00Z'), next);
  assert.equal(publish.created.length, 1);
  assert.equal(publish.state.active?.selector, 'old', 'still signing with the old key');
  assert.ok(publish.state.pending);
  assert.equal(publish.nextTransitionAt?.toISOString(), '2026-01-31T00:00:00.000Z');
  const waiting = planDkim(publish.state, s, at('2026-01-30T23:59:59Z'), next);
  assert.equal(waiting.switched, false);
  const switched = planDkim(publish.state, s, at('2026-01-31T00:00:01Z'), next);
  assert.equal(switched.switched, true);
  assert.equal(switched.state.active?.selector, publish.state.pending?.selector);
  assert.deepEqual(switched.retired, ['old']);
  assert.equal(switched.state.pending, undefined);
});

test('changing the algorithm publishes a key of the new kind before switching to it', () => {
  const start: DkimState = {
    active: { selector: 'old', algorithm: 'rsa-sha256', since: '2026-01-01T00:00:00.000Z' },
  };
  const plan = planDkim(start, spec({ algorithm: 'ed25519' }), at('2026-02-01T00:00:00Z'), next);
  assert.equal(plan.state.active?.selector, 'old');
  assert.equal(plan.state.pending?.algorithm, 'ed25519-sha256');
});

test('generated keys sign and verify; the ed25519 DNS value is the bare 32-byte key', async () => {
  for (const algorithm of ['ed25519-sha256', 'rsa-sha256'] as const) {
    const key = await generateDkimKey(algorithm);
    const privateKey = createPrivateKey(key.privateKeyPem);
    const data = Buffer.from('hello');
    const digest = algorithm === 'rsa-sha256' ? 'sha256' : null;
    const signature = sign(digest, data, privateKey);
    assert.ok(verify(digest, data, createPublicKey(privateKey), signature));
    if (algorithm === 'ed25519-sha256') assert.equal(Buffer.from(key.publicKey, 'base64').length, 32);
  }
});
