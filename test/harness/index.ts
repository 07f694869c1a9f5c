export { type TestDatabase, testDatabase } from './database.js';
export { type DnsRecord, DnsTestServer } from './dns-server.js';
export { startTestNats, type TestNats } from './nats.js';
export { type RunResult, requireTool, run } from './tools.js';
export { testWorkdir } from './workdir.js';
export { startTestControlPlane, type TestControlPlane } from './kube-control-plane.js';
export { startHermod, type HermodPlatform, type HermodPorts, type ServiceName } from './hermod.js';
