import { type Pool, type PoolClient, withClient } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import { type MailboxRef, mailboxLookupsValues, resolveMailbox, writeBody } from '@hermod/mail-store';
import type { JobOutcome } from '@hermod/nats';
import type { LocalDeliveryJobPayload, MailboxChangeEventPayload } from '@hermod/pipeline';
import { recordDuplicatesOf } from '@hermod/sieve-store';
import { deterministicUuid } from '@hermod/spool';
import {
  type FilterOutcome,
  type FilterRead,
  fileintoHintsFor,
  filterReadSql,
  filterRecipients,
  type OutgoingMessage,
  type SieveDeliveryOptions,
} from './sieve/filter.js';
import { acceptOutgoing } from './sieve/outgoing.js';
import { type EndedRow, writeDeliveries } from './write-deliveries.js';

export interface DeliveryDeps {
  pool: Pool;
  logger: Logger;
  quotaRetryMs: number;
  announce(event: MailboxChangeEventPayload): void;
  /** Users' and domains' Sieve filters; without it every copy goes where routing decided. */
  sieve?: SieveDeliveryOptions;
  /** Hands messages the filters sent (vacation, redirect, reject notices) to routing. */
  publishRouting?(spoolIds: string[]): Promise<void>;
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
  /** Set for a filter's copy: its mailbox (already resolved) and initial flags. */
  mailboxId?: number;
  mailboxName?: string;
  flags?: string[];
}

/** What a batch needs to know before it writes, read in one round trip. */
interface BatchFacts {
  messages: Array<{ id: string; bodyId: number; size: number; receivedAt: string }>;
  seen: string[];
  /** The accounts of the batch that still exist. */
  accounts: number[];
  quotas: Array<{ id: number; quota: number; used: number }>;
  mailboxes: Array<{ accountId: number; target: string; id: number; name: string }>;
  /** With Sieve on: what the filters read, in the same round trip. */
  filter?: FilterRead;
}

async function readBatchFacts(
  client: PoolClient,
  spoolIds: string[],
  keys: string[],
  accountIds: number[],
  targets: Array<{ accountId: number; target: string }>,
  recipients?: { spoolIds: string[]; rcptIndexes: number[]; accountIds: number[] },
): Promise<BatchFacts> {
  // The fileinto lookups the accounts' runs made before, read here rather than after the runs.
  const hinted = recipients ? fileintoHintsFor(accountIds) : [];
  const { rows } = await client.query<BatchFacts & Partial<FilterRead>>({
    // Named: each session plans it once (planning this statement costs PostgreSQL more than running it).
    name: recipients ? 'mda-batch-facts-sieve' : 'mda-batch-facts',
    text: `SELECT${recipients ? ' f.*,' : ''}
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
            ORDER BY COALESCE(name = t.target OR special_use = t.target, false) DESC LIMIT 1) AS mb) AS mailboxes
     ${
       recipients
         ? `FROM (${filterReadSql({
             accountIds: '$3',
             spoolIds: '$6',
             rcptIndexes: '$7',
             recipientAccounts: '$8',
             hints: { accountIds: '$9', mailboxIds: '$10', specialUses: '$11', names: '$12' },
           })}) f`
         : ''
     }`,
    values: [
      spoolIds,
      keys,
      accountIds,
      targets.map((t) => t.accountId),
      targets.map((t) => t.target),
      ...(recipients
        ? [
            recipients.spoolIds,
            recipients.rcptIndexes,
            recipients.accountIds,
            ...mailboxLookupsValues(hinted),
          ]
        : []),
    ],
  });
  const { scripts, junk, spam_statuses, envelopes, body_ids, body_lengths, body_data, fileinto, ...facts } =
    rows[0]!;
  if (!recipients) return facts;
  return {
    ...facts,
    filter: {
      scripts: scripts!,
      junk: junk!,
      spam_statuses: spam_statuses!,
      envelopes: envelopes!,
      body_ids: body_ids!,
      body_lengths: body_lengths!,
      body_data: body_data!,
      fileinto: fileinto!,
      hinted,
    },
  };
}

