import type { LoginOutcome, TokenLoginOutcome } from '@hermod/accounts';
import { isTransientDatabaseError } from '@hermod/db';
import { type RefusalReason, smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';
import type { SessionUser } from '../session-user.js';

/**
 * AUTH PLAIN / LOGIN, and XOAUTH2 / OAUTHBEARER when an OIDC issuer is configured (only ever
 * reached over TLS: allowInsecureAuth is off), through the LoginGate.
 */
export function onAuth(deps: MsaDeps): NonNullable<SMTPServerOptions['onAuth']> {
  return (auth, session, callback) => {
    const ip = session.remoteAddress;
    const username = (auth.username ?? '').slice(0, 320);
    const bearer = auth.method === 'XOAUTH2' || (auth.method as string) === 'OAUTHBEARER';
    if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN' && !(bearer && deps.login.acceptsTokens)) {
      callback(smtpError(504, '5.5.4', 'Unrecognized authentication type'));
      return;
    }
    if (/[\x00-\x1f\x7f]/.test(username)) {
      callback(smtpError(501, '5.5.2', 'Invalid characters in authentication identity'));
      return;
    }
    // RFC 4616: an authorization identity other than the login's own is a request to act as
    // someone else. smtp-server passes it on; it is allowed only for the account's own addresses.
    const authzid = auth.method === 'PLAIN' && auth.authcid ? (auth.authzid ?? '') : '';
    const refuse = (reason: RefusalReason, code: number, enhanced: string, text: string) => {
      deps.metrics.authFailures.inc();
      deps.refused(session, reason, { code, username });
      callback(smtpError(code, enhanced, text));
    };
    const attempt: Promise<LoginOutcome | TokenLoginOutcome> = bearer
      ? deps.login.loginWithToken(ip, username || undefined, auth.accessToken ?? '')
      : deps.login.login(ip, username, auth.password ?? '', 'submission');
    attempt
      .then(async (outcome) => {
        if (!outcome.ok) {
          if (outcome.reason === 'locked')
            refuse('auth-locked', 454, '4.7.0', 'Too many failed authentication attempts, try again later');
          else if ('challenge' in outcome) {
            // RFC 7628 3.2.2: the error status as a 334 challenge; smtp-server then reads the
            // client's dummy response and answers 535.
            deps.metrics.authFailures.inc();
            deps.refused(session, 'auth-failed', { code: 535, username, text: outcome.error });
            callback(null, { data: JSON.parse(Buffer.from(outcome.challenge, 'base64').toString('utf8')) });
          } else refuse('auth-failed', 535, '5.7.8', 'Authentication credentials invalid');
          return;
        }
        const { account } = outcome;
        if (authzid && authzid !== username && !(await deps.accounts.ownsAddress(account.id, authzid))) {
          refuse('auth-authzid', 535, '5.7.8', 'Not authorized to act as that identity');
          return;
        }
        if (!deps.limits.openSession(account.id, await deps.limits.policy(account.id))) {
          refuse(
            'account-limit',
            454,
            '4.7.0',
            'Too many concurrent sessions for this account, try again later',
          );
          return;
        }
        const user: SessionUser = { accountId: account.id, address: account.address };
        callback(null, { user });
      })
      .catch((error: unknown) => {
        // Not the client's failed attempt: counted by reason only, never in authFailures (nor by
        // the throttle, which LoginGate does not reach). The store being away has its own reason,
        // as in imap.
        const outage = isTransientDatabaseError(error);
        if (outage)
          deps.logger.warn({ err: error, sessionId: session.id }, 'authentication store unavailable');
        else deps.logger.error({ err: error, sessionId: session.id }, 'authentication backend failed');
        deps.refused(session, outage ? 'storage-unavailable' : 'auth-backend', { code: 454, username });
        callback(smtpError(454, '4.7.0', 'Temporary authentication failure'));
      });
  };
}
