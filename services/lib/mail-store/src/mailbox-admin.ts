import type { Pool, PoolClient } from '@hermod/db';
import { nextModseq } from './mailbox-messages.js';
import { isValidMailboxName } from './mailbox-name.js';

type Db = Pool | PoolClient;

export interface MailboxInfo {
  id: number;
  name: string;
  specialUse: string | null;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
}

export class MailboxError extends Error {
  constructor(
    readonly code: 'NONEXISTENT' | 'ALREADYEXISTS' | 'CANNOT' | 'INUSE',
    message: string,
  ) {
    super(message);
    this.name = 'MailboxError';
  }
}

const columns = `id, name, special_use AS "specialUse", uidvalidity, uidnext, highestmodseq`;

export async function listMailboxes(db: Db, accountId: number): Promise<MailboxInfo[]> {
  const { rows } = await db.query<MailboxInfo>({
    name: 'mail-store-list-mailboxes',
    text: `SELECT ${columns} FROM mailboxes WHERE account_id = $1 ORDER BY name`,
    values: [accountId],
  });
  return rows;
}

/** The mailboxes of several accounts in one round trip, by account (accounts without any are absent). */
export async function listMailboxesOf(
  db: Db,
  accountIds: readonly number[],
): Promise<Map<number, MailboxInfo[]>> {
  const { rows } = await db.query<MailboxInfo & { accountId: string }>(
    `SELECT account_id AS "accountId", ${columns} FROM mailboxes WHERE account_id = ANY($1::bigint[]) ORDER BY name`,
    [[...new Set(accountIds)]],
  );
  const out = new Map<number, MailboxInfo[]>();
  for (const { accountId, ...box } of rows) {
    const list = out.get(Number(accountId)) ?? [];
    list.push(box);
    out.set(Number(accountId), list);
  }
  return out;
}

/** A lookup of findMailboxesFor: by id (when given), else special use (when given), else name. */
export interface MailboxLookup {
  accountId: number;
  id?: number;
  specialUse?: string;
  /** Exact name ('INBOX' normalised by the caller). */
  name: string;
}

/**
 * findMailboxesFor's rule as SQL over four parameter expressions (bigint[], bigint[], text[], text[]:
 * the lookups' accounts, ids, special uses and names, such as '$1'..'$4'), for a caller that reads
 * the lookups together with other things in one statement: rows (ord, id, name), ord counting the
 * lookups from 1, none for a lookup that finds nothing.
 * Each lookup tries id, special use and name in turn and stops at the first that finds one: a
 * lookup by name alone (most of mda's fileinto) is one probe of the (account_id, name) index,
 * where filtering and sorting all the account's mailboxes took several times as long per lookup.
 */
export const mailboxLookupsSql = (p: {
  accountIds: string;
  mailboxIds: string;
  specialUses: string;
  names: string;
}): string => `SELECT t.ord, m.id, m.name
       FROM unnest(${p.accountIds}::bigint[], ${p.mailboxIds}::bigint[], ${p.specialUses}::text[], ${p.names}::text[])
         WITH ORDINALITY AS t(account_id, mailbox_id, special_use, name, ord)
       CROSS JOIN LATERAL (
         (SELECT b.id, b.name FROM mailboxes b
           WHERE t.mailbox_id IS NOT NULL AND b.id = t.mailbox_id AND b.account_id = t.account_id)
         UNION ALL
         (SELECT b.id, b.name FROM mailboxes b
           WHERE t.special_use IS NOT NULL AND b.account_id = t.account_id AND b.special_use = t.special_use
           ORDER BY b.name LIMIT 1)
         UNION ALL
         (SELECT b.id, b.name FROM mailboxes b WHERE b.account_id = t.account_id AND b.name = t.name)
         LIMIT 1) m`;

/** The parameters of mailboxLookupsSql for these lookups, in its order. */
export const mailboxLookupsValues = (
  lookups: readonly MailboxLookup[],
): [number[], Array<number | null>, Array<string | null>, string[]] => [
  lookups.map((l) => l.accountId),
  lookups.map((l) => l.id ?? null),
  lookups.map((l) => l.specialUse ?? null),
  lookups.map((l) => l.name),
];

/**
 * Several accounts' mailboxes in one statement, each the account's mailbox with the lookup's id,
 * else one with its special use (the first by name), else the one with its name; undefined where
 * there is none. In the lookups' order.
 */
export async function findMailboxesFor(
  db: Db,
  lookups: readonly MailboxLookup[],
): Promise<Array<{ id: number; name: string } | undefined>> {
  if (lookups.length === 0) return [];
  const { rows } = await db.query<{ ord: string; id: string; name: string }>({
    name: 'mail-store-find-mailboxes-for',
    text: mailboxLookupsSql({ accountIds: '$1', mailboxIds: '$2', specialUses: '$3', names: '$4' }),
    values: mailboxLookupsValues(lookups),
  });
  const out: Array<{ id: number; name: string } | undefined> = lookups.map(() => undefined);
  for (const r of rows) out[Number(r.ord) - 1] = { id: Number(r.id), name: r.name };
  return out;
}

