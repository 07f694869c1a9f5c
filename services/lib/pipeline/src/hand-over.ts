import { GroupCommitter } from '@hermod/db';
import { bundleMsgId, type JetStreamClient, publishJobs } from '@hermod/nats';
import type { LocalDeliveryJob, RoutingJob } from './jobs.js';
import { type LocalDestination, routedAtAccept } from './local-route.js';
import { subjects } from './topology.js';

/** An accepted message as the accepting service knows it after the commit. */
export interface AcceptedMessage {
  /** Set by the accepting service before the commit; a message without one waits for the sweeper. */
  spoolId?: string;
  traceContext?: Record<string, string>;
  recipients: ReadonlyArray<{ local?: LocalDestination }>;
}

interface Job<T> {
  payload: T;
  trace: Record<string, string>;
}

/** The hand-over found no nats-server to publish to; the jobs wait for the connection to come back. */
export class BusUnavailableError extends Error {
  readonly code = 'BUS_UNAVAILABLE';
  constructor() {
    super('not connected to nats-server; the jobs are published when it is back');
    this.name = 'BusUnavailableError';
  }
}

/** Jobs held for a republish at most, per subject; beyond it the spool sweeper covers them. */
const DEFAULT_MAX_WAITING = 10_000;
/** First and last delay between republish attempts while connected (JetStream may still be recovering). */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 8_000;

/**
 * Hands committed accept batches on, never throwing: messages routed at accept time go straight to
 * mda, the others to routing (each message keeps its own trace). One publish per subject is in
 * flight at a time and whatever was committed meanwhile goes out as the next ONE bundle, so under
 * load many accept batches share a queue message (fewer publishes, deliveries and acks) while a
 * lone message still leaves at once. The messages are durable already, so a failure is only
 * reported: the jobs are kept (up to maxWaiting per subject) and published again as soon as the
 * connection is back (`reconnected`), or after a short backoff when the publish failed while
 * connected. The spool sweeper remains the net for what is not kept (a crash, an overflow). A job
 * published twice is harmless: JetStream drops a bundle it has stored under the same ids within
 * its duplicate window, and routing and delivery are idempotent.
 */
export function handOverAccepted(
  js: JetStreamClient,
  onError: (error: unknown, spoolIds: string[]) => void,
  options: {
    maxBundle?: number;
    /**
     * Whether the connection has a server now. While it has none, jobs are set aside at once
     * instead of waiting for a publish timeout each.
     */
    connected?: () => boolean;
    /** Registers a listener for the connection coming back (onReconnect of @hermod/nats). */
    reconnected?: (listener: () => void) => void;
    /** Jobs kept for a republish, per subject (each a spool id and its trace: small). */
    maxWaiting?: number;
  } = {},
): (committed: AcceptedMessage[]) => void {
  const maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
  const sender = <T extends { spoolId: string }>(subject: string, prefix: string) => {
    // By spool id, so a job set aside twice is kept once.
    const waiting = new Map<string, Job<T>>();
    let retryMs = RETRY_FIRST_MS;
    let retryTimer: NodeJS.Timeout | undefined;
    const setAside = (jobs: Array<Job<T>>, error: unknown) => {
      for (const job of jobs)
        if (waiting.size < maxWaiting || waiting.has(job.payload.spoolId))
          waiting.set(job.payload.spoolId, job);
      onError(
        error,
        jobs.map((j) => j.payload.spoolId),
      );
    };
    const committer = new GroupCommitter<Job<T>>(
      async (jobs) => {
        if (options.connected && !options.connected()) {
          setAside(jobs, new BusUnavailableError());
          return;
        }
        try {
          await publishSpoolJobs(js, subject, prefix, jobs);
          retryMs = RETRY_FIRST_MS;
        } catch (error) {
          setAside(jobs, error);
          scheduleRetry();
        }
      },
      { maxBatch: options.maxBundle ?? 256, maxConcurrent: 1, sameTurn: true },
    );
    const republish = () => {
      clearTimeout(retryTimer);
      retryTimer = undefined;
      if (waiting.size === 0 || (options.connected && !options.connected())) return;
      const jobs = [...waiting.values()];
      waiting.clear();
      for (const job of jobs) void committer.submit(job);
    };
    // While disconnected the reconnect brings them out; while connected, a backoff does.
    const scheduleRetry = () => {
      if (retryTimer || (options.connected && !options.connected())) return;
      retryTimer = setTimeout(republish, retryMs);
      retryTimer.unref();
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    };
    options.reconnected?.(() => {
      retryMs = RETRY_FIRST_MS;
      republish();
    });
    return committer;
  };
  const toRouting = sender<RoutingJob>(subjects.routing, 'route');
  const toMda = sender<LocalDeliveryJob>(subjects.localDelivery, 'local');
  return (committed) => {
    for (const m of committed) {
      if (!m.spoolId) continue;
      const trace = m.traceContext ?? {};
      if (!routedAtAccept(m.recipients)) {
        void toRouting.submit({ payload: { spoolId: m.spoolId }, trace });
        continue;
      }
      const recipients = m.recipients.map((r, rcptIndex) => ({
        rcptIndex,
        accountId: r.local!.accountId,
        mailbox: r.local!.mailbox,
      }));
      void toMda.submit({ payload: { spoolId: m.spoolId, recipients }, trace });
    }
  };
}

/**
 * Publishes jobs about spool messages as ONE bundle, de-duplicated by the spool ids it carries:
 * the same batch published twice (a retried hand-over) is stored once.
 */
export function publishSpoolJobs<T extends { spoolId: string }>(
  js: JetStreamClient,
  subject: string,
  prefix: string,
  jobs: Array<Job<T>>,
): Promise<void> {
  const ids = jobs.map((j) => j.payload.spoolId);
  return publishJobs(js, subject, jobs, { msgId: bundleMsgId(prefix, ids) });
}
