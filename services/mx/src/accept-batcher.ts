import { type Pool, withTransaction } from '@hermod/db';
import { type AcceptInput, insertAcceptedMessage } from '@hermod/spool';

/** An accepted message whose body can be read again (a batch that fails is retried message by message). */
export type ReplayableAccept = Omit<AcceptInput, 'body'> & { body: () => AcceptInput['body'] };

const once = (input: ReplayableAccept): AcceptInput => ({ ...input, body: input.body() });

interface Waiting {
  input: ReplayableAccept;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for accepted messages: while a few transactions are in flight, messages that reach
 * end of DATA queue up and the next transaction takes all of them, so one WAL flush makes a whole
 * batch durable. Nothing waits on a timer: a lone message is committed at once. Every caller's
 * promise settles only after the commit that holds its message; a failed batch is retried one
 * message at a time, so one bad message never fails the others.
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

  private async commit(batch: Waiting[]): Promise<void> {
    try {
      await withTransaction(this.pool, async (client) => {
        for (const w of batch) await insertAcceptedMessage(client, once(w.input));
      });
      for (const w of batch) w.resolve();
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // Each message on its own, its body read again (memory or temporary file).
      await Promise.all(
        batch.map((w) =>
          withTransaction(this.pool, (client) => insertAcceptedMessage(client, once(w.input))).then(
            () => w.resolve(),
            (e: unknown) => w.reject(e),
          ),
        ),
      );
    }
  }
}
