import { routingV1 } from '@hermod/proto';
import { recipientHook, smtpError } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';
import { suspendedReply } from '../sending-suspension.js';
import { type SessionUser, transactionState } from '../session-user.js';

/** RCPT TO: checked with routing now, so an unknown local user is refused here, not bounced later. */
export function onRcptTo(deps: MsaDeps): NonNullable<SMTPServerOptions['onRcptTo']> {
  return recipientHook(deps, {
    maxRecipients: deps.config.MSA_MAX_RECIPIENTS,
    channel: routingV1.Channel.CHANNEL_SUBMISSION,
    beforeRouting: (_address, session, callback, ask) => {
      // Counted before routing is asked: recipients tried, refused ones included (a compromised
      // account probing addresses reaches its limit too).
      const user = session.user as SessionUser | undefined;
      const state = transactionState(session.envelope);
      if (!user) {
        ask();
        return;
      }
      if (!state) {
        // Every accepted MAIL FROM of a user starts one; without it the limits are unknown: fail closed.
        deps.logger.error({ sessionId: session.id }, 'recipient without a transaction state');
        callback(smtpError(451, '4.3.0', 'Temporary local problem, try again later'));
        return;
      }
      if (state.suspended) {
        deps.refused(session, 'account-suspended', { code: 550, user: user.address });
        callback(suspendedReply());
        return;
      }
      deps.limits
        .takeRecipient(user.accountId, state.policy)
        .then(async (ok) => {
          if (ok) {
            ask();
            return;
          }
          // The first refusal of a transaction is one hit; enough hits suspend the account's sending.
          if (!state.limitHit) {
            state.limitHit = true;
            const hit = await deps.limits.limitHit(user.accountId, state.policy);
            if (hit.suspended) {
              state.suspended = true;
              deps.suspended(user.accountId, hit, { sessionId: session.id, cause: 'recipient-limit' });
              deps.refused(session, 'account-suspended', { code: 550, user: user.address });
              callback(suspendedReply());
              return;
            }
          }
          deps.refused(session, 'account-limit', { code: 452, user: user.address });
          callback(
            smtpError(452, '4.5.3', 'Hourly recipient limit reached for this account, try again later'),
          );
        })
        .catch((error: unknown) => {
          deps.logger.error({ err: error, sessionId: session.id }, 'recipient limit check failed');
          callback(smtpError(451, '4.3.0', 'Temporary local problem, try again later'));
        });
    },
  });
}
