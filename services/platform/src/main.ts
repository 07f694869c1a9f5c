// `npm start`: the whole platform on one machine. nats-server (built from Go modules when missing),
// PostgreSQL (embedded, or DATABASE_URL), then every service as a process. Every port is checked
// before anything starts; a start that fails stops what it started. Data persists in .data/
// (HERMOD_DATA_DIR; .data-<offset>/ for a copy started with HERMOD_PORT_OFFSET), where local.env
// tells the `hermod` CLI how to reach this platform. Ctrl-C (SIGINT) or SIGTERM stops everything in
// reverse order.
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  ensureNatsServer,
  ensureSelfSignedCertificate,
  formatLocalEnv,
  LOCAL_ENV_FILE,
  localDataDir,
  localPortOffset,
  MissingPrerequisiteError,
  NatsServerProcess,
  NodeServiceProcess,
  PortOffsetError,
  PostgresCluster,
  repositoryRoot,
} from '@hermod/local-infra';
import { type PlannedPort, portProblems } from './port-check.js';
import { claimRunFile, leftoverName, releaseRunFile } from './run-file.js';
import { infraPorts, localServices } from './services.js';
import { type Supervised, supervise } from './supervise.js';

const say = (line: string) => process.stdout.write(`[platform] ${line}\n`);

/** The start was interrupted by Ctrl-C or SIGTERM: not a failure. */
class Interrupted extends Error {}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

const stoppers: Array<() => Promise<void>> = [];
let stopping = false;
let dataDir = '';
let wroteLocalEnv = false;
let ownsRunFile = false;

async function stopAll(code: number): Promise<never> {
  if (stopping) {
    // Ctrl-C under npm arrives twice (the terminal's and npm's forwarded copy), and users press it
    // again: exiting here would leave PostgreSQL, which has a process group of its own, running.
    say('still stopping (each part has a bounded grace period)');
    return new Promise<never>(() => {});
  }
  stopping = true;
  say('stopping...');
  // Only our own: a copy that failed to start must not remove the file of one that runs.
  if (wroteLocalEnv) await rm(join(dataDir, LOCAL_ENV_FILE), { force: true });
  for (let stop = stoppers.pop(); stop; stop = stoppers.pop()) await stop().catch(() => {});
  if (ownsRunFile) await releaseRunFile(dataDir);
  say('stopped');
  process.exit(code);
}

/** Starts one part, registered to be stopped first, so a failure or Ctrl-C meanwhile leaves nothing behind. */
async function launch<T>(start: () => Promise<T>, stop: () => Promise<void>): Promise<T> {
  if (stopping) throw new Interrupted();
  stoppers.push(stop);
  const result = await start();
  if (stopping) {
    await stop().catch(() => {});
    throw new Interrupted();
  }
  return result;
}

