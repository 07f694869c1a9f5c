import type { Logger } from '@hermod/logging';
import { KubeApiError } from './errors.js';
import type { KubeClient, Query, WatchEvent } from './kube-client.js';
import { sleep } from './sleep.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

interface ListResponse {
  metadata: { resourceVersion: string; continue?: string };
  items: KubeObject[];
}

export const objectKey = (o: { metadata: { name: string; namespace?: string } }): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

export interface InformerOptions {
  client: KubeClient;
  /** Collection path, e.g. /apis/mail.hermod.dev/v1alpha1/maildomains or .../namespaces/x/maildomains. */
  path: string;
  /** Kind and apiVersion to stamp on listed items (lists omit them per item). */
  kind: string;
  apiVersion: string;
  labelSelector?: string;
  logger: Logger;
  /** Full relist at least this often, whatever the watch says (default 10 min). */
  relistIntervalMs?: number;
  /** Server-side watch timeout (default 5 min, jittered). */
  watchTimeoutSeconds?: number;
  /** A watch that delivers nothing for this long is presumed dead (default watch timeout + 30 s). */
  idleMs?: number;
  onRelist?: (reason: string) => void;
  onWatchRestart?: (reason: string) => void;
}

export type ChangeHandler = (
  key: string,
  current: KubeObject | undefined,
  previous: KubeObject | undefined,
) => void;

/**
 * List, then watch from the list's resourceVersion, keeping a cache. Recovers on its own from
 * everything that ends a watch: the server's timeout, a closed connection (API server restart), a
 * stream that went silent, and 410 Gone (resourceVersion too old: relist, and report objects that
 * disappeared meanwhile as deleted). Relists periodically as a safety net.
 */
export class Informer {
  private readonly cache = new Map<string, KubeObject>();
  private readonly handlers: ChangeHandler[] = [];
  private resourceVersion: string | undefined;
  private needList = true;
  private lastList = 0;
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private stopController = new AbortController();
  private watchController: AbortController | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;

  constructor(private readonly options: InformerOptions) {}

  onChange(handler: ChangeHandler): void {
    this.handlers.push(handler);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(key: string): KubeObject | undefined {
    return this.cache.get(key);
  }

  list(): KubeObject[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    this.watchController?.abort();
    await this.running;
  }

  /**
   * Ends the current watch; the next one starts from resourceVersion when given (tests use a
   * long-gone version to provoke 410 Gone), else from the last one seen.
   */
  restartWatch(resourceVersion?: string): void {
    if (resourceVersion !== undefined) this.resourceVersion = resourceVersion;
    this.watchController?.abort();
  }

  private emit(key: string, current: KubeObject | undefined, previous: KubeObject | undefined): void {
    for (const handler of this.handlers) {
      try {
        handler(key, current, previous);
      } catch (error) {
        this.options.logger.error({ err: error, key }, 'informer handler failed');
      }
    }
  }

  private async relist(): Promise<void> {
    const items: KubeObject[] = [];
    let resourceVersion = '';
    let cont: string | undefined;
    do {
      const query: Query = { limit: 500, continue: cont, labelSelector: this.options.labelSelector };
      const page = await this.options.client.list<ListResponse>(this.options.path, query);
      for (const item of page.items)
        items.push({ apiVersion: this.options.apiVersion, kind: this.options.kind, ...item });
      resourceVersion = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const previous = this.cache.get(key);
      this.cache.set(key, item);
      if (!previous || previous.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.emit(key, item, previous);
    }
    // Whatever vanished while we were not watching was deleted: nothing missed.
    for (const [key, previous] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit(key, undefined, previous);
      }
    }
    this.resourceVersion = resourceVersion;
    this.needList = false;
    this.lastList = Date.now();
    this.failures = 0;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private apply(event: WatchEvent): void {
    const object = {
      apiVersion: this.options.apiVersion,
      kind: this.options.kind,
      ...event.object,
    } as KubeObject;
    if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
    if (event.type === 'BOOKMARK') return;
    const key = objectKey(object);
    const previous = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.emit(key, undefined, previous ?? object);
    } else {
      this.cache.set(key, object);
      this.emit(key, object, previous);
    }
  }

  private async loop(): Promise<void> {
    const { logger } = this.options;
    const stop = this.stopController.signal;
    const relistInterval = this.options.relistIntervalMs ?? 10 * 60_000;
    let attemptAt = Date.now();
    while (!stop.aborted) {
      attemptAt = Date.now();
      try {
        if (this.needList || Date.now() - this.lastList > relistInterval) {
          const reason = this.needList ? (this.synced ? 'expired' : 'initial') : 'periodic';
          this.options.onRelist?.(reason);
          await this.relist();
        }
        const timeout = this.options.watchTimeoutSeconds ?? 300;
        const jittered = Math.round(timeout * (1 + Math.random() * 0.2));
        this.watchController = new AbortController();
        const signal = AbortSignal.any([stop, this.watchController.signal]);
        await this.options.client.watch(
          this.options.path,
          {
            resourceVersion: this.resourceVersion,
            timeoutSeconds: jittered,
            labelSelector: this.options.labelSelector,
          },
          (event) => {
            this.failures = 0;
            this.apply(event);
          },
          signal,
          this.options.idleMs ?? (jittered + 30) * 1000,
        );
        if (!stop.aborted) this.options.onWatchRestart?.('closed');
      } catch (error) {
        if (stop.aborted) break;
        if (error instanceof KubeApiError && error.gone) {
          logger.info({ path: this.options.path }, 'watch expired (410 Gone); relisting');
          this.needList = true;
          this.options.onWatchRestart?.('gone');
          continue;
        }
        // The API server came back while this attempt was under way: start the backoff afresh.
        if (this.options.client.recoveredAt >= attemptAt) this.failures = 0;
        this.failures += 1;
        const delay = Math.min(30_000, 200 * 2 ** Math.min(this.failures, 8)) * (0.8 + Math.random() * 0.4);
        logger.warn(
          { err: error, path: this.options.path, retryInMs: Math.round(delay) },
          'watch failed; retrying',
        );
        this.options.onWatchRestart?.('error');
        // The API server answering again (say after a restart) ends the wait and the backoff.
        const back = new AbortController();
        const unsubscribe = this.options.client.onReachable(() => back.abort());
        try {
          await sleep(delay, AbortSignal.any([stop, back.signal]));
        } finally {
          unsubscribe();
        }
        if (back.signal.aborted) this.failures = 0;
      }
    }
  }
}
