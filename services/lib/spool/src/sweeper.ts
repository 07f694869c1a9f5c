import { type Pool, withTransaction } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import type { LocalDeliveryJobPayload, RoutingJobPayload } from '@hermod/pipeline';

export interface SweeperOptions {
  pool: Pool;
  logger: Logger;
  /** Work untouched this long is published again (the first publish may have died with nats-server). */
  stallAfterMs: number;
  batchSize?: number;
  publishRouting: (job: RoutingJobPayload) => Promise<void>;
  publishLocalDelivery: (job: LocalDeliveryJobPayload) => Promise<void>;
}

/**
 * The safety net that makes PostgreSQL, not NATS, the system of record: a message accepted but never
 * routed, or routed to a local mailbox but never delivered, has its job published again. Any number
 * of replicas may run it; SKIP LOCKED gives each row to one of them.
 */
export class SpoolSweeper {
  constructor(private readonly options: SweeperOptions) {}

  /** One pass; returns how many jobs were published again. */
  async sweepOnce(): Promise<number> {
    const { pool, stallAfterMs } = this.options;
    return withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ id: string; routed: boolean }>(
        `SELECT id, routed_at IS NOT NULL AS routed FROM spool_messages
         WHERE completed_at IS NULL AND next_sweep_at < now()
         ORDER BY next_sweep_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.options.batchSize ?? 500],
      );
      let count = 0;
      for (const row of rows) {
        if (!row.routed) {
          await this.options.publishRouting({ spoolId: row.id });
          count++;
          continue;
        }
        const stalled = await client.query<{
          rcpt_index: number;
          destination: { accountId?: number; mailbox?: string } | null;
        }>(
          `SELECT rcpt_index, destination FROM spool_recipients
           WHERE spool_id = $1 AND state = 'local' AND updated_at < now() - make_interval(secs => $2)`,
          [row.id, stallAfterMs / 1000],
        );
        const recipients = stalled.rows
          .filter((r) => typeof r.destination?.accountId === 'number')
          .map((r) => ({
            rcptIndex: r.rcpt_index,
            accountId: r.destination!.accountId!,
            mailbox: r.destination!.mailbox ?? 'INBOX',
          }));
        if (recipients.length > 0) {
          await this.options.publishLocalDelivery({ spoolId: row.id, recipients });
          count++;
        }
      }
      if (rows.length > 0) {
        await client.query(
          'UPDATE spool_messages SET next_sweep_at = now() + make_interval(secs => $2) WHERE id = ANY($1::uuid[])',
          [rows.map((r) => r.id), stallAfterMs / 1000],
        );
      }
      if (count > 0) this.options.logger.info({ republished: count }, 'republished stalled spool work');
      return count;
    });
  }
}
