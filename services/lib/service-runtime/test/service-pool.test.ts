import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@hermod/config';
import { createServicePool } from '../src/bootstrap.js';

test('contradicting database timeouts are a configuration error naming DATABASE_QUERY_TIMEOUT_MS', () => {
  const config = {
    DATABASE_URL: 'postgres://127.0.0.1:1/x',
    DATABASE_POOL_SIZE: 2,
    DATABASE_STATEMENT_TIMEOUT_MS: 30_000,
    DATABASE_QUERY_TIMEOUT_MS: 10_000,
  };
  assert.throws(
    () => createServicePool('msa', config),
    (error: unknown) =>
      error instanceof ConfigError && error.issues.some((i) => i.variable === 'DATABASE_QUERY_TIMEOUT_MS'),
  );
  void createServicePool('msa', { ...config, DATABASE_QUERY_TIMEOUT_MS: 35_000 }).end();
});
