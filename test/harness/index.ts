export { testDatabase, type TestDatabase } from './database.js';
export { startTestNats, type TestNats } from './nats.js';
export { requireTool, run, type RunResult } from './tools.js';
export { DnsTestServer, type DnsRecord } from './dns-server.js';
export { testWorkdir } from './workdir.js';
