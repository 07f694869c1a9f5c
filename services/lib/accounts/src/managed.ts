// Accounts and groups declared as Kubernetes resources (MailUser, MailGroup). The operator calls
// these through AccountStore; they are level-based (apply the whole declared state, write only what
// differs, report whether anything changed) and never touch a row owned by someone else.
import { parseAddress } from '@hermod/address';
import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import { createDefaultMailboxes } from '@hermod/mail-store';
import { AccountError } from './errors.js';
import { checkPasswordStrength, hashPassword, isArgon2Hash } from './password.js';

export type DeletionPolicy = 'delete' | 'retain';

export interface ManagedAccountInput {
  address: string;
  displayName?: string | undefined;
  /**
   * The password as the referenced Secret holds it (an argon2 PHC hash, or a plaintext hashed here
   * with the rule `hermod user add` uses), and a name of that version of it: a plaintext is hashed
   * again only when the source changes.
   */
  password: { source: string; secret: string };
  quotaBytes: number | null;
  aliases: string[];
  sendAs: string[];
  forwardTo: string[];
  forwardKeepCopy: boolean;
  suspended: boolean;
}

export interface ManagedAccountResult {
  accountId: number;
  address: string;
  created: boolean;
  /** Whether anything was written (false: the store already matched the declaration). */
  changed: boolean;
  /** Whether the account was taken over from the CLI (the adopt annotation). */
  adopted: boolean;
}

export const senderPolicies = ['anyone', 'members', 'listed', 'domain'] as const;
export type SenderPolicy = (typeof senderPolicies)[number];

export interface MailGroupInput {
  address: string;
  displayName?: string | undefined;
  members: string[];
  senderPolicy: SenderPolicy;
  /** With senderPolicy listed: addresses, or domains (every sender of the domain). */
  allowedSenders: string[];
}

export interface MailGroup {
  address: string;
  domain: string;
  displayName: string | null;
  members: string[];
  senderPolicy: SenderPolicy;
  allowedSenders: string[];
  managedBy: string | null;
}

export const managedError = (address: string, owner: string): AccountError =>
  new AccountError(
    'managed',
    `${address} is managed by ${owner}; change that resource instead (kubectl edit ${owner.replace(/^(\w+) ([^/]+)\/(.+)$/, '$1 -n $2 $3').toLowerCase()})`,
  );

function canonical(address: string): string {
  try {
    return parseAddress(address).canonical;
  } catch (error) {
    throw new AccountError('bad-address', `${address}: ${(error as Error).message}`);
  }
}

const canonicalList = (addresses: string[], except?: string): string[] =>
  [...new Set(addresses.map(canonical))].filter((a) => a !== except).sort();

/** Which of addresses (canonical) name something other than the given account: what and whose. */
async function clashes(
  client: PoolClient,
  addresses: string[],
  accountId: number | null,
  group: string | null,
): Promise<string | undefined> {
  const { rows } = await client.query<{ address: string; what: string }>(
    `SELECT address, 'the account ' || address AS what FROM accounts
       WHERE address = ANY($1) AND id IS DISTINCT FROM $2
     UNION ALL SELECT x.address, 'an alias of ' || a.address FROM account_addresses x JOIN accounts a ON a.id = x.account_id
       WHERE x.address = ANY($1) AND x.account_id IS DISTINCT FROM $2
     UNION ALL SELECT address, 'a group' FROM mail_groups WHERE address = ANY($1) AND address IS DISTINCT FROM $3
     LIMIT 1`,
    [addresses, accountId, group],
  );
  const row = rows[0];
  return row ? `${row.address} is already ${row.what}` : undefined;
}

function checkOwner(
  address: string,
  current: string | null,
  owner: string,
  adopt: boolean,
): { adopted: boolean } {
  if (current === owner) return { adopted: false };
  if (current !== null) throw managedError(address, current);
  if (!adopt)
    throw new AccountError(
      'managed',
      `${address} already exists and is not managed by a resource; annotate ${owner} with mail.hermod.dev/adopt=true to take it over`,
    );
  return { adopted: true };
}

