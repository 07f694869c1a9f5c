import type { Pool } from '@hermod/db';
import { silentLogger } from '@hermod/logging';
import { type JetStreamClient, publishJob } from '@hermod/nats';
import { subjects } from '@hermod/pipeline';
import { prepareMessage } from '../delivery/deliver-message.js';
import { type AttemptResult, type FinishDeps, finishAttempt } from './finish.js';
import { type QueueEntry, toEntry } from './lease.js';

/**
 * Operator actions on the outbound queue (`hermod queue ...`): selection, listing and the changes
 * an operator makes. Bounce and delete go through the same bookkeeping as a worker's final
 * outcome (finishAttempt), so a bounce is the DSN a permanent failure would have produced.
 */

export const queueStates = ['queued', 'deferred', 'held', 'active'] as const;
export type QueueState = (typeof queueStates)[number];

/** Which recipients an action applies to; every given criterion must hold. */
export interface QueueSelection {
  /** Queue ids: a message (spool id) or one of its recipients (spool id + index). */
  ids?: Array<{ spoolId: string; rcptIndex?: number }>;
  domain?: string;
  /** Envelope sender, case-insensitive; `*` matches any run of characters. */
  sender?: string;
  recipient?: string;
  /** Accepted at least this long ago. */
  olderThanMs?: number;
  /** 'active' is a recipient whose delivery attempt is in flight (live lease). */
  state?: QueueState;
}

export interface QueueItem {
  spoolId: string;
  rcptIndex: number;
  domain: string;
  recipient: string;
  mailFrom: string;
  state: QueueState;
  attempts: number;
  queuedAt: Date;
  expiresAt: Date;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  lastReply: string | null;
  lastHost: string | null;
  lastTls: string | null;
  size: number;
}

const effectiveState = `CASE WHEN q.lease_expires_at > now() THEN 'active' ELSE q.state END`;
const like = (pattern: string) => pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');

/** The WHERE clause (over `outbound_queue q`) and its parameters, numbered from `first`. */
function selectionSql(selection: QueueSelection, first = 1): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return `$${first + params.length - 1}`;
  };
  const clauses: string[] = [];
  if (selection.ids && selection.ids.length > 0) {
    const whole = selection.ids.filter((i) => i.rcptIndex === undefined).map((i) => i.spoolId);
    const single = selection.ids.filter((i) => i.rcptIndex !== undefined);
    clauses.push(
      `(q.spool_id = ANY(${p(whole)}::uuid[]) OR (q.spool_id, q.rcpt_index) IN
        (SELECT * FROM unnest(${p(single.map((i) => i.spoolId))}::uuid[], ${p(single.map((i) => i.rcptIndex))}::int[])))`,
    );
  }
  if (selection.domain) clauses.push(`q.domain = lower(${p(selection.domain)})`);
  if (selection.sender !== undefined) clauses.push(`q.mail_from ILIKE ${p(like(selection.sender))}`);
  if (selection.recipient) clauses.push(`q.recipient ILIKE ${p(like(selection.recipient))}`);
  if (selection.olderThanMs !== undefined)
    clauses.push(`q.queued_at <= now() - make_interval(secs => ${p(selection.olderThanMs / 1000)})`);
  if (selection.state) clauses.push(`${effectiveState} = ${p(selection.state)}`);
  return { where: clauses.length > 0 ? clauses.join(' AND ') : 'true', params };
}

interface ItemRow {
  spool_id: string;
  rcpt_index: number;
  domain: string;
  recipient: string;
  mail_from: string;
  state: QueueState;
  attempts: number;
  queued_at: Date;
  expires_at: Date;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_reply: string | null;
  last_host: string | null;
  last_tls: string | null;
  size: string | number;
}

const toItem = (r: ItemRow): QueueItem => ({
  spoolId: r.spool_id,
  rcptIndex: r.rcpt_index,
  domain: r.domain,
  recipient: r.recipient,
  mailFrom: r.mail_from,
  state: r.state,
  attempts: r.attempts,
  queuedAt: r.queued_at,
  expiresAt: r.expires_at,
  nextAttemptAt: r.next_attempt_at,
  lastAttemptAt: r.last_attempt_at,
  lastReply: r.last_reply,
  lastHost: r.last_host,
  lastTls: r.last_tls,
  size: Number(r.size),
});

/** Queued recipients matching the selection, oldest first. */
export async function listQueue(pool: Pool, selection: QueueSelection, limit = 1_000): Promise<QueueItem[]> {
  const { where, params } = selectionSql(selection, 2);
  const { rows } = await pool.query<ItemRow>(
    `SELECT q.spool_id, q.rcpt_index, q.domain, q.recipient, q.mail_from, ${effectiveState} AS state,
       q.attempts, q.queued_at, q.expires_at, q.next_attempt_at, q.last_attempt_at, q.last_reply,
       q.last_host, q.last_tls, b.size
     FROM outbound_queue q
     JOIN spool_messages m ON m.id = q.spool_id JOIN message_bodies b ON b.id = m.body_id
     WHERE ${where}
     ORDER BY q.queued_at, q.spool_id, q.rcpt_index LIMIT $1`,
    [limit, ...params],
  );
  return rows.map(toItem);
}

