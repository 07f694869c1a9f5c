/**
 * @hermod/sieve: Sieve (RFC 5228) with extensions, compiled at upload and run at delivery. No I/O of its
 * own: storage lookups (mailbox existence, duplicate tracking) come in through SieveEnvironment callbacks.
 *
 * runSieve is asynchronous (returns a Promise) because those callbacks may be; the evaluation itself is
 * bounded by env.timeBudgetMs, env.maxActions and env.maxRedirects. Several scripts (global before,
 * personal, global after) run as one sequence with runSieveScripts.
 */
export { compileSieve } from './compile.js';
export { SIEVE_EXTENSIONS } from './extensions.js';
export { ALL_SCRIPT_INPUTS, compiledInputs, SCRIPT_INPUTS, withInputs } from './inputs.js';
export { evaluateSieveScripts, runSieve, runSieveScripts } from './run.js';
export { ParsedMessage } from './runtime.js';
export { deserializeCompiled, serializeCompiled } from './serialize.js';
export type {
  CompiledScript,
  CompileOptions,
  CompileResult,
  DuplicateTracker,
  SieveAction,
  SieveEnvironment,
  SieveError,
  SieveMessage,
  SieveResult,
} from './types.js';
