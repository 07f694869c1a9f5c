// Preloaded with `node --import @hermod/telemetry/register`: the only module that touches the SDK.
// Application code imports @opentelemetry/api alone. Tracing turns on when an OTLP endpoint is set.
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
// The provider is always registered, so trace ids exist for logs and flow through NATS and gRPC even
// when nothing is exported; spans leave the process only when an endpoint is configured.
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? 'hermod' }),
  spanProcessors: endpoint ? [new BatchSpanProcessor(new OTLPTraceExporter())] : [],
});
provider.register({ propagator: new W3CTraceContextPropagator() });
process.once('beforeExit', () => void provider.shutdown().catch(() => {}));
