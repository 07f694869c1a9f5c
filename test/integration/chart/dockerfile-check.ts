// BuildKit's own Dockerfile checks (the rules `docker build --check` runs: casing, duplicate stages,
// JSON exec form, relative WORKDIR, secrets in ENV/ARG, legacy ENV syntax, ...) and its parser, run
// offline by the small Go program in ./dockerfile-check, built from Go modules (github.com/moby/buildkit)
// and cached under HERMOD_CACHE_DIR by the hash of its sources.
import { createHash } from 'node:crypto';
import { access, constants, copyFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDirectory, MissingPrerequisiteError, withBuildLock } from '@hermod/local-infra';
import { run } from '@hermod/test/harness';

const sourceDir = join(import.meta.dirname, 'dockerfile-check');
const sourceFiles = ['go.mod', 'go.sum', 'main.go'];

export interface BuildkitLintResult {
  warnings: Array<{ rule: string; detail: string; line: number | undefined }>;
  /** The Dockerfile does not parse or does not convert (an unknown stage, a bad reference, ...). */
  error: string | undefined;
}

let pending: Promise<string> | undefined;

/** The dockerfile-check binary: cached by the hash of its sources, built with `go build` when missing. */
export function ensureDockerfileCheck(log: (line: string) => void = console.log): Promise<string> {
  pending ??= (async () => {
    const hash = createHash('sha256');
    for (const file of sourceFiles) hash.update(await readFile(join(sourceDir, file)));
    const target = join(cacheDirectory(), 'bin', `dockerfile-check-${hash.digest('hex').slice(0, 16)}`);
    const built = () =>
      access(target, constants.X_OK).then(
        () => true,
        () => false,
      );
    if (await built()) return target;
    if ((await run('go', ['version']).catch(() => ({ code: 127 }))).code !== 0)
      throw new MissingPrerequisiteError(
        'dockerfile-check (not cached) and the Go toolchain to build it',
        'install Go 1.23+ (`apt-get install golang` or https://go.dev/doc/install)',
      );
    await withBuildLock('dockerfile-check', async () => {
      if (await built()) return;
      const started = Date.now();
      log('building dockerfile-check (BuildKit Dockerfile checks) from Go modules (first run only)...');
      // Build from a copy so go never rewrites the checked-in go.mod/go.sum.
      const work = await mkdtemp(join(tmpdir(), 'hermod-dockerfile-check-'));
      try {
        for (const file of sourceFiles) await copyFile(join(sourceDir, file), join(work, file));
        const result = await run(
          'go',
          ['build', '-mod=mod', '-trimpath', '-ldflags', '-s -w', '-o', join(work, 'dockerfile-check'), '.'],
          {
            cwd: work,
            env: { ...process.env, GOWORK: 'off', CGO_ENABLED: '0', GOFLAGS: '' },
            timeoutMs: 900_000,
          },
        );
        if (result.code !== 0) throw new Error(`go build dockerfile-check failed: ${result.stderr}`);
        await mkdir(join(cacheDirectory(), 'bin'), { recursive: true });
        const partial = `${target}.partial-${process.pid}`;
        await copyFile(join(work, 'dockerfile-check'), partial);
        await rename(partial, target);
        log(`built dockerfile-check in ${Math.round((Date.now() - started) / 1000)} s`);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
    return target;
  })();
  pending.catch(() => {
    pending = undefined;
  });
  return pending;
}

/** Runs BuildKit's checks over every stage of the Dockerfile at path. */
export async function buildkitLint(path: string): Promise<BuildkitLintResult> {
  const binary = await ensureDockerfileCheck();
  const result = await run(binary, [path], { timeoutMs: 60_000 });
  if (result.code !== 0)
    throw new Error(`dockerfile-check ${path} failed (${result.code}): ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as {
    warnings: Array<{
      ruleName: string;
      detail?: string;
      location?: { ranges?: Array<{ start?: { line?: number } }> };
    }> | null;
    buildError?: { message: string };
  };
  return {
    warnings: (parsed.warnings ?? []).map((w) => ({
      rule: w.ruleName,
      detail: w.detail ?? '',
      line: w.location?.ranges?.[0]?.start?.line,
    })),
    error: parsed.buildError?.message,
  };
}
