import { readFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

/** Where and how to reach the API server. headers() is asked per request (tokens rotate). */
export interface KubeCredentials {
  server: string;
  tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
  headers(): Promise<Record<string, string>>;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters?: Array<{
    name: string;
    cluster: {
      server: string;
      'certificate-authority-data'?: string;
      'certificate-authority'?: string;
      'insecure-skip-tls-verify'?: boolean;
      'tls-server-name'?: string;
    };
  }>;
  users?: Array<{ name: string; user: Record<string, unknown> }>;
}

/**
 * Credentials from a kubeconfig file (KUBECONFIG's first entry or ~/.kube/config) or the
 * in-cluster service account. Tokens, token files and client certificates are read here;
 * exec plugins and auth providers go through @kubernetes/client-node, loaded only then (its
 * generated API costs ~80-130 MiB of RSS, which the common cases should not pay).
 */
export async function loadKubeCredentials(path?: string): Promise<KubeCredentials> {
  const file = path ?? process.env.KUBECONFIG?.split(':').find(Boolean);
  if (!file && process.env.KUBERNETES_SERVICE_HOST) return inCluster();
  return fromFile(file ?? join(homedir(), '.kube', 'config'));
}

async function inCluster(): Promise<KubeCredentials> {
  const host = process.env.KUBERNETES_SERVICE_HOST ?? '';
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    tls: { ca: await readFile(join(SERVICE_ACCOUNT_DIR, 'ca.crt')) },
    // Bound service-account tokens are refreshed by the kubelet: read the file every time.
    headers: async () => ({
      authorization: `Bearer ${(await readFile(join(SERVICE_ACCOUNT_DIR, 'token'), 'utf8')).trim()}`,
    }),
  };
}

async function fromFile(file: string): Promise<KubeCredentials> {
  const config = parse(await readFile(file, 'utf8')) as KubeconfigFile;
  const contextName = config['current-context'];
  const context = config.contexts?.find((c) => c.name === contextName)?.context;
  if (!context) throw new Error(`${file}: no current context`);
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster) throw new Error(`${file}: no cluster ${context.cluster}`);
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  const rel = (p: string) => (isAbsolute(p) ? p : join(dirname(file), p));
  const material = async (data: unknown, path: unknown): Promise<Buffer | undefined> => {
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    if (typeof path === 'string') return readFile(rel(path));
    return undefined;
  };
  if (user.exec || user['auth-provider']) return viaClientNode(file);
  const tls: KubeCredentials['tls'] = {};
  const ca = await material(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (ca) tls.ca = ca;
  if (cluster['insecure-skip-tls-verify']) tls.rejectUnauthorized = false;
  if (cluster['tls-server-name']) tls.servername = cluster['tls-server-name'];
  const cert = await material(user['client-certificate-data'], user['client-certificate']);
  const key = await material(user['client-key-data'], user['client-key']);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  const token = typeof user.token === 'string' ? user.token : undefined;
  const tokenFile = typeof user.tokenFile === 'string' ? rel(user.tokenFile) : undefined;
  const basic =
    typeof user.username === 'string'
      ? Buffer.from(`${user.username}:${String(user.password ?? '')}`).toString('base64')
      : undefined;
  return {
    server: cluster.server.replace(/\/$/, ''),
    tls,
    headers: async (): Promise<Record<string, string>> => {
      if (token) return { authorization: `Bearer ${token}` };
      if (tokenFile) return { authorization: `Bearer ${(await readFile(tokenFile, 'utf8')).trim()}` };
      if (basic) return { authorization: `Basic ${basic}` };
      return {};
    },
  };
}

/** Exec plugins and auth providers: let @kubernetes/client-node run them. */
async function viaClientNode(file: string): Promise<KubeCredentials> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${file}: no current cluster`);
  const first: RequestOptions = {};
  await kc.applyToHTTPSOptions(first);
  const tls: KubeCredentials['tls'] = {};
  if (first.ca) tls.ca = first.ca;
  if (first.cert) tls.cert = first.cert;
  if (first.key) tls.key = first.key;
  if (first.rejectUnauthorized !== undefined) tls.rejectUnauthorized = first.rejectUnauthorized;
  return {
    server: cluster.server.replace(/\/$/, ''),
    tls,
    headers: async () => {
      const options: RequestOptions = {};
      await kc.applyToHTTPSOptions(options);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(options.headers ?? {})) {
        if (typeof v === 'string' || typeof v === 'number') headers[k.toLowerCase()] = String(v);
      }
      if (options.auth) headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
      return headers;
    },
  };
}

/** The namespace of the pod we run in (from the service-account mount), or undefined outside one. */
export async function inClusterNamespace(): Promise<string | undefined> {
  try {
    return (await readFile(join(SERVICE_ACCOUNT_DIR, 'namespace'), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}
