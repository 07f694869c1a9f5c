/**
 * The failure kinds of a delivery attempt, one class each with a stable `code`. Where a failure
 * arises it is given its kind (the SMTP session wraps nodemailer's errors, the spool loader wraps
 * the database's); the dispatcher decides by class, never by the text of a message:
 *
 * - NetworkError (NETWORK): connection refused, timed out or dropped. Deferred and retried.
 * - TlsError (TLS): handshake or certificate failure, or STARTTLS missing where TLS is required.
 *   Deferred (4.7.5 under a TLS policy).
 * - ReplyError (REPLY): the remote answered with a 4xx/5xx reply for the whole transaction;
 *   classified by the reply rule table (retried or bounced).
 * - ProtocolError (PROTOCOL): the remote answered something that is not SMTP. Deferred.
 * - DependencyError (DEPENDENCY): our database or key store failed. The recipients are left to
 *   their lease and tried again when it expires.
 * - LocalError (LOCAL): a fault of our own: a bug, an unusable DKIM key, a call nodemailer refused.
 *   Retrying cannot fix it, so the recipients are held at once (queue state 'held', the reason in
 *   last_reply), logged at error level and counted (hermod_outbound_local_errors_total) until an
 *   operator releases them (`hermod queue release`). Anything thrown that has none of these
 *   classes is a LocalError.
 */
export const FailureCode = {
  network: 'NETWORK',
  tls: 'TLS',
  reply: 'REPLY',
  protocol: 'PROTOCOL',
  dependency: 'DEPENDENCY',
  local: 'LOCAL',
} as const;
export type FailureCode = (typeof FailureCode)[keyof typeof FailureCode];

export abstract class DeliveryFailure extends Error {
  abstract readonly code: FailureCode;
}

export class NetworkError extends DeliveryFailure {
  readonly code = FailureCode.network;
  override readonly name = 'NetworkError';
}

/** RFC 8460 section 4.3 result types a TLS failure is reported as (SMTP TLS Reporting). */
export type TlsFailureType =
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'dane-required'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';

export class TlsError extends DeliveryFailure {
  readonly code = FailureCode.tls;
  override readonly name = 'TlsError';
  constructor(
    message: string,
    options?: ErrorOptions & {
      /** The policy that required TLS here when the route plan did not ('dane'). */
      policy?: string;
      resultType?: TlsFailureType;
    },
  ) {
    super(message, options);
    this.policy = options?.policy;
    this.resultType = options?.resultType;
  }
  readonly policy: string | undefined;
  readonly resultType: TlsFailureType | undefined;
}

export class ReplyError extends DeliveryFailure {
  readonly code = FailureCode.reply;
  override readonly name = 'ReplyError';
  constructor(
    readonly replyCode: number,
    /** The reply on one line ("421 4.3.2 shutting down"). */
    readonly reply: string,
    options?: ErrorOptions,
  ) {
    super(reply, options);
  }
}

export class ProtocolError extends DeliveryFailure {
  readonly code = FailureCode.protocol;
  override readonly name = 'ProtocolError';
}

export class DependencyError extends DeliveryFailure {
  readonly code = FailureCode.dependency;
  override readonly name = 'DependencyError';
  constructor(
    readonly dependency: 'database' | 'dkim-keys',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class LocalError extends DeliveryFailure {
  readonly code = FailureCode.local;
  override readonly name = 'LocalError';
}

/** The failure kind of anything thrown: its own class, else a LocalError (a fault of ours). */
export function asDeliveryFailure(error: unknown): DeliveryFailure {
  if (error instanceof DeliveryFailure) return error;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new LocalError(message, { cause: error });
}
