// Renders charts/hermod with a helm built from Go modules, for the chart tests.
import { join } from 'node:path';
import { ensureHelm, repositoryRoot } from '@hermod/local-infra';
import { run } from '@hermod/test/harness';
import { parseAllDocuments } from 'yaml';

export const chartDir = join(repositoryRoot, 'charts/hermod');
export const allFeaturesValues = join(chartDir, 'ci/all-features-values.yaml');
/** Kubernetes version the chart is linted and rendered for (the test control plane runs 1.33). */
export const kubeVersion = '1.33.0';
/** Optional APIs the all-features values use, as a cluster with cert-manager, Prometheus Operator and KEDA serves them. */
export const optionalApis = [
  'cert-manager.io/v1/Certificate',
  'monitoring.coreos.com/v1/ServiceMonitor',
  'keda.sh/v1alpha1/ScaledObject',
];

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field in the tests
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  [field: string]: any;
}

export async function helm(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}) {
  const binary = await ensureHelm((line) => console.log(line));
  // A private HOME-like config so a developer's helm repositories and plugins play no part.
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(process.env.HERMOD_TEST_WORKDIR ?? '/tmp', 'helm-cache'),
    HELM_CONFIG_HOME: join(process.env.HERMOD_TEST_WORKDIR ?? '/tmp', 'helm-config'),
    HELM_DATA_HOME: join(process.env.HERMOD_TEST_WORKDIR ?? '/tmp', 'helm-data'),
    ...options.env,
  };
  return run(binary, args, { env, timeoutMs: options.timeoutMs ?? 120_000 });
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  valuesFiles?: string[];
  set?: string[];
  apiVersions?: string[];
}

/** `helm template`, failing with helm's message; returns the YAML text. */
export async function renderChartText(options: RenderOptions = {}): Promise<string> {
  const args = [
    'template',
    options.release ?? 'hermod',
    chartDir,
    '--namespace',
    options.namespace ?? 'mail',
    '--kube-version',
    kubeVersion,
    ...(options.valuesFiles ?? []).flatMap((f) => ['--values', f]),
    ...(options.set ?? []).flatMap((s) => ['--set', s]),
    ...(options.apiVersions ?? []).flatMap((a) => ['--api-versions', a]),
  ];
  const result = await helm(args);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML is invalid: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export async function renderChart(options: RenderOptions = {}): Promise<K8sObject[]> {
  return parseManifests(await renderChartText(options));
}

/**
 * What the chart must deploy, from the issue: the component name (container args and the image's
 * deployable), its values key, and each listener as env variable -> [container port, Service port].
 */
export const expectedComponents = {
  msa: { key: 'msa', ports: { MSA_SUBMISSION_PORT: [2587, 587], MSA_SUBMISSIONS_PORT: [2465, 465] } },
  mx: { key: 'mx', ports: { MX_SMTP_PORT: [2525, 25] } },
  routing: { key: 'routing', ports: { ROUTING_GRPC_PORT: [7001, 7001], ROUTING_MTA_STS_PORT: [8080, 80] } },
  'outbound-mta': { key: 'outboundMta', ports: {} },
  mda: { key: 'mda', ports: {} },
  imap: {
    key: 'imap',
    ports: {
      IMAP_PORT: [2143, 143],
      IMAPS_PORT: [2993, 993],
      POP3_PORT: [2110, 110],
      POP3S_PORT: [2995, 995],
      MANAGESIEVE_PORT: [4190, 4190],
    },
  },
  operator: { key: 'operator', ports: {} },
} as const satisfies Record<string, { key: string; ports: Record<string, readonly [number, number]> }>;
export type ComponentName = keyof typeof expectedComponents;
export const componentNames = Object.keys(expectedComponents) as ComponentName[];
