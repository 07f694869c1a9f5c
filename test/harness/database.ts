import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createPool, migrate, type Pool } from '@hermod/db';
import { freePort, PostgresCluster } from '@hermod/local-infra';
import pg from 'pg';
import { testWorkdir } from './workdir.js';

export interface TestDatabase {
  url: string;
  pool: Pool;
  close(): Promise<void>;
}

let ownCluster: Promise<PostgresCluster> | undefined;

async function adminUrl(): Promise<string> {
  const shared = process.env.HERMOD_TEST_PG_ADMIN_URL;
  if (shared) return shared;
  // Running a file on its own: start a private cluster for this process.
  ownCluster ??= (async () => {
    const cluster = new PostgresCluster({
      dataDir: join(await testWorkdir('pg'), 'data'),
      port: await freePort(),
    });
    await cluster.init();
    await cluster.start();
    // Synchronous: an 'exit' handler cannot wait for anything.
    process.once('exit', () => cluster.killNow());
    return cluster;
  })();
  return (await ownCluster).connectionString('postgres');
}

/** A new, migrated database in the run's shared PostgreSQL; each test file gets its own. */
export async function testDatabase(): Promise<TestDatabase> {
  const admin = await adminUrl();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = admin.replace(/\/postgres$/, `/${name}`);
  const pool = createPool({ connectionString: url, max: 5 });
  await migrate(pool);
  return {
    url,
    pool,
    async close() {
      await pool.end();
    },
  };
}
