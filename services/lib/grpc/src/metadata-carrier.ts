import type { Metadata } from '@grpc/grpc-js';
import type { TraceCarrier } from '@hermod/telemetry';

/** Lets W3C trace context travel in gRPC metadata. */
export function metadataCarrier(metadata: Metadata): TraceCarrier {
  return {
    set: (key, value) => metadata.set(key, value),
    get: (key) => {
      const values = metadata.get(key);
      return values.length > 0 ? String(values[0]) : undefined;
    },
  };
}
