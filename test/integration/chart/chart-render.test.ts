// The Helm chart, rendered by a real helm (built from Go modules): lint --strict, default and
// all-features renders, and the properties every Deployment must have (probes on the ops port,
// resources, a locked-down securityContext, a PodDisruptionBudget, graceful shutdown), the image
// and ports each service's own configuration expects, RBAC equal to the operator's, and values
// that are validated by values.schema.json and documented in the README.
import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { repositoryRoot } from '@hermod/local-infra';
import { outboundEnv } from '@hermod/outbound-mta';
import { consumers } from '@hermod/pipeline';
import { parse, parseAllDocuments } from 'yaml';
import { deployables } from '../../../docker/deployables.js';
import {
  allFeaturesValues,
  type ComponentName,
  chartDir,
  componentNames,
  expectedComponents,
  helm,
  type K8sObject,
  kubeVersion,
  optionalApis,
  renderChart,
  renderChartText,
} from './chart.js';

type EnvVar = { name: string; value?: string; valueFrom?: unknown };
// biome-ignore lint/suspicious/noExplicitAny: manifests are walked field by field
type Any = any;

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const component = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/component'] ?? '';
const deploymentOf = (objects: K8sObject[], name: ComponentName) => {
  const found = byKind(objects, 'Deployment').find((d) => component(d) === name);
  assert.ok(found, `no Deployment for ${name}`);
  return found;
};
const containerOf = (deployment: K8sObject) => {
  const containers = deployment.spec.template.spec.containers as Any[];
  assert.equal(containers.length, 1, `${deployment.metadata.name} has one container`);
  return containers[0];
};
const envOf = (container: Any) => new Map((container.env as EnvVar[]).map((e) => [e.name, e]));
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
/** A LabelSelector (matchLabels and matchExpressions) evaluated the way the API server does. */
const selects = (
  selector: {
    matchLabels?: Record<string, string>;
    matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
  },
  labels: Record<string, string>,
) =>
  matches(selector.matchLabels ?? {}, labels) &&
  (selector.matchExpressions ?? []).every((e) => {
    const value = labels[e.key];
    if (e.operator === 'In') return value !== undefined && (e.values ?? []).includes(value);
    if (e.operator === 'NotIn') return value === undefined || !(e.values ?? []).includes(value);
    if (e.operator === 'Exists') return value !== undefined;
    if (e.operator === 'DoesNotExist') return value === undefined;
    throw new Error(`unknown selector operator ${e.operator}`);
  });

test('helm lint --strict passes with default and with all-features values', async () => {
  for (const values of [[], ['--values', allFeaturesValues]]) {
    const result = await helm(['lint', chartDir, '--strict', '--kube-version', kubeVersion, ...values]);
    assert.equal(result.code, 0, `helm lint ${values.join(' ')}:\n${result.stdout}${result.stderr}`);
  }
});

