export { injectTraceHeaders, extractTraceContext, tracer, withSpan, type TraceCarrier } from './propagation.js';
