import { AddressError, parseAddress } from '@hermod/address';
import { routingV1 } from '@hermod/proto';
import { answerRecipient, recipientEnvelopeError, type SmtpReplyError, smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';

const relayDenied = () => smtpError(550, '5.7.1', 'Relaying denied');

/** The reply for a recipient the canonical parser refuses: relay syntax is a relay attempt, the rest is syntax. */
export function addressErrorReply(error: unknown): SmtpReplyError {
  if (!(error instanceof AddressError)) return smtpError(501, '5.1.3', 'Bad recipient address syntax');
  switch (error.code) {
    case 'routing-characters':
    case 'source-route':
    case 'address-literal':
      return relayDenied();
    case 'bad-local-part':
      // "user@elsewhere"@ourdomain: a quoted local part hiding another address is a relay attempt.
      return /["\\@]/.test(error.input.slice(0, error.input.lastIndexOf('@')))
        ? relayDenied()
        : smtpError(501, '5.1.3', `Bad recipient address syntax: ${error.message}`);
    default:
      return smtpError(501, '5.1.3', `Bad recipient address syntax: ${error.message}`);
  }
}

/**
 * RCPT TO: only domains we serve in local, backup or auto mode; then routing decides at once whether
 * the recipient exists (550 5.1.1 now, never a bounce later).
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
    let canonical: string;
    let domain: string;
    try {
      ({ canonical, domain } = parseAddress(address.address));
    } catch (error) {
      const reply = addressErrorReply(error);
      deps.refused(session, reply.responseCode === 550 ? 'relay' : 'recipient-syntax', {
        code: reply.responseCode,
        recipient: address.address,
      });
      callback(reply);
      return;
    }
    const config = deps.domain(domain);
    if (!config || config.exchanger === 'remote') {
      deps.refused(session, 'relay', { code: 550, recipient: address.address });
      callback(relayDenied());
      return;
    }
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    answerRecipient(
      deps.validateRecipient,
      { address: canonical, channel: routingV1.Channel.CHANNEL_INBOUND, sender },
      callback,
      {
        logger: deps.logger,
        sessionId: session.id,
        onAccepted: (answer) => deps.recipientRoutes.remember(address, answer),
        onRefused: (code) => deps.refused(session, 'recipient', { code, recipient: canonical }),
      },
    );
  };
}
