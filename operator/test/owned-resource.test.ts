import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCOUNT_FINALIZER, needsReconcile } from '../src/controller/owned-resource.js';
import type { KubeObject } from '../src/kube/informer.js';

const user = (metadata: Partial<KubeObject['metadata']> = {}, status: unknown = undefined): KubeObject => ({
  metadata: {
    name: 'ann',
    namespace: 'mail',
    generation: 1,
    resourceVersion: '10',
    finalizers: [ACCOUNT_FINALIZER],
    ...metadata,
  },
  spec: { address: 'ann@example.com' },
  ...(status ? { status } : {}),
});

test('a new or removed resource is reconciled', () => {
  assert.equal(needsReconcile(user(), undefined), true);
  assert.equal(needsReconcile(undefined, user()), true);
});

test('our own finalizer arriving and status-only updates are not reconciled again', () => {
  const created = user({ finalizers: undefined, resourceVersion: '1' });
  const withFinalizer = user({ resourceVersion: '2' });
  const withStatus = user({ resourceVersion: '3' }, { conditions: [{ type: 'Ready', status: 'True' }] });
  assert.equal(needsReconcile(withFinalizer, created), false);
  assert.equal(needsReconcile(withStatus, withFinalizer), false);
});

test('a spec change, a deletion, an annotation or a lost finalizer is reconciled', () => {
  const before = user();
  assert.equal(needsReconcile(user({ generation: 2 }), before), true);
  assert.equal(
    needsReconcile(user({ deletionTimestamp: '2026-01-01T00:00:00Z', generation: 2 }), before),
    true,
  );
  assert.equal(needsReconcile(user({ annotations: { 'mail.hermod.dev/adopt': 'true' } }), before), true);
  assert.equal(needsReconcile(user({ finalizers: [] }), before), true);
});
