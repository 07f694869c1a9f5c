import type { Pool, PoolClient } from '@hermod/db';
import { withTransaction } from '@hermod/db';
import type { MailboxInfo } from './mailbox-admin.js';

type Db = Pool | PoolClient;

/**
 * Mailbox access control lists (RFC 4314, migration 065). The rights are the RFC's letters
 * l r s w i p k x t e a; a mailbox's owner holds all of them, other accounts of the owner's domain
 * what their entry and the domain's `anyone` entry grant together. Accounts of other domains hold
 * nothing and cannot be named in an entry.
 */
export const ALL_RIGHTS = 'lrswipkxtea';

/** The identifier meaning every account of the owner's domain. */
export const ANYONE = 'anyone';

/** A set of rights in the RFC's canonical order, each letter once; other characters are dropped. */
export function canonicalRights(rights: string): string {
  let out = '';
  for (const right of ALL_RIGHTS) if (rights.includes(right)) out += right;
  return out;
}

export class AclError extends Error {
  constructor(
    /** NOIDENTIFIER: no account of the owner's domain has that address; OWNER: the owner's rights are fixed. */
    readonly code: 'NOIDENTIFIER' | 'OTHERDOMAIN' | 'OWNER',
    message: string,
  ) {
    super(message);
    this.name = 'AclError';
  }
}

export interface AclEntry {
  identifier: string;
  rights: string;
}

/** A mailbox of another account as one account sees it. */
export interface SharedMailbox extends MailboxInfo {
  ownerId: number;
  ownerAddress: string;
  /** The viewer's rights (canonical order; empty when the viewer holds none). */
  rights: string;
}

const boxColumns = `m.id, m.name, m.special_use AS "specialUse", m.uidvalidity, m.uidnext, m.highestmodseq`;

// The viewer's entry and its domain's 'anyone' entry; the owner is never a grantee.
const grantedRights = `coalesce((SELECT string_agg(a.rights, '') FROM mailbox_acl a
    WHERE a.mailbox_id = m.id AND (a.grantee_id = v.id OR (a.grantee_id IS NULL AND v.domain = o.domain))), '')`;

/**
 * The rights one account holds on one mailbox: the one rule every IMAP command asks (through the
 * imap service's access layer). All rights for the owner, none for a mailbox that does not exist.
 */
export async function mailboxRights(db: Db, accountId: number, mailboxId: number): Promise<string> {
  const { rows } = await db.query<{ rights: string }>({
    name: 'mail-store-mailbox-rights',
    text: `SELECT CASE WHEN m.account_id = v.id THEN '${ALL_RIGHTS}' ELSE ${grantedRights} END AS rights
           FROM mailboxes m JOIN accounts o ON o.id = m.account_id, accounts v
           WHERE m.id = $2 AND v.id = $1`,
    values: [accountId, mailboxId],
  });
  return canonicalRights(rows[0]?.rights ?? '');
}

/**
 * A mailbox of the account with address `ownerAddress` (of the viewer's domain) with the viewer's
 * rights; undefined when there is no such account or mailbox in the viewer's domain.
 */
export async function findSharedMailbox(
  db: Db,
  accountId: number,
  ownerAddress: string,
  name: string,
): Promise<SharedMailbox | undefined> {
  const { rows } = await db.query<SharedMailbox>({
    name: 'mail-store-find-shared-mailbox',
    text: `SELECT ${boxColumns}, o.id AS "ownerId", o.address AS "ownerAddress",
             CASE WHEN o.id = v.id THEN '${ALL_RIGHTS}' ELSE ${grantedRights} END AS rights
           FROM accounts v JOIN accounts o ON o.domain = v.domain AND o.address = lower($2)
           JOIN mailboxes m ON m.account_id = o.id AND m.name = $3
           WHERE v.id = $1`,
    values: [accountId, ownerAddress, name],
  });
  const row = rows[0];
  return row ? { ...row, ownerId: Number(row.ownerId), rights: canonicalRights(row.rights) } : undefined;
}

