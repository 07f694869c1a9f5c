import type { Pool, PoolClient } from '@hermod/db';

type Db = Pool | PoolClient;

/** A consistent picture of a mailbox for a session that selects it. */
export interface MailboxSnapshot {
  uids: number[];
  highestmodseq: number;
  uidnext: number;
  uidvalidity: number;
  recentUid: number;
}

export async function loadSnapshot(db: Db, mailboxId: number): Promise<MailboxSnapshot | undefined> {
  // One statement, one snapshot: the UID list and highestmodseq agree with each other.
  const { rows } = await db.query<MailboxSnapshot>(
    `SELECT m.highestmodseq, m.uidnext, m.uidvalidity, m.recent_uid AS "recentUid",
       coalesce((SELECT array_agg(uid ORDER BY uid) FROM mailbox_messages WHERE mailbox_id = m.id), '{}') AS uids
     FROM mailboxes m WHERE m.id = $1`,
    [mailboxId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { ...row, uids: row.uids.map(Number) };
}

/** What SELECT and EXAMINE report about a mailbox (mailbox_open, migration 076). */
export interface OpenedMailbox {
  id: number;
  name: string;
  specialUse: string | null;
  snapshot: MailboxSnapshot;
  /** Keywords in use (for the FLAGS response). */
  keywords: string[];
  /** The lowest UID without \Seen, when asked for and there is one. */
  firstUnseen: number | undefined;
}

/**
 * Opens a mailbox by name in one round trip: its snapshot, keywords and (when asked) first unseen
 * UID; with claimRecent, the \Recent claim of a read-write session (mailbox_claim_recent; the
 * snapshot's recentUid is then the first UID recent for this session). Undefined when there is none.
 */
export async function openMailbox(
  db: Db,
  accountId: number,
  name: string,
  options: { claimRecent: boolean; firstUnseen: boolean },
): Promise<OpenedMailbox | undefined> {
  const { rows } = await db.query<{
    id: number;
    name: string;
    special_use: string | null;
    uidvalidity: number;
    uidnext: number;
    highestmodseq: number;
    recent_from: number;
    uids: Array<number | string>;
    keywords: string[];
    first_unseen: number | null;
  }>({
    name: 'mail-store-open-mailbox',
    text: 'SELECT * FROM mailbox_open($1, $2, $3, $4)',
    values: [accountId, name, options.claimRecent, options.firstUnseen],
  });
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    name: row.name,
    specialUse: row.special_use,
    snapshot: {
      uids: row.uids.map(Number),
      highestmodseq: row.highestmodseq,
      uidnext: row.uidnext,
      uidvalidity: row.uidvalidity,
      recentUid: row.recent_from,
    },
    keywords: row.keywords,
    firstUnseen: row.first_unseen ?? undefined,
  };
}

export interface MailboxChange {
  uid: number;
  modseq: number;
  /** Current flags, or null when the message was expunged. */
  flags: string[] | null;
}

/** Everything that changed after modseq (flags, new messages, expunges), in one snapshot. */
export async function changesSince(db: Db, mailboxId: number, modseq: number): Promise<MailboxChange[]> {
  const { rows } = await db.query<MailboxChange>(
    `SELECT uid, modseq, flags FROM mailbox_messages WHERE mailbox_id = $1 AND modseq > $2
     UNION ALL
     SELECT uid, modseq, NULL FROM mailbox_expunges WHERE mailbox_id = $1 AND modseq > $2
     ORDER BY modseq, uid`,
    [mailboxId, modseq],
  );
  return rows;
}

/**
 * A session's sync in one round trip (mailbox_changes, migration 076): changesSince's changes, and
 * for a read-write session (claimAbove: its highest known UID) that has new messages to see, the
 * \Recent claim (mailbox_claim_recent) first; recentFrom is then the first UID recent for it.
 */
export async function syncChanges(
  db: Db,
  mailboxId: number,
  modseq: number,
  claimAbove: number | undefined,
): Promise<{ changes: MailboxChange[]; recentFrom: number | undefined }> {
  const { rows } = await db.query<MailboxChange & { recent_from: number | null }>({
    name: 'mail-store-sync-changes',
    text: 'SELECT uid, modseq, flags, recent_from FROM mailbox_changes($1, $2, $3)',
    values: [mailboxId, modseq, claimAbove ?? null],
  });
  return {
    changes: rows.map(({ uid, modseq, flags }) => ({ uid, modseq, flags })),
    recentFrom: rows[0]?.recent_from ?? undefined,
  };
}

export interface MessageMeta {
  uid: number;
  bodyId: number;
  size: number;
  internalDate: Date;
  /** The zone the internal date was given in (minutes east of UTC); null is UTC. */
  internalDateZone: number | null;
  /** When the message was saved in this mailbox (RFC 8514); the internal date for older rows. */
  savedDate: Date;
  flags: string[];
  modseq: number;
  /** Chunk size of the stored body, so range reads need no extra lookup. */
  chunkSize: number;
}

export async function messagesByUid(db: Db, mailboxId: number, uids: number[]): Promise<MessageMeta[]> {
  const { rows } = await db.query<MessageMeta>({
    name: 'mail-store-messages-by-uid',
    text: `SELECT mm.uid, mm.body_id AS "bodyId", mm.size, mm.internal_date AS "internalDate",
       mm.internal_date_zone AS "internalDateZone", coalesce(mm.saved_at, mm.internal_date) AS "savedDate", mm.flags, mm.modseq, b.chunk_size AS "chunkSize"
     FROM mailbox_messages mm JOIN message_bodies b ON b.id = mm.body_id
     WHERE mm.mailbox_id = $1 AND mm.uid = ANY ($2::bigint[]) ORDER BY mm.uid`,
    values: [mailboxId, uids],
  });
  return rows;
}

/** Takes the next modseq of a mailbox (imap_next_modseq, migration 011); the row lock it holds orders concurrent writers. */
export async function nextModseq(client: PoolClient, mailboxId: number): Promise<number> {
  const { rows } = await client.query<{ modseq: number }>('SELECT imap_next_modseq($1) AS modseq', [
    mailboxId,
  ]);
  return rows[0]!.modseq;
}

export type FlagOperation = 'set' | 'add' | 'remove';

export interface FlagUpdate {
  modseq: number;
  changed: Array<{ uid: number; flags: string[]; modseq: number }>;
  /** With reportUnchanged: the named messages the update left as they were, with their flags. */
  unchanged: Array<{ uid: number; flags: string[]; modseq: number }>;
  /** UIDs refused by UNCHANGEDSINCE (CONDSTORE MODIFIED). */
  modified: number[];
}

/**
 * The one flag-update rule (imap_store_flags, migrations 011 and 099): flags kept sorted and
 * distinct; when nothing would change no modseq is taken, so a no-op STORE leaves CONDSTORE state
 * alone (RFC 7162 3.1.3); otherwise the changed messages share the mailbox's next modseq. One
 * statement: run on the pool it is autocommitted (one round trip), on a client it joins the caller's
 * transaction. With reportUnchanged, the named messages it left alone come back too, with their flags.
 */
export async function storeFlags(
  db: Db,
  mailboxId: number,
  uids: number[],
  operation: FlagOperation,
  flags: string[],
  reportUnchanged = false,
): Promise<FlagUpdate> {
  const { rows } = await db.query<{ uid: number; flags: string[]; modseq: number; changed: boolean }>({
    name: 'mail-store-store-flags',
    text: 'SELECT uid, flags, modseq, changed FROM imap_store_flags($1, $2::bigint[], $3, $4::text[], $5)',
    values: [mailboxId, uids, operation, flags, reportUnchanged],
  });
  const changed: FlagUpdate['changed'] = [];
  const unchanged: FlagUpdate['unchanged'] = [];
  for (const { uid, flags, modseq, changed: isChanged } of rows)
    (isChanged ? changed : unchanged).push({ uid, flags, modseq });
  return { modseq: changed[0]?.modseq ?? 0, changed, unchanged, modified: [] };
}

/**
 * STORE with UNCHANGEDSINCE inside the caller's transaction: messages changed after it are refused
 * (CONDSTORE MODIFIED), the others get storeFlags' rule.
 */
export async function updateFlags(
  client: PoolClient,
  mailboxId: number,
  uids: number[],
  operation: FlagOperation,
  flags: string[],
  unchangedSince?: number,
  reportUnchanged = false,
): Promise<FlagUpdate> {
  const modified: number[] = [];
  if (unchangedSince !== undefined) {
    const { rows } = await client.query<{ uid: number }>(
      'SELECT uid FROM mailbox_messages WHERE mailbox_id = $1 AND uid = ANY ($2::bigint[]) AND modseq > $3',
      [mailboxId, uids, unchangedSince],
    );
    const refused = new Set(rows.map((r) => r.uid));
    modified.push(...refused);
    uids = uids.filter((u) => !refused.has(u));
  }
  const update = await storeFlags(client, mailboxId, uids, operation, flags, reportUnchanged);
  return { ...update, modified: modified.sort((a, b) => a - b) };
}

/**
 * Removes messages (all \Deleted ones, or only those among uids) and logs them for other sessions.
 * One autocommitted statement (imap_expunge, i.e. mailbox_expunge of migration 064): no new modseq
 * when nothing is removed.
 */
export async function expungeMessages(
  db: Db,
  mailboxId: number,
  uids?: number[],
): Promise<{ modseq: number; uids: number[] }> {
  const { rows } = await db.query<{ uid: number; modseq: number }>({
    name: 'mail-store-expunge',
    text: 'SELECT uid, modseq FROM imap_expunge($1, $2::bigint[])',
    values: [mailboxId, uids ?? null],
  });
  return { modseq: rows[0]?.modseq ?? 0, uids: rows.map((r) => r.uid) };
}

export interface CopyResult {
  uidvalidity: number;
  /** [source uid, destination uid] in source order. */
  pairs: Array<[number, number]>;
  modseq: number;
}

/**
 * Copies messages (the body is shared, never duplicated) with consecutive new UIDs in the target,
 * by the one allocation rule (`mailbox_copy`, migration 076, through `mailbox_reserve`: each copy its
 * own UID and modseq, in source UID order); `modseq` is the highest of them. One statement: on the
 * pool it is autocommitted (one round trip), on a client it joins the caller's transaction.
 */
export async function copyMessages(
  db: Db,
  fromMailboxId: number,
  uids: number[],
  toMailboxId: number,
): Promise<CopyResult> {
  const { rows } = await db.query<{ source: number; target: number; modseq: number; uidvalidity: number }>({
    name: 'mail-store-copy',
    text: 'SELECT source, target, modseq, uidvalidity FROM mailbox_copy($1, $2::bigint[], $3)',
    values: [fromMailboxId, uids, toMailboxId],
  });
  return copyResult(rows);
}

function copyResult(rows: Array<{ source: number; target: number; modseq: number; uidvalidity: number }>) {
  const last = rows[rows.length - 1];
  return {
    uidvalidity: Number(last?.uidvalidity ?? 0),
    pairs: rows.map((r): [number, number] => [Number(r.source), Number(r.target)]),
    modseq: Number(last?.modseq ?? 0),
  };
}

/**
 * MOVE: copy by the append rule, then remove the originals by the expunge rule (`mailbox_expunge`,
 * migration 064: one new modseq of the source for all of them, logged for QRESYNC), in one
 * transaction and one round trip (`mailbox_move`, migration 076); on a client it joins the caller's.
 */
export async function moveMessages(
  db: Db,
  fromMailboxId: number,
  uids: number[],
  toMailboxId: number,
): Promise<CopyResult & { expungeModseq: number }> {
  const { rows } = await db.query<{
    source: number;
    target: number;
    modseq: number;
    uidvalidity: number;
    expunge_modseq: number;
  }>({
    name: 'mail-store-move',
    text: 'SELECT source, target, modseq, uidvalidity, expunge_modseq FROM mailbox_move($1, $2::bigint[], $3)',
    values: [fromMailboxId, uids, toMailboxId],
  });
  return { ...copyResult(rows), expungeModseq: Number(rows[0]?.expunge_modseq ?? 0) };
}

/** Which flags new copies may keep: \Seen, \Deleted, and every other flag (an ACL's s, t, w). */
export interface KeptFlags {
  seen: boolean;
  deleted: boolean;
  others: boolean;
}

/**
 * Drops the flags of messages just copied in that their writer may not set (RFC 4314 section 4:
 * COPY and MOVE store only the flags the target's rights allow). Run in the copy's transaction,
 * before anyone saw the copies, so they keep the modseq the copy gave them.
 */
export async function keepCopiedFlags(
  client: PoolClient,
  mailboxId: number,
  uids: number[],
  keep: KeptFlags,
): Promise<void> {
  await client.query(
    `UPDATE mailbox_messages SET flags = ARRAY(
       SELECT f FROM unnest(flags) WITH ORDINALITY AS kept(f, n)
        WHERE CASE f WHEN '\\Seen' THEN $3::boolean WHEN '\\Deleted' THEN $4::boolean ELSE $5::boolean END ORDER BY n)
      WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])`,
    [mailboxId, uids, keep.seen, keep.deleted, keep.others],
  );
}

/**
 * COPY or MOVE into one of the account's own mailboxes, named, in one statement
 * (`imap_copy_by_name`, migration 116): the target by name, for a copy the account's storage limit,
 * then the copy and move rules above. 'nonexistent' and 'overquota' wrote nothing; a move answers
 * 'copied' too, with the source's expunge modseq.
 */
export async function copyToNamedMailbox(
  db: Db,
  accountId: number,
  name: string,
  fromMailboxId: number,
  uids: number[],
  move: boolean,
): Promise<
  | { outcome: 'nonexistent' }
  | { outcome: 'overquota' }
  | ({ outcome: 'copied'; mailboxId: number; expungeModseq: number } & CopyResult)
> {
  const { rows } = await db.query<{
    outcome: 'nonexistent' | 'overquota' | 'copied' | 'moved';
    mailbox_id: number | null;
    source: number | null;
    target: number;
    modseq: number;
    uidvalidity: number;
    expunge_modseq: number | null;
  }>({
    name: 'mail-store-copy-by-name',
    text: `SELECT outcome, mailbox_id, source, target, modseq, uidvalidity, expunge_modseq
      FROM imap_copy_by_name($1, $2, $3, $4::bigint[], $5)`,
    values: [accountId, name, fromMailboxId, uids, move],
  });
  const first = rows[0];
  if (first?.outcome === 'overquota') return { outcome: 'overquota' };
  if (!first || first.outcome === 'nonexistent') return { outcome: 'nonexistent' };
  const copied = rows.filter((r) => r.source !== null);
  return {
    outcome: 'copied',
    mailboxId: Number(first.mailbox_id),
    expungeModseq: Number(first.expunge_modseq ?? 0),
    ...copyResult(copied as Array<{ source: number; target: number; modseq: number; uidvalidity: number }>),
  };
}

/**
 * Expunges messages whatever their flags (MOVE, REPLACE inside the caller's transaction; POP3's
 * UPDATE as one autocommitted statement on the pool) by the one expunge rule (mailbox_expunge):
 * they take one new modseq and are logged for other sessions (QRESYNC); removing nothing takes no
 * modseq (0). Returns the UIDs that were there to remove.
 */
export async function removeMessages(
  client: Db,
  mailboxId: number,
  uids: number[],
): Promise<{ modseq: number; uids: number[] }> {
  const { rows } = await client.query<{ uid: number; modseq: number }>(
    'SELECT uid, modseq FROM mailbox_expunge($1, $2::bigint[], false)',
    [mailboxId, uids],
  );
  return { modseq: Number(rows[0]?.modseq ?? 0), uids: rows.map((r) => Number(r.uid)) };
}

/** UIDs expunged after modseq (QRESYNC VANISHED (EARLIER)); the log is kept, so the answer is exact. */
export async function expungedSince(db: Db, mailboxId: number, modseq: number): Promise<number[]> {
  const { rows } = await db.query<{ uid: number }>(
    'SELECT uid FROM mailbox_expunges WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid',
    [mailboxId, modseq],
  );
  return rows.map((r) => r.uid);
}
