import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// Return BIGINT (int8) as JS numbers: ids and UIDs stay far below 2^53 in practice.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

export interface PoolOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** Planner settings for the pool's sessions (`-c name=value` at connect), e.g. a service's plan cache mode. */
  settings?: Readonly<Record<string, string>>;
}

/**
 * Hot statements with a fixed text and scalar or insert-only parameters are named
 * (`{ name, text, values }`): each session plans them once. Statements that filter a table by an
 * array parameter (`= ANY($1)`, `FROM unnest(...)`) stay unnamed: a cached generic plan for them
 * scans the table, which grows with the spool. A service whose statements are all safe to cache
 * says so with `settings` (mda: see services/mda/src/session-settings.ts).
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
    options: [
      '-c synchronous_commit=on -c statement_timeout=30000',
      ...Object.entries(options.settings ?? {}).map(([name, value]) => `-c ${name}=${value}`),
    ].join(' '),
  });
  // A session that ends (PostgreSQL restarting or crashing sends 57P01 "terminating connection",
  // then the socket closes) makes its client emit 'error'; without a listener Node would crash.
  // Idle clients report it on the pool. A checked-out client gets its own listener here, for its
  // whole life, so every checkout is covered: the work holding it sees the failure through its
  // next query, and withClient releases the broken session with the error.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}
