import { execFile } from 'node:child_process';
import { access, constants, copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDirectory, MissingPrerequisiteError, withBuildLock } from './go-binaries.js';
import { repositoryRoot } from './node-service.js';

const run = promisify(execFile);

/** The Kubernetes release the test control plane runs; the wrapper go.mod pins the same one. */
export const KUBERNETES_VERSION = 'v1.33.13';
export const ETCD_VERSION = 'v3.5.33';

export interface KubeBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  /** Version-matched kubectl: Debian's kubernetes-client (1.20) is too old for `kubectl create token`. */
  kubectl: string;
}

interface WrapperBuild {
  /** Folder under test/harness/kube-binaries holding the wrapper go.mod/go.sum. */
  wrapper: string;
  version: string;
  /** Binary name -> Go package path. */
  packages: Record<string, string>;
  ldflags: string;
}

function kubernetesLdflags(version: string): string {
  const [major, minor] = version.replace(/^v/, '').split('.');
  // Without these /version says v0.0.0 and charts with a kubeVersion constraint refuse to render.
  const vars: Record<string, string> = {
    'k8s.io/component-base/version.gitVersion': version,
    'k8s.io/component-base/version.gitMajor': major ?? '1',
    'k8s.io/component-base/version.gitMinor': minor ?? '0',
    'k8s.io/component-base/version.gitTreeState': 'clean',
    'k8s.io/component-base/version.buildDate': '1970-01-01T00:00:00Z',
    'k8s.io/client-go/pkg/version.gitVersion': version,
    'k8s.io/client-go/pkg/version.gitMajor': major ?? '1',
    'k8s.io/client-go/pkg/version.gitMinor': minor ?? '0',
  };
  return ['-s', '-w', ...Object.entries(vars).map(([k, v]) => `-X ${k}=${v}`)].join(' ');
}

const builds: WrapperBuild[] = [
  {
    wrapper: 'etcd',
    version: ETCD_VERSION,
    packages: { etcd: 'go.etcd.io/etcd/server/v3' },
    ldflags: '-s -w',
  },
  {
    wrapper: 'kubernetes',
    version: KUBERNETES_VERSION,
    packages: {
      'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
      'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
      kubectl: 'k8s.io/kubernetes/cmd/kubectl',
    },
    ldflags: kubernetesLdflags(KUBERNETES_VERSION),
  },
];

const cachedPath = (name: string, version: string): string =>
  join(cacheDirectory(), 'bin', `${name}-${version}`);

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds the wrapper module's binaries with `go build` (the upstream modules carry replace lines, so
 * `go install pkg@version` is refused) and moves them into the cache atomically.
 */
async function buildWrapper(build: WrapperBuild, log: (line: string) => void): Promise<void> {
  try {
    await run('go', ['version']);
  } catch {
    throw new MissingPrerequisiteError(
      `${Object.keys(build.packages).join(', ')} ${build.version} (not cached) and the Go toolchain to build them`,
      'install Go 1.24+ (`apt-get install golang` or https://go.dev/doc/install), or put the binaries at ' +
        Object.keys(build.packages)
          .map((name) => cachedPath(name, build.version))
          .join(', '),
    );
  }
  const started = Date.now();
  log(
    `building ${Object.keys(build.packages).join(', ')} ${build.version} from Go modules (first run only; 10-25 min)...`,
  );
  const work = await mkdtemp(join(tmpdir(), `hermod-${build.wrapper}-build-`));
  try {
    // Build from a copy so the checked-in go.mod/go.sum stay untouched whatever go decides to rewrite.
    const source = join(repositoryRoot, 'test', 'harness', 'kube-binaries', build.wrapper);
    for (const file of await readdir(source)) {
      if (file === 'go.mod' || file === 'go.sum') await copyFile(join(source, file), join(work, file));
    }
    const out = join(work, 'out');
    await mkdir(out);
    // One `go build -o out/<name>` per binary: a package path with a major-version suffix
    // (go.etcd.io/etcd/server/v3) would otherwise be named after its parent folder. The build cache
    // makes the shared dependencies compile once.
    for (const [name, pkg] of Object.entries(build.packages)) {
      await run(
        'go',
        ['build', '-mod=mod', '-trimpath', '-ldflags', build.ldflags, '-o', join(out, name), pkg],
        {
          cwd: work,
          env: { ...process.env, GOWORK: 'off', CGO_ENABLED: '0', GOFLAGS: '' },
          maxBuffer: 64 * 1024 * 1024,
        },
      );
    }
    await mkdir(join(cacheDirectory(), 'bin'), { recursive: true });
    for (const name of Object.keys(build.packages)) {
      const target = cachedPath(name, build.version);
      const partial = `${target}.partial-${process.pid}`;
      await copyFile(join(out, name), partial);
      await run('mv', ['-f', partial, target]);
    }
    log(
      `built ${Object.keys(build.packages).join(', ')} ${build.version} in ${Math.round((Date.now() - started) / 1000)} s`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

let pending: Promise<KubeBinaries> | undefined;

/**
 * etcd, kube-apiserver, kube-controller-manager and kubectl for the test control plane: from
 * HERMOD_ETCD_BIN / HERMOD_KUBE_APISERVER_BIN / HERMOD_KUBE_CONTROLLER_MANAGER_BIN /
 * HERMOD_KUBECTL_BIN when set, else
 * from the cache (keyed by version), built from the Go module proxy only when missing.
 */
export function ensureKubeBinaries(log: (line: string) => void = () => {}): Promise<KubeBinaries> {
  const overrides: Record<string, string | undefined> = {
    etcd: process.env.HERMOD_ETCD_BIN,
    'kube-apiserver': process.env.HERMOD_KUBE_APISERVER_BIN,
    'kube-controller-manager': process.env.HERMOD_KUBE_CONTROLLER_MANAGER_BIN,
    kubectl: process.env.HERMOD_KUBECTL_BIN,
  };
  pending ??= (async () => {
    const paths: Record<string, string> = {};
    for (const build of builds) {
      let missing = false;
      for (const name of Object.keys(build.packages)) {
        paths[name] = overrides[name] ?? cachedPath(name, build.version);
        if (!overrides[name] && !(await executable(cachedPath(name, build.version)))) missing = true;
      }
      if (missing)
        await withBuildLock(`${build.wrapper}-${build.version}`, async () => {
          // Another process may have built them while this one waited for the lock.
          for (const name of Object.keys(build.packages))
            if (!overrides[name] && !(await executable(cachedPath(name, build.version))))
              return buildWrapper(build, log);
        });
    }
    return {
      etcd: paths.etcd ?? cachedPath('etcd', ETCD_VERSION),
      kubeApiserver: paths['kube-apiserver'] ?? cachedPath('kube-apiserver', KUBERNETES_VERSION),
      kubeControllerManager:
        paths['kube-controller-manager'] ?? cachedPath('kube-controller-manager', KUBERNETES_VERSION),
      kubectl: paths.kubectl ?? cachedPath('kubectl', KUBERNETES_VERSION),
    };
  })();
  pending.catch(() => {
    pending = undefined;
  });
  return pending;
}
