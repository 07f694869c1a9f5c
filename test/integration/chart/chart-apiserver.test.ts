// The chart against a real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager,
// built from Go modules by test/harness/kube-control-plane.ts): server-side dry-runs of the default
// and all-features renders, then real `helm install`s. The controller manager turns each Deployment into
// a ReplicaSet and Pods, and the namespace enforces the "restricted" Pod Security Standard, so a pod
// template the API server would refuse fails here. Pods stay Pending: no kubelet runs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, repositoryRoot } from '@hermod/local-infra';
import {
  startTestControlPlane,
  startTestNats,
  type TestControlPlane,
  type TestNats,
  testWorkdir,
} from '@hermod/test/harness';
import { bundleDeployables } from '../../../docker/bundle.js';
import { MailDomain } from '../../../operator/src/api/v1alpha1/maildomain.js';
import { expectedRecords } from '../../../operator/src/controller/dns-records.js';
import {
  allFeaturesValues,
  chartDir,
  componentNames,
  helm,
  type K8sObject,
  optionalApis,
  parseManifests,
  renderChartText,
} from './chart.js';
import { thirdPartyCrdsYaml } from './third-party-crds.js';

// biome-ignore lint/suspicious/noExplicitAny: manifests are walked field by field
type Any = any;

interface List<T> {
  items: T[];
}
interface ReplicaSet {
  metadata: {
    name: string;
    labels: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string }>;
  };
  spec: { replicas: number };
  status: { replicas?: number };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

