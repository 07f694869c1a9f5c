import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import { appendManyToMailbox, resolveMailbox } from '@hermod/mail-store';
import type { JobOutcome } from '@hermod/nats';
import type { LocalDeliveryJobPayload, MailboxChangeEventPayload } from '@hermod/pipeline';
import { markRecipientsAndComplete } from '@hermod/spool';

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

/** What a batch needs to know before it writes, read in one round trip. */
interface BatchFacts {
  messages: Array<{ id: string; bodyId: number; size: number; receivedAt: string }>;
  seen: string[];
  /** The accounts of the batch that still exist. */
  accounts: number[];
  quotas: Array<{ id: number; quota: number; used: number }>;
  mailboxes: Array<{ accountId: number; target: string; id: number; name: string }>;
}

async function readBatchFacts(
  client: PoolClient,
  spoolIds: string[],
  keys: string[],
  accountIds: number[],
  targets: Array<{ accountId: number; target: string }>,
): Promise<BatchFacts> {
  const { rows } = await client.query<BatchFacts>({
    text: `SELECT
       (SELECT COALESCE(json_agg(json_build_object('id', s.id, 'bodyId', s.body_id, 'size', b.size,
                                                   'receivedAt', s.received_at)), '[]')
          FROM spool_messages s JOIN message_bodies b ON b.id = s.body_id WHERE s.id = ANY($1::uuid[])) AS messages,
       (SELECT COALESCE(array_agg(delivery_key), '{}') FROM deliveries WHERE delivery_key = ANY($2::text[])) AS seen,
       (SELECT COALESCE(array_agg(id), '{}') FROM accounts WHERE id = ANY($3::bigint[])) AS accounts,
       (SELECT COALESCE(json_agg(json_build_object('id', a.id, 'quota', a.quota_bytes, 'used',
          (SELECT COALESCE(sum(x.message_bytes), 0) FROM mailboxes x WHERE x.account_id = a.id))), '[]')
          FROM accounts a WHERE a.id = ANY($3::bigint[]) AND a.quota_bytes IS NOT NULL) AS quotas,
       (SELECT COALESCE(json_agg(json_build_object('accountId', t.account_id, 'target', t.target,
                                                   'id', mb.id, 'name', mb.name)), '[]')
          FROM unnest($4::bigint[], $5::text[]) AS t(account_id, target)
          CROSS JOIN LATERAL (SELECT id, name FROM mailboxes
            WHERE account_id = t.account_id AND (name = t.target OR special_use = t.target OR name = 'INBOX')
            ORDER BY COALESCE(name = t.target OR special_use = t.target, false) DESC LIMIT 1) AS mb) AS mailboxes`,
    values: [spoolIds, keys, accountIds, targets.map((t) => t.accountId), targets.map((t) => t.target)],
  });
  return rows[0]!;
}

/**
 * The batch's outcome: delivery keys recorded (what makes a redelivered job a no-op), then the
 * recipients marked delivered and messages with no other open recipient completed, in one statement.
 */
async function recordDelivered(
  client: PoolClient,
  stored: Array<{ p: Pending; mailboxId: number; mailboxName: string; uid: number }>,
  gone: Pending[],
  spoolIds: string[],
): Promise<void> {
  if (stored.length > 0)
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
  await markRecipientsAndComplete(
    client,
    [
      ...stored.map((s) => ({
        spoolId: s.p.spoolId,
        rcptIndex: s.p.rcptIndex,
        state: 'delivered' as const,
        destination: { kind: 'local', accountId: s.p.accountId, mailbox: s.mailboxName, uid: s.uid },
      })),
      ...gone.map((p) => ({
        spoolId: p.spoolId,
        rcptIndex: p.rcptIndex,
        state: 'failed' as const,
        error: `550 5.1.1 account ${p.accountId} no longer exists`,
      })),
    ],
    spoolIds,
  );
}

const targetKey = (accountId: number, target: string) => `${accountId}\u0000${target}`;

/**
 * Stores a batch of delivery jobs inside one transaction in a fixed number of round trips however
 * large the batch (read the facts, one append per mailbox, record the keys, mark and complete): each recipient has
 * a delivery key (spool id / recipient index); keys already in `deliveries` were stored before and
 * are skipped, so a redelivered job never creates a second copy. Mailbox rows are locked in id
 * order, so concurrent batches cannot deadlock.
 */
async function storeBatch(client: PoolClient, deps: DeliveryDeps, jobs: LocalDeliveryJobPayload[]) {
  const outcomes: JobOutcome[] = jobs.map(() => ({ kind: 'ack' }));
  const events: MailboxChangeEventPayload[] = [];
  const spoolIds = [...new Set(jobs.map((j) => j.spoolId))];
  const recipients = jobs.flatMap((job) => job.recipients);
  const targets = new Map(
    recipients.map((r) => [targetKey(r.accountId, r.mailbox), { accountId: r.accountId, target: r.mailbox }]),
  );
  const facts = await readBatchFacts(
    client,
    spoolIds,
    jobs.flatMap((job) => job.recipients.map((r) => `${job.spoolId}/${r.rcptIndex}`)),
    [...new Set(recipients.map((r) => r.accountId))],
    [...targets.values()],
  );
  const messages = new Map(facts.messages.map((m) => [m.id, m]));
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
        bodyId: message.bodyId,
        size: message.size,
        receivedAt: new Date(message.receivedAt),
      });
  });
  const seen = new Set(facts.seen);
  const existing = new Set(facts.accounts.map(Number));
  const todo: Pending[] = [];
  // Deleted after routing chose it (or after an accept-time route was remembered): fail, not retry.
  const gone: Pending[] = [];
  for (const w of wanted) {
    if (seen.has(w.key)) continue;
    seen.add(w.key); // the same job twice in one batch
    if (existing.has(w.accountId)) todo.push(w);
    else gone.push(w);
  }
  for (const g of gone)
    deps.logger.warn(
      { spoolId: g.spoolId, rcptIndex: g.rcptIndex, accountId: g.accountId },
      'account gone; recipient failed',
    );

  // Quotas: only accounts that have one are in facts.quotas.
  const room = new Map(facts.quotas.map((q) => [q.id, q.quota - q.used]));
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

  const resolved = new Map(facts.mailboxes.map((m) => [targetKey(m.accountId, m.target), m]));
  const byMailbox = new Map<number, { name: string; items: Pending[] }>();
  for (const a of accepted) {
    const key = targetKey(a.accountId, a.mailboxTarget);
    // No INBOX (never expected): resolveMailbox recreates the default mailboxes.
    const box = resolved.get(key) ?? (await resolveMailbox(client, a.accountId, a.mailboxTarget));
    resolved.set(key, { accountId: a.accountId, target: a.mailboxTarget, ...box });
    const group = byMailbox.get(box.id) ?? { name: box.name, items: [] };
    group.items.push(a);
    byMailbox.set(box.id, group);
  }
  const stored: Array<{ p: Pending; mailboxId: number; mailboxName: string; uid: number }> = [];
  for (const mailboxId of [...byMailbox.keys()].sort((x, y) => x - y)) {
    const { name, items } = byMailbox.get(mailboxId)!;
    const results = await appendManyToMailbox(
      client,
      mailboxId,
      items.map((p) => ({ bodyId: p.bodyId, size: p.size, internalDate: p.receivedAt })),
    );
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
  await recordDelivered(client, stored, gone, spoolIds);
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
