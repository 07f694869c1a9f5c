import { type Pool, withTransaction } from '@hermod/db';
import { claimVacationResponse } from '@hermod/sieve-store';
import { insertAcceptedMessage } from '@hermod/spool';
import type { OutgoingMessage } from './filter.js';

/**
 * Accepts the messages filters send (vacation replies, redirected copies, reject notices) into the
 * spool, before the delivery that caused them is committed: a delivery retried after a crash finds
 * them there (same deterministic ids) instead of sending them twice, and a redirect is never lost.
 * A vacation reply and its claim (one per sender per period) commit together. Returns the spool ids
 * to hand to routing; the spool sweeper re-publishes any whose hand-over is lost.
 */
export async function acceptOutgoing(pool: Pool, messages: readonly OutgoingMessage[]): Promise<string[]> {
  const accepted: string[] = [];
  for (const m of messages) {
    try {
      const sent = await withTransaction(pool, async (client) => {
        if (m.claim) {
          const { accountId, handle, sender, seconds } = m.claim;
          if (!(await claimVacationResponse(client, accountId, handle, sender, seconds))) return false;
        }
        await insertAcceptedMessage(client, {
          spoolId: m.spoolId,
          mailFrom: m.mailFrom,
          recipients: [{ address: m.to }],
          source: 'local',
          envelope: { sieve: m.kind },
          body: [m.body],
        });
        return true;
      });
      if (sent) accepted.push(m.spoolId);
    } catch (error) {
      // Accepted by an earlier attempt of the same delivery: publish it again (that may be what was lost).
      if ((error as { code?: string }).code !== '23505') throw error;
      accepted.push(m.spoolId);
    }
  }
  return accepted;
}
