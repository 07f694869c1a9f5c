import assert from 'node:assert/strict';
import { test } from 'node:test';
import { domainHealth } from '../src/controller/health.js';

const md = (name: string, status?: unknown) => ({
  metadata: { name, namespace: 'ns' },
  ...(status ? { status } : {}),
});
const c = (type: string, status: string) => ({ type, status });

test('domain health counts not Ready, DNS not verified, rotations pending and held', () => {
  const health = domainHealth([
    md('new'),
    md('ok', { conditions: [c('Ready', 'True'), c('DnsVerified', 'Unknown'), c('DkimRotation', 'True')] }),
    md('dns', { conditions: [c('Ready', 'True'), c('DnsVerified', 'False')] }),
    md('rotating', {
      conditions: [c('Ready', 'True'), c('DnsVerified', 'True'), c('DkimRotation', 'True')],
      dkim: { activeSelector: 'a', pendingSelector: 'b' },
    }),
    md('held', {
      conditions: [c('Ready', 'True'), c('DnsVerified', 'False'), c('DkimRotation', 'False')],
      dkim: { activeSelector: 'a', pendingSelector: 'b' },
    }),
    md('conflict', { conditions: [c('Ready', 'False')] }),
  ]);
  assert.deepEqual(health, {
    total: 6,
    notReady: 2,
    dnsNotVerified: 2,
    rotationsPending: 2,
    rotationsHeld: 1,
  });
});
