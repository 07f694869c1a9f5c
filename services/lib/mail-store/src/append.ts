import type { Pool, PoolClient } from '@hermod/db';
import { oneChunkBody, oneChunkBodyArgs } from './bodies.js';

export interface AppendInput {
  mailboxId: number;
  bodyId: number;
  size: number;
  internalDate: Date;
  /** The zone the internal date was given in, minutes east of UTC (APPEND's date-time); UTC when absent. */
  internalDateZone?: number;
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
 * calls the same stored function): `mailbox_append` (migration 076) through `mailbox_reserve` (064) takes, under the mailbox row
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
    text: 'SELECT first_uid, first_modseq, uidvalidity FROM mailbox_append($1, $2::bigint[], $3::int[], $4::timestamptz[], $5::jsonb, $6::smallint[])',
    values: [
      mailboxId,
      items.map((i) => i.bodyId),
      items.map((i) => i.size),
      items.map((i) => i.internalDate),
      JSON.stringify(items.map((i) => i.flags ?? [])),
      items.map((i) => i.internalDateZone ?? 0),
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

/**
 * APPEND's usual case in one autocommitted statement: a body that fits one chunk is stored
 * (message_body_store) and added by the same rule (mailbox_append), no transaction around them.
 * Undefined, and nothing written, when the body is larger (the caller uses writeBody and
 * appendManyToMailbox in a transaction).
 */
export async function appendSmallMessage(
  db: Pool | PoolClient,
  mailboxId: number,
  chunks: Buffer[],
  item: { internalDate: Date; internalDateZone?: number; flags: string[] },
): Promise<(AppendResult & { bodyId: number; size: number }) | undefined> {
  const body = oneChunkBody(chunks);
  if (!body) return undefined;
  const { rows } = await db.query<{
    first_uid: number;
    first_modseq: number;
    uidvalidity: number;
    id: number;
  }>({
    name: 'mail-store-append-small',
    text: `SELECT a.first_uid, a.first_modseq, a.uidvalidity, b.id
     FROM (SELECT message_body_store($1, $2, $3, $4) AS id) b
     CROSS JOIN LATERAL mailbox_append($5, ARRAY[b.id], ARRAY[$1::int], ARRAY[$6::timestamptz], $7::jsonb,
       ARRAY[$8::smallint]) a`,
    values: [
      ...oneChunkBodyArgs(body),
      mailboxId,
      item.internalDate,
      JSON.stringify([item.flags]),
      item.internalDateZone ?? 0,
    ],
  });
  const row = rows[0];
  if (!row) throw new Error(`mailbox ${mailboxId} does not exist`);
  return {
    mailboxId,
    uid: Number(row.first_uid),
    modseq: Number(row.first_modseq),
    uidvalidity: Number(row.uidvalidity),
    bodyId: Number(row.id),
    size: body.size,
  };
}

/** What appendSmallMessageByName did: nothing (no such mailbox, over the storage limit), or the append. */
export type AppendByNameResult =
  | { outcome: 'nonexistent' }
  | { outcome: 'overquota' }
  | ({ outcome: 'appended' } & AppendResult & { bodyId: number; size: number });

/**
 * APPEND's usual case when the client names one of the account's own mailboxes, in one
 * autocommitted statement (imap_append_by_name, migration 092): the mailbox by name, the account's
 * storage limit (accountQuota's rule: no limit, or usage + size within it), the body with its parsed
 * structure when the caller has one (what saveBodyStructure would store), and the message by
 * mailbox_append's rule. Undefined, and nothing written, when the body is larger than one chunk.
 */
export async function appendSmallMessageByName(
  db: Pool | PoolClient,
  accountId: number,
  name: string,
  chunks: Buffer[],
  item: {
    internalDate: Date;
    internalDateZone?: number;
    flags: string[];
    structure?: { value: unknown; headerSize: number };
  },
): Promise<AppendByNameResult | undefined> {
  const body = oneChunkBody(chunks);
  if (!body) return undefined;
  const { rows } = await db.query<{
    outcome: 'nonexistent' | 'overquota' | 'appended';
    mailbox_id: string | null;
    first_uid: string | null;
    first_modseq: string | null;
    uidvalidity: string | null;
    body_id: string | null;
  }>({
    name: 'mail-store-append-by-name',
    text: `SELECT outcome, mailbox_id, first_uid, first_modseq, uidvalidity, body_id
     FROM imap_append_by_name($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb, $11::smallint)`,
    values: [
      accountId,
      name,
      ...oneChunkBodyArgs(body),
      item.structure ? JSON.stringify(item.structure.value) : null,
      item.structure ? item.structure.headerSize : null,
      item.internalDate,
      JSON.stringify([item.flags]),
      item.internalDateZone ?? 0,
    ],
  });
  const row = rows[0]!;
  if (row.outcome !== 'appended') return { outcome: row.outcome };
  return {
    outcome: 'appended',
    mailboxId: Number(row.mailbox_id),
    uid: Number(row.first_uid),
    modseq: Number(row.first_modseq),
    uidvalidity: Number(row.uidvalidity),
    bodyId: Number(row.body_id),
    size: body.size,
  };
}
