import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPool, type Pool } from '@hermod/db';
import { connectNats } from '@hermod/nats';
import type { NatsConnection } from 'nats';
import { type CliContext, UsageError } from './command.js';
import { commands } from './commands/index.js';
import { readSecret } from './read-secret.js';

const usage = `hermod: manage a Hermod mail platform

Usage: hermod <command> [arguments] [--help]

Commands:
${commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Connection (environment): DATABASE_URL, NATS_URL. Without them, the local platform started by
\`npm start\` is used (its addresses are read from .data/local.env).
`;

/** Variables from the local platform's env file, for running against `npm start` with no setup. */
function localPlatformEnv(): Record<string, string> {
  const file = join(process.env.HERMOD_DATA_DIR ?? join(process.cwd(), '.data'), 'local.env');
  try {
    return Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  } catch {
    return {};
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`hermod: unknown command '${name}'\n\n${usage}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  // Empty variables count as unset, so the local platform's addresses still apply.
  const env = {
    ...localPlatformEnv(),
    ...Object.fromEntries(Object.entries(process.env).filter(([, v]) => v)),
  };
  let pool: Pool | undefined;
  let nc: NatsConnection | undefined;
  const ctx: CliContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env,
    db: async () => {
      if (!env.DATABASE_URL)
        throw new UsageError('DATABASE_URL is not set and no local platform was found (run `npm start`)');
      pool ??= createPool({ connectionString: env.DATABASE_URL, max: 2, applicationName: 'hermod-cli' });
      return pool;
    },
    nats: async () => {
      const servers = env.NATS_URL ?? 'nats://127.0.0.1:4222';
      nc ??= await Promise.race([
        connectNats({ servers: servers.split(','), name: 'hermod-cli' }),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`cannot reach NATS at ${servers}`)), 5_000),
        ),
      ]);
      return nc;
    },
    readSecret: (prompt) => readSecret(process.stdin, process.stderr, prompt),
  };
  try {
    return await command.run(rest, ctx);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`hermod ${name}: ${error.message}\nRun 'hermod ${name} --help' for usage.\n`);
      return 2;
    }
    process.stderr.write(`hermod ${name}: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await pool?.end().catch(() => {});
    await nc?.close().catch(() => {});
  }
}

process.exitCode = await main(process.argv.slice(2));
