import { recordLimitHit, type SendingPolicy, type SuspendOutcome, sendingPolicy } from '@hermod/accounts';
import type { Pool } from '@hermod/db';
import { OpenCounts } from '@hermod/service-runtime';

export interface SubmissionLimitSettings {
  /** Messages (accepted MAIL FROM) per account per clock hour; 0 means no limit. */
  messagesPerHour: number;
  /** Recipients tried per account per clock hour; 0 means no limit. */
  recipientsPerHour: number;
  /** Authenticated sessions of one account at once on this replica; 0 means no limit. */
  sessionsPerAccount: number;
  /**
   * Transactions cut short by the hourly recipient limit, within suspendWindowMs, after which the
   * account's sending is suspended (compromised-account containment); 0 never suspends.
   */
  suspendAfterHits: number;
  suspendWindowMs: number;
}

const HOUR_MS = 3_600_000;

/** The reason recorded (and shown in the owner's notice) when containment suspends an account. */
export const LIMIT_SUSPENSION_REASON = 'the hourly recipient limit was reached repeatedly';

/**
 * Per-account submission limits. Each account's limits are its own overrides, else its domain's,
 * else these settings (sendingPolicy in @hermod/accounts). The hourly counts live in PostgreSQL
 * (submission_usage), so every replica counts against the same numbers; each take is one
 * conditional upsert that never passes the limit. Concurrent sessions are counted per replica
 * (they end with the connection).
 */
export class SubmissionLimits {
  private readonly sessions = new OpenCounts<number>();
  private lastPrune = 0;

  constructor(
    private readonly pool: Pool,
    readonly settings: SubmissionLimitSettings,
    private readonly now: () => number = Date.now,
    private readonly onPruneError: (error: unknown) => void = () => {},
  ) {}

  /** The account's limits (overrides applied) and its sending suspension, read now. */
  policy(accountId: number): Promise<SendingPolicy> {
    return sendingPolicy(this.pool, accountId, {
      messagesPerHour: this.settings.messagesPerHour,
      recipientsPerHour: this.settings.recipientsPerHour,
      maxSessions: this.settings.sessionsPerAccount,
      autoSuspend: this.settings.suspendAfterHits > 0,
    });
  }

  /** Counts one message for the account; false (nothing counted) when the hourly limit is reached. */
  takeMessage(accountId: number, policy: SendingPolicy): Promise<boolean> {
    return this.take(accountId, 'messages', policy.limits.messagesPerHour);
  }

  /** Counts one recipient for the account; false (nothing counted) when the hourly limit is reached. */
  takeRecipient(accountId: number, policy: SendingPolicy): Promise<boolean> {
    return this.take(accountId, 'recipients', policy.limits.recipientsPerHour);
  }

  /**
   * Records a transaction cut short by the recipient limit (or content refused as malware or spam,
   * with its own reason); suspends the account's sending when that has happened suspendAfterHits
   * times within suspendWindowMs (unless the account or its domain is exempt). Returns what this
   * call suspended.
   */
  async limitHit(
    accountId: number,
    policy: SendingPolicy,
    reason = LIMIT_SUSPENSION_REASON,
  ): Promise<SuspendOutcome & { hits: number }> {
    if (!policy.autoSuspend || this.settings.suspendAfterHits === 0) return { suspended: false, hits: 0 };
    return recordLimitHit(this.pool, accountId, {
      threshold: this.settings.suspendAfterHits,
      windowMs: this.settings.suspendWindowMs,
      now: this.now(),
      reason,
    });
  }

  private async take(accountId: number, column: 'messages' | 'recipients', limit: number): Promise<boolean> {
    if (limit === 0) return true;
    const hour = Math.floor(this.now() / HOUR_MS);
    // column is one of two constants above, never input.
    const { rowCount } = await this.pool.query(
      `INSERT INTO submission_usage AS u (account_id, hour, ${column}) VALUES ($1, $2, 1)
       ON CONFLICT (account_id, hour) DO UPDATE SET ${column} = u.${column} + 1 WHERE u.${column} < $3
       RETURNING ${column}`,
      [accountId, hour, limit],
    );
    if (hour - this.lastPrune > 0) {
      this.lastPrune = hour;
      this.pool.query('DELETE FROM submission_usage WHERE hour < $1', [hour - 24]).catch(this.onPruneError);
    }
    return (rowCount ?? 0) > 0;
  }

  /** Opens a session of the account; false when it already has the most sessions allowed. */
  openSession(accountId: number, policy: SendingPolicy): boolean {
    const limit = policy.limits.maxSessions;
    // 0: no limit.
    return this.sessions.tryOpen(accountId, limit > 0 ? limit : Number.POSITIVE_INFINITY);
  }

  closeSession(accountId: number): void {
    this.sessions.close(accountId);
  }
}