/** Checks every Deployment in a render; returns nothing, fails on the first broken property. */
function checkDeployments(
  objects: K8sObject[],
  values: { image: string; imageOf?: Partial<Record<ComponentName, string>> },
) {
  const pdbs = byKind(objects, 'PodDisruptionBudget');
  const deployments = byKind(objects, 'Deployment');
  assert.deepEqual(deployments.map(component).sort(), [...componentNames].sort());
  for (const name of componentNames) {
    const d = deploymentOf(objects, name);
    const pod = d.spec.template.spec;
    const c = containerOf(d);
    const env = envOf(c);
    const where = `Deployment ${d.metadata.name}`;

    assert.equal(c.image, values.imageOf?.[name] ?? values.image, `${where} image`);
    assert.deepEqual(c.args, [name], `${where} runs its own deployable`);

    // Probes: the services' ops endpoints.
    const ops = (c.ports as Any[]).find((p) => p.name === 'ops');
    assert.equal(ops?.containerPort, 9090, `${where} ops port`);
    assert.equal(env.get('OPS_PORT')?.value, '9090');
    assert.equal(env.get('OPS_HOST')?.value, '0.0.0.0');
    for (const [probe, path] of [
      ['startupProbe', '/healthz'],
      ['livenessProbe', '/healthz'],
      ['readinessProbe', '/readyz'],
    ] as const) {
      assert.equal(c[probe]?.httpGet?.path, path, `${where} ${probe}`);
      assert.equal(c[probe]?.httpGet?.port, 'ops', `${where} ${probe} port`);
    }

    // Resources.
    assert.ok(c.resources?.requests?.cpu, `${where} cpu request`);
    assert.ok(c.resources?.requests?.memory, `${where} memory request`);
    assert.ok(c.resources?.limits?.memory, `${where} memory limit`);

    // Security.
    assert.equal(pod.securityContext?.runAsNonRoot, true, `${where} runAsNonRoot`);
    assert.ok(Number(pod.securityContext?.runAsUser) > 0, `${where} numeric non-root runAsUser`);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where} readOnlyRootFilesystem`);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where} allowPrivilegeEscalation`);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${where} drops ALL capabilities`);
    assert.ok(
      (c.volumeMounts as Any[]).some((m) => m.mountPath === '/tmp'),
      `${where} has a writable /tmp under a read-only root`,
    );
    assert.equal(pod.automountServiceAccountToken, name === 'operator', `${where} service account token`);
    assert.equal(pod.enableServiceLinks, false);
    assert.ok(pod.topologySpreadConstraints?.length > 0, `${where} spreads its pods over nodes`);

    // A PodDisruptionBudget selecting exactly these pods.
    const podLabels = d.spec.template.metadata.labels as Record<string, string>;
    const pdb = pdbs.find((p) => matches(p.spec.selector.matchLabels, podLabels));
    assert.ok(pdb, `${where} has a PodDisruptionBudget`);
    assert.ok(matches(d.spec.selector.matchLabels, podLabels), `${where} selector matches its pods`);

    // Graceful scale-down: preStop pause + the service's grace fit in the pod's grace period.
    const preStop = c.lifecycle?.preStop?.exec?.command as string[] | undefined;
    const pause = preStop ? Number(preStop[1]) : 0;
    if (['msa', 'mx', 'imap', 'routing'].includes(name)) assert.ok(pause > 0, `${where} pauses in preStop`);
    const graceMs = Number(env.get('SHUTDOWN_GRACE_MS')?.value);
    assert.ok(graceMs > 0, `${where} SHUTDOWN_GRACE_MS`);
    assert.ok(
      pause * 1000 + graceMs < pod.terminationGracePeriodSeconds * 1000,
      `${where}: preStop ${pause}s + SHUTDOWN_GRACE_MS ${graceMs} must end before terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds}`,
    );
    if (name === 'outbound-mta') {
      // A stopping worker waits for the transactions on the wire; the slowest answer it waits for
      // is the reply to the final dot (RFC 5321 4.5.3.2.6).
      const finalDotTimeout = outboundEnv.shape.OUTBOUND_FINAL_DOT_TIMEOUT.parse(
        env.get('OUTBOUND_FINAL_DOT_TIMEOUT')?.value,
      );
      assert.ok(
        graceMs > finalDotTimeout,
        `${where}: SHUTDOWN_GRACE_MS ${graceMs} must cover OUTBOUND_FINAL_DOT_TIMEOUT ${finalDotTimeout}`,
      );
    }

    // Listeners: container ports and the env telling the service to use them.
    const expected = expectedComponents[name].ports as Record<string, readonly [number, number]>;
    const containerPorts = (c.ports as Any[])
      .filter((p) => p.name !== 'ops' && !p.name.endsWith('-proxy'))
      .map((p) => p.containerPort)
      .sort();
    assert.deepEqual(
      containerPorts,
      Object.values(expected)
        .map(([cp]) => cp)
        .sort(),
      `${where} container ports`,
    );
    for (const [variable, [containerPort]] of Object.entries(expected)) {
      assert.equal(env.get(variable)?.value, String(containerPort), `${where} ${variable}`);
      assert.ok(containerPort > 1024, 'non-root containers bind unprivileged ports');
    }
  }
}

describe('default values', () => {
  let objects: K8sObject[];
  before(async () => {
    objects = await renderChart();
  });

  test('every Deployment has probes, resources, securityContext, a PDB and graceful shutdown', async () => {
    // The default image is the one the Dockerfile builds, tagged with the release being installed.
    const chart = parse(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const root = JSON.parse(await readFile(join(repositoryRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(chart.appVersion, root.version, "Chart.yaml appVersion is the repository's version");
    checkDeployments(objects, { image: `hermod:${chart.appVersion}` });
  });

  test('Services publish the standard ports on the container ports, keeping the client address', () => {
    const services = byKind(objects, 'Service');
    for (const name of componentNames) {
      const expected = Object.values(
        expectedComponents[name].ports as Record<string, readonly [number, number]>,
      );
      const service = services.find((s) => component(s) === name);
      if (expected.length === 0) {
        assert.equal(service, undefined, `${name} has no listener, so no Service`);
        continue;
      }
      assert.ok(service, `Service for ${name}`);
      const d = deploymentOf(objects, name);
      assert.ok(
        matches(service.spec.selector, d.spec.template.metadata.labels),
        `${name} Service selects its pods`,
      );
      const named = new Map((containerOf(d).ports as Any[]).map((p) => [p.name, p.containerPort]));
      const published = (service.spec.ports as Any[]).map((p) => [p.port, named.get(p.targetPort)]).sort();
      assert.deepEqual(published, expected.map(([cp, sp]) => [sp, cp]).sort(), `${name} Service ports`);
      if (name === 'routing') assert.equal(service.spec.type, 'ClusterIP');
      else {
        assert.equal(service.spec.type, 'LoadBalancer', `${name} is public`);
        assert.equal(service.spec.externalTrafficPolicy, 'Local', `${name} keeps client IPs`);
      }
    }
  });

  test('NetworkPolicies: mail ports open, routing gRPC only from its callers, ops only from scrapers', async () => {
    const policies = byKind(objects, 'NetworkPolicy');
    assert.deepEqual(policies.map(component).sort(), [...componentNames].sort());
    const routing = policies.find((p) => component(p) === 'routing');
    const grpcRule = ((routing?.spec.ingress ?? []) as Any[]).find((r) =>
      r.ports.some((p: Any) => p.port === 7001),
    );
    // The pods the rule admits are exactly those told where routing is (ROUTING_GRPC_ADDRESS).
    const callers = componentNames.filter((name) =>
      envOf(containerOf(deploymentOf(objects, name))).has('ROUTING_GRPC_ADDRESS'),
    );
    assert.deepEqual([...callers].sort(), ['msa', 'mx']);
    assert.equal(grpcRule.from.length, 1);
    const admitted = componentNames.filter((name) =>
      selects(grpcRule.from[0].podSelector, deploymentOf(objects, name).spec.template.metadata.labels),
    );
    assert.deepEqual(admitted.sort(), [...callers].sort(), 'pods admitted to routing gRPC');
    assert.ok(
      !selects(grpcRule.from[0].podSelector, {
        ...deploymentOf(objects, 'msa').spec.template.metadata.labels,
        'app.kubernetes.io/instance': 'other-release',
      }),
      "another release's msa is not admitted",
    );
    // Without callers nobody may reach the gRPC port.
    const alone = await renderChart({ set: ['msa.enabled=false', 'mx.enabled=false'] });
    const lonely = byKind(alone, 'NetworkPolicy').find((p) => component(p) === 'routing');
    assert.ok(lonely);
    assert.ok(
      !((lonely.spec.ingress ?? []) as Any[]).some((r) => r.ports.some((p: Any) => p.port === 7001)),
      'routing gRPC closed when msa and mx are disabled',
    );
    const mx = policies.find((p) => component(p) === 'mx');
    const smtpRule = ((mx?.spec.ingress ?? []) as Any[]).find((r) =>
      r.ports.some((p: Any) => p.port === 2525),
    );
    assert.equal(smtpRule.from, undefined, 'anyone may connect to port 25');
    for (const policy of policies) {
      const opsRule = (policy.spec.ingress as Any[]).find((r) => r.ports.some((p: Any) => p.port === 9090));
      assert.ok(opsRule?.from?.length > 0, `${policy.metadata.name}: ops port restricted`);
    }
  });

  test('the MailDomain, MailUser and MailGroup CRDs are installed behind crds.install and kept on uninstall', async () => {
    for (const plural of ['maildomains', 'mailusers', 'mailgroups']) {
      const crd = byKind(objects, 'CustomResourceDefinition').find(
        (c) => c.metadata.name === `${plural}.mail.hermod.dev`,
      );
      assert.ok(crd, `templates/crd/${plural}.yaml renders the CRD`);
      assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
      // Generated from the operator's single source: the chart's copy carries the same spec.
      const source = join(repositoryRoot, `operator/config/crd/mail.hermod.dev_${plural}.yaml`);
      const generated = parse(await readFile(source, 'utf8')) as K8sObject;
      assert.deepEqual(crd.spec, generated.spec, 'chart CRD differs from operator/config/crd: regenerate it');
    }
    const without = await renderChart({ set: ['crds.install=false'] });
    assert.equal(byKind(without, 'CustomResourceDefinition').length, 0);
  });

  test('optional APIs are left out (not half-applied) when the cluster does not serve them', async () => {
    const text = await renderChartText({ valuesFiles: [allFeaturesValues] });
    const kinds = new Set(parseAllDocuments(text).map((d) => (d.toJS() as K8sObject | null)?.kind));
    for (const kind of ['Certificate', 'ServiceMonitor', 'ScaledObject']) assert.ok(!kinds.has(kind), kind);
    // Without KEDA, outbound-mta keeps a fixed replica count.
    const objects = parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
    assert.equal(deploymentOf(objects, 'outbound-mta').spec.replicas, 2);
  });

  test('routing recognises the MX of auto domains by mailHostname unless told other names', () => {
    const routing = envOf(containerOf(deploymentOf(objects, 'routing')));
    assert.equal(routing.get('ROUTING_MX_NAMES')?.value, 'mail.example.com');
    assert.equal(routing.has('ROUTING_SRS_SECRET'), false);
    assert.equal(envOf(containerOf(deploymentOf(objects, 'mda'))).has('MDA_SRS_SECRET'), false);
  });
});

describe('all-features values', () => {
  let objects: K8sObject[];
  before(async () => {
    objects = await renderChart({ valuesFiles: [allFeaturesValues], apiVersions: optionalApis });
  });

  test('every Deployment still has probes, resources, securityContext, a PDB and graceful shutdown', () => {
    checkDeployments(objects, { image: 'registry.example.com/hermod/hermod:0.1.0' });
  });

  test('cert-manager Certificate writes the Secret the TLS listeners mount', () => {
    // The Ingresses name their own tls here: the mail host names' Certificate is the only one.
    const certificates = byKind(objects, 'Certificate');
    assert.equal(certificates.length, 1);
    const [cert] = certificates;
    assert.equal(cert?.spec.secretName, 'hermod-tls');
    assert.deepEqual(cert?.spec.dnsNames, ['mail.example.org', 'smtp.example.org', 'imap.example.org']);
    assert.deepEqual(cert?.spec.issuerRef, {
      name: 'letsencrypt',
      kind: 'ClusterIssuer',
      group: 'cert-manager.io',
    });
    for (const name of ['msa', 'mx', 'imap'] as const) {
      const d = deploymentOf(objects, name);
      const volume = (d.spec.template.spec.volumes as Any[]).find((v) => v.name === 'tls');
      assert.equal(volume?.secret?.secretName, 'hermod-tls', `${name} mounts the certificate`);
      const env = envOf(containerOf(d));
      assert.equal(env.get('TLS_CERT_FILE')?.value, '/etc/hermod/tls/tls.crt');
      assert.equal(env.get('TLS_KEY_FILE')?.value, '/etc/hermod/tls/tls.key');
    }
  });

  test('cert-manager perHostname: a Certificate per mail host name, mounted by msa, mx and imap under TLS_SNI_DIR', async () => {
    const rendered = await renderChart({
      valuesFiles: [allFeaturesValues],
      apiVersions: optionalApis,
      set: [
        'tls.certManager.perHostname=true',
        'tls.certManager.dnsNames={mail.customer-a.example,mail.customer-b.example,*.customer-c.example}',
      ],
    });
    const bySecret = new Map(byKind(rendered, 'Certificate').map((c) => [c.spec.secretName as string, c]));
    // The default certificate (clients without SNI) names mailHostname only.
    assert.deepEqual(bySecret.get('hermod-tls')?.spec.dnsNames, ['mail.example.org']);
    const hosts = {
      'mail.customer-a.example': 'hermod-mail-customer-a-example-tls',
      'mail.customer-b.example': 'hermod-mail-customer-b-example-tls',
      '*.customer-c.example': 'hermod-wildcard-customer-c-example-tls',
    };
    for (const [host, secretName] of Object.entries(hosts)) {
      const cert = bySecret.get(secretName);
      assert.deepEqual(cert?.spec.dnsNames, [host], `${secretName} is the Certificate of ${host}`);
      assert.equal(cert?.metadata.name, secretName);
      assert.deepEqual(cert?.spec.issuerRef, bySecret.get('hermod-tls')?.spec.issuerRef);
      assert.equal(cert?.spec.privateKey.rotationPolicy, 'Always');
    }
    for (const name of ['msa', 'mx', 'imap'] as const) {
      const d = deploymentOf(rendered, name);
      const container = containerOf(d);
      const env = envOf(container);
      assert.equal(env.get('TLS_SNI_DIR')?.value, '/etc/hermod/tls-sni', name);
      assert.equal(env.get('TLS_SNI_MAX_HOSTS')?.value, '3', name);
      assert.equal(env.get('TLS_CERT_FILE')?.value, '/etc/hermod/tls/tls.crt', name);
      const volumes = new Map((d.spec.template.spec.volumes as Any[]).map((v) => [v.name as string, v]));
      const mounted = new Map(
        (container.volumeMounts as Any[]).map((m) => [
          m.mountPath as string,
          volumes.get(m.name)?.secret?.secretName,
        ]),
      );
      for (const [host, secretName] of Object.entries(hosts))
        assert.equal(mounted.get(`/etc/hermod/tls-sni/${host}`), secretName, `${name} mounts ${host}`);
      assert.equal(mounted.get('/etc/hermod/tls'), 'hermod-tls', `${name} mounts the default certificate`);
    }
    // Services without TLS listeners get neither the mounts nor the setting.
    const mda = containerOf(deploymentOf(rendered, 'mda'));
    assert.equal(envOf(mda).get('TLS_SNI_DIR'), undefined);
  });

  test('cert-manager: a Certificate per Ingress host name without tls of its own, served by its Ingress', async () => {
    const rendered = await renderChart({
      valuesFiles: [allFeaturesValues],
      apiVersions: optionalApis,
      set: ['routing.mtaSts.ingress.tls=null', 'routing.clientConfig.ingress.tls=null'],
    });
    const certificates = byKind(rendered, 'Certificate');
    const bySecret = new Map(certificates.map((c) => [c.spec.secretName as string, c]));
    // The mail host names stay on the one Secret msa, mx and imap mount (one listener, one certificate).
    assert.deepEqual(bySecret.get('hermod-tls')?.spec.dnsNames, [
      'mail.example.org',
      'smtp.example.org',
      'imap.example.org',
    ]);
    const webHosts = [
      'mta-sts.example.com',
      'mta-sts.example.org',
      'autoconfig.example.com',
      'autodiscover.example.com',
    ];
    assert.equal(certificates.length, 1 + webHosts.length);
    const served = new Map<string, string>();
    for (const ingress of byKind(rendered, 'Ingress'))
      for (const entry of (ingress.spec.tls ?? []) as Array<{ hosts: string[]; secretName: string }>)
        for (const host of entry.hosts) served.set(host, entry.secretName);
    for (const host of webHosts) {
      const secretName = served.get(host);
      assert.ok(secretName, `an Ingress serves ${host} over TLS`);
      const cert = bySecret.get(secretName);
      assert.deepEqual(cert?.spec.dnsNames, [host], `${secretName} is the Certificate of ${host}`);
      assert.deepEqual(cert?.spec.issuerRef, bySecret.get('hermod-tls')?.spec.issuerRef);
      assert.equal(cert?.spec.privateKey.rotationPolicy, 'Always');
    }
    // Switched off, the Ingresses go without tls and no web Certificate is made.
    const off = await renderChart({
      valuesFiles: [allFeaturesValues],
      apiVersions: optionalApis,
      set: [
        'routing.mtaSts.ingress.tls=null',
        'routing.clientConfig.ingress.tls=null',
        'tls.certManager.ingressHosts=false',
      ],
    });
    assert.equal(byKind(off, 'Certificate').length, 1);
    for (const ingress of byKind(off, 'Ingress')) assert.equal(ingress.spec.tls, undefined);
  });

  test('KEDA scales outbound-mta on the mail due (Prometheus) and the lag of its consumer; HPAs scale the others', async () => {
    const [scaled] = byKind(objects, 'ScaledObject');
    assert.equal(scaled?.spec.scaleTargetRef.name, deploymentOf(objects, 'outbound-mta').metadata.name);
    const [due, lag] = scaled?.spec.triggers ?? [];
    // docs/operations.md: every replica reports the queue-wide value, so max() of it.
    assert.equal(due.type, 'prometheus');
    assert.equal(due.metadata.query, 'max(hermod_outbound_queue_due)');
    assert.equal(due.metadata.serverAddress, 'http://prometheus-operated.monitoring.svc:9090');
    assert.equal(due.metadata.threshold, '200');
    // A gauge outbound-mta really exports.
    const metrics = await readFile(join(repositoryRoot, 'services/outbound-mta/src/metrics.ts'), 'utf8');
    const metric = /\b(hermod_[a-z_]+)\b/.exec(due.metadata.query)?.[1];
    assert.ok(metric && metrics.includes(`name: '${metric}'`), `${metric} is not an outbound-mta metric`);
    assert.equal(lag.type, 'nats-jetstream');
    // The stream and durable consumer outbound-mta really pulls from (@hermod/pipeline).
    assert.equal(lag.metadata.stream, consumers.outboundMta.stream);
    assert.equal(lag.metadata.consumer, consumers.outboundMta.durable);
    assert.equal(
      deploymentOf(objects, 'outbound-mta').spec.replicas,
      undefined,
      'KEDA owns the replica count',
    );
    const hpas = byKind(objects, 'HorizontalPodAutoscaler');
    assert.deepEqual(hpas.map(component).sort(), ['mda', 'msa', 'mx', 'routing']);
    for (const hpa of hpas) {
      const d = deploymentOf(objects, component(hpa) as ComponentName);
      assert.equal(hpa.spec.scaleTargetRef.name, d.metadata.name);
      assert.equal(d.spec.replicas, undefined, `${d.metadata.name}: the HPA owns the replica count`);
    }
  });

  test('ServiceMonitor scrapes /metrics of every component through the ops Service', () => {
    const [monitor] = byKind(objects, 'ServiceMonitor');
    assert.equal(monitor?.metadata.labels?.release, 'prometheus');
    assert.equal(monitor?.spec.endpoints[0].path, '/metrics');
    const ops = byKind(objects, 'Service').find((s) =>
      matches(monitor?.spec.selector.matchLabels, s.metadata.labels ?? {}),
    );
    assert.ok(ops, 'a Service matches the ServiceMonitor');
    for (const name of componentNames) {
      assert.ok(matches(ops.spec.selector, deploymentOf(objects, name).spec.template.metadata.labels), name);
    }
  });

  test('external NATS and PostgreSQL come from Secrets; scheduling settings reach the pods', () => {
    const secret = byKind(objects, 'Secret')[0];
    assert.match(secret?.stringData?.url ?? '', /^postgres:\/\//);
    for (const name of componentNames) {
      const env = envOf(containerOf(deploymentOf(objects, name)));
      assert.deepEqual(env.get('NATS_URL')?.valueFrom, { secretKeyRef: { name: 'hermod-nats', key: 'url' } });
      // The operator too: MailUser and MailGroup are reconciled into the accounts store.
      assert.deepEqual(env.get('DATABASE_URL')?.valueFrom, {
        secretKeyRef: { name: secret?.metadata.name, key: 'url' },
      });
    }
    const msa = deploymentOf(objects, 'msa').spec.template.spec;
    assert.deepEqual(msa.nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.equal(msa.tolerations[0].key, 'mail');
    assert.equal(msa.topologySpreadConstraints[0].topologyKey, 'topology.kubernetes.io/zone');
    assert.ok(deploymentOf(objects, 'mx').spec.template.spec.affinity.podAntiAffinity);
    const routing = envOf(containerOf(deploymentOf(objects, 'routing')));
    assert.equal(routing.get('ROUTING_MX_NAMES')?.value, 'mx1.example.org,mx2.example.org');
    assert.deepEqual(routing.get('ROUTING_SRS_SECRET')?.valueFrom, {
      secretKeyRef: { name: 'hermod-srs', key: 'secret' },
    });
    // mda signs the SRS senders of Sieve redirects with the same key, so routing reverses bounces to them.
    const mda = envOf(containerOf(deploymentOf(objects, 'mda')));
    assert.deepEqual(mda.get('MDA_SRS_SECRET')?.valueFrom, {
      secretKeyRef: { name: 'hermod-srs', key: 'secret' },
    });
    assert.equal(mda.get('MDA_HOSTNAME')?.value, 'mail.example.org');
  });

  test('imap and msa behind PROXY protocol: 143/993 and 587/465 go to the PROXY listeners, with the trusted CIDRs', async () => {
    const imap = containerOf(deploymentOf(objects, 'imap'));
    const env = envOf(imap);
    assert.equal(env.get('IMAP_PROXY_PORT')?.value, '2144');
    assert.equal(env.get('IMAPS_PROXY_PORT')?.value, '2994');
    assert.equal(env.get('IMAP_PROXY_TRUSTED_CIDRS')?.value, '10.0.0.0/8,fd00::/8');
    const service = byKind(objects, 'Service').find((s) => component(s) === 'imap');
    assert.deepEqual(
      ((service?.spec.ports ?? []) as Any[]).map((p) => [p.port, p.targetPort]),
      [
        [143, 'imap-proxy'],
        [993, 'imaps-proxy'],
        [110, 'pop3'],
        [995, 'pop3s'],
        [4190, 'managesieve'],
      ],
    );
    const policy = byKind(objects, 'NetworkPolicy').find((p) => component(p) === 'imap');
    const publicPorts = ((policy?.spec.ingress ?? []) as Any[])[0].ports.map((p: Any) => p.port);
    assert.ok(publicPorts.includes(2144) && publicPorts.includes(2994));
    const msaObjects = await renderChart({
      set: ['msa.service.proxyProtocol=true', 'msa.service.proxyTrustedCidrs={192.168.0.0/16}'],
    });
    const msa = envOf(containerOf(deploymentOf(msaObjects, 'msa')));
    assert.equal(msa.get('MSA_PROXY_SUBMISSION_PORT')?.value, '2588');
    assert.equal(msa.get('MSA_PROXY_SUBMISSIONS_PORT')?.value, '2466');
    assert.equal(msa.get('MSA_PROXY_TRUSTED_CIDRS')?.value, '192.168.0.0/16');
    const msaService = byKind(msaObjects, 'Service').find((s) => component(s) === 'msa');
    assert.deepEqual(
      ((msaService?.spec.ports ?? []) as Any[]).map((p) => [p.port, p.targetPort]),
      [
        [587, 'sub-proxy'],
        [465, 'subs-proxy'],
      ],
    );
    await assert.rejects(
      renderChartText({ set: ['msa.service.proxyTrustedCidrs={not-a-cidr}'] }),
      /proxyTrustedCidrs/,
    );
  });

  test('mx behind PROXY protocol: port 25 goes to the listener that reads the PROXY header', () => {
    const mx = containerOf(deploymentOf(objects, 'mx'));
    assert.ok((mx.ports as Any[]).some((p) => p.name === 'smtp-proxy' && p.containerPort === 2526));
    assert.equal(envOf(mx).get('MX_PROXY_PORT')?.value, '2526');
    const service = byKind(objects, 'Service').find((s) => component(s) === 'mx');
    assert.deepEqual(
      ((service?.spec.ports ?? []) as Any[]).map((p) => [p.port, p.targetPort]),
      [[25, 'smtp-proxy']],
    );
    const policy = byKind(objects, 'NetworkPolicy').find((p) => component(p) === 'mx');
    assert.ok(
      ((policy?.spec.ingress ?? []) as Any[]).some(
        (r) => !r.from && r.ports.some((p: Any) => p.port === 2526),
      ),
    );
    assert.equal(
      byKind(objects, 'PodDisruptionBudget').find((p) => component(p) === 'msa')?.spec.minAvailable,
      2,
    );
  });
});

describe('MTA-STS policy hosting', () => {
  test('routing publishes its policy listener on port 80; the Ingress routes mta-sts.<domain> hosts to it', async () => {
    const objects = await renderChart({ valuesFiles: [allFeaturesValues] });
    const service = byKind(objects, 'Service').find((s) => component(s) === 'routing');
    assert.ok(
      ((service?.spec.ports ?? []) as Any[]).some((p) => p.port === 80 && p.targetPort === 'mta-sts'),
      'routing Service port 80 -> mta-sts',
    );
    const ingresses = byKind(objects, 'Ingress');
    assert.equal(ingresses.length, 2);
    const ingress = ingresses.find((i) => i.metadata.name.endsWith('-mta-sts')) as Any;
    assert.equal(ingress.spec.ingressClassName, 'nginx');
    assert.deepEqual(ingress.spec.tls, [
      { secretName: 'mta-sts-tls', hosts: ['mta-sts.example.com', 'mta-sts.example.org'] },
    ]);
    assert.deepEqual(
      (ingress.spec.rules as Any[]).map((r) => r.host),
      ['mta-sts.example.com', 'mta-sts.example.org'],
    );
    for (const rule of ingress.spec.rules as Any[]) {
      assert.deepEqual(rule.http.paths, [
        {
          path: '/.well-known/mta-sts.txt',
          pathType: 'Exact',
          backend: { service: { name: service?.metadata.name, port: { name: 'mta-sts' } } },
        },
      ]);
    }
    // The policy port is reachable from webFrom (the Ingress controller), not only from routing's gRPC callers.
    const policy = byKind(objects, 'NetworkPolicy').find((p) => component(p) === 'routing');
    const webRule = ((policy?.spec.ingress ?? []) as Any[]).find((r) =>
      r.ports.some((p: Any) => p.port === 8080),
    );
    assert.deepEqual(webRule?.from, [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
    ]);
    assert.ok(!webRule.ports.some((p: Any) => p.port === 7001), 'gRPC stays in its own rule');
    // Off by default; enabled without hosts is refused.
    assert.equal(byKind(await renderChart(), 'Ingress').length, 0);
    await assert.rejects(
      renderChartText({ set: ['routing.mtaSts.ingress.enabled=true'] }),
      /routing.mtaSts.ingress.hosts/,
    );
    await assert.rejects(
      renderChartText({
        set: ['routing.mtaSts.ingress.enabled=true', 'routing.mtaSts.ingress.hosts={example.com}'],
      }),
      /hosts/,
    );
  });

  test('the client autoconfiguration Ingress routes autoconfig./autodiscover.<domain> paths to the same listener', async () => {
    const objects = await renderChart({ valuesFiles: [allFeaturesValues] });
    const service = byKind(objects, 'Service').find((s) => component(s) === 'routing');
    const ingress = byKind(objects, 'Ingress').find((i) => i.metadata.name.endsWith('-client-config')) as Any;
    assert.ok(ingress, 'a client-config Ingress');
    assert.equal(ingress.spec.ingressClassName, 'nginx');
    assert.deepEqual(
      (ingress.spec.rules as Any[]).map((r) => r.host),
      ['autoconfig.example.com', 'autodiscover.example.com'],
    );
    for (const rule of ingress.spec.rules as Any[]) {
      assert.deepEqual(
        (rule.http.paths as Any[]).map((p) => p.path),
        [
          '/mail/config-v1.1.xml',
          '/.well-known/autoconfig/mail/config-v1.1.xml',
          '/autodiscover/autodiscover.xml',
          '/Autodiscover/Autodiscover.xml',
          '/mail.mobileconfig',
        ],
      );
      for (const path of rule.http.paths as Any[]) {
        assert.equal(path.pathType, 'Exact');
        assert.deepEqual(path.backend, {
          service: { name: service?.metadata.name, port: { name: 'mta-sts' } },
        });
      }
    }
    // The operator lists the autoconfig./autodiscover.<domain> CNAMEs with this target.
    const operator = byKind(objects, 'Deployment').find((d) => component(d) === 'operator') as Any;
    assert.deepEqual(
      (operator.spec.template.spec.containers[0].env as Any[]).find(
        (e) => e.name === 'HERMOD_AUTOCONFIG_HOST',
      ),
      { name: 'HERMOD_AUTOCONFIG_HOST', value: 'ingress.example.net' },
    );
    await assert.rejects(
      renderChartText({ set: ['routing.clientConfig.ingress.enabled=true'] }),
      /routing.clientConfig.ingress.hosts/,
    );
    await assert.rejects(
      renderChartText({
        set: [
          'routing.clientConfig.ingress.enabled=true',
          'routing.clientConfig.ingress.hosts={mail.example.com}',
        ],
      }),
      /hosts/,
    );
  });
});

describe('values', () => {
  test('values.schema.json refuses typos and bad values, naming them', async () => {
    for (const [set, expected] of [
      ['msa.replicsa=3', /replicsa/],
      ['logLevel=loud', /logLevel/],
      ['mx.service.externalTrafficPolicy=Nowhere', /externalTrafficPolicy/],
      ['nats.streamReplicas=9', /streamReplicas/],
      // Quantities are checked here, not first by the API server at install time.
      ['msa.resources.requests.memory=lots', /memory/],
      ['operator.resources.limits.cpu=1.5cores', /cpu/],
    ] as const) {
      await assert.rejects(renderChartText({ set: [set] }), expected, set);
    }
  });

  test('values.schema.json describes every value', async () => {
    const schema = JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8'));
    const undescribed: string[] = [];
    const walk = (node: Any, path: string) => {
      for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Any>)) {
        const here = path ? `${path}.${key}` : key;
        if (typeof child.description !== 'string' || child.description.length < 8) undescribed.push(here);
        walk(child, here);
      }
    };
    walk(schema, '');
    assert.deepEqual(undescribed, []);
  });

  test('KEDA without a Prometheus address is refused by name; without the Prometheus trigger only the lag one', async () => {
    const keda = { set: ['outboundMta.keda.enabled=true'], apiVersions: ['keda.sh/v1alpha1/ScaledObject'] };
    await assert.rejects(renderChartText(keda), /outboundMta\.keda\.prometheus\.serverAddress/);
    const lagOnly = await renderChart({
      ...keda,
      set: [...keda.set, 'outboundMta.keda.prometheus.enabled=false'],
    });
    assert.deepEqual(
      byKind(lagOnly, 'ScaledObject')[0]?.spec.triggers.map((t: { type: string }) => t.type),
      ['nats-jetstream'],
    );
  });

  test('an autoscaler whose minimum is above its maximum is refused, naming the field', async () => {
    await assert.rejects(
      renderChartText({
        set: [
          'msa.autoscaling.enabled=true',
          'msa.autoscaling.minReplicas=5',
          'msa.autoscaling.maxReplicas=2',
        ],
      }),
      /msa\.autoscaling\.minReplicas \(5\) must not be above msa\.autoscaling\.maxReplicas \(2\)/,
    );
    await assert.rejects(
      renderChartText({
        set: [
          'outboundMta.keda.enabled=true',
          'outboundMta.keda.prometheus.enabled=false',
          'outboundMta.keda.minReplicaCount=4',
          'outboundMta.keda.maxReplicaCount=3',
        ],
        apiVersions: ['keda.sh/v1alpha1/ScaledObject'],
      }),
      /outboundMta\.keda\.minReplicaCount \(4\) must not be above outboundMta\.keda\.maxReplicaCount \(3\)/,
    );
    // Equal bounds are a fixed size, which is allowed.
    const fixed = await renderChart({
      set: ['msa.autoscaling.enabled=true', 'msa.autoscaling.minReplicas=3', 'msa.autoscaling.maxReplicas=3'],
    });
    const hpa = byKind(fixed, 'HorizontalPodAutoscaler').find((h) => component(h) === 'msa');
    assert.equal(hpa?.spec.minReplicas, 3);
    assert.equal(hpa?.spec.maxReplicas, 3);
  });

  test('a grace period too short for the preStop pause is refused', async () => {
    await assert.rejects(
      renderChartText({ set: ['mx.terminationGracePeriodSeconds=6', 'mx.preStopSleepSeconds=5'] }),
      /terminationGracePeriodSeconds of mx leaves no time/,
    );
  });

  test('a PodDisruptionBudget keeps 0 as set (no voluntary eviction, or no floor); a malformed count or percentage is refused by name', async () => {
    const pdbOf = async (set: string) =>
      byKind(await renderChart({ set: [set] }), 'PodDisruptionBudget').find((p) =>
        p.metadata.name.endsWith('-msa'),
      )?.spec;
    assert.equal((await pdbOf('msa.pdb.maxUnavailable=0'))?.maxUnavailable, 0);
    const noFloor = await pdbOf('msa.pdb.minAvailable=0');
    assert.equal(noFloor?.minAvailable, 0);
    assert.equal(noFloor?.maxUnavailable, undefined);
    assert.equal((await pdbOf('msa.pdb.minAvailable=50%'))?.minAvailable, '50%');
    assert.equal((await pdbOf('msa.pdb.enabled=true'))?.maxUnavailable, 1);
    for (const set of [
      'msa.pdb.maxUnavailable=abc',
      'mx.pdb.minAvailable=150%',
      'imap.pdb.maxUnavailable=-1',
    ]) {
      const field = set.slice(0, set.indexOf('=')).replaceAll('.', '/');
      await assert.rejects(renderChartText({ set: [set] }), new RegExp(`/${field}`), set);
    }
  });

  test('an ops port that is also a listener of a component (8080: MTA-STS of routing) is refused by name', async () => {
    await assert.rejects(
      renderChartText({ set: ['opsPort=8080'] }),
      /opsPort 8080 is also routing's mta-sts port/,
    );
    await assert.rejects(
      renderChartText({ set: ['opsPort=2587'] }),
      /opsPort 2587 is also msa's submission port/,
    );
  });

  test('PostgreSQL must be configured', async () => {
    await assert.rejects(
      renderChartText({ set: ['postgresql.existingSecret=', 'postgresql.url='] }),
      /postgresql.existingSecret/,
    );
  });

  test('the chart README documents every value, of values.yaml and of the schema, and no other', async () => {
    const readme = await readFile(join(chartDir, 'README.md'), 'utf8');
    const values = parse(await readFile(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const schema = JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8'));
    // Kubernetes objects passed through verbatim (and per-component image overrides) are documented as a whole.
    const whole = (path: string) =>
      ['podSecurityContext', 'containerSecurityContext'].includes(path) ||
      /\.resources$|\.probes\.[a-z]+$|^[A-Za-z]+\.image$/.test(path);
    const valuePaths: string[] = [];
    const walkValues = (node: unknown, prefix: string) => {
      if (prefix && whole(prefix)) valuePaths.push(prefix);
      else if (node && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0) {
        for (const [k, v] of Object.entries(node)) walkValues(v, prefix ? `${prefix}.${k}` : k);
      } else valuePaths.push(prefix);
    };
    walkValues(values, '');
    // Values the schema accepts without a default in values.yaml (pdb.minAvailable, ...) count too.
    const schemaPaths: string[] = [];
    const walkSchema = (node: Any, prefix: string) => {
      const properties = Object.entries((node.properties ?? {}) as Record<string, Any>);
      if (prefix && (whole(prefix) || properties.length === 0)) schemaPaths.push(prefix);
      else for (const [k, child] of properties) walkSchema(child, prefix ? `${prefix}.${k}` : k);
    };
    walkSchema(schema, '');
    const missing = [...new Set([...valuePaths, ...schemaPaths])].filter((p) => !readme.includes(`\`${p}\``));
    assert.deepEqual(missing, [], 'values missing from charts/hermod/README.md');
    const notInSchema = valuePaths.filter((p) => !schemaPaths.includes(p));
    assert.deepEqual(notInSchema, [], 'values.yaml keys values.schema.json does not describe');
    // Rows of the values table name values that exist (no stale documentation).
    const rows = [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] ?? '');
    assert.ok(rows.length >= schemaPaths.length, 'the README has a values table');
    assert.deepEqual(
      rows.filter((r) => !schemaPaths.includes(r)),
      [],
      'README rows for values the chart does not have',
    );
  });
});

