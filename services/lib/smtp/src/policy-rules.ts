import { domainOfAddress } from '@hermod/address';
import {
  type JudgeOptions,
  judgeMessage,
  type PolicyDecision,
  type PolicySet,
  PolicyTimeoutError,
} from '@hermod/policy-rules';
import { smtpError } from './smtp-reply.js';

export interface PolicyInput {
  /** inbound (mx): the recipients' domains' rules; outbound (msa): the sender's domain's. */
  direction: 'inbound' | 'outbound';
  /** The message as stored so far (our Received first). */
  message: () => AsyncIterable<Buffer>;
  ip: string;
  mailFrom: string;
  recipients: readonly string[];
  /** The verdicts the mx computed (absent when the checks are off or failed). */
  auth?: { spf: string; dkim: readonly string[]; dmarc: string };
  spamScore?: number;
  /** outbound: the sender's domain (the authenticated account's). */
  senderDomain?: string;
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

/** One DKIM verdict from mailauth's per-signature results: pass if any signature passed. */
function dkimVerdict(results: readonly string[]): string {
  const verdicts = results.map((r) => r.slice(r.lastIndexOf(':') + 1));
  return verdicts.includes('pass') ? 'pass' : (verdicts[0] ?? 'none');
}

/**
 * The policy rules on one message (@hermod/policy-rules), for msa and mx alike: the global rules,
 * the rules of every recipient's domain (inbound) or of the sender's domain (outbound), and the
 * defaults. A reject is thrown as 550 5.7.1 with the rule's text, a time budget overrun as 451
 * 4.7.1; everything else is returned for the accept.
 */
export async function applyPolicyRules(
  policy: PolicySet,
  input: PolicyInput,
  options: JudgeOptions,
): Promise<PolicyOutcome> {
  let judged: Awaited<ReturnType<typeof judgeMessage>>;
  try {
    judged = await judgeMessage(
      policy,
      input.message(),
      input.direction === 'inbound'
        ? input.recipients.map(domainOfAddress)
        : [input.senderDomain ?? domainOfAddress(input.mailFrom)],
      {
        direction: input.direction,
        mailFrom: input.mailFrom,
        recipients: input.recipients,
        clientAddress: input.ip,
        ...(input.auth
          ? { auth: { spf: input.auth.spf, dkim: dkimVerdict(input.auth.dkim), dmarc: input.auth.dmarc } }
          : {}),
        ...(input.spamScore !== undefined ? { spamScore: input.spamScore } : {}),
      },
      options,
    );
  } catch (error) {
    if (error instanceof PolicyTimeoutError) {
      throw smtpError(
        451,
        '4.7.1',
        'Message could not be checked in time, try again later',
        'policy-timeout',
      );
    }
    throw error;
  }
  const { decision } = judged;
  const { terminal } = decision;
  if (terminal?.kind === 'reject')
    throw smtpError(550, '5.7.1', `${terminal.text} (policy rule ${terminal.rule})`, 'policy');
  return {
    headers: judged.headers,
    add: decision.bcc.map((b) => b.address),
    decision,
    ...(decision.folder ? { folder: decision.folder.name } : {}),
    ...(terminal?.kind === 'redirect' ? { replace: terminal.addresses } : {}),
    ...(terminal?.kind === 'quarantine'
      ? { quarantine: { rule: terminal.rule, reason: terminal.reason } }
      : {}),
    ...(judged.stripped ? { stripped: judged.stripped } : {}),
  };
}
