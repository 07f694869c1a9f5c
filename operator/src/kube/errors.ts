/** A non-2xx answer from the API server, with the Status object's reason and message. */
export class KubeApiError extends Error {
  readonly code = 'KUBE_API_ERROR';
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path}: ${statusCode} ${reason}: ${message}`);
    this.name = 'KubeApiError';
  }

  get notFound(): boolean {
    return this.statusCode === 404;
  }

  /** Optimistic-concurrency loss (resourceVersion changed, or a JSON-patch test failed). */
  get conflict(): boolean {
    return this.statusCode === 409 || (this.statusCode === 422 && /test operation/i.test(this.message));
  }

  /** The resourceVersion asked for is older than etcd keeps: relist. */
  get gone(): boolean {
    return this.statusCode === 410;
  }
}

/** A watch stream that delivered nothing (not even a bookmark) for too long: restarted by the informer. */
export class WatchStalledError extends Error {
  readonly code = 'WATCH_STALLED';
  constructor(
    readonly path: string,
    readonly idleMs: number,
  ) {
    super(`watch on ${path} silent for ${idleMs} ms`);
    this.name = 'WatchStalledError';
  }
}

/** A spec the API server accepted but that cannot be converged (no retry until the spec changes). */
export class TerminalReconcileError extends Error {
  readonly code = 'TERMINAL';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'TerminalReconcileError';
  }
}
