import { type Pool, withTransaction } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import type { JobOutcome, ReceivedJob } from '@hermod/nats';
import type { LocalDeliveryJobPayload, OutboundJobPayload, RoutingJobPayload } from '@hermod/pipeline';
import { completeIfDone, loadSpoolMessage, markRecipients, type RecipientState } from '@hermod/spool';
import { type RoutingLookups, routeRecipient } from './route-recipient.js';

export interface RoutingStageDeps {
  pool: Pool;
  lookups: RoutingLookups;
  logger: Logger;
  publishLocalDelivery(job: LocalDeliveryJobPayload): Promise<void>;
  publishOutbound(job: OutboundJobPayload): Promise<void>;
}

/**
 * Turns an accepted message into per-recipient work: local mailbox deliveries and outbound
 * deliveries. The decisions are committed to the spool before the jobs are published, so a crash in
 * between leaves work the sweeper finds; a redelivered job finds the message already routed.
 */
export async function routeSpooledMessage(
  deps: RoutingStageDeps,
  job: RoutingJobPayload,
): Promise<JobOutcome> {
  const message = await loadSpoolMessage(deps.pool, job.spoolId);
  if (!message) return { kind: 'drop', reason: `spool message ${job.spoolId} not found` };
  if (message.routedAt || message.completedAt) return { kind: 'ack' };
  const channel = message.source === 'mx' ? 'inbound' : 'submission';
  const local: LocalDeliveryJobPayload['recipients'] = [];
  const outbound: number[] = [];
  const updates: Array<{
    rcptIndex: number;
    state: RecipientState;
    destination?: Record<string, unknown>;
    error?: string;
  }> = [];
  for (const r of message.recipients.filter((x) => x.state === 'pending')) {
    const decision = await routeRecipient(r.address, channel, deps.lookups);
    if (decision.kind === 'local') {
      const mailbox = message.envelope.placement === 'junk' ? '\\Junk' : decision.mailbox;
      local.push({ rcptIndex: r.rcptIndex, accountId: decision.accountId, mailbox });
      updates.push({
        rcptIndex: r.rcptIndex,
        state: 'local',
        destination: { kind: 'local', accountId: decision.accountId, mailbox, rule: decision.rule },
      });
    } else if (decision.kind === 'remote') {
      outbound.push(r.rcptIndex);
      updates.push({
        rcptIndex: r.rcptIndex,
        state: 'outbound',
        destination: { kind: 'remote', domain: decision.domain, rule: decision.rule },
      });
    } else if (decision.code < 500) {
      // Temporary: leave the recipient pending; the job is retried.
      return { kind: 'retry', delayMs: 30_000, reason: decision.message };
    } else {
      updates.push({
        rcptIndex: r.rcptIndex,
        state: 'failed',
        error: `${decision.code} ${decision.enhanced} ${decision.message}`,
      });
    }
  }
  await withTransaction(deps.pool, async (client) => {
    await markRecipients(client, message.id, updates);
    await client.query('UPDATE spool_messages SET routed_at = now() WHERE id = $1', [message.id]);
    await completeIfDone(client, message.id);
  });
  if (local.length > 0) await deps.publishLocalDelivery({ spoolId: message.id, recipients: local });
  if (outbound.length > 0) await deps.publishOutbound({ spoolId: message.id, rcptIndexes: outbound });
  deps.logger.debug({ spoolId: message.id, local: local.length, outbound: outbound.length }, 'routed');
  return { kind: 'ack' };
}

/** Batch adapter for consumeJobs: messages are routed concurrently, each on its own. */
export async function routeBatch(
  deps: RoutingStageDeps,
  jobs: ReceivedJob<RoutingJobPayload>[],
): Promise<JobOutcome[]> {
  return Promise.all(
    jobs.map((job) =>
      routeSpooledMessage(deps, job.payload).catch((error: unknown): JobOutcome => {
        deps.logger.warn({ err: error, spoolId: job.payload.spoolId }, 'routing failed; will retry');
        return { kind: 'retry', delayMs: 2_000, reason: (error as Error).message };
      }),
    ),
  );
}
