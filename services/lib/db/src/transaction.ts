import { CommitOutcomeUnknownError, commitOutcomeUnknown, isQueryTimeout } from './errors.js';
import type { Pool, PoolClient } from './pool.js';

/**
 * The one way to check a client out of a pool: fn gets it for its exclusive use and the client
 * always goes back. If fn fails (a lost session or a query timeout included) the client is released
 * with the error, so the pool closes that session instead of handing it to the next caller, whose
 * statements would otherwise queue behind one the server may still answer. Errors a session
 * raises while checked out are handled by the listener every pool client gets (createPool): they
 * reach fn through its next query, never the process.
 */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    const result = await fn(client);
    client.release();
    return result;
  } catch (error) {
    client.release(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/**
 * Runs fn inside BEGIN/COMMIT on a checked-out client (withClient), rolling back on any error. A
 * COMMIT that gets no answer (session lost, query timeout) fails with CommitOutcomeUnknownError.
 */
export function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    let result: T;
    try {
      result = await fn(client);
    } catch (error) {
      // After a query timeout the session is discarded (withClient): a ROLLBACK would only queue
      // behind the unanswered statement and wait out another timeout.
      if (!isQueryTimeout(error)) await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    try {
      await client.query('COMMIT');
    } catch (error) {
      throw commitOutcomeUnknown(error) ? new CommitOutcomeUnknownError(error) : error;
    }
    return result;
  });
}
