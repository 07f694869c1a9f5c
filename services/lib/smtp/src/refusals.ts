import type { Logger } from '@hermod/logging';

/** Records one refused command: counted by reason and reply code, logged at info with the session id. */
export type RecordRefusal = (
  session: { id: string },
  reason: RefusalReason,
  details: { code: number } & Record<string, unknown>,
) => void;

/**
 * Why a command was refused. One name per condition, the same in msa and mx, so a dashboard can
 * sum them: sender (553 at MAIL: syntax or not the user's), sender-encoding / recipient-encoding
 * (553 5.6.7), recipient (routing's refusal at RCPT, 550), recipient-syntax (501), recipient-limit
 * (452), relay (550 5.7.1 relaying denied), size (552, at MAIL or DATA), rate-limit (450),
 * account-limit (msa's per-account hourly and session limits: 451, 452, 454), parameter (555: a
 * MAIL/RCPT parameter of an extension not offered), error-limit (421 4.7.0: too many refusals in
 * one session), protocol
 * (smtp-server's own refusals: sequence and syntax), and the AUTH outcomes (auth-required 530,
 * auth-failed 535, auth-locked and auth-backend 454, auth-authzid 535), storage-unavailable (4xx
 * because PostgreSQL cannot be reached or does not answer; at AUTH 454, not a failed attempt). The
 * content checks at the end
 * of DATA, counted by the accept pipeline: malware (554), malware-scanner (451: clamd unavailable,
 * slow, failing or its size limit), spam (Rspamd reject), greylist (Rspamd soft reject),
 * rspamd-unavailable (451), dmarc (550), policy (a rule's reject, or a quarantine where none is
 * kept), policy-timeout (451: the rules' time budget).
 */
export type RefusalReason =
  | 'sender'
  | 'sender-encoding'
  | 'recipient'
  | 'recipient-syntax'
  | 'recipient-encoding'
  | 'recipient-limit'
  | 'relay'
  | 'size'
  | 'rate-limit'
  | 'account-limit'
  | 'account-suspended'
  | 'parameter'
  | 'error-limit'
  | 'protocol'
  | 'auth-required'
  | 'auth-failed'
  | 'auth-locked'
  | 'auth-authzid'
  | 'auth-backend'
  | 'malware'
  | 'malware-scanner'
  | 'spam'
  | 'greylist'
  | 'rspamd-unavailable'
  | 'dmarc'
  | 'policy'
  | 'policy-timeout'
  | 'storage-unavailable';

/** The reason of a refusal smtp-server sent itself, from its context name. */
export function libraryRefusalReason(context: string | undefined, code: number): RefusalReason {
  if (context === 'MESSAGE_TOO_BIG' || code === 552) return 'size';
  if (context === 'TOO_MANY_ERRORS') return 'error-limit';
  if (context === 'SENDER_SYNTAX_ERROR') return 'sender';
  if (context === 'MAILBOX_SYNTAX_ERROR') return 'recipient-syntax';
  if (code === 530 || code === 538) return 'auth-required';
  return 'protocol';
}

export function refusalRecorder(
  counter: { inc(labels: { reason: string; code: string }): void },
  logger: Logger,
): RecordRefusal {
  return (session, reason, details) => {
    counter.inc({ reason, code: String(details.code) });
    logger.info({ sessionId: session.id, reason, ...details }, 'refused');
  };
}
