import { routingV1 } from '@hermod/proto';
import { smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';

/** RCPT TO: checked with routing now, so an unknown local user is refused here, not bounced later. */
export function onRcptTo(deps: MsaDeps): NonNullable<SMTPServerOptions['onRcptTo']> {
  return (address, session, callback) => {
    if (session.envelope.rcptTo.length >= deps.config.MSA_MAX_RECIPIENTS) {
      callback(smtpError(452, '4.5.3', 'Too many recipients'));
      return;
    }
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    deps
      .validateRecipient({ address: address.address, channel: routingV1.Channel.CHANNEL_SUBMISSION, sender })
      .then((answer) => {
        if (answer.verdict === routingV1.Verdict.VERDICT_ACCEPT) callback();
        else
          callback(
            smtpError(
              answer.smtpCode || 550,
              answer.enhancedCode || '5.1.1',
              answer.message || 'Recipient rejected',
            ),
          );
      })
      .catch((error: unknown) => {
        deps.logger.warn({ err: error, sessionId: session.id }, 'routing unavailable at RCPT');
        callback(smtpError(451, '4.4.3', 'Recipient check temporarily unavailable, try again later'));
      });
  };
}
