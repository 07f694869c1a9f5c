import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clientKey,
  LoginThrottle,
  type LoginThrottlePolicy,
  MemoryLoginFailureStore,
} from '../src/login-throttle.js';

function throttle(overrides: Partial<LoginThrottlePolicy> = {}, maxKeys = 1_000) {
  let now = 1_000_000;
  const t = new LoginThrottle(
    new MemoryLoginFailureStore(maxKeys),
    {
      threshold: 20,
      windowMs: 15 * 60_000,
      lockoutMs: 15 * 60_000,
      baseDelayMs: 500,
      maxDelayMs: 8_000,
      ...overrides,
    },
    () => now,
  );
  return {
    t,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('login throttle (growing delays, lockout per account and per client)', () => {
  it('doubles the delay per failure up to the maximum', async () => {
    const { t } = throttle();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) delays.push(await t.failed('192.0.2.1', 'account:1'));
    assert.deepEqual(delays, [500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('locks an account after the threshold, from any client, and unlocks after the lockout', async () => {
    const { t, advance } = throttle({ threshold: 3, lockoutMs: 60_000 });
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await t.failed(ip, 'account:7');
    assert.equal((await t.check('198.51.100.9', 'account:7')).allowed, false);
    assert.equal((await t.check('198.51.100.9', 'account:8')).allowed, true);
    advance(60_001);
    assert.equal((await t.check('198.51.100.9', 'account:7')).allowed, true);
  });

  it('locks a client that tries many different names, existing or not', async () => {
    const { t } = throttle({ threshold: 5 });
    for (let i = 0; i < 5; i++) await t.failed('203.0.113.7', `address:guess${i}@example.com`);
    assert.equal((await t.check('203.0.113.7', 'account:1')).allowed, false);
    assert.equal((await t.check('203.0.113.8', 'account:1')).allowed, true);
  });

  it('a success clears the account only, never the client', async () => {
    const { t } = throttle({ threshold: 3 });
    await t.failed('192.0.2.1', 'account:1');
    await t.failed('192.0.2.1', 'account:2');
    await t.succeeded('account:3');
    await t.failed('192.0.2.1', 'account:4');
    assert.equal((await t.check('192.0.2.1', 'account:3')).allowed, false);
    await t.failed('192.0.2.9', 'account:5');
    await t.failed('192.0.2.8', 'account:5');
    await t.succeeded('account:5');
    assert.equal(await t.failed('192.0.2.7', 'account:5'), 500, 'the account starts again at one');
  });

  it('forgets failures a window after the last one', async () => {
    const { t, advance } = throttle({ windowMs: 10_000 });
    await t.failed('192.0.2.1', 'account:1');
    await t.failed('192.0.2.1', 'account:1');
    advance(10_001);
    assert.equal(await t.failed('192.0.2.1', 'account:1'), 500);
  });

  it('evicts the least recently used key at its bound, never everyone at once', async () => {
    const { t } = throttle({ threshold: 2 }, 100);
    await t.failed('192.0.2.1', 'account:victim');
    await t.failed('192.0.2.2', 'account:victim');
    for (let i = 0; i < 500; i++) {
      await t.failed(`198.51.100.${i % 250}`, `address:spray${i}@example.com`);
      // The locked key stays recently used because every attempt against it asks about it.
      if (i % 10 === 0) assert.equal((await t.check('192.0.2.3', 'account:victim')).allowed, false);
    }
    assert.equal((await t.check('192.0.2.3', 'account:victim')).allowed, false);
  });

  it('keys IPv6 clients by /64 and IPv4-mapped addresses as IPv4', () => {
    assert.equal(clientKey('::ffff:192.0.2.1'), 'ip:192.0.2.1');
    assert.equal(clientKey('2001:db8:0:1::5'), 'ip:2001:db8:0:1::/64');
    assert.equal(clientKey('2001:db8:0:1:abcd::9'), 'ip:2001:db8:0:1::/64');
    assert.equal(clientKey('2001:0db8::1'), 'ip:2001:db8:0:0::/64');
  });
});
