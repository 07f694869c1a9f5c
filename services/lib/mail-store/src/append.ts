import type { PoolClient } from '@hermod/db';

export interface AppendInput {
  mailboxId: number;
  bodyId: number;
  size: number;
  internalDate: Date;
  flags?: string[];
}

export interface AppendResult {
  mailboxId: number;
  uid: number;
  modseq: number;
  uidvalidity: number;
}

/**
 * Adds a message to a mailbox inside the caller's transaction. The UPDATE takes the mailbox row lock,
 * so UIDs are assigned strictly increasing and are never reused, even across crashes (a rolled-back
 * transaction gives its UID back only because nothing else saw it).
 */
export async function appendToMailbox(client: PoolClient, input: AppendInput): Promise<AppendResult> {
  const { rows } = await client.query<{ uid: number; modseq: number; uidvalidity: number }>(
    `UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
     WHERE id = $1 RETURNING uidnext - 1 AS uid, highestmodseq AS modseq, uidvalidity`,
    [input.mailboxId],
  );
  const row = rows[0];
  if (!row) throw new Error(`mailbox ${input.mailboxId} does not exist`);
  await client.query(
    `INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, flags, modseq)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [input.mailboxId, row.uid, input.bodyId, input.size, input.internalDate, input.flags ?? [], row.modseq],
  );
  return { mailboxId: input.mailboxId, uid: row.uid, modseq: row.modseq, uidvalidity: row.uidvalidity };
}

/**
 * appendToMailbox for many messages into one mailbox: the UID range is reserved with one UPDATE
 * (under the row lock) and the rows inserted with one statement. UIDs follow the order of items.
 */
export async function appendManyToMailbox(
  client: PoolClient,
  mailboxId: number,
  items: Array<{ bodyId: number; size: number; internalDate: Date }>,
): Promise<AppendResult[]> {
  if (items.length === 0) return [];
  const n = items.length;
  const { rows } = await client.query<{ first_uid: number; first_modseq: number; uidvalidity: number }>({
    name: 'mail-store-reserve-uids',
    text: `UPDATE mailboxes SET uidnext = uidnext + $2, highestmodseq = highestmodseq + $2
     WHERE id = $1 RETURNING uidnext - $2 AS first_uid, highestmodseq - $2 + 1 AS first_modseq, uidvalidity`,
    values: [mailboxId, n],
  });
  const row = rows[0];
  if (!row) throw new Error(`mailbox ${mailboxId} does not exist`);
  const results = items.map((_, i) => ({
    mailboxId,
    uid: row.first_uid + i,
    modseq: row.first_modseq + i,
    uidvalidity: row.uidvalidity,
  }));
  await client.query({
    name: 'mail-store-insert-messages',
    text: `INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, flags, modseq)
     SELECT $1, u.uid, u.body_id, u.size, u.internal_date, '{}', u.modseq
     FROM unnest($2::bigint[], $3::bigint[], $4::int[], $5::timestamptz[], $6::bigint[]) AS u(uid, body_id, size, internal_date, modseq)`,
    values: [
      mailboxId,
      results.map((r) => r.uid),
      items.map((i) => i.bodyId),
      items.map((i) => i.size),
      items.map((i) => i.internalDate),
      results.map((r) => r.modseq),
    ],
  });
  return results;
}
