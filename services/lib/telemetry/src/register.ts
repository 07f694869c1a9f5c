// Preloaded with `node --import @hermod/telemetry/register`: the only module that touches the SDK.
// Application code imports @opentelemetry/api alone. Tracing turns on when an OTLP endpoint is set.
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
} from '@opentelemetry/sdk-trace-node';

/** hermod-msa, hermod-routing, ...: from the entry script (services/<name>/src/main.ts). */
function serviceFromEntry(): string {
  const name = /services\/([a-z-]+)\/src\/main\.[jt]s$/.exec(process.argv[1] ?? '')?.[1];
  return name ? `hermod-${name}` : 'hermod';
}

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
// The provider is always registered, so trace ids exist for logs and flow through NATS and gRPC even
// when nothing is exported; spans leave the process only when an endpoint is configured. Without
// one, spans are not recorded at all (they still carry ids), which saves their bookkeeping on every
// message. With one, a span is recorded even when an upstream service did not record its parent.
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? serviceFromEntry() }),
  sampler: endpoint
    ? new ParentBasedSampler({ root: new AlwaysOnSampler(), remoteParentNotSampled: new AlwaysOnSampler() })
    : new AlwaysOffSampler(),
  spanProcessors: endpoint ? [new BatchSpanProcessor(new OTLPTraceExporter())] : [],
});
provider.register({ propagator: new W3CTraceContextPropagator() });
process.once('beforeExit', () => void provider.shutdown().catch(() => {}));
