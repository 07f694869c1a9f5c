import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLoginGuard } from '../src/auth/login-guard.js';

function guard(overrides: Partial<ConstructorParameters<typeof MemoryLoginGuard>[0]> = {}) {
  let now = 1_000_000;
  const slept: number[] = [];
  const g = new MemoryLoginGuard({
    baseDelayMs: 500,
    maxDelayMs: 8_000,
    lockoutThreshold: 20,
    windowMs: 15 * 60_000,
    lockoutMs: 15 * 60_000,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
    },
    ...overrides,
  });
  return {
    g,
    slept,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('login guard (growing delays, lockout)', () => {
  it('doubles the delay per failure up to the maximum', async () => {
    const { g, slept } = guard();
    for (let i = 0; i < 7; i++) await g.failed('192.0.2.1', 'ann@example.com');
    assert.deepEqual(slept, [500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('locks out a user name after the threshold, from any IP, and unlocks after the lockout', async () => {
    const { g, advance } = guard({ lockoutThreshold: 3, lockoutMs: 60_000 });
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await g.failed(ip, 'Ann@example.com');
    assert.equal(await g.check('198.51.100.9', 'ann@example.com'), false, 'case-insensitive user key');
    assert.equal(await g.check('198.51.100.9', 'bob@example.com'), true);
    advance(60_001);
    // The window (15 min) has not passed, but the lockout has; further failures lock again at once.
    assert.equal(await g.check('198.51.100.9', 'ann@example.com'), true);
  });

  it('locks out an IP that tries many different names (names that may or may not exist)', async () => {
    const { g } = guard({ lockoutThreshold: 5 });
    for (let i = 0; i < 5; i++) await g.failed('203.0.113.7', `guess${i}@example.com`);
    assert.equal(await g.check('203.0.113.7', 'real@example.com'), false);
    assert.equal(await g.check('203.0.113.8', 'real@example.com'), true);
  });

  it('forgets failures after the window and after a successful login of that user', async () => {
    const { g, slept, advance } = guard({ windowMs: 10_000 });
    await g.failed('192.0.2.1', 'cat@example.com');
    await g.failed('192.0.2.1', 'cat@example.com');
    advance(10_001);
    await g.failed('192.0.2.1', 'cat@example.com');
    assert.deepEqual(slept, [500, 1_000, 500]);
    g.succeeded('192.0.2.9', 'cat@example.com');
    await g.failed('192.0.2.9', 'cat@example.com');
    assert.equal(slept.at(-1), 500);
  });
});
