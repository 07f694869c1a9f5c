import { createHash } from 'node:crypto';
import { injectTraceHeaders } from '@hermod/telemetry';
import { headers, type JetStreamClient, type MsgHdrs } from 'nats';
import { natsHeaderCarrier } from './trace-headers.js';

export interface PublishOptions {
  /** JetStream de-duplicates a repeated id within the stream's duplicate window. */
  msgId?: string;
  timeoutMs?: number;
}

/**
 * Header of a queue message that carries several jobs (publishJobs); its value is the number of
 * jobs. A message without it is one job.
 */
export const JOB_BUNDLE_HEADER = 'Hermod-Jobs';

/** One entry of a job bundle: the job and the W3C trace fields of the message it is about. */
export interface BundledJob {
  payload: unknown;
  trace: Record<string, string>;
}

/** Publishes a JSON job to a JetStream subject with the active trace context in its headers. */
export async function publishJob(
  js: JetStreamClient,
  subject: string,
  payload: unknown,
  options: PublishOptions = {},
): Promise<void> {
  const h = headers();
  injectTraceHeaders(natsHeaderCarrier(h));
  await publish(js, subject, payload, h, options);
}

/**
 * Publishes several jobs as ONE queue message (a bundle), each with its own trace: a publish, a
 * delivery and an acknowledgement per batch instead of per job. consumeJobs hands the jobs to the
 * handler one by one and acknowledges the bundle once every job in it is finished, so handlers
 * must be idempotent per job (a bundle with one job to retry comes back whole).
 */
export async function publishJobs(
  js: JetStreamClient,
  subject: string,
  jobs: BundledJob[],
  options: PublishOptions = {},
): Promise<void> {
  if (jobs.length === 0) return;
  const h = headers();
  h.set(JOB_BUNDLE_HEADER, String(jobs.length));
  await publish(js, subject, jobs, h, options);
}

function publish(js: JetStreamClient, subject: string, body: unknown, h: MsgHdrs, options: PublishOptions) {
  return js.publish(subject, Buffer.from(JSON.stringify(body)), {
    headers: h,
    timeout: options.timeoutMs ?? 5_000,
    ...(options.msgId ? { msgID: options.msgId } : {}),
  });
}

/** A de-duplication id for a bundle: the same jobs (by key, in order) give the same id. */
export function bundleMsgId(prefix: string, keys: string[]): string {
  return `${prefix}-${createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 32)}`;
}
