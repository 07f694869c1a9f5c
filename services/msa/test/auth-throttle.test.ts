import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthThrottle } from '../src/auth-throttle.js';

test('failed logins grow the delay and lock out per IP and per user, then expire', () => {
  let now = 0;
  const throttle = new AuthThrottle(3, 60_000, () => now);
  const delays = [throttle.recordFailure('1.1.1.1', 'a'), throttle.recordFailure('1.1.1.1', 'a')];
  assert.ok(delays[1]! > delays[0]!);
  assert.equal(throttle.isLocked('1.1.1.1', 'b'), false);
  throttle.recordFailure('1.1.1.1', 'c');
  assert.equal(throttle.isLocked('1.1.1.1', 'anyone'), true, 'the IP is locked');
  assert.equal(throttle.isLocked('2.2.2.2', 'a'), false, 'user a has two failures only');
  throttle.recordFailure('3.3.3.3', 'a');
  assert.equal(throttle.isLocked('9.9.9.9', 'a'), true, 'the user is locked from any IP');
  now = 61_000;
  assert.equal(throttle.isLocked('1.1.1.1', 'a'), false);
});
