import assert from 'node:assert/strict';
import { test } from 'node:test';
import { settleBundle } from '../src/consume.js';

test('a bundle is acknowledged when every job is finished, dropped ones included', () => {
  assert.deepEqual(settleBundle([{ kind: 'ack' }, { kind: 'drop', reason: 'gone' }, { kind: 'ack' }]), {
    kind: 'ack',
  });
});

test('any retry brings the bundle back after the shortest delay asked', () => {
  assert.deepEqual(
    settleBundle([
      { kind: 'retry', delayMs: 30_000, reason: 'a' },
      { kind: 'ack' },
      { kind: 'retry', delayMs: 2_000, reason: 'b' },
      { kind: 'drop', reason: 'c' },
    ]),
    { kind: 'retry', delayMs: 2_000, reason: 'a; b' },
  );
});

test('a bundle of dropped jobs only is terminated', () => {
  assert.deepEqual(
    settleBundle([
      { kind: 'drop', reason: 'x' },
      { kind: 'drop', reason: 'y' },
    ]),
    {
      kind: 'drop',
      reason: 'x; y',
    },
  );
});
