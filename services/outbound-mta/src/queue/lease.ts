import type { Pool } from '@hermod/db';

export interface QueueEntry {
  spoolId: string;
  rcptIndex: number;
  domain: string;
  recipient: string;
  mailFrom: string;
  attempts: number;
  queuedAt: Date;
  expiresAt: Date;
  delayNotified: boolean;
  /** The routing decision (spool_recipients.destination): relay hosts, our own MX names to skip. */
  destination: Record<string, unknown> | null;
}

interface Row {
  spool_id: string;
  rcpt_index: number;
  domain: string;
  recipient: string;
  mail_from: string;
  attempts: number;
  queued_at: Date;
  expires_at: Date;
  delay_notified: boolean;
  destination?: Record<string, unknown> | null;
}

export const toEntry = (r: Row): QueueEntry => ({
  spoolId: r.spool_id,
  rcptIndex: r.rcpt_index,
  domain: r.domain,
  recipient: r.recipient,
  mailFrom: r.mail_from,
  attempts: r.attempts,
  queuedAt: r.queued_at,
  expiresAt: r.expires_at,
  delayNotified: r.delay_notified,
  destination: r.destination ?? null,
});

/** How much one worker may lease per tick, in total and per recipient domain. */
export interface LeaseLimits {
  limit: number;
  /** Messages per domain: a burst for one domain is shared by the replicas, not taken by the first. */
  perDomain: number;
  /** Domains this worker already holds enough of: none of their recipients are leased. */
  fullDomains: string[];
}

/**
 * Takes due recipients for this worker, at most `limit` rows and `perDomain` messages per domain.
 * SKIP LOCKED hands each row to one replica; the per-message advisory lock and the "no live lease
 * on this message" test keep one attempt in flight per message across replicas. A worker that dies
 * leaves its lease to expire, then the row is due again.
 */
export async function leaseDue(
  pool: Pool,
  owner: string,
  { limit, perDomain, fullDomains }: LeaseLimits,
  leaseMs: number,
): Promise<QueueEntry[]> {
  const { rows } = await pool.query<Row>(
    `WITH candidates AS (
       SELECT q.spool_id, q.rcpt_index, q.domain, q.next_attempt_at FROM outbound_queue q
       WHERE q.state IN ('queued', 'deferred') AND q.next_attempt_at <= now()
         AND (q.lease_expires_at IS NULL OR q.lease_expires_at < now())
         AND NOT EXISTS (SELECT 1 FROM outbound_queue o
                         WHERE o.spool_id = q.spool_id AND o.lease_expires_at >= now())
         AND q.domain <> ALL($5::text[])
         AND pg_try_advisory_xact_lock(7263020, hashtext(q.spool_id::text))
       ORDER BY q.next_attempt_at
       LIMIT $1
       FOR UPDATE OF q SKIP LOCKED),
     due AS (
       SELECT spool_id, rcpt_index FROM (
         SELECT c.spool_id, c.rcpt_index,
           dense_rank() OVER (PARTITION BY c.domain ORDER BY c.next_attempt_at, c.spool_id) AS n
         FROM candidates c) ranked
       WHERE n <= $4)
     UPDATE outbound_queue q SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3),
       last_attempt_at = now()
     FROM due, spool_recipients r
     WHERE q.spool_id = due.spool_id AND q.rcpt_index = due.rcpt_index
       AND r.spool_id = q.spool_id AND r.rcpt_index = q.rcpt_index
     RETURNING q.spool_id, q.rcpt_index, q.domain, q.recipient, q.mail_from, q.attempts, q.queued_at,
       q.expires_at, q.delay_notified, r.destination`,
    [limit, owner, leaseMs / 1000, perDomain, fullDomains],
  );
  return rows.map(toEntry);
}

/** Hands leases back on graceful shutdown so another replica retries at once. */
export async function releaseLeases(pool: Pool, owner: string): Promise<void> {
  await pool.query(
    `UPDATE outbound_queue SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1`,
    [owner],
  );
}

/**
 * Extends this worker's leases on messages whose attempt is still running, so a remote slower than
 * the lease is not mistaken for a dead worker (and attempted a second time in parallel). A lease
 * another replica has taken over, or one already handed back, is left alone.
 */
export async function renewLeases(
  pool: Pool,
  owner: string,
  spoolIds: string[],
  leaseMs: number,
): Promise<void> {
  await pool.query(
    `UPDATE outbound_queue SET lease_expires_at = now() + make_interval(secs => $3)
     WHERE lease_owner = $1 AND spool_id = ANY($2::uuid[]) AND lease_expires_at IS NOT NULL`,
    [owner, spoolIds, leaseMs / 1000],
  );
}
