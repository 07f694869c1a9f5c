import { createHash, randomUUID } from 'node:crypto';
import type { Pool } from '@hermod/db';
import { BODY_CHUNK_SIZE } from '@hermod/mail-store';
import type { AcceptInput } from './accept.js';

/**
 * acceptMessage for a message already in memory (the common case: most mail is small): body, chunks,
 * envelope and recipients in ONE statement, so the durable accept costs one round trip and one
 * commit (WAL flush shared with concurrent commits) instead of a multi-statement transaction.
 */
export async function acceptBufferedMessage(
  pool: Pool,
  input: Omit<AcceptInput, 'body'> & { body: Buffer },
): Promise<{ spoolId: string; size: number }> {
  const spoolId = input.spoolId ?? randomUUID();
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < input.body.length; offset += BODY_CHUNK_SIZE)
    chunks.push(input.body.subarray(offset, offset + BODY_CHUNK_SIZE));
  if (chunks.length === 0) chunks.push(Buffer.alloc(0));
  await pool.query(
    `WITH body AS (
       INSERT INTO message_bodies (size, sha256, chunk_size) VALUES ($1, $2, $3) RETURNING id
     ), chunks AS (
       INSERT INTO message_body_chunks (body_id, seq, data)
       SELECT body.id, c.i - 1, c.data FROM body, unnest($4::bytea[]) WITH ORDINALITY AS c(data, i)
     ), spool AS (
       INSERT INTO spool_messages (id, body_id, mail_from, source, account_id, client_address, client_helo,
         envelope, trace_context, next_sweep_at)
       SELECT $5, body.id, $6, $7, $8, $9, $10, $11, $12, now() + make_interval(secs => $13) FROM body
       RETURNING id
     )
     INSERT INTO spool_recipients (spool_id, rcpt_index, address, parameters)
     SELECT spool.id, r.i - 1, r.address, r.parameters::jsonb
     FROM spool, unnest($14::text[], $15::text[]) WITH ORDINALITY AS r(address, parameters, i)`,
    [
      input.body.length,
      createHash('sha256').update(input.body).digest(),
      BODY_CHUNK_SIZE,
      chunks,
      spoolId,
      input.mailFrom,
      input.source,
      input.accountId ?? null,
      input.clientAddress ?? null,
      input.clientHelo ?? null,
      JSON.stringify(input.envelope ?? {}),
      JSON.stringify(input.traceContext ?? {}),
      (input.sweepAfterMs ?? 30_000) / 1000,
      input.recipients.map((r) => r.address),
      input.recipients.map((r) => JSON.stringify(r.parameters ?? {})),
    ],
  );
  return { spoolId, size: input.body.length };
}
