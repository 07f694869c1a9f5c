import { smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';
import type { SessionUser } from '../session-user.js';

/** AUTH PLAIN / LOGIN (only ever reached over TLS: allowInsecureAuth is off). */
export function onAuth(deps: MsaDeps): NonNullable<SMTPServerOptions['onAuth']> {
  return (auth, session, callback) => {
    const ip = session.remoteAddress;
    const username = (auth.username ?? '').slice(0, 320);
    if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') {
      callback(smtpError(504, '5.5.4', 'Unrecognized authentication type'));
      return;
    }
    if (/[\x00-\x1f\x7f]/.test(username)) {
      callback(smtpError(501, '5.5.2', 'Invalid characters in authentication identity'));
      return;
    }
    if (deps.throttle.isLocked(ip, username.toLowerCase())) {
      deps.metrics.authFailures.inc();
      callback(smtpError(454, '4.7.0', 'Too many failed authentication attempts, try again later'));
      return;
    }
    deps.accounts
      .authenticate(username, auth.password ?? '')
      .then((account) => {
        if (account) {
          deps.throttle.recordSuccess(ip, username.toLowerCase());
          const user: SessionUser = { accountId: account.id, address: account.address };
          callback(null, { user });
          return;
        }
        deps.metrics.authFailures.inc();
        const delay = deps.throttle.recordFailure(ip, username.toLowerCase());
        deps.logger.info({ sessionId: session.id, ip, username }, 'authentication failed');
        setTimeout(() => callback(smtpError(535, '5.7.8', 'Authentication credentials invalid')), delay);
      })
      .catch((error: unknown) => {
        deps.logger.error({ err: error, sessionId: session.id }, 'authentication backend failed');
        callback(smtpError(454, '4.7.0', 'Temporary authentication failure'));
      });
  };
}
