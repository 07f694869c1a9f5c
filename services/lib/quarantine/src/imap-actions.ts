import { type Pool, withTransaction } from '@hermod/db';
import { QuarantineNotFoundError } from './errors.js';
import { deleteQuarantined, refuseUserRelease, releaseQuarantined, userMayRelease } from './store.js';

export interface UserActionOptions {
  /** The kinds this recipient may release themselves (the domain's setting, else the mx's). */
  userReleaseKinds(recipient: string): readonly string[];
  /** Whether the account owns the address (its primary address or an alias). */
  ownsAddress(accountId: number, address: string): Promise<boolean>;
  /** Hands a released message's spool id to routing (again after a repeated release: deduplicated). */
  released(spoolId: string): Promise<void>;
}

export type UserActionOutcome =
  | {
      id: string;
      action: 'release';
      outcome: 'released' | 'already-released';
      recipient: string;
      spoolId: string;
    }
  | { id: string; action: 'release'; outcome: 'refused'; recipient: string; kind: string }
  | { id: string; action: 'delete'; outcome: 'deleted'; recipient: string }
  | { id: string; action: 'release' | 'delete'; outcome: 'not-found' };

interface ActionRow {
  id: string;
  quarantine_id: string;
  account_id: string;
  action: 'release' | 'delete';
}

/**
 * Takes the recipients' pending actions (a batch; replicas skip each other's rows) and applies
 * them with the one release and delete of the quarantine, for the acting account's own entries
 * only and, for a release, only for kinds users may release (otherwise refused and audited). The
 * actor in the audit log is the recipient's address with "(imap)". A row is removed after its
 * action is done; if this pass dies in between, the next one repeats it, which changes nothing
 * (a release is exactly once per recipient).
 */
export async function processUserActions(
  pool: Pool,
  options: UserActionOptions,
  batchSize = 100,
): Promise<UserActionOutcome[]> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<ActionRow>(
      `SELECT id, quarantine_id, account_id, action FROM quarantine_user_actions
       ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [batchSize],
    );
    const outcomes: UserActionOutcome[] = [];
    for (const row of rows) outcomes.push(await applyAction(pool, row, options));
    if (rows.length > 0)
      await client.query('DELETE FROM quarantine_user_actions WHERE id = ANY ($1::bigint[])', [
        rows.map((r) => r.id),
      ]);
    return outcomes;
  });
}

async function applyAction(
  pool: Pool,
  row: ActionRow,
  options: UserActionOptions,
): Promise<UserActionOutcome> {
  const id = row.quarantine_id;
  const { rows } = await pool.query<{ kind: string; recipients: string[] }>(
    'SELECT kind, recipients FROM quarantine_messages WHERE id = $1',
    [id],
  );
  const entry = rows[0];
  let recipient: string | undefined;
  for (const candidate of entry?.recipients ?? [])
    if (await options.ownsAddress(Number(row.account_id), candidate)) {
      recipient = candidate;
      break;
    }
  // Gone (deleted, expired) or not addressed to this account: nothing to act on.
  if (!entry || recipient === undefined) return { id, action: row.action, outcome: 'not-found' };
  const actor = `${recipient.toLowerCase()} (imap)`;
  try {
    if (row.action === 'delete') {
      await deleteQuarantined(pool, id, actor, { recipient });
      return { id, action: 'delete', outcome: 'deleted', recipient };
    }
    if (!userMayRelease(entry.kind, options.userReleaseKinds(recipient))) {
      await refuseUserRelease(pool, id, actor, entry.kind);
      return { id, action: 'release', outcome: 'refused', recipient, kind: entry.kind };
    }
    const released = await releaseQuarantined(pool, id, actor, { recipient });
    await options.released(released.spoolId);
    return {
      id,
      action: 'release',
      outcome: released.alreadyReleased ? 'already-released' : 'released',
      recipient,
      spoolId: released.spoolId,
    };
  } catch (error) {
    if (error instanceof QuarantineNotFoundError) return { id, action: row.action, outcome: 'not-found' };
    throw error;
  }
}