/** The zod schema a service's config.ts exports (its environment variables). */
async function serviceEnvSchema(name: ComponentName) {
  const file = join(repositoryRoot, dirname(deployables[name]), 'config.ts');
  const exists = await access(file).then(
    () => true,
    () => false,
  );
  assert.ok(
    exists,
    `${file} does not exist yet: the chart cannot be checked against ${name}'s configuration`,
  );
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const schema = Object.values(module).find(
    (v): v is { shape: Record<string, { safeParse(v: unknown): { success: boolean } }> } =>
      typeof v === 'object' &&
      v !== null &&
      'shape' in v &&
      typeof (v as { safeParse?: unknown }).safeParse === 'function',
  );
  assert.ok(schema, `${file} exports no zod object schema`);
  return schema.shape;
}

describe('the chart matches each service configuration', () => {
  for (const name of componentNames) {
    test(name, async () => {
      const shape = await serviceEnvSchema(name);
      const required = Object.entries(shape)
        .filter(([, field]) => !field.safeParse(undefined).success)
        .map(([k]) => k);
      // tls.enabled=false as well: a service that needs a certificate must not be deployable without one
      // (msa, which does, is switched off for the others' check).
      const withoutTls = name === 'msa' ? ['tls.enabled=false'] : ['tls.enabled=false', 'msa.enabled=false'];
      for (const set of [[], withoutTls]) {
        let objects: K8sObject[];
        try {
          objects = await renderChart({ set });
        } catch (error) {
          assert.ok(set.length > 0, `default render failed: ${(error as Error).message}`);
          assert.ok(
            required.some((k) => k.startsWith('TLS_')),
            `${name}: tls.enabled=false refused, yet TLS is optional`,
          );
          assert.match((error as Error).message, /needs a TLS certificate/);
          continue;
        }
        const env = envOf(containerOf(deploymentOf(objects, name)));
        const unknown = [...env.keys()].filter((k) => !(k in shape));
        assert.deepEqual(unknown, [], `${name} is given variables its config does not read`);
        const missing = required.filter((k) => !env.has(k));
        assert.deepEqual(
          missing,
          [],
          `${name} requires variables the chart does not set (${set.join(' ') || 'defaults'})`,
        );
      }
    });
  }
});

