import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CommitOutcomeUnknownError,
  commitOutcomeUnknown,
  isQueryTimeout,
  isTransientDatabaseError,
} from '../src/errors.js';
import { createPool, PoolTimeoutsError } from '../src/pool.js';

test('a query timeout not above the statement timeout is refused, naming it', () => {
  assert.throws(
    () =>
      createPool({
        connectionString: 'postgres://127.0.0.1:1/x',
        statementTimeoutMs: 5_000,
        queryTimeoutMs: 5_000,
      }),
    (error: unknown) => error instanceof PoolTimeoutsError && error.field === 'queryTimeoutMs',
  );
  const pool = createPool({
    connectionString: 'postgres://127.0.0.1:1/x',
    statementTimeoutMs: 1_000,
    queryTimeoutMs: 2_000,
  });
  void pool.end();
});

test("pg's query timeout is transient and leaves a commit's outcome unknown", () => {
  const timeout = new Error('Query read timeout');
  assert.ok(isQueryTimeout(timeout));
  assert.ok(isTransientDatabaseError(timeout));
  assert.ok(commitOutcomeUnknown(timeout));
  assert.ok(isTransientDatabaseError(new CommitOutcomeUnknownError(timeout)));
  assert.ok(!isQueryTimeout(new Error('syntax error')));
});
