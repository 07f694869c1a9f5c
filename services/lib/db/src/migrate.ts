import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Pool } from './pool.js';
import { withClient } from './transaction.js';

export const migrationsDirectory = fileURLToPath(new URL('../migrations/', import.meta.url));

/**
 * Applies the numbered SQL files of migrations/ in order, each in its own transaction, once.
 * An advisory lock makes concurrent starters (several replicas) take turns instead of racing.
 */
export async function migrate(pool: Pool, directory: string = migrationsDirectory): Promise<string[]> {
  const files = (await readdir(directory)).filter((f) => /^\d{3}_[a-z0-9_-]+\.sql$/.test(f)).sort();
  return withClient(pool, async (client) => {
    const applied: string[] = [];
    await client.query('SELECT pg_advisory_lock(7263001)');
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const done = new Set(
        (await client.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
      );
      for (const file of files) {
        if (done.has(file)) continue;
        const sql = await readFile(
          new URL(file, `file://${directory.endsWith('/') ? directory : `${directory}/`}`),
          'utf8',
        );
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations(name) VALUES ($1)', [file]);
          await client.query('COMMIT');
          applied.push(file);
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`migration ${file} failed: ${(error as Error).message}`, { cause: error });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(7263001)').catch(() => {});
    }
    return applied;
  });
}
