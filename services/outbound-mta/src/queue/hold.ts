import type { Pool } from '@hermod/db';

/**
 * Takes recipients off the schedule after a fault of our own (a LocalError): state 'held' with
 * the reason in last_reply, the lease handed back, the attempt counted. They stay visible in
 * `hermod queue list --state held` until an operator releases them (`hermod queue release`),
 * instead of being retried blindly until they expire.
 */
export async function holdAfterLocalError(
  pool: Pool,
  spoolId: string,
  rcptIndexes: number[],
  reason: string,
  host: string | undefined,
): Promise<void> {
  await pool.query(
    `UPDATE outbound_queue SET state = 'held', attempts = attempts + 1, last_reply = $3, last_host = $4,
       lease_owner = NULL, lease_expires_at = NULL
     WHERE spool_id = $1 AND rcpt_index = ANY($2::int[])`,
    [spoolId, rcptIndexes, reason, host ?? null],
  );
}
