import type { Pool, PoolClient } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import type { AttemptResult } from './finish.js';

/** A recipient's final outcome: delivered, or failed for good. */
export interface FinalResult extends AttemptResult {
  kind: 'delivered' | 'failed';
}

/** One message's recipients that reached their final outcome in an attempt. */
export interface FinalAttempt {
  spoolId: string;
  results: FinalResult[];
}

export const isFinal = (r: AttemptResult): r is FinalResult => r.kind === 'delivered' || r.kind === 'failed';

/**
 * THE completion rule of outbound delivery, in one statement (atomic without a transaction, one
 * round trip): recipients with a final outcome leave the queue, take their final spool state with
 * the outcome kept on the recipient (where it went, the reply, the TLS used), and every message of
 * `attempts` with no recipient left open is completed. The spool's part is the spool's own rule,
 * the stored function `spool_mark_recipients` (migrations 064 and 074, owned by @hermod/spool): final
 * states never change, and a message is completed exactly once however its recipients finish.
 */
export async function recordFinal(db: Pool | PoolClient, attempts: FinalAttempt[], now: Date): Promise<void> {
  const rows = attempts.flatMap((a) => a.results.map((r) => ({ spoolId: a.spoolId, r })));
  if (rows.length === 0) return;
  await db.query({
    name: 'outbound-record-final',
    text: `WITH dequeued AS (
       DELETE FROM outbound_queue q USING unnest($1::uuid[], $2::int[]) AS u(spool_id, idx)
       WHERE q.spool_id = u.spool_id AND q.rcpt_index = u.idx)
     SELECT spool_mark_recipients($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::uuid[], false)`,
    values: [
      rows.map((x) => x.spoolId),
      rows.map((x) => x.r.entry.rcptIndex),
      rows.map((x) => x.r.kind),
      rows.map((x) =>
        JSON.stringify({
          ...(x.r.entry.destination ?? {}),
          outcome: {
            at: now.toISOString(),
            reply: x.r.reply,
            status: x.r.status,
            host: x.r.host,
            tls: x.r.tls,
          },
        }),
      ),
      rows.map((x) => (x.r.kind === 'failed' ? x.r.reply : null)),
      [...new Set(attempts.map((a) => a.spoolId))],
    ],
  });
}

/** The log line of a final outcome, one per recipient. */
export function logFinal(logger: Logger, spoolId: string, r: FinalResult): void {
  logger.info(
    { spoolId, rcptIndex: r.entry.rcptIndex, result: r.kind, reply: r.reply, host: r.host, tls: r.tls },
    r.kind === 'delivered' ? 'delivered' : 'delivery failed',
  );
}