async function main(): Promise<void> {
  // `npm start | tee log` ended by Ctrl-C: tee is gone before we stop, and a write to the closed pipe
  // (EPIPE) must not end the platform halfway, leaving PostgreSQL and the services running.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  let offset: number;
  try {
    offset = localPortOffset();
    dataDir = resolve(localDataDir());
  } catch (error) {
    if (!(error instanceof PortOffsetError)) throw error;
    process.stderr.write(`[platform] ${error.message}\n`);
    process.exit(2);
  }

  // Before the port check: what a platform killed with kill -9 left running holds these ports.
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  const claim = await claimRunFile(dataDir);
  if (!claim.claimed) {
    process.stderr.write(
      `[platform] cannot start: a platform is already running with data in ${dataDir} (pid ${claim.runningPid}).\n` +
        `[platform] Stop it (Ctrl-C where it runs, or kill ${claim.runningPid}), or start another copy with ` +
        (process.env.HERMOD_DATA_DIR
          ? 'a HERMOD_DATA_DIR of its own and HERMOD_PORT_OFFSET=1000'
          : 'HERMOD_PORT_OFFSET=1000 (its data then goes to .data-1000/)') +
        '; nothing was started.\n',
    );
    process.exit(1);
  }
  ownsRunFile = true;
  if (claim.stoppedLeftovers.length > 0)
    say(
      `stopped what a platform killed earlier left running: ${claim.stoppedLeftovers
        .map((p) => `${leftoverName(p.command)} (pid ${p.pid})`)
        .filter((name) => !name.startsWith('postgres:') && !name.startsWith('esbuild'))
        .join(', ')}`,
    );

  const natsPort = Number(process.env.NATS_PORT ?? infraPorts.nats + offset);
  const natsMonitorPort = Number(process.env.NATS_MONITOR_PORT ?? infraPorts.natsMonitor + offset);
  const pgPort = Number(process.env.PG_PORT ?? infraPorts.postgres + offset);
  const services = localServices({ certFile: '', keyFile: '' }, offset);
  const planned: PlannedPort[] = [
    { port: natsPort, use: 'NATS' },
    { port: natsMonitorPort, use: 'NATS monitoring' },
    ...(process.env.DATABASE_URL ? [] : [{ port: pgPort, use: 'PostgreSQL' }]),
    ...services.flatMap((svc) => svc.ports.map((port) => ({ port, use: svc.name }))),
  ];
  const problems = await portProblems(planned);
  if (problems.length > 0) {
    process.stderr.write(
      `[platform] cannot start: ${problems.join('; ')}.\n` +
        '[platform] Stop what holds them, or start another copy with HERMOD_PORT_OFFSET=1000 (2000, ...); nothing was started.\n',
    );
    await releaseRunFile(dataDir);
    process.exit(1);
  }

  const nats = new NatsServerProcess({
    binary: await ensureNatsServer(say),
    port: natsPort,
    monitorPort: natsMonitorPort,
    storeDir: join(dataDir, 'nats'),
  });
  await launch(
    () => nats.start(),
    () => nats.stop(),
  );
  say(`nats-server ${nats.url}`);

  // What a StatefulSet would do for them: the platform's own nats-server and PostgreSQL are started
  // again when they die (kill -9, a crash), like the services below.
  const dependencies: Supervised[] = [
    {
      name: 'nats-server',
      get running() {
        return nats.running;
      },
      start: () => nats.start(),
      stop: () => nats.stop(),
    },
  ];

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const cluster = new PostgresCluster({ dataDir: join(dataDir, 'postgres'), port: pgPort });
    await cluster.init();
    await launch(
      () => cluster.start(),
      () => cluster.stop(),
    );
    dependencies.push({
      name: 'PostgreSQL',
      get running() {
        return cluster.running();
      },
      start: () => cluster.start(),
      stop: () => cluster.stop(),
    });
    databaseUrl = await cluster.createDatabase('hermod');
    say(`PostgreSQL (embedded) 127.0.0.1:${pgPort}, data in ${join(dataDir, 'postgres')}`);
  } else {
    say('PostgreSQL from DATABASE_URL');
  }

  const tls = await ensureSelfSignedCertificate(join(dataDir, 'tls'));
  const common = {
    DATABASE_URL: databaseUrl,
    NATS_URL: nats.url,
    ROUTING_GRPC_ADDRESS: `127.0.0.1:${7001 + offset}`,
    OPS_HOST: '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  const rows: string[] = [];
  const running: NodeServiceProcess[] = [];
  for (const svc of localServices(tls, offset)) {
    if (!(await exists(join(repositoryRoot, 'services', svc.name, 'src', 'main.ts')))) {
      say(`${svc.name}: not part of this build, skipped`);
      continue;
    }
    const proc = new NodeServiceProcess({
      service: svc.name,
      opsPort: svc.opsPort,
      env: { ...common, ...svc.env },
      onOutput: (chunk) => {
        for (const line of chunk.split('\n'))
          if (line.trim()) process.stdout.write(`[${svc.name}] ${line}\n`);
      },
    });
    await launch(
      () => proc.start(60_000),
      () => proc.stop(),
    );
    running.push(proc);
    rows.push(
      `  ${svc.name.padEnd(13)} ${(svc.listeners.join(', ') || '-').padEnd(60)} http://127.0.0.1:${svc.opsPort}/metrics`,
    );
  }
  // What the CLI needs to reach this platform, found from the same HERMOD_DATA_DIR / HERMOD_PORT_OFFSET.
  await writeFile(
    join(dataDir, LOCAL_ENV_FILE),
    formatLocalEnv({
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      ROUTING_GRPC_ADDRESS: common.ROUTING_GRPC_ADDRESS,
      OUTBOUND_HELO_NAME: 'localhost',
    }),
    { mode: 0o600 },
  );
  wroteLocalEnv = true;
  // A crashed service (or dependency) is started again, for ever and with backoff, like a Deployment would.
  for (const proc of [...dependencies, ...running]) void supervise(proc, { say, stopping: () => stopping });
  const env =
    offset === 0 && !process.env.HERMOD_DATA_DIR
      ? ''
      : `${process.env.HERMOD_DATA_DIR ? `HERMOD_DATA_DIR=${process.env.HERMOD_DATA_DIR} ` : ''}${offset ? `HERMOD_PORT_OFFSET=${offset} ` : ''}`;
  say(`Hermod is running. Data: ${dataDir}\n\n  SERVICE       LISTENERS${' '.repeat(51)}OPS\n${rows.join('\n')}\n
  Next: ${env}npx hermod domain add example.test && printf 'secret-password\\n' | ${env}npx hermod user add me@example.test
  Ctrl-C stops everything.\n`);
}

main().catch(async (error: unknown) => {
  if (error instanceof Interrupted) return;
  if (error instanceof MissingPrerequisiteError) process.stderr.write(`[platform] ${error.message}\n`);
  else process.stderr.write(`[platform] failed: ${(error as Error).stack ?? String(error)}\n`);
  await stopAll(1);
});
