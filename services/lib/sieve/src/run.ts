import { type Node, type Registry, SieveRuntimeError } from './core.js';
import { defaultRegistry } from './definitions.js';
import { notifyAllowed } from './ext/enotify.js';
import { currentFlags } from './ext/imap4flags.js';
import { vacationAllowed } from './ext/vacation.js';
import { RunState, Runtime, StopSignal } from './runtime.js';
import type { CompiledScript, SieveAction, SieveEnvironment, SieveMessage, SieveResult } from './types.js';

export async function runSieve(
  script: CompiledScript,
  message: SieveMessage,
  env: SieveEnvironment,
): Promise<SieveResult> {
  return runSieveScripts([script], message, env);
}

/**
 * Runs scripts in sequence (global before, personal, global after) on one message. A script runs only when
 * the scripts before it left the implicit keep in effect (as Pigeonhole's multiscript does); `stop` ends
 * only the script it is in. Actions accumulate; the implicit keep, when still in effect, comes last.
 */
export async function runSieveScripts(
  scripts: CompiledScript[],
  message: SieveMessage,
  env: SieveEnvironment,
): Promise<SieveResult> {
  const state = new RunState(message, env);
  for (const script of scripts) {
    const err = await executeScript(defaultRegistry, script, state, 'main');
    if (err) return { actions: [{ kind: 'keep', flags: [] }], duplicates: [], errors: [err] };
    if (state.keepCancelled) break;
  }
  return resultOf(state);
}

/** Runs one script against the run state; returns the runtime error, if any. */
export async function executeScript(
  registry: Registry,
  script: CompiledScript,
  state: RunState,
  name: string,
): Promise<{ line: number; column: number; message: string } | undefined> {
  const rt = new Runtime(state, registry, new Set(script.requires), script.includes, new Map(), name);
  try {
    try {
      await rt.runBlock(script.body as Node[]);
    } catch (e) {
      if (!(e instanceof StopSignal)) throw e;
    }
    state.implicitFlags = currentFlags(rt);
    return undefined;
  } catch (e) {
    if (e instanceof SieveRuntimeError) return { line: e.line, column: e.column, message: e.message };
    if (e instanceof RangeError)
      return { line: 0, column: 0, message: `script execution failed: ${e.message}` };
    throw e;
  }
}

export function resultOf(state: RunState): SieveResult {
  const actions: SieveAction[] = [];
  for (const a of state.actions) {
    if (a.kind === 'vacation' && !vacationAllowed(state, a)) continue;
    if (a.kind === 'notify' && !notifyAllowed(state)) continue;
    const { line: _l, column: _c, script: _s, edited, ...action } = a;
    if (edited !== undefined) (action as { message?: Buffer }).message = Buffer.from(edited, 'latin1');
    actions.push(action as SieveAction);
  }
  if (!state.keepCancelled) actions.push({ kind: 'keep', flags: state.implicitFlags });
  const result: SieveResult = { actions, duplicates: state.duplicates, errors: [] };
  if (state.notices.length > 0) result.notices = state.notices;
  if (state.message.edited) result.modifiedMessage = Buffer.from(state.message.text(), 'latin1');
  return result;
}
