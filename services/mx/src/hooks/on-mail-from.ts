import { senderEnvelopeRefusal, smtpError } from '@hermod/smtp';
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
      const refusal = senderEnvelopeRefusal(address, session, deps.refused);
      if (refusal) {
        callback(refusal);
        return;
      }
    }
    callback();
  };
}
