import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../src/kube/token-bucket.js';

test('a burst goes at once, then one per refill interval', () => {
  let now = 0;
  const bucket = new TokenBucket(10, 3, () => now);
  assert.deepEqual(
    Array.from({ length: 4 }, () => bucket.take()),
    [true, true, true, false],
  );
  now += 50;
  assert.equal(bucket.take(), false, 'half a token after 50 ms');
  now += 50;
  assert.equal(bucket.take(), true, 'one token after 100 ms at 10/s');
  now += 10_000;
  assert.deepEqual(
    Array.from({ length: 4 }, () => bucket.take()),
    [true, true, true, false],
    'never more than the burst',
  );
});
