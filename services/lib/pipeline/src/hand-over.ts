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
  maxBundle = 256,
): (committed: AcceptedMessage[]) => void {
  const sender = <T extends { spoolId: string }>(subject: string, prefix: string) =>
    new GroupCommitter<Job<T>>(
      (jobs) =>
        publishSpoolJobs(js, subject, prefix, jobs).catch((error: unknown) =>
          onError(
            error,
            jobs.map((j) => j.payload.spoolId),
          ),
        ),
      { maxBatch: maxBundle, maxConcurrent: 1 },
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
