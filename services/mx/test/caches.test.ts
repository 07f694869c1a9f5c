import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachingResolver } from '../src/policy/caching-resolver.js';

test('DNS answers and NXDOMAIN are reused within the TTL; timeouts are asked again', async () => {
  let now = 1_000_000;
  const asked: string[] = [];
  const resolve = cachingResolver(
    async (name, rrtype) => {
      asked.push(`${rrtype} ${name}`);
      if (name === 'missing.test') throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
      if (name === 'flaky.test') throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
      return [['v=spf1 -all']];
    },
    1_000,
    100,
    () => now,
  );
  assert.deepEqual(await Promise.all([resolve('a.test', 'TXT'), resolve('A.test', 'TXT')]), [
    [['v=spf1 -all']],
    [['v=spf1 -all']],
  ]);
  await assert.rejects(resolve('missing.test', 'TXT'));
  await assert.rejects(resolve('missing.test', 'TXT'));
  await assert.rejects(resolve('flaky.test', 'TXT'));
  await assert.rejects(resolve('flaky.test', 'TXT'));
  assert.deepEqual(asked, ['TXT a.test', 'TXT missing.test', 'TXT flaky.test', 'TXT flaky.test']);
  now += 1_001;
  await resolve('a.test', 'TXT');
  assert.equal(asked.at(-1), 'TXT a.test');
});
