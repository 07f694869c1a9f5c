import type { Pool } from '@hermod/db';
import type { Logger } from '@hermod/logging';

export interface RetentionOptions {
  pool: Pool;
  logger: Logger;
  /** Completed spool messages older than this are deleted; 0 keeps them forever. */
  spoolRetentionMs: number;
  /** Rows per statement, so no pass holds many locks or a long transaction. */
  batchSize?: number;
}

export interface RetentionPass {
  spoolMessages: number;
  bodies: number;
  bodyBytes: number;
}

/**
 * Keeps storage bounded: completed spool messages (with their recipients, delivery keys and queue
 * rows) are deleted once older than the retention time, and message bodies nothing refers to any
 * more (expunged, mailbox or account deleted, spool message expired) are deleted with their chunks.
 * Any number of replicas may run it: SKIP LOCKED hands each row to one of them. A body still
 * referred to is never deleted: the candidate check runs in the same statement, and the foreign
 * keys refuse the deletion if a reference appeared meanwhile (the pass then fails and runs again).
 */
export class StorageRetention {
  constructor(private readonly options: RetentionOptions) {}

  /** One pass: expired spool messages first (their bodies become candidates), then the bodies. */
  async runOnce(): Promise<RetentionPass> {
    const pass: RetentionPass = { spoolMessages: 0, bodies: 0, bodyBytes: 0 };
    if (this.options.spoolRetentionMs > 0)
      for (let n = await this.expireSpool(); n > 0; n = await this.expireSpool()) pass.spoolMessages += n;
    // Candidates still referred to leave the list too, so go on while a batch picked any.
    for (let b = await this.collectBodies(); b.picked > 0; b = await this.collectBodies()) {
      pass.bodies += b.deleted;
      pass.bodyBytes += b.bytes;
    }
    if (pass.spoolMessages > 0 || pass.bodies > 0) this.options.logger.info(pass, 'storage retention pass');
    return pass;
  }

  /** Deletes one batch of expired spool messages; recipients and queue rows go by cascade. */
  private async expireSpool(): Promise<number> {
    const { rows } = await this.options.pool.query<{ n: number }>(
      `WITH expired AS (
         SELECT id FROM spool_messages
         WHERE completed_at < now() - make_interval(secs => $1)
         ORDER BY completed_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), keys AS (
         DELETE FROM deliveries d USING spool_recipients r, expired e
         WHERE r.spool_id = e.id AND d.delivery_key = r.spool_id::text || '/' || r.rcpt_index
       ), gone AS (
         DELETE FROM spool_messages s USING expired e WHERE s.id = e.id RETURNING s.id
       )
       SELECT count(*)::int AS n FROM gone`,
      [this.options.spoolRetentionMs / 1000, this.options.batchSize ?? 1000],
    );
    return rows[0]?.n ?? 0;
  }

  /** Deletes one batch of unreferenced bodies (chunks go by cascade); referenced candidates are dropped. */
  private async collectBodies(): Promise<{ picked: number; deleted: number; bytes: number }> {
    const { rows } = await this.options.pool.query<{ picked: number; n: number; bytes: string }>(
      `WITH picked AS (
         DELETE FROM message_body_gc g
         WHERE g.body_id IN (SELECT body_id FROM message_body_gc ORDER BY body_id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING g.body_id
       ), gone AS (
         DELETE FROM message_bodies b USING picked p
         WHERE b.id = p.body_id
           AND NOT EXISTS (SELECT 1 FROM mailbox_messages m WHERE m.body_id = b.id)
           AND NOT EXISTS (SELECT 1 FROM spool_messages s WHERE s.body_id = b.id)
         RETURNING b.size
       )
       SELECT (SELECT count(*) FROM picked)::int AS picked, count(*)::int AS n,
              COALESCE(sum(size), 0)::bigint AS bytes FROM gone`,
      [this.options.batchSize ?? 1000],
    );
    const row = rows[0];
    return { picked: row?.picked ?? 0, deleted: row?.n ?? 0, bytes: Number(row?.bytes ?? 0) };
  }
}