/** A mailbox by exact name ('INBOX' must already be normalised by the caller). */
export async function findMailbox(db: Db, accountId: number, name: string): Promise<MailboxInfo | undefined> {
  const { rows } = await db.query<MailboxInfo>({
    name: 'mail-store-find-mailbox',
    text: `SELECT ${columns} FROM mailboxes WHERE account_id = $1 AND name = $2`,
    values: [accountId, name],
  });
  return rows[0];
}

export async function createMailbox(
  db: Db,
  accountId: number,
  name: string,
  specialUse: string | null = null,
): Promise<MailboxInfo> {
  if (!isValidMailboxName(name)) throw new MailboxError('CANNOT', 'Invalid mailbox name');
  const { rows } = await db.query<MailboxInfo>(
    `INSERT INTO mailboxes (account_id, name, special_use, uidvalidity) VALUES ($1, $2, $3, nextval('mailbox_uidvalidity'))
     ON CONFLICT (account_id, name) DO NOTHING RETURNING ${columns}`,
    [accountId, name, specialUse],
  );
  if (!rows[0]) throw new MailboxError('ALREADYEXISTS', 'Mailbox already exists');
  return rows[0];
}

export async function deleteMailbox(db: Db, accountId: number, name: string): Promise<number> {
  if (name === 'INBOX') throw new MailboxError('CANNOT', 'INBOX cannot be deleted');
  const { rows } = await db.query<{ id: number }>(
    'DELETE FROM mailboxes WHERE account_id = $1 AND name = $2 RETURNING id',
    [accountId, name],
  );
  if (!rows[0]) throw new MailboxError('NONEXISTENT', 'No such mailbox');
  return rows[0].id;
}

/**
 * Renames a mailbox and its children ('a' -> 'b' also moves 'a/x' to 'b/x'). Renaming INBOX moves its
 * messages to a new mailbox and leaves INBOX empty (RFC 3501 6.3.5). Runs in the caller's transaction.
 */
