import { mkdirSync } from 'node:fs';
import { fromSource } from './args.js';

/** The folder of `--profile DIR` on a bench's command line, undefined without the flag. */
export function profileDir(argv: string[] = process.argv): string | undefined {
  const at = argv.indexOf('--profile');
  return at > 0 ? argv[at + 1] : undefined;
}

/**
 * `--profile DIR` for services run from source (`--from-source`): the environment that makes a
 * service write a V8 CPU profile of its whole life into DIR when it stops (bench/lib/profile-top.ts
 * summarizes it); empty without the flag. Bundled services (the default) are profiled by node's
 * own --cpu-prof instead (bench/lib/bundled-service.ts), so this is empty for them.
 */
export function profileEnv(argv: string[] = process.argv): Record<string, string> {
  const dir = profileDir(argv);
  if (!dir || !fromSource(argv)) return {};
  mkdirSync(dir, { recursive: true });
  return {
    NODE_OPTIONS: `--import tsx --import ${new URL('./cpu-profile.ts', import.meta.url).pathname}`,
    HERMOD_CPU_PROFILE_DIR: dir,
  };
}
