import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { spawnServer, stopChild, waitForPort } from './child-process.js';
import { freePort } from './free-port.js';
import type { KubeBinaries } from './kube-binaries.js';

export interface KubeControlPlaneOptions {
  binaries: KubeBinaries;
  /** Holds etcd's data, the PKI, tokens and the kubeconfig. */
  dir: string;
  /** Also run kube-controller-manager (ReplicaSets, garbage collection, namespace deletion). */
  controllerManager?: boolean;
}

interface Proc {
  child: ChildProcess;
  output: () => string;
}

/**
 * etcd + kube-apiserver (+ optionally kube-controller-manager) on loopback, the way envtest runs
 * them: token auth, RBAC, a self-signed serving certificate. Ports are fixed at construction, so
 * the kubeconfig stays valid across restartApiServer().
 */
export class KubeControlPlane {
  readonly adminToken = randomBytes(24).toString('hex');
  private etcdPort = 0;
  private etcdPeerPort = 0;
  private apiPort = 0;
  private etcd: Proc | undefined;
  private apiserver: Proc | undefined;
  private controllerManager: Proc | undefined;

  constructor(readonly options: KubeControlPlaneOptions) {}

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  /** The API server's self-signed certificate (SANs hold 127.0.0.1), to trust as the CA. */
  get caFile(): string {
    return join(this.options.dir, 'pki', 'apiserver.crt');
  }

  get kubeconfigPath(): string {
    return join(this.options.dir, 'admin.kubeconfig');
  }

  get serviceAccountKeyFile(): string {
    return join(this.options.dir, 'sa.key');
  }

  /**
   * Starts the control plane. Free ports are picked, not reserved, so on a busy machine another
   * process can bind one first: start-up then retries on new ports. A failed start stops whatever it
   * started, so no etcd is left holding the caller's process open.
   */
  async start(): Promise<void> {
    const dir = this.options.dir;
    await mkdir(join(dir, 'pki'), { recursive: true });
    await writeFile(join(dir, 'tokens.csv'), `${this.adminToken},admin,admin-uid,"system:masters"\n`, {
      mode: 0o600,
    });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(this.serviceAccountKeyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }), {
      mode: 0o600,
    });
    for (let attempt = 1; ; attempt++) {
      this.etcdPort = await freePort();
      this.etcdPeerPort = await freePort();
      this.apiPort = await freePort();
      try {
        await this.startEtcd();
        await this.startApiServer();
        await writeFile(this.kubeconfigPath, await this.kubeconfig('admin', this.adminToken));
        if (this.options.controllerManager) await this.startControllerManager();
        return;
      } catch (error) {
        await this.stop().catch(() => {});
        if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error;
        // etcd's data names its peer URL: start the next attempt from an empty data directory.
        await rm(join(dir, 'etcd'), { recursive: true, force: true });
      }
    }
  }

  /** A kubeconfig (YAML) for this control plane with a bearer token; works for client-node, kubectl, helm. */
  async kubeconfig(user: string, token: string, namespace = 'default'): Promise<string> {
    const ca = (await readFile(this.caFile)).toString('base64');
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: hermod-test',
      '  cluster:',
      `    server: ${this.server}`,
      `    certificate-authority-data: ${ca}`,
      'users:',
      `- name: ${user}`,
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: hermod-test',
      '  context:',
      '    cluster: hermod-test',
      `    user: ${user}`,
      `    namespace: ${namespace}`,
      'current-context: hermod-test',
      '',
    ].join('\n');
  }

  private async startEtcd(): Promise<void> {
    const client = `http://127.0.0.1:${this.etcdPort}`;
    const peer = `http://127.0.0.1:${this.etcdPeerPort}`;
    const proc = spawnServer(this.options.binaries.etcd, [
      '--name=default',
      `--data-dir=${join(this.options.dir, 'etcd')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      // Test data is disposable; fsync per write only slows the suite down.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    this.etcd = proc;
    try {
      await waitForPort(this.etcdPort, 30_000, '127.0.0.1', () => proc.child.exitCode !== null);
    } catch (error) {
      throw new Error(`etcd did not start: ${(error as Error).message}\n${proc.output()}`);
    }
  }

  async startApiServer(): Promise<void> {
    const dir = this.options.dir;
    const proc = spawnServer(this.options.binaries.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${this.apiPort}`,
      // No default route here: advertise loopback, and then no endpoint reconciler may run.
      '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none',
      `--cert-dir=${join(dir, 'pki')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${this.serviceAccountKeyFile}`,
      `--service-account-signing-key-file=${this.serviceAccountKeyFile}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      '--v=0',
    ]);
    this.apiserver = proc;
    await this.waitApiReady(proc, 90_000);
  }

  private async waitApiReady(proc: Proc, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'not started';
    while (Date.now() < deadline) {
      if (proc.child.exitCode !== null)
        throw new Error(`kube-apiserver exited during start-up:\n${proc.output()}`);
      try {
        const ready = await this.get('/readyz');
        last = `/readyz ${ready}`;
        if (ready === 200) {
          const ns = await this.get('/api/v1/namespaces/default');
          last = `default namespace ${ns}`;
          if (ns === 200) return;
        }
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`kube-apiserver not ready after ${timeoutMs} ms (${last}):\n${proc.output()}`);
  }

  /** Status code of an authenticated GET, trusting the self-signed certificate once it exists. */
  private async get(path: string): Promise<number> {
    const ca = await readFile(this.caFile).catch(() => undefined);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.server}${path}`,
        {
          headers: { authorization: `Bearer ${this.adminToken}` },
          ca,
          rejectUnauthorized: !!ca,
          timeout: 5_000,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  }

  async stopApiServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.apiserver) await stopChild(this.apiserver.child, signal, 15_000);
    this.apiserver = undefined;
  }

  /** Stops and starts kube-apiserver on the same port with the same certificate and etcd. */
  async restartApiServer(options: { downMs?: number } = {}): Promise<void> {
    await this.stopApiServer();
    if (options.downMs) await new Promise((resolve) => setTimeout(resolve, options.downMs));
    await this.startApiServer();
  }

  async startControllerManager(): Promise<void> {
    const proc = spawnServer(this.options.binaries.kubeControllerManager, [
      `--kubeconfig=${this.kubeconfigPath}`,
      '--leader-elect=false',
      '--secure-port=0',
      `--service-account-private-key-file=${this.serviceAccountKeyFile}`,
      `--root-ca-file=${this.caFile}`,
      '--use-service-account-credentials=false',
      '--v=0',
    ]);
    this.controllerManager = proc;
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (proc.child.exitCode !== null) throw new Error(`kube-controller-manager exited:\n${proc.output()}`);
  }

  logs(): { etcd: string; apiserver: string; controllerManager: string } {
    return {
      etcd: this.etcd?.output() ?? '',
      apiserver: this.apiserver?.output() ?? '',
      controllerManager: this.controllerManager?.output() ?? '',
    };
  }

  async stop(): Promise<void> {
    if (this.controllerManager) await stopChild(this.controllerManager.child, 'SIGTERM', 5_000);
    await this.stopApiServer();
    if (this.etcd) await stopChild(this.etcd.child, 'SIGTERM', 5_000);
    this.controllerManager = undefined;
    this.etcd = undefined;
  }
}
