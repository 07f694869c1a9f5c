export {
  type BaseConfig,
  type Bus,
  connectBus,
  connectDatabase,
  createServiceBase,
  runMain,
  type ServiceBase,
} from './bootstrap.js';
export { commonEnv } from './common-env.js';
export { createMetricsRegistry, type Registry } from './metrics.js';
export { listenHttp, type OpsServer, type ReadinessCheck, startOpsServer } from './ops-server.js';
export { ShutdownCoordinator } from './shutdown.js';
