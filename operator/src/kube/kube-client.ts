import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import { KubeApiError, WatchStalledError } from './errors.js';
import { type KubeCredentials, loadKubeCredentials } from './kube-credentials.js';

export type Query = Record<string, string | number | boolean | undefined>;

/** Called after every API request, for metrics ("API requests per reconcile"). */
export type RequestObserver = (event: {
  verb: string;
  resource: string;
  statusCode: number;
  durationMs: number;
}) => void;

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

export const contentTypes = {
  json: 'application/json',
  apply: 'application/apply-patch+yaml',
  jsonPatch: 'application/json-patch+json',
  mergePatch: 'application/merge-patch+json',
} as const;

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/**
 * The "resource" of a path for metrics: /apis/g/v/namespaces/ns/maildomains/x/status -> maildomains/status.
 */
export function resourceOf(path: string): string {
  const parts = path.split('?')[0]?.split('/').filter(Boolean) ?? [];
  let i = parts[0] === 'api' ? 2 : 3;
  if (parts[i] === 'namespaces' && parts.length > i + 2) i += 2;
  const resource = parts[i] ?? 'unknown';
  const sub = parts[i + 2];
  return sub ? `${resource}/${sub}` : resource;
}

/**
 * A small typed client for the Kubernetes REST API: requests share one keep-alive agent, every
 * request is reported to the observer (metrics), and errors carry the API's Status reason.
 */
