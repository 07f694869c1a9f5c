import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import { appendToMailbox, resolveMailbox } from '@hermod/mail-store';
import type { JobOutcome } from '@hermod/nats';
import type { LocalDeliveryJobPayload, MailboxChangeEventPayload } from '@hermod/pipeline';
import { completeIfDone, loadSpoolMessage, markRecipients } from '@hermod/spool';

export interface DeliveryDeps {
  pool: Pool;
  logger: Logger;
  quotaRetryMs: number;
  announce(event: MailboxChangeEventPayload): void;
}

interface JobResult {
  outcome: JobOutcome;
  events: MailboxChangeEventPayload[];
  delivered: number;
}

/** Bytes an account stores now and the most it may, when a quota applies. */
async function quotaFor(
  client: PoolClient,
  accountId: number,
): Promise<{ used: number; limit: number | null }> {
  const { rows } = await client.query<{ used: string; limit: number | null }>(
    `SELECT COALESCE((SELECT sum(m.size) FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
       WHERE b.account_id = $1), 0) AS used, (SELECT quota_bytes FROM accounts WHERE id = $1) AS limit`,
    [accountId],
  );
  return { used: Number(rows[0]?.used ?? 0), limit: rows[0]?.limit ?? null };
}

/**
 * Stores one job's recipients inside the caller's transaction. Each recipient has a delivery key
 * (spool id / recipient index); a key already in `deliveries` means it was stored before and is
 * skipped, so a redelivered job never creates a second copy.
 */
async function deliverJob(
  client: PoolClient,
  deps: DeliveryDeps,
  job: LocalDeliveryJobPayload,
): Promise<JobResult> {
  const message = await loadSpoolMessage(client, job.spoolId);
  if (!message)
    return {
      outcome: { kind: 'drop', reason: `spool message ${job.spoolId} not found` },
      events: [],
      delivered: 0,
    };
  const events: MailboxChangeEventPayload[] = [];
  const done: Array<{ rcptIndex: number; state: 'delivered'; destination: Record<string, unknown> }> = [];
  let overQuota = false;
  for (const r of job.recipients) {
    const key = `${job.spoolId}/${r.rcptIndex}`;
    const seen = await client.query('SELECT 1 FROM deliveries WHERE delivery_key = $1', [key]);
    if (seen.rowCount) continue;
    const quota = await quotaFor(client, r.accountId);
    if (quota.limit !== null && quota.used + message.size > quota.limit) {
      overQuota = true;
      continue;
    }
    const mailbox = await resolveMailbox(client, r.accountId, r.mailbox);
    const stored = await appendToMailbox(client, {
      mailboxId: mailbox.id,
      bodyId: message.bodyId,
      size: message.size,
      internalDate: message.receivedAt,
    });
    await client.query(
      'INSERT INTO deliveries (delivery_key, account_id, mailbox_id, uid) VALUES ($1, $2, $3, $4)',
      [key, r.accountId, mailbox.id, stored.uid],
    );
    done.push({
      rcptIndex: r.rcptIndex,
      state: 'delivered',
      destination: { kind: 'local', accountId: r.accountId, mailbox: mailbox.name, uid: stored.uid },
    });
    events.push({
      accountId: r.accountId,
      mailboxId: mailbox.id,
      kind: 'exists',
      uids: [stored.uid],
      modseq: stored.modseq,
    });
  }
  await markRecipients(client, job.spoolId, done);
  await completeIfDone(client, job.spoolId);
  const outcome: JobOutcome = overQuota
    ? { kind: 'retry', delayMs: deps.quotaRetryMs, reason: 'mailbox over quota' }
    : { kind: 'ack' };
  return { outcome, events, delivered: done.length };
}

/**
 * Delivers a batch in one transaction (one commit, one fsync for all of them); if that fails, each
 * job gets its own transaction so one bad job cannot hold the others back. Change events are
 * announced only after the commit that made them true.
 */
export async function deliverBatch(
  deps: DeliveryDeps,
  jobs: LocalDeliveryJobPayload[],
): Promise<JobOutcome[]> {
  try {
    const results = await withTransaction(deps.pool, async (client) => {
      const out: JobResult[] = [];
      for (const job of jobs) out.push(await deliverJob(client, deps, job));
      return out;
    });
    for (const r of results) for (const e of r.events) deps.announce(e);
    return results.map((r) => r.outcome);
  } catch (error) {
    if (jobs.length > 1)
      deps.logger.warn({ err: error, size: jobs.length }, 'batch delivery failed; delivering one by one');
    const outcomes: JobOutcome[] = [];
    for (const job of jobs) {
      try {
        const result = await withTransaction(deps.pool, (client) => deliverJob(client, deps, job));
        for (const e of result.events) deps.announce(e);
        outcomes.push(result.outcome);
      } catch (jobError) {
        deps.logger.warn({ err: jobError, spoolId: job.spoolId }, 'delivery failed; will retry');
        outcomes.push({ kind: 'retry', delayMs: 2_000, reason: (jobError as Error).message });
      }
    }
    return outcomes;
  }
}
