import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routingV1 } from '@hermod/proto';
import { cachedValidator, RecipientCache } from '../src/recipient-cache.js';

test('the cache forgets after its TTL and stays bounded', () => {
  let now = 1_000_000;
  const cache = new RecipientCache<number>(1_000, 2, () => now);
  cache.set('a', 1);
  cache.set('b', 2);
  cache.set('c', 3);
  assert.equal(cache.get('a'), undefined, 'oldest evicted');
  assert.equal(cache.get('c'), 3);
  now += 1_001;
  assert.equal(cache.get('c'), undefined);
});

test('only accepted recipients are cached, per channel, for the TTL', async () => {
  let now = 1_000_000;
  const calls: string[] = [];
  const validate = cachedValidator(
    async (request) => {
      calls.push(`${request.channel} ${request.address}`);
      const ok = request.address === 'alice@example.test';
      return {
        verdict: ok ? routingV1.Verdict.VERDICT_ACCEPT : routingV1.Verdict.VERDICT_UNKNOWN_USER,
        smtpCode: ok ? 250 : 550,
        enhancedCode: ok ? '2.1.5' : '5.1.1',
        message: ok ? 'OK' : 'no such user',
        destination: ok ? 'local' : '',
        canonicalAddress: request.address,
        localRoute: undefined,
        senderDependent: false,
      };
    },
    new RecipientCache(5_000, 10, () => now),
  );
  const ask = (address: string, channel = routingV1.Channel.CHANNEL_INBOUND) =>
    validate({ address, channel, sender: '' });
  assert.equal((await ask('alice@example.test')).destination, 'local');
  assert.equal((await ask('alice@example.test')).destination, 'local', 'the cached answer is the real one');
  assert.equal((await ask('nobody@example.test')).verdict, routingV1.Verdict.VERDICT_UNKNOWN_USER);
  assert.equal((await ask('nobody@example.test')).verdict, routingV1.Verdict.VERDICT_UNKNOWN_USER);
  await ask('alice@example.test', routingV1.Channel.CHANNEL_SUBMISSION);
  assert.equal(calls.length, 4, 'one call for alice per channel, every call for nobody');
  now += 5_001;
  await ask('alice@example.test');
  assert.equal(calls.length, 5, 'asked again after the TTL');
});

test('an answer that depends on the sender is never reused for another', async () => {
  let calls = 0;
  const validate = cachedValidator(async (request) => {
    calls++;
    return {
      verdict: routingV1.Verdict.VERDICT_ACCEPT,
      smtpCode: 250,
      enhancedCode: '2.1.5',
      message: 'OK',
      destination: 'local',
      canonicalAddress: request.address,
      localRoute: undefined,
      senderDependent: true,
    };
  }, new RecipientCache(5_000, 10));
  await validate({
    address: 'list@example.test',
    channel: routingV1.Channel.CHANNEL_INBOUND,
    sender: 'a@x.test',
  });
  await validate({
    address: 'list@example.test',
    channel: routingV1.Channel.CHANNEL_INBOUND,
    sender: 'b@x.test',
  });
  assert.equal(calls, 2);
});