/** Rules as comparable strings: apiGroup|resource|verb, one per combination. */
function flattenRules(rules: Any[]): string[] {
  const out = new Set<string>();
  for (const r of rules ?? [])
    for (const g of r.apiGroups ?? [''])
      for (const res of r.resources ?? []) for (const v of r.verbs ?? []) out.add(`${g}|${res}|${v}`);
  return [...out].sort();
}

test('nats.streamReplicas: 1 for a single server, 3 for a cluster URL, or as set', async () => {
  const replicas = async (set: string[]) => {
    const objects = await renderChart({ set: ['postgresql.existingSecret=pg', ...set] });
    const values = new Set(
      byKind(objects, 'Deployment').map((d) => envOf(containerOf(d)).get('NATS_STREAM_REPLICAS')?.value),
    );
    assert.equal(values.size, 1, 'every component agrees');
    return [...values][0];
  };
  assert.equal(await replicas([]), '1');
  assert.equal(await replicas(['nats.url=nats://a:4222\\,nats://b:4222\\,nats://c:4222']), '3');
  assert.equal(await replicas(['nats.streamReplicas=5']), '5');
  assert.equal(await replicas(['nats.existingSecret=nats', 'nats.url=nats://a:4222\\,nats://b:4222']), '1');
});

test('tracing.otlpEndpoint: every component exports spans there; unset, none is told an endpoint', async () => {
  const endpoints = async (set: string[]) => {
    const objects = await renderChart({ set: ['postgresql.existingSecret=pg', ...set] });
    const deployments = byKind(objects, 'Deployment');
    assert.ok(deployments.length >= 7, 'every component has a Deployment');
    return new Set(deployments.map((d) => envOf(containerOf(d)).get('OTEL_EXPORTER_OTLP_ENDPOINT')?.value));
  };
  assert.deepEqual([...(await endpoints([]))], [undefined]);
  assert.deepEqual(
    [...(await endpoints(['tracing.otlpEndpoint=http://otel-collector.observability:4318']))],
    ['http://otel-collector.observability:4318'],
  );
});

