// Shared helpers for the MX tests: mailbox look-ups and stored bodies.
import type { Pool } from '@hermod/db';
import { readBody } from '@hermod/mail-store';

export interface StoredMessage {
  uid: number;
  mailbox: string;
  text: string;
}

/** Waits until address has count messages in mailbox (by name), returns them with their text. */
export async function waitForMessages(
  pool: Pool,
  address: string,
  count: number,
  mailbox = 'INBOX',
  timeoutMs = 15_000,
): Promise<StoredMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ uid: number; body_id: number; name: string }>(
      `SELECT m.uid, m.body_id, b.name FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
       JOIN accounts a ON a.id = b.account_id WHERE a.address = $1 AND b.name = $2 ORDER BY m.uid`,
      [address, mailbox],
    );
    if (rows.length >= count) {
      const out: StoredMessage[] = [];
      for (const r of rows) {
        const parts: Buffer[] = [];
        for await (const b of readBody(pool, r.body_id)) parts.push(b);
        out.push({ uid: r.uid, mailbox: r.name, text: Buffer.concat(parts).toString('latin1') });
      }
      return out;
    }
    if (Date.now() > deadline) {
      const where = await pool.query<{ name: string; n: string }>(
        `SELECT b.name, count(m.uid) AS n FROM mailboxes b JOIN accounts a ON a.id = b.account_id
         LEFT JOIN mailbox_messages m ON m.mailbox_id = b.id WHERE a.address = $1 GROUP BY b.name`,
        [address],
      );
      const spool = await pool.query<{ state: string; destination: unknown; envelope: unknown }>(
        `SELECT r.state, r.destination, s.envelope FROM spool_recipients r JOIN spool_messages s ON s.id = r.spool_id
         WHERE r.address = $1 ORDER BY s.received_at DESC LIMIT 2`,
        [address],
      );
      throw new Error(
        `expected ${count} message(s) for ${address} in ${mailbox}, found ${rows.length}; mailboxes ${JSON.stringify(where.rows)}; latest spool ${JSON.stringify(spool.rows)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How many messages the MX spooled so far. */
export async function spooledFromMx(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM spool_messages WHERE source = 'mx'`,
  );
  return Number(rows[0]?.n ?? 0);
}
