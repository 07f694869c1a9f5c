import { parseAddress } from '@hermod/address';
import { smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';

/** MAIL FROM: the per-IP message rate, then the sender's syntax. The null sender (bounces) is welcome. */
export function onMailFrom(deps: MxDeps): NonNullable<SMTPServerOptions['onMailFrom']> {
  return (address, session, callback) => {
    if (!deps.limits.takeMessage(session.remoteAddress)) {
      deps.metrics.rejections.inc({ reason: 'rate-limit' });
      callback(smtpError(450, '4.7.1', 'Message rate limit exceeded for your address, try again later'));
      return;
    }
    if (address.address !== '') {
      try {
        parseAddress(address.address);
      } catch (error) {
        callback(smtpError(553, '5.1.7', `Bad sender address syntax: ${(error as Error).message}`));
        return;
      }
    }
    callback();
  };
}
