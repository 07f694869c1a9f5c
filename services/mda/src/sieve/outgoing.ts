import { type Pool, withTransaction } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import { claimVacationResponse, countAutoReply } from '@hermod/sieve-store';
import { insertAcceptedMessage, loadSpoolMessage } from '@hermod/spool';
import type { OutgoingMessage } from './filter.js';

/**
 * Accepts the messages filters send (vacation replies, redirected copies, reject notices) into the
 * spool, before the delivery that caused them is committed: a delivery retried after a crash finds
 * them there (same deterministic ids) instead of sending them twice, and a redirect is never lost.
 * A vacation reply and its claim (one per sender per period) commit together; automatic replies
 * (vacation, reject notices) beyond autoRepliesPerHour of the account are not sent (redirects are
 * bounded per run instead: refusing one would lose the message). Returns the spool ids to hand to
 * routing; the spool sweeper re-publishes any whose hand-over is lost.
 */
export async function acceptOutgoing(
  pool: Pool,
  messages: readonly OutgoingMessage[],
  autoRepliesPerHour: number,
  logger: Logger,
): Promise<string[]> {
  const accepted: string[] = [];
  for (const m of messages) {
    try {
      const sent = await withTransaction(pool, async (client) => {
        if (m.claim) {
          const { accountId, handle, sender, seconds } = m.claim;
          if (!(await claimVacationResponse(client, accountId, handle, sender, seconds))) return false;
        }
        if (m.kind !== 'redirect' && !(await countAutoReply(client, m.accountId, autoRepliesPerHour)))
          throw new AutoReplyLimit(m.accountId);
        await insertAcceptedMessage(client, {
          spoolId: m.spoolId,
          mailFrom: m.mailFrom,
          recipients: [{ address: m.to }],
          source: 'local',
          envelope: { sieve: m.kind, ...(m.forwardedFrom ? { forwardedFrom: m.forwardedFrom } : {}) },
          body: [m.body],
        });
        return true;
      });
      if (sent) accepted.push(m.spoolId);
      // Claimed before: by an earlier attempt of this same delivery when its reply (same id) is in the
      // spool, not yet routed: that attempt failed before the hand-over, so hand it over now.
      else if ((await loadSpoolMessage(pool, m.spoolId))?.routedAt === null) accepted.push(m.spoolId);
    } catch (error) {
      if (error instanceof AutoReplyLimit) {
        logger.warn(
          { accountId: m.accountId, kind: m.kind, to: m.to },
          'automatic reply not sent: hourly limit',
        );
        continue;
      }
      // Accepted by an earlier attempt of the same delivery: publish it again (that may be what was lost).
      if ((error as { code?: string }).code !== '23505') throw error;
      accepted.push(m.spoolId);
    }
  }
  return accepted;
}

/** Rolls back a reply's transaction (its claim included) when the account's hourly limit is reached. */
class AutoReplyLimit extends Error {
  constructor(readonly accountId: number) {
    super(`account ${accountId} reached its automatic reply limit`);
    this.name = 'AutoReplyLimit';
  }
}
