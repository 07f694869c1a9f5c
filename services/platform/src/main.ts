// `npm start`: the whole platform on one machine. nats-server (built from Go modules when missing),
// PostgreSQL (embedded, or DATABASE_URL), then every service as a process. Data persists in .data/
// (HERMOD_DATA_DIR); Ctrl-C stops everything in reverse order.
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ensureNatsServer,
  ensureSelfSignedCertificate,
  MissingPrerequisiteError,
  NatsServerProcess,
  NodeServiceProcess,
  PostgresCluster,
  repositoryRoot,
} from '@hermod/local-infra';
import { localServices } from './services.js';

const dataDir = process.env.HERMOD_DATA_DIR ?? join(repositoryRoot, '.data');
// Shifts every local port, so a second platform (or a test) can run beside a developer's own.
const offset = Number(process.env.HERMOD_PORT_OFFSET ?? 0);
const say = (line: string) => process.stdout.write(`[platform] ${line}\n`);

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  const stoppers: Array<() => Promise<void>> = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping...');
    for (const stop of stoppers.reverse()) await stop().catch(() => {});
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const natsPort = Number(process.env.NATS_PORT ?? 4222 + offset);
  const nats = new NatsServerProcess({
    binary: await ensureNatsServer(say),
    port: natsPort,
    monitorPort: Number(process.env.NATS_MONITOR_PORT ?? 8222 + offset),
    storeDir: join(dataDir, 'nats'),
  });
  await nats.start();
  stoppers.push(() => nats.stop());
  say(`nats-server ${nats.url}`);

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const cluster = new PostgresCluster({
      dataDir: join(dataDir, 'postgres'),
      port: Number(process.env.PG_PORT ?? 54329 + offset),
    });
    await cluster.init();
    await cluster.start();
    stoppers.push(() => cluster.stop());
    databaseUrl = await cluster.createDatabase('hermod');
    say(`PostgreSQL (embedded) 127.0.0.1:${cluster.options.port}, data in ${join(dataDir, 'postgres')}`);
  } else {
    say('PostgreSQL from DATABASE_URL');
  }
  await writeFile(join(dataDir, 'local.env'), `DATABASE_URL=${databaseUrl}\nNATS_URL=${nats.url}\n`, {
    mode: 0o600,
  });

  const tls = await ensureSelfSignedCertificate(join(dataDir, 'tls'));
  const common = {
    DATABASE_URL: databaseUrl,
    NATS_URL: nats.url,
    ROUTING_GRPC_ADDRESS: `127.0.0.1:${7001 + offset}`,
    OPS_HOST: '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  const rows: string[] = [];
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
    await proc.start(60_000);
    stoppers.push(() => proc.stop());
    rows.push(
      `  ${svc.name.padEnd(13)} ${(svc.listeners.join(', ') || '-').padEnd(60)} http://127.0.0.1:${svc.opsPort}/metrics`,
    );
    // A crashed service is started again, like a Deployment would.
    const watch = () => {
      const timer = setInterval(() => {
        if (stopping || proc.running) return;
        say(`${svc.name} exited; restarting`);
        clearInterval(timer);
        proc
          .start(60_000)
          .then(watch, (error: unknown) => say(`${svc.name} failed to restart: ${(error as Error).message}`));
      }, 1_000);
      timer.unref();
    };
    watch();
  }
  say(`Hermod is running. Data: ${dataDir}\n\n  SERVICE       LISTENERS${' '.repeat(51)}OPS\n${rows.join('\n')}\n
  Next: npx hermod domain add example.test && printf 'secret-password\\n' | npx hermod user add me@example.test
  Ctrl-C stops everything.\n`);
}

main().catch((error: unknown) => {
  if (error instanceof MissingPrerequisiteError) process.stderr.write(`[platform] ${error.message}\n`);
  else process.stderr.write(`[platform] failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