describe('chart on a real API server', () => {
  let cp: TestControlPlane;
  let nats: TestNats;

  before(async () => {
    cp = await startTestControlPlane({ controllerManager: true });
    nats = await startTestNats();
    for (const ns of ['mail', 'mail-all', 'mail-dry']) {
      await cp.kubectlOk(['create', 'namespace', ns]);
      // The strictest Pod Security Standard: the API server refuses pods that do not meet it.
      await cp.kubectlOk(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted']);
    }
    // The real CRDs of cert-manager, the Prometheus Operator and KEDA, from their Go modules.
    const crds = await thirdPartyCrdsYaml();
    await cp.kubectlOk(['apply', '--server-side', '-f', '-'], { input: crds });
    await cp.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', '-f', '-'], { input: crds });
  });

  after(async () => {
    await cp?.stop();
    await nats?.stop();
  });

  test('server-side dry-run accepts the default render and the walk-through (kind) render', async () => {
    for (const valuesFiles of [[], [join(chartDir, 'ci/kind-values.yaml')]]) {
      const manifests = await renderChartText({ namespace: 'mail-dry', release: 'dry', valuesFiles });
      const result = await cp.kubectl(['apply', '--dry-run=server', '-n', 'mail-dry', '-f', '-'], {
        input: manifests,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stderr, /would violate PodSecurity|Warning/, result.stderr);
      const applied = result.stdout.trim().split('\n');
      assert.equal(applied.length, parseManifests(manifests).length, result.stdout);
      assert.ok(
        applied.every((l) => /\(server dry run\)$/.test(l)),
        result.stdout,
      );
    }
  });

  test('server-side dry-run accepts the all-features render (Certificate, ServiceMonitor, ScaledObject, HPAs)', async () => {
    const manifests = await renderChartText({
      namespace: 'mail-dry',
      release: 'dry-all',
      valuesFiles: [allFeaturesValues],
      apiVersions: optionalApis,
      // The MailDomain CRD is cluster-scoped and already covered by the default render.
      set: ['crds.install=false'],
    });
    const kinds = new Set(parseManifests(manifests).map((o) => o.kind));
    for (const kind of ['Certificate', 'ServiceMonitor', 'ScaledObject', 'HorizontalPodAutoscaler'])
      assert.ok(kinds.has(kind), kind);
    const result = await cp.kubectl(['apply', '--dry-run=server', '-n', 'mail-dry', '-f', '-'], {
      input: manifests,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /would violate PodSecurity|Warning/, result.stderr);
    // The real CRDs check field names: a misspelt one in each optional object is refused.
    for (const [field, typo] of [
      ['renewBefore:', 'renewBefor:'],
      ['scrapeTimeout:', 'scrapeTimout:'],
      ['cooldownPeriod:', 'cooldownPeriods:'],
    ] as const) {
      assert.ok(manifests.includes(field), field);
      const refused = await cp.kubectl(
        ['apply', '--dry-run=server', '--validate=strict', '-n', 'mail-dry', '-f', '-'],
        {
          input: manifests.replace(field, typo),
        },
      );
      assert.notEqual(refused.code, 0, `${typo} accepted`);
      assert.match(refused.stderr, new RegExp(`unknown field.*${typo.slice(0, -1)}`), refused.stderr);
    }
  });

  test('the API server refuses a broken render (the dry-run can fail)', async () => {
    const manifests = await renderChartText({ namespace: 'mail-dry', release: 'broken' });
    // A negative port is valid YAML and passes helm, but not the API server's validation.
    const broken = manifests.replace('containerPort: 2525', 'containerPort: -1');
    const result = await cp.kubectl(['apply', '--dry-run=server', '-n', 'mail-dry', '-f', '-'], {
      input: broken,
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /containerPort/);
    // And the namespace's Pod Security admission sees a weakened securityContext.
    const weak = await renderChartText({
      namespace: 'mail-dry',
      release: 'weak',
      set: ['containerSecurityContext.allowPrivilegeEscalation=true'],
    });
    const warned = await cp.kubectl(['apply', '--dry-run=server', '-n', 'mail-dry', '-f', '-'], {
      input: weak,
    });
    assert.match(warned.stderr, /would violate PodSecurity "restricted:latest": allowPrivilegeEscalation/);
  });

  test('helm install creates every Deployment, and the controller manager their ReplicaSets and Pods', async () => {
    const install = await helm([
      'install',
      'hermod',
      chartDir,
      '--namespace',
      'mail',
      '--kubeconfig',
      cp.kubeconfig,
      '--set',
      'mailHostname=mail.example.net',
      // The NATS the operator started below uses: one loopback nats-server.
      '--set',
      `nats.url=${nats.url}`,
      '--set',
      'nats.streamReplicas=1',
    ]);
    assert.equal(install.code, 0, install.stderr);
    // NOTES.txt: the DNS records and a first MailDomain.
    assert.match(install.stdout, /MX 10\s+mail\.example\.net\./);
    // The SPF record NOTES asks for is the one the operator lists in status for a local domain.
    const spf = expectedRecords(
      MailDomain.parse({ metadata: { name: 'd' }, spec: { domain: 'example.com' } }),
      [],
      [],
    ).find((r) => r.purpose === 'SPF')?.value;
    assert.ok(spf && install.stdout.includes(`TXT     "${spf}"`), `NOTES lists SPF ${spf}`);
    assert.match(install.stdout, /kind: MailDomain/);

    const deployments = await cp.getJson<List<K8sObject>>(['deployments', '-n', 'mail']);
    assert.deepEqual(
      deployments.items.map((d) => d.metadata.labels?.['app.kubernetes.io/component']).sort(),
      [...componentNames].sort(),
    );
    for (const d of deployments.items) assert.equal(d.spec.template.spec.containers[0].image, 'hermod:0.1.0');

    const replicaSets = await until(
      'a ReplicaSet with all its Pods for every Deployment',
      90_000,
      async () => {
        const sets = await cp.getJson<List<ReplicaSet>>(['replicasets', '-n', 'mail']);
        const complete = sets.items.filter(
          (rs) => rs.status.replicas === rs.spec.replicas && rs.spec.replicas > 0,
        );
        return complete.length === componentNames.length ? sets.items : undefined;
      },
    );
    for (const d of deployments.items) {
      const rs = replicaSets.find((r) =>
        r.metadata.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === d.metadata.name),
      );
      assert.ok(rs, `no ReplicaSet owned by ${d.metadata.name}`);
      assert.equal(rs.spec.replicas, d.spec.replicas);
    }
    const pods = await cp.getJson<List<K8sObject>>(['pods', '-n', 'mail']);
    const expectedPods = deployments.items.reduce((n, d) => n + Number(d.spec.replicas), 0);
    assert.equal(pods.items.length, expectedPods, 'every Pod passed admission (restricted Pod Security)');
    const events = await cp.kubectlOk([
      'get',
      'events',
      '-n',
      'mail',
      '--field-selector',
      'reason=FailedCreate',
      '-o',
      'name',
    ]);
    assert.equal(events.trim(), '', 'no ReplicaSet failed to create a Pod');
  });

  test('NOTES.txt tells the truth: its first MailDomain is accepted by the CRD', async () => {
    const status = await helm(['status', 'hermod', '--namespace', 'mail', '--kubeconfig', cp.kubeconfig]);
    const sample = /cat <<'YAML'[^\n]*\n([\s\S]*?)\n\s*YAML/.exec(status.stdout)?.[1];
    assert.ok(sample, status.stdout);
    const manifest = sample.replace(/^ {3}/gm, '');
    const result = await cp.kubectl(['apply', '--dry-run=server', '-n', 'mail', '-f', '-'], {
      input: manifest,
    });
    assert.equal(result.code, 0, `${result.stderr}\n${manifest}`);
    assert.match(result.stdout, /maildomain\.mail\.hermod\.dev\/example-com created \(server dry run\)/);
  });

  test('the operator image runs with its Deployment environment and the chart RBAC, and reconciles', async (t) => {
    // The operator bundle of the image, started the way its pod starts it: the Deployment's environment
    // (fieldRefs filled in as the kubelet would) and a token of the ServiceAccount the chart binds.
    const app = await testWorkdir('operator-image');
    await bundleDeployables(app, ['operator']);
    await symlink(join(repositoryRoot, 'node_modules'), join(app, 'node_modules'));
    const deployment = await cp.getJson<K8sObject>(['deployment', 'hermod-operator', '-n', 'mail']);
    const pod = deployment.spec.template.spec;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      KUBECONFIG: await cp.serviceAccountKubeconfig('mail', pod.serviceAccountName),
    };
    const opsPort = await freePort();
    for (const v of pod.containers[0].env as Array<{ name: string; value?: string; valueFrom?: Any }>) {
      const field = v.valueFrom?.fieldRef?.fieldPath;
      env[v.name] =
        v.name === 'OPS_PORT'
          ? String(opsPort)
          : field === 'metadata.name'
            ? 'hermod-operator-0'
            : field === 'metadata.namespace'
              ? 'mail'
              : v.value;
    }
    // No resolver reaches the internet here; Ready does not depend on DNS verification.
    env.DNS_VERIFY = 'false';
    const child = spawn(
      process.execPath,
      ['--enable-source-maps', 'dist/hermod.js', ...pod.containers[0].args],
      {
        cwd: app,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    // Ready, or exited: either way the operator's own output explains a failure.
    const started = await until('operator /readyz', 120_000, async () => {
      if (child.exitCode !== null) return 'exited';
      return (await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status === 200 ? 'ready' : undefined;
    }).catch((error: Error) => `${error.message}`);
    assert.equal(started, 'ready', `operator: ${started}\n${output.slice(-4000)}`);
    await cp.kubectlOk(['apply', '-n', 'mail', '-f', join(repositoryRoot, 'examples/maildomain-local.yaml')]);
    const waited = await cp.kubectl(
      ['wait', '-n', 'mail', '--for=condition=Ready', 'maildomain', '--all', '--timeout=90s'],
      { timeoutMs: 100_000 },
    );
    assert.equal(waited.code, 0, `${waited.stderr}\n${output.slice(-4000)}`);
    // Leader election used the Role the chart grants in the release namespace.
    const leases = await cp.kubectlOk(['get', 'leases', '-n', 'mail', '-o', 'name']);
    assert.match(leases, /lease/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output.slice(-4000));
  });

  test('helm install with all features discovers cert-manager, Prometheus Operator and KEDA', async () => {
    const install = await helm([
      'install',
      'hermod-all',
      chartDir,
      '--namespace',
      'mail-all',
      '--kubeconfig',
      cp.kubeconfig,
      '--values',
      allFeaturesValues,
      '--set',
      'crds.install=false',
    ]);
    assert.equal(install.code, 0, install.stderr);
    assert.doesNotMatch(install.stdout, /WARNING/, 'every optional API was found through discovery');
    for (const kind of [
      'certificates.cert-manager.io',
      'servicemonitors.monitoring.coreos.com',
      'scaledobjects.keda.sh',
      'hpa',
    ]) {
      const names = await cp.kubectlOk(['get', kind, '-n', 'mail-all', '-o', 'name']);
      assert.ok(names.trim().length > 0, `no ${kind} created`);
    }
  });

  test('the operator ServiceAccount can do what operator/config/rbac grants, and no more', async () => {
    const sa = 'system:serviceaccount:mail:hermod-operator';
    const can = async (verb: string, resource: string, namespace = 'mail') =>
      (await cp.kubectl(['auth', 'can-i', verb, resource, '-n', namespace, '--as', sa])).stdout.trim();
    assert.equal(await can('watch', 'maildomains.mail.hermod.dev', 'default'), 'yes');
    assert.equal(await can('patch', 'maildomains.mail.hermod.dev/status', 'default'), 'yes');
    for (const kind of ['mailusers', 'mailgroups']) {
      assert.equal(await can('watch', `${kind}.mail.hermod.dev`, 'default'), 'yes');
      assert.equal(await can('patch', `${kind}.mail.hermod.dev/status`, 'default'), 'yes');
      assert.equal(await can('delete', `${kind}.mail.hermod.dev`, 'default'), 'no');
    }
    assert.equal(await can('create', 'secrets', 'default'), 'yes');
    assert.equal(await can('update', 'leases.coordination.k8s.io'), 'yes');
    assert.equal(
      await can('update', 'leases.coordination.k8s.io', 'default'),
      'no',
      'the Lease Role is namespaced',
    );
    assert.equal(await can('create', 'deployments.apps'), 'no');
    assert.equal(await can('delete', 'maildomains.mail.hermod.dev', 'default'), 'no');
    // The services' ServiceAccount has no permissions at all.
    const services = 'system:serviceaccount:mail:hermod';
    const result = await cp.kubectl(['auth', 'can-i', 'get', 'secrets', '-n', 'mail', '--as', services]);
    assert.equal(result.stdout.trim(), 'no');
  });

  test('a second release (crds.install left on) skips the CRD the first one owns, cleanly', async () => {
    const install = await helm([
      'install',
      'hermod-second',
      chartDir,
      '--namespace',
      'mail-second',
      '--create-namespace',
      '--kubeconfig',
      cp.kubeconfig,
      '--set',
      'postgresql.url=postgres://u:p@db:5432/hermod',
    ]);
    assert.equal(install.code, 0, install.stderr);
    const manifest = await helm([
      'get',
      'manifest',
      'hermod-second',
      '--namespace',
      'mail-second',
      '--kubeconfig',
      cp.kubeconfig,
    ]);
    assert.doesNotMatch(manifest.stdout, /kind: CustomResourceDefinition/);
    const crd = await cp.getJson<K8sObject>(['crd', 'maildomains.mail.hermod.dev']);
    assert.equal(
      crd.metadata.annotations?.['meta.helm.sh/release-name'],
      'hermod',
      "still the first release's",
    );
    const uninstall = await helm([
      'uninstall',
      'hermod-second',
      '--namespace',
      'mail-second',
      '--kubeconfig',
      cp.kubeconfig,
      '--wait',
    ]);
    assert.equal(uninstall.code, 0, uninstall.stderr);
    await cp.kubectlOk(['get', 'crd', 'maildomains.mail.hermod.dev']);
  });

  test('pods that mount the TLS Secret carry its checksum, so a new certificate rolls them on upgrade', async () => {
    await cp.kubectlOk(['create', 'namespace', 'mail-tls']);
    const setSecret = async (crt: string) => {
      const yaml = await cp.kubectlOk([
        'create',
        'secret',
        'generic',
        'hermod-tls',
        '-n',
        'mail-tls',
        `--from-literal=tls.crt=${crt}`,
        '--from-literal=tls.key=key',
        '--dry-run=client',
        '-o',
        'yaml',
      ]);
      await cp.kubectlOk(['apply', '-f', '-'], { input: yaml });
    };
    const checksums = async () => {
      const rendered = await helm([
        'install',
        'hermod-tls',
        chartDir,
        '--namespace',
        'mail-tls',
        '--kubeconfig',
        cp.kubeconfig,
        '--dry-run=server',
        '--set',
        'crds.install=false',
      ]);
      assert.equal(rendered.code, 0, rendered.stderr);
      const deployments = parseManifests(
        rendered.stdout.slice(rendered.stdout.indexOf('---')).split('\nNOTES:')[0] ?? '',
      ).filter((o) => o.kind === 'Deployment');
      return new Map(
        deployments.map((d) => [
          d.metadata.labels?.['app.kubernetes.io/component'],
          d.spec.template.metadata.annotations?.['checksum/tls-secret'],
        ]),
      );
    };
    await setSecret('first');
    const first = await checksums();
    await setSecret('second');
    const second = await checksums();
    for (const component of ['msa', 'mx', 'imap']) {
      assert.match(first.get(component) ?? '', /^[0-9a-f]{64}$/, component);
      assert.notEqual(second.get(component), first.get(component), `${component} rolls`);
    }
    assert.equal(first.get('routing'), undefined, 'routing does not mount the TLS Secret');
  });

  test('uninstall keeps the MailDomain CRD (helm.sh/resource-policy: keep)', async () => {
    const result = await helm(['uninstall', 'hermod', '--namespace', 'mail', '--kubeconfig', cp.kubeconfig]);
    assert.equal(result.code, 0, result.stderr);
    const crd = await cp.kubectl(['get', 'crd', 'maildomains.mail.hermod.dev', '-o', 'name']);
    assert.equal(crd.code, 0, 'the CRD (and every MailDomain) survives helm uninstall');
  });
});
