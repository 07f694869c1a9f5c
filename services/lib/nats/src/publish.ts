import { injectTraceHeaders } from '@hermod/telemetry';
import { headers, type JetStreamClient } from 'nats';
import { natsHeaderCarrier } from './trace-headers.js';

export interface PublishOptions {
  /** JetStream de-duplicates a repeated id within the stream's duplicate window. */
  msgId?: string;
  timeoutMs?: number;
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
  await js.publish(subject, Buffer.from(JSON.stringify(payload)), {
    headers: h,
    timeout: options.timeoutMs ?? 5_000,
    ...(options.msgId ? { msgID: options.msgId } : {}),
  });
}
