import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import { appendManyToMailbox, resolveMailbox } from '@hermod/mail-store';
import type { JobOutcome } from '@hermod/nats';
import type { LocalDeliveryJobPayload, MailboxChangeEventPayload } from '@hermod/pipeline';
import { completeMessagesIfDone, markRecipientsOfMessages } from '@hermod/spool';

export interface DeliveryDeps {
  pool: Pool;
  logger: Logger;
  quotaRetryMs: number;
  announce(event: MailboxChangeEventPayload): void;
}

interface Pending {
  job: number;
  spoolId: string;
  rcptIndex: number;
  accountId: number;
  mailboxTarget: string;
  key: string;
  bodyId: number;
  size: number;
  receivedAt: Date;
}

/**
 * Stores a batch of delivery jobs inside one transaction with a fixed number of statements however
 * large the batch: each recipient has a delivery key (spool id / recipient index); keys already in
 * `deliveries` were stored before and are skipped, so a redelivered job never creates a second copy.
 * Mailbox rows are locked in id order, so concurrent batches cannot deadlock.
 */
async function storeBatch(client: PoolClient, deps: DeliveryDeps, jobs: LocalDeliveryJobPayload[]) {
  const outcomes: JobOutcome[] = jobs.map(() => ({ kind: 'ack' }));
  const events: MailboxChangeEventPayload[] = [];
  const spoolIds = [...new Set(jobs.map((j) => j.spoolId))];
  const messages = new Map(
    (
      await client.query<{ id: string; body_id: number; size: number; received_at: Date }>({
        text: `SELECT s.id, s.body_id, b.size, s.received_at FROM spool_messages s JOIN message_bodies b ON b.id = s.body_id
         WHERE s.id = ANY($1::uuid[])`,
        values: [spoolIds],
      })
    ).rows.map((r) => [r.id, r]),
  );
  const wanted: Pending[] = [];
  jobs.forEach((job, j) => {
    const message = messages.get(job.spoolId);
    if (!message) {
      outcomes[j] = { kind: 'drop', reason: `spool message ${job.spoolId} not found` };
      return;
    }
    for (const r of job.recipients)
      wanted.push({
        job: j,
        spoolId: job.spoolId,
        rcptIndex: r.rcptIndex,
        accountId: r.accountId,
        mailboxTarget: r.mailbox,
        key: `${job.spoolId}/${r.rcptIndex}`,
        bodyId: message.body_id,
        size: message.size,
        receivedAt: message.received_at,
      });
  });
  const seen = new Set(
    (
      await client.query<{ delivery_key: string }>({
        text: 'SELECT delivery_key FROM deliveries WHERE delivery_key = ANY($1::text[])',
        values: [wanted.map((w) => w.key)],
      })
    ).rows.map((r) => r.delivery_key),
  );
  const todo: Pending[] = [];
  for (const w of wanted) {
    if (seen.has(w.key)) continue;
    seen.add(w.key); // the same job twice in one batch
    todo.push(w);
  }

  // Quotas: only accounts that have one cost a usage query.
  const accountIds = [...new Set(todo.map((t) => t.accountId))];
  const quotas = (
    await client.query<{ id: number; quota_bytes: number | null; used: string | null }>({
      text: `SELECT a.id, a.quota_bytes, CASE WHEN a.quota_bytes IS NULL THEN NULL ELSE
       (SELECT COALESCE(sum(m.size), 0) FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.account_id = a.id) END AS used
     FROM accounts a WHERE a.id = ANY($1::bigint[])`,
      values: [accountIds],
    })
  ).rows;
  const room = new Map(
    quotas.filter((q) => q.quota_bytes !== null).map((q) => [q.id, q.quota_bytes! - Number(q.used ?? 0)]),
  );
  const accepted: Pending[] = [];
  for (const t of todo) {
    const left = room.get(t.accountId);
    if (left !== undefined) {
      if (t.size > left) {
        outcomes[t.job] = { kind: 'retry', delayMs: deps.quotaRetryMs, reason: 'mailbox over quota' };
        continue;
      }
      room.set(t.accountId, left - t.size);
    }
    accepted.push(t);
  }

  // Resolve each (account, target folder) once, then append per mailbox in id order.
  const targets = new Map<string, { id: number; name: string }>();
  for (const a of accepted) {
    const k = `${a.accountId}\u0000${a.mailboxTarget}`;
    if (!targets.has(k)) targets.set(k, await resolveMailbox(client, a.accountId, a.mailboxTarget));
  }
  const byMailbox = new Map<number, Pending[]>();
  for (const a of accepted) {
    const box = targets.get(`${a.accountId}\u0000${a.mailboxTarget}`)!;
    byMailbox.set(box.id, [...(byMailbox.get(box.id) ?? []), a]);
  }
  const stored: Array<{ p: Pending; mailboxId: number; mailboxName: string; uid: number }> = [];
  for (const mailboxId of [...byMailbox.keys()].sort((x, y) => x - y)) {
    const items = byMailbox.get(mailboxId)!;
    const results = await appendManyToMailbox(
      client,
      mailboxId,
      items.map((p) => ({ bodyId: p.bodyId, size: p.size, internalDate: p.receivedAt })),
    );
    const name = [...targets.values()].find((t) => t.id === mailboxId)!.name;
    results.forEach((r, i) => {
      stored.push({ p: items[i]!, mailboxId, mailboxName: name, uid: r.uid });
    });
    events.push({
      accountId: items[0]!.accountId,
      mailboxId,
      kind: 'exists',
      uids: results.map((r) => r.uid),
      modseq: results.at(-1)!.modseq,
    });
  }
  if (stored.length > 0) {
    await client.query({
      name: 'mda-record-deliveries',
      text: `INSERT INTO deliveries (delivery_key, account_id, mailbox_id, uid)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])`,
      values: [
        stored.map((s) => s.p.key),
        stored.map((s) => s.p.accountId),
        stored.map((s) => s.mailboxId),
        stored.map((s) => s.uid),
      ],
    });
    await markRecipientsOfMessages(
      client,
      stored.map((s) => ({
        spoolId: s.p.spoolId,
        rcptIndex: s.p.rcptIndex,
        state: 'delivered' as const,
        destination: { kind: 'local', accountId: s.p.accountId, mailbox: s.mailboxName, uid: s.uid },
      })),
    );
  }
  await completeMessagesIfDone(client, spoolIds);
  return { outcomes, events };
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
    const result = await withTransaction(deps.pool, (client) => storeBatch(client, deps, jobs));
    for (const e of result.events) deps.announce(e);
    return result.outcomes;
  } catch (error) {
    if (jobs.length === 1) {
      deps.logger.warn({ err: error, spoolId: jobs[0]!.spoolId }, 'delivery failed; will retry');
      return [{ kind: 'retry', delayMs: 2_000, reason: (error as Error).message }];
    }
    deps.logger.warn({ err: error, size: jobs.length }, 'batch delivery failed; delivering one by one');
    const outcomes: JobOutcome[] = [];
    for (const job of jobs) outcomes.push(...(await deliverBatch(deps, [job])));
    return outcomes;
  }
}
