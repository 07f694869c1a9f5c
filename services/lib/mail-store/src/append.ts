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