// Other accounts' mailboxes on which the account $1 holds any entry, one row each with the rights of
// its entries. Driven by the entries (grantee index), not by the domain's mailboxes.
const sharedFrom = `FROM accounts v
           JOIN mailbox_acl a ON a.grantee_id = v.id OR a.grantee_id IS NULL
           JOIN mailboxes m ON m.id = a.mailbox_id
           JOIN accounts o ON o.id = m.account_id AND o.domain = v.domain AND o.id <> v.id
           WHERE v.id = $1
           GROUP BY m.id, o.id`;

type SharedRow = Omit<SharedMailbox, 'ownerId'> & { ownerId: number | string };

/** The shared mailboxes of sharedFrom's rows on which the viewer holds a right. */
function sharedMailboxes(rows: SharedRow[]): SharedMailbox[] {
  return rows
    .map((row) => ({ ...row, ownerId: Number(row.ownerId), rights: canonicalRights(row.rights) }))
    .filter((row) => row.rights !== '');
}

/** Other accounts' mailboxes on which the account holds any right, by owner address and name. */
export async function listSharedMailboxes(db: Db, accountId: number): Promise<SharedMailbox[]> {
  const { rows } = await db.query<SharedRow>({
    name: 'mail-store-list-shared-mailboxes',
    text: `SELECT ${boxColumns}, o.id AS "ownerId", o.address AS "ownerAddress", string_agg(a.rights, '') AS rights
           ${sharedFrom}
           ORDER BY o.address, m.name`,
    values: [accountId],
  });
  return sharedMailboxes(rows);
}

/** What LIST reads, in one round trip (and one snapshot). */
export interface MailboxView {
  /** The account's mailboxes by name. */
  own: MailboxInfo[];
  /** The account's subscribed names, sorted. */
  subscriptions: string[];
  /** As listSharedMailboxes. */
  shared: SharedMailbox[];
}

/**
 * The account's mailboxes (as listMailboxes), its subscriptions (as listSubscriptions) and the
 * shared mailboxes it holds rights on (as listSharedMailboxes) in one statement: LIST asked for
 * them in three, each a round trip and a pooled connection.
 */
export async function listMailboxView(db: Db, accountId: number): Promise<MailboxView> {
  const { rows } = await db.query<SharedRow & { part: number }>({
    name: 'mail-store-list-mailbox-view',
    text: `SELECT 0 AS part, ${boxColumns}, NULL::bigint AS "ownerId", NULL::text AS "ownerAddress",
             NULL::text AS rights, m.name AS k1, NULL::text AS k2
           FROM mailboxes m WHERE m.account_id = $1
           UNION ALL
           SELECT 1, NULL, s.name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, s.name, NULL
           FROM mailbox_subscriptions s WHERE s.account_id = $1
           UNION ALL
           SELECT 2, ${boxColumns}, o.id, o.address, string_agg(a.rights, ''), o.address, m.name
           ${sharedFrom}
           ORDER BY part, k1, k2`,
    values: [accountId],
  });
  const view: MailboxView = { own: [], subscriptions: [], shared: [] };
  const shared: SharedRow[] = [];
  for (const { part, ownerId, ownerAddress, rights, k1: _k1, k2: _k2, ...box } of rows as Array<
    SharedRow & { part: number; k1: string; k2: string | null }
  >) {
    if (part === 0) view.own.push(box);
    else if (part === 1) view.subscriptions.push(box.name);
    else shared.push({ ...box, ownerId, ownerAddress, rights });
  }
  view.shared = sharedMailboxes(shared);
  return view;
}

/** The access control list of a mailbox: the owner first (all rights), then 'anyone', then addresses. */
export async function getAcl(db: Db, mailboxId: number): Promise<AclEntry[]> {
  const { rows } = await db.query<AclEntry>(
    `SELECT o.address AS identifier, '${ALL_RIGHTS}' AS rights, 0 AS rank
       FROM mailboxes m JOIN accounts o ON o.id = m.account_id WHERE m.id = $1
     UNION ALL
     SELECT coalesce(g.address, '${ANYONE}'), a.rights, CASE WHEN a.grantee_id IS NULL THEN 1 ELSE 2 END
       FROM mailbox_acl a LEFT JOIN accounts g ON g.id = a.grantee_id WHERE a.mailbox_id = $1
     ORDER BY rank, identifier`,
    [mailboxId],
  );
  return rows.map(({ identifier, rights }) => ({ identifier, rights }));
}

