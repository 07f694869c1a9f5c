import { type Pool, withTransaction } from '@hermod/db';
import { type AcceptInput, insertAcceptedMessage } from './accept.js';
import { insertSmallMessages, SMALL_MESSAGE_LIMIT, type SmallAcceptInput } from './accept-batch.js';

/** An accepted message whose body can be read again (a batch that fails is retried message by message). */
export type ReplayableAccept = Omit<AcceptInput, 'body'> & { body: () => AcceptInput['body'] };

interface Waiting {
  input: ReplayableAccept;
  resolve: () => void;
  reject: (error: unknown) => void;
}

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
 * Group commit for accepted messages: while a few commits are in flight, messages that reach end
 * of DATA queue up and the next commit takes all of them. Small messages (the usual case) are
 * written with one statement per batch, so a batch costs one round trip and one WAL flush; larger
 * ones join the same transaction the streaming way. Nothing waits on a timer: a lone message is
 * committed at once. Every caller's promise settles only after the commit that holds its message;
 * a failed batch is retried one message at a time, so one bad message never fails the others.
 */
export class AcceptBatcher {
  private readonly queue: Waiting[] = [];
  private inFlight = 0;

  constructor(
    private readonly pool: Pool,
    private readonly options: { maxBatch: number; maxTransactions: number },
  ) {}

  accept(input: ReplayableAccept): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxTransactions && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async store(batch: Waiting[]): Promise<void> {
    const small: SmallAcceptInput[] = [];
    const large: ReplayableAccept[] = [];
    for (const w of batch) {
      const body = await smallBody(w.input);
      if (body) small.push({ ...w.input, body });
      else large.push(w.input);
    }
    if (large.length === 0) {
      // One statement, autocommitted (synchronous_commit=on): durable when it returns.
      await insertSmallMessages(this.pool, small);
      return;
    }
    await withTransaction(this.pool, async (client) => {
      await insertSmallMessages(client, small);
      for (const input of large) await insertAcceptedMessage(client, { ...input, body: input.body() });
    });
  }

  private async commit(batch: Waiting[]): Promise<void> {
    try {
      await this.store(batch);
      for (const w of batch) w.resolve();
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // Each message on its own, its body read again (memory or temporary file).
      await Promise.all(batch.map((w) => this.store([w]).then(w.resolve, w.reject)));
    }
  }
}
