import { ConfigError } from '@hermod/config';
import { createPool, isTransientDatabaseError, migrate, type Pool, PoolTimeoutsError } from '@hermod/db';
import { createLogger, type Logger } from '@hermod/logging';
import { connectNats, watchConnected } from '@hermod/nats';
import { setupPipeline } from '@hermod/pipeline';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import type { Registry } from 'prom-client';
import { untilAvailable } from './dependency.js';
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
  /**
   * Marks start-up as finished (the 'start-up' readiness check passes) and gives the ops endpoint;
   * call once everything is wired. /healthz, /readyz and /metrics answer from createServiceBase
   * on, so a service waiting for its dependencies is live but not ready.
   */
  startOps(): Promise<OpsServer>;
}

export function createServiceBase(name: string, config: BaseConfig): ServiceBase {
  const logger = createLogger(name, config.LOG_LEVEL);
  const registry = createMetricsRegistry(name);
  const shutdown = new ShutdownCoordinator(logger, config.SHUTDOWN_GRACE_MS);
  shutdown.listen();
  let started = false;
  const readiness: ReadinessCheck[] = [
    { name: 'start-up', check: () => started || 'starting: waiting for dependencies' },
  ];
  const ops = startOpsServer({
    host: config.OPS_HOST,
    port: config.OPS_PORT,
    registry,
    checks: readiness,
    logger,
  }).then((server) => {
    logger.info({ opsPort: server.port }, 'ops endpoint listening');
    return server;
  });
  // A port that cannot be bound fails the start-up when main reaches startOps (runMain exits).
  ops.catch(() => {});
  return {
    name,
    logger,
    registry,
    shutdown,
    readiness,
    async startOps() {
      const server = await ops;
      // Registered last, so it runs first: stop advertising readiness before anything else stops.
      shutdown.register('ops-draining', () => server.setDraining());
      started = true;
      return server;
    },
  };
}

/** A service's database settings, as its configuration names them (databaseTimeoutsEnv). */
export interface DatabaseConfig {
  DATABASE_URL: string;
  DATABASE_POOL_SIZE: number;
  DATABASE_STATEMENT_TIMEOUT_MS: number;
  DATABASE_QUERY_TIMEOUT_MS: number;
}

/**
 * The pool of a service: the one place a service's pool is made from its configuration. Timeouts
 * that contradict each other are a configuration error naming DATABASE_QUERY_TIMEOUT_MS.
 */
export function createServicePool(
  name: string,
  config: DatabaseConfig,
  settings?: Readonly<Record<string, string>>,
): Pool {
  try {
    return createPool({
      connectionString: config.DATABASE_URL,
      max: config.DATABASE_POOL_SIZE,
      applicationName: `hermod-${name}`,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      queryTimeoutMs: config.DATABASE_QUERY_TIMEOUT_MS,
      ...(settings ? { settings } : {}),
    });
  } catch (error) {
    if (error instanceof PoolTimeoutsError)
      throw new ConfigError(name, [
        {
          variable: 'DATABASE_QUERY_TIMEOUT_MS',
          problem: `must be above DATABASE_STATEMENT_TIMEOUT_MS (got ${config.DATABASE_QUERY_TIMEOUT_MS}, statement timeout ${config.DATABASE_STATEMENT_TIMEOUT_MS})`,
        },
      ]);
    throw error;
  }
}

/**
 * A migrated pool with a readiness check and a shutdown hook. While PostgreSQL cannot be reached
 * the migrations are retried with backoff (the service stays live, /readyz names postgres and the
 * error); only an error that retrying cannot cure (bad credentials, a broken migration) ends the start.
 */
export async function connectDatabase(
  base: ServiceBase,
  config: DatabaseConfig,
  settings?: Readonly<Record<string, string>>,
): Promise<Pool> {
  const pool = createServicePool(base.name, config, settings);
  base.shutdown.register('postgres', () => pool.end());
  let migrated = false;
  base.readiness.push({
    name: 'postgres',
    check: async () => {
      await pool.query('SELECT 1');
      return migrated || 'applying schema migrations';
    },
  });
  await untilAvailable(base.logger, 'postgres', () => migrate(pool), {
    isPermanent: (error) => !isTransientDatabaseError(error),
  });
  migrated = true;
  return pool;
}

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Whether the connection has a server now (false while it reconnects or once closed). */
  connected(): boolean;
}

export interface BusOptions {
  /**
   * The service keeps serving its clients without nats-server (msa and mx accept into the spool,
   * imap reads the database): once started, losing the bus is reported as `degraded` in /readyz
   * and does not take the service out of its load balancer. Start-up still waits for the bus.
   */
  servesWithout?: boolean;
  /**
   * nats-server does not send the connection's own publications back to it (imap fans its own
   * change events out in-process and hears only the other replicas' over NATS).
   */
  noEcho?: boolean;
}

/** Whether each connection made by connectNatsServer has a server now (watchConnected, one per connection). */
const connectionState = new WeakMap<NatsConnection, () => boolean>();

/**
 * A core NATS connection with a readiness check (a round trip to the server) and a drain on
 * shutdown. While nats-server cannot be reached the connection keeps trying (connectNats waits on
 * its first connect too); /readyz says so meanwhile.
 */
export async function connectNatsServer(
  base: ServiceBase,
  url: string,
  options: BusOptions = {},
): Promise<NatsConnection> {
  let nc: NatsConnection | undefined;
  let connected: (() => boolean) | undefined;
  const readiness: ReadinessCheck = {
    name: 'nats',
    check: async () => {
      if (!nc) return 'connecting to nats-server';
      if (nc.isClosed()) return 'connection closed';
      if (!connected?.()) return 'disconnected; reconnecting to nats-server';
      await nc.rtt();
      return true;
    },
  };
  base.readiness.push(readiness);
  nc = await connectNats({
    servers: url.split(','),
    name: `hermod-${base.name}`,
    logger: base.logger,
    ...(options.noEcho ? { noEcho: true } : {}),
  });
  connected = watchConnected(nc);
  connectionState.set(nc, connected);
  // Connected once: from now on a service that serves without the bus only reports its loss.
  readiness.degradesOnly = options.servesWithout ?? false;
  const open = nc;
  base.shutdown.register('nats', () => open.drain());
  return open;
}

/**
 * A NATS connection (connectNatsServer) with the pipeline's streams and consumers ensured, retried
 * with backoff while JetStream does not answer.
 */
export async function connectBus(
  base: ServiceBase,
  url: string,
  replicas: number,
  options: BusOptions = {},
): Promise<Bus> {
  const nc = await connectNatsServer(base, url, options);
  const jsm = await untilAvailable(base.logger, 'nats', async () => {
    const manager = await nc.jetstreamManager();
    await setupPipeline(manager, replicas);
    return manager;
  });
  return { nc, js: nc.jetstream(), jsm, connected: connectionState.get(nc) ?? watchConnected(nc) };
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
