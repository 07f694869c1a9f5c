import type { Logger } from '@hermod/logging';

/** Records one refused command: counted by reason and reply code, logged at info with the session id. */
export type RecordRefusal = (
  session: { id: string },
  reason: RefusalReason,
  details: { code: number } & Record<string, unknown>,
) => void;

/**
 * Why a command was refused. One name per condition, the same in msa and mx, so a dashboard can
 * sum them: sender (553 at MAIL), recipient (550 at RCPT), size (552), relay-denied, and the AUTH
 * outcomes (auth-required 530, auth-failed 535, auth-locked / auth-backend 454, auth-authzid 535).
 */
export type RefusalReason =
  | 'sender'
  | 'sender-encoding'
  | 'recipient'
  | 'recipient-limit'
  | 'relay-denied'
  | 'size'
  | 'auth-required'
  | 'auth-failed'
  | 'auth-locked'
  | 'auth-authzid'
  | 'auth-backend';

export function refusalRecorder(
  counter: { inc(labels: { reason: string; code: string }): void },
  logger: Logger,
): RecordRefusal {
  return (session, reason, details) => {
    counter.inc({ reason, code: String(details.code) });
    logger.info({ sessionId: session.id, reason, ...details }, 'refused');
  };
}