test('operator.watchNamespace: WATCH_NAMESPACE and a Role there instead of a ClusterRole', async () => {
  const objects = await renderChart({
    set: ['postgresql.existingSecret=pg', 'operator.watchNamespace=mail-domains'],
  });
  const operator = (o: K8sObject) => component(o) === 'operator';
  assert.equal(
    envOf(containerOf(deploymentOf(objects, 'operator'))).get('WATCH_NAMESPACE')?.value,
    'mail-domains',
  );
  assert.deepEqual(byKind(objects, 'ClusterRole').filter(operator), []);
  assert.deepEqual(byKind(objects, 'ClusterRoleBinding').filter(operator), []);
  const role = byKind(objects, 'Role').find((r) => operator(r) && r.metadata.namespace === 'mail-domains');
  assert.ok(role?.rules.some((r: Any) => r.resources.includes('maildomains')));
  const binding = byKind(objects, 'RoleBinding').find(
    (r) => operator(r) && r.metadata.namespace === 'mail-domains',
  );
  assert.deepEqual(binding?.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'Role',
    name: role?.metadata.name,
  });
  assert.equal(binding?.subjects[0].namespace, 'mail');
  const defaults = await renderChart({ set: ['postgresql.existingSecret=pg'] });
  assert.equal(envOf(containerOf(deploymentOf(defaults, 'operator'))).get('WATCH_NAMESPACE'), undefined);
});

