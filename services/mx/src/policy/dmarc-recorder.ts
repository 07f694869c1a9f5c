import type { DmarcEvaluation } from '@hermod/dmarc-reports';
import type { Logger } from '@hermod/logging';

/**
 * Collects DMARC evaluations and writes them in batches (one statement per flush), off the reply
 * path: a report is statistics, so a failed write is logged and dropped, never a reason to refuse
 * mail. Flushes when `maxRows` are waiting or `flushMs` after the first one.
 */
export class DmarcRecorder {
  private pending: DmarcEvaluation[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** Rows dropped because the buffer was full while writes were failing or slow. */
  dropped = 0;

  constructor(
    private readonly write: (rows: DmarcEvaluation[]) => Promise<void>,
    private readonly logger: Logger,
    private readonly options = { maxRows: 200, flushMs: 1_000, maxPending: 10_000 },
  ) {}

  add(evaluation: DmarcEvaluation): void {
    if (this.pending.length >= this.options.maxPending) {
      this.dropped += 1;
      return;
    }
    this.pending.push(evaluation);
    if (this.pending.length >= this.options.maxRows) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.options.flushMs);
  }

  /** Starts writing what is pending; resolves when every write so far is done. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.pending;
    this.pending = [];
    if (rows.length > 0) {
      this.writing = this.writing.then(() =>
        this.write(rows).catch((error: unknown) =>
          this.logger.warn({ err: error, rows: rows.length }, 'DMARC evaluations not recorded'),
        ),
      );
    }
    return this.writing;
  }

  stop(): Promise<void> {
    return this.flush();
  }
}