const targetKey = (accountId: number, target: string) => `${accountId}\u0000${target}`;

/**
 * Stores a batch of delivery jobs in two round trips however large the batch: read the facts, then
 * ONE statement writes everything (writeDeliveries), atomic without a transaction. Each recipient
 * has a delivery key (spool id / recipient index); keys already in `deliveries` were stored before
 * and are skipped, so a redelivered job never creates a second copy.
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
    // With Sieve on, what the filters read comes in the same round trip.
    deps.sieve
      ? {
          spoolIds: jobs.flatMap((job) => job.recipients.map(() => job.spoolId)),
          rcptIndexes: recipients.map((r) => r.rcptIndex),
          accountIds: recipients.map((r) => r.accountId),
        }
      : undefined,
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
  const { copies, ended, outgoing, duplicates } = await applyFilters(
    client,
    deps,
    accepted,
    resolved,
    facts.filter,
  );
  const byMailbox = new Map<number, { items: Pending[] }>();
  for (const a of copies) {
    const key = targetKey(a.accountId, a.mailboxTarget);
    // No INBOX (never expected): resolveMailbox recreates the default mailboxes.
    const box =
      a.mailboxId !== undefined
        ? { id: a.mailboxId, name: a.mailboxName! }
        : (resolved.get(key) ?? (await resolveMailbox(client, a.accountId, a.mailboxTarget)));
    if (a.mailboxId === undefined)
      resolved.set(key, { accountId: a.accountId, target: a.mailboxTarget, ...box });
    const group = byMailbox.get(box.id) ?? { items: [] };
    group.items.push(a);
    byMailbox.set(box.id, group);
  }
  const ordered = [...byMailbox.entries()].sort(([x], [y]) => x - y);
  const rows = ordered.flatMap(([mailboxId, { items }]) =>
    items.map((p) => ({
      mailboxId,
      bodyId: p.bodyId,
      size: p.size,
      internalDate: p.receivedAt,
      key: p.key,
      accountId: p.accountId,
      spoolId: p.spoolId,
      rcptIndex: p.rcptIndex,
      ...(p.flags ? { flags: p.flags } : {}),
    })),
  );
  const failed = gone.map((p) => ({
    spoolId: p.spoolId,
    rcptIndex: p.rcptIndex,
    error: `550 5.1.1 account ${p.accountId} no longer exists`,
  }));
  // What the filters send is durable before the delivery that caused it is (see acceptOutgoing).
  const sent =
    outgoing.length > 0 && deps.sieve
      ? await acceptOutgoing(deps.pool, outgoing, deps.sieve.autoRepliesPerHour, deps.logger)
      : [];
  const appended = new Map(
    (await writeDeliveries(client, rows, failed, spoolIds, ended)).map((a) => [a.mailboxId, a]),
  );
  if (sent.length > 0 && deps.publishRouting)
    await deps
      .publishRouting(sent)
      .catch((error: unknown) =>
        deps.logger.warn(
          { err: error, spoolIds: sent },
          'hand-over of filter messages failed; the sweeper retries',
        ),
      );
  for (const [mailboxId, { items }] of ordered) {
    const done = appended.get(mailboxId);
    if (!done) {
      // Deleted since the facts were read: nothing of it was written; its jobs try again.
      for (const p of items) outcomes[p.job] = { kind: 'retry', delayMs: 2_000, reason: 'mailbox went away' };
      continue;
    }
    events.push({
      accountId: items[0]!.accountId,
      mailboxId,
      kind: 'exists',
      uids: items.map((_, i) => done.firstUid + i),
      modseq: done.firstModseq + items.length - 1,
    });
  }
  // `duplicate` ids count as seen only once their message is stored: a retried job must not find its
  // own first attempt (RFC 7352 3).
  await recordDuplicatesOf(
    client,
    duplicates
      .filter((d) => outcomes[d.job]?.kind === 'ack')
      .flatMap((d) => d.entries.map((e) => ({ accountId: d.accountId, ...e }))),
  );
  return { outcomes, events };
}

/**
 * Runs the recipients' Sieve filters: each recipient becomes its copies (a filter may file into
 * several mailboxes, with flags, or keep none), the recipients left without a copy, and the messages
 * the filters send. Recipients without filters come back unchanged as one copy each.
 */
