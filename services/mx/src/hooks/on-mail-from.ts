import { parseAddress } from '@hermod/address';
import { envelopeEncodingError, smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';

/** MAIL FROM: the per-IP message rate, then the sender's encoding and syntax. The null sender (bounces) is welcome. */
export function onMailFrom(deps: MxDeps): NonNullable<SMTPServerOptions['onMailFrom']> {
  return (address, session, callback) => {
    if (!deps.limits.takeMessage(session.remoteAddress)) {
      deps.refused(session, 'rate-limit', { code: 450 });
      callback(smtpError(450, '4.7.1', 'Message rate limit exceeded for your address, try again later'));
      return;
    }
    if (address.address !== '') {
      const encoding = envelopeEncodingError(address.address, !!session.envelope.smtpUtf8, 'sender');
      if (encoding) {
        deps.refused(session, 'sender-encoding', { code: 553, sender: address.address });
        callback(encoding);
        return;
      }
      try {
        parseAddress(address.address);
      } catch (error) {
        deps.refused(session, 'sender', { code: 553, sender: address.address });
        callback(smtpError(553, '5.1.7', `Bad sender address syntax: ${(error as Error).message}`));
        return;
      }
    }
    callback();
  };
}
