// The one test command: unit tests first (parallel), then integration and end-to-end suites against
// real nats-server and PostgreSQL. Shared infrastructure is prepared once here; each test file makes
// its own database and NATS server from it. Usage: node --import tsx test/run.ts [unit|integration|e2e|FILE...]
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  ensureExternalDns,
  ensureHelm,
  ensureKubeBinaries,
  ensureNatsServer,
  freePort,
  PostgresCluster,
  repositoryRoot,
} from '@hermod/local-infra';

const suites = {
  unit: { roots: ['services', 'operator', 'proto', 'bench'], concurrency: 2, timeoutMs: 120_000 },
  integration: { roots: ['test/integration'], concurrency: 1, timeoutMs: 900_000 },
  e2e: { roots: ['test/e2e'], concurrency: 1, timeoutMs: 900_000 },
} as const;
type SuiteName = keyof typeof suites;

async function findTests(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.name.endsWith('.test.ts')) out.push(relative(repositoryRoot, full));
    }
  };
  await walk(join(repositoryRoot, root));
  return out.sort();
}

function runNodeTests(files: string[], concurrency: number, timeoutMs: number, env: NodeJS.ProcessEnv) {
  return new Promise<{ pass: number; fail: number; code: number }>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        `--test-concurrency=${concurrency}`,
        `--test-timeout=${timeoutMs}`,
        '--test-reporter=spec',
        ...files,
      ],
      { cwd: repositoryRoot, env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4_000);
    });
    child.on('close', (code) => {
      const pass = Number(/ℹ pass (\d+)/.exec(tail)?.[1] ?? 0);
      const fail =
        Number(/ℹ fail (\d+)/.exec(tail)?.[1] ?? 0) + Number(/ℹ cancelled (\d+)/.exec(tail)?.[1] ?? 0);
      resolve({ pass, fail, code: code ?? 1 });
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const named = args.filter((a): a is SuiteName => a in suites);
  const explicitFiles = args.filter((a) => !(a in suites));
  const work = await mkdtemp(join(tmpdir(), 'hermod-test-'));
  await (await import('node:fs/promises')).chmod(work, 0o777);
  const env: NodeJS.ProcessEnv = { ...process.env, HERMOD_TEST_WORKDIR: work };

  // Real infrastructure for everything but unit tests: built or found once, shared by every file.
  const needsInfra = explicitFiles.length > 0 || named.length === 0 || named.some((s) => s !== 'unit');
  let cluster: PostgresCluster | undefined;
  if (needsInfra) {
    env.NATS_SERVER_BIN = await ensureNatsServer((line) => console.log(line));
    // Built once from Go modules and cached (kube binaries, helm, external-dns); building here keeps a cold build out of
    // a test's timeout.
    await ensureKubeBinaries((line) => console.log(line));
    await ensureHelm((line) => console.log(line));
    await ensureExternalDns((line) => console.log(line));
    cluster = new PostgresCluster({ dataDir: join(work, 'pg'), port: await freePort() });
    await cluster.init();
    await cluster.start();
    env.HERMOD_TEST_PG_ADMIN_URL = cluster.connectionString('postgres');
  }

  let pass = 0;
  let fail = 0;
  let exitCode = 0;
  try {
    const plan: Array<{ name: string; files: string[]; concurrency: number; timeoutMs: number }> = [];
    if (explicitFiles.length > 0) {
      for (const f of explicitFiles) await stat(f);
      plan.push({ name: 'selected', files: explicitFiles, concurrency: 1, timeoutMs: 900_000 });
    } else {
      for (const name of named.length > 0 ? named : (Object.keys(suites) as SuiteName[])) {
        const suite = suites[name];
        const files = (await Promise.all(suite.roots.map(findTests)))
          .flat()
          .filter((f) => name !== 'unit' || !f.startsWith('test/'));
        if (files.length > 0)
          plan.push({ name, files, concurrency: suite.concurrency, timeoutMs: suite.timeoutMs });
      }
    }
    for (const step of plan) {
      console.log(`\n=== ${step.name}: ${step.files.length} file(s) ===`);
      const result = await runNodeTests(step.files, step.concurrency, step.timeoutMs, env);
      pass += result.pass;
      fail += result.fail;
      if (result.code !== 0) exitCode = 1;
    }
  } finally {
    await cluster?.stop().catch(() => {});
    await rm(work, { recursive: true, force: true }).catch(() => {});
  }
  if (pass === 0 && fail === 0) exitCode = 1;
  console.log(`\n${pass} passed, ${fail} failed`);
  process.exit(exitCode);
}

await main();