async function applyFilters(
  client: PoolClient,
  deps: DeliveryDeps,
  accepted: Pending[],
  keepTargets: ReadonlyMap<string, MailboxRef>,
  read: FilterRead | undefined,
): Promise<{
  copies: Pending[];
  ended: EndedRow[];
  outgoing: OutgoingMessage[];
  duplicates: Array<{ job: number; accountId: number; entries: Array<{ id: string; seconds: number }> }>;
}> {
  const none = { ended: [], outgoing: [], duplicates: [] };
  if (!deps.sieve) return { copies: accepted, ...none };
  const decided = await filterRecipients(
    client,
    deps.sieve,
    deps.logger,
    accepted,
    keepTargets,
    new Date(),
    read,
  );
  if (decided.size === 0) return { copies: accepted, ...none };
  const copies: Pending[] = [];
  const ended: EndedRow[] = [];
  const outgoing: OutgoingMessage[] = [];
  const duplicates: Array<{
    job: number;
    accountId: number;
    entries: Array<{ id: string; seconds: number }>;
  }> = [];
  for (const a of accepted) {
    const outcome: FilterOutcome | undefined = decided.get(a.key);
    if (!outcome) {
      copies.push(a);
      continue;
    }
    outcome.outgoing.forEach((m, i) => {
      outgoing.push({ ...m, spoolId: deterministicUuid(`hermod-sieve:${a.key}:${m.kind}:${i}`) });
    });
    if (outcome.duplicates.length > 0)
      duplicates.push({ job: a.job, accountId: a.accountId, entries: outcome.duplicates });
    if (outcome.copies.length === 0) {
      ended.push({
        spoolId: a.spoolId,
        rcptIndex: a.rcptIndex,
        accountId: a.accountId,
        reason: outcome.ended ?? '',
      });
      continue;
    }
    // editheader: this recipient's copies get their own body.
    const body = outcome.modified ? await writeBody(client, [outcome.modified]) : undefined;
    outcome.copies.forEach((c, i) => {
      // (a literal, not `{ ...a, key }`: V8 copies a spread with added properties on its slow path)
      copies.push({
        job: a.job,
        spoolId: a.spoolId,
        rcptIndex: a.rcptIndex,
        accountId: a.accountId,
        mailboxTarget: a.mailboxTarget,
        // The first copy keeps the recipient's delivery key; further copies get their own.
        key: i === 0 ? a.key : `${a.key}/${i + 1}`,
        bodyId: body ? body.bodyId : a.bodyId,
        size: body ? body.size : a.size,
        receivedAt: a.receivedAt,
        mailboxId: c.mailbox.id,
        mailboxName: c.mailbox.name,
        flags: c.flags,
      });
    });
  }
  return { copies, ended, outgoing, duplicates };
}

/**
 * Delivers a batch with one commit (one fsync for all of them); if that fails, each job is stored
 * on its own so one bad job cannot hold the others back. Change events are announced only after
 * the commit that made them true.
 */
export async function deliverBatch(
  deps: DeliveryDeps,
  jobs: LocalDeliveryJobPayload[],
): Promise<JobOutcome[]> {
  try {
    // A session that failed may be broken: withClient hands it back with the error, the pool replaces it.
    const result = await withClient(deps.pool, (client) => storeBatch(client, deps, jobs));
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
