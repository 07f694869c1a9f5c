import { randomUUID } from 'node:crypto';
import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import { writeBody } from '@hermod/mail-store';
import { type LocalDestination, routedAtAccept } from '@hermod/pipeline';

export interface AcceptedRecipient {
  address: string;
  /** DSN parameters (NOTIFY, ORCPT) as given. */
  parameters?: Record<string, string>;
  /**
   * Routing's decision made at RCPT time when the recipient goes to one local mailbox. Only when
   * every recipient has one is the message written routed (routedAtAccept); otherwise routing decides.
   */
  local?: LocalDestination;
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
  const routed = routedAtAccept(input.recipients);
  await client.query(
    `INSERT INTO spool_messages (id, body_id, mail_from, source, account_id, client_address, client_helo,
       envelope, trace_context, next_sweep_at, routed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10), CASE WHEN $11 THEN now() END)`,
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
      routed,
    ],
  );
  const rows = recipientRows([{ ...input, spoolId }]);
  await client.query(
    `INSERT INTO spool_recipients (spool_id, rcpt_index, address, parameters, state, destination)
     SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[], $5::text[], $6::jsonb[])`,
    rows,
  );
  return { spoolId, size: body.size };
}

/**
 * The spool_recipients rows of accepted messages as unnest columns (spool id, index, address,
 * parameters, state, destination): pending, or local with its destination when the message is
 * routed at accept time.
 */
export function recipientRows(inputs: Array<Pick<AcceptInput, 'recipients'> & { spoolId: string }>) {
  const columns: [string[], number[], string[], string[], string[], Array<string | null>] = [
    [],
    [],
    [],
    [],
    [],
    [],
  ];
  for (const input of inputs) {
    const routed = routedAtAccept(input.recipients);
    input.recipients.forEach((r, index) => {
      columns[0].push(input.spoolId);
      columns[1].push(index);
      columns[2].push(r.address);
      columns[3].push(JSON.stringify(r.parameters ?? {}));
      columns[4].push(routed ? 'local' : 'pending');
      columns[5].push(routed ? JSON.stringify(r.local) : null);
    });
  }
  return columns;
}