test('public Services take a load-balancer address, fixed node ports and IP families', async () => {
  const objects = await renderChart({
    set: [
      'mx.service.loadBalancerIP=203.0.113.7',
      'mx.service.nodePorts.smtp=30025',
      'imap.service.ipFamilyPolicy=PreferDualStack',
      'imap.service.ipFamilies={IPv6,IPv4}',
    ],
  });
  const service = (name: string) => {
    const found = byKind(objects, 'Service').find((s) => component(s) === name);
    assert.ok(found, `no Service for ${name}`);
    return found.spec;
  };
  assert.equal(service('mx').loadBalancerIP, '203.0.113.7');
  assert.equal(service('mx').ports.find((p: Any) => p.name === 'smtp').nodePort, 30025);
  assert.equal(service('mx').ipFamilyPolicy, undefined);
  assert.equal(service('imap').ipFamilyPolicy, 'PreferDualStack');
  assert.deepEqual(service('imap').ipFamilies, ['IPv6', 'IPv4']);
  assert.equal(service('imap').loadBalancerIP, undefined);
  assert.ok(service('imap').ports.every((p: Any) => p.nodePort === undefined));
  await assert.rejects(renderChartText({ set: ['mx.service.nodePorts.smtp=25'] }), /nodePorts/);
});

