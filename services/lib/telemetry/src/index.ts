export {
  contextFromFields,
  extractTraceContext,
  injectTraceHeaders,
  type TraceCarrier,
  traceFields,
  tracer,
  withSpan,
} from './propagation.js';
