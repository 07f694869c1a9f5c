import type { Pool, PoolClient } from '@hermod/db';

/** pending -> local | outbound | held -> delivered | failed. Final states are delivered and failed. */
export type RecipientState = 'pending' | 'local' | 'outbound' | 'held' | 'delivered' | 'failed';

export interface RecipientUpdate {
  rcptIndex: number;
  state: RecipientState;
  destination?: Record<string, unknown>;
  error?: string;
}

type SpoolUpdate = RecipientUpdate & { spoolId: string };

/**
 * THE recipient rule of the spool, in one stored function (`spool_mark_recipients`, migration 064):
 * recipients take their new states (final states never change), then every message of `messages`
 * is marked routed when `routed`, and completed once no recipient is left open. One statement,
 * atomic without a transaction. Another package that needs the rule inside its own statement (mda's
 * delivery batch, outbound-mta's recordFinal) calls the same stored function.
 */
async function markThen(
  db: Pool | PoolClient,
  updates: SpoolUpdate[],
  messages: string[],
  routed: boolean,
): Promise<number> {
  const { rows } = await db.query<{ completed: number }>({
    name: 'spool-mark-recipients',
    text: 'SELECT spool_mark_recipients($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7) AS completed',
    values: [
      updates.map((u) => u.spoolId),
      updates.map((u) => u.rcptIndex),
      updates.map((u) => u.state),
      updates.map((u) => (u.destination ? JSON.stringify(u.destination) : null)),
      updates.map((u) => u.error ?? null),
      messages,
      routed,
    ],
  });
  return rows[0]?.completed ?? 0;
}

/**
 * Recipient state changes and, in the same statement, every message of spoolIds completed that has
 * no other open recipient.
 */
export async function markRecipientsAndComplete(
  db: Pool | PoolClient,
  updates: SpoolUpdate[],
  spoolIds: string[],
): Promise<void> {
  if (spoolIds.length === 0 && updates.length === 0) return;
  await markThen(db, updates, spoolIds, false);
}

/**
 * Routing's decisions for a batch in ONE statement, atomic without a transaction: the recipients'
 * new states, every message of the batch marked routed, and completed when no recipient is left
 * open (all failed or expanded).
 */
export async function markRouted(
  db: Pool | PoolClient,
  updates: SpoolUpdate[],
  spoolIds: string[],
): Promise<void> {
  if (spoolIds.length === 0 && updates.length === 0) return;
  await markThen(db, updates, spoolIds, true);
}
