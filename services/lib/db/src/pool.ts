import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// Return BIGINT (int8) as JS numbers: ids and UIDs stay far below 2^53 in practice.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

export interface PoolOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
}

/**
 * Hot statements with a fixed text and scalar or insert-only parameters are named
 * (`{ name, text, values }`): each session plans them once. Statements that filter a table by an
 * array parameter (`= ANY($1)`, `FROM unnest(...)`) stay unnamed: a cached generic plan for them
 * scans the table, which grows with the spool.
 *
 * A pool whose sessions commit synchronously: a COMMIT returns only once WAL is flushed, which is
 * what lets a service answer 250 after it. Statement timeout keeps a stuck query from pinning a session.
 */
export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'hermod',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    options: '-c synchronous_commit=on -c statement_timeout=30000',
  });
  // An idle client losing its server emits 'error' on the pool; without a listener Node would crash.
  pool.on('error', () => {});
  return pool;
}
