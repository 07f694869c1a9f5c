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

/** The hand-over found no nats-server to publish to; the jobs are left to the spool sweeper. */
export class BusUnavailableError extends Error {
  readonly code = 'BUS_UNAVAILABLE';
  constructor() {
    super('not connected to nats-server; the spool sweeper publishes the jobs later');
    this.name = 'BusUnavailableError';
  }
}

/**
 * Hands committed accept batches on, never throwing: messages routed at accept time go straight to
 * mda, the others to routing (each message keeps its own trace). One publish per subject is in
 * flight at a time and whatever was committed meanwhile goes out as the next ONE bundle, so under
 * load many accept batches share a queue message (fewer publishes, deliveries and acks) while a
 * lone message still leaves at once. The messages are durable already and the spool sweeper
 * publishes again any job that was lost, so a failure is only reported.
 */
export function handOverAccepted(
  js: JetStreamClient,
  onError: (error: unknown, spoolIds: string[]) => void,
  options: {
    maxBundle?: number;
    /**
     * Whether the connection has a server now. While it has none, jobs are reported at once
     * instead of waiting for a publish timeout each: memory stays flat through a long outage and
     * the sweeper publishes them once the bus is back.
     */
    connected?: () => boolean;
  } = {},
): (committed: AcceptedMessage[]) => void {
  const sender = <T extends { spoolId: string }>(subject: string, prefix: string) =>
    new GroupCommitter<Job<T>>(
      async (jobs) => {
        const ids = () => jobs.map((j) => j.payload.spoolId);
        if (options.connected && !options.connected()) {
          onError(new BusUnavailableError(), ids());
          return;
        }
        await publishSpoolJobs(js, subject, prefix, jobs).catch((error: unknown) => onError(error, ids()));
      },
      { maxBatch: options.maxBundle ?? 256, maxConcurrent: 1, sameTurn: true },
    );
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
