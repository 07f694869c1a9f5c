// A backlog for outbound-mta that becomes due all at once (as after `hermod queue release` or a
// remote's outage): messages accepted into the spool and queued held for one destination, each
// queued and held in one transaction so no worker leases it early; then released together.
import type { Pool } from '@hermod/db';
import { enqueueRecipients, OUTBOUND_WAKE_SUBJECT } from '@hermod/outbound-mta';
import { acceptMessage } from '@hermod/spool';
import type { NatsConnection } from 'nats';

export interface HeldMessage {
  from: string;
  to: string;
  body: Buffer;
}

/** Accepts the messages and queues them held, routed to `relayHost`; returns their spool ids. */
export async function seedHeldOutbound(
  pool: Pool,
  messages: HeldMessage[],
  relayHost: { host: string; port: number },
): Promise<string[]> {
  const destination = JSON.stringify({ relayHosts: [relayHost] });
  const spoolIds: string[] = [];
  let next = 0;
  const one = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      const { spoolId } = await acceptMessage(pool, {
        mailFrom: m.from,
        recipients: [{ address: m.to }],
        source: 'msa',
        body: [m.body],
      });
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `UPDATE spool_recipients SET state = 'outbound', destination = $2 WHERE spool_id = $1`,
          [spoolId, destination],
        );
        await enqueueRecipients(client, spoolId, [0], 5 * 86_400_000);
        await client.query(`UPDATE outbound_queue SET state = 'held' WHERE spool_id = $1`, [spoolId]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
      spoolIds.push(spoolId);
    }
  };
  await Promise.all(Array.from({ length: 4 }, one));
  return spoolIds;
}

/** Makes every held recipient due now and wakes the workers. */
export async function releaseHeldOutbound(pool: Pool, nc: NatsConnection): Promise<void> {
  await pool.query(
    `UPDATE outbound_queue SET state = 'queued', next_attempt_at = now() WHERE state = 'held'`,
  );
  nc.publish(OUTBOUND_WAKE_SUBJECT);
}
