import { ConfigError } from '@hermod/config';
import { createPool, migrate, type Pool } from '@hermod/db';
import { createLogger, type Logger } from '@hermod/logging';
import { connectNats } from '@hermod/nats';
import { setupPipeline } from '@hermod/pipeline';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import type { Registry } from 'prom-client';
import { createMetricsRegistry } from './metrics.js';
import { type OpsServer, type ReadinessCheck, startOpsServer } from './ops-server.js';
import { ShutdownCoordinator } from './shutdown.js';

export interface BaseConfig {
  LOG_LEVEL: string;
  OPS_HOST: string;
  OPS_PORT: number;
  SHUTDOWN_GRACE_MS: number;
}

/** The pieces every service has: logger, metrics, readiness checks, ordered shutdown, ops endpoint. */
export interface ServiceBase {
  name: string;
  logger: Logger;
  registry: Registry;
  shutdown: ShutdownCoordinator;
  readiness: ReadinessCheck[];
  /** Starts /healthz, /readyz, /metrics; call once everything is wired. */
  startOps(): Promise<OpsServer>;
}

export function createServiceBase(name: string, config: BaseConfig): ServiceBase {
  const logger = createLogger(name, config.LOG_LEVEL);
  const registry = createMetricsRegistry(name);
  const shutdown = new ShutdownCoordinator(logger, config.SHUTDOWN_GRACE_MS);
  shutdown.listen();
  const readiness: ReadinessCheck[] = [];
  return {
    name,
    logger,
    registry,
    shutdown,
    readiness,
    async startOps() {
      const ops = await startOpsServer({
        host: config.OPS_HOST,
        port: config.OPS_PORT,
        registry,
        checks: readiness,
        logger,
      });
      // Registered last, so it runs first: stop advertising readiness before anything else stops.
      shutdown.register('ops-draining', () => ops.setDraining());
      logger.info({ opsPort: ops.port }, 'ops endpoint listening');
      return ops;
    },
  };
}

/** A migrated pool with a readiness check and a shutdown hook. */
export async function connectDatabase(base: ServiceBase, url: string, max: number): Promise<Pool> {
  const pool = createPool({ connectionString: url, max, applicationName: `hermod-${base.name}` });
  await migrate(pool);
  base.readiness.push({
    name: 'postgres',
    check: async () => {
      await pool.query('SELECT 1');
      return true;
    },
  });
  base.shutdown.register('postgres', () => pool.end());
  return pool;
}

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** A NATS connection with the pipeline's streams and consumers ensured, a readiness check and a drain on shutdown. */
export async function connectBus(base: ServiceBase, url: string, replicas: number): Promise<Bus> {
  const nc = await connectNats({ servers: url.split(','), name: `hermod-${base.name}`, logger: base.logger });
  const jsm = await nc.jetstreamManager();
  await setupPipeline(jsm, replicas);
  base.readiness.push({
    name: 'nats',
    check: () => !nc.isClosed() && nc.info !== undefined && !reconnecting(nc),
  });
  base.shutdown.register('nats', () => nc.drain());
  return { nc, js: nc.jetstream(), jsm };
}

// nats.js exposes no "connected" flag; a reconnecting client has no server to talk to.
function reconnecting(nc: NatsConnection): boolean {
  return (nc as unknown as { protocol?: { connected?: boolean } }).protocol?.connected === false;
}

/** Runs a service's main: a bad configuration prints every problem and exits 2, any other failure exits 1. */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${name}: failed to start: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
