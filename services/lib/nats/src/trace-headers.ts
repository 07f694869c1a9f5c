import type { TraceCarrier } from '@hermod/telemetry';
import type { MsgHdrs } from 'nats';

/** Lets W3C trace context travel in NATS message headers. */
export function natsHeaderCarrier(headers: MsgHdrs): TraceCarrier {
  return {
    set: (key, value) => headers.set(key, value),
    get: (key) => (headers.has(key) ? headers.get(key) : undefined),
  };
}
