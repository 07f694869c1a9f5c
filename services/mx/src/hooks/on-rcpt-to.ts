import { routingV1 } from '@hermod/proto';
import { answerRecipient, sessionRecipientRefusal } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';

/**
 * RCPT TO: the session's own limits (recipient count, SMTPUTF8 encoding) here; whether the
 * recipient is served, a relay attempt, bad syntax or unknown is routing's decision, asked at
 * once (550 5.7.1 / 501 5.1.3 / 550 5.1.1 now, never a bounce later).
 */
export function onRcptTo(deps: MxDeps): NonNullable<SMTPServerOptions['onRcptTo']> {
  return (address, session, callback) => {
    const refusal = sessionRecipientRefusal(
      address,
      session,
      { maxRecipients: deps.config.MX_MAX_RECIPIENTS, postmaster: deps.postmaster },
      deps.refused,
    );
    if (refusal) {
      callback(refusal);
      return;
    }
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    answerRecipient(
      deps.validateRecipient,
      { address: address.address, channel: routingV1.Channel.CHANNEL_INBOUND, sender },
      callback,
      {
        logger: deps.logger,
        sessionId: session.id,
        onAccepted: (answer) => deps.recipientRoutes.remember(address, answer),
        onRefused: (code, answer, reason) =>
          deps.refused(session, reason, {
            code,
            recipient: answer.canonicalAddress || address.address,
          }),
      },
    );
  };
}
