export { cacheDirectory, ensureGoBinary, MissingPrerequisiteError, type GoBinarySpec } from './go-binaries.js';
export { ensureNatsServer, NATS_SERVER_VERSION, NatsServerProcess, type NatsServerOptions } from './nats-server.js';
export { PostgresCluster, type PostgresClusterOptions } from './postgres-cluster.js';
export { freePort } from './free-port.js';
export { NodeServiceProcess, repositoryRoot, type NodeServiceOptions } from './node-service.js';
export { ensureSelfSignedCertificate } from './tls-certificate.js';
export { waitForPort, stopChild, spawnServer } from './child-process.js';
