import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import type { MailDomainSpec } from '../src/api/v1alpha1/maildomain.js';
import { type DkimState, generateDkimKey, keyMaterialProblem, planDkim } from '../src/controller/dkim.js';

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
  assert.equal(switched.state.pending, undefined);
  // The old selector stops signing but stays (key and record) for another lead time.
  assert.deepEqual(switched.retired, []);
  assert.equal(switched.state.retiring?.selector, 'old');
  assert.equal(switched.nextTransitionAt?.toISOString(), '2026-02-02T00:00:01.000Z');
  const kept = planDkim(switched.state, s, at('2026-02-02T00:00:00Z'), next);
  assert.equal(kept.state.retiring?.selector, 'old');
  const gone = planDkim(switched.state, s, at('2026-02-02T00:00:01Z'), next);
  assert.deepEqual(gone.retired, ['old']);
  assert.equal(gone.state.retiring, undefined);
  assert.equal(gone.state.active?.selector, switched.state.active?.selector);
});

test('with DNS verification on, the switch waits until the new selector is visible', () => {
  const s = spec({ rotationPeriod: '720h', publishLeadTime: '48h' });
  const publishing: DkimState = {
    active: { selector: 'old', algorithm: 'ed25519-sha256', since: '2026-01-01T00:00:00.000Z' },
    pending: { selector: 'new', algorithm: 'ed25519-sha256', since: '2026-01-29T00:00:00.000Z' },
  };
  const due = at('2026-02-05T00:00:00Z');
  const held = planDkim(publishing, s, due, next, { pendingVisible: false });
  assert.equal(held.held, true);
  assert.equal(held.switched, false);
  assert.deepEqual(held.state, publishing, 'nothing changes, nothing is dropped');
  assert.deepEqual(held.created, []);
  assert.deepEqual(held.retired, []);
  assert.equal(held.nextTransitionAt, undefined, 'DNS re-checks decide when to look again');
  const visible = planDkim(publishing, s, due, next, { pendingVisible: true });
  assert.equal(visible.switched, true);
  assert.equal(visible.state.active?.selector, 'new');
  assert.equal(visible.state.retiring?.selector, 'old');
  assert.equal(visible.state.retiring?.since, due.toISOString(), 'retiring counts from the actual switch');
  // Verification off: time alone decides, as before.
  assert.equal(planDkim(publishing, s, due, next).switched, true);
  // Before it is due, visibility changes nothing.
  const early = planDkim(publishing, s, at('2026-01-30T00:00:00Z'), next, { pendingVisible: false });
  assert.equal(early.held, false);
  assert.equal(early.nextTransitionAt?.toISOString(), '2026-01-31T00:00:00.000Z');
});

test('a second switch while one selector is still retiring retires it', () => {
  const s = spec({ algorithm: 'rsa-2048', publishLeadTime: '1h' });
  const state: DkimState = {
    active: { selector: 'b', algorithm: 'ed25519-sha256', since: '2026-01-01T00:00:00.000Z' },
    pending: { selector: 'c', algorithm: 'rsa-sha256', since: '2026-01-01T00:00:00.000Z' },
    retiring: { selector: 'a', algorithm: 'ed25519-sha256', since: '2026-01-01T00:30:00.000Z' },
  };
  const plan = planDkim(state, s, at('2026-01-01T01:00:00Z'), next);
  assert.equal(plan.state.active?.selector, 'c');
  assert.equal(plan.state.retiring?.selector, 'b');
  assert.deepEqual(plan.retired, ['a']);
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

test('key material that cannot sign is named: unparsable, of the other algorithm, or a public half not its own', async () => {
  const ed = await generateDkimKey('ed25519-sha256');
  const other = await generateDkimKey('ed25519-sha256');
  assert.equal(keyMaterialProblem(ed, 'ed25519-sha256'), undefined);
  assert.match(
    keyMaterialProblem({ ...ed, privateKeyPem: '-----BEGIN PRIVATE KEY-----\nbroken\n' }, 'ed25519-sha256') ??
      '',
    /does not parse/,
  );
  assert.match(keyMaterialProblem(ed, 'rsa-sha256') ?? '', /ed25519, not rsa/);
  assert.match(
    keyMaterialProblem({ ...ed, publicKey: other.publicKey }, 'ed25519-sha256') ?? '',
    /public key/,
  );
  const rsa = await generateDkimKey('rsa-sha256');
  assert.equal(keyMaterialProblem(rsa, 'rsa-sha256'), undefined);
});
