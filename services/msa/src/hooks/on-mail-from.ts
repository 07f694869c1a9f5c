import { senderEnvelopeRefusal, smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';
import { suspendedReply } from '../sending-suspension.js';
import { type SessionUser, startTransaction } from '../session-user.js';

/** MAIL FROM: an authenticated user may only use its own addresses; trusted networks may submit without AUTH. */
export function onMailFrom(deps: MsaDeps): NonNullable<SMTPServerOptions['onMailFrom']> {
  return (address, session, callback) => {
    const user = session.user as SessionUser | undefined;
    if (!user) {
      if (deps.isTrusted(session.remoteAddress)) callback();
      else {
        deps.refused(session, 'auth-required', { code: 530 });
        callback(smtpError(530, '5.7.0', 'Authentication required'));
      }
      return;
    }
    if (address.address === '') {
      deps.refused(session, 'sender', { code: 553, sender: '' });
      callback(smtpError(553, '5.7.1', 'The null sender is not allowed for submission'));
      return;
    }
    const refusal = senderEnvelopeRefusal(address, session, deps.refused);
    if (refusal) {
      callback(refusal);
      return;
    }
    deps.accounts
      .maySendAs(user.accountId, address.address)
      .then(async (owned) => {
        if (!owned) {
          deps.refused(session, 'sender', { code: 553, sender: address.address, user: user.address });
          callback(smtpError(553, '5.7.1', `Sender address rejected: not owned by user ${user.address}`));
          return;
        }
        // Read for every transaction: an operator's suspension or new limits apply at once.
        const policy = await deps.limits.policy(user.accountId);
        if (policy.suspension) {
          deps.refused(session, 'account-suspended', { code: 550, user: user.address });
          callback(suspendedReply());
          return;
        }
        if (!(await deps.limits.takeMessage(user.accountId, policy))) {
          deps.refused(session, 'account-limit', { code: 451, user: user.address });
          callback(smtpError(451, '4.7.1', 'Hourly message limit reached for this account, try again later'));
          return;
        }
        startTransaction(session.envelope, policy);
        callback();
      })
      .catch((error: unknown) => {
        deps.logger.error({ err: error, sessionId: session.id }, 'sender check failed');
        callback(smtpError(451, '4.3.0', 'Temporary local problem, try again later'));
      });
  };
}