export async function applyManagedAccount(
  pool: Pool,
  owner: string,
  input: ManagedAccountInput,
  options: { adopt: boolean },
): Promise<ManagedAccountResult> {
  const address = canonical(input.address);
  const aliases = canonicalList(input.aliases, address);
  const sendAs = canonicalList(input.sendAs, address);
  const forwardTo = canonicalList(input.forwardTo, address);
  const before = await pool.query<{ password_source: string | null; managed_by: string | null }>(
    'SELECT password_source, managed_by FROM accounts WHERE address = $1',
    [address],
  );
  // A plaintext is hashed (slow on purpose) only when its source changed; never inside the transaction.
  let passwordHash: string | undefined;
  const sameSource = before.rows[0]?.password_source === input.password.source;
  if (!sameSource || before.rows[0]?.managed_by !== owner) {
    if (isArgon2Hash(input.password.secret)) passwordHash = input.password.secret;
    else {
      checkPasswordStrength(input.password.secret);
      passwordHash = await hashPassword(input.password.secret);
    }
  }
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: number; managed_by: string | null }>(
      'SELECT id, managed_by FROM accounts WHERE address = $1 FOR UPDATE',
      [address],
    );
    const existing = rows[0];
    const { adopted } = existing
      ? checkOwner(address, existing.managed_by, owner, options.adopt)
      : { adopted: false };
    const clash = await clashes(client, [address, ...aliases], existing?.id ?? null, null);
    if (clash) throw new AccountError('exists', clash);
    const values = [
      input.displayName ?? null,
      input.quotaBytes,
      input.suspended,
      forwardTo,
      input.forwardKeepCopy,
      sendAs,
      owner,
    ];
    let accountId: number;
    let changed = false;
    if (!existing) {
      if (!passwordHash) throw new AccountError('weak-password', `${address}: no password`);
      const inserted = await client.query<{ id: number }>(
        `INSERT INTO accounts (address, domain, display_name, quota_bytes, disabled, forward_to,
           forward_keep_copy, send_as, managed_by, password_hash, password_source)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
        [address, address.split('@')[1], ...values, passwordHash, input.password.source],
      );
      accountId = inserted.rows[0]!.id;
      await createDefaultMailboxes(client, accountId);
      changed = true;
    } else {
      accountId = existing.id;
      const updated = await client.query(
        `UPDATE accounts SET display_name = $2, quota_bytes = $3, disabled = $4, forward_to = $5,
           forward_keep_copy = $6, send_as = $7, managed_by = $8,
           password_hash = coalesce($9, password_hash), password_source = $10, updated_at = now()
         WHERE id = $1 AND (display_name IS DISTINCT FROM $2 OR quota_bytes IS DISTINCT FROM $3
           OR disabled <> $4 OR forward_to <> $5 OR forward_keep_copy <> $6 OR send_as <> $7
           OR managed_by IS DISTINCT FROM $8 OR ($9::text IS NOT NULL AND password_hash <> $9)
           OR password_source IS DISTINCT FROM $10)`,
        [accountId, ...values, passwordHash ?? null, input.password.source],
      );
      changed = (updated.rowCount ?? 0) > 0;
    }
    const removed = await client.query(
      'DELETE FROM account_addresses WHERE account_id = $1 AND NOT (address = ANY($2))',
      [accountId, aliases],
    );
    const added = await client.query(
      `INSERT INTO account_addresses (address, account_id) SELECT unnest($2::text[]), $1
       ON CONFLICT (address) DO NOTHING`,
      [accountId, aliases],
    );
    changed ||= (removed.rowCount ?? 0) + (added.rowCount ?? 0) > 0;
    return { accountId, address, created: !existing, changed, adopted };
  });
}

/**
 * The owning resource is gone. delete: the account and its mail are removed. retain: the account
 * and its mail stay, disabled (no login) and no longer owned (the CLI may remove it, or a new
 * resource adopt it). Nothing happens to an account someone else owns. True when it acted.
 */
export async function releaseManagedAccount(
  pool: Pool,
  owner: string,
  address: string,
  policy: DeletionPolicy,
): Promise<boolean> {
  const canonicalAddress = canonical(address);
  const { rowCount } =
    policy === 'delete'
      ? await pool.query('DELETE FROM accounts WHERE address = $1 AND managed_by = $2', [
          canonicalAddress,
          owner,
        ])
      : await pool.query(
          `UPDATE accounts SET managed_by = NULL, password_source = NULL, disabled = true, updated_at = now()
           WHERE address = $1 AND managed_by = $2`,
          [canonicalAddress, owner],
        );
  return (rowCount ?? 0) > 0;
}

export async function applyMailGroup(
  pool: Pool,
  owner: string,
  input: MailGroupInput,
  options: { adopt: boolean },
): Promise<{ changed: boolean; adopted: boolean }> {
  const address = canonical(input.address);
  const members = canonicalList(input.members, address);
  const allowedSenders = [
    ...new Set(input.allowedSenders.map((s) => (s.includes('@') ? canonical(s) : s.toLowerCase()))),
  ].sort();
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ managed_by: string | null }>(
      'SELECT managed_by FROM mail_groups WHERE address = $1 FOR UPDATE',
      [address],
    );
    const { adopted } = rows[0]
      ? checkOwner(address, rows[0].managed_by, owner, options.adopt)
      : { adopted: false };
    const clash = await clashes(client, [address], null, address);
    if (clash) throw new AccountError('exists', clash);
    const { rowCount } = await client.query(
      `INSERT INTO mail_groups AS g (address, domain, display_name, members, sender_policy, allowed_senders, managed_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (address) DO UPDATE SET display_name = $3, members = $4, sender_policy = $5,
         allowed_senders = $6, managed_by = $7, updated_at = now()
       WHERE g.display_name IS DISTINCT FROM $3 OR g.members <> $4 OR g.sender_policy <> $5
         OR g.allowed_senders <> $6 OR g.managed_by IS DISTINCT FROM $7`,
      [
        address,
        address.split('@')[1],
        input.displayName ?? null,
        members,
        input.senderPolicy,
        allowedSenders,
        owner,
      ],
    );
    return { changed: (rowCount ?? 0) > 0, adopted };
  });
}

/** Removes a group its owner declared; true when there was one. */
export async function removeMailGroup(pool: Pool, owner: string, address: string): Promise<boolean> {
  const { rowCount } = await pool.query('DELETE FROM mail_groups WHERE address = $1 AND managed_by = $2', [
    canonical(address),
    owner,
  ]);
  return (rowCount ?? 0) > 0;
}

/**
 * The addresses of a batch lookup by canonical form, each with the spellings asked for (answers
 * are keyed by those); unparsable ones are left out (nothing is found for them).
 */
export function askedByCanonical(addresses: string[]): Map<string, string[]> {
  const asked = new Map<string, string[]>();
  for (const address of addresses) {
    try {
      const c = parseAddress(address).canonical;
      asked.set(c, [...(asked.get(c) ?? []), address]);
    } catch {
      // unparsable: not found
    }
  }
  return asked;
}

export async function findGroups(pool: Pool, addresses: string[]): Promise<Map<string, MailGroup>> {
  const asked = askedByCanonical(addresses);
  const found = new Map<string, MailGroup>();
  if (asked.size === 0) return found;
  const { rows } = await pool.query<{
    address: string;
    domain: string;
    display_name: string | null;
    members: string[];
    sender_policy: SenderPolicy;
    allowed_senders: string[];
    managed_by: string | null;
  }>(
    `SELECT address, domain, display_name, members, sender_policy, allowed_senders, managed_by
     FROM mail_groups WHERE address = ANY($1)`,
    [[...asked.keys()]],
  );
  for (const r of rows) {
    const group: MailGroup = {
      address: r.address,
      domain: r.domain,
      displayName: r.display_name,
      members: r.members,
      senderPolicy: r.sender_policy,
      allowedSenders: r.allowed_senders,
      managedBy: r.managed_by,
    };
    for (const a of asked.get(r.address) ?? []) found.set(a, group);
  }
  return found;
}

/**
 * Whether sender (an envelope sender, '' for the null sender) may send to the group: the one rule
 * routing applies at RCPT time and again when it expands the group for delivery.
 */
export function groupAcceptsSender(group: MailGroup, sender: string): boolean {
  if (group.senderPolicy === 'anyone') return true;
  let from: { canonical: string; domain: string };
  try {
    from = parseAddress(sender);
  } catch {
    return false; // the null sender (bounces) and unparsable senders only reach open groups
  }
  switch (group.senderPolicy) {
    case 'members':
      return group.members.includes(from.canonical);
    case 'domain':
      return from.domain === group.domain;
    case 'listed':
      return group.allowedSenders.some((s) => s === from.canonical || s === from.domain);
  }
}
