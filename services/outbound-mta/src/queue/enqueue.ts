import type { Pool, PoolClient } from '@hermod/db';

// One statement for both paths (job intake and the orphan sweep): recipients in state 'outbound'
// get a schedule row; an existing row is left alone, so a redelivered job changes nothing.
const insertFrom = (where: string) => `
  INSERT INTO outbound_queue (spool_id, rcpt_index, domain, recipient, mail_from, queued_at, expires_at)
  SELECT r.spool_id, r.rcpt_index,
         lower(COALESCE(r.destination->>'domain', regexp_replace(r.address, '^.*@', ''))),
         r.address,
         COALESCE(r.parameters->>'mailFrom', m.mail_from),
         m.received_at,
         COALESCE((r.destination->>'holdUntil')::timestamptz, m.received_at + make_interval(secs => $1))
  FROM spool_recipients r JOIN spool_messages m ON m.id = r.spool_id
  WHERE r.state = 'outbound' AND ${where}
  ON CONFLICT DO NOTHING`;

/** Schedules the job's recipients (those still 'outbound'); returns how many rows were new. */
export async function enqueueRecipients(
  db: Pool | PoolClient,
  spoolId: string,
  rcptIndexes: number[],
  maxLifetimeMs: number,
): Promise<number> {
  const { rowCount } = await db.query(insertFrom('r.spool_id = $2 AND r.rcpt_index = ANY($3::int[])'), [
    maxLifetimeMs / 1000,
    spoolId,
    rcptIndexes,
  ]);
  return rowCount ?? 0;
}

/**
 * The safety net for a job lost between routing's commit and our insert (nats-server died, or we
 * were killed before inserting): 'outbound' recipients older than graceMs without a queue row.
 */
export async function enqueueOrphans(
  db: Pool | PoolClient,
  maxLifetimeMs: number,
  graceMs: number,
): Promise<number> {
  const { rowCount } = await db.query(
    insertFrom(`r.updated_at < now() - make_interval(secs => $2)
      AND NOT EXISTS (SELECT 1 FROM outbound_queue q WHERE q.spool_id = r.spool_id AND q.rcpt_index = r.rcpt_index)`),
    [maxLifetimeMs / 1000, graceMs / 1000],
  );
  return rowCount ?? 0;
}
