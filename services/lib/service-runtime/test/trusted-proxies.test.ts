import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrustedProxies } from '../src/proxy-protocol/proxy-accept.js';

test('CIDRs of both families; IPv4-mapped IPv6 peers count as IPv4', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
  assert.equal(trusted.trusts('10.1.2.3'), true);
  assert.equal(trusted.trusts('::ffff:10.1.2.3'), true);
  assert.equal(trusted.trusts('192.0.2.7'), true);
  assert.equal(trusted.trusts('192.0.2.8'), false);
  assert.equal(trusted.trusts('fd12::1'), true);
  assert.equal(trusted.trusts('2001:db8::1'), false);
  assert.equal(trusted.trusts('11.0.0.1'), false);
  assert.equal(trusted.trusts(undefined), false);
});

test('no CIDRs: any peer (the documented default); bad CIDRs are refused at start', () => {
  assert.equal(new TrustedProxies([]).trusts('203.0.113.1'), true);
  for (const bad of ['10.0.0.0/33', 'example.com/8', '10.0.0.0/x', 'fd00::/129'])
    assert.throws(() => new TrustedProxies([bad]), /not a CIDR/, bad);
});
