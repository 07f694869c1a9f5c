import type { PoolClient } from '@hermod/db';

/** pending -> local | outbound | held -> delivered | failed. Final states are delivered and failed. */
export type RecipientState = 'pending' | 'local' | 'outbound' | 'held' | 'delivered' | 'failed';

export async function markRecipients(
  client: PoolClient,
  spoolId: string,
  updates: Array<{
    rcptIndex: number;
    state: RecipientState;
    destination?: Record<string, unknown>;
    error?: string;
  }>,
): Promise<void> {
  if (updates.length === 0) return;
  await client.query(
    `UPDATE spool_recipients r SET state = u.state, destination = COALESCE(u.destination::jsonb, r.destination),
       last_error = COALESCE(u.error, r.last_error), updated_at = now()
     FROM unnest($2::int[], $3::text[], $4::text[], $5::text[]) AS u(idx, state, destination, error)
     WHERE r.spool_id = $1 AND r.rcpt_index = u.idx
       AND r.state NOT IN ('delivered', 'failed')`,
    [
      spoolId,
      updates.map((u) => u.rcptIndex),
      updates.map((u) => u.state),
      updates.map((u) => (u.destination ? JSON.stringify(u.destination) : null)),
      updates.map((u) => u.error ?? null),
    ],
  );
}

/** Marks the message complete once every recipient reached a final state. */
export async function completeIfDone(client: PoolClient, spoolId: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE spool_messages SET completed_at = now() WHERE id = $1 AND completed_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM spool_recipients WHERE spool_id = $1 AND state NOT IN ('delivered', 'failed'))`,
    [spoolId],
  );
  return (rowCount ?? 0) > 0;
}
