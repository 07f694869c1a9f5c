import { type Node, type Registry, SieveRuntimeError } from './core.js';
import { defaultRegistry } from './definitions.js';
import { notifyAllowed } from './ext/enotify.js';
import { currentFlags } from './ext/imap4flags.js';
import { vacationAllowed, vacationReplyFrom } from './ext/vacation.js';
import { normalizeMailbox, RunState, Runtime, StopSignal } from './runtime.js';
import type { CompiledScript, SieveAction, SieveEnvironment, SieveMessage, SieveResult } from './types.js';

export async function runSieve(
  script: CompiledScript,
  message: SieveMessage,
  env: SieveEnvironment,
): Promise<SieveResult> {
  return runSieveScripts([script], message, env);
}

/**
 * Runs scripts in sequence (global before, personal, global after) on one message, with Pigeonhole's
 * multiscript rules: a script runs only when the one before it left keep in effect (the implicit keep, or
 * an explicit `keep`); `stop` ends only the script it is in; the actions of a finished script are final
 * (see `finishScript`). A script that fails ends the sequence: its own actions are dropped, those of the
 * scripts before it stand, and the message is kept.
 */
export async function runSieveScripts(
  scripts: CompiledScript[],
  message: SieveMessage,
  env: SieveEnvironment,
): Promise<SieveResult> {
  return evaluateSieveScripts(scripts, message, env);
}

/**
 * runSieveScripts without a promise when no script waited for the host (most do not): the result
 * itself, or a promise of it from the first script that waited. A delivery runs thousands of these a
 * second, and a promise per recipient is work the usual script does not need.
 */
export function evaluateSieveScripts(
  scripts: readonly CompiledScript[],
  message: SieveMessage,
  env: SieveEnvironment,
): SieveResult | Promise<SieveResult> {
  return continueScripts(scripts, 0, new RunState(message, env));
}

/** Runs scripts[from..] of a sequence (runSieveScripts' rules), synchronously until one waits. */
function continueScripts(
  scripts: readonly CompiledScript[],
  from: number,
  state: RunState,
): SieveResult | Promise<SieveResult> {
  for (let k = from; k < scripts.length; k++) {
    const duplicates = state.duplicates.length;
    const err = executeScript(defaultRegistry, scripts[k]!, state, 'main');
    if (err instanceof Promise)
      return err.then((e) => {
        if (e) return failedResult(state, duplicates, e);
        return finishScript(state) ? continueScripts(scripts, k + 1, state) : resultOf(state);
      });
    if (err) return failedResult(state, duplicates, err);
    if (!finishScript(state)) break;
  }
  return resultOf(state);
}

/**
 * Ends one script of a sequence: its actions become final (a later script's duplicate of one is dropped
 * and does not conflict with it) and the answer is whether the next script runs, that is whether keep is
 * still in effect. The next script starts with the implicit keep in effect again.
 */
export function finishScript(state: RunState): boolean {
  state.committed = state.actions.length;
  const goOn = !state.keepCancelled || state.explicitKeep;
  if (goOn) state.keepCancelled = false;
  state.explicitKeep = false;
  return goOn;
}

/** The result of a sequence whose current script failed: the finished scripts' actions and a keep. */
function failedResult(
  state: RunState,
  duplicates: number,
  err: { line: number; column: number; message: string },
): SieveResult {
  state.actions.length = state.committed;
  state.duplicates.length = duplicates;
  state.keepCancelled = false;
  state.implicitFlags = [];
  const { modifiedMessage: _edited, ...result } = resultOf(state);
  return { ...result, errors: [err] };
}

/** A compiled script's require list as a set, made once per compiled form (the runtime only reads it). */
const requireSets = new WeakMap<CompiledScript, Set<string>>();
function requiresOf(script: CompiledScript): Set<string> {
  let set = requireSets.get(script);
  if (!set) {
    set = new Set(script.requires);
    requireSets.set(script, set);
  }
  return set;
}

type ScriptError = { line: number; column: number; message: string };

/**
 * Runs one script against the run state; returns the runtime error, if any: synchronously when
 * nothing in the script waited for the host, else as a promise.
 */
export function executeScript(
  registry: Registry,
  script: CompiledScript,
  state: RunState,
  name: string,
): ScriptError | undefined | Promise<ScriptError | undefined> {
  const rt = new Runtime(state, registry, requiresOf(script), script.includes, new Map(), name);
  let ran: Promise<void> | void;
  try {
    ran = rt.runBlock(script.body as Node[]);
  } catch (e) {
    return scriptEnded(rt, true, e);
  }
  if (ran)
    return ran.then(
      () => scriptEnded(rt, false),
      (e: unknown) => scriptEnded(rt, true, e),
    );
  return scriptEnded(rt, false);
}

/** How a script ended: at its end or a stop (its implicit keep's flags kept), or with an error. */
function scriptEnded(rt: Runtime, threw: boolean, e?: unknown): ScriptError | undefined {
  try {
    if (threw && !(e instanceof StopSignal)) throw e;
    rt.state.implicitFlags = currentFlags(rt);
    return undefined;
  } catch (e) {
    if (e instanceof SieveRuntimeError) return { line: e.line, column: e.column, message: e.message };
    if (e instanceof RangeError)
      return { line: 0, column: 0, message: `script execution failed: ${e.message}` };
    throw e;
  }
}

/** The result of a run; with `from`, only the actions from that index on (a test harness executes rounds). */
export function resultOf(state: RunState, from = 0): SieveResult {
  const actions: SieveAction[] = [];
  for (const a of state.actions.slice(from)) {
    if (a.kind === 'vacation' && !vacationAllowed(state, a)) continue;
    if (a.kind === 'notify' && !notifyAllowed(state)) continue;
    const { line: _l, column: _c, script: _s, edited, ...action } = a;
    if (action.kind === 'vacation')
      action.from = vacationReplyFrom(state, a as typeof a & { kind: 'vacation' });
    if (edited !== undefined) (action as { message?: Buffer }).message = Buffer.from(edited, 'latin1');
    actions.push(action as SieveAction);
  }
  // the implicit keep, unless a finished script stored the message in INBOX already
  const keptBefore = state.actions.some(
    (a, i) =>
      i < state.committed &&
      (a.kind === 'keep' || (a.kind === 'fileinto' && normalizeMailbox(a.mailbox) === 'INBOX')),
  );
  if (!state.keepCancelled && !keptBefore) actions.push({ kind: 'keep', flags: state.implicitFlags });
  const result: SieveResult = { actions, duplicates: state.duplicates, errors: [] };
  if (state.notices.length > 0) result.notices = state.notices;
  if (state.message.edited) result.modifiedMessage = Buffer.from(state.message.text(), 'latin1');
  return result;
}
