import type { Pool } from '@hermod/db';
import {
  LOCAL_ENV_FILE,
  localDataDir,
  PortOffsetError,
  readLocalEnv,
} from '@hermod/local-infra/local-platform';
import type { NatsConnection } from 'nats';
import { type CliContext, UsageError } from './command.js';
import { commands } from './commands/index.js';
import { readSecret } from './read-secret.js';

const nameWidth = Math.max(...commands.map((c) => c.name.length));

const usage = `hermod: manage a Hermod mail platform

Usage: hermod <command> [arguments] [--help]

Commands:
${commands.map((c) => `  ${c.name.padEnd(nameWidth)} ${c.summary}`).join('\n')}

Connection (environment): DATABASE_URL, NATS_URL, ROUTING_GRPC_ADDRESS. Without them, the local
platform started by \`npm start\` is used: its addresses are read from ${LOCAL_ENV_FILE} in its data
directory, found from the same HERMOD_DATA_DIR and HERMOD_PORT_OFFSET it was started with.
`;

// A command that cannot reach NATS says so after this long instead of waiting for it.
const NATS_CONNECT_TIMEOUT_MS = 3_000;

/** An address neither set in the environment nor found in a running local platform's file. */
function missing(variable: string, dataDir: string): Error {
  return new Error(
    `${variable} is not set and no local platform is running with data in ${dataDir} ` +
      '(start one with `npm start`, give the same HERMOD_DATA_DIR / HERMOD_PORT_OFFSET it was started with, ' +
      `or set ${variable})`,
  );
}

/**
 * One attempt, bounded: a command is not a service, and must not wait for a NATS that is not there
 * (the services' connectNats retries for ever).
 */
async function connectCli(url: string | undefined, dataDir: string): Promise<NatsConnection> {
  if (!url) throw missing('NATS_URL', dataDir);
  const { connect } = await import('nats');
  try {
    return await connect({
      servers: url.split(','),
      name: 'hermod-cli',
      timeout: NATS_CONNECT_TIMEOUT_MS,
      reconnect: false,
      noAsyncTraces: true,
    });
  } catch (error) {
    throw new Error(
      `cannot reach NATS at ${url} (${(error as Error).message}). Is the platform running? ` +
        'Start it with `npm start`, or point NATS_URL at your platform.',
    );
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    // A usage mistake: the usage goes where errors go, so `hermod | less` still shows it.
    process.stderr.write(usage);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`hermod: unknown command '${name}'\n\n${usage}`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  // Empty variables count as unset, so the local platform's addresses still apply.
  const given = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v));
  let dataDir: string;
  try {
    dataDir = localDataDir(given);
  } catch (error) {
    if (!(error instanceof PortOffsetError)) throw error;
    process.stderr.write(`hermod: ${error.message}\n`);
    return 2;
  }
  const env: Record<string, string | undefined> = { ...readLocalEnv(dataDir), ...given };
  let pool: Pool | undefined;
  let nc: Promise<NatsConnection> | undefined;
  const ctx: CliContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env,
    db: async () => {
      if (!env.DATABASE_URL) throw missing('DATABASE_URL', dataDir);
      const { createPool } = await import('@hermod/db');
      pool ??= createPool({ connectionString: env.DATABASE_URL, max: 2, applicationName: 'hermod-cli' });
      return pool;
    },
    nats: () => {
      nc ??= connectCli(env.NATS_URL, dataDir);
      return nc;
    },
    routingAddress: () => {
      if (!env.ROUTING_GRPC_ADDRESS) throw missing('ROUTING_GRPC_ADDRESS', dataDir);
      return env.ROUTING_GRPC_ADDRESS;
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
    await nc?.then((c) => c.close()).catch(() => {});
  }
}

process.exitCode = await main(process.argv.slice(2));
