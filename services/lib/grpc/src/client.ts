import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { injectTraceHeaders } from '@hermod/telemetry';
import { metadataCarrier } from './metadata-carrier.js';

/** Adds the caller's trace context to every outgoing call's metadata. */
export const tracingClientInterceptor: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      injectTraceHeaders(metadataCarrier(metadata));
      next(metadata, listener);
    },
  });

/** A deadline ms from now, for call options. */
export function deadline(ms: number): Date {
  return new Date(Date.now() + ms);
}
