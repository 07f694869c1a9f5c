export { startOpsServer, type OpsServer, type ReadinessCheck } from './ops-server.js';
export { createMetricsRegistry, type Registry } from './metrics.js';
export { ShutdownCoordinator } from './shutdown.js';
export { commonEnv } from './common-env.js';
