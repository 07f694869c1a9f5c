export { spawnServer, stopChild, waitForPort } from './child-process.js';
export { EXTERNAL_DNS_VERSION, ensureExternalDns } from './external-dns-binary.js';
export { freePort, isPortFree } from './free-port.js';
export {
  cacheDirectory,
  ensureGoBinary,
  type GoBinarySpec,
  MissingPrerequisiteError,
  withBuildLock,
} from './go-binaries.js';
export { ensureHelm, HELM_VERSION } from './helm-binary.js';
export { ETCD_VERSION, ensureKubeBinaries, KUBERNETES_VERSION, type KubeBinaries } from './kube-binaries.js';
export { KubeControlPlane, type KubeControlPlaneOptions } from './kube-control-plane.js';
export {
  formatLocalEnv,
  LOCAL_ENV_FILE,
  localDataDir,
  localPortOffset,
  MAX_PORT_OFFSET,
  PORT_OFFSET_STEP,
  PortOffsetError,
  readLocalEnv,
} from './local-platform.js';
export {
  ensureNatsServer,
  NATS_SERVER_VERSION,
  type NatsServerOptions,
  NatsServerProcess,
} from './nats-server.js';
export { type NodeServiceOptions, NodeServiceProcess, repositoryRoot } from './node-service.js';
export { PostgresCluster, type PostgresClusterOptions } from './postgres-cluster.js';
export { ensureSelfSignedCertificate } from './tls-certificate.js';
