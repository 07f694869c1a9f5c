import { routingV1 } from '@hermod/proto';
import { answerRecipient, type RefusalReason, recipientEnvelopeError, smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';

/** The refusal reason (for the rejections metric) of routing's verdict. */
function refusalReason(verdict: routingV1.Verdict): RefusalReason {
  if (verdict === routingV1.Verdict.VERDICT_RELAY_DENIED) return 'relay';
  if (verdict === routingV1.Verdict.VERDICT_BAD_ADDRESS) return 'recipient-syntax';
  return 'recipient';
}

/**
 * RCPT TO: the session's own limits (recipient count, SMTPUTF8 encoding) here; whether the
 * recipient is served, a relay attempt, bad syntax or unknown is routing's decision, asked at
 * once (550 5.7.1 / 501 5.1.3 / 550 5.1.1 now, never a bounce later).
 */
export function onRcptTo(deps: MxDeps): NonNullable<SMTPServerOptions['onRcptTo']> {
  return (address, session, callback) => {
    if (session.envelope.rcptTo.length >= deps.config.MX_MAX_RECIPIENTS) {
      deps.refused(session, 'recipient-limit', { code: 452 });
      callback(smtpError(452, '4.5.3', 'Too many recipients'));
      return;
    }
    const encoding = recipientEnvelopeError(address, session, deps.postmaster);
    if (encoding) {
      deps.refused(session, 'recipient-encoding', { code: 553, recipient: address.address });
      callback(encoding);
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
        onRefused: (code, answer) =>
          deps.refused(session, refusalReason(answer.verdict), {
            code,
            recipient: answer.canonicalAddress || address.address,
          }),
      },
    );
  };
}
