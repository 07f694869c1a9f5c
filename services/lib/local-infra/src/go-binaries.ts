import { execFile } from 'node:child_process';
import { access, constants, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class MissingPrerequisiteError extends Error {
  readonly code = 'MISSING_PREREQUISITE';
  constructor(
    readonly what: string,
    readonly howToInstall: string,
  ) {
    super(`${what} is missing: ${howToInstall}`);
    this.name = 'MissingPrerequisiteError';
  }
}

/**
 * Where built binaries are kept, keyed by version: outside the work tree by default so that a fresh
 * clone on the same machine (CI) reuses them. HERMOD_CACHE_DIR overrides it.
 */
export function cacheDirectory(): string {
  return (
    process.env.HERMOD_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hermod')
  );
}

export interface GoBinarySpec {
  /** Name of the produced binary, e.g. nats-server. */
  name: string;
  /** Module path of the main package, e.g. github.com/nats-io/nats-server/v2. */
  packagePath: string;
  version: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs build while holding a cross-process lock named after what it builds, so that several test
 * processes starting on a cold cache wait for one build instead of each compiling the same modules
 * (which on a 2-core machine multiplies the wait). A lock left by a dead process is taken over.
 */
export async function withBuildLock<T>(name: string, build: () => Promise<T>): Promise<T> {
  const lockDir = join(cacheDirectory(), 'locks', `${name}.lock`);
  await mkdir(join(cacheDirectory(), 'locks'), { recursive: true });
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => 'NaN'));
      const ageMs = Date.now() - ((await stat(lockDir).catch(() => undefined))?.mtimeMs ?? Date.now());
      // No pid after a minute: its owner died between taking the lock and writing the pid.
      if (Number.isInteger(owner) ? !processAlive(owner) : ageMs > 60_000) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
  try {
    await writeFile(join(lockDir, 'pid'), String(process.pid));
    return await build();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

/** Returns the cached binary for spec, building it with `go install` from the module proxy when absent. */
export async function ensureGoBinary(
  spec: GoBinarySpec,
  log: (line: string) => void = () => {},
): Promise<string> {
  const target = join(cacheDirectory(), 'bin', `${spec.name}-${spec.version}`);
  if (await exists(target)) return target;
  try {
    await run('go', ['version']);
  } catch {
    throw new MissingPrerequisiteError(
      `${spec.name} ${spec.version} (not cached) and the Go toolchain to build it`,
      'install Go 1.22+ (https://go.dev/doc/install or `apt-get install golang`), or put the binary at ' +
        target,
    );
  }
  return withBuildLock(`${spec.name}-${spec.version}`, async () => {
    // Another process may have built it while this one waited for the lock.
    if (await exists(target)) return target;
    log(`building ${spec.name} ${spec.version} from Go modules (first run only)...`);
    await goInstall(spec, target);
    return target;
  });
}

async function goInstall(spec: GoBinarySpec, target: string): Promise<void> {
  const gobin = await mkdtemp(join(tmpdir(), 'hermod-gobin-'));
  try {
    await run('go', ['install', `${spec.packagePath}@${spec.version}`], {
      env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-trimpath' },
      maxBuffer: 16 * 1024 * 1024,
    });
    await mkdir(join(cacheDirectory(), 'bin'), { recursive: true });
    const partial = `${target}.partial-${process.pid}`;
    await copyFile(join(gobin, spec.name), partial);
    await run('mv', ['-f', partial, target]);
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
}
