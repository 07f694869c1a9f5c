import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Account } from '@hermod/accounts';
import { CoalescingAccountLookup } from '../src/account-lookup.js';

const account = (id: number, address: string): Account => ({
  id,
  address,
  domain: address.split('@')[1]!,
  quotaBytes: null,
  disabled: false,
  aliases: [],
  displayName: null,
  managedBy: null,
  forwardTo: [],
  forwardKeepCopy: true,
  sendAs: [],
});

function recordingLookup(known: Record<string, Account>, fail = false) {
  const calls: string[][] = [];
  const lookup = new CoalescingAccountLookup(async (addresses) => {
    calls.push([...addresses].sort());
    if (fail) throw new Error('database down');
    return new Map(addresses.filter((a) => known[a]).map((a) => [a, known[a]!]));
  });
  return { lookup, calls };
}

test('lookups asked for together are answered by one query, each with its own account', async () => {
  const alice = account(1, 'alice@example.com');
  const bob = account(2, 'bob@example.com');
  const { lookup, calls } = recordingLookup({ 'alice@example.com': alice, 'bob@example.com': bob });
  const results = await Promise.all([
    lookup.find('alice@example.com'),
    lookup.find('bob@example.com'),
    lookup.find('alice@example.com'),
    lookup.find('nobody@example.com'),
  ]);
  assert.deepEqual(results, [alice, bob, alice, undefined]);
  assert.deepEqual(calls, [['alice@example.com', 'bob@example.com', 'nobody@example.com']]);
});

test('nothing is cached: a later lookup asks again', async () => {
  const { lookup, calls } = recordingLookup({ 'alice@example.com': account(1, 'alice@example.com') });
  await lookup.find('alice@example.com');
  await lookup.find('alice@example.com');
  assert.equal(calls.length, 2);
});

test('a failed query rejects every lookup that waited for it, and the next one tries again', async () => {
  const { lookup, calls } = recordingLookup({}, true);
  const results = await Promise.allSettled([lookup.find('a@example.com'), lookup.find('b@example.com')]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  await assert.rejects(lookup.find('a@example.com'), /database down/);
  assert.equal(calls.length, 2);
});
