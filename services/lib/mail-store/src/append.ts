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
 * appendToMailbox for many messages into one mailbox in one statement: the UID range is reserved
 * under the mailbox row lock and the rows inserted with it. UIDs follow the order of items.
 */
export async function appendManyToMailbox(
  client: PoolClient,
  mailboxId: number,
  items: Array<{ bodyId: number; size: number; internalDate: Date }>,
): Promise<AppendResult[]> {
  if (items.length === 0) return [];
  const n = items.length;
  const { rows } = await client.query<{ first_uid: number; first_modseq: number; uidvalidity: number }>({
    name: 'mail-store-append-many',
    text: `WITH reserved AS (
       UPDATE mailboxes SET uidnext = uidnext + $2, highestmodseq = highestmodseq + $2
       WHERE id = $1 RETURNING uidnext - $2 AS first_uid, highestmodseq - $2 + 1 AS first_modseq, uidvalidity
     ), inserted AS (
       INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, flags, modseq)
       SELECT $1, r.first_uid + u.ord - 1, u.body_id, u.size, u.internal_date, '{}', r.first_modseq + u.ord - 1
       FROM reserved r,
            unnest($3::bigint[], $4::int[], $5::timestamptz[]) WITH ORDINALITY AS u(body_id, size, internal_date, ord)
     )
     SELECT first_uid, first_modseq, uidvalidity FROM reserved`,
    values: [
      mailboxId,
      n,
      items.map((i) => i.bodyId),
      items.map((i) => i.size),
      items.map((i) => i.internalDate),
    ],
  });
  const row = rows[0];
  if (!row) throw new Error(`mailbox ${mailboxId} does not exist`);
  return items.map((_, i) => ({
    mailboxId,
    uid: row.first_uid + i,
    modseq: row.first_modseq + i,
    uidvalidity: row.uidvalidity,
  }));
}