export async function renameMailbox(
  client: PoolClient,
  accountId: number,
  from: string,
  to: string,
  separator = '/',
): Promise<void> {
  const source = await findMailbox(client, accountId, from);
  if (!source) throw new MailboxError('NONEXISTENT', 'No such mailbox');
  if (await findMailbox(client, accountId, to))
    throw new MailboxError('ALREADYEXISTS', 'Target mailbox already exists');
  if (to === from || to.startsWith(from + separator))
    throw new MailboxError('CANNOT', 'Cannot rename a mailbox into itself');
  if (from === 'INBOX') {
    const target = await createMailbox(client, accountId, to);
    // INBOX's messages leave it by the expunge rule (one new modseq of INBOX, imap_next_modseq) and
    // keep their UIDs in the new mailbox, which continues INBOX's UID and modseq counters.
    const highestmodseq = await nextModseq(client, source.id);
    const locked = await client.query<{ uidnext: number }>('SELECT uidnext FROM mailboxes WHERE id = $1', [
      source.id,
    ]);
    const { uidnext } = locked.rows[0]!;
    const moved = await client.query<{ uid: number }>(
      'UPDATE mailbox_messages SET mailbox_id = $2 WHERE mailbox_id = $1 RETURNING uid',
      [source.id, target.id],
    );
    await client.query('UPDATE mailboxes SET uidnext = $2, highestmodseq = $3 WHERE id = $1', [
      target.id,
      uidnext,
      highestmodseq,
    ]);
    await client.query(
      `INSERT INTO mailbox_expunges (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) u
       ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
      [source.id, moved.rows.map((r) => r.uid), highestmodseq],
    );
    // The counting triggers (migrations 032, 075) see the move: both mailboxes' counters follow.
    return;
  }
  const children = await client.query<{ name: string }>(
    'SELECT name FROM mailboxes WHERE account_id = $1 AND left(name, length($2) + 1) = $2 || $3',
    [accountId, from, separator],
  );
  const targets = children.rows.map((r) => to + r.name.slice(from.length));
  if (targets.length > 0) {
    const clash = await client.query('SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = ANY ($2)', [
      accountId,
      targets,
    ]);
    if (clash.rowCount) throw new MailboxError('ALREADYEXISTS', 'A child of the target already exists');
  }
  // A renamed mailbox is a different mailbox to clients: it keeps its UIDs, so UIDVALIDITY may stay.
  await client.query(
    `UPDATE mailboxes SET name = $3 || substr(name, length($2) + 1)
     WHERE account_id = $1 AND (name = $2 OR left(name, length($2) + 1) = $2 || $4)`,
    [accountId, from, to, separator],
  );
  // Subscriptions follow the renamed mailboxes (as in Dovecot and Cyrus); a name already subscribed
  // under the new name stays as it is.
  await client.query(
    `WITH moved AS (
       DELETE FROM mailbox_subscriptions
       WHERE account_id = $1 AND (name = $2 OR left(name, length($2) + 1) = $2 || $4)
       RETURNING name)
     INSERT INTO mailbox_subscriptions (account_id, name)
     SELECT $1, $3 || substr(name, length($2) + 1) FROM moved ON CONFLICT DO NOTHING`,
    [accountId, from, to, separator],
  );
}

/** The account's subscribed names (its own list: a name may have no mailbox), sorted. */
export async function listSubscriptions(db: Db, accountId: number): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>({
    name: 'mail-store-list-subscriptions',
    text: 'SELECT name FROM mailbox_subscriptions WHERE account_id = $1 ORDER BY name',
    values: [accountId],
  });
  return rows.map((r) => r.name);
}

/**
 * Adds or removes a name on the subscription list. Subscribing checks that the mailbox exists (RFC
 * 3501 6.3.6 allows it); unsubscribing never does, so a name whose mailbox is gone can be removed.
 */
export async function setSubscribed(
  db: Db,
  accountId: number,
  name: string,
  subscribed: boolean,
): Promise<void> {
  if (!subscribed) {
    await db.query('DELETE FROM mailbox_subscriptions WHERE account_id = $1 AND name = $2', [
      accountId,
      name,
    ]);
    return;
  }
  const { rowCount } = await db.query(
    `INSERT INTO mailbox_subscriptions (account_id, name)
     SELECT account_id, name FROM mailboxes WHERE account_id = $1 AND name = $2
     ON CONFLICT DO NOTHING`,
    [accountId, name],
  );
  if (!rowCount && !(await findMailbox(db, accountId, name)))
    throw new MailboxError('NONEXISTENT', 'No such mailbox');
}

export interface MailboxStatus {
  messages: number;
  unseen: number;
  recent: number;
  deleted: number;
  deletedSize: number;
  size: number;
  uidnext: number;
  uidvalidity: number;
  highestmodseq: number;
}

/**
 * STATUS from the mailbox row's counters (kept by the triggers of migrations 032 and 075 in the
 * transaction of every write) rather than by counting its messages; RECENT is a range of the primary
 * key (UIDs at or above recent_uid), usually empty.
 */
const statusColumns = `m.message_count::int AS messages, m.unseen_count::int AS unseen,
  (SELECT count(*) FROM mailbox_messages mm WHERE mm.mailbox_id = m.id AND mm.uid >= m.recent_uid)::int AS recent,
  m.deleted_count::int AS deleted, m.deleted_bytes AS "deletedSize", m.message_bytes AS size,
  m.uidnext, m.uidvalidity, m.highestmodseq`;

export async function mailboxStatus(db: Db, mailboxId: number): Promise<MailboxStatus> {
  const { rows } = await db.query<MailboxStatus>({
    name: 'mail-store-mailbox-status',
    text: `SELECT ${statusColumns} FROM mailboxes m WHERE m.id = $1`,
    values: [mailboxId],
  });
  if (!rows[0]) throw new MailboxError('NONEXISTENT', 'No such mailbox');
  return rows[0];
}

/** A mailbox's id and STATUS by name in one round trip (STATUS), undefined when there is none. */
export async function mailboxStatusByName(
  db: Db,
  accountId: number,
  name: string,
): Promise<{ id: number; status: MailboxStatus } | undefined> {
  const { rows } = await db.query<MailboxStatus & { id: number }>({
    name: 'mail-store-mailbox-status-by-name',
    text: `SELECT m.id, ${statusColumns} FROM mailboxes m WHERE m.account_id = $1 AND m.name = $2`,
    values: [accountId, name],
  });
  const row = rows[0];
  if (!row) return undefined;
  const { id, ...status } = row;
  return { id, status };
}

/** Total bytes an account stores, for QUOTA and APPEND checks. */
export async function accountUsage(db: Db, accountId: number): Promise<{ bytes: number; messages: number }> {
  const { rows } = await db.query<{ bytes: number; messages: number }>(
    // Per-mailbox counters kept by triggers (migration 032): as many rows as mailboxes, not messages.
    `SELECT coalesce(sum(message_bytes), 0)::bigint AS bytes, coalesce(sum(message_count), 0)::int AS messages
     FROM mailboxes WHERE account_id = $1`,
    [accountId],
  );
  return rows[0] ?? { bytes: 0, messages: 0 };
}

/** The account's storage limit (bytes, null when unlimited) and what it uses now. */
export async function accountQuota(
  db: Db,
  accountId: number,
): Promise<{ limit: number | null; bytes: number; messages: number }> {
  // One round trip: the limit and the per-mailbox counters' sums (migration 032).
  const { rows } = await db.query<{ limit: number | null; bytes: number; messages: number }>({
    name: 'mail-store-account-quota',
    text: `SELECT a.quota_bytes AS "limit",
       (SELECT coalesce(sum(message_bytes), 0)::bigint FROM mailboxes WHERE account_id = a.id) AS bytes,
       (SELECT coalesce(sum(message_count), 0)::int FROM mailboxes WHERE account_id = a.id) AS messages
     FROM accounts a WHERE a.id = $1`,
    values: [accountId],
  });
  return rows[0] ?? { limit: null, ...(await accountUsage(db, accountId)) };
}
