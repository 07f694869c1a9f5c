import type { Pool, PoolClient } from '@hermod/db';

export interface SpoolRecipient {
  rcptIndex: number;
  address: string;
  parameters: Record<string, string>;
  state: string;
  destination: Record<string, unknown> | null;
}

export interface SpoolMessage {
  id: string;
  bodyId: number;
  size: number;
  mailFrom: string;
  source: string;
  accountId: number | null;
  clientAddress: string | null;
  clientHelo: string | null;
  envelope: Record<string, unknown>;
  traceContext: Record<string, string>;
  receivedAt: Date;
  routedAt: Date | null;
  completedAt: Date | null;
  recipients: SpoolRecipient[];
}

export async function loadSpoolMessage(
  db: Pool | PoolClient,
  spoolId: string,
): Promise<SpoolMessage | undefined> {
  return (await loadSpoolMessages(db, [spoolId])).get(spoolId);
}

/**
 * Several spool messages with their recipients in ONE statement (recipients aggregated as JSON in
 * rcpt_index order): a batch costs one round trip, not two per message. Missing ids are absent.
 */
export async function loadSpoolMessages(
  db: Pool | PoolClient,
  spoolIds: string[],
): Promise<Map<string, SpoolMessage>> {
  const found = new Map<string, SpoolMessage>();
  if (spoolIds.length === 0) return found;
  const { rows } = await db.query<{
    id: string;
    body_id: number;
    size: number;
    mail_from: string;
    source: string;
    account_id: number | null;
    client_address: string | null;
    client_helo: string | null;
    envelope: Record<string, unknown>;
    trace_context: Record<string, string>;
    received_at: Date;
    routed_at: Date | null;
    completed_at: Date | null;
    recipients: SpoolRecipient[];
  }>({
    text: `SELECT s.id, s.body_id, b.size, s.mail_from, s.source, s.account_id, s.client_address, s.client_helo,
       s.envelope, s.trace_context, s.received_at, s.routed_at, s.completed_at,
       COALESCE((SELECT json_agg(json_build_object('rcptIndex', r.rcpt_index, 'address', r.address,
                  'parameters', r.parameters, 'state', r.state, 'destination', r.destination)
                  ORDER BY r.rcpt_index)
                 FROM spool_recipients r WHERE r.spool_id = s.id), '[]'::json) AS recipients
     FROM spool_messages s JOIN message_bodies b ON b.id = s.body_id
     WHERE s.id = ANY($1::uuid[])`,
    values: [spoolIds],
  });
  for (const m of rows)
    found.set(m.id, {
      id: m.id,
      bodyId: m.body_id,
      size: m.size,
      mailFrom: m.mail_from,
      source: m.source,
      accountId: m.account_id,
      clientAddress: m.client_address,
      clientHelo: m.client_helo,
      envelope: m.envelope,
      traceContext: m.trace_context,
      receivedAt: m.received_at,
      routedAt: m.routed_at,
      completedAt: m.completed_at,
      recipients: m.recipients,
    });
  return found;
}

/**
 * The recipient addresses of several spool messages, without the messages: for a caller that
 * picks messages by recipient (mda's report intake) before it loads any. One small statement on the
 * recipients' primary key (unnamed, as createPool's note says of array filters); missing ids give no rows.
 */
export async function loadRecipientAddresses(
  db: Pool | PoolClient,
  spoolIds: readonly string[],
): Promise<Array<{ spoolId: string; address: string }>> {
  if (spoolIds.length === 0) return [];
  const { rows } = await db.query<{ spool_id: string; address: string }>(
    'SELECT spool_id, address FROM spool_recipients WHERE spool_id = ANY($1::uuid[])',
    [spoolIds],
  );
  return rows.map((r) => ({ spoolId: r.spool_id, address: r.address }));
}
