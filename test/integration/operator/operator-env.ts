// Shared set-up of the operator integration tests: a real control plane with the CRD and the
// operator's RBAC installed, a real nats-server, and the operator run as a process under its own
// ServiceAccount token (not admin).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DKIM_KEY_BUCKET,
  DOMAIN_BUCKET,
  DOMAIN_STATUS_BUCKET,
  openDkimKeyBucket,
  openDomainBucket,
  openDomainStatusBucket,
} from '@hermod/domain-config';
import { freePort, NodeServiceProcess, repositoryRoot } from '@hermod/local-infra';
import { connect, type KV, type NatsConnection } from 'nats';
import {
  startTestControlPlane,
  startTestNats,
  type TestControlPlane,
  type TestNats,
} from '../../harness/index.js';

export const OPERATOR_NAMESPACE = 'hermod-system';
export const rbacDir = join(repositoryRoot, 'operator', 'config', 'rbac');
export const crdFile = join(repositoryRoot, 'operator', 'config', 'crd', 'mail.hermod.dev_maildomains.yaml');
/** Every CRD of the operator (MailDomain, MailUser, MailGroup). */
export const crdDir = join(repositoryRoot, 'operator', 'config', 'crd');

export interface OperatorEnv {
  cp: TestControlPlane;
  nats: TestNats;
  nc: NatsConnection;
  buckets: { domains: KV; dkimKeys: KV; domainStatus: KV };
  /** kubeconfig of the operator's ServiceAccount, bound only to operator/config/rbac. */
  operatorKubeconfig: string;
  /** wait: false spawns without waiting for /readyz (a test of start-up itself). */
  startOperator(options?: {
    env?: Record<string, string>;
    name?: string;
    wait?: boolean;
  }): Promise<OperatorProcess>;
  stop(): Promise<void>;
}

export interface OperatorProcess {
  process: NodeServiceProcess;
  opsPort: number;
  metrics(): Promise<string>;
}

/** nats: an already running nats-server (say the one of startHermod) instead of a private one. */
export async function startOperatorEnv(
  options: { controllerManager?: boolean; nats?: TestNats } = {},
): Promise<OperatorEnv> {
  const cp = await startTestControlPlane({ controllerManager: options.controllerManager ?? false });
  const ownNats = !options.nats;
  const nats = options.nats ?? (await startTestNats());
  const nc = await connect({ servers: nats.url });
  const js = nc.jetstream();
  const buckets = {
    domains: await openDomainBucket(js),
    dkimKeys: await openDkimKeyBucket(js),
    domainStatus: await openDomainStatusBucket(js),
  };
  await cp.kubectlOk(['apply', '--server-side', '-f', crdDir]);
  await cp.kubectlOk([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/maildomains.mail.hermod.dev',
    'crd/mailusers.mail.hermod.dev',
    'crd/mailgroups.mail.hermod.dev',
  ]);
  // Through its kustomization, which names the namespace (hermod-system) and creates it.
  await cp.kubectlOk(['apply', '-k', rbacDir]);
  const operatorKubeconfig = await cp.serviceAccountKubeconfig(OPERATOR_NAMESPACE, 'hermod-operator');
  const processes: NodeServiceProcess[] = [];
  return {
    cp,
    nats,
    nc,
    buckets,
    operatorKubeconfig,
    startOperator: async (o = {}) => {
      const opsPort = await freePort();
      const proc = new NodeServiceProcess({
        service: 'operator/src/main.ts',
        opsPort,
        env: {
          KUBECONFIG: operatorKubeconfig,
          NATS_URL: nats.url,
          POD_NAME: o.name ?? `operator-${opsPort}`,
          POD_NAMESPACE: OPERATOR_NAMESPACE,
          OPS_HOST: '127.0.0.1',
          LOG_LEVEL: process.env.OPERATOR_LOG_LEVEL ?? 'info',
          DNS_VERIFY: 'false',
          HERMOD_MX_HOSTS: 'mx.hermod.test',
          ...o.env,
        },
        ...(process.env.OPERATOR_LOGS ? { onOutput: (c: string) => process.stderr.write(c) } : {}),
      });
      processes.push(proc);
      if (o.wait === false) proc.spawn();
      else await proc.start(60_000);
      return {
        process: proc,
        opsPort,
        metrics: async () => (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text(),
      };
    },
    stop: async () => {
      for (const p of processes) await p.kill().catch(() => {});
      await nc.close().catch(() => {});
      if (ownNats) await nats.stop().catch(() => {});
      await cp.stop();
    },
  };
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`,
  );
}

export async function kvJson<T>(kv: KV, key: string): Promise<T | undefined> {
  const entry = await kv.get(key);
  return entry?.operation === 'PUT' ? (entry.json() as T) : undefined;
}

/** A metric's value summed over the label sets matching the filter, from a /metrics text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      total += Number(line.split(' ').pop());
  }
  return total;
}

/** A MailDomain in namespace default, as kubectl apply input. */
export const manifest = (name: string, spec: Record<string, unknown>) =>
  JSON.stringify({
    apiVersion: 'mail.hermod.dev/v1alpha1',
    kind: 'MailDomain',
    metadata: { name, namespace: 'default' },
    spec,
  });

export const readExample = (file: string): Promise<string> =>
  readFile(join(repositoryRoot, 'examples', file), 'utf8');
export { DKIM_KEY_BUCKET, DOMAIN_BUCKET, DOMAIN_STATUS_BUCKET };

export interface MailDomainJson {
  metadata: {
    name: string;
    namespace: string;
    generation: number;
    resourceVersion: string;
    uid: string;
    finalizers?: string[];
  };
  spec: { domain: string; exchanger: string };
  status?: {
    observedGeneration?: number;
    effectiveExchanger?: string;
    effectiveExchangerReason?: string;
    conditions?: Array<{
      type: string;
      status: string;
      reason: string;
      message: string;
      observedGeneration?: number;
    }>;
    dkim?: {
      activeSelector?: string;
      pendingSelector?: string;
      retiringSelector?: string;
      secretName?: string;
    };
    dnsRecords?: Array<{ purpose: string; type: string; name: string; value: string; visible?: boolean }>;
  };
}

export const condition = (md: MailDomainJson, type: string) =>
  md.status?.conditions?.find((c) => c.type === type);
