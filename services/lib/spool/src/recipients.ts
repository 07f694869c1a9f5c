import type { Pool, PoolClient } from '@hermod/db';

/** pending -> local | outbound | held -> delivered | failed. Final states are delivered and failed. */
export type RecipientState = 'pending' | 'local' | 'outbound' | 'held' | 'delivered' | 'failed';

export interface RecipientUpdate {
  rcptIndex: number;
  state: RecipientState;
  destination?: Record<string, unknown>;
  error?: string;
}

/**
 * Recipient state changes read from `source`, a relation u(spool_id, idx, state, destination (JSON
 * text or null), error); final states never change.
 */
const updateRecipientsFrom = (source: string) => `UPDATE spool_recipients r SET state = u.state,
       destination = COALESCE(u.destination::jsonb, r.destination),
       last_error = COALESCE(u.error, r.last_error), updated_at = now()
     FROM ${source}
     WHERE r.spool_id = u.spool_id AND r.rcpt_index = u.idx
       AND r.state NOT IN ('delivered', 'failed')`;

// Recipient state changes as columns for unnest ($1..$5).
const updateRecipientsSql = updateRecipientsFrom(
  'unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[]) AS u(spool_id, idx, state, destination, error)',
);

const updateColumns = (updates: Array<RecipientUpdate & { spoolId: string }>) => [
  updates.map((u) => u.spoolId),
  updates.map((u) => u.rcptIndex),
  updates.map((u) => u.state),
  updates.map((u) => (u.destination ? JSON.stringify(u.destination) : null)),
  updates.map((u) => u.error ?? null),
];

export async function markRecipients(
  client: PoolClient,
  spoolId: string,
  updates: RecipientUpdate[],
): Promise<void> {
  if (updates.length === 0) return;
  await client.query({
    text: updateRecipientsSql,
    values: updateColumns(updates.map((u) => ({ ...u, spoolId }))),
  });
}

// With `marked` (the rows a statement's own recipient update returns): no recipient of message m is
// left open. A statement does not see its own changes, so the recipients it has just moved to a
// final state are counted as final explicitly.
const nothingOpen = `NOT EXISTS (SELECT 1 FROM spool_recipients r
         WHERE r.spool_id = m.id AND r.state NOT IN ('delivered', 'failed')
           AND NOT EXISTS (SELECT 1 FROM marked k WHERE k.spool_id = r.spool_id
                             AND k.rcpt_index = r.rcpt_index AND k.state IN ('delivered', 'failed')))`;
const markedFrom = (update: string) => `marked AS (${update} RETURNING r.spool_id, r.rcpt_index, r.state)`;
const marked = markedFrom(updateRecipientsSql);

/**
 * The CTE `marked` for a statement that computes its recipient updates itself: state changes read
 * from `source`, a relation u(spool_id, idx, state, destination, error) as for updateRecipientsFrom.
 */
export const markedCte = (source: string): string => markedFrom(updateRecipientsFrom(source));

/** Completes every message of spoolIdsParam left with no open recipient; needs the CTE `marked`. */
export const completeUnlessOpenSql = (spoolIdsParam: string): string =>
  `UPDATE spool_messages m SET completed_at = now()
     WHERE m.id = ANY(${spoolIdsParam}::uuid[]) AND m.completed_at IS NULL AND ${nothingOpen}`;

/** The recipient updates as `marked`, then messageUpdate (which sees $6, the spool ids), in one statement. */
async function markThen(
  db: Pool | PoolClient,
  updates: Array<RecipientUpdate & { spoolId: string }>,
  spoolIds: string[],
  messageUpdate: string,
): Promise<void> {
  if (spoolIds.length === 0) return;
  await db.query({ text: `WITH ${marked} ${messageUpdate}`, values: [...updateColumns(updates), spoolIds] });
}

/**
 * Recipient state changes and, in the same statement, every message of spoolIds completed that has
 * no other open recipient.
 */
export async function markRecipientsAndComplete(
  db: Pool | PoolClient,
  updates: Array<RecipientUpdate & { spoolId: string }>,
  spoolIds: string[],
): Promise<void> {
  await markThen(db, updates, spoolIds, completeUnlessOpenSql('$6'));
}

/**
 * Routing's decisions for a batch in ONE statement, atomic without a transaction: the recipients'
 * new states, every message of the batch marked routed, and completed when no recipient is left
 * open (all failed or expanded).
 */
export async function markRouted(
  db: Pool | PoolClient,
  updates: Array<RecipientUpdate & { spoolId: string }>,
  spoolIds: string[],
): Promise<void> {
  await markThen(
    db,
    updates,
    spoolIds,
    `UPDATE spool_messages m SET routed_at = now(),
       completed_at = CASE WHEN m.completed_at IS NULL AND ${nothingOpen} THEN now() ELSE m.completed_at END
     WHERE m.id = ANY($6::uuid[])`,
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
