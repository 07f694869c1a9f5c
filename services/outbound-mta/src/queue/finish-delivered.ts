import { GroupCommitter, type Pool } from '@hermod/db';
import { type FinalAttempt, recordFinal } from './record-final.js';

/**
 * Group commit for attempts in which every recipient was accepted (nothing to notify, nothing to
 * reschedule), the common outcome: while a batch is being written by recordFinal (one statement),
 * finished attempts queue up and the next statement takes all of them; a lone one is written at
 * once. One round trip and one WAL flush per batch.
 */
export class DeliveredBatcher {
  private readonly committer: GroupCommitter<FinalAttempt>;

  constructor(pool: Pool, options: { maxBatch: number; maxStatements: number; now?: () => Date }) {
    this.committer = new GroupCommitter((batch) => recordFinal(pool, batch, options.now?.() ?? new Date()), {
      maxBatch: options.maxBatch,
      maxConcurrent: options.maxStatements,
    });
  }

  record(attempt: FinalAttempt): Promise<void> {
    return this.committer.submit(attempt);
  }
}