test('per-component pod security context and extra volumes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hermod-values-'));
  const values = join(dir, 'values.yaml');
  await writeFile(
    values,
    [
      'mda:',
      '  podSecurityContext: { runAsUser: 20001, supplementalGroups: [3000] }',
      '  containerSecurityContext: { readOnlyRootFilesystem: false }',
      '  extraVolumes: [{ name: spool, emptyDir: { medium: Memory } }]',
      '  extraVolumeMounts: [{ name: spool, mountPath: /var/spool/hermod }]',
    ].join('\n'),
  );
  const objects = await renderChart({ valuesFiles: [values] });
  const mda = deploymentOf(objects, 'mda').spec.template.spec;
  assert.equal(mda.securityContext.runAsUser, 20001);
  assert.equal(mda.securityContext.runAsNonRoot, true, 'the global settings stay');
  assert.deepEqual(mda.securityContext.supplementalGroups, [3000]);
  const container = containerOf(deploymentOf(objects, 'mda'));
  assert.equal(container.securityContext.readOnlyRootFilesystem, false);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.ok(mda.volumes.some((v: Any) => v.name === 'spool' && v.emptyDir.medium === 'Memory'));
  assert.ok(
    container.volumeMounts.some((m: Any) => m.name === 'spool' && m.mountPath === '/var/spool/hermod'),
  );
  // Other components keep the global settings.
  const mx = deploymentOf(objects, 'mx').spec.template.spec;
  assert.equal(mx.securityContext.runAsUser, 10001);
  assert.ok(!mx.volumes.some((v: Any) => v.name === 'spool'));
  await rm(dir, { recursive: true });
});

