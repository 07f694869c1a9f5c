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
    if (Date.now() > deadline)
      throw new Error(`expected ${count} message(s) for ${address} in ${mailbox}, found ${rows.length}`);
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