export class KubeClient {
  private readonly agent: HttpAgent;
  private readonly secure: boolean;
  readonly server: string;
  /** Set when a request could not reach the API server (no answer, or 5xx) until one gets an answer. */
  private unreachable = false;
  private readonly reachableListeners = new Set<() => void>();
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly credentials: KubeCredentials,
    private readonly observer: RequestObserver = () => {},
  ) {
    this.server = credentials.server;
    this.secure = this.server.startsWith('https:');
    this.agent = this.secure
      ? new HttpsAgent({ keepAlive: true, maxSockets: 64, ...credentials.tls })
      : new HttpAgent({ keepAlive: true, maxSockets: 64 });
  }

  /** From a kubeconfig file, or (no path) KUBECONFIG, the in-cluster service account, ~/.kube/config. */
  static async load(kubeconfigPath?: string, observer?: RequestObserver): Promise<KubeClient> {
    return new KubeClient(await loadKubeCredentials(kubeconfigPath), observer);
  }

  /**
   * listener runs each time the API server answers again after it could not be reached (say it
   * restarted). While it cannot be reached and someone listens, /readyz is probed every
   * probeIntervalMs, so waiters learn of its return without waiting out their own backoff.
   * Returns the unsubscribe function.
   */
  onReachable(listener: () => void): () => void {
    this.reachableListeners.add(listener);
    if (this.unreachable) this.probe();
    return () => this.reachableListeners.delete(listener);
  }

  probeIntervalMs = 1_000;

  /** When the API server last became reachable again after being away (0: never away). */
  recoveredAt = 0;

  /**
   * Bookkeeping of reachability: no answer, 5xx or 429 (a server starting up answers "storage is
   * initializing") mark the API server away; a 2xx answer, and /readyz answering 200 to the
   * probe, mark it back. Other 4xx (a 403 while its RBAC caches warm up) say nothing either way.
   */
  private noteAnswer(statusCode: number): void {
    if (statusCode === 0 || statusCode >= 500 || statusCode === 429) {
      this.unreachable = true;
      this.probe();
      return;
    }
    if (!this.unreachable || statusCode < 200 || statusCode >= 300) {
      if (this.unreachable) this.probe();
      return;
    }
    this.unreachable = false;
    this.recoveredAt = Date.now();
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    for (const listener of [...this.reachableListeners]) listener();
  }

  private probe(): void {
    if (this.probeTimer || this.closed || this.reachableListeners.size === 0) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      // The request's own bookkeeping (noteAnswer) ends or continues the probing.
      this.request('GET', '/readyz', { verb: 'probe', timeoutMs: 2_000 }).catch(() => {});
    }, this.probeIntervalMs);
    this.probeTimer.unref();
  }

  private url(path: string, query: Query = {}): URL {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }

  private async open(
    method: string,
    url: URL,
    body: string | undefined,
    contentType: string | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = {
      ...(await this.credentials.headers()),
      accept: 'application/json',
    };
    if (body !== undefined) {
      headers['content-type'] = contentType ?? contentTypes.json;
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const send = this.secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        { method, headers, agent: this.agent, timeout: timeoutMs, ...(signal ? { signal } : {}) },
        resolve,
      );
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${url.pathname}: no answer in ${timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    options: { query?: Query; body?: unknown; contentType?: string; timeoutMs?: number; verb?: string } = {},
  ): Promise<T> {
    const started = Date.now();
    const verb = options.verb ?? (method === 'GET' ? 'get' : method.toLowerCase());
    let statusCode = 0;
    try {
      const res = await this.open(
        method,
        this.url(path, options.query),
        options.body === undefined ? undefined : JSON.stringify(options.body),
        options.contentType,
        options.timeoutMs ?? 30_000,
      );
      statusCode = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = text;
      }
      if (statusCode < 200 || statusCode >= 300) throw apiError(statusCode, parsed, method, path);
      return parsed as T;
    } finally {
      this.noteAnswer(statusCode);
      this.observer({ verb, resource: resourceOf(path), statusCode, durationMs: Date.now() - started });
    }
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, query ? { query } : {});
  }

  list<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { verb: 'list', ...(query ? { query } : {}) });
  }

  /** GET that answers undefined for 404. */
  async getOptional<T>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) return undefined;
      throw error;
    }
  }

  /** Server-side apply with a named field manager. */
  apply<T>(path: string, object: unknown, fieldManager: string, force = true): Promise<T> {
    return this.request<T>('PATCH', path, {
      query: { fieldManager, force },
      body: object,
      contentType: contentTypes.apply,
    });
  }

  jsonPatch<T>(path: string, ops: JsonPatchOp[], fieldManager: string): Promise<T> {
    return this.request<T>('PATCH', path, {
      query: { fieldManager },
      body: ops,
      contentType: contentTypes.jsonPatch,
    });
  }

  create<T>(path: string, object: unknown, fieldManager: string): Promise<T> {
    return this.request<T>('POST', path, { query: { fieldManager }, body: object });
  }

  replace<T>(path: string, object: unknown, fieldManager: string): Promise<T> {
    return this.request<T>('PUT', path, { query: { fieldManager }, body: object });
  }

  /** DELETE that treats 404 as done (deletion is idempotent). */
  async delete(path: string, options: { preconditionUid?: string } = {}): Promise<boolean> {
    try {
      await this.request('DELETE', path, {
        ...(options.preconditionUid
          ? {
              body: {
                kind: 'DeleteOptions',
                apiVersion: 'v1',
                preconditions: { uid: options.preconditionUid },
              },
            }
          : {}),
      });
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.notFound) return false;
      throw error;
    }
  }

  /**
   * One watch request: calls onEvent per event until the server ends the stream (resolve), the
   * signal aborts (resolve), the server sends an ERROR event (reject with its status, 410 included),
   * or nothing at all arrives for idleMs (reject with WatchStalledError: a silently dead stream).
   */
  async watch(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
    idleMs: number,
  ): Promise<void> {
    const started = Date.now();
    const url = this.url(path, { ...query, watch: 1, allowWatchBookmarks: true });
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal.addEventListener('abort', abort, { once: true });
    let statusCode = 0;
    try {
      const res = await this.open('GET', url, undefined, undefined, idleMs, controller.signal);
      statusCode = res.statusCode ?? 0;
      this.noteAnswer(statusCode);
      this.observer({
        verb: 'watch',
        resource: resourceOf(path),
        statusCode,
        durationMs: Date.now() - started,
      });
      if (statusCode !== 200) {
        const chunks: Buffer[] = [];
        for await (const chunk of res) chunks.push(chunk as Buffer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        throw apiError(statusCode, parsed, 'WATCH', path);
      }
      let idleTimer: NodeJS.Timeout | undefined;
      let stalled = false;
      const armIdle = () => {
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          stalled = true;
          res.destroy();
        }, idleMs);
      };
      armIdle();
      try {
        const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
        for await (const line of lines) {
          armIdle();
          if (!line.trim()) continue;
          const event = JSON.parse(line) as WatchEvent;
          if (event.type === 'ERROR') {
            const status = event.object as { code?: number; reason?: string; message?: string };
            throw new KubeApiError(
              status.code ?? 500,
              status.reason ?? 'Error',
              status.message ?? 'watch error',
              'WATCH',
              path,
            );
          }
          onEvent(event);
        }
      } catch (error) {
        if (stalled) throw new WatchStalledError(path, idleMs);
        if (signal.aborted) return;
        throw error;
      } finally {
        clearTimeout(idleTimer);
      }
      if (stalled) throw new WatchStalledError(path, idleMs);
    } catch (error) {
      if (signal.aborted) return;
      if (statusCode === 0) this.noteAnswer(0);
      throw error;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
    this.agent.destroy();
  }
}

function apiError(statusCode: number, body: unknown, method: string, path: string): KubeApiError {
  const status = (typeof body === 'object' && body !== null ? body : {}) as {
    reason?: string;
    message?: string;
  };
  return new KubeApiError(
    statusCode,
    status.reason ?? 'Unknown',
    status.message ?? JSON.stringify(body ?? ''),
    method,
    path,
  );
}
