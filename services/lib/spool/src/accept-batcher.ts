import {
  CommitOutcomeUnknownError,
  commitOutcomeUnknown,
  GroupCommitter,
  type Pool,
  withTransaction,
} from '@hermod/db';
import { type AcceptInput, insertAcceptedMessage } from './accept.js';
import { insertSmallMessages, SMALL_MESSAGE_LIMIT, type SmallAcceptInput } from './accept-batch.js';

/** An accepted message whose body can be read again (a batch that fails is retried message by message). */
export type ReplayableAccept = Omit<AcceptInput, 'body'> & { body: () => AcceptInput['body'] };

/** The whole body when it is small enough for the one-statement path, otherwise undefined. */
async function smallBody(input: ReplayableAccept): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of input.body()) {
    size += chunk.length;
    if (size > SMALL_MESSAGE_LIMIT) return undefined;
    parts.push(chunk);
  }
  return Buffer.concat(parts, size);
}

/**
 * Group commit for accepted messages (GroupCommitter): small messages (the usual case) are written
 * with one statement per batch, so a batch costs one round trip and one WAL flush; larger ones join
 * the same transaction the streaming way. A message is durable when its promise resolves; a failed
 * batch is retried message by message, the body read again (memory or temporary file).
 */
export class AcceptBatcher {
  private readonly committer: GroupCommitter<ReplayableAccept>;

  constructor(
    private readonly pool: Pool,
    private readonly options: {
      maxBatch: number;
      maxTransactions: number;
      /**
       * Called with every committed batch before its callers hear of it: where the service hands
       * the batch on (one routing job for all of it). It must not throw; the spool sweeper covers
       * a hand-over that is lost.
       */
      afterCommit?: (committed: ReplayableAccept[]) => void;
      /** Timing of each committed batch (GroupCommitter's onWrite): the wait for a write, the write. */
      onWrite?: (waited: number[], writeSeconds: number) => void;
    },
  ) {
    this.committer = new GroupCommitter((batch) => this.store(batch), {
      maxBatch: options.maxBatch,
      maxConcurrent: options.maxTransactions,
      // Messages whose DATA ended in the same turn (several connections ready at once) share a commit.
      sameTurn: true,
      ...(options.onWrite ? { onWrite: options.onWrite } : {}),
    });
  }

  accept(input: ReplayableAccept): Promise<void> {
    return this.committer.submit(input);
  }

  private async store(batch: ReplayableAccept[]): Promise<void> {
    await this.write(batch);
    this.options.afterCommit?.(batch);
  }

  private async write(batch: ReplayableAccept[]): Promise<void> {
    const small: SmallAcceptInput[] = [];
    const large: ReplayableAccept[] = [];
    for (const input of batch) {
      const body = await smallBody(input);
      if (body) small.push({ ...input, body });
      else large.push(input);
    }
    if (large.length === 0) {
      // One statement, autocommitted (synchronous_commit=on): durable when it returns; unanswered,
      // it may or may not have committed, as a COMMIT (withTransaction).
      try {
        await insertSmallMessages(this.pool, small);
      } catch (error) {
        throw commitOutcomeUnknown(error) ? new CommitOutcomeUnknownError(error) : error;
      }
      return;
    }
    await withTransaction(this.pool, async (client) => {
      await insertSmallMessages(client, small);
      for (const input of large) await insertAcceptedMessage(client, { ...input, body: input.body() });
    });
  }
}
