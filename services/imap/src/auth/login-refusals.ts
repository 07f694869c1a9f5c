import type { Logger } from '@hermod/logging';

/**
 * Why a login was refused, named as msa names its AUTH refusals (hermod_msa_rejections_total):
 * wrong credentials or token, a locked account or client, the per-user connection cap, no TLS, an
 * unsupported mechanism, an unreadable SASL response, a POP3 maildrop another session has locked,
 * or a command (a login or any other) refused because the mail store is unreachable.
 */
export type LoginRefusalReason =
  | 'auth-failed'
  | 'auth-locked'
  | 'account-limit'
  | 'maildrop-locked'
  | 'encryption-required'
  | 'auth-mechanism'
  | 'auth-malformed'
  /** The mail store (PostgreSQL) could not be reached: a temporary refusal of any command. */
  | 'storage-unavailable';

export type LoginProtocol = 'imap' | 'pop3' | 'managesieve';

/** Counts and logs one refused login; code is the protocol's response code as sent. */
export type RecordLoginRefusal = (
  logger: Logger,
  reason: LoginRefusalReason,
  details: { code: string; user?: string },
) => void;

/**
 * The refusal recorder of one protocol: hermod_imap_rejections_total{protocol,reason,code} (the
 * shape of msa's and mx's hermod_<service>_rejections_total{reason,code}, with the protocol), and
 * an info log line `refused` carrying the session's ids, the reason and the code.
 */
export function loginRefusalRecorder(
  counter: { inc(labels: { protocol: string; reason: string; code: string }): void },
  protocol: LoginProtocol,
): RecordLoginRefusal {
  return (logger, reason, details) => {
    counter.inc({ protocol, reason, code: details.code });
    logger.info({ reason, ...details }, 'refused');
  };
}
