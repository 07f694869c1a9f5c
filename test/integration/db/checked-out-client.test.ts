// A checked-out client whose server session ends (PostgreSQL shutting down or crashing sends 57P01
// "terminating connection" and closes the socket) must not crash the process: the error belongs to
// the work that holds the client, which fails with a transient error and can be retried.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isTransientDatabaseError, withTransaction } from '@hermod/db';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
const uncaught: Error[] = [];
const onUncaught = (error: Error) => uncaught.push(error);

before(async () => {
  db = await testDatabase();
  process.on('uncaughtException', onUncaught);
});
after(async () => {
  process.off('uncaughtException', onUncaught);
  await db?.close();
});

/** Ends the session of backend pid from another session, as a PostgreSQL shutdown does (57P01). */
async function terminate(pid: number): Promise<void> {
  await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
}

test('a transaction whose session is terminated between statements fails with a transient error, not a crash', async () => {
  const outcome = await withTransaction(db.pool, async (client) => {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // The client's public 'end' event: the connection to the server is gone.
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    await terminate(rows[0]!.pid);
    // The client is idle in the transaction when the server's 57P01 and the socket's end arrive.
    await ended;
    await client.query('SELECT 1');
  }).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(isTransientDatabaseError(outcome), `expected a transient error, got ${String(outcome)}`);
  assert.deepEqual(uncaught, []);
  // The pool replaced the broken session: the next checkout works.
  assert.equal(await (await db.pool.query('SELECT 1 AS one')).rows[0].one, 1);
});
