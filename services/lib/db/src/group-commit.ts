import { performance } from 'node:perf_hooks';
import { isTransientDatabaseError } from './errors.js';

interface Waiting<T> {
  item: T;
  /** performance.now() when submitted, when the write is timed (onWrite). */
  at: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: while up to `maxConcurrent` writes are in flight, new items queue up and the next
 * write takes up to `maxBatch` of them at once, so a burst costs one round trip and one WAL flush
 * per batch. Nothing waits on a timer: a lone item is written at once, or with `sameTurn` at the end
 * of the event loop's current turn (setImmediate), so items submitted while the loop handles the
 * sockets that were ready together share the first write too. Each caller's promise settles only
 * after the write that holds its item; a failed batch is retried one item at a time, so one bad
 * item never fails the others. A batch that failed for the database (lost, not answering, or a
 * commit whose outcome is unknown) is not retried: every item gets the error, as the retries would
 * fail alike, and an item the unanswered commit may have written must not be written again.
 */
export class GroupCommitter<T> {
  private readonly queue: Waiting<T>[] = [];
  private inFlight = 0;
  private pumpScheduled = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly options: {
      maxBatch: number;
      maxConcurrent: number;
      /**
       * A free write slot starts its write at the end of the current event-loop turn instead of at
       * once: under load a server's end-of-message callbacks for several connections run in one
       * turn, and then share one write (one round trip, one WAL flush) instead of one each.
       */
      sameTurn?: boolean;
      /**
       * Timing of each write that succeeded: how long its items had waited for it to start (seconds,
       * one per item) and how long the write took.
       */
      onWrite?: (waited: number[], writeSeconds: number) => void;
    },
  ) {}

  submit(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, at: this.options.onWrite ? performance.now() : 0, resolve, reject });
      if (!this.options.sameTurn) this.pump();
      else if (!this.pumpScheduled) {
        this.pumpScheduled = true;
        setImmediate(() => {
          this.pumpScheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async commit(batch: Waiting<T>[]): Promise<void> {
    try {
      const started = this.options.onWrite ? performance.now() : 0;
      await this.write(batch.map((w) => w.item));
      this.options.onWrite?.(
        batch.map((w) => (started - w.at) / 1000),
        (performance.now() - started) / 1000,
      );
      for (const w of batch) w.resolve();
    } catch (error) {
      if (batch.length === 1 || isTransientDatabaseError(error)) {
        for (const w of batch) w.reject(error);
        return;
      }
      await Promise.all(batch.map((w) => this.write([w.item]).then(w.resolve, w.reject)));
    }
  }
}
