import type { PoolClient } from '@hermod/db';

/** One copy to store: the message's body in a mailbox, for one spool recipient. */
export interface DeliveryRow {
  mailboxId: number;
  bodyId: number;
  size: number;
  internalDate: Date;
  /** `<spool id>/<recipient index>`: a redelivered job finds it and stores nothing. */
  key: string;
  accountId: number;
  spoolId: string;
  rcptIndex: number;
  /** IMAP flags the copy starts with (a filter's imap4flags), none by default. */
  flags?: string[];
}

/** A recipient whose filter left no copy (discard, redirect, reject): delivered, with the reason. */
export interface EndedRow {
  spoolId: string;
  rcptIndex: number;
  accountId: number;
  reason: string;
}

/** A recipient that ends without a copy (its account is gone), with the reason. */
export interface FailedRow {
  spoolId: string;
  rcptIndex: number;
  error: string;
}

/** What one mailbox got: UIDs and modseqs first..first+count-1, in the order the rows were given. */
export interface MailboxAppend {
  mailboxId: number;
  name: string;
  firstUid: number;
  firstModseq: number;
  count: number;
}

/**
 * Stores a delivery batch with ONE statement, atomic without a transaction (so one round trip and
 * one commit): for every mailbox, its UID and modseq range is reserved by `mailbox_reserve` (the one
 * allocation rule, migration 064, also behind mail-store's appendManyToMailbox) and its rows inserted
 * with consecutive UIDs; a delivery key per copy (with its initial flags); each recipient marked
 * delivered (the mailbox and UID of its first copy in its destination, or the filter's reason when
 * it has none) or failed, and every message of spoolIds completed once no recipient is left open,
 * by `spool_mark_recipients` (the spool's one recipient rule, owned by @hermod/spool). A mailbox deleted since the facts
 * were read is missing from the result and none of its rows were written. A duplicate key (the same
 * job stored meanwhile by another replica) fails the whole statement, writing nothing.
 */
export async function writeDeliveries(
  client: PoolClient,
  rows: DeliveryRow[],
  failed: FailedRow[],
  spoolIds: string[],
  ended: EndedRow[] = [],
): Promise<MailboxAppend[]> {
  const { rows: appended } = await client.query<{
    id: string;
    name: string;
    first_uid: string;
    first_modseq: string;
    n: number;
  }>({
    // Named: each session plans it once (planning it costs PostgreSQL about as much as running it).
    name: 'mda-write-deliveries',
    text: `WITH input AS (
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::timestamptz[], $5::text[], $6::bigint[],
                            $7::uuid[], $8::int[], $13::text[])
         WITH ORDINALITY AS u(mailbox_id, body_id, size, internal_date, key, account_id, spool_id, rcpt_index, flags, ord)
     ), counts AS MATERIALIZED (
       -- Mailboxes are reserved (their rows locked) in id order: two batches at once, from mda
       -- replicas or MDA_CONCURRENCY, then wait for each other instead of deadlocking.
       SELECT mailbox_id, count(*)::int AS n FROM input GROUP BY mailbox_id ORDER BY mailbox_id
     ), reserved AS MATERIALIZED (
       SELECT c.mailbox_id AS id, r.name, r.first_uid, r.first_modseq, c.n
       FROM counts c CROSS JOIN LATERAL mailbox_reserve(c.mailbox_id, c.n) r
     ), numbered AS (
       SELECT i.*, r.name, r.first_uid + row_number() OVER w - 1 AS uid, r.first_modseq + row_number() OVER w - 1 AS modseq
       FROM input i JOIN reserved r ON r.id = i.mailbox_id
       WINDOW w AS (PARTITION BY i.mailbox_id ORDER BY i.ord)
     ), appended AS (
       INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, flags, modseq)
       SELECT mailbox_id, uid, body_id, size, internal_date, COALESCE(string_to_array(NULLIF(flags, ''), ' '), '{}'),
              modseq FROM numbered
     ), keys AS (
       INSERT INTO deliveries (delivery_key, account_id, mailbox_id, uid)
       SELECT key, account_id, mailbox_id, uid FROM numbered
     ), outcome AS (
       (SELECT DISTINCT ON (spool_id, rcpt_index) spool_id, rcpt_index AS idx, 'delivered' AS state,
              json_build_object('kind', 'local', 'accountId', account_id, 'mailbox', name, 'uid', uid)::text
                AS destination,
              NULL::text AS error
       FROM numbered ORDER BY spool_id, rcpt_index, ord)
       UNION ALL
       SELECT e.spool_id, e.idx, 'delivered',
              json_build_object('kind', 'local', 'accountId', e.account_id, 'filtered', e.reason)::text, NULL
       FROM unnest($14::uuid[], $15::int[], $16::bigint[], $17::text[]) AS e(spool_id, idx, account_id, reason)
       UNION ALL
       SELECT f.spool_id, f.idx, 'failed', NULL, f.error
       FROM unnest($9::uuid[], $10::int[], $11::text[]) AS f(spool_id, idx, error)
     ), marked AS MATERIALIZED (
       SELECT spool_mark_recipients(array_agg(spool_id), array_agg(idx), array_agg(state), array_agg(destination),
                                    array_agg(error), $12::uuid[], false) AS completed
       FROM outcome
     )
     SELECT id, name, first_uid, first_modseq, n FROM reserved WHERE (SELECT completed FROM marked) IS NOT NULL`,
    values: [
      rows.map((r) => r.mailboxId),
      rows.map((r) => r.bodyId),
      rows.map((r) => r.size),
      rows.map((r) => r.internalDate),
      rows.map((r) => r.key),
      rows.map((r) => r.accountId),
      rows.map((r) => r.spoolId),
      rows.map((r) => r.rcptIndex),
      failed.map((f) => f.spoolId),
      failed.map((f) => f.rcptIndex),
      failed.map((f) => f.error),
      spoolIds,
      rows.map((r) => (r.flags ?? []).join(' ')),
      ended.map((e) => e.spoolId),
      ended.map((e) => e.rcptIndex),
      ended.map((e) => e.accountId),
      ended.map((e) => e.reason),
    ],
  });
  return appended.map((a) => ({
    mailboxId: Number(a.id),
    name: a.name,
    firstUid: Number(a.first_uid),
    firstModseq: Number(a.first_modseq),
    count: a.n,
  }));
}
