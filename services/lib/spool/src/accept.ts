import { randomUUID } from 'node:crypto';
import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import { writeBody } from '@hermod/mail-store';

export interface AcceptedRecipient {
  address: string;
  /** DSN parameters (NOTIFY, ORCPT) as given. */
  parameters?: Record<string, string>;
}

export interface AcceptInput {
  /** Pre-chosen id (e.g. already written into a Received header); a new UUID otherwise. */
  spoolId?: string;
  mailFrom: string;
  recipients: AcceptedRecipient[];
  source: 'msa' | 'mx' | 'local';
  accountId?: number;
  clientAddress?: string;
  clientHelo?: string;
  envelope?: Record<string, unknown>;
  traceContext?: Record<string, string>;
  /** The message as it will be stored (headers added by the receiver included). */
  body: AsyncIterable<Buffer> | Iterable<Buffer>;
  /** When the sweeper may re-publish work for this message if nothing has progressed. */
  sweepAfterMs?: number;
}

/**
 * Makes an accepted message durable: body, envelope and recipients in one transaction committed
 * with synchronous_commit=on. Only after this returns may a receiver answer 250.
 */
export async function acceptMessage(
  pool: Pool,
  input: AcceptInput,
): Promise<{ spoolId: string; size: number }> {
  return withTransaction(pool, (client) => insertAcceptedMessage(client, input));
}

/**
 * The statements of acceptMessage inside a transaction the caller owns, so a receiver can commit
 * several messages with one WAL flush (group commit); it may answer 250 only after that commit.
 */
export async function insertAcceptedMessage(
  client: PoolClient,
  input: AcceptInput,
): Promise<{ spoolId: string; size: number }> {
  const spoolId = input.spoolId ?? randomUUID();
  const body = await writeBody(client, input.body);
  await client.query(
    `INSERT INTO spool_messages (id, body_id, mail_from, source, account_id, client_address, client_helo,
       envelope, trace_context, next_sweep_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10))`,
    [
      spoolId,
      body.bodyId,
      input.mailFrom,
      input.source,
      input.accountId ?? null,
      input.clientAddress ?? null,
      input.clientHelo ?? null,
      JSON.stringify(input.envelope ?? {}),
      JSON.stringify(input.traceContext ?? {}),
      (input.sweepAfterMs ?? 30_000) / 1000,
    ],
  );
  await client.query(
    `INSERT INTO spool_recipients (spool_id, rcpt_index, address, parameters)
     SELECT $1, i - 1, a, p::jsonb FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS r(a, p, i)`,
    [
      spoolId,
      input.recipients.map((r) => r.address),
      input.recipients.map((r) => JSON.stringify(r.parameters ?? {})),
    ],
  );
  return { spoolId, size: body.size };
}
