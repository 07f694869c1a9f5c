import type { Pool } from '@hermod/db';

/**
 * The POP3 maildrop lock (RFC 1939 8, migration 106): one holder per mailbox across replicas, as a
 * lease the holder renews. An expired lease is free, so a crashed replica's lock does not outlive it.
 */

/**
 * Takes the lock for holder for ttlMs, or extends holder's own lease (renewal); false when another
 * holder's lease is still running.
 */
export async function acquireMaildropLock(
  pool: Pool,
  mailboxId: number,
  holder: string,
  ttlMs: number,
): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO pop3_maildrop_locks (mailbox_id, holder, expires_at)
     VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
     ON CONFLICT (mailbox_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE pop3_maildrop_locks.expires_at < clock_timestamp()
          OR pop3_maildrop_locks.holder = EXCLUDED.holder`,
    [mailboxId, holder, ttlMs],
  );
  return rowCount === 1;
}

/** Frees holder's lock (nothing when another holder has it by now). */
export async function releaseMaildropLock(pool: Pool, mailboxId: number, holder: string): Promise<void> {
  await pool.query('DELETE FROM pop3_maildrop_locks WHERE mailbox_id = $1 AND holder = $2', [
    mailboxId,
    holder,
  ]);
}
