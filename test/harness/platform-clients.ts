// The operator's and the mail owner's view of a test platform: the hermod CLI run as a user runs it,
// and the messages in an account's INBOX.

import type { Pool } from '@hermod/db';
import { repositoryRoot } from '@hermod/local-infra';
import { readBody } from '@hermod/mail-store';
import type { HermodPlatform } from './hermod.js';
import { type RunResult, run } from './tools.js';

/** `hermod <args>` (bin/hermod.js, as `npx hermod` runs it) against the platform's NATS, PostgreSQL and routing. */
export function hermodCli(
  hermod: Pick<HermodPlatform, 'nats' | 'db' | 'ports'>,
  args: string[],
  options: { input?: string } = {},
): Promise<RunResult> {
  return run(process.execPath, ['services/cli/bin/hermod.js', ...args], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      HERMOD_PORT_OFFSET: '',
      NATS_URL: hermod.nats.url,
      DATABASE_URL: hermod.db.url,
      ROUTING_GRPC_ADDRESS: `127.0.0.1:${hermod.ports.routingGrpc}`,
    },
    ...(options.input !== undefined ? { input: options.input } : {}),
    timeoutMs: 30_000,
  });
}

/** The messages in the account's INBOX, in UID order, as stored. */
export async function inboxMessages(pool: Pool, address: string): Promise<string[]> {
  const { rows } = await pool.query<{ body_id: number }>(
    `SELECT m.body_id FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
     JOIN accounts a ON a.id = b.account_id WHERE a.address = $1 AND b.name = 'INBOX' ORDER BY m.uid`,
    [address],
  );
  const messages: string[] = [];
  for (const row of rows) {
    const parts: Buffer[] = [];
    for await (const b of readBody(pool, row.body_id)) parts.push(b);
    messages.push(Buffer.concat(parts).toString('utf8'));
  }
  return messages;
}
