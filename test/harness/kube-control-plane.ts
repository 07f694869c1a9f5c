import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureKubeBinaries, KubeControlPlane } from '@hermod/local-infra';
import { type RunResult, run } from './tools.js';
import { testWorkdir } from './workdir.js';

export interface TestControlPlane {
  plane: KubeControlPlane;
  /** Path of the admin (system:masters) kubeconfig. */
  kubeconfig: string;
  /** Path of the version-matched kubectl built with the control plane. */
  kubectlPath: string;
  /** Runs kubectl against this control plane (admin unless another kubeconfig is given). */
  kubectl(
    args: string[],
    options?: { input?: string; kubeconfig?: string; timeoutMs?: number },
  ): Promise<RunResult>;
  /** kubectl that must succeed; returns stdout. */
  kubectlOk(
    args: string[],
    options?: { input?: string; kubeconfig?: string; timeoutMs?: number },
  ): Promise<string>;
  /** Parsed `kubectl get -o json`. */
  getJson<T = unknown>(args: string[]): Promise<T>;
  /** A kubeconfig file for a ServiceAccount, with a token from the TokenRequest API. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A real etcd + kube-apiserver (optionally kube-controller-manager) for one test file, built from
 * Go modules on first use and cached by version. Start one per file, not per test.
 */
export async function startTestControlPlane(
  options: { controllerManager?: boolean } = {},
): Promise<TestControlPlane> {
  const binaries = await ensureKubeBinaries((line) => console.log(line));
  const dir = await testWorkdir('kube');
  const plane = new KubeControlPlane({ binaries, dir, ...options });
  await plane.start();
  const kubectl = (args: string[], o: { input?: string; kubeconfig?: string; timeoutMs?: number } = {}) =>
    run(binaries.kubectl, [`--kubeconfig=${o.kubeconfig ?? plane.kubeconfigPath}`, ...args], {
      ...(o.input !== undefined ? { input: o.input } : {}),
      timeoutMs: o.timeoutMs ?? 60_000,
    });
  const kubectlOk = async (
    args: string[],
    o: { input?: string; kubeconfig?: string; timeoutMs?: number } = {},
  ) => {
    const result = await kubectl(args, o);
    if (result.code !== 0)
      throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  return {
    plane,
    kubeconfig: plane.kubeconfigPath,
    kubectlPath: binaries.kubectl,
    kubectl,
    kubectlOk,
    getJson: async <T>(args: string[]) => JSON.parse(await kubectlOk(['get', ...args, '-o', 'json'])) as T,
    serviceAccountKubeconfig: async (namespace, name) => {
      const token = (await kubectlOk(['-n', namespace, 'create', 'token', name, '--duration=6h'])).trim();
      const path = join(dir, `${namespace}-${name}.kubeconfig`);
      await writeFile(
        path,
        await plane.kubeconfig(`system:serviceaccount:${namespace}:${name}`, token, namespace),
        {
          mode: 0o600,
        },
      );
      return path;
    },
    stop: () => plane.stop(),
  };
}
