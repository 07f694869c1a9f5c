import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from '@hermod/logging';
import { healthV1 } from '@hermod/proto';
import { extractTraceContext, tracer, withSpan } from '@hermod/telemetry';
import { metadataCarrier } from './metadata-carrier.js';

export interface GrpcServiceRegistration {
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface GrpcServerHandle {
  port: number;
  setServing(serving: boolean): void;
  /** Stops taking calls; in-flight calls finish within graceMs, then the rest are cancelled. */
  stop(graceMs: number): Promise<void>;
}

type UnaryHandler = (
  call: { request: unknown; metadata: Metadata },
  callback: (error: { code: number; message: string } | null, value?: unknown) => void,
) => void;

/** Wraps unary handlers so each call runs in a span joined to the caller's trace and errors are logged. */
function instrument(
  service: string,
  impl: UntypedServiceImplementation,
  logger: Logger,
): UntypedServiceImplementation {
  const t = tracer(service);
  const wrapped: UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(impl)) {
    const unary = handler as unknown as UnaryHandler;
    wrapped[method] = ((call, callback) => {
      const parent = extractTraceContext(metadataCarrier(call.metadata));
      void withSpan(t, `${service}/${method}`, parent, async () => {
        await new Promise<void>((resolve) => {
          unary(call, (error, value) => {
            if (error) logger.warn({ method, err: error.message }, 'grpc call failed');
            callback(error, value);
            resolve();
          });
        });
      }).catch((error: unknown) => {
        logger.error({ method, err: error }, 'grpc handler threw');
        callback({ code: status.INTERNAL, message: 'internal error' });
      });
    }) as UnaryHandler as unknown as UntypedServiceImplementation[string];
  }
  return wrapped;
}

/** Starts a gRPC server with the standard health service next to the given services. */
export async function startGrpcServer(options: {
  host: string;
  port: number;
  services: GrpcServiceRegistration[];
  logger: Logger;
}): Promise<GrpcServerHandle> {
  const server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  let serving = true;
  const healthStatus = () =>
    serving
      ? healthV1.HealthCheckResponse_ServingStatus.SERVING
      : healthV1.HealthCheckResponse_ServingStatus.NOT_SERVING;
  const health: healthV1.HealthServer = {
    check: (_call, callback) => callback(null, { status: healthStatus() }),
    watch: (call) => {
      call.write({ status: healthStatus() });
      call.end();
    },
  };
  server.addService(healthV1.HealthService, health);
  for (const s of options.services)
    server.addService(s.definition, instrument(s.name, s.implementation, options.logger));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    port,
    setServing: (value) => {
      serving = value;
    },
    stop: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
