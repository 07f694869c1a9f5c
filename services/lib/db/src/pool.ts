import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// Return BIGINT (int8) as JS numbers: ids and UIDs stay far below 2^53 in practice.
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

/** Defaults of the two limits on one statement (see createPool). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 35_000;

export interface PoolOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** Planner settings for the pool's sessions (`-c name=value` at connect), e.g. a service's plan cache mode. */
  settings?: Readonly<Record<string, string>>;
  /** The server's limit on one statement (`statement_timeout`): a slow statement fails, its session stays usable. */
  statementTimeoutMs?: number;
  /**
   * The client's limit on waiting for one statement's answer; above statementTimeoutMs, so it only
   * fires when the server cannot answer at all (frozen, or the network gone silent).
   */
  queryTimeoutMs?: number;
}

/** A pool's timeouts that contradict each other, naming the setting to change. */
export class PoolTimeoutsError extends Error {
  readonly code = 'POOL_TIMEOUTS_INVALID';
  constructor(
    readonly field: 'queryTimeoutMs',
    message: string,
  ) {
    super(message);
    this.name = 'PoolTimeoutsError';
  }
}

/**
 * Hot statements with a fixed text and scalar or insert-only parameters are named
 * (`{ name, text, values }`): each session plans them once. Statements that filter a table by an
 * array parameter (`= ANY($1)`, `FROM unnest(...)`) stay unnamed: a cached generic plan for them
 * scans the table, which grows with the spool. A service whose statements are all safe to cache
 * says so with `settings` (mda: see services/mda/src/session-settings.ts).
 *
 * A pool whose sessions commit synchronously: a COMMIT returns only once WAL is flushed, which is
 * what lets a service answer 250 after it. Two limits keep a statement from pinning a session and
 * its caller: the server's statement_timeout, and the client's query timeout (pg's query_timeout)
 * for a server that does not answer at all (SIGSTOP, a silent network), where the server's own
 * timer cannot run. The client's is the larger, so a merely slow statement is still ended by the
 * server, which keeps the session; a session whose statement the client gave up on is discarded
 * (isQueryTimeout, withClient), since its answer may still arrive.
 */
export function createPool(options: PoolOptions): Pool {
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  if (queryTimeoutMs <= statementTimeoutMs)
    throw new PoolTimeoutsError(
      'queryTimeoutMs',
      `the query timeout (${queryTimeoutMs} ms) must be above the statement timeout (${statementTimeoutMs} ms), so the server ends slow statements and the client only gives up on a server that does not answer`,
    );
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'hermod',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    query_timeout: queryTimeoutMs,
    options: [
      `-c synchronous_commit=on -c statement_timeout=${statementTimeoutMs}`,
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
