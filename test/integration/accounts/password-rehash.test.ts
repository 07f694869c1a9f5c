// A login with a password hash made with older (weaker) parameters upgrades it to the current
// argon2id parameters, through the same LoginGate the services use; a wrong password changes nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AccountStore,
  LoginGate,
  LoginThrottle,
  MemoryLoginFailureStore,
  PostgresLoginFailureStore,
} from '@hermod/accounts';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';
import { hash } from '@node-rs/argon2';

let db: TestDatabase;
let store: AccountStore;

const policy = { threshold: 10, windowMs: 60_000, lockoutMs: 60_000, baseDelayMs: 0, maxDelayMs: 0 };

before(async () => {
  db = await testDatabase();
  store = new AccountStore(db.pool);
  await store.create({ address: 'old@example.com', password: 'placeholder-pw' });
});

after(async () => {
  await db?.close();
});

const storedHash = async () =>
  (
    await db.pool.query<{ password_hash: string }>(
      "SELECT password_hash FROM accounts WHERE address = 'old@example.com'",
    )
  ).rows[0]!.password_hash;

test('an older hash is upgraded at the next successful login, never at a failed one', async () => {
  // argon2i with small parameters: what an older release (or an import) might have stored.
  const old = await hash('the-old-password', { algorithm: 1, memoryCost: 4096, timeCost: 1, parallelism: 1 });
  await db.pool.query("UPDATE accounts SET password_hash = $1 WHERE address = 'old@example.com'", [old]);
  const gate = new LoginGate(store, new LoginThrottle(new PostgresLoginFailureStore(db.pool), policy));

  assert.equal((await gate.login('192.0.2.1', 'old@example.com', 'wrong-password', 'imap')).ok, false);
  assert.equal(await storedHash(), old, 'a failed login leaves the hash alone');

  assert.equal((await gate.login('192.0.2.1', 'old@example.com', 'the-old-password', 'imap')).ok, true);
  const upgraded = await storedHash();
  assert.match(upgraded, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  const again = new LoginGate(store, new LoginThrottle(new MemoryLoginFailureStore(), policy));
  assert.equal(
    (await again.login('192.0.2.2', 'old@example.com', 'the-old-password', 'submission')).ok,
    true,
  );
  assert.equal(await storedHash(), upgraded, 'a current hash is not rewritten');
});
