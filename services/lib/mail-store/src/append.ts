import type { PoolClient } from '@hermod/db';

export interface AppendInput {
  mailboxId: number;
  bodyId: number;
  size: number;
  internalDate: Date;
  flags?: string[];
}

/** One message to add: its stored body, arrival time and initial flags. */
export type AppendItem = Omit<AppendInput, 'mailboxId'>;

export interface AppendResult {
  mailboxId: number;
  uid: number;
  modseq: number;
  uidvalidity: number;
}

/**
 * THE rule for adding messages to a mailbox (APPEND, COPY, MOVE here; mda's batch delivery statement
 * calls the same stored function): `mailbox_reserve` (migration 064) takes, under the mailbox row
 * lock, the next n UIDs and the next n modseqs, and the messages get them in the order of items, in
 * one statement inside the caller's transaction. UIDs strictly increase and are never reused, even
 * across crashes (a rolled-back transaction gives its UIDs back only because nothing else saw them).
 */
export async function appendManyToMailbox(
  client: PoolClient,
  mailboxId: number,
  items: AppendItem[],
): Promise<AppendResult[]> {
  if (items.length === 0) return [];
  const { rows } = await client.query<{ first_uid: number; first_modseq: number; uidvalidity: number }>({
    name: 'mail-store-append',
    text: `WITH reserved AS MATERIALIZED (
       SELECT first_uid, first_modseq, uidvalidity FROM mailbox_reserve($1, $2)
     ), inserted AS (
       INSERT INTO mailbox_messages (mailbox_id, uid, body_id, size, internal_date, flags, modseq)
       SELECT $1, r.first_uid + u.ord - 1, u.body_id, u.size, u.internal_date,
              ARRAY(SELECT jsonb_array_elements_text($6::jsonb -> (u.ord::int - 1))), r.first_modseq + u.ord - 1
       FROM reserved r,
            unnest($3::bigint[], $4::int[], $5::timestamptz[]) WITH ORDINALITY AS u(body_id, size, internal_date, ord)
     )
     SELECT first_uid, first_modseq, uidvalidity FROM reserved`,
    values: [
      mailboxId,
      items.length,
      items.map((i) => i.bodyId),
      items.map((i) => i.size),
      items.map((i) => i.internalDate),
      JSON.stringify(items.map((i) => i.flags ?? [])),
    ],
  });
  const row = rows[0];
  if (!row) throw new Error(`mailbox ${mailboxId} does not exist`);
  return items.map((_, i) => ({
    mailboxId,
    uid: Number(row.first_uid) + i,
    modseq: Number(row.first_modseq) + i,
    uidvalidity: Number(row.uidvalidity),
  }));
}

/** Adds one message to a mailbox inside the caller's transaction (appendManyToMailbox's rule). */
export async function appendToMailbox(client: PoolClient, input: AppendInput): Promise<AppendResult> {
  const { mailboxId, ...item } = input;
  const [result] = await appendManyToMailbox(client, mailboxId, [item]);
  return result!;
}
