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
  }>(`SELECT s.*, b.size FROM spool_messages s JOIN message_bodies b ON b.id = s.body_id WHERE s.id = $1`, [
    spoolId,
  ]);
  const m = rows[0];
  if (!m) return undefined;
  const recipients = await db.query<{
    rcpt_index: number;
    address: string;
    parameters: Record<string, string>;
    state: string;
    destination: Record<string, unknown> | null;
  }>(
    'SELECT rcpt_index, address, parameters, state, destination FROM spool_recipients WHERE spool_id = $1 ORDER BY rcpt_index',
    [spoolId],
  );
  return {
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
    recipients: recipients.rows.map((r) => ({
      rcptIndex: r.rcpt_index,
      address: r.address,
      parameters: r.parameters,
      state: r.state,
      destination: r.destination,
    })),
  };
}
