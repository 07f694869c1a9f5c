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
 * Hands a committed accept batch on, never throwing: messages routed at accept time go straight
 * to mda as ONE local-delivery bundle, the others to routing as ONE routing bundle (each message
 * keeps its own trace). The messages are durable already and the spool sweeper publishes again any
 * job that was lost, so a failure is only reported.
 */
export function handOverAccepted(
  js: JetStreamClient,
  onError: (error: unknown, spoolIds: string[]) => void,
): (committed: AcceptedMessage[]) => void {
  return (committed) => {
    const toRoute: Array<Job<RoutingJob>> = [];
    const toDeliver: Array<Job<LocalDeliveryJob>> = [];
    for (const m of committed) {
      if (!m.spoolId) continue;
      const trace = m.traceContext ?? {};
      if (!routedAtAccept(m.recipients)) {
        toRoute.push({ payload: { spoolId: m.spoolId }, trace });
        continue;
      }
      const recipients = m.recipients.map((r, rcptIndex) => ({
        rcptIndex,
        accountId: r.local!.accountId,
        mailbox: r.local!.mailbox,
      }));
      toDeliver.push({ payload: { spoolId: m.spoolId, recipients }, trace });
    }
    const send = <T extends { spoolId: string }>(subject: string, prefix: string, jobs: Array<Job<T>>) => {
      if (jobs.length === 0) return;
      publishSpoolJobs(js, subject, prefix, jobs).catch((error: unknown) =>
        onError(
          error,
          jobs.map((j) => j.payload.spoolId),
        ),
      );
    };
    send(subjects.routing, 'route', toRoute);
    send(subjects.localDelivery, 'local', toDeliver);
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
