import { bundleMsgId, type JetStreamClient, publishJobs } from '@hermod/nats';
import { subjects } from './topology.js';

/** An accepted message as the accepting service knows it after the commit. */
export interface AcceptedMessage {
  /** Set by the accepting service before the commit; a message without one waits for the sweeper. */
  spoolId?: string;
  traceContext?: Record<string, string>;
}

/**
 * Hands a committed accept batch to routing as ONE bundled job (each message keeps its own
 * trace). Never throws: the messages are durable already and the spool sweeper republishes any
 * message whose routing job was lost, so a failure is only reported.
 */
export function publishRoutingJobs(
  js: JetStreamClient,
  onError: (error: unknown, spoolIds: string[]) => void,
): (committed: AcceptedMessage[]) => void {
  return (committed) => {
    const jobs = committed.flatMap((m) =>
      m.spoolId ? [{ payload: { spoolId: m.spoolId }, trace: m.traceContext ?? {} }] : [],
    );
    if (jobs.length === 0) return;
    const ids = jobs.map((j) => j.payload.spoolId);
    publishJobs(js, subjects.routing, jobs, { msgId: bundleMsgId('route', ids) }).catch((error: unknown) =>
      onError(error, ids),
    );
  };
}
