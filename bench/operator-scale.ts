// Scale bench of the operator: apply N MailDomains at once to a real kube-apiserver + etcd and
// measure the time until every one is Ready and configured (its record in the live config bucket),
// the operator's RSS, and Kubernetes API requests per reconcile.
// With --kind mailusers: N MailUsers of one domain (a real PostgreSQL as the accounts store), their
// password from one Secret holding an argon2 hash (--password plaintext: a plaintext, so the
// operator hashes N passwords), timed until every one is Ready and its account exists.
// Usage: node --import tsx bench/operator-scale.ts [--count 1000] [--algorithm ed25519|rsa-2048] [--workers 4]
//        [--kind maildomains|mailusers] [--password hash|plaintext]
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AccountStore, hashPassword } from '@hermod/accounts';
import { createPool, migrate } from '@hermod/db';
import { DOMAIN_BUCKET } from '@hermod/domain-config';
import {
  ensureKubeBinaries,
  ensureNatsServer,
  freePort,
  KubeControlPlane,
  NatsServerProcess,
  NodeServiceProcess,
  PostgresCluster,
} from '@hermod/local-infra';
import { connect } from 'nats';
import { allCrds } from '../operator/src/crd/crd.js';
import { KubeClient } from '../operator/src/kube/kube-client.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    algorithm: { type: 'string', default: 'ed25519' },
    workers: { type: 'string', default: '4' },
    kind: { type: 'string', default: 'maildomains' },
    password: { type: 'string', default: 'hash' },
  },
});
const kind = values.kind === 'mailusers' ? 'mailusers' : 'maildomains';
const count = Number(values.count);
const algorithm = values.algorithm === 'rsa-2048' ? 'rsa-2048' : 'ed25519';

interface Md {
  metadata: { name: string; generation: number };
  status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> };
}

const say = (line: string) => process.stdout.write(`[operator-scale] ${line}\n`);

function metric(text: string, name: string, filter: (line: string) => boolean = () => true): number {
  return text
    .split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && filter(l))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function rssOf(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(kb('VmRSS') / 1024), peakMiB: Math.round(kb('VmHWM') / 1024) };
}

