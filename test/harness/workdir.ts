import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory for one test's files, under the run's work directory (removed after the run). */
export async function testWorkdir(prefix = 'case'): Promise<string> {
  const base = process.env.HERMOD_TEST_WORKDIR ?? tmpdir();
  const dir = await mkdtemp(join(base, `${prefix}-`));
  // World-writable so servers that drop privileges (PostgreSQL, Postfix, Dovecot) can use it.
  await chmod(dir, 0o777);
  return dir;
}
