import type { Pool, PoolClient } from '@hermod/db';
import { withTransaction } from '@hermod/db';

type Db = Pool | PoolClient;

/**
 * IMAP METADATA entries (RFC 5464, migration 062). `mailboxId` null is the server; entry names are
 * lower-case and start with /private/ (one account's own) or /shared/ (everyone who can see the
 * mailbox; on the server, every user).
 */
export interface MetadataEntry {
  name: string;
  value: Buffer;
}

/** How far below each named entry GETMETADATA looks (RFC 5464 4.2.2): 0, 1 or 'infinity'. */
export type MetadataDepth = 0 | 1 | 'infinity';

/** The entries an account sees under the given names (and their descendants up to depth). */
export async function getMetadata(
  db: Db,
  accountId: number,
  mailboxId: number | null,
  names: string[],
  depth: MetadataDepth,
): Promise<MetadataEntry[]> {
  const { rows } = await db.query<MetadataEntry>(
    `SELECT m.name, m.value FROM imap_metadata m, unnest($3::text[]) AS asked(name)
     WHERE m.mailbox_id IS NOT DISTINCT FROM $2::bigint AND (m.account_id = $1 OR m.account_id IS NULL)
       AND (m.name = asked.name
            OR ($4 > 0 AND left(m.name, length(asked.name) + 1) = asked.name || '/'
                AND ($4 > 1 OR strpos(substr(m.name, length(asked.name) + 2), '/') = 0)))
     GROUP BY m.name, m.value ORDER BY m.name`,
    [accountId, mailboxId, names, depth === 'infinity' ? 2 : depth],
  );
  return rows;
}

export class MetadataLimitError extends Error {
  constructor(
    readonly code: 'TOOMANY',
    message: string,
  ) {
    super(message);
    this.name = 'MetadataLimitError';
  }
}

/**
 * Sets (value) or removes (null) entries of an account's server or mailbox metadata, all or
 * nothing: when the account would then hold more than maxEntries entries (its private ones and
 * the shared ones of its mailboxes) nothing changes and MetadataLimitError('TOOMANY') is thrown.
 */
export async function setMetadata(
  pool: Pool,
  accountId: number,
  mailboxId: number | null,
  entries: Array<{ name: string; value: Buffer | null }>,
  maxEntries: number,
): Promise<void> {
  const owner = (name: string) => (name.startsWith('/private/') ? accountId : null);
  const set = entries.filter((e) => e.value !== null);
  const removed = entries.filter((e) => e.value === null);
  await withTransaction(pool, async (client) => {
    await client.query(
      `WITH removed AS (
         DELETE FROM imap_metadata m USING unnest($2::text[], $3::bigint[]) AS d(name, account_id)
         WHERE m.mailbox_id IS NOT DISTINCT FROM $1::bigint AND m.name = d.name
           AND m.account_id IS NOT DISTINCT FROM d.account_id
       ), written AS (
         INSERT INTO imap_metadata (mailbox_id, account_id, name, value)
         SELECT $1::bigint, s.account_id, s.name, s.value
         FROM unnest($4::text[], $5::bigint[], $6::bytea[]) AS s(name, account_id, value)
         ON CONFLICT (coalesce(mailbox_id, 0), coalesce(account_id, 0), name) DO UPDATE SET value = EXCLUDED.value
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM written) AS written`,
      [
        mailboxId,
        removed.map((e) => e.name),
        removed.map((e) => owner(e.name)),
        set.map((e) => e.name),
        set.map((e) => owner(e.name)),
        set.map((e) => e.value),
      ],
    );
    // Counted after the write (a statement does not see its own changes), inside the transaction.
    const { rows: after } = await client.query<{ total: number }>(
      `SELECT count(*)::int AS total FROM imap_metadata m LEFT JOIN mailboxes b ON b.id = m.mailbox_id
       WHERE m.account_id = $1 OR (m.account_id IS NULL AND b.account_id = $1)`,
      [accountId],
    );
    if ((after[0]?.total ?? 0) > maxEntries)
      throw new MetadataLimitError('TOOMANY', `More than ${maxEntries} metadata entries`);
  });
}
