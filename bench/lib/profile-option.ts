import { mkdirSync } from 'node:fs';

/**
 * `--profile DIR` on a bench's command line: the environment that makes a service write a V8 CPU
 * profile of its whole life into DIR when it stops (bench/lib/profile-top.ts summarizes it); empty
 * without the flag.
 */
export function profileEnv(argv: string[] = process.argv): Record<string, string> {
  const at = argv.indexOf('--profile');
  const dir = at > 0 ? argv[at + 1] : undefined;
  if (!dir) return {};
  mkdirSync(dir, { recursive: true });
  return {
    NODE_OPTIONS: `--import tsx --import ${new URL('./cpu-profile.ts', import.meta.url).pathname}`,
    HERMOD_CPU_PROFILE_DIR: dir,
  };
}
