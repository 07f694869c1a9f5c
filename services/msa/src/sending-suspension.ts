import type { SuspendOutcome } from '@hermod/accounts';
import type { Logger } from '@hermod/logging';
import { smtpError } from '@hermod/smtp';

/**
 * The one reply to a submission from an account whose sending is suspended: it names the
 * suspension of the authenticated account only, never anything about another account.
 */
export const suspendedReply = () =>
  smtpError(550, '5.7.1', 'Sending from this account is suspended; contact your mail administrator');

/** Reports a suspension msa made: counts it, logs the event, and hands the owner's notice to routing. */
export type SuspensionReporter = (
  accountId: number,
  outcome: SuspendOutcome & { hits: number },
  details: { sessionId: string; cause: string },
) => void;

export function suspensionReporter(
  counter: { inc(labels: { cause: string }): void },
  logger: Logger,
  handOverNotice: (spoolId: string) => void,
): SuspensionReporter {
  return (accountId, outcome, details) => {
    if (!outcome.suspended) return;
    counter.inc({ cause: details.cause });
    logger.warn(
      {
        event: 'account.sending-suspended',
        accountId,
        address: outcome.address,
        cause: details.cause,
        hits: outcome.hits,
        sessionId: details.sessionId,
        noticeSpoolId: outcome.noticeSpoolId,
      },
      'sending suspended',
    );
    // Durable already (spooled in the suspending transaction); the sweeper hands it over if this is lost.
    if (outcome.noticeSpoolId) handOverNotice(outcome.noticeSpoolId);
  };
}
