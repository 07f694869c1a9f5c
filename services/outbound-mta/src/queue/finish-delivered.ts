import { GroupCommitter, type Pool } from '@hermod/db';
import type { AttemptResult } from './finish.js';

/** One message's attempt in which every recipient was accepted: nothing to notify, nothing to reschedule. */
export interface DeliveredAttempt {
  spoolId: string;
  results: AttemptResult[];
}

/**
 * The common outcome, recorded in one statement for many messages: recipients become 'delivered'
 * with their outcome (as finishAttempt records it), their queue rows go, and messages with no
 * recipient left open are completed. One round trip and one WAL flush per batch.
 */
export async function recordDelivered(pool: Pool, attempts: DeliveredAttempt[], now: Date): Promise<void> {
  const rows = attempts.flatMap((a) => a.results.map((r) => ({ spoolId: a.spoolId, r })));
  await pool.query(
    `WITH u AS (
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[]) AS u(spool_id, rcpt_index, outcome)),
     marked AS (
       UPDATE spool_recipients r
       SET state = 'delivered', updated_at = now(),
           destination = COALESCE(r.destination, '{}'::jsonb) || jsonb_build_object('outcome', u.outcome::jsonb)
       FROM u WHERE r.spool_id = u.spool_id AND r.rcpt_index = u.rcpt_index
         AND r.state NOT IN ('delivered', 'failed')),
     dequeued AS (
       DELETE FROM outbound_queue q USING u WHERE q.spool_id = u.spool_id AND q.rcpt_index = u.rcpt_index)
     UPDATE spool_messages m SET completed_at = now()
     WHERE m.id IN (SELECT spool_id FROM u) AND m.completed_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM spool_recipients r WHERE r.spool_id = m.id
                         AND r.state NOT IN ('delivered', 'failed')
                         AND NOT EXISTS (SELECT 1 FROM u WHERE u.spool_id = r.spool_id AND u.rcpt_index = r.rcpt_index))`,
    [
      rows.map((x) => x.spoolId),
      rows.map((x) => x.r.entry.rcptIndex),
      rows.map((x) =>
        JSON.stringify({
          at: now.toISOString(),
          reply: x.r.reply,
          status: x.r.status,
          host: x.r.host,
          tls: x.r.tls,
        }),
      ),
    ],
  );
}

/**
 * Group commit for delivered outcomes (GroupCommitter): while a batch is being written, finished
 * transactions queue up and the next statement takes all of them; a lone one is written at once.
 */
export class DeliveredBatcher {
  private readonly committer: GroupCommitter<DeliveredAttempt>;

  constructor(pool: Pool, options: { maxBatch: number; maxStatements: number; now?: () => Date }) {
    this.committer = new GroupCommitter(
      (batch) => recordDelivered(pool, batch, options.now?.() ?? new Date()),
      { maxBatch: options.maxBatch, maxConcurrent: options.maxStatements },
    );
  }

  record(attempt: DeliveredAttempt): Promise<void> {
    return this.committer.submit(attempt);
  }
}
