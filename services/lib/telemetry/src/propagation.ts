import {
  type Context,
  context,
  propagation,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';

/** Any string map that can carry W3C trace context: NATS headers, gRPC metadata, a JSON column. */
export interface TraceCarrier {
  set(key: string, value: string): void;
  get(key: string): string | undefined;
}

export function tracer(service: string): Tracer {
  return trace.getTracer(`hermod.${service}`);
}

/** Writes the active context's traceparent/tracestate into carrier. */
export function injectTraceHeaders(carrier: TraceCarrier, from: Context = context.active()): void {
  propagation.inject(from, carrier, {
    set: (c, key, value) => c.set(key, value),
  });
}

/** Reads a remote parent from carrier, so a consumer's span joins the producer's trace. */
export function extractTraceContext(carrier: TraceCarrier): Context {
  return propagation.extract(context.active(), carrier, {
    get: (c, key) => c.get(key),
    keys: () => ['traceparent', 'tracestate'],
  });
}

/** The trace fields of a context (the active one by default) as a plain map: a bundled job, a spool row. */
export function traceFields(from: Context = context.active()): Record<string, string> {
  const fields: Record<string, string> = {};
  injectTraceHeaders({ set: (k, v) => (fields[k] = v), get: (k) => fields[k] }, from);
  return fields;
}

/** The remote parent recorded in a plain map of trace fields (traceFields' counterpart). */
export function contextFromFields(fields: Record<string, string>): Context {
  return extractTraceContext({ get: (k) => fields[k], set: () => {} });
}

/** Runs fn inside a span, recording an exception and error status when fn throws. */
export async function withSpan<T>(
  t: Tracer,
  name: string,
  parent: Context,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return t.startActiveSpan(name, {}, parent, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
