import type { Logger } from '@hermod/logging';
import { TerminalReconcileError } from '../kube/errors.js';
import type { WorkQueue } from '../kube/workqueue.js';
import type { OperatorMetrics } from '../metrics.js';

export interface ReconcileResult {
  /** Reconcile again after this long even if nothing changes (rotation, DNS re-check). */
  requeueAfterMs?: number;
}

export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult>;
}

/**
 * Runs `workers` loops that take keys off the queue and reconcile them. Errors requeue with the
 * key's backoff (capped); TerminalReconcileError does not requeue (the spec must change first).
 */
export class Controller {
  constructor(
    private readonly options: {
      name: string;
      queue: WorkQueue;
      reconciler: Reconciler;
      workers: number;
      logger: Logger;
      metrics: OperatorMetrics;
    },
  ) {}

  /** Runs until signal aborts; the queue is shut down then (in-flight reconciles finish). */
  async run(signal: AbortSignal): Promise<void> {
    if (signal.aborted) this.options.queue.shutDown();
    else signal.addEventListener('abort', () => this.options.queue.shutDown(), { once: true });
    const workers = Array.from({ length: this.options.workers }, () => this.worker(signal));
    await Promise.all(workers);
  }

  private async worker(signal: AbortSignal): Promise<void> {
    const { queue, reconciler, logger, metrics, name } = this.options;
    for (;;) {
      const key = await queue.get();
      if (key === undefined || signal.aborted) return;
      const end = metrics.reconcileDuration.startTimer({ controller: name });
      try {
        const result = await reconciler.reconcile(key);
        queue.forget(key);
        if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
        metrics.reconciles.inc({
          controller: name,
          result: result.requeueAfterMs !== undefined ? 'requeue' : 'success',
        });
      } catch (error) {
        metrics.reconciles.inc({ controller: name, result: 'error' });
        metrics.reconcileErrors.inc({ controller: name });
        if (error instanceof TerminalReconcileError) {
          queue.forget(key);
          logger.warn(
            { key, reason: error.reason, err: error },
            'reconcile failed permanently; waiting for a spec change',
          );
        } else {
          const retryInMs = queue.addRateLimited(key);
          logger.warn(
            { key, err: error, retryInMs, attempt: queue.numRequeues(key) },
            'reconcile failed; will retry',
          );
        }
      } finally {
        end();
        queue.done(key);
      }
    }
  }
}
