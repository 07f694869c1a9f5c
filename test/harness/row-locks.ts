// Probes for lock-order tests: a statement stopped on a row another session holds, and which rows it
// had locked by then.
import type { PoolClient } from 'pg';
import { eventually } from './eventually.js';

/** Waits until the backend `pid` is waiting for a lock. */
export async function untilWaitingOnLock(prober: PoolClient, pid: number, what: string): Promise<void> {
  await eventually(what, async () => {
    const { rows } = await prober.query(
      `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`,
      [pid],
    );
    return rows.length === 1 ? true : undefined;
  });
}

/**
 * The keys whose row `lockQuery` (a `SELECT ... FOR UPDATE NOWAIT` taking the key as $1 after
 * `leading` parameters) could lock: rows nobody else holds.
 */
export async function rowsNotLocked<Key>(
  prober: PoolClient,
  lockQuery: string,
  keys: readonly Key[],
  leading: readonly unknown[] = [],
): Promise<Key[]> {
  const free: Key[] = [];
  for (const key of keys) {
    await prober.query('BEGIN');
    try {
      await prober.query(lockQuery, [...leading, key]);
      free.push(key);
    } catch (error) {
      // 55P03: lock_not_available, the row is held.
      if ((error as { code?: string }).code !== '55P03') throw error;
    } finally {
      await prober.query('ROLLBACK');
    }
  }
  return free;
}
