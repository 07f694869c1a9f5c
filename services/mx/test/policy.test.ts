import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripForgedResults } from '../src/message/strip-forged-results.js';
import { ClientLimits } from '../src/policy/client-limits.js';
import { checkDnsbl, dnsblQueryName } from '../src/policy/dnsbl.js';

test('DNSBL query names reverse IPv4 octets and IPv6 nibbles (RFC 5782)', () => {
  assert.equal(dnsblQueryName('192.0.2.99', 'bl.test'), '99.2.0.192.bl.test');
  assert.equal(dnsblQueryName('::ffff:192.0.2.99', 'bl.test'), '99.2.0.192.bl.test');
  assert.equal(
    dnsblQueryName('2001:db8::1', 'bl.test'),
    '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test',
  );
});

test('a DNSBL listing needs a 127/8 answer; lookup failures are not listings', async () => {
  const resolve = async (name: string) => {
    if (name === '99.2.0.192.listed.test') return ['127.0.0.2'];
    if (name === '99.2.0.192.hijacked.test') return ['192.0.2.1'];
    throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  };
  assert.deepEqual(await checkDnsbl('192.0.2.99', ['clean.test', 'listed.test'], resolve), {
    zone: 'listed.test',
    answer: '127.0.0.2',
  });
  assert.equal(await checkDnsbl('192.0.2.99', ['hijacked.test', 'clean.test'], resolve), undefined);
});

test('client limits: connections per IP and a refilling message bucket', () => {
  let now = 0;
  const limits = new ClientLimits(2, 60, () => now);
  assert.ok(limits.connect('a'));
  assert.ok(limits.connect('a'));
  assert.ok(!limits.connect('a'));
  assert.ok(limits.connect('b'));
  limits.disconnect('a');
  assert.ok(limits.connect('a'));
  for (let i = 0; i < 60; i++) assert.ok(limits.takeMessage('a'));
  assert.ok(!limits.takeMessage('a'));
  assert.ok(limits.takeMessage('b'));
  now += 1_000; // one token per second at 60/min
  assert.ok(limits.takeMessage('a'));
  assert.ok(!limits.takeMessage('a'));
});

test('forged Authentication-Results for our authserv-id are removed, others and the body kept', async () => {
  const message =
    'Received: by us\r\n' +
    'Authentication-Results: mx.hermod.test; spf=pass\r\n' +
    'Authentication-Results: MX.Hermod.Test;\r\n dkim=pass\r\n' +
    'Authentication-Results: other.example; spf=fail\r\n' +
    'Subject: s\r\n\r\n' +
    'Authentication-Results: mx.hermod.test; body text stays\r\n';
  const chunks = [];
  // Cut into small pieces so the header spans chunks.
  const input = Buffer.from(message);
  async function* pieces() {
    for (let i = 0; i < input.length; i += 7) yield input.subarray(i, i + 7);
  }
  for await (const c of stripForgedResults(pieces(), 'mx.hermod.test')) chunks.push(c);
  assert.equal(
    Buffer.concat(chunks).toString(),
    'Received: by us\r\nAuthentication-Results: other.example; spf=fail\r\nSubject: s\r\n\r\n' +
      'Authentication-Results: mx.hermod.test; body text stays\r\n',
  );
});
