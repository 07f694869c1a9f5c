import { randomUUID } from 'node:crypto';
import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import { deterministicUuid, insertAcceptedMessage } from '@hermod/spool';

/** The submission limits msa enforces per account; 0 means no limit. */
export interface SubmissionLimitValues {
  messagesPerHour: number;
  recipientsPerHour: number;
  /** Authenticated submission sessions at once (per msa replica). */
  maxSessions: number;
}

/**
 * Overrides stored for an account or a domain. An absent key leaves the stored value as it is;
 * null clears it (inherit). autoSuspend false exempts from compromised-account containment.
 */
export type SubmissionLimitOverrides = {
  [K in keyof SubmissionLimitValues]?: number | null;
} & { autoSuspend?: boolean | null };

/** Stored overrides as read back (null: inherited). */
export type StoredLimitOverrides = {
  [K in keyof SubmissionLimitValues]: number | null;
} & { autoSuspend: boolean | null };

export interface SendingSuspension {
  since: Date;
  reason: string;
}

/** What msa needs to know about an account's sending: its limits after overrides, and a suspension. */
export interface SendingPolicy {
  limits: SubmissionLimitValues;
  /** Whether repeated hits of the recipient limit suspend the account's sending. */
  autoSuspend: boolean;
  suspension: SendingSuspension | undefined;
}

export interface SuspendOutcome {
  /** True when this call suspended the account; false when it already was (or does not exist). */
  suspended: boolean;
  /** The spool id of the notice to the account's owner (only when suspended now). */
  noticeSpoolId?: string;
  address?: string;
}

type Queryable = Pick<Pool, 'query'> | PoolClient;

const columns = {
  messagesPerHour: 'messages_per_hour',
  recipientsPerHour: 'recipients_per_hour',
  maxSessions: 'max_sessions',
  autoSuspend: 'auto_suspend',
} as const;
type OverrideRow = {
  messages_per_hour: number | null;
  recipients_per_hour: number | null;
  max_sessions: number | null;
  auto_suspend: boolean | null;
};

const toOverrides = (row: OverrideRow | undefined): StoredLimitOverrides => ({
  messagesPerHour: row?.messages_per_hour ?? null,
  recipientsPerHour: row?.recipients_per_hour ?? null,
  maxSessions: row?.max_sessions ?? null,
  autoSuspend: row?.auto_suspend ?? null,
});

function checkOverrides(overrides: SubmissionLimitOverrides): void {
  for (const key of ['messagesPerHour', 'recipientsPerHour', 'maxSessions'] as const) {
    const value = overrides[key];
    if (
      value !== undefined &&
      value !== null &&
      (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1)
    )
      throw new RangeError(`${key} must be a whole number from 0 (no limit) to 2147483647`);
  }
}

/**
 * Writes the named overrides of one row of account_submission_limits or domain_submission_limits
 * (the table and key column are constants of this module, never input).
 */
async function writeOverrides(
  db: Queryable,
  table: 'account_submission_limits' | 'domain_submission_limits',
  keyColumn: 'account_id' | 'domain',
  key: number | string,
  overrides: SubmissionLimitOverrides,
): Promise<StoredLimitOverrides> {
  checkOverrides(overrides);
  const named = (Object.keys(columns) as Array<keyof typeof columns>).filter(
    (k) => overrides[k] !== undefined,
  );
  const values = named.map((k) => overrides[k] ?? null);
  const insertColumns = [keyColumn, ...named.map((k) => columns[k])];
  const { rows } = await db.query<OverrideRow>(
    `INSERT INTO ${table} AS t (${insertColumns.join(', ')})
     VALUES (${insertColumns.map((_, i) => `$${i + 1}`).join(', ')})
     ON CONFLICT (${keyColumn}) DO UPDATE SET ${
       named.length
         ? named.map((k, i) => `${columns[k]} = $${i + 2}`).join(', ')
         : `${keyColumn} = t.${keyColumn}`
     }
     RETURNING messages_per_hour, recipients_per_hour, max_sessions, auto_suspend`,
    [key, ...values],
  );
  return toOverrides(rows[0]);
}

