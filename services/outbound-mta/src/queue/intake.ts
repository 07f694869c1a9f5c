import type { Pool } from '@hermod/db';
import type { JobOutcome, ReceivedJob } from '@hermod/nats';
import type { OutboundJobPayload } from '@hermod/pipeline';
import { enqueueRecipients } from './enqueue.js';

/**
 * Outbound jobs only schedule: the recipients get queue rows (idempotently) and the job is acked.
 * Delivery happens from the queue table, so a job is never held while a remote server is slow.
 */
export async function intakeJobs(
  pool: Pool,
  jobs: ReceivedJob<OutboundJobPayload>[],
  maxLifetimeMs: number,
): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = [];
  for (const job of jobs) {
    await enqueueRecipients(pool, job.payload.spoolId, job.payload.rcptIndexes, maxLifetimeMs);
    outcomes.push({ kind: 'ack' });
  }
  return outcomes;
}
