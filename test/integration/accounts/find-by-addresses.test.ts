// AccountStore.findByAddresses against PostgreSQL: primary addresses and aliases in one statement,
// answers keyed by the address as asked (any case), unknown and unparsable addresses absent, and
// the same answers as findByAddress one by one.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let store: AccountStore;

before(async () => {
  db = await testDatabase();
  store = new AccountStore(db.pool);
  await store.create({ address: 'alice@example.com', password: 'alice-password' });
  await store.create({ address: 'bob@example.com', password: 'bob-password' });
  await store.addAlias('bob@example.com', 'robert@example.com');
});

after(async () => {
  await db?.close();
});

test('primary addresses and aliases in one call; unknown and unparsable ones absent', async () => {
  const asked = [
    'alice@example.com',
    'Alice@EXAMPLE.com',
    'robert@example.com',
    'nobody@example.com',
    'not an address',
  ];
  const found = await store.findByAddresses(asked);
  assert.deepEqual([...found.keys()].sort(), [
    'Alice@EXAMPLE.com',
    'alice@example.com',
    'robert@example.com',
  ]);
  assert.equal(found.get('Alice@EXAMPLE.com')?.address, 'alice@example.com');
  assert.equal(found.get('robert@example.com')?.address, 'bob@example.com');
  assert.deepEqual(found.get('robert@example.com')?.aliases, ['robert@example.com']);
  for (const address of asked)
    assert.deepEqual(found.get(address), await store.findByAddress(address), `differs for ${address}`);
});

test('an empty or all-invalid request makes no query and finds nothing', async () => {
  assert.equal((await store.findByAddresses([])).size, 0);
  assert.equal((await store.findByAddresses(['@@'])).size, 0);
});