export const setAccountLimitOverrides = (
  db: Queryable,
  accountId: number,
  overrides: SubmissionLimitOverrides,
) => writeOverrides(db, 'account_submission_limits', 'account_id', accountId, overrides);

export const setDomainLimitOverrides = (db: Queryable, domain: string, overrides: SubmissionLimitOverrides) =>
  writeOverrides(db, 'domain_submission_limits', 'domain', domain, overrides);

export async function accountLimitOverrides(db: Queryable, accountId: number): Promise<StoredLimitOverrides> {
  const { rows } = await db.query<OverrideRow>(
    'SELECT messages_per_hour, recipients_per_hour, max_sessions, auto_suspend FROM account_submission_limits WHERE account_id = $1',
    [accountId],
  );
  return toOverrides(rows[0]);
}

export async function domainLimitOverrides(db: Queryable, domain: string): Promise<StoredLimitOverrides> {
  const { rows } = await db.query<OverrideRow>(
    'SELECT messages_per_hour, recipients_per_hour, max_sessions, auto_suspend FROM domain_submission_limits WHERE domain = $1',
    [domain],
  );
  return toOverrides(rows[0]);
}

/**
 * An account's sending policy in one statement: each limit is the account's override, else its
 * domain's, else the global setting; and its sending suspension, if any. An unknown account gets
 * the global settings and no suspension.
 */
export async function sendingPolicy(
  db: Queryable,
  accountId: number,
  global: SubmissionLimitValues & { autoSuspend: boolean },
): Promise<SendingPolicy> {
  const { rows } = await db.query<{
    messages_per_hour: number | null;
    recipients_per_hour: number | null;
    max_sessions: number | null;
    auto_suspend: boolean | null;
    sending_suspended_at: Date | null;
    sending_suspended_reason: string | null;
  }>(
    `SELECT COALESCE(al.messages_per_hour, dl.messages_per_hour) AS messages_per_hour,
       COALESCE(al.recipients_per_hour, dl.recipients_per_hour) AS recipients_per_hour,
       COALESCE(al.max_sessions, dl.max_sessions) AS max_sessions,
       COALESCE(al.auto_suspend, dl.auto_suspend) AS auto_suspend,
       a.sending_suspended_at, a.sending_suspended_reason
     FROM accounts a
     LEFT JOIN account_submission_limits al ON al.account_id = a.id
     LEFT JOIN domain_submission_limits dl ON dl.domain = a.domain
     WHERE a.id = $1`,
    [accountId],
  );
  const row = rows[0];
  return {
    limits: {
      messagesPerHour: row?.messages_per_hour ?? global.messagesPerHour,
      recipientsPerHour: row?.recipients_per_hour ?? global.recipientsPerHour,
      maxSessions: row?.max_sessions ?? global.maxSessions,
    },
    autoSuspend: row?.auto_suspend ?? global.autoSuspend,
    suspension: row?.sending_suspended_at
      ? { since: row.sending_suspended_at, reason: row.sending_suspended_reason ?? '' }
      : undefined,
  };
}