test('operator RBAC in the chart mirrors operator/config/rbac', async () => {
  const dir = join(repositoryRoot, 'operator/config/rbac');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const source: K8sObject[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, f), 'utf8'))) {
      const o = doc.toJS() as K8sObject | null;
      if (o) source.push(o);
    }
  }
  const sourceCluster = flattenRules(byKind(source, 'ClusterRole').flatMap((r) => r.rules));
  const sourceNamespaced = flattenRules(byKind(source, 'Role').flatMap((r) => r.rules));
  assert.ok(sourceCluster.length + sourceNamespaced.length > 0, `no ClusterRole or Role in ${dir}`);
  const objects = await renderChart();
  const operator = (o: K8sObject) => component(o) === 'operator';
  assert.deepEqual(
    flattenRules(
      byKind(objects, 'ClusterRole')
        .filter(operator)
        .flatMap((r) => r.rules),
    ),
    sourceCluster,
  );
  assert.deepEqual(
    flattenRules(
      byKind(objects, 'Role')
        .filter(operator)
        .flatMap((r) => r.rules),
    ),
    sourceNamespaced,
  );
  // Bound to the operator's ServiceAccount, which the operator's pods use.
  const sa = deploymentOf(objects, 'operator').spec.template.spec.serviceAccountName;
  for (const binding of [...byKind(objects, 'ClusterRoleBinding'), ...byKind(objects, 'RoleBinding')].filter(
    operator,
  )) {
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa, namespace: 'mail' }]);
  }
});

/**
 * The `helm install|upgrade|template ... charts/hermod` commands of a Markdown file's sh blocks,
 * continuation lines joined, split into words (single and double quotes honoured), up to a comment
 * or a pipe.
 */
function documentedHelmCommands(markdown: string): string[][] {
  const commands: string[][] = [];
  for (const block of markdown.matchAll(/```sh[^\n]*\n([\s\S]*?)```/g)) {
    for (const line of (block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n')) {
      const words = [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
      if (words[0] !== 'helm' || !['install', 'upgrade', 'template'].includes(words[1] ?? '')) continue;
      if (!words.includes('charts/hermod')) continue;
      const end = words.findIndex((w) => w === '#' || w === '|');
      commands.push(words.slice(0, end === -1 ? undefined : end));
    }
  }
  return commands;
}

test('every documented helm install of the chart renders, with the files and values it names', async () => {
  let checked = 0;
  for (const doc of ['docs/kubernetes.md', 'charts/hermod/README.md']) {
    const commands = documentedHelmCommands(await readFile(join(repositoryRoot, doc), 'utf8'));
    assert.ok(commands.length > 0, `${doc} shows how to install the chart`);
    for (const words of commands) {
      const where = `${doc}: ${words.join(' ')}`;
      const options: { valuesFiles: string[]; set: string[]; namespace?: string } = {
        valuesFiles: [],
        set: [],
      };
      for (let i = 0; i < words.length; i++) {
        const word = words[i] ?? '';
        const next = words[i + 1] ?? '';
        if (word === '-f' || word === '--values') {
          await access(join(repositoryRoot, next)).catch(() => assert.fail(`${where}: no file ${next}`));
          options.valuesFiles.push(join(repositoryRoot, next));
          i++;
        } else if (word === '--set') {
          options.set.push(next);
          i++;
        } else if (word === '-n' || word === '--namespace') {
          options.namespace = next;
          i++;
        }
      }
      // "..." stands for the reader's other settings: the documented ones must still render alone.
      const rendered = await renderChart({ ...options, namespace: options.namespace ?? 'mail' }).catch(
        (error: Error) => assert.fail(`${where}\n${error.message}`),
      );
      assert.equal(byKind(rendered, 'Deployment').length, componentNames.length, where);
      checked++;
    }
  }
  assert.ok(checked >= 4, `only ${checked} documented installs found`);
});
