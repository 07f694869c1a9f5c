import type { RefusalReason } from './refusals.js';
import { type SmtpReplyError, smtpError } from './smtp-reply.js';

/** Why a message is held: the kind of finding (malware scanner, policy rule, spam filter). */
export type QuarantineKind = 'malware' | 'policy' | 'spam';

/**
 * What a content check decides about a complete message, in the accept path of msa and mx (the
 * malware scanner, the policy rules, the spam filter): accept (with header fields to add), refuse
 * for good or for now, or hold it in quarantine (answered 250: the gateway has taken it).
 */
export type Disposition =
  | { action: 'accept' /** Fields to put first, each ending in CRLF. */; headers?: string }
  | {
      action: 'reject';
      code: 550 | 552 | 554;
      status: `5.${number}.${number}`;
      text: string;
      /** What the refusal is counted as (the pipeline counts it when it is the reply). */
      reason: RefusalReason;
    }
  | {
      action: 'tempfail';
      code: 450 | 451 | 452;
      status: `4.${number}.${number}`;
      text: string;
      reason: RefusalReason;
    }
  | {
      action: 'quarantine';
      kind: QuarantineKind;
      /** For the notice and the CLI: what was found. */
      reason: string;
      /** The rule or signature name that decided. */
      rule?: string;
      headers?: string;
    };

export const acceptDisposition: Disposition = { action: 'accept' };

/** The reply of a refusing disposition (counted by its reason). */
export function refusalOf(d: Extract<Disposition, { action: 'reject' | 'tempfail' }>): SmtpReplyError {
  return smtpError(d.code, d.status, d.text, d.reason);
}

/** What the pipeline gives the quarantine store for a message held instead of delivered. */
export interface QuarantineRequest {
  /** The id written into our Received field; the quarantine entry's id. */
  spoolId: string;
  mailFrom: string;
  recipients: string[];
  source: 'msa' | 'mx';
  clientAddress: string;
  clientHelo: string;
  kind: QuarantineKind;
  reason: string;
  rule?: string;
  envelope: Record<string, unknown>;
  /** The message as it would have been stored (the fields of the checks first). */
  body: () => AsyncIterable<Buffer>;
}

/**
 * Scans a message while it arrives (the malware scanner): sees every byte as it is spooled, and
 * gives the first disposition once the message is complete. `source` reads the spooled message
 * again (for a scan that could not stream).
 */
export interface BodyScan {
  /** Takes a chunk; a promise only when the scanner makes the message wait (undefined: taken at once). */
  write(chunk: Buffer): Promise<void> | undefined;
  disposition(source: () => AsyncIterable<Buffer>): Promise<Disposition>;
  abort(): void;
}
