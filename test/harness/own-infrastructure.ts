import { join } from 'node:path';
import { createPool, migrate } from '@hermod/db';
import { ensureNatsServer, freePort, NatsServerProcess, PostgresCluster } from '@hermod/local-infra';
import { testWorkdir } from './workdir.js';

export interface OwnInfrastructure {
  /** The test's working folder (TLS material and the like can go here too). */
  work: string;
  pg: PostgresCluster;
  nats: NatsServerProcess;
  /** The migrated `hermod` database. */
  databaseUrl: string;
}

/**
 * A PostgreSQL cluster and a nats-server of the test file's own, running, which it may kill,
 * freeze and restart (the shared ones of testDatabase/startTestNats must not be).
 */
export async function startOwnInfrastructure(prefix: string): Promise<OwnInfrastructure> {
  const work = await testWorkdir(prefix);
  const pg = new PostgresCluster({ dataDir: join(work, 'pg'), port: await freePort() });
  await pg.init();
  await pg.start();
  const databaseUrl = await pg.createDatabase('hermod');
  const pool = createPool({ connectionString: databaseUrl, max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  const nats = new NatsServerProcess({
    binary: process.env.NATS_SERVER_BIN ?? (await ensureNatsServer()),
    port: await freePort(),
    storeDir: join(work, 'nats'),
  });
  await nats.start();
  return { work, pg, nats, databaseUrl };
}
