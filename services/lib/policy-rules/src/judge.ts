import type { PolicyContext } from './compile.js';
import { evaluatePolicy, type PolicyDecision } from './evaluate.js';
import { messageFacts } from './message-facts.js';
import type { PolicySet } from './policy-set.js';
import { stripAttachments } from './strip-attachments.js';

export interface JudgeOptions {
  /** Bytes of the message the rules see; a larger message is judged on its beginning. */
  maxBytes: number;
  budgetMs: number;
}

/** The rules' decision on one message, and what the receiving service stores if it accepts it. */
export interface Judgement {
  decision: PolicyDecision;
  /** Fields to put first (the rules' addHeader and X-Hermod-Policy), CRLF-terminated. */
  headers: string;
  /** The message with attachments replaced by a notice, to store instead of the received one. */
  stripped?: Buffer;
}

/** One chunk as it is (a spooled body in memory is one chunk; the rules only read it), else a copy. */
const joined = (chunks: Buffer[]): Buffer => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));

/**
 * The first `max` bytes of a message, and its whole size: past `max` the rest is counted, not
 * kept (a `sizeOver` larger than POLICY_MAX_MESSAGE_BYTES must still hold).
 */
async function readUpTo(
  source: AsyncIterable<Buffer>,
  max: number,
): Promise<{ data: Buffer; whole: boolean; size: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    if (size < max) chunks.push(size + chunk.length > max ? chunk.subarray(0, max - size) : chunk);
    size += chunk.length;
  }
  return { data: joined(chunks), whole: size <= max, size };
}

const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 400);

/**
 * Reads a message (at most maxBytes), evaluates the rules for the given domains and prepares
 * what an accept stores: the header fields and, when a rule strips attachments, the new message.
 * Throws PolicyTimeoutError when the budget is spent. msa and mx both judge through here.
 */
export async function judgeMessage(
  set: PolicySet,
  source: AsyncIterable<Buffer>,
  domains: Iterable<string>,
  ctx: PolicyContext,
  options: JudgeOptions,
): Promise<Judgement> {
  const rules = set.rulesFor(domains).filter((r) => r.direction === 'both' || r.direction === ctx.direction);
  // No rule to run (defaults off, none configured): the message is not even read.
  if (rules.length === 0) return { decision: { headers: [], bcc: [], matched: [], trace: [] }, headers: '' };
  const { data, whole, size } = await readUpTo(source, options.maxBytes);
  // The facts these rules read are computed before the budget starts; the others never are.
  const facts = messageFacts(data, new Set(rules.flatMap((r) => [...r.facts])), size);
  const decision = evaluatePolicy(rules, facts, ctx, options.budgetMs);
  let headers = decision.headers.map((h) => `${h.name}: ${h.value}\r\n`).join('');
  if (decision.matched.length > 0)
    headers += `X-Hermod-Policy: ${printable(decision.matched.join(', '))}\r\n`;
  const judgement: Judgement = { decision, headers };
  if (decision.strip && decision.strip.parts.length > 0) {
    if (whole) {
      // A part's first name (a part with several names is a fact under each).
      const names = new Map<number, string>();
      for (const a of facts.attachments) if (!a.inArchive && !names.has(a.part)) names.set(a.part, a.name);
      judgement.stripped = stripAttachments(
        facts.root,
        decision.strip.parts,
        decision.strip.notice,
        (p) => names.get(p) ?? '',
      );
    } else {
      // Only the beginning was read: removing parts from it would lose the rest of the message.
      judgement.headers +=
        'X-Hermod-Policy-Strip: skipped (message larger than POLICY_MAX_MESSAGE_BYTES)\r\n';
    }
  }
  return judgement;
}
