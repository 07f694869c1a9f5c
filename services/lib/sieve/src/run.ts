import type { CompiledScript, SieveEnvironment, SieveMessage, SieveResult } from './types.js';

export async function runSieve(
  script: CompiledScript,
  message: SieveMessage,
  env: SieveEnvironment,
): Promise<SieveResult> {
  return runSieveScripts([script], message, env);
}

/** Runs global-before, personal and global-after scripts as one sequence (keep of earlier ones is deferred). */
export async function runSieveScripts(
  _scripts: CompiledScript[],
  _message: SieveMessage,
  _env: SieveEnvironment,
): Promise<SieveResult> {
  return { actions: [{ kind: 'keep', flags: [] }], duplicates: [], errors: [] };
}
