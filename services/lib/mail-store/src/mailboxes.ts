import type { PoolClient } from '@hermod/db';

/** Folders every new account gets, with their RFC 6154 special-use attributes. */
export const defaultMailboxes = [
  { name: 'INBOX', specialUse: null },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
] as const;

export interface MailboxRef {
  id: number;
  name: string;
}

/**
 * Creates the default folders (idempotent) and subscribes the ones it creates. UIDVALIDITY comes
 * from a sequence, so a re-created name gets a new one.
 */
export async function createDefaultMailboxes(client: PoolClient, accountId: number): Promise<void> {
  for (const box of defaultMailboxes) {
    await client.query(
      `WITH created AS (
         INSERT INTO mailboxes (account_id, name, special_use, uidvalidity)
         VALUES ($1, $2, $3, nextval('mailbox_uidvalidity'))
         ON CONFLICT (account_id, name) DO NOTHING RETURNING account_id, name)
       INSERT INTO mailbox_subscriptions (account_id, name) SELECT account_id, name FROM created
       ON CONFLICT DO NOTHING`,
      [accountId, box.name, box.specialUse],
    );
  }
}

/**
 * Finds a delivery target by special use ('\\Junk') or by name, falling back to INBOX, so a filter
 * decision never loses a message because a folder was renamed or deleted.
 */
export async function resolveMailbox(
  client: PoolClient,
  accountId: number,
  target: string,
): Promise<MailboxRef> {
  const { rows } = await client.query<MailboxRef>({
    name: 'mail-store-resolve-mailbox',
    text: `SELECT id, name FROM mailboxes WHERE account_id = $1 AND (name = $2 OR special_use = $2 OR name = 'INBOX')
     ORDER BY COALESCE(name = $2 OR special_use = $2, false) DESC LIMIT 1`,
    values: [accountId, target],
  });
  if (rows[0]) return rows[0];
  // INBOX missing (never expected): recreate the defaults.
  await createDefaultMailboxes(client, accountId);
  return resolveMailbox(client, accountId, 'INBOX');
}
