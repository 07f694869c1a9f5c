import type { Pool } from '@hermod/db';

export interface SubmissionLimitSettings {
  /** Messages (accepted MAIL FROM) per account per clock hour; 0 means no limit. */
  messagesPerHour: number;
  /** Accepted recipients per account per clock hour; 0 means no limit. */
  recipientsPerHour: number;
  /** Authenticated sessions of one account at once on this replica; 0 means no limit. */
  sessionsPerAccount: number;
}

const HOUR_MS = 3_600_000;

/**
 * Per-account submission limits. The hourly counts live in PostgreSQL (submission_usage), so every
 * replica counts against the same numbers; each take is one conditional upsert that never passes
 * the limit. Concurrent sessions are counted per replica (they end with the connection).
 */
export class SubmissionLimits {
  private readonly sessions = new Map<number, number>();
  private lastPrune = 0;

  constructor(
    private readonly pool: Pool,
    readonly settings: SubmissionLimitSettings,
    private readonly now: () => number = Date.now,
    private readonly onPruneError: (error: unknown) => void = () => {},
  ) {}

  /** Counts one message for the account; false (nothing counted) when the hourly limit is reached. */
  takeMessage(accountId: number): Promise<boolean> {
    return this.take(accountId, 'messages', this.settings.messagesPerHour);
  }

  /** Counts one recipient for the account; false (nothing counted) when the hourly limit is reached. */
  takeRecipient(accountId: number): Promise<boolean> {
    return this.take(accountId, 'recipients', this.settings.recipientsPerHour);
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
  openSession(accountId: number): boolean {
    const open = this.sessions.get(accountId) ?? 0;
    if (this.settings.sessionsPerAccount > 0 && open >= this.settings.sessionsPerAccount) return false;
    this.sessions.set(accountId, open + 1);
    return true;
  }

  closeSession(accountId: number): void {
    const open = (this.sessions.get(accountId) ?? 1) - 1;
    if (open > 0) this.sessions.set(accountId, open);
    else this.sessions.delete(accountId);
  }
}
