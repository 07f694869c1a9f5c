import {
  domainOfAddress,
  evaluatePolicy,
  messageFacts,
  type PolicyDecision,
  type PolicySet,
  PolicyTimeoutError,
  stripAttachments,
} from '@hermod/policy-rules';
import { smtpError } from '@hermod/smtp';

export interface PolicyInput {
  /** The message as stored so far (our Received first). */
  message: () => AsyncIterable<Buffer>;
  ip: string;
  mailFrom: string;
  recipients: readonly string[];
  /** The verdicts the mx computed (absent when the checks are off or failed). */
  auth?: { spf: string; dkim: readonly string[]; dmarc: string };
  spamScore?: number;
}

export interface PolicyOptions {
  maxBytes: number;
  budgetMs: number;
}

/** What the rules change about an accepted message. */
export interface PolicyOutcome {
  /** Fields to put first (the rules' addHeader and X-Hermod-Policy), CRLF-terminated. */
  headers: string;
  folder?: string;
  /** Compliance copies (bcc). */
  add: string[];
  /** A redirect's recipients, in place of the envelope's. */
  replace?: string[];
  /** The message with attachments replaced by a notice, to store instead of the received one. */
  stripped?: Buffer;
  quarantine?: { rule: string; reason: string };
  decision: PolicyDecision;
}

async function readUpTo(
  source: AsyncIterable<Buffer>,
  max: number,
): Promise<{ data: Buffer; whole: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    if (size + chunk.length > max) {
      chunks.push(chunk.subarray(0, max - size));
      return { data: Buffer.concat(chunks), whole: false };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { data: Buffer.concat(chunks), whole: true };
}

/** One DKIM verdict from mailauth's per-signature results: pass if any signature passed. */
function dkimVerdict(results: readonly string[]): string {
  const verdicts = results.map((r) => r.slice(r.lastIndexOf(':') + 1));
  return verdicts.includes('pass') ? 'pass' : (verdicts[0] ?? 'none');
}

const clean = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 400);

/**
 * The inbound policy rules on one message: the global rules, those of every recipient's domain
 * and the defaults (@hermod/policy-rules). A reject is thrown as 550 5.7.1 with the rule's text,
 * a time budget overrun as 451 4.7.1; everything else is returned for the accept.
 */
export async function applyPolicyRules(
  policy: PolicySet,
  input: PolicyInput,
  options: PolicyOptions,
): Promise<PolicyOutcome> {
  const { data, whole } = await readUpTo(input.message(), options.maxBytes);
  const facts = messageFacts(data);
  let decision: PolicyDecision;
  try {
    decision = evaluatePolicy(
      policy.rulesFor(input.recipients.map(domainOfAddress)),
      facts,
      {
        direction: 'inbound',
        mailFrom: input.mailFrom,
        recipients: input.recipients,
        clientAddress: input.ip,
        ...(input.auth
          ? { auth: { spf: input.auth.spf, dkim: dkimVerdict(input.auth.dkim), dmarc: input.auth.dmarc } }
          : {}),
        ...(input.spamScore !== undefined ? { spamScore: input.spamScore } : {}),
      },
      options.budgetMs,
    );
  } catch (error) {
    if (error instanceof PolicyTimeoutError) {
      throw smtpError(451, '4.7.1', 'Message could not be checked in time, try again later');
    }
    throw error;
  }
  const { terminal } = decision;
  if (terminal?.kind === 'reject')
    throw smtpError(550, '5.7.1', `${terminal.text} (policy rule ${terminal.rule})`);
  let headers = decision.headers.map((h) => `${h.name}: ${h.value}\r\n`).join('');
  if (decision.matched.length > 0) headers += `X-Hermod-Policy: ${clean(decision.matched.join(', '))}\r\n`;
  const outcome: PolicyOutcome = {
    headers,
    add: decision.bcc.map((b) => b.address),
    decision,
    ...(decision.folder ? { folder: decision.folder.name } : {}),
    ...(terminal?.kind === 'redirect' ? { replace: terminal.addresses } : {}),
    ...(terminal?.kind === 'quarantine'
      ? { quarantine: { rule: terminal.rule, reason: terminal.reason } }
      : {}),
  };
  if (decision.strip && decision.strip.parts.length > 0) {
    if (whole) {
      const names = new Map(facts.attachments.filter((a) => !a.inArchive).map((a) => [a.part, a.name]));
      outcome.stripped = stripAttachments(
        facts.root,
        decision.strip.parts,
        decision.strip.notice,
        (p) => names.get(p) ?? '',
      );
    } else {
      // Only the beginning was read: removing parts from it would lose the rest of the message.
      outcome.headers += 'X-Hermod-Policy-Strip: skipped (message larger than POLICY_MAX_MESSAGE_BYTES)\r\n';
    }
  }
  return outcome;
}
