import type { Pool, PoolClient } from '@hermod/db';

/** pending -> local | outbound | held -> delivered | failed. Final states are delivered and failed. */
export type RecipientState = 'pending' | 'local' | 'outbound' | 'held' | 'delivered' | 'failed';

export interface RecipientUpdate {
  rcptIndex: number;
  state: RecipientState;
  destination?: Record<string, unknown>;
  error?: string;
}

export async function markRecipients(
  client: PoolClient,
  spoolId: string,
  updates: RecipientUpdate[],
): Promise<void> {
  await markRecipientsOfMessages(
    client,
    updates.map((u) => ({ ...u, spoolId })),
  );
}

// Recipient state changes as columns for unnest; final states never change.
const updateRecipientsSql = `UPDATE spool_recipients r SET state = u.state,
       destination = COALESCE(u.destination::jsonb, r.destination),
       last_error = COALESCE(u.error, r.last_error), updated_at = now()
     FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[]) AS u(spool_id, idx, state, destination, error)
     WHERE r.spool_id = u.spool_id AND r.rcpt_index = u.idx
       AND r.state NOT IN ('delivered', 'failed')`;

const updateColumns = (updates: Array<RecipientUpdate & { spoolId: string }>) => [
  updates.map((u) => u.spoolId),
  updates.map((u) => u.rcptIndex),
  updates.map((u) => u.state),
  updates.map((u) => (u.destination ? JSON.stringify(u.destination) : null)),
  updates.map((u) => u.error ?? null),
];

/** Recipient state changes of any number of messages in one statement; final states never change. */
export async function markRecipientsOfMessages(
  client: PoolClient,
  updates: Array<RecipientUpdate & { spoolId: string }>,
): Promise<void> {
  if (updates.length === 0) return;
  await client.query({ text: updateRecipientsSql, values: updateColumns(updates) });
}

/**
 * Routing's decisions for a batch in ONE statement, atomic without a transaction: the recipients'
 * new states, and every message of the batch marked routed.
 */
export async function markRouted(
  db: Pool | PoolClient,
  updates: Array<RecipientUpdate & { spoolId: string }>,
  spoolIds: string[],
): Promise<void> {
  if (spoolIds.length === 0) return;
  await db.query({
    text: `WITH marked AS (${updateRecipientsSql} RETURNING r.spool_id)
     UPDATE spool_messages SET routed_at = now() WHERE id = ANY($6::uuid[])`,
    values: [...updateColumns(updates), spoolIds],
  });
}

/** Marks the message complete once every recipient reached a final state. */
export async function completeIfDone(client: PoolClient, spoolId: string): Promise<boolean> {
  return (await completeMessagesIfDone(client, [spoolId])).length > 0;
}

/** completeIfDone for several messages in one statement; returns the ids it completed. */
export async function completeMessagesIfDone(client: PoolClient, spoolIds: string[]): Promise<string[]> {
  if (spoolIds.length === 0) return [];
  const { rows } = await client.query<{ id: string }>({
    text: `UPDATE spool_messages m SET completed_at = now() WHERE m.id = ANY($1::uuid[]) AND m.completed_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM spool_recipients r WHERE r.spool_id = m.id AND r.state NOT IN ('delivered', 'failed'))
     RETURNING m.id`,
    values: [spoolIds],
  });
  return rows.map((r) => r.id);
}