/** Makes the selected recipients due now (held ones stay held). */
export async function retryQueued(pool: Pool, selection: QueueSelection): Promise<QueueItem[]> {
  return update(pool, selection, `next_attempt_at = now()`, `q.state <> 'held'`);
}

/** Stops delivery attempts for the selected recipients until released (an attempt in flight finishes). */
export async function holdQueued(pool: Pool, selection: QueueSelection): Promise<QueueItem[]> {
  return update(pool, selection, `state = 'held'`, `q.state <> 'held'`);
}

/** Puts held recipients back on the schedule, due now. */
export async function releaseQueued(pool: Pool, selection: QueueSelection): Promise<QueueItem[]> {
  return update(
    pool,
    selection,
    `state = CASE WHEN q.attempts > 0 THEN 'deferred' ELSE 'queued' END, next_attempt_at = now()`,
    `q.state = 'held'`,
  );
}

async function update(
  pool: Pool,
  selection: QueueSelection,
  set: string,
  only: string,
): Promise<QueueItem[]> {
  const { where, params } = selectionSql(selection);
  const { rows } = await pool.query<{ spool_id: string; rcpt_index: number }>(
    `UPDATE outbound_queue q SET ${set} WHERE ${where} AND ${only} RETURNING q.spool_id, q.rcpt_index`,
    params,
  );
  return listQueue(pool, {
    ids: rows.map((r) => ({ spoolId: r.spool_id, rcptIndex: r.rcpt_index })),
  });
}

/**
 * What bounce and delete need outside a worker: the database, JetStream to hand DSNs to routing
 * (as workers do) and the Reporting-MTA name. Retry schedule and delay notices do not apply.
 */
export function operatorFinishDeps(
  pool: Pool,
  js: () => Promise<JetStreamClient>,
  reportingMta: string,
): FinishDeps {
  return {
    pool,
    logger: silentLogger(),
    reportingMta,
    retryScheduleMs: [],
    delayNoticeAfterMs: Number.POSITIVE_INFINITY,
    dsn: {
      pool,
      publishRouting: async (spoolId) =>
        publishJob(await js(), subjects.routing, { spoolId }, { msgId: `routing-${spoolId}` }),
    },
  };
}

export interface RemoveResult {
  /** Recipients removed from the queue (bounced or deleted). */
  removed: QueueItem[];
  /** Selected recipients left alone because a delivery attempt is in flight. */
  inFlight: number;
}

/**
 * Returns the selected recipients to their senders: each gets a failed outcome and one DSN per
 * sender and message, exactly as a permanent failure reported by a remote server would.
 */
export function bounceQueued(
  deps: FinishDeps,
  owner: string,
  selection: QueueSelection,
  reason: string,
): Promise<RemoveResult> {
  return remove(deps, owner, selection, reason, true);
}

/** Removes the selected recipients without a notice; they end failed ("deleted by operator"). */
export function deleteQueued(
  deps: FinishDeps,
  owner: string,
  selection: QueueSelection,
  reason: string,
): Promise<RemoveResult> {
  return remove(deps, owner, selection, reason, false);
}

async function remove(
  deps: FinishDeps,
  owner: string,
  selection: QueueSelection,
  reason: string,
  notify: boolean,
): Promise<RemoveResult> {
  const selected = await listQueue(deps.pool, selection, 100_000);
  // Take the recipients with a lease, as a worker would, so no worker starts an attempt meanwhile.
  const { where, params } = selectionSql(selection, 3);
  const { rows } = await deps.pool.query<Parameters<typeof toEntry>[0]>(
    `UPDATE outbound_queue q SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2)
     FROM spool_recipients r
     WHERE ${where} AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= now())
       AND r.spool_id = q.spool_id AND r.rcpt_index = q.rcpt_index
     RETURNING q.spool_id, q.rcpt_index, q.domain, q.recipient, q.mail_from, q.attempts, q.queued_at,
       q.expires_at, q.delay_notified, r.destination`,
    [owner, 300, ...params],
  );
  const bySpool = new Map<string, QueueEntry[]>();
  for (const entry of rows.map(toEntry))
    bySpool.set(entry.spoolId, [...(bySpool.get(entry.spoolId) ?? []), entry]);
  const taken = new Set(rows.map((r) => `${r.spool_id}:${r.rcpt_index}`));
  for (const [spoolId, entries] of bySpool) {
    const prepared = await prepareMessage(deps.pool, entries, async () => undefined);
    if (!prepared) continue; // the message was deleted meanwhile; its queue rows went with it
    const results: AttemptResult[] = entries.map((entry) => ({
      entry,
      kind: 'failed',
      status: '5.0.0',
      reply: reason,
    }));
    // A bounce honours NOTIFY like any failure; a delete asks for no notice at all (postsuper -d).
    if (!notify)
      for (const key of prepared.context.recipientParameters.keys())
        prepared.context.recipientParameters.set(key, { NOTIFY: 'NEVER' });
    await finishAttempt(deps, { ...prepared.context, spoolId }, results);
  }
  return {
    removed: selected.filter((i) => taken.has(`${i.spoolId}:${i.rcptIndex}`)),
    inFlight: selected.length - taken.size,
  };
}
