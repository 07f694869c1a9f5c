// OpenCounts: the one cap on what is open per key (imap's connections per IP and account, mx's per
// IP, msa's sessions per account).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OpenCounts } from '../src/index.js';

test('opens up to the cap per key, refuses past it, and a close makes room again', () => {
  const open = new OpenCounts<string>();
  assert.equal(open.tryOpen('192.0.2.1', 2), true);
  assert.equal(open.tryOpen('192.0.2.1', 2), true);
  assert.equal(open.tryOpen('192.0.2.1', 2), false);
  assert.equal(open.count('192.0.2.1'), 2);
  // Another key has its own count.
  assert.equal(open.tryOpen('192.0.2.2', 2), true);
  open.close('192.0.2.1');
  assert.equal(open.tryOpen('192.0.2.1', 2), true);
});

test('a key is forgotten at its last close; a close without an open changes nothing', () => {
  const open = new OpenCounts<number>();
  assert.equal(open.tryOpen(7, 1), true);
  open.close(7);
  open.close(7);
  assert.equal(open.count(7), 0);
  assert.equal(open.tryOpen(7, 1), true);
  assert.equal(open.tryOpen(7, 1), false);
});

test('a cap of 0 refuses every open; an infinite cap never refuses', () => {
  const open = new OpenCounts<number>();
  assert.equal(open.tryOpen(1, 0), false);
  for (let i = 0; i < 100; i++) assert.equal(open.tryOpen(2, Number.POSITIVE_INFINITY), true);
  assert.equal(open.count(2), 100);
});