/** CPU seconds (user + system) a process used so far. */
async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'hermod-operator-scale-'));
  // PostgreSQL's initdb may run as another user (when we are root): let it into the folder.
  await chmod(dir, 0o755);
  const binaries = await ensureKubeBinaries(say);
  const plane = new KubeControlPlane({ binaries, dir: join(dir, 'kube') });
  const nats = new NatsServerProcess({
    binary: await ensureNatsServer(say),
    port: await freePort(),
    storeDir: join(dir, 'nats'),
  });
  let operator: NodeServiceProcess | undefined;
  const pg =
    kind === 'mailusers'
      ? new PostgresCluster({ dataDir: join(dir, 'pg'), port: await freePort() })
      : undefined;
  try {
    await Promise.all([plane.start(), nats.start(), pg ? pg.init().then(() => pg.start()) : undefined]);
    const databaseUrl = pg ? await pg.createDatabase('hermod') : undefined;
    const admin = await KubeClient.load(plane.kubeconfigPath);
    for (const { plural, crd } of allCrds()) {
      const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.mail.hermod.dev`;
      await admin.apply(path, crd, 'bench');
      for (let i = 0; i < 100; i += 1) {
        const got = await admin.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
          path,
        );
        if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const opsPort = await freePort();
    operator = new NodeServiceProcess({
      service: 'operator/src/main.ts',
      opsPort,
      env: {
        KUBECONFIG: plane.kubeconfigPath,
        NATS_URL: nats.url,
        OPS_HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        DNS_VERIFY: 'false',
        WORKERS: values.workers ?? '4',
        POD_NAMESPACE: 'default',
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      },
    });
    await operator.start(60_000);
    if (databaseUrl) {
      await scaleMailUsers(admin, databaseUrl, operator, opsPort);
      admin.close();
      return;
    }
    const idle = await rssOf(operator.pid ?? 0);
    const metricsText = async () => (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    const nc = await connect({ servers: nats.url });
    const kv = await nc.jetstream().views.kv(DOMAIN_BUCKET);

    say(`creating ${count} MailDomains (dkim ${algorithm}) with 32 concurrent POSTs`);
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < count) {
          const i = next++;
          await admin.create(
            '/apis/mail.hermod.dev/v1alpha1/namespaces/default/maildomains',
            {
              apiVersion: 'mail.hermod.dev/v1alpha1',
              kind: 'MailDomain',
              metadata: { name: `d${i}` },
              spec: { domain: `d${i}.scale.example`, dkim: { algorithm } },
            },
            'bench',
          );
        }
      }),
    );
    const created = Date.now() - started;
    say(`created in ${(created / 1000).toFixed(1)} s`);

    let peak = idle.peakMiB;
    let ready = 0;
    let configured = 0;
    for (;;) {
      const list = await admin.list<{ items: Md[] }>(
        '/apis/mail.hermod.dev/v1alpha1/namespaces/default/maildomains',
      );
      ready = list.items.filter(
        (m) =>
          m.status?.observedGeneration === m.metadata.generation &&
          m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      ).length;
      configured = (await kv.status()).values;
      peak = Math.max(peak, (await rssOf(operator.pid ?? 0)).peakMiB);
      if (ready >= count && configured >= count) break;
      if (Date.now() - started > 30 * 60_000) throw new Error(`only ${ready} ready after 30 min`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const allReady = Date.now() - started;
    // Let the follow-up reconciles (triggered by the operator's own status writes) settle.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const text = await metricsText();
    const reconciles = metric(text, 'hermod_operator_reconcile_total');
    const byVerb = (verb: string) =>
      metric(text, 'hermod_operator_api_requests_total', (l) => l.includes(`verb="${verb}"`));
    const requests = {
      get: byVerb('get'),
      list: byVerb('list'),
      watch: byVerb('watch'),
      post: byVerb('post'),
      patch: byVerb('patch'),
      put: byVerb('put'),
      delete: byVerb('delete'),
    };
    const total = Object.values(requests).reduce((a, b) => a + b, 0);
    const events = metric(text, 'hermod_operator_api_requests_total', (l) => l.includes('resource="events"'));
    const end = await rssOf(operator.pid ?? 0);
    const result = {
      count,
      algorithm,
      workers: Number(values.workers),
      createSeconds: +(created / 1000).toFixed(1),
      allReadySeconds: +(allReady / 1000).toFixed(1),
      domainsPerSecond: +(count / (allReady / 1000)).toFixed(1),
      reconciles,
      reconcilesPerDomain: +(reconciles / count).toFixed(2),
      apiRequests: requests,
      apiRequestsPerReconcile: +(total / reconciles).toFixed(2),
      apiRequestsPerDomain: +(total / count).toFixed(2),
      apiRequestsPerDomainWithoutEvents: +((total - events) / count).toFixed(2),
      operatorRssMiB: { idle: idle.rssMiB, end: end.rssMiB, peak: Math.max(peak, end.peakMiB) },
    };
    say(JSON.stringify(result, null, 2));
    await nc.close();
    admin.close();
  } finally {
    await operator?.stop().catch(() => {});
    await nats.stop().catch(() => {});
    await plane.stop().catch(() => {});
    await pg?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** N MailUsers of one Ready MailDomain, from one password Secret: seconds until all are Ready. */
async function scaleMailUsers(
  admin: KubeClient,
  databaseUrl: string,
  operator: NodeServiceProcess,
  opsPort: number,
): Promise<void> {
  const base = '/apis/mail.hermod.dev/v1alpha1/namespaces/default';
  await admin.create(
    `${base}/maildomains`,
    {
      apiVersion: 'mail.hermod.dev/v1alpha1',
      kind: 'MailDomain',
      metadata: { name: 'users' },
      spec: { domain: 'users.scale.example', dkim: { algorithm: 'ed25519' } },
    },
    'bench',
  );
  for (;;) {
    const md = await admin.get<Md>(`${base}/maildomains/users`);
    if (md.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const plaintext = values.password === 'plaintext';
  await admin.create(
    '/api/v1/namespaces/default/secrets',
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'pw' },
      stringData: { password: plaintext ? 'bench-password-1' : await hashPassword('bench-password-1') },
    },
    'bench',
  );
  const pool = createPool({ connectionString: databaseUrl, max: 2 });
  await migrate(pool);
  const idle = await rssOf(operator.pid ?? 0);
  const cpuBefore = await cpuSecondsOf(operator.pid ?? 0);
  say(`creating ${count} MailUsers (password ${plaintext ? 'plaintext' : 'hash'}) with 32 concurrent POSTs`);
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const i = next++;
        await admin.create(
          `${base}/mailusers`,
          {
            apiVersion: 'mail.hermod.dev/v1alpha1',
            kind: 'MailUser',
            metadata: { name: `u${i}` },
            spec: {
              address: `u${i}@users.scale.example`,
              password: { secretRef: { name: 'pw' } },
              quota: '1Gi',
            },
          },
          'bench',
        );
      }
    }),
  );
  const created = Date.now() - started;
  say(`created in ${(created / 1000).toFixed(1)} s`);
  let peak = idle.peakMiB;
  let ready = 0;
  let inStore = 0;
  for (;;) {
    const list = await admin.list<{ items: Md[] }>(`${base}/mailusers`);
    ready = list.items.filter(
      (m) =>
        m.status?.observedGeneration === m.metadata.generation &&
        m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    inStore = (await new AccountStore(pool).list('users.scale.example')).length;
    peak = Math.max(peak, (await rssOf(operator.pid ?? 0)).peakMiB);
    if (ready >= count && inStore >= count) break;
    if (Date.now() - started > 30 * 60_000) throw new Error(`only ${ready} ready after 30 min`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const allReady = Date.now() - started;
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const reconciles = metric(text, 'hermod_operator_reconcile_total', (l) =>
    l.includes('controller="mailuser"'),
  );
  const requests = metric(text, 'hermod_operator_api_requests_total');
  // Where the requests went: per user, by verb and resource (status code summed).
  const requestsByKind: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('hermod_operator_api_requests_total{')) continue;
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(line)?.[1] ?? '';
    const what = `${label('verb')} ${label('resource')}`;
    requestsByKind[what] = +((requestsByKind[what] ?? 0) + Number(line.split(' ').pop()) / count).toFixed(2);
  }
  const reconcileSeconds = metric(text, 'hermod_operator_reconcile_duration_seconds_sum', (l) =>
    l.includes('controller="mailuser"'),
  );
  const end = await rssOf(operator.pid ?? 0);
  const operatorCpuSeconds = +((await cpuSecondsOf(operator.pid ?? 0)) - cpuBefore).toFixed(1);
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ')[0];
  say(
    JSON.stringify(
      {
        kind: 'mailusers',
        operatorCpuSeconds,
        machineLoadAverage: Number(load),
        count,
        password: plaintext ? 'plaintext' : 'hash',
        workers: Number(values.workers),
        createSeconds: +(created / 1000).toFixed(1),
        allReadySeconds: +(allReady / 1000).toFixed(1),
        usersPerSecond: +(count / (allReady / 1000)).toFixed(1),
        reconciles,
        reconcilesPerUser: +(reconciles / count).toFixed(2),
        apiRequestsPerUser: +(requests / count).toFixed(2),
        requestsPerUserByKind: requestsByKind,
        reconcileMsPerUser: +((reconcileSeconds * 1000) / count).toFixed(1),
        operatorRssMiB: { idle: idle.rssMiB, end: end.rssMiB, peak: Math.max(peak, end.peakMiB) },
      },
      null,
      2,
    ),
  );
  await pool.end();
}

await main();
