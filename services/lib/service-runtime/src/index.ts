export { commonEnv } from './common-env.js';
export { createMetricsRegistry, type Registry } from './metrics.js';
export { type OpsServer, type ReadinessCheck, startOpsServer } from './ops-server.js';
export { ShutdownCoordinator } from './shutdown.js';
export { createServiceBase, connectDatabase, connectBus, runMain, type ServiceBase, type Bus, type BaseConfig } from './bootstrap.js';