/** The message the owner of a suspended account finds in its mailbox. Says nothing of other accounts. */
function suspensionNotice(address: string, reason: string, since: Date): Buffer {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const date = since.toUTCString().replace(/GMT$/, '+0000');
  // The reason is operator or platform text; keep it to one printable line in the body.
  const why = reason.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 500);
  return Buffer.from(
    [
      `From: Mail System <postmaster@${domain}>`,
      `To: <${address}>`,
      'Subject: Sending from your account has been suspended',
      `Date: ${date}`,
      `Message-ID: <${randomUUID()}@${domain}>`,
      'Auto-Submitted: auto-generated',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      `Sending mail from ${address} was suspended on ${date}.`,
      '',
      `Reason: ${why}`,
      '',
      'This usually means the account was used to send large amounts of mail, which happens when',
      'its password has been stolen. Change your password (and app passwords) and ask your mail',
      'administrator to lift the suspension.',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/**
 * Suspends the account's sending, inside a transaction the caller owns: marks the account and
 * spools a notice to its own address (delivered by the normal pipeline; the spool sweeper hands it
 * to routing if the caller does not). Only the call that suspends writes a notice.
 */
async function suspendInTransaction(
  client: PoolClient,
  accountId: number,
  reason: string,
): Promise<SuspendOutcome> {
  const { rows } = await client.query<{ address: string; sending_suspended_at: Date }>(
    `UPDATE accounts SET sending_suspended_at = now(), sending_suspended_reason = $2, updated_at = now()
     WHERE id = $1 AND sending_suspended_at IS NULL RETURNING address, sending_suspended_at`,
    [accountId, reason],
  );
  const row = rows[0];
  if (!row) return { suspended: false };
  const noticeSpoolId = deterministicUuid(
    `hermod-sending-suspended:${accountId}:${row.sending_suspended_at.getTime()}`,
  );
  await insertAcceptedMessage(client, {
    spoolId: noticeSpoolId,
    mailFrom: '',
    recipients: [{ address: row.address }],
    source: 'local',
    accountId,
    envelope: { notice: 'sending-suspended' },
    body: [suspensionNotice(row.address, reason, row.sending_suspended_at)],
    sweepAfterMs: 0,
  });
  return { suspended: true, noticeSpoolId, address: row.address };
}

/**
 * Suspends an account's sending (msa refuses its submissions with 550 5.7.1) for a reason shown to
 * the operator and in the notice spooled to the account's owner. Idempotent: suspending a
 * suspended account changes nothing and returns suspended false. Lifted with resumeSending (CLI:
 * hermod user unsuspend). Callers count and log the event themselves (see docs/security.md).
 */
export function suspendSending(db: Pool, accountId: number, reason: string): Promise<SuspendOutcome> {
  return withTransaction(db, (client) => suspendInTransaction(client, accountId, reason));
}

/** Lifts a sending suspension and forgets the account's limit hits; false if it was not suspended. */
export async function resumeSending(db: Pool, accountId: number): Promise<boolean> {
  return withTransaction(db, async (client) => {
    await client.query('DELETE FROM submission_limit_hits WHERE account_id = $1', [accountId]);
    const { rowCount } = await client.query(
      `UPDATE accounts SET sending_suspended_at = NULL, sending_suspended_reason = NULL, updated_at = now()
       WHERE id = $1 AND sending_suspended_at IS NOT NULL`,
      [accountId],
    );
    return (rowCount ?? 0) > 0;
  });
}

/**
 * Records that the account's hourly recipient limit cut a submission short, at `now` (ms), and
 * suspends its sending once `threshold` hits fall within `windowMs`. Hits older than the window
 * are deleted as it goes. Returns the suspension made by this call, if any, and the hit count.
 */
export function recordLimitHit(
  db: Pool,
  accountId: number,
  options: { threshold: number; windowMs: number; now: number; reason: string },
): Promise<SuspendOutcome & { hits: number }> {
  return withTransaction(db, async (client) => {
    await client.query('DELETE FROM submission_limit_hits WHERE account_id = $1 AND at <= $2', [
      accountId,
      options.now - options.windowMs,
    ]);
    await client.query('INSERT INTO submission_limit_hits (account_id, at) VALUES ($1, $2)', [
      accountId,
      options.now,
    ]);
    const { rows } = await client.query<{ hits: string }>(
      'SELECT count(*) AS hits FROM submission_limit_hits WHERE account_id = $1',
      [accountId],
    );
    const hits = Number(rows[0]?.hits ?? 0);
    if (options.threshold <= 0 || hits < options.threshold) return { suspended: false, hits };
    return { ...(await suspendInTransaction(client, accountId, options.reason)), hits };
  });
}
