import { routingV1 } from '@hermod/proto';
import { answerRecipient, sessionRecipientRefusal, smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';
import type { SessionUser } from '../session-user.js';

/** RCPT TO: checked with routing now, so an unknown local user is refused here, not bounced later. */
export function onRcptTo(deps: MsaDeps): NonNullable<SMTPServerOptions['onRcptTo']> {
  return (address, session, callback) => {
    const refusal = sessionRecipientRefusal(
      address,
      session,
      { maxRecipients: deps.config.MSA_MAX_RECIPIENTS, postmaster: deps.postmaster },
      deps.refused,
    );
    if (refusal) {
      callback(refusal);
      return;
    }
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const ask = () =>
      answerRecipient(
        deps.validateRecipient,
        { address: address.address, channel: routingV1.Channel.CHANNEL_SUBMISSION, sender },
        callback,
        {
          logger: deps.logger,
          sessionId: session.id,
          onAccepted: (answer) => deps.recipientRoutes.remember(address, answer),
          onRefused: (code) => deps.refused(session, 'recipient', { code, recipient: address.address }),
        },
      );
    // Counted before routing is asked: recipients tried, refused ones included (a compromised
    // account probing addresses reaches its limit too).
    const user = session.user as SessionUser | undefined;
    const allowed = user ? deps.limits.takeRecipient(user.accountId) : Promise.resolve(true);
    allowed.then(
      (ok) => {
        if (ok) ask();
        else {
          deps.refused(session, 'account-limit', { code: 452, user: user?.address });
          callback(
            smtpError(452, '4.5.3', 'Hourly recipient limit reached for this account, try again later'),
          );
        }
      },
      (error: unknown) => {
        deps.logger.error({ err: error, sessionId: session.id }, 'recipient limit check failed');
        callback(smtpError(451, '4.3.0', 'Temporary local problem, try again later'));
      },
    );
  };
}
