export {
  extractTraceContext,
  injectTraceHeaders,
  type TraceCarrier,
  tracer,
  withSpan,
} from './propagation.js';