/**
 * The grantee an identifier names for a mailbox of `ownerId`: null for 'anyone', else the account
 * whose address (primary or further) it is, which must be of the owner's domain.
 */
async function grantee(db: Db, ownerId: number, identifier: string): Promise<number | null> {
  if (identifier.toLowerCase() === ANYONE) return null;
  const { rows } = await db.query<{ id: string; sameDomain: boolean }>(
    `SELECT a.id, a.domain = o.domain AS "sameDomain"
     FROM accounts o, accounts a LEFT JOIN account_addresses x ON x.account_id = a.id
     WHERE o.id = $1 AND (a.address = lower($2) OR x.address = lower($2)) LIMIT 1`,
    [ownerId, identifier],
  );
  const row = rows[0];
  const domain = identifier.includes('@') ? identifier.slice(identifier.lastIndexOf('@') + 1) : '';
  if (!row) {
    const owner = await db.query<{ domain: string }>('SELECT domain FROM accounts WHERE id = $1', [ownerId]);
    if (owner.rows[0] && domain.toLowerCase() !== owner.rows[0].domain)
      throw new AclError('OTHERDOMAIN', 'Only accounts of the same domain can be granted rights');
    throw new AclError('NOIDENTIFIER', 'No such account in this domain');
  }
  if (!row.sameDomain)
    throw new AclError('OTHERDOMAIN', 'Only accounts of the same domain can be granted rights');
  if (Number(row.id) === ownerId) throw new AclError('OWNER', "The owner's rights cannot be changed");
  return Number(row.id);
}

/** How SETACL changes an identifier's rights (RFC 4314 3.1): replace, add ('+') or remove ('-'). */
export type AclChange = { mode: 'set' | 'add' | 'remove'; rights: string };

/**
 * Changes the rights of one identifier on a mailbox of `ownerId`; an empty result removes the entry.
 * Returns the identifier's rights after the change.
 */
export async function setAcl(
  pool: Pool,
  ownerId: number,
  mailboxId: number,
  identifier: string,
  change: AclChange,
): Promise<string> {
  return withTransaction(pool, async (client) => {
    const granteeId = await grantee(client, ownerId, identifier);
    const current = await client.query<{ rights: string }>(
      'SELECT rights FROM mailbox_acl WHERE mailbox_id = $1 AND grantee_id IS NOT DISTINCT FROM $2 FOR UPDATE',
      [mailboxId, granteeId],
    );
    const before = current.rows[0]?.rights ?? '';
    const after = canonicalRights(
      change.mode === 'set'
        ? change.rights
        : change.mode === 'add'
          ? before + change.rights
          : [...before].filter((r) => !change.rights.includes(r)).join(''),
    );
    await client.query(
      'DELETE FROM mailbox_acl WHERE mailbox_id = $1 AND grantee_id IS NOT DISTINCT FROM $2',
      [mailboxId, granteeId],
    );
    if (after !== '')
      await client.query('INSERT INTO mailbox_acl (mailbox_id, grantee_id, rights) VALUES ($1, $2, $3)', [
        mailboxId,
        granteeId,
        after,
      ]);
    return after;
  });
}

/** Removes an identifier's entry (DELETEACL); nothing happens when it has none. */
export async function deleteAcl(
  db: Db,
  ownerId: number,
  mailboxId: number,
  identifier: string,
): Promise<void> {
  const granteeId = await grantee(db, ownerId, identifier);
  await db.query('DELETE FROM mailbox_acl WHERE mailbox_id = $1 AND grantee_id IS NOT DISTINCT FROM $2', [
    mailboxId,
    granteeId,
  ]);
}

/** Whether an identifier names the owner (LISTRIGHTS: the owner's rights are all required). */
export async function isOwnerIdentifier(db: Db, ownerId: number, identifier: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM accounts a LEFT JOIN account_addresses x ON x.account_id = a.id
     WHERE a.id = $1 AND (a.address = lower($2) OR x.address = lower($2))`,
    [ownerId, identifier],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Puts another account's mailbox (by the name the subscriber sees it under) on an account's
 * subscription list; the caller has checked that the account may see it.
 */
export async function subscribeShared(db: Db, accountId: number, name: string): Promise<void> {
  await db.query(
    'INSERT INTO mailbox_subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [accountId, name],
  );
}
