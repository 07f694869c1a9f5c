import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roundRatios } from './round-ratios.js';

test('per-round ratios pair the rounds; the median leaves the cold first round out', () => {
  const r = roundRatios([300, 450, 500, 600], [600, 500, 500, 400]);
  assert.deepEqual(r.perRound, [0.5, 0.9, 1, 1.5]);
  assert.equal(r.warmMedian, 1);
  assert.equal(roundRatios([400, 500, 600], [400, 400, 400]).warmMedian, 1.375);
  assert.equal(roundRatios([450], [500]).warmMedian, 0.9);
});
