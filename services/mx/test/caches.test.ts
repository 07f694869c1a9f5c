import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routingV1 } from '@hermod/proto';
import { cachingResolver } from '../src/policy/caching-resolver.js';
import { cachedValidator, RecipientCache } from '../src/policy/recipient-cache.js';

test('DNS answers and NXDOMAIN are reused within the TTL; timeouts are asked again', async () => {
  let now = 0;
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
  now = 1_001;
  await resolve('a.test', 'TXT');
  assert.equal(asked.at(-1), 'TXT a.test');
});

test('only accepted recipients are cached, for the TTL', async () => {
  let now = 0;
  const calls: string[] = [];
  const validate = cachedValidator(
    async (request) => {
      calls.push(request.address);
      const ok = request.address === 'alice@example.test';
      return {
        verdict: ok ? routingV1.Verdict.VERDICT_ACCEPT : routingV1.Verdict.VERDICT_UNKNOWN_USER,
        smtpCode: ok ? 250 : 550,
        enhancedCode: ok ? '2.1.5' : '5.1.1',
        message: '',
        destination: '',
        canonicalAddress: request.address,
      };
    },
    new RecipientCache(5_000, 10, () => now),
  );
  const ask = (address: string) =>
    validate({ address, channel: routingV1.Channel.CHANNEL_INBOUND, sender: '' });
  assert.equal((await ask('alice@example.test')).verdict, routingV1.Verdict.VERDICT_ACCEPT);
  assert.equal((await ask('alice@example.test')).verdict, routingV1.Verdict.VERDICT_ACCEPT);
  assert.equal((await ask('nobody@example.test')).verdict, routingV1.Verdict.VERDICT_UNKNOWN_USER);
  assert.equal((await ask('nobody@example.test')).verdict, routingV1.Verdict.VERDICT_UNKNOWN_USER);
  assert.deepEqual(calls, ['alice@example.test', 'nobody@example.test', 'nobody@example.test']);
  now = 5_001;
  await ask('alice@example.test');
  assert.equal(calls.length, 4);
});
