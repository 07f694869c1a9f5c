import { join } from 'node:path';
import { ensureNatsServer, freePort, NatsServerProcess } from '@hermod/local-infra';
import { testWorkdir } from './workdir.js';

export interface TestNats {
  url: string;
  server: NatsServerProcess;
  stop(): Promise<void>;
}

/** A private nats-server (2.10+) with JetStream for one test file. */
export async function startTestNats(options: { syncInterval?: string } = {}): Promise<TestNats> {
  const server = new NatsServerProcess({
    binary: process.env.NATS_SERVER_BIN ?? (await ensureNatsServer()),
    port: await freePort(),
    storeDir: join(await testWorkdir('nats'), 'jetstream'),
    ...(options.syncInterval ? { syncInterval: options.syncInterval } : {}),
  });
  await server.start();
  return { url: server.url, server, stop: () => server.stop() };
}
