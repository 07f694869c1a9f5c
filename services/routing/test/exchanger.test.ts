import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideExchanger } from '../src/exchanger.js';
import { srsForward, srsReverse } from '../src/srs.js';

const ours = ['mx1.hermod.test', 'mx2.hermod.test'];

test('auto: lowest MX ours -> local; ours behind another -> backup; none ours -> remote', () => {
  assert.equal(
    decideExchanger(
      [
        { exchange: 'MX1.hermod.test.', priority: 10 },
        { exchange: 'mx.other.example', priority: 20 },
      ],
      ours,
    ).effective,
    'local',
  );
  const backup = decideExchanger(
    [
      { exchange: 'mx.other.example', priority: 10 },
      { exchange: 'mx2.hermod.test', priority: 20 },
    ],
    ours,
  );
  assert.equal(backup.effective, 'backup');
  assert.match(backup.reason, /mx2\.hermod\.test \(20\) points at us behind mx\.other\.example \(10\)/);
  assert.equal(decideExchanger([{ exchange: 'mx.other.example', priority: 10 }], ours).effective, 'remote');
  assert.equal(decideExchanger([], ours).effective, 'remote');
  // Equal preference shared with another host still makes us a primary.
  assert.equal(
    decideExchanger(
      [
        { exchange: 'mx.other.example', priority: 10 },
        { exchange: 'mx1.hermod.test', priority: 10 },
      ],
      ours,
    ).effective,
    'local',
  );
});

test('SRS0 round trip, case-insensitive hash, expiry and tampering', () => {
  const now = Date.UTC(2026, 10, 23);
  const srs = srsForward('Orig.User@Sender.example', 'fwd.example', 's3cret', now);
  assert.match(srs, /^SRS0=[^=]{4}=[A-Z2-7]{2}=Sender\.example=Orig\.User@fwd\.example$/);
  const local = srs.slice(0, srs.lastIndexOf('@'));
  assert.deepEqual(srsReverse(local, 's3cret', now), { ok: true, address: 'Orig.User@Sender.example' });
  assert.deepEqual(srsReverse(local.toLowerCase(), 's3cret', now), {
    ok: true,
    address: 'orig.user@sender.example',
  });
  assert.equal(srsReverse(local, 's3cret', now + 30 * 86_400_000).ok, false);
  assert.equal(srsReverse(local.replace('Orig.User', 'victim'), 's3cret', now).ok, false);
  assert.equal(srsReverse(local, 'other', now).ok, false);
  assert.equal(srsForward('', 'fwd.example', 's3cret'), '');
});
