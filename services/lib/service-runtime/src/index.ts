export {
  type BaseConfig,
  type Bus,
  type BusOptions,
  connectBus,
  connectDatabase,
  connectNatsServer,
  createServiceBase,
  createServicePool,
  type DatabaseConfig,
  runMain,
  type ServiceBase,
} from './bootstrap.js';
export { commonEnv, databaseTimeoutsEnv, servesWithoutBusEnv, tlsSniEnv } from './common-env.js';
export { untilAvailable } from './dependency.js';
export { createMetricsRegistry, type Registry } from './metrics.js';
export { OpenCounts } from './open-counts.js';
export {
  listenOn,
  type OpsServer,
  type Readiness,
  type ReadinessCheck,
  startOpsServer,
} from './ops-server.js';
export { acceptProxied, type ProxiedClient, TrustedProxies } from './proxy-protocol/proxy-accept.js';
export { type ProxyHeader, ProxyHeaderError, parseProxyHeader } from './proxy-protocol/proxy-header.js';
export { ShutdownCoordinator } from './shutdown.js';
export {
  CertificateFiles,
  type CertificateFilesOptions,
  type CertificatePair,
  openCertificateFiles,
  type ServerTls,
} from './tls-certificate.js';
