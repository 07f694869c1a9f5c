import { BudgetExceeded } from '@hermod/sieve/regex';
import type { CompiledRule, ConditionOutcome, PolicyContext } from './compile.js';
import type { MessageFacts } from './message-facts.js';

/** Why a rule matched or not, for logs and `hermod rules test`. */
export interface RuleTrace {
  rule: string;
  origin: string;
  matched: boolean;
  /** The conditions' outcomes in order (all, then any, then none). */
  conditions: Array<{ list: 'all' | 'any' | 'none'; holds: boolean; detail: string }>;
  /** Set when the rule was not looked at (an earlier terminal action, another direction, disabled). */
  skipped?: string;
}

export type TerminalAction =
  | { kind: 'reject'; rule: string; text: string }
  | { kind: 'quarantine'; rule: string; reason: string }
  | { kind: 'accept'; rule: string }
  | { kind: 'redirect'; rule: string; addresses: string[] };

/** The outcome of the rules for one message. */
export interface PolicyDecision {
  /** The first matching terminal action, if any. */
  terminal?: TerminalAction;
  /** Deliver to this mailbox (the last matching rule's folder). */
  folder?: { rule: string; name: string };
  headers: Array<{ rule: string; name: string; value: string }>;
  bcc: Array<{ rule: string; address: string }>;
  /** Attachments to remove: parts of MessageFacts.root (index in depth-first order). */
  strip?: { rules: string[]; parts: number[]; notice: string };
  /** Every rule that matched, in order. */
  matched: string[];
  trace: RuleTrace[];
}

export class PolicyTimeoutError extends Error {
  readonly code = 'POLICY_TIMEOUT';
  constructor(budgetMs: number) {
    super(`policy rules took longer than ${budgetMs} ms`);
  }
}

export const DEFAULT_STRIP_NOTICE =
  'The attachment "{name}" was removed from this message by the mail policy of the receiving system.';

/**
 * Runs the rules in order on one message. Semantics: a rule matches when every `all` condition
 * holds, at least one `any` condition holds (if there are any), and no `none` condition holds.
 * Its non-terminal actions (folder, addHeader, bcc, stripAttachments) accumulate over all
 * matching rules (the last folder wins); the first matching rule with a terminal action (reject,
 * quarantine, accept, redirect) ends the evaluation, keeping what earlier rules added. Throws
 * PolicyTimeoutError when the budget is spent (the caller tempfails, never guesses).
 */
export function evaluatePolicy(
  rules: readonly CompiledRule[],
  facts: MessageFacts,
  ctx: PolicyContext,
  budgetMs = 2_000,
): PolicyDecision {
  const deadline = performance.now() + budgetMs;
  const decision: PolicyDecision = { headers: [], bcc: [], matched: [], trace: [] };
  const stripParts = new Set<number>();
  for (const rule of rules) {
    if (decision.terminal) {
      decision.trace.push({
        rule: rule.name,
        origin: rule.origin,
        matched: false,
        conditions: [],
        skipped: `after ${decision.terminal.kind} by ${decision.terminal.rule}`,
      });
      continue;
    }
    if (rule.direction !== 'both' && rule.direction !== ctx.direction) {
      decision.trace.push({
        rule: rule.name,
        origin: rule.origin,
        matched: false,
        conditions: [],
        skipped: `${rule.direction} only`,
      });
      continue;
    }
    const trace: RuleTrace = { rule: rule.name, origin: rule.origin, matched: false, conditions: [] };
    decision.trace.push(trace);
    const run = (list: 'all' | 'any' | 'none', test: CompiledRule['all'][number]): ConditionOutcome => {
      if (performance.now() > deadline) throw new PolicyTimeoutError(budgetMs);
      let outcome: ConditionOutcome;
      try {
        outcome = test(facts, ctx, deadline);
      } catch (error) {
        if (error instanceof BudgetExceeded) throw new PolicyTimeoutError(budgetMs);
        throw error;
      }
      trace.conditions.push({ list, holds: outcome.holds, detail: outcome.detail });
      return outcome;
    };
    const parts: number[] = [];
    let ok = true;
    for (const test of rule.all) {
      const o = run('all', test);
      if (!o.holds) {
        ok = false;
        break;
      }
      parts.push(...(o.parts ?? []));
    }
    if (ok && rule.any.length > 0) {
      ok = false;
      for (const test of rule.any) {
        const o = run('any', test);
        if (o.holds) {
          ok = true;
          parts.push(...(o.parts ?? []));
          break;
        }
      }
    }
    if (ok) {
      for (const test of rule.none) {
        if (run('none', test).holds) {
          ok = false;
          break;
        }
      }
    }
    if (!ok) continue;
    trace.matched = true;
    decision.matched.push(rule.name);
    const { action } = rule;
    if (action.folder) decision.folder = { rule: rule.name, name: action.folder };
    for (const h of action.addHeader ?? [])
      decision.headers.push({ rule: rule.name, name: h.name, value: h.value });
    for (const address of action.bcc ?? [])
      decision.bcc.push({ rule: rule.name, address: address.toLowerCase() });
    if (action.stripAttachments) {
      const chosen = rule.attachmentConditions
        ? parts
        : facts.attachments.filter((a) => !a.inArchive).map((a) => a.part);
      for (const p of chosen) stripParts.add(p);
      const notice = action.stripAttachments.notice ?? DEFAULT_STRIP_NOTICE;
      decision.strip = {
        rules: [...(decision.strip?.rules ?? []), rule.name],
        parts: [...stripParts],
        notice: decision.strip?.notice ?? notice,
      };
    }
    if (action.reject) decision.terminal = { kind: 'reject', rule: rule.name, text: action.reject };
    else if (action.quarantine)
      decision.terminal = { kind: 'quarantine', rule: rule.name, reason: action.quarantine };
    else if (action.redirect)
      decision.terminal = {
        kind: 'redirect',
        rule: rule.name,
        addresses: action.redirect.map((a) => a.toLowerCase()),
      };
    else if (action.accept) decision.terminal = { kind: 'accept', rule: rule.name };
  }
  return decision;
}
