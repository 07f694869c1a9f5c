// Shared by the durability tests: a seeded random source, one SMTP submission that reports the
// spool id of its 250, and the count of mailbox copies of acknowledged messages.
import type { Pool } from '@hermod/db';
import nodemailer from 'nodemailer';

/** A seeded generator in [0, 1), so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Sends one message to port (no TLS needed); the spool id of its 250, or undefined when not acknowledged. */
export async function sendAcknowledged(
  port: number,
  message: { from: string; to: string; subject: string; text: string },
): Promise<string | undefined> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    tls: { rejectUnauthorized: false },
    connectionTimeout: 3_000,
    greetingTimeout: 3_000,
    socketTimeout: 15_000,
  });
  try {
    const info = await transport.sendMail(message);
    return /queued as ([0-9a-f-]{36})/.exec(info.response)?.[1];
  } catch {
    return undefined;
  } finally {
    transport.close();
  }
}

/** How many mailbox rows hold the body of each of the given spool messages. */
export async function mailboxCopies(pool: Pool, spoolIds: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; copies: number }>(
    `SELECT s.id, count(m.uid)::int AS copies FROM spool_messages s
     LEFT JOIN mailbox_messages m ON m.body_id = s.body_id
     WHERE s.id = ANY($1::uuid[]) GROUP BY s.id`,
    [spoolIds],
  );
  return new Map(rows.map((r) => [r.id, r.copies]));
}
